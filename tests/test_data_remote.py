"""Remote datasets: found in the offline mirror, clear errors when missing or corrupt (no network)."""
from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import corelib.data as data
from corelib.data import fetch, remote
from corelib.data.registry import CACHE_ENV, MIRROR_ENV, CorruptFileError, DataNotFoundError

# The offline mirror: $CORELIB_DATA_MIRROR, else ../shared/data beside the repository; tests skip without it.
SHARED = Path(os.environ.get(MIRROR_ENV, "").strip() or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_mirror = pytest.mark.skipif(not (SHARED / "msd").is_dir(), reason="offline mirror not present")


@pytest.fixture
def shared_mirror(monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(SHARED))


@pytest.fixture
def empty_dirs(monkeypatch, tmp_path):
    """An empty mirror and an empty cache."""
    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def offline(monkeypatch, empty_dirs):
    """Empty mirror and cache; any download fails as if the network were closed."""

    def no_network(url, dest, **kwargs):
        raise OSError(f"network is unreachable: {url}")

    monkeypatch.setattr(fetch, "download", no_network)
    return empty_dirs


# ------------------------------------------------------------------------------------- the mirror
@needs_mirror
def test_hippocampus_from_mirror(shared_mirror):
    ids = data.hippocampus_ids()
    cases = data.load_hippocampus()
    assert len(ids) == len(cases) == 260
    assert [c.case_id for c in cases] == ids
    for c in cases:
        assert c.image.array.dtype == np.float32 and c.label.array.dtype == np.uint8
        assert c.image.shape == c.label.shape and c.image.array.ndim == 3
    assert set(np.unique(np.concatenate([c.label.array.ravel() for c in cases]))) == {0, 1, 2}
    two = data.load_hippocampus(ids[:2])
    assert [c.case_id for c in two] == ids[:2]
    with pytest.raises(ValueError, match="unknown hippocampus"):
        data.load_hippocampus(["hippocampus_999"])


@needs_mirror
def test_ants_slices_from_mirror(shared_mirror):
    slices = data.load_ants_slices()
    assert list(slices) == list(data.ANTS_SLICE_NAMES) and len(slices) == 6
    for vol in slices.values():
        assert vol.array.ndim == 2 and vol.array.dtype == np.float32 and vol.spacing == (1.0, 1.0)
        assert vol.array.max() > 0 and "source" in vol.meta
    with pytest.raises(ValueError, match="r16, r27"):
        data.load_ants_slice("r99")


@needs_mirror
def test_breastmnist_from_mirror(shared_mirror):
    m = data.load_medmnist()
    sizes = [len(m[f"{s}_images"]) for s in ("train", "val", "test")]
    assert sizes == [546, 78, 156]
    assert m["train_images"].dtype == np.uint8 and m["train_images"].shape[1:] == (28, 28)
    assert m["train_labels"].dtype == np.int64 and m["train_labels"].shape == (546,)
    assert m["n_classes"] == 2 and len(m["class_names"]) == 2
    assert set(np.unique(m["test_labels"])) <= {0, 1}


@needs_mirror
def test_sri24_from_mirror(shared_mirror):
    t1, t2, tissues = (remote.load_sri24(c) for c in ("t1", "t2", "tissues"))
    assert t1.shape == t2.shape == tissues.shape == (240, 240, 155) and t1.spacing == (1.0, 1.0, 1.0)
    assert t1.array.dtype == np.float32 and tissues.array.dtype == np.uint8
    assert set(np.unique(tissues.array)) == {0, 1, 2, 3} and tissues.meta["labels"][3] == "WM"
    brain = tissues.array > 0
    assert (t1.array[~brain] == 0).mean() > 0.99  # skull-stripped, same mask for every channel
    wm, csf = tissues.array == 3, tissues.array == 1
    assert t1.array[wm].mean() > t1.array[csf].mean() and t2.array[csf].mean() > t2.array[wm].mean()
    names = remote.sri24_lpba40_labels()
    assert len(names) == 57 and names[0] == "background" and "L_hippocampus" in names.values()
    lpba = remote.load_sri24("lpba40")
    assert set(np.unique(lpba.array)) <= set(names)
    with pytest.raises(ValueError, match="t1, pd, t2"):
        remote.load_sri24("flair")


def test_cards_have_licence_citation_and_chapters():
    for name in ("msd_hippocampus", "ants_slices", "medmnist", "sri24"):
        c = data.card(name)
        assert c.licence and c.citation and c.chapters and c.version and c.files
        assert [s.kind for s in c.sources] == ["mirror", "cache"]


# ------------------------------------------------------------------------------------ not found
@pytest.mark.parametrize("load, name", [
    (lambda: remote.load_hippocampus(), "msd_hippocampus"),
    (lambda: remote.load_ants_slice("r16"), "ants_slices"),
    (lambda: remote.load_medmnist(), "medmnist"),
    (lambda: remote.load_medmnist("pneumoniamnist"), "medmnist"),
    (lambda: remote.load_sri24("t2"), "sri24"),
])
def test_offline_without_data_says_where_it_looked(offline, load, name):
    with pytest.raises(DataNotFoundError) as err:
        load()
    message = str(err.value)
    assert name in message and MIRROR_ENV in message and "network is unreachable" in message


def test_unknown_medmnist_flag():
    with pytest.raises(ValueError, match="breastmnist"):
        remote.load_medmnist("nosuchmnist")


# ------------------------------------------------------------------------------- corrupt files
def _fake_breastmnist(path: Path, sizes=(546, 78, 156)) -> Path:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes):
        arrays[f"{split}_images"] = rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 2, (n, 1), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


@needs_mirror
def test_truncated_npz_is_corrupt(offline):
    target = offline / "mirror" / "medmnist" / "breastmnist.npz"
    target.parent.mkdir()
    target.write_bytes((SHARED / "medmnist" / "breastmnist.npz").read_bytes()[:20000])
    with pytest.raises(CorruptFileError, match=str(target)):
        remote.load_medmnist()


def test_wrong_split_size_is_corrupt(offline):
    target = _fake_breastmnist(offline / "mirror" / "medmnist" / "breastmnist.npz", sizes=(500, 78, 156))
    with pytest.raises(CorruptFileError, match=r"train split has 500 samples, expected 546") as err:
        remote.load_medmnist()
    assert str(target) in str(err.value)


def test_wrong_dtype_and_checksum_are_corrupt(offline):
    target = _fake_breastmnist(offline / "mirror" / "medmnist" / "breastmnist.npz")
    with pytest.raises(CorruptFileError, match="md5"):  # right layout, unknown file
        remote.load_medmnist()
    assert remote.load_medmnist(verify=False)["train_images"].shape == (546, 28, 28)
    with np.load(target) as npz:
        arrays = dict(npz)
    arrays["val_images"] = arrays["val_images"].astype(np.float32)
    np.savez(target, **arrays)
    with pytest.raises(CorruptFileError, match="val_images has dtype float32"):
        remote.load_medmnist(verify=False)


def _nifti(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, np.eye(4)), str(path))


def _fake_task(root: Path, n: int = 2, label_value: int = 2) -> Path:
    """A tiny Task04_Hippocampus folder in the official layout."""
    task = root / "Task04_Hippocampus"
    training = []
    for k in range(1, n + 1):
        name = f"hippocampus_{k:03d}.nii.gz"
        img = np.random.default_rng(k).random((6, 7, 5)).astype(np.float32)
        lab = np.zeros((6, 7, 5), np.uint8)
        lab[2:4, 2:4, 2:4] = label_value
        _nifti(task / "imagesTr" / name, img)
        _nifti(task / "labelsTr" / name, lab)
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    (task / "dataset.json").write_text(json.dumps({"name": "Hippocampus", "training": training}))
    return task


def test_truncated_nifti_is_corrupt(offline):
    task = _fake_task(offline / "mirror" / "msd")
    bad = task / "imagesTr" / "hippocampus_002.nii.gz"
    bad.write_bytes(bad.read_bytes()[:60])
    assert len(remote.load_hippocampus(["hippocampus_001"])) == 1
    with pytest.raises(CorruptFileError, match=str(bad)):
        remote.load_hippocampus()


def test_bad_labels_are_corrupt(offline):
    _fake_task(offline / "mirror" / "msd", n=1, label_value=7)
    with pytest.raises(CorruptFileError, match=r"subset of \{0, 1, 2\}"):
        remote.load_hippocampus()


def test_mismatched_label_shape_is_corrupt(offline):
    task = _fake_task(offline / "mirror" / "msd", n=1)
    _nifti(task / "labelsTr" / "hippocampus_001.nii.gz", np.zeros((6, 7, 4), np.uint8))
    with pytest.raises(CorruptFileError, match="label shape"):
        remote.load_hippocampus()


# ----------------------------------------------------------------------------- the download path
def test_msd_download_extracts_into_cache(empty_dirs, monkeypatch):
    offline, cache_dir = empty_dirs, empty_dirs / "cache"
    _fake_task(offline / "build", n=3)
    archive = offline / "served" / "Task04_Hippocampus.tar"
    archive.parent.mkdir()
    with tarfile.open(archive, "w") as tar:
        tar.add(offline / "build" / "Task04_Hippocampus", arcname="Task04_Hippocampus")
    monkeypatch.setattr(remote, "MSD_URL", archive.as_uri())
    monkeypatch.setattr(remote, "MSD_MD5", hashlib.md5(archive.read_bytes()).hexdigest())

    cases = remote.load_hippocampus()
    assert [c.case_id for c in cases] == ["hippocampus_001", "hippocampus_002", "hippocampus_003"]
    assert (cache_dir / "msd" / "Task04_Hippocampus" / "dataset.json").exists()
    assert not (cache_dir / "msd" / "Task04_Hippocampus.tar").exists()
    assert remote.hippocampus_ids() == [c.case_id for c in cases]


def test_msd_download_with_wrong_checksum_is_corrupt(empty_dirs, monkeypatch):
    served = empty_dirs / "Task04_Hippocampus.tar"
    served.write_bytes(b"not a tar")
    monkeypatch.setattr(remote, "MSD_URL", served.as_uri())
    with pytest.raises(CorruptFileError, match="Task04_Hippocampus.tar"):
        remote.load_hippocampus()


def test_relative_mirror_path_is_explained(monkeypatch, tmp_path):
    """Notebooks run in their own folder: a relative mirror path is resolved from there, and the
    not-found message says so."""
    from corelib.data.registry import mirror

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(MIRROR_ENV, "../no/such/mirror")
    text = mirror("msd").describe()
    assert "is relative" in text and "absolute path" in text
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    assert "is relative" not in mirror("msd").describe()
