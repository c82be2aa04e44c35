"""corelib.segmentation.atlas: label merging, resampling, deformations, intensity changes, atlas baseline."""
import numpy as np
import pytest

from corelib import metrics
from corelib.segmentation import atlas


def blob_volume(shape=(32, 36, 28), shift=(0, 0, 0)):
    """A smooth synthetic 'brain': an ellipsoid with two inner structures (labels 1 and 2)."""
    z, y, x = np.indices(shape, dtype=np.float32)
    c = np.array(shape, np.float32) / 2 + np.array(shift, np.float32)
    r = (((z - c[0]) / 11) ** 2 + ((y - c[1]) / 13) ** 2 + ((x - c[2]) / 10) ** 2)
    lab = np.zeros(shape, np.int64)
    lab[(((z - c[0] + 3) / 4) ** 2 + ((y - c[1]) / 5) ** 2 + ((x - c[2] + 3) / 3) ** 2) < 1] = 1
    lab[(((z - c[0] - 3) / 3) ** 2 + ((y - c[1] + 2) / 4) ** 2 + ((x - c[2] - 4) / 3) ** 2) < 1] = 2
    img = np.clip(1.2 - r, 0, None) * 100 + 40 * (lab == 1) - 30 * (lab == 2)
    return img.astype(np.float32), lab


def test_merge_labels_maps_groups_to_classes():
    aal = np.zeros((4, 4, 4), np.int16)
    aal[0, 0, 0], aal[1, 0, 0], aal[2, 0, 0], aal[3, 0, 0] = 71, 72, 75, 5
    out = atlas.merge_labels(aal, {"caudate": [71, 72], "pallidum": [75, 76]}, known=range(1, 117))
    assert out.dtype == np.int64 and out.shape == aal.shape
    assert out[0, 0, 0] == out[1, 0, 0] == 1 and out[2, 0, 0] == 2 and out[3, 0, 0] == 0
    assert set(np.unique(out)) == {0, 1, 2}


@pytest.mark.parametrize("groups, match", [
    ({"x": [200]}, "not a value"),
    ({"x": [71], "y": [71]}, "both"),
    ({"x": []}, "no atlas values"),
    ({}, "empty"),
    ({"x": [0]}, "background"),
])
def test_merge_labels_bad_groups(groups, match):
    with pytest.raises(ValueError, match=match):
        atlas.merge_labels(np.zeros((3, 3, 3), np.int16), groups, known=range(1, 117))


def test_merge_labels_rejects_non_integer_and_2d():
    with pytest.raises(ValueError, match="integer"):
        atlas.merge_labels(np.full((3, 3, 3), 0.5), {"x": [1]})
    with pytest.raises(ValueError, match="3D"):
        atlas.merge_labels(np.zeros((3, 3), np.int16), {"x": [1]})


def test_deep_grey_groups_are_disjoint():
    values = [v for vs in atlas.DEEP_GREY.values() for v in vs]
    assert len(values) == len(set(values)) == 12


def test_resample_to_grid_identity_and_half_resolution():
    img, lab = blob_volume((20, 22, 18))
    eye = np.eye(4)
    assert np.array_equal(atlas.resample_to_grid(lab, eye, eye, lab.shape, order=0), lab)
    assert np.allclose(atlas.resample_to_grid(img, eye, eye, img.shape, order=1), img, atol=1e-4)
    ref = np.diag([2.0, 2.0, 2.0, 1.0])                      # 2 mm grid over the same origin
    half = atlas.resample_to_grid(lab, eye, ref, (10, 11, 9), order=0)
    assert np.array_equal(half, lab[::2, ::2, ::2])           # nearest at exact voxel positions
    assert set(np.unique(half)) <= set(np.unique(lab))
    with pytest.raises(ValueError, match="4 x 4"):
        atlas.resample_to_grid(img, np.eye(3), eye, img.shape)
    with pytest.raises(ValueError, match="order"):
        atlas.resample_to_grid(img, eye, eye, img.shape, order=3)


def test_structure_box_is_a_multiple_and_contains_the_mask():
    _, lab = blob_volume()
    box = atlas.structure_box(lab > 0, margin=2, multiple=8)
    assert all((s.stop - s.start) % 8 == 0 for s in box)
    assert lab[box].sum() == lab.sum()
    with pytest.raises(ValueError, match="empty"):
        atlas.structure_box(np.zeros((8, 8, 8), bool))
    with pytest.raises(ValueError, match="does not fit"):
        atlas.structure_box(lab > 0, margin=30)


def test_deform_shapes_labels_and_seeded_determinism():
    img, lab = blob_volume()
    a_img, a_lab = atlas.deform(img, lab, seed=3)
    b_img, b_lab = atlas.deform(img, lab, seed=3)
    c_img, _ = atlas.deform(img, lab, seed=4)
    assert a_img.shape == img.shape and a_lab.shape == lab.shape
    assert a_img.dtype == np.float32 and a_lab.dtype == np.int64
    assert set(np.unique(a_lab)) == set(np.unique(lab))        # nearest keeps the label set
    assert np.array_equal(a_img, b_img) and np.array_equal(a_lab, b_lab)
    assert not np.allclose(a_img, c_img)
    assert not np.array_equal(a_lab, lab)


def test_deform_zero_strength_is_identity_and_translation_is_measured():
    img, lab = blob_volume()
    i0, l0, u0 = atlas.deform(img, lab, seed=0, strength=0.0, return_displacement=True)
    assert np.allclose(i0, img, atol=1e-4) and np.array_equal(l0, lab)
    assert np.abs(u0).max() < 1e-4
    _, none_lab, u = atlas.deform(img, None, seed=1, rotate_deg=0, scale=0, translate=3, elastic_magnitude=0,
                                  return_displacement=True)
    assert none_lab is None and u.shape == (3, *img.shape)
    inner = u[:, 8:-8, 8:-8, 8:-8]                             # away from the repeated border
    assert np.allclose(inner, inner[:, :1, :1, :1], atol=1e-3)  # a pure translation: constant field
    assert 0 < np.abs(inner[:, 0, 0, 0]).max() <= 3 + 1e-3


def test_deform_bad_input():
    img, lab = blob_volume()
    with pytest.raises(ValueError, match="same shape"):
        atlas.deform(img, lab[:-1], seed=0)
    with pytest.raises(ValueError, match="strength"):
        atlas.deform(img, lab, seed=0, strength=-1)
    with pytest.raises(ValueError, match="NaN"):
        atlas.deform(np.full((8, 8, 8), np.nan), None, seed=0)


def test_augment_intensity_seeded_identity_and_mask():
    img, _ = blob_volume()
    a = atlas.augment_intensity(img, seed=1)
    assert a.shape == img.shape and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, atlas.augment_intensity(img, seed=1))
    assert not np.allclose(a, atlas.augment_intensity(img, seed=2))
    ident = atlas.augment_intensity(img, seed=1, bias=0, gamma=(1, 1), blur=0, noise=0)
    assert np.allclose(ident, img, atol=1e-3)
    mask = img > 0
    m = atlas.augment_intensity(img, seed=1, mask=mask)
    assert np.all(m[~mask] == img.min())
    with pytest.raises(ValueError, match="gamma"):
        atlas.augment_intensity(img, seed=0, gamma=(0, 1))
    with pytest.raises(ValueError, match="same shape"):
        atlas.augment_intensity(img, seed=0, mask=mask[:-1])


def test_atlas_segment_recovers_a_known_shift():
    atlas_img, atlas_lab = blob_volume()
    target_img, target_lab = blob_volume(shift=(3, -2, 2))
    none = atlas.atlas_segment(atlas_img, atlas_lab, target_img, kind="none")
    aff = atlas.atlas_segment(atlas_img, atlas_lab, target_img, kind="affine")
    d_none = np.mean(list(metrics.dice_per_class(none.labels, target_lab, [1, 2]).values()))
    d_aff = np.mean(list(metrics.dice_per_class(aff.labels, target_lab, [1, 2]).values()))
    assert none.registration is None and aff.registration is not None
    assert aff.labels.dtype == np.int64 and set(np.unique(aff.labels)) <= {0, 1, 2}
    assert d_aff > 0.9 > d_none


def test_atlas_segment_bad_input():
    img, lab = blob_volume()
    with pytest.raises(ValueError, match="same shape"):
        atlas.atlas_segment(img, lab, img[:-1])
    with pytest.raises(ValueError, match="kind"):
        atlas.atlas_segment(img, lab, img, kind="bspline")
    with pytest.raises(ValueError, match="integer"):
        atlas.atlas_segment(img, img + 0.5, img)
