"""Subject-level splits and the slice / patch torch datasets."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from corelib.data.datasets import PatchDataset, SliceDataset, split_by_subject

IDS = [f"case_{k:03d}" for k in range(40)]


# -------------------------------------------------------------------------------------- splits
def test_split_is_deterministic_disjoint_and_covering():
    a, b = split_by_subject(IDS, seed=3), split_by_subject(IDS, seed=3)
    assert a == b and list(a) == ["train", "val", "test"]
    assert split_by_subject(IDS, seed=4) != a
    together = a["train"] + a["val"] + a["test"]
    assert sorted(together) == sorted(IDS) and len(set(together)) == len(IDS)
    assert [len(a[k]) for k in ("train", "val", "test")] == [28, 6, 6]


@pytest.mark.parametrize("n", [3, 4, 5, 7])
def test_small_splits_get_one_id_each(n):
    split = split_by_subject(IDS[:n])
    assert all(len(v) >= 1 for v in split.values())
    assert sum(len(v) for v in split.values()) == n


def test_zero_fraction_split_is_empty():
    split = split_by_subject(IDS[:10], fractions=(0.8, 0.2, 0.0))
    assert split["test"] == [] and len(split["train"]) == 8


@pytest.mark.parametrize("fractions", [(0.5, 0.5, 0.5), (0.7, 0.3), (1.2, -0.1, -0.1), (float("nan"), 0.5, 0.5)])
def test_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_by_subject(IDS, fractions=fractions)


def test_duplicate_ids():
    with pytest.raises(ValueError, match="duplicate subject ids.*case_001"):
        split_by_subject(IDS + ["case_001"])


# ------------------------------------------------------------------------------- slice datasets
def _volumes(n=3, shape=(8, 9, 6)):
    rng = np.random.default_rng(0)
    vols = [rng.random(shape).astype(np.float32) for _ in range(n)]
    labs = []
    for _ in range(n):
        lab = np.zeros(shape, np.uint8)
        lab[2:5, 3:6, 1:3] = 1  # foreground only in slices 1 and 2 along axis 2
        labs.append(lab)
    return vols, labs


def test_slice_dataset_shapes_dtypes_and_subjects():
    vols, labs = _volumes()
    ds = SliceDataset(vols, labs, axis=2, subjects=["a", "b", "c"])
    assert len(ds) == 3 * 6
    image, label = ds[0]
    assert image.shape == (1, 8, 9) and image.dtype == torch.float32
    assert label.shape == (8, 9) and label.dtype == torch.long
    assert [ds.subject_of(i) for i in (0, 6, 17)] == ["a", "b", "c"]
    assert SliceDataset(vols, axis=0)[0].shape == (1, 9, 6)


def test_slice_dataset_drops_empty_slices():
    vols, labs = _volumes()
    ds = SliceDataset(vols, labs, min_foreground=1)
    assert len(ds) == 3 * 2 and all(ds[i][1].sum() > 0 for i in range(len(ds)))
    kept = SliceDataset(vols, labs, keep=lambda img, lab: lab.any())
    assert len(kept) == len(ds)


def test_slices_never_cross_splits():
    vols, labs = _volumes(n=10)
    ids = [f"s{k}" for k in range(10)]
    split = split_by_subject(ids, seed=1)
    datasets = {name: SliceDataset([vols[ids.index(i)] for i in sub], [labs[ids.index(i)] for i in sub],
                                   subjects=sub)
                for name, sub in split.items()}
    seen = {name: {ds.subject_of(i) for i in range(len(ds))} for name, ds in datasets.items()}
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"])
    assert not (seen["val"] & seen["test"])


def test_slice_dataset_transform():
    vols, labs = _volumes()
    ds = SliceDataset(vols, labs, transform=lambda x, y: (x * 0 + 1, y))
    assert torch.all(ds[3][0] == 1)


def test_slice_dataset_bad_inputs():
    vols, labs = _volumes()
    with pytest.raises(ValueError, match="3D"):
        SliceDataset([np.zeros((4, 4))])
    with pytest.raises(ValueError, match="shape"):
        SliceDataset(vols, [np.zeros((8, 9, 5))] * 3)
    nan = vols[0].copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SliceDataset([nan])
    with pytest.raises(ValueError, match="3 volumes but 2 label arrays"):
        SliceDataset(vols, labs[:2])
    with pytest.raises(ValueError, match="axis"):
        SliceDataset(vols, axis=3)
    with pytest.raises(ValueError, match="subject"):
        SliceDataset(vols, subjects=["a"])
    with pytest.raises(ValueError, match="no volumes"):
        SliceDataset([])


# ------------------------------------------------------------------------------- patch datasets
def test_patch_dataset_is_deterministic():
    vols, labs = _volumes(shape=(20, 22, 24))
    a = PatchDataset(vols, labs, patch_size=(8, 8, 8), samples_per_volume=4, seed=5)
    b = PatchDataset(vols, labs, patch_size=(8, 8, 8), samples_per_volume=4, seed=5)
    assert len(a) == 12
    img, lab = a[7]
    assert img.shape == (1, 8, 8, 8) and img.dtype == torch.float32
    assert lab.shape == (8, 8, 8) and lab.dtype == torch.long
    assert torch.equal(a[7][0], b[7][0]) and torch.equal(a[7][1], b[7][1])
    assert not torch.equal(a[0][0], a[1][0])
    other = PatchDataset(vols, labs, patch_size=(8, 8, 8), samples_per_volume=4, seed=6)
    assert any(not torch.equal(a[i][0], other[i][0]) for i in range(len(a)))
    assert a.subject_of(7) == "1"
    with pytest.raises(IndexError):
        a[12]


def test_patch_dataset_pads_small_volumes():
    vol = np.ones((4, 5, 6), np.float32)
    ds = PatchDataset([vol], [np.ones((4, 5, 6), np.uint8)], patch_size=(8, 8, 8), samples_per_volume=2)
    img, lab = ds[0]
    assert img.shape == (1, 8, 8, 8) and lab.shape == (8, 8, 8)
    assert img.sum().item() == 4 * 5 * 6 and lab.sum().item() == 4 * 5 * 6
    assert PatchDataset([vol], patch_size=(2, 8, 3))[0].shape == (1, 2, 8, 3)


def test_patch_dataset_bad_inputs():
    vols, labs = _volumes()
    with pytest.raises(ValueError, match="patch_size"):
        PatchDataset(vols, patch_size=(8, 8))
    with pytest.raises(ValueError, match="samples_per_volume"):
        PatchDataset(vols, samples_per_volume=0)
    with pytest.raises(ValueError, match="shape"):
        PatchDataset(vols, [np.zeros((8, 9, 5))] * 3)
    with pytest.raises(ValueError, match="3D"):
        PatchDataset([np.zeros((2, 3, 4, 5))])
