"""Loaders of the real images that ship inside installed packages (no download ever).

The datasets are defined (licence, citation, where they are looked for) in
:mod:`corelib.data.catalogue`; each loader finds its folder with ``locate("<name>")``.

* ``mni152``: pip ``nilearn`` package data -> :func:`load_mni152`
* ``colin27``: Debian ``mricron-data`` -> :func:`load_colin27`, :func:`aal_labels`
* ``head_ct``: Debian ``invesalius-examples`` (Cranium.inv3) -> :func:`load_head_ct`,
  :func:`head_ct_masks`
* ``itk_examples``: Debian ``insighttoolkit5-examples`` -> :func:`load_brainweb_slices`,
  :func:`load_registration_slices`, :func:`load_kmeans_test`
* ``dicom_samples``: pip ``pydicom-data`` (module ``data_store``) -> :func:`load_dicom`,
  :func:`read_dicom`
* ``dipy_samples``: pip ``dipy`` (files inside the wheel) -> :func:`load_dipy_sample`
* ``phantoms``: pip ``phantominator`` and ``sigpy`` -> :func:`shepp_logan`,
  :func:`kspace_phantom`, :func:`coil_maps`, :func:`poisson_mask`

Every loader returns a :class:`~corelib.data.io.Volume` (array, spacing in mm per array axis,
affine or ``None``, meta). A missing package raises :class:`DataNotFoundError` with the install
command; a broken file raises :class:`CorruptFileError` with its path; an unknown ``kind`` raises
``ValueError`` listing the valid ones.
"""
from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from corelib import validate
from corelib.data.ct_invesalius import read_inv3
from corelib.data.io import Volume, read_nifti
from corelib.data.registry import CorruptFileError, DataNotFoundError, locate

__all__ = [
    "load_mni152",
    "load_colin27",
    "aal_labels",
    "CT_WINDOWS",
    "load_head_ct",
    "head_ct_masks",
    "load_brainweb_slices",
    "load_registration_slices",
    "parse_itk_transform",
    "load_kmeans_test",
    "load_dicom",
    "read_dicom",
    "load_dipy_sample",
    "shepp_logan",
    "kspace_phantom",
    "coil_maps",
    "poisson_mask",
]


# ---------------------------------------------------------------------------------------- helpers
def _check_kind(kind: str, valid: Any) -> None:
    if kind not in valid:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(map(str, valid))}")


# ----------------------------------------------------------------------------------------- MNI152
def load_mni152(kind: str = "t1", resolution: int = 1) -> Volume:
    """MNI152 2009a template from nilearn's package data (works offline).

    kind: ``t1`` (skull-stripped T1, nilearn rescales it to [0, 1]), ``gm``/``wm`` (tissue
    probability maps in [0, 1]) or ``brain`` (boolean mask from nilearn's
    ``load_mni152_brain_mask``: T1 template > 0.2). ``resolution=2`` is nilearn's resampling to
    2 mm (99x117x95) with the matching affine; ``1`` is the 1 mm grid (197x233x189).
    """
    loaders = {"t1": "load_mni152_template", "gm": "load_mni152_gm_template",
               "wm": "load_mni152_wm_template", "brain": "load_mni152_brain_mask"}
    _check_kind(kind, loaders)
    if resolution not in (1, 2):
        raise ValueError(f"resolution must be 1 or 2 (mm), got {resolution!r}")
    folder = locate("mni152")
    from nilearn import datasets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = getattr(datasets, loaders[kind])(resolution=resolution)
    data = np.asarray(img.get_fdata(), dtype=np.float32)
    array = data > 0.5 if kind == "brain" else data
    spacing = tuple(float(z) for z in img.header.get_zooms()[:3])
    meta = {"kind": kind, "resolution_mm": resolution, "folder": str(folder),
            "space": "MNI152NLin2009aSym", "units": "mask" if kind == "brain" else "[0, 1]"}
    return Volume(array, spacing, np.asarray(img.affine, dtype=np.float64), meta)


# ---------------------------------------------------------------------------------------- Colin27
_COLIN_FILES = {"ch2": "ch2.nii.gz", "ch2bet": "ch2bet.nii.gz", "ch2better": "ch2better.nii.gz",
                "aal": "aal.nii.gz", "brodmann": "brodmann.nii.gz"}


def load_colin27(kind: str = "ch2") -> Volume:
    """Colin27 from mricron-data: ``ch2`` T1 with skull, ``ch2bet`` brain only (both 1 mm,
    181x217x181), ``ch2better`` 0.5 mm (301x370x316), ``aal`` (int16 labels 0..116, names in
    ``meta["labels"]``) or ``brodmann`` (int16 areas). RAS affine in MNI space."""
    _check_kind(kind, _COLIN_FILES)
    folder = locate("colin27")
    labels = kind in ("aal", "brodmann")
    vol = read_nifti(folder / _COLIN_FILES[kind], dtype=np.int16 if labels else np.float32)
    vol.meta.update(kind=kind, space="MNI (Colin27)")
    if kind == "aal":
        vol.meta["labels"] = aal_labels()
    return vol


def aal_labels() -> dict[int, str]:
    """AAL label value -> region name (116 regions), parsed from ``aal.nii.txt``."""
    path = locate("colin27") / "aal.nii.txt"
    labels: dict[int, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or not parts[0].isdigit():
            raise CorruptFileError(f"{path}: unexpected line {line!r}")
        labels[int(parts[0])] = parts[1]
    if not labels:
        raise CorruptFileError(f"{path}: no labels")
    return labels


# ---------------------------------------------------------------------------------------- head CT
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0), "subdural": (75.0, 215.0), "soft": (40.0, 400.0),
    "bone": (400.0, 1800.0), "lung": (-600.0, 1500.0)}
"""Common CT display windows as (level, width) in HU: the one table (``viz.ct_window`` reads it)."""


@functools.lru_cache(maxsize=2)
def _read_inv3_cached(path: str, mtime: float) -> Volume:
    return read_inv3(path)


def load_head_ct() -> Volume:
    """Real head CT (InVesalius example 'ProMED CT 0051') in Hounsfield units.

    ``array`` is int16, shape (108, 256, 256) = (axial slice, row, column), slices from the skull
    base (0) up to the vertex; spacing (1.5, 0.957, 0.957) mm. Rows are flipped back from
    InVesalius' bottom-up (VTK) storage so that ``imshow(array[k])`` shows the face at the top,
    as in a radiological viewer. ``meta["window"]`` is the file's window (level -18, width 406) and
    ``meta["windows"]`` common presets (level, width). Parsed once per process, then copied.
    """
    path = locate("head_ct") / "Cranium.inv3"
    cached = _read_inv3_cached(str(path), path.stat().st_mtime)
    meta = dict(cached.meta, windows=dict(CT_WINDOWS), axes=("inferior->superior slice",
                "anterior->posterior row", "column"))
    return Volume(cached.array[:, ::-1, :].copy(), cached.spacing, None, meta)


def head_ct_masks(vol: Volume, bone_hu: float = 300.0, soft_hu: tuple[float, float] = (0.0, 80.0),
                  body_hu: float = -500.0) -> dict[str, np.ndarray]:
    """Boolean masks of a CT in HU: ``body`` (largest connected component above ``body_hu``,
    holes filled in 3D and per slice), ``bone`` (>= ``bone_hu`` inside the body) and ``soft``
    (within ``soft_hu``, the brain/soft-tissue range, inside the body)."""
    from scipy import ndimage as ndi

    validate.finite("bone_hu", bone_hu)
    validate.finite("body_hu", body_hu)
    if np.ndim(soft_hu) != 1 or len(soft_hu) != 2:
        raise ValueError(f"soft_hu must be (low, high) in HU, got {soft_hu!r}")
    validate.ordered("soft_hu", *soft_hu, strict=False)
    hu = np.asarray(vol.array)
    labels, n = ndi.label(hu > body_hu)
    if n == 0:
        body = np.zeros(hu.shape, dtype=bool)
    else:
        sizes = np.bincount(labels.ravel())[1:]
        body = labels == (int(np.argmax(sizes)) + 1)
        body = ndi.binary_fill_holes(body)
        for i in range(body.shape[0]):  # close air spaces open to the outside in 3D
            body[i] = ndi.binary_fill_holes(body[i])
    bone = body & (hu >= bone_hu)
    soft = body & (hu >= soft_hu[0]) & (hu <= soft_hu[1])
    return {"body": body, "bone": bone, "soft": soft}


# ------------------------------------------------------------------------------------ ITK examples
def _read_png(path: Path) -> Volume:
    """Grey PNG as float32 with unit spacing (ITK treats these slices as 1 mm pixels)."""
    from PIL import Image

    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            array = np.asarray(im.convert("L"), dtype=np.float32)
    except Exception as exc:  # PIL raises many types for broken files
        raise CorruptFileError(f"{path}: cannot read PNG ({type(exc).__name__}: {exc})") from exc
    return Volume(array, (1.0, 1.0), None, {"path": str(path), "axes": ("row", "column")})


def load_brainweb_slices() -> dict[str, Volume]:
    """Aligned BrainWeb axial slices from ITK: ``t1`` and ``pd`` (217x181 float32, 1 mm, 0..255)."""
    folder = locate("itk_examples")
    return {"t1": _read_png(folder / "BrainT1Slice.png"),
            "pd": _read_png(folder / "BrainProtonDensitySlice.png")}


_REG_PAIRS = {
    "shift": ("BrainProtonDensitySliceBorder20.png", "BrainProtonDensitySliceShifted13x17y.png"),
    "multimodal_shift": ("BrainT1SliceBorder20.png", "BrainProtonDensitySliceShifted13x17y.png"),
    "rotation": ("BrainProtonDensitySliceBorder20.png", "BrainProtonDensitySliceRotated10.png"),
    "rigid": ("BrainProtonDensitySliceBorder20.png", "BrainProtonDensitySliceR10X13Y17.png"),
    "similarity": ("BrainProtonDensitySliceBorder20.png",
                   "BrainProtonDensitySliceR10X13Y17S12.png"),
}


def parse_itk_transform(filename: str) -> dict[str, Any]:
    """Ground-truth transform named in an ITK example file name.

    ``Shifted13x17y`` -> translation (13, 17); ``Rotated10`` -> 10 degrees about the image
    centre; ``R10X13Y17`` -> 10 degrees then (13, 17); ``S12`` -> scale 1/1.2 (ITK Software Guide:
    "scaling by 1/1.2"). Translations are (x = column, y = row) in mm (= pixels).
    """
    t: dict[str, Any] = {"rotation_deg": 0.0, "translation": (0.0, 0.0), "scale": 1.0}
    if m := re.search(r"Shifted(\d+)x(\d+)y", filename):
        t["translation"] = (float(m[1]), float(m[2]))
    elif m := re.search(r"Rotated(\d+)", filename):
        t["rotation_deg"] = float(m[1])
    elif m := re.search(r"R(\d+)X(\d+)Y(\d+)(?:S(\d+))?", filename):
        t["rotation_deg"] = float(m[1])
        t["translation"] = (float(m[2]), float(m[3]))
        if m[4]:
            t["scale"] = 1.0 / (float(m[4]) / 10.0)
    else:
        raise ValueError(f"no transform in file name {filename!r}")
    return t


def load_registration_slices() -> dict[str, dict[str, Any]]:
    """ITK's registration test pairs with known transforms (221x257 canvases, 1 mm pixels).

    Each value is ``{"fixed": Volume, "moving": Volume, "transform": dict, "files": (f, m)}`` with
    ``transform`` from :func:`parse_itk_transform`. Pairs: ``shift`` (PD vs PD shifted (13, 17)),
    ``multimodal_shift`` (T1 vs that shifted PD), ``rotation`` (10 degrees), ``rigid`` (10 degrees
    + (13, 17)), ``similarity`` (+ scale 1/1.2). Convention, checked for the shift pair:
    ``moving[r + 17, c + 13] == fixed[r, c]``, i.e. the transform maps fixed to moving points
    (ITK's convention); the other pairs are as named by ITK.
    """
    folder = locate("itk_examples")
    out: dict[str, dict[str, Any]] = {}
    for name, (fixed, moving) in _REG_PAIRS.items():
        out[name] = {"fixed": _read_png(folder / fixed), "moving": _read_png(folder / moving),
                     "transform": parse_itk_transform(moving), "files": (fixed, moving)}
    return out


_KMEANS_FILES = ("KmeansTest_T1UCharRaw.nii.gz", "KmeansTest_T1KmeansPrelimSegmentation.nii.gz")


def load_kmeans_test() -> tuple[Volume, Volume]:
    """ITK KmeansTest 3D T1 (128x128x62, 2x2x3 mm, values 0..255) and its 7-class labels (0..6).

    The labels are ITK's preliminary k-means segmentation of that T1 (an algorithm output used as
    a test baseline, not a manual ground truth).
    """
    folder = locate("itk_examples")
    missing = [f for f in _KMEANS_FILES if not (folder / f).exists()]
    if missing:
        raise DataNotFoundError(
            f"dataset 'itk_examples': {', '.join(missing)} not in {folder}; they ship with "
            "insighttoolkit5-examples >= 5.2.1-5+deb12u1. To get it:\n  sudo apt-get update && "
            "sudo apt-get install -y --no-install-recommends insighttoolkit5-examples")
    t1 = read_nifti(folder / _KMEANS_FILES[0], dtype=np.float32)
    labels = read_nifti(folder / _KMEANS_FILES[1], dtype=np.int16)
    labels.meta.update(n_classes=7, note="k-means output of ITK's KmeansTest, not manual labels")
    return t1, labels


# ------------------------------------------------------------------------------------------ DICOM
_DICOM_FILES = {"chest_xray": "RG1_UNCR.dcm", "ct": "693_UNCR.dcm", "mr": "MR2_UNCR.dcm",
                "mr_lesion": "MR-SIEMENS-DICOM-WithOverlays.dcm"}
_DICOM_TAGS = ("Modality", "BodyPartExamined", "StudyDescription", "SeriesDescription",
               "PatientPosition", "PhotometricInterpretation", "WindowCenter", "WindowWidth",
               "RescaleSlope", "RescaleIntercept", "RescaleType", "SliceThickness",
               "PixelSpacing", "ImagePositionPatient", "ImageOrientationPatient",
               "PixelPaddingValue", "RepetitionTime", "EchoTime", "MagneticFieldStrength")


def _tag_value(value: Any) -> Any:
    """DICOM value -> plain Python (numbers, strings, lists)."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [_tag_value(v) for v in value]
    if type(value).__name__ in ("DSfloat", "DSdecimal", "IS"):
        return float(value)
    if type(value).__name__ == "PersonName":
        return str(value)
    return value


def read_dicom(path: str | Path) -> Volume:
    """Read one DICOM file's pixels (float32) with geometry and the useful tags.

    Rescale slope/intercept are applied when present (float32; CT then is in HU and CT pixels equal
    to PixelPaddingValue become -1024 HU, flagged in ``meta["padding"]``). MONOCHROME1 images are
    inverted so that higher values are brighter (``meta["inverted"]``). ``spacing`` is
    PixelSpacing (else ImagerPixelSpacing) per (row, column), with SliceThickness first for
    multi-frame data; when the file gives none it is 1.0 and ``meta["spacing_known"]`` is False.
    Overlay plane 0x6000 (if any) is ``meta["overlay"]`` (bool). Not DICOM or truncated ->
    :class:`CorruptFileError` with the path.
    """
    import pydicom

    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file")
    try:
        ds = pydicom.dcmread(str(path))
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:  # InvalidDicomError, EOFError, ValueError for short pixel data, ...
        raise CorruptFileError(f"{path}: cannot read DICOM ({type(exc).__name__}: {exc}); the "
                               "file is truncated, corrupt or not DICOM") from exc
    meta: dict[str, Any] = {k: _tag_value(ds.get(k)) for k in _DICOM_TAGS if k in ds}
    meta.update(path=str(path), dataset=ds)
    array = pixels.astype(np.float32)
    rescaled = "RescaleSlope" in ds or "RescaleIntercept" in ds
    if rescaled:
        array = array * float(ds.get("RescaleSlope", 1.0)) + float(ds.get("RescaleIntercept", 0.0))
    modality = str(ds.get("Modality", ""))
    meta["units"] = "HU" if modality == "CT" and rescaled else "stored values"
    if modality == "CT" and "PixelPaddingValue" in ds and rescaled:
        padding = pixels == int(ds.PixelPaddingValue)
        array[padding] = -1024.0
        meta["padding"] = padding
    if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        top = float(2 ** int(ds.get("BitsStored", 16)) - 1)
        array = top - array
        meta["inverted"] = True
    spacing_tag = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    in_plane = tuple(float(s) for s in spacing_tag) if spacing_tag else (0.0, 0.0)
    meta["spacing_known"] = all(s > 0 for s in in_plane)
    if not meta["spacing_known"]:
        in_plane = (1.0, 1.0)
    spacing = in_plane
    if array.ndim == 3 and "SamplesPerPixel" in ds and int(ds.SamplesPerPixel) == 1:
        spacing = (float(ds.get("SliceThickness", 1.0) or 1.0),) + in_plane
    elif array.ndim == 3:  # colour: (rows, cols, 3)
        spacing = in_plane + (1.0,)
    if any(0x6000 <= tag.group < 0x6020 and tag.element == 0x3000 for tag in ds.keys()):
        meta["overlay"] = ds.overlay_array(0x6000).astype(bool)
    return Volume(array, spacing, None, meta)


def load_dicom(kind: str = "ct") -> Volume:
    """A real DICOM sample from pydicom-data.

    ``chest_xray``: RG1 PA chest CR (1955x1841, MONOCHROME1 inverted; the file's PixelSpacing is
    0, so spacing is unknown and set to 1.0); ``ct``: 693 head CT slice (512x512, 0.479 mm, 5 mm
    thick, HU); ``mr``: MR2 shoulder spin echo (1024x1024, 0.195 mm); ``mr_lesion``: Siemens
    liver MR (484x484, 0.723 mm) with the lesion marking in ``meta["overlay"]``.
    """
    _check_kind(kind, _DICOM_FILES)
    vol = read_dicom(locate("dicom_samples") / _DICOM_FILES[kind])
    vol.meta["kind"] = kind
    return vol


# ------------------------------------------------------------------------------------------- dipy
_DIPY_FILES = {"b0": "aniso_vox.nii.gz", "t1_slice": "t1_coronal_slice.npy",
               "reg_c": "C.npy", "reg_o": "circle.npy"}


def load_dipy_sample(kind: str = "b0") -> Volume:
    """A sample shipped inside the dipy wheel (no fetcher, no network).

    ``b0``: ``aniso_vox`` b0 volume, int16 58x58x24 with 4x4x5 mm voxels and its affine;
    ``t1_slice``: coronal T1 slice 256x256 in [0, 1] (no spacing recorded: 1.0);
    ``reg_c``/``reg_o``: dipy's 2D SyN toy images (C shape and circle, 256x256).
    """
    _check_kind(kind, _DIPY_FILES)
    path = locate("dipy_samples") / _DIPY_FILES[kind]
    if kind == "b0":
        vol = read_nifti(path, dtype=np.float32)
    else:
        try:
            array = np.load(path, allow_pickle=False).astype(np.float32)
        except Exception as exc:
            raise CorruptFileError(
                f"{path}: cannot read .npy ({type(exc).__name__}: {exc})") from exc
        vol = Volume(array, (1.0, 1.0), None, {"path": str(path), "spacing_known": False})
    vol.meta["kind"] = kind
    return vol


# --------------------------------------------------------------------------------------- phantoms
def shepp_logan(n: int = 256) -> np.ndarray:
    """Modified (high-contrast) Shepp-Logan phantom, float32 (n, n) in [0, 1] (phantominator)."""
    from phantominator import shepp_logan as _sl

    validate.integer("n", n, min=2)
    return np.asarray(_sl(int(n)), dtype=np.float32)


def kspace_phantom(n: int = 256, ncoils: int = 1) -> np.ndarray:
    """Cartesian k-space of the modified Shepp-Logan phantom, complex64.

    ``ncoils == 1``: (n, n) samples of the analytic Fourier transform of the ellipses
    (phantominator), centred (DC at ``[n // 2, n // 2]``) and scaled so that
    ``fftshift(ifft2(ifftshift(k)))`` ~ :func:`shepp_logan` (n) on the same pixel grid, up to
    Gibbs ringing (no inverse crime: the data are not an FFT of the pixel image).
    ``ncoils > 1``: (ncoils, n, n), the centred FFT of :func:`coil_maps` times the band-limited
    image from the analytic k-space (so the data match those maps exactly).
    """
    from phantominator import kspace_shepp_logan

    validate.integer("n", n, min=2)
    validate.positive_int("ncoils", ncoils)
    # shepp_logan(n) samples [-1, 1] at n points: dx = 2/(n-1), centred half a pixel off the FFT
    # grid; the phase ramp moves the analytic object onto that grid
    dx = 2.0 / (n - 1)
    dk = 1.0 / (n * dx)
    k1 = (np.arange(n) - n // 2) * dk
    kx, ky = np.meshgrid(k1, k1, indexing="xy")
    k = kspace_shepp_logan(kx.ravel(), ky.ravel()).reshape(n, n)
    k = k * (n * dk) ** 2 * np.exp(1j * np.pi * (kx + ky) * dx)
    if ncoils == 1:
        return k.astype(np.complex64)
    image = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k)))
    coils = coil_maps(n, ncoils) * image
    ks = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(coils, axes=(-2, -1))), axes=(-2, -1))
    return ks.astype(np.complex64)


def coil_maps(n: int = 256, ncoils: int = 8) -> np.ndarray:
    """Simulated birdcage coil sensitivities (ncoils, n, n) complex64, sum of squares 1
    (``sigpy.mri.birdcage_maps``)."""
    import sigpy.mri

    validate.integer("n", n, min=2)
    validate.positive_int("ncoils", ncoils)
    return sigpy.mri.birdcage_maps((int(ncoils), int(n), int(n))).astype(np.complex64)


def poisson_mask(n: int = 256, accel: float = 4.0, seed: int = 0) -> np.ndarray:
    """Variable-density Poisson-disc undersampling mask (n, n) bool (``sigpy.mri.poisson``)."""
    import sigpy.mri

    validate.integer("n", n, min=2)
    validate.in_range("accel", accel, 1, n * n)  # below 1 there is nothing to undersample
    mask = sigpy.mri.poisson((int(n), int(n)), accel, seed=seed, dtype=np.float32)
    return np.asarray(mask) > 0
