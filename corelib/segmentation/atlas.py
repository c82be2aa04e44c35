"""One labelled atlas -> a different brain: label merging, resampling by affines, random deformations,
intensity augmentation and the classical atlas-based segmentation baseline.

Atlas-based segmentation (register a labelled atlas to the target, carry its labels along; the
single-atlas case of multi-atlas segmentation, reviewed by Iglesias & Sabuncu, Med Image Anal 24,
2015) is the classical method a CNN trained on the same one atlas has to beat. The deformations and
intensity changes are MONAI transforms (``Rand3DElasticd``, ``RandBiasField``, ``RandAdjustContrast``,
``RandGaussianSmooth``, ``RandGaussianNoise``), seeded; registration is SimpleITK through
:mod:`corelib.registration.classical`.

Displacements follow the chapter's convention: ``u`` has shape ``(3, *shape)`` in voxels along the
array axes and ``warped(x) = moving(x + u(x))``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Collection, Mapping, Sequence

import numpy as np
from scipy import ndimage

from corelib import validate
from corelib.registration import classical

__all__ = [
    "DEEP_GREY",
    "AtlasSegmentation",
    "atlas_segment",
    "augment_intensity",
    "deform",
    "merge_labels",
    "resample_to_grid",
    "structure_box",
]

#: Six deep grey-matter structures of AAL (Tzourio-Mazoyer et al. 2002), left and right merged.
DEEP_GREY: dict[str, list[int]] = {
    "caudate": [71, 72], "putamen": [73, 74], "pallidum": [75, 76],
    "thalamus": [77, 78], "hippocampus": [37, 38], "amygdala": [41, 42],
}

ATLAS_KINDS = ("none", "affine", "affine+demons")


def _volume(a: Any, name: str, dtype: Any = None) -> np.ndarray:
    arr = np.asarray(getattr(a, "array", a))
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if arr.ndim != 3:
        raise ValueError(f"{name} must be a 3D volume, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _labels(a: Any, name: str) -> np.ndarray:
    arr = _volume(a, name)
    if arr.dtype.kind not in "iub":
        if arr.dtype.kind == "f" and np.array_equal(arr, np.round(arr)):
            return arr.astype(np.int64)
        raise ValueError(f"{name} must hold integer labels, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def merge_labels(aal: Any, groups: Mapping[str, Sequence[int]],
                 known: Collection[int] | None = None) -> np.ndarray:
    """Map atlas values to classes ``1..K`` in the order of ``groups`` (``{name: [values]}``), all
    other voxels to 0: e.g. ``merge_labels(aal, DEEP_GREY, known=aal_labels())`` merges left and right.

    ``known``: the atlas's valid values (e.g. the keys of ``corelib.data.aal_labels()``); a group value
    not among them, a value in two groups, or an empty group raises ``ValueError``.
    """
    lab = _labels(aal, "aal")
    if not groups:
        raise ValueError("groups is empty: give {class name: [atlas values]}")
    seen: dict[int, str] = {}
    out = np.zeros(lab.shape, np.int64)
    for k, (name, values) in enumerate(groups.items(), start=1):
        values = [int(v) for v in values]
        if not values:
            raise ValueError(f"group {name!r} has no atlas values")
        for v in values:
            if v <= 0:
                raise ValueError(f"group {name!r}: atlas value {v} is not a structure (0 is background)")
            if known is not None and v not in known:
                raise ValueError(f"group {name!r}: {v} is not a value of this atlas")
            if v in seen:
                raise ValueError(f"atlas value {v} is in both {seen[v]!r} and {name!r}")
            seen[v] = name
        out[np.isin(lab, values)] = k
    return out


def resample_to_grid(array: Any, affine: Any, ref_affine: Any, ref_shape: Sequence[int],
                     order: int = 1) -> np.ndarray:
    """Resample a volume onto another voxel grid through the world (e.g. MNI mm) coordinates of both.

    ``affine`` and ``ref_affine`` map voxel indices to world coordinates (4 x 4, as in NIfTI).
    ``order`` 0 (nearest, for label maps: values are kept) or 1 (linear; when the target voxels are
    larger, the source is first smoothed with a Gaussian of sigma ``(ratio - 1) / 2`` voxels, the
    anti-aliasing rule of scikit-image's ``rescale``). Outside the source: 0.

    The resampling itself is nibabel's ``processing.resample_from_to`` (the same
    ``scipy.ndimage.affine_transform`` call the hand-written version made, bit for bit,
    ``tests/test_library_swaps.py``); the anti-aliasing blur before it is this function's own.
    """
    import nibabel as nib
    from nibabel.processing import resample_from_to

    a = _volume(array, "array")
    A, R = np.asarray(affine, float), np.asarray(ref_affine, float)
    if A.shape != (4, 4) or R.shape != (4, 4):
        raise ValueError(f"affines must be 4 x 4, got {A.shape} and {R.shape}")
    for name, M in (("affine", A), ("ref_affine", R)):
        validate.finite_array(name, M)
        if abs(np.linalg.det(M[:3, :3])) < 1e-12:
            raise ValueError(f"{name} is singular (a zero voxel size or collapsed axes): {M[:3, :3].tolist()}")
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (labels) or 1 (images), got {order!r}")
    shape = tuple(int(s) for s in ref_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"ref_shape must be three positive sizes, got {tuple(ref_shape)}")
    src = a
    if order == 1:
        m = np.linalg.inv(A) @ R                    # reference voxel -> source voxel
        ratio = np.linalg.norm(m[:3, :3], axis=1)   # source voxels per reference voxel, per source axis
        sigma = np.maximum(ratio - 1, 0) / 2
        src = a.astype(np.float32)
        if sigma.any():
            src = ndimage.gaussian_filter(src, sigma)
    # a plain SpatialImage: no NIfTI header, so any dtype (int64 labels too) passes unchanged
    out = resample_from_to(nib.spatialimages.SpatialImage(src, A), (shape, R), order=order,
                           mode="constant", cval=0.0)
    return np.asarray(out.dataobj)


def structure_box(mask: Any, margin: int = 8, multiple: int = 8) -> tuple[slice, ...]:
    """Box around the true voxels of ``mask``, grown by ``margin`` voxels and to a multiple of
    ``multiple`` per axis (centred), so 2D slices of it fit a U-Net without padding.

    The tight box is :func:`corelib.data.preprocess.bounding_box`; this adds the rounding and
    keeps the box inside the volume by shifting it rather than cutting it."""
    m = _volume(mask, "mask").astype(bool)
    if not m.any():
        raise ValueError("mask is empty: no structure to put a box around")
    validate.integer("margin", margin, min=0)
    validate.positive_int("multiple", multiple)
    if margin < 0 or multiple < 1:
        raise ValueError(f"margin must be >= 0 and multiple >= 1, got {margin} and {multiple}")
    from corelib.data.preprocess import bounding_box

    box = []
    for ax, (n, tight) in enumerate(zip(m.shape, bounding_box(m))):
        lo, hi = tight.start - margin, tight.stop + margin
        size = -(-(hi - lo) // multiple) * multiple
        if size > n:
            raise ValueError(f"a box of {size} voxels does not fit axis {ax} of length {n}")
        lo -= (size - (hi - lo)) // 2
        lo = min(max(lo, 0), n - size)
        box.append(slice(lo, lo + size))
    return tuple(box)


def deform(image: Any, labels: Any = None, *, seed: int, strength: float = 1.0, rotate_deg: float = 8.0,
           scale: float = 0.08, translate: float = 3.0, elastic_sigma: float = 6.0,
           elastic_magnitude: float = 200.0, return_displacement: bool = False) -> tuple[np.ndarray, ...]:
    """A seeded random affine (rotation, scaling, translation) plus smooth elastic deformation,
    applied to ``image`` (linear) and ``labels`` (nearest, so the label set is kept): MONAI
    ``Rand3DElasticd`` with ``mode=("bilinear", "nearest")``, one resampling for both parts.

    Ranges (each drawn uniformly in +-range, per axis): ``rotate_deg`` degrees, ``scale`` (fraction),
    ``translate`` voxels; elastic: uniform noise in [-1, 1] smoothed by a Gaussian of
    ``elastic_sigma`` voxels, times ``elastic_magnitude`` (MONAI's units; sigma 6 and magnitude 200
    move voxels by about 2 on average). ``strength`` scales every range (0 = identity). Outside the
    volume the border value is repeated, so crop a margin away afterwards.

    Returns ``(image, labels)`` (``labels`` None when not given), plus the displacement
    ``(3, *shape)`` in voxels when ``return_displacement`` (found by deforming the coordinate grids).
    """
    from monai.transforms import Rand3DElasticd

    validate.integer("seed", seed, min=0)
    for name, value in (("strength", strength), ("rotate_deg", rotate_deg), ("scale", scale),
                        ("translate", translate), ("elastic_magnitude", elastic_magnitude)):
        validate.nonnegative(name, value)  # NaN would pass the comparisons below
    validate.positive("elastic_sigma", elastic_sigma)
    img = _volume(image, "image", np.float32)
    lab = None if labels is None else _labels(labels, "labels")
    if lab is not None and lab.shape != img.shape:
        raise ValueError(f"labels {lab.shape} and image {img.shape} must have the same shape")
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength!r}")
    if elastic_sigma <= 0:
        raise ValueError(f"elastic_sigma must be positive, got {elastic_sigma!r}")
    s = float(strength)
    keys = ["image"] + (["label"] if lab is not None else []) + (["coords"] if return_displacement else [])
    modes = {"image": "bilinear", "label": "nearest", "coords": "bilinear"}
    t = Rand3DElasticd(keys=keys, sigma_range=(elastic_sigma, elastic_sigma),
                       magnitude_range=(s * elastic_magnitude, s * elastic_magnitude), prob=1.0,
                       rotate_range=[np.deg2rad(s * rotate_deg)] * 3, scale_range=[s * scale] * 3,
                       translate_range=[s * translate] * 3, mode=[modes[k] for k in keys],
                       padding_mode="border")
    t.set_random_state(seed=int(seed))
    item: dict[str, np.ndarray] = {"image": img[None]}
    if lab is not None:
        item["label"] = lab[None].astype(np.float32)
    if return_displacement:
        item["coords"] = np.indices(img.shape, dtype=np.float32)
    out = t(item)
    res: list[Any] = [np.asarray(out["image"])[0].astype(np.float32)]
    res.append(None if lab is None else np.rint(np.asarray(out["label"])[0]).astype(np.int64))
    if return_displacement:
        res.append(np.asarray(out["coords"]) - item["coords"])
    return tuple(res)


def augment_intensity(image: Any, *, seed: int, bias: float = 0.3, gamma: tuple[float, float] = (0.7, 1.5),
                      blur: float = 1.0, noise: float = 0.03, mask: Any = None) -> np.ndarray:
    """Seeded MR-like intensity changes, in this order: a smooth multiplicative bias field (MONAI
    ``RandBiasField``, coefficients in [0, ``bias``]), a gamma curve (``RandAdjustContrast``, gamma
    drawn in ``gamma``), Gaussian blur (``RandGaussianSmooth``, sigma in [0, ``blur``] voxels per axis)
    and Gaussian noise (``RandGaussianNoise``, std ``noise``). The image is scaled to [0, 1] for these
    and back to its range afterwards; voxels outside ``mask`` (if given) are set to the image minimum.
    ``bias=0, gamma=(1, 1), blur=0, noise=0`` is the identity.
    """
    from monai.transforms import RandAdjustContrast, RandBiasField, RandGaussianNoise, RandGaussianSmooth

    validate.integer("seed", seed, min=0)
    for name, value in (("bias", bias), ("blur", blur), ("noise", noise)):
        validate.nonnegative(name, value)  # NaN would pass the comparisons below
    if np.ndim(gamma) != 1 or len(gamma) != 2:
        raise ValueError(f"gamma must be (low, high), got {gamma!r}")
    validate.ordered("gamma", *gamma, strict=False)
    img = _volume(image, "image", np.float32)
    if bias < 0 or blur < 0 or noise < 0 or not (0 < gamma[0] <= gamma[1]):
        raise ValueError(f"need bias, blur, noise >= 0 and 0 < gamma[0] <= gamma[1]; got "
                         f"bias={bias}, gamma={gamma}, blur={blur}, noise={noise}")
    if mask is not None and np.shape(mask) != img.shape:
        raise ValueError(f"mask {np.shape(mask)} and image {img.shape} must have the same shape")
    lo, hi = float(img.min()), float(img.max())
    x = (img - lo) / (hi - lo if hi > lo else 1.0)
    rs = np.random.RandomState(int(seed))
    steps = []
    if bias > 0:
        steps.append(RandBiasField(degree=3, coeff_range=(0.0, bias), prob=1.0))
    if gamma != (1, 1):
        steps.append(RandAdjustContrast(gamma=gamma, prob=1.0))
    if blur > 0:
        steps.append(RandGaussianSmooth(sigma_x=(0.0, blur), sigma_y=(0.0, blur), sigma_z=(0.0, blur), prob=1.0))
    if noise > 0:
        steps.append(RandGaussianNoise(std=noise, prob=1.0))
    y = x[None]
    for step in steps:
        step.set_random_state(state=rs)
        y = step(y)
    out = np.asarray(y)[0].astype(np.float32) * (hi - lo) + lo
    if mask is not None:
        out[~np.asarray(mask, bool)] = lo
    return out


@dataclass
class AtlasSegmentation:
    """Labels carried from the atlas onto the target, the registration (None for ``kind="none"``), time."""

    labels: np.ndarray
    seconds: float
    registration: classical.RegistrationResult | None = None


def atlas_segment(atlas_image: Any, atlas_labels: Any, target_image: Any, kind: str = "affine",
                  metric: str = "ncc", **demons_kw: Any) -> AtlasSegmentation:
    """Single-atlas segmentation: register ``atlas_image`` (moving) to ``target_image`` (fixed),
    then warp ``atlas_labels`` with the same displacement, nearest neighbour.

    ``kind``: ``"none"`` (labels as they are, at the same voxel coordinates), ``"affine"``
    (SimpleITK multi-resolution affine, ``metric`` "ncc", "mse" or "mattes") or ``"affine+demons"``
    (then diffeomorphic demons from the affine field; ``demons_kw`` go to
    :func:`corelib.registration.classical.demons_register`). All three volumes share one shape.
    """
    if kind not in ATLAS_KINDS:
        raise ValueError(f"kind must be one of {ATLAS_KINDS}, got {kind!r}")
    metric = validate.one_of("metric", metric, ("mse", "ncc", "mattes"), case_insensitive=True)
    img = _volume(atlas_image, "atlas_image", np.float32)
    lab = _labels(atlas_labels, "atlas_labels")
    tgt = _volume(target_image, "target_image", np.float32)
    if not (img.shape == lab.shape == tgt.shape):
        raise ValueError(f"atlas image {img.shape}, atlas labels {lab.shape} and target {tgt.shape} "
                         "must have the same shape (resample or crop first)")
    t0 = time.perf_counter()
    if kind == "none":
        return AtlasSegmentation(lab.copy(), time.perf_counter() - t0)
    reg = classical.affine_register(tgt, img, kind="affine", metric=metric)
    if kind == "affine+demons":
        reg = classical.demons_register(tgt, img, initial=reg.displacement, **demons_kw)
    out = classical.warp(lab, reg.displacement, order=0)
    return AtlasSegmentation(out.astype(np.int64), time.perf_counter() - t0, reg)
