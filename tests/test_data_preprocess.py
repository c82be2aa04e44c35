import numpy as np
import pytest

from corelib.data.io import Volume
from corelib.data.preprocess import (
    apply_mask,
    bounding_box,
    crop_to_mask,
    normalize_intensity,
    resample_to_spacing,
    window_level,
)


def _volume(shape=(10, 12, 8), spacing=(1.0, 1.0, 2.0)):
    rng = np.random.default_rng(0)
    affine = np.diag(list(spacing) + [1.0])
    affine[:3, 3] = [-5.0, -6.0, -8.0]
    return Volume(rng.random(shape, dtype=np.float32), spacing, affine)


def test_resample_to_isotropic_keeps_extent_and_affine():
    vol = _volume()
    out = resample_to_spacing(vol, 1.0)
    assert out.shape == (10, 12, 16)
    assert out.spacing == pytest.approx((1.0, 1.0, 1.0))
    np.testing.assert_allclose(np.abs(np.diag(out.affine)[:3]), (1.0, 1.0, 1.0))
    np.testing.assert_allclose(out.affine[:3, 3], vol.affine[:3, 3])


def test_resample_identity_spacing_is_identity():
    vol = _volume(spacing=(1.0, 1.0, 1.0))
    out = resample_to_spacing(vol, 1.0, order=1)
    np.testing.assert_allclose(out.array, vol.array, atol=1e-6)


def test_resample_labels_with_order_zero_keeps_label_values():
    labels = np.zeros((8, 8, 4), np.uint8)
    labels[2:6, 2:6, 1:3] = 2
    out = resample_to_spacing(Volume(labels, (1, 1, 2)), 1.0, order=0)
    assert set(np.unique(out.array)) == {0, 2}


@pytest.mark.parametrize("spacing", [0.0, (1.0, 1.0), -1.0])
def test_resample_rejects_bad_spacing(spacing):
    with pytest.raises(ValueError):
        resample_to_spacing(_volume(), spacing)


def test_resample_rejects_nan():
    vol = _volume()
    vol.array[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        resample_to_spacing(vol, 1.0)


def test_normalize_methods():
    x = np.arange(100, dtype=np.float32).reshape(10, 10)
    z = normalize_intensity(x, "zscore")
    assert z.mean() == pytest.approx(0, abs=1e-5) and z.std() == pytest.approx(1, abs=1e-5)
    m = normalize_intensity(x, "minmax")
    assert m.min() == 0 and m.max() == 1
    p = normalize_intensity(x, "percentile", percentiles=(10, 90))
    assert p.min() == 0 and p.max() == 1 and (p == 1).sum() > 1


def test_normalize_uses_mask_statistics():
    x = np.zeros((4, 4), np.float32)
    x[:2] = 10.0
    x[0, 0] = 20.0
    mask = x > 0
    z = normalize_intensity(x, "zscore", mask=mask)
    assert z[mask].mean() == pytest.approx(0, abs=1e-5)
    with pytest.raises(ValueError, match="empty"):
        normalize_intensity(x, mask=np.zeros_like(mask))
    with pytest.raises(ValueError, match="shape"):
        normalize_intensity(x, mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="unknown method"):
        normalize_intensity(x, "median")


def test_window_level_maps_the_window_to_unit_range():
    hu = np.array([-1000.0, 0.0, 40.0, 80.0, 2000.0])
    out = window_level(hu, center=40, width=80)
    np.testing.assert_allclose(out, [0, 0, 0.5, 1, 1])
    with pytest.raises(ValueError):
        window_level(hu, 40, 0)


def test_crop_to_mask_moves_the_origin():
    vol = _volume()
    mask = np.zeros(vol.shape, bool)
    mask[3:5, 4:7, 2:4] = True
    assert bounding_box(mask) == (slice(3, 5), slice(4, 7), slice(2, 4))
    out = crop_to_mask(vol, mask, margin=1)
    assert out.shape == (4, 5, 4)
    np.testing.assert_allclose(out.affine[:3, 3], vol.affine[:3, :3] @ [2, 3, 1] + vol.affine[:3, 3])
    np.testing.assert_array_equal(out.array, vol.array[2:6, 3:8, 1:5])
    with pytest.raises(ValueError, match="empty"):
        crop_to_mask(vol, np.zeros(vol.shape, bool))


def test_apply_mask_zeroes_outside():
    vol = _volume()
    mask = np.zeros(vol.shape, bool)
    mask[:5] = True
    out = apply_mask(vol, mask)
    assert (out.array[5:] == 0).all() and np.array_equal(out.array[:5], vol.array[:5])
