"""Loaders of datasets that come from the internet: the offline mirror first, else downloaded once.

The datasets are defined (licence, citation, where they are looked for, download address) in
:mod:`corelib.data.catalogue`; each loader finds its folder with ``locate("<name>")``, and the
download functions here are the ones the catalogue's cards call.

* ``msd_hippocampus``: Medical Segmentation Decathlon Task04 (260 labelled T1 MRI crops).
* ``ants_slices``: the six classic 2D T1 brain slices of ANTs/ANTsPy (r16 ... r85).
* ``medmnist``: MedMNIST v2 ``.npz`` files (BreastMNIST by default).
* ``bccd``: BCCD blood-cell detection (364 blood-smear images, Pascal VOC boxes).

Each folder has the official layout, so the mirror (``CORELIB_DATA_MIRROR``) and the download
cache (``CORELIB_DATA``) look the same. Every file is checked; a bad one raises
:class:`CorruptFileError` with its path.
"""
from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from corelib import validate
from corelib.data import fetch
from corelib.data.catalogue import ANTS_URLS, BREASTMNIST_MD5, MEDMNIST_URL, MSD_MD5, MSD_TASK, MSD_URL
from corelib.data.io import Volume, read_nifti
from corelib.data.registry import (
    CorruptFileError,
    DataNotFoundError,
    _not_found_message,
    card,
    file_digest,
    locate,
)

__all__ = [
    "ANTS_SLICE_NAMES",
    "BCCD_CLASSES",
    "BCCDImage",
    "bccd_ids",
    "bccd_label_noise",
    "load_bccd",
    "voc_to_boxes",
    "HippocampusCase",
    "MEDMNIST_FLAGS",
    "hippocampus_ids",
    "load_ants_slice",
    "load_ants_slices",
    "load_hippocampus",
    "load_medmnist",
    "load_sri24",
    "sri24_lpba40_labels",
    "SRI24_CHANNELS",
    "TwixScan",
    "load_twix",
]

# ============================================================================ MSD Task04 Hippocampus
HIPPOCAMPUS_LABELS = {0: "background", 1: "anterior", 2: "posterior"}


def _fetch_msd(folder: Path) -> None:
    """Download the official task tar into ``folder`` and extract it there safely."""
    archive = Path(folder) / f"{MSD_TASK}.tar"
    fetch.download(MSD_URL, archive, md5=MSD_MD5 or None)
    fetch.safe_extract(archive, folder)
    archive.unlink()


@dataclass
class HippocampusCase:
    """One training case: float32 image and uint8 label (0 background, 1 anterior, 2 posterior)."""

    case_id: str
    image: Volume
    label: Volume


def _task_dir() -> Path:
    return locate("msd_hippocampus") / MSD_TASK


def _training_entries(task: Path) -> list[tuple[str, Path, Path]]:
    """(case id, image path, label path) for each training entry of dataset.json."""
    path = task / "dataset.json"
    try:
        entries = json.loads(path.read_text())["training"]
        pairs = [(task / e["image"], task / e["label"]) for e in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{path}: not a valid Decathlon dataset.json "
                               f"({type(exc).__name__}: {exc})") from exc
    return [(img.name.split(".")[0], img, lab) for img, lab in pairs]


def hippocampus_ids() -> list[str]:
    """Case ids (``hippocampus_001`` ...) of the training entries whose files exist."""
    return [cid for cid, img, lab in _training_entries(_task_dir()) if img.exists() and lab.exists()]


_CASE_CACHE: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray, Volume, Volume]] = {}


def _read_case(case_id: str, img_path: Path, lab_path: Path) -> HippocampusCase:
    key = (str(img_path), img_path.stat().st_mtime_ns, lab_path.stat().st_mtime_ns)
    if key not in _CASE_CACHE:
        image = read_nifti(img_path, dtype=np.float32)
        label = read_nifti(lab_path, dtype=None)
        if image.shape != label.shape:
            raise CorruptFileError(f"{lab_path}: label shape {label.shape} differs from image "
                                   f"shape {image.shape} of {img_path}")
        values = np.unique(label.array)
        if not set(values.tolist()) <= set(HIPPOCAMPUS_LABELS):
            raise CorruptFileError(f"{lab_path}: label values {values.tolist()[:10]} are not "
                                   "a subset of {0, 1, 2}")
        _CASE_CACHE[key] = (image.array, label.array.astype(np.uint8), image, label)
    img_arr, lab_arr, image, label = _CASE_CACHE[key]
    meta = {"case_id": case_id, "dataset": "msd_hippocampus"}
    return HippocampusCase(
        case_id,
        Volume(img_arr.copy(), image.spacing, image.affine.copy(), {**image.meta, **meta}),
        Volume(lab_arr.copy(), label.spacing, label.affine.copy(),
               {**label.meta, **meta, "labels": dict(HIPPOCAMPUS_LABELS)}),
    )


def load_hippocampus(cases: int | Sequence[str] | None = None) -> list[HippocampusCase]:
    """Load MSD Task04 training cases: all (``None``), the first ``n`` (int), or the given ids.

    Images are float32 (55 mirror images were stored as uint8: normalise each volume before use);
    labels are uint8 in {0, 1, 2}. Volumes are cached in-process, so reloading is fast.
    """
    if isinstance(cases, (str, bytes)):
        raise validate.ArgumentTypeError(f"cases must be None, a number of cases or a list of case ids, "
                                         f"got the string {cases!r}; for one case use [{cases!r}]")
    if cases is not None and not hasattr(cases, "__len__"):
        cases = validate.positive_int("cases", cases)  # a negative count would slice from the end
    elif cases is not None:
        validate.distinct("cases", validate.nonempty("cases", cases))
        for cid, img, lab in _training_entries(_task_dir()):  # a listed case whose file is missing
            if cid in cases and not (img.exists() and lab.exists()):
                raise DataNotFoundError(f"case {cid!r}: {img if not img.exists() else lab} is missing; "
                                        "fetch the dataset again")
    entries = {cid: (img, lab) for cid, img, lab in _training_entries(_task_dir())
               if img.exists() and lab.exists()}
    if cases is None:
        ids = list(entries)
    elif isinstance(cases, int):
        ids = list(entries)[:cases]
    else:
        ids = list(cases)
        unknown = [c for c in ids if c not in entries]
        if unknown:
            raise ValueError(f"unknown hippocampus case ids {unknown[:5]}; "
                             f"valid ids look like {next(iter(entries), 'hippocampus_001')!r}")
    return [_read_case(cid, *entries[cid]) for cid in ids]


# ====================================================================================== ANTs slices
ANTS_SLICE_NAMES: tuple[str, ...] = tuple(ANTS_URLS)  # r16, r27, r30, r62, r64, r85
# Fallback when figshare (ANTS_URLS) fails: the ANTsPy repository's raw ``data/`` folder.
ANTS_RAW_URL = "https://raw.githubusercontent.com/ANTsX/ANTsPy/master/data/{name}slice.jpg"


def _fetch_ants(folder: Path) -> None:
    """Download each missing slice, from figshare or else the ANTsPy repository."""
    for name in ANTS_SLICE_NAMES:
        dest = Path(folder) / f"{name}slice.jpg"
        if dest.exists():
            continue
        try:
            fetch.download(ANTS_URLS[name], dest)
        except Exception:
            fetch.download(ANTS_RAW_URL.format(name=name), dest)


def load_ants_slice(name: str) -> Volume:
    """One ANTs slice (``"r16"`` ...) as a float32 2D grey Volume with 1 mm spacing."""
    from PIL import Image

    if not isinstance(name, str):
        raise validate.ArgumentTypeError(f"name must be a string, one of {', '.join(ANTS_SLICE_NAMES)}; "
                                         f"got {name!r}")
    key = name.removesuffix("slice.jpg").removesuffix("slice")
    if key not in ANTS_SLICE_NAMES:
        raise ValueError(f"unknown ANTs slice {name!r}; valid names: {', '.join(ANTS_SLICE_NAMES)}")
    path = locate("ants_slices") / f"{key}slice.jpg"
    try:
        with Image.open(path) as im:
            array = np.asarray(im.convert("L"), dtype=np.float32)
    except Exception as exc:  # PIL raises OSError, SyntaxError, ... for broken files
        raise CorruptFileError(f"{path}: cannot decode JPEG ({type(exc).__name__}: {exc}); "
                               "the file is truncated or corrupt. Delete it and fetch it again.") from exc
    return Volume(array, (1.0, 1.0), None, {"source": str(path), "name": key, "dataset": "ants_slices"})


def load_ants_slices() -> dict[str, Volume]:
    """All six ANTs slices, by name."""
    return {name: load_ants_slice(name) for name in ANTS_SLICE_NAMES}


# ========================================================================================= MedMNIST
# sha256 of the mirror's re-saved BreastMNIST (its md5 differs from the official file's).
BREASTMNIST_MIRROR_SHA256 = "0f599db83baf94298d600419608e3ebebcc491d1e5d6031d2ffcf5629e919481"


@dataclass(frozen=True)
class _FlagInfo:
    md5: str
    sizes: tuple[int, int, int]  # train, val, test
    channels: int
    classes: tuple[str, ...]


# From MedMNIST v2's medmnist/info.py (Zenodo record 6496656).
MEDMNIST_INFO: dict[str, _FlagInfo] = {
    "breastmnist": _FlagInfo(BREASTMNIST_MD5, (546, 78, 156), 1,
                             ("malignant", "normal, benign")),
    "pneumoniamnist": _FlagInfo("28209eda62fecd6e6a2d98b1501bb15f", (4708, 524, 624), 1,
                                ("normal", "pneumonia")),
    "dermamnist": _FlagInfo("0744692d530f8e62ec473284d019b0c7", (7007, 1003, 2005), 3, (
        "actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
        "benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi",
        "vascular lesions")),
    "organamnist": _FlagInfo("866b832ed4eeba67bfb9edee1d5544e6", (34581, 6491, 17778), 1, (
        "bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver",
        "lung-left", "lung-right", "pancreas", "spleen")),
    "bloodmnist": _FlagInfo("7053d0359d879ad8a5505303e11de1dc", (11959, 1712, 3421), 3, (
        "basophil", "eosinophil", "erythroblast", "immature granulocytes", "lymphocyte",
        "monocyte", "neutrophil", "platelet")),
}
MEDMNIST_FLAGS: tuple[str, ...] = tuple(MEDMNIST_INFO)
_SPLITS = ("train", "val", "test")
MEDMNIST_KEYS = tuple(f"{s}_{k}" for s in _SPLITS for k in ("images", "labels"))


def _fetch_medmnist(flag: str, folder: Path) -> None:
    fetch.download(MEDMNIST_URL.format(flag=flag), Path(folder) / f"{flag}.npz", md5=MEDMNIST_INFO[flag].md5)


def _medmnist_path(flag: str, download: bool) -> Path:
    """The ``{flag}.npz`` file in the mirror or cache, downloading it into the cache if allowed."""
    if flag == "breastmnist":
        return locate("medmnist", download=download) / "breastmnist.npz"
    base = card("medmnist")
    sources = tuple(dataclasses.replace(s, url=MEDMNIST_URL.format(flag=flag), md5=MEDMNIST_INFO[flag].md5,
                                        download=lambda folder: _fetch_medmnist(flag, folder))
                    if s.kind == "cache" else s for s in base.sources)
    flag_card = dataclasses.replace(base, files=(f"{flag}.npz",), sources=sources)
    hit = flag_card.found_in()
    if hit is not None:
        return hit[1] / f"{flag}.npz"
    errors = []
    if download:
        for s in sources:
            if s.kind == "cache":
                try:
                    s.download(s.folder())
                    return s.folder() / f"{flag}.npz"
                except CorruptFileError:
                    raise
                except Exception as exc:
                    errors.append(f"download from {s.url} failed: {exc}")
    raise DataNotFoundError(_not_found_message(flag_card, errors))


def _check_digest(path: Path, flag: str) -> None:
    """The official md5, or for BreastMNIST also the mirror file's sha256."""
    md5 = MEDMNIST_INFO[flag].md5
    if flag == "breastmnist" and file_digest(path, "sha256") == BREASTMNIST_MIRROR_SHA256:
        return
    actual = file_digest(path, "md5")
    if actual != md5:
        raise CorruptFileError(f"{path}: md5 {actual} is not the official {flag} md5 {md5}"
                               + (f" nor the mirror's sha256 {BREASTMNIST_MIRROR_SHA256}"
                                  if flag == "breastmnist" else "")
                               + "; the file is corrupt or another version. Delete it and fetch it again.")


def _validate_medmnist(raw: dict[str, np.ndarray], flag: str, path: Path) -> None:
    info = MEDMNIST_INFO[flag]
    missing = [k for k in MEDMNIST_KEYS if k not in raw]
    if missing:
        raise CorruptFileError(f"{path}: missing keys {missing} (has {sorted(raw)})")
    image_shape = (28, 28) if info.channels == 1 else (28, 28, info.channels)
    for split, expected in zip(_SPLITS, info.sizes):
        images, labels = raw[f"{split}_images"], raw[f"{split}_labels"]
        for key, arr in ((f"{split}_images", images), (f"{split}_labels", labels)):
            if arr.dtype != np.uint8:
                raise CorruptFileError(f"{path}: {key} has dtype {arr.dtype}, expected uint8")
        if images.shape[1:] != image_shape:
            raise CorruptFileError(f"{path}: {split}_images has shape {images.shape}, "
                                   f"expected (N, {', '.join(map(str, image_shape))})")
        if labels.shape != (len(images), 1):
            raise CorruptFileError(f"{path}: {split}_labels has shape {labels.shape}, "
                                   f"expected ({len(images)}, 1) to match {split}_images")
        if len(images) != expected:
            raise CorruptFileError(f"{path}: {split} split has {len(images)} samples, "
                                   f"expected {expected} for {flag}")
        if labels.size and labels.max() >= len(info.classes):
            raise CorruptFileError(f"{path}: {split}_labels has label {labels.max()}, "
                                   f"but {flag} has {len(info.classes)} classes")


_VERIFIED: set[tuple[str, int, int]] = set()


def load_medmnist(flag: str = "breastmnist", download: bool = True, verify: bool = True) -> dict[str, Any]:
    """Load a MedMNIST v2 ``.npz`` as a dict, checked against the official layout.

    Keys: ``train_images``, ``val_images``, ``test_images`` (uint8, (N, 28, 28) or (N, 28, 28, 3)),
    ``train_labels`` ... (int64, (N,)), ``n_classes``, ``class_names``, ``flag`` and ``path``. A
    truncated file, wrong keys, dtypes, shapes or split sizes, or (with ``verify``) an unknown
    checksum raise :class:`CorruptFileError` naming the file.
    """
    if not isinstance(flag, str):
        raise validate.ArgumentTypeError(f"flag must be a string, one of {', '.join(MEDMNIST_FLAGS)}; got {flag!r}")
    flag = flag.lower()
    if flag not in MEDMNIST_INFO:
        raise ValueError(f"unsupported MedMNIST flag {flag!r}; supported: {', '.join(MEDMNIST_FLAGS)}")
    path = _medmnist_path(flag, download)
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError) as exc:
        raise CorruptFileError(f"{path}: cannot read npz ({type(exc).__name__}: {exc}); the file is "
                               "truncated or corrupt. Delete it and fetch it again.") from exc
    _validate_medmnist(raw, flag, path)
    stat = os.stat(path)
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if verify and key not in _VERIFIED:
        _check_digest(path, flag)
        _VERIFIED.add(key)
    out: dict[str, Any] = {}
    for split in _SPLITS:
        out[f"{split}_images"] = raw[f"{split}_images"]
        out[f"{split}_labels"] = raw[f"{split}_labels"].reshape(-1).astype(np.int64)
    info = MEDMNIST_INFO[flag]
    out.update(n_classes=len(info.classes), class_names=info.classes, flag=flag, path=str(path))
    return out


# ============================================================================================ SRI24
SRI24_CHANNELS = ("t1", "pd", "t2", "tissues", "lpba40")
SRI24_TISSUES = {0: "background", 1: "CSF", 2: "GM", 3: "WM"}


def _fetch_sri24(folder: Path) -> None:
    """Download the SRI24 files of the R package ``sri24`` (fixed commit), checking the image checksums."""
    from corelib.data.catalogue import SRI24_FILES, SRI24_SHA256, SRI24_URL

    for name in SRI24_FILES.values():
        dest = Path(folder) / "inst" / "extdata" / name
        if not dest.exists():
            fetch.download(SRI24_URL.format(file=name), dest, sha256=SRI24_SHA256.get(name))


def load_sri24(channel: str = "t1") -> Volume:
    """One channel of the SRI24 atlas as a 3D :class:`Volume` (240x240x155, 1 mm, LAS affine).

    ``channel``: ``t1`` (SPGR), ``pd`` (early FSE echo), ``t2`` (late FSE echo), all skull-stripped
    and co-registered, float32; ``tissues`` (uint8: 1 CSF, 2 GM, 3 WM, names in
    ``meta["labels"]``) or ``lpba40`` (uint8 structure labels, names in ``meta["labels"]``).
    """
    from corelib.data.catalogue import SRI24_FILES

    if channel not in SRI24_CHANNELS:
        raise ValueError(f"unknown SRI24 channel {channel!r}; choose one of {', '.join(SRI24_CHANNELS)}")
    labels = channel in ("tissues", "lpba40")
    path = locate("sri24") / "inst" / "extdata" / SRI24_FILES[channel]
    vol = read_nifti(path, dtype=np.uint8 if labels else np.float32)
    if vol.array.ndim == 4 and vol.array.shape[3] == 1:  # stored as x*y*z*1
        vol = Volume(vol.array[..., 0], vol.spacing[:3], vol.affine, vol.meta)
    if vol.array.shape != (240, 240, 155):
        raise CorruptFileError(f"{path}: expected a 240x240x155 volume, found {vol.array.shape}")
    vol.meta.update(channel=channel, space="SRI24")
    if channel == "tissues":
        vol.meta["labels"] = dict(SRI24_TISSUES)
    elif channel == "lpba40":
        vol.meta["labels"] = sri24_lpba40_labels()
    return vol


def sri24_lpba40_labels() -> dict[int, str]:
    """LPBA40 label value -> structure name (e.g. ``165: "L_hippocampus"``), from ``LPBA40-labels.txt``."""
    path = locate("sri24") / "inst" / "extdata" / "LPBA40-labels.txt"
    labels: dict[int, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].strip().isdigit():
            if line.strip():
                raise CorruptFileError(f"{path}: unexpected line {line!r}")
            continue
        labels[int(parts[0])] = parts[1].strip().strip('"')
    if len(labels) < 2:
        raise CorruptFileError(f"{path}: no labels")
    return labels


# ============================================================================================= BCCD
BCCD_CLASSES = ("RBC", "WBC", "Platelets")
BCCD_SPLITS = ("train", "val", "trainval", "test")


def _fetch_bccd(folder: Path) -> None:
    """Download the BCCD repository archive at the catalogued commit and keep its ``BCCD/`` folder."""
    import shutil
    import tempfile

    from corelib.data.catalogue import BCCD_COMMIT, BCCD_URL

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        archive = Path(tmp) / "bccd.tar.gz"
        fetch.download(BCCD_URL, archive)
        fetch.safe_extract(archive, Path(tmp) / "x")
        root = Path(tmp) / "x" / f"BCCD_Dataset-{BCCD_COMMIT}"
        for name in ("BCCD", "LICENSE", "README.md", "test.csv"):
            if (root / name).exists():
                shutil.move(str(root / name), str(folder / name))


@dataclass
class BCCDImage:
    """One BCCD blood-smear image with its boxes, in the book's one box convention.

    ``image``: ``(H, W, 3)`` uint8 RGB. ``boxes``: float32 ``(N, 4)`` as ``(x_min, y_min, x_max,
    y_max)`` in pixels of ``image``, **x along the columns (width), y along the rows (height)**,
    continuous coordinates with the image spanning ``[0, W] x [0, H]`` (the Pascal VOC / torchvision
    / matplotlib order; VOC's 1-based inclusive pixel indices ``xmin..xmax`` become
    ``[xmin - 1, xmax]``). ``labels``: int64 ``(N,)`` indices into :data:`BCCD_CLASSES`.
    ``dropped``: the annotation boxes that were not kept, each ``(class name, VOC box, reason)``.
    ``scale``: the factor applied to the original 640x480 image and its boxes.
    """

    image_id: str
    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    dropped: list = dataclasses.field(default_factory=list)
    scale: float = 1.0


def _bccd_root() -> Path:
    return locate("bccd") / "BCCD"


def bccd_ids(split: str = "train") -> list[str]:
    """Image ids (``BloodImage_00000`` ...) of an upstream split: train, val, trainval or test."""
    split = validate.one_of("split", split, BCCD_SPLITS)
    path = _bccd_root() / "ImageSets" / "Main" / f"{split}.txt"
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise CorruptFileError(f"{path}: the split list is empty")
    return ids


def _parse_voc(path: Path) -> tuple[tuple[int, int], list[tuple[str, tuple[float, ...], int]]]:
    """``((width, height), [(name, (xmin, ymin, xmax, ymax), truncated), ...])`` from a VOC XML."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
        size = (int(root.findtext("size/width")), int(root.findtext("size/height")))
        objects = []
        for obj in root.iter("object"):
            box = tuple(float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax"))
            objects.append((obj.findtext("name").strip(), box, int(obj.findtext("truncated") or 0)))
    except (ET.ParseError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptFileError(f"{path}: not a valid Pascal VOC annotation "
                               f"({type(exc).__name__}: {exc})") from exc
    return size, objects


def voc_to_boxes(objects: Sequence[tuple[str, tuple[float, ...], int]], size: tuple[int, int],
                 classes: Sequence[str] = BCCD_CLASSES) -> tuple[np.ndarray, np.ndarray, list]:
    """VOC objects -> ``(boxes, labels, dropped)`` in the convention of :class:`BCCDImage`.

    Boxes are clipped to the image; a box with zero (or negative) width or height after that, or
    with an unknown class name, is dropped and listed in ``dropped`` with the reason.
    """
    width, height = size
    boxes, labels, dropped = [], [], []
    for name, (x0, y0, x1, y1), _ in objects:
        if name not in classes:
            dropped.append((name, (x0, y0, x1, y1), f"class not in {tuple(classes)}"))
            continue
        b = (min(max(x0 - 1, 0.0), width), min(max(y0 - 1, 0.0), height),
             min(max(x1, 0.0), width), min(max(y1, 0.0), height))
        if x1 <= x0 or y1 <= y0:
            dropped.append((name, (x0, y0, x1, y1), "zero area"))
            continue
        boxes.append(b)
        labels.append(classes.index(name))
    return (np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64), dropped)


def load_bccd(split: str = "train", scale: float = 1.0, ids: Sequence[str] | None = None) -> list[BCCDImage]:
    """BCCD images of an upstream split (or the given ``ids``), optionally downscaled by ``scale``.

    Parses the Pascal VOC XML with the standard library. The two zero-area RBC boxes of the
    upstream annotations (BloodImage_00338, BloodImage_00343) are dropped and reported in each
    image's ``dropped`` list; see :func:`bccd_label_noise`. ``scale`` in ``(0, 1]`` resizes image
    and boxes together (PIL, antialiased).
    """
    from PIL import Image

    scale = validate.in_range("scale", scale, 0.0, 1.0, lo_open=True)
    root = _bccd_root()
    ids = bccd_ids(split) if ids is None else list(validate.nonempty("ids", ids))
    out = []
    for image_id in ids:
        if not isinstance(image_id, str):
            raise validate.ArgumentTypeError(f"ids must hold strings like 'BloodImage_00000', got {image_id!r}")
        xml, jpg = root / "Annotations" / f"{image_id}.xml", root / "JPEGImages" / f"{image_id}.jpg"
        if not xml.exists() or not jpg.exists():
            raise DataNotFoundError(f"BCCD image {image_id!r} not found: looked for {xml} and {jpg}")
        size, objects = _parse_voc(xml)
        boxes, labels, dropped = voc_to_boxes(objects, size)
        try:
            with Image.open(jpg) as im:
                im = im.convert("RGB")
                if im.size != size:
                    raise CorruptFileError(f"{jpg}: size {im.size} differs from its annotation {size}")
                if scale != 1.0:
                    new = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
                    im = im.resize(new, Image.BILINEAR, reducing_gap=2.0)
                image = np.asarray(im, dtype=np.uint8).copy()
        except OSError as exc:
            raise CorruptFileError(f"{jpg}: cannot read JPEG ({exc})") from exc
        sx, sy = image.shape[1] / size[0], image.shape[0] / size[1]
        boxes = boxes * np.array([sx, sy, sx, sy], np.float32)
        out.append(BCCDImage(image_id, image, boxes, labels, dropped, float(scale)))
    return out


def bccd_label_noise(images: Sequence[BCCDImage]) -> list[tuple[str, str, tuple, str]]:
    """Every dropped annotation of ``images`` as ``(image id, class, VOC box, reason)``."""
    return [(im.image_id, name, box, why) for im in images for name, box, why in im.dropped]


# ============================================================================ twix raw k-space
@dataclass
class TwixScan:
    """Raw k-space of one 2D scan: ``kspace`` complex64 (coils, lines, columns), readout
    oversampling removed, lines in acquisition order of the phase-encode index; ``meta`` holds
    the matrix, field of view and scanner fields read from the protocol."""

    kspace: np.ndarray
    meta: dict


def _fetch_twix(folder: Path) -> None:
    """Download the twixtools example files (fixed commit), checking their checksums."""
    from corelib.data.catalogue import TWIX_SHA256, TWIX_URL

    for name, sha in TWIX_SHA256.items():
        dest = Path(folder) / "example_data" / name
        if not dest.exists():
            fetch.download(TWIX_URL.format(file=name), dest, sha256=sha)


def load_twix(kind: str = "gre") -> TwixScan:
    """The fully sampled 2D GRE of the twixtools examples (``kind="gre"``), read with twixtools.

    Real multi-coil raw data of a phantom (Ehses, twixtools, MIT). The file's checksum is verified;
    twixtools' own progress output is silenced. Only the GRE is offered: the EPI needs ghost
    correction from its navigator lines before it is an image.
    """
    import contextlib
    import hashlib
    import io

    from corelib.data.catalogue import TWIX_SHA256

    validate.one_of("kind", kind, ("gre",))
    path = locate("twix_example") / "example_data" / f"{kind}.dat"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != TWIX_SHA256[f"{kind}.dat"]:
        raise CorruptFileError(f"{path}: sha256 {digest} does not match the catalogue")
    try:
        import twixtools
    except ImportError as err:  # pragma: no cover - twixtools is a dependency of the book
        raise ImportError("load_twix needs twixtools: pip install twixtools") from err
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        twix = twixtools.read_twix(str(path), verbose=False)
        image = twixtools.map_twix(twix)[-1]["image"]
        image.flags["remove_os"] = True
        data = np.asarray(image[:]).squeeze()  # (lines, coils, columns)
    if data.ndim != 3 or not np.all(np.isfinite(data)):
        raise CorruptFileError(f"{path}: expected finite (lines, coils, columns) k-space, "
                               f"got shape {data.shape}")
    kspace = np.ascontiguousarray(np.transpose(data, (1, 0, 2))).astype(np.complex64)
    prot = twix[-1]["hdr"].get("MeasYaps", {})
    fov = prot.get("sSliceArray", {}).get("asSlice", [{}])[0]
    meta = {"kind": kind, "file": str(path), "coils": kspace.shape[0],
            "matrix": kspace.shape[1:], "fov_mm": (fov.get("dPhaseFOV"), fov.get("dReadoutFOV")),
            "slice_mm": fov.get("dThickness"), "object": "phantom"}
    return TwixScan(kspace, meta)
