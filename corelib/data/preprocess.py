"""Preprocessing steps of the survey's pipeline (Fig. 1): resample, normalise, window, crop, strip.

Each function takes a :class:`~corelib.data.io.Volume` or a plain array and returns the same kind,
keeping spacing and affine consistent. Resampling uses scipy's spline interpolation; cropping
follows MONAI's ``CropForeground`` semantics (bounding box of the mask plus a margin).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from corelib import validate
from corelib.data.io import Volume

__all__ = [
    "resample_to_spacing",
    "normalize_intensity",
    "window_level",
    "crop_to_mask",
    "apply_mask",
    "bounding_box",
]


def _check_finite(array: np.ndarray, what: str) -> None:
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contains NaN or infinite values")


def resample_to_spacing(vol: Volume, spacing: float | Sequence[float], order: int = 1) -> Volume:
    """Resample ``vol`` to the given voxel spacing (mm); ``order`` 0 for labels, 1 linear, 3 cubic.

    The affine's voxel axes are rescaled so world coordinates of voxel centres stay consistent
    (the first voxel keeps its position).
    """
    ndim = vol.array.ndim
    validate.sizes("spacing", spacing, ndim)  # one positive finite number or one per axis
    validate.sizes("vol.spacing", vol.spacing, ndim)  # a zero or NaN input spacing gives a wrong zoom
    validate.integer("order", order, min=0, max=5)
    new_spacing = (float(spacing),) * ndim if np.isscalar(spacing) else tuple(map(float, spacing))
    if len(new_spacing) != ndim:
        raise ValueError(f"spacing has {len(new_spacing)} values for a {ndim}D volume")
    if min(new_spacing) <= 0:
        raise ValueError(f"spacing must be positive, got {new_spacing}")
    _check_finite(np.asarray(vol.array, dtype=np.float64), "volume")
    zoom = np.array(vol.spacing, dtype=float) / np.array(new_spacing)
    out_shape = np.maximum(1, np.round(np.array(vol.array.shape) * zoom)).astype(int)
    exact_zoom = out_shape / np.array(vol.array.shape)
    src = vol.array if order == 0 else vol.array.astype(np.float32)
    array = ndimage.zoom(src, exact_zoom, order=order, mode="nearest", grid_mode=False)
    affine = None
    if vol.affine is not None and vol.affine.shape == (ndim + 1, ndim + 1):
        affine = vol.affine.copy()
        affine[:ndim, :ndim] = vol.affine[:ndim, :ndim] / exact_zoom[None, :]
    real_spacing = tuple(float(s) for s in np.array(vol.spacing) / exact_zoom)
    return Volume(array, real_spacing, affine, dict(vol.meta, resampled_from=vol.spacing))


def normalize_intensity(
    array: np.ndarray,
    method: str = "zscore",
    mask: np.ndarray | None = None,
    percentiles: tuple[float, float] = (0.5, 99.5),
) -> np.ndarray:
    """Normalise intensities, with statistics taken inside ``mask`` when given.

    ``zscore``: (x - mean) / std. ``minmax``: to [0, 1]. ``percentile``: clip to the given
    percentiles, then to [0, 1] (robust to a few bright voxels; the usual choice for MRI).
    """
    validate.array("array", array)  # numeric, real, non-empty
    lo_p, hi_p = validate.ordered("percentiles", *validate.sizes("percentiles", percentiles, 2, allow_zero=True))
    validate.in_range("percentiles[1]", hi_p, 0, 100)
    x = np.asarray(array, dtype=np.float32)
    _check_finite(x, "image")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != x.shape:
            raise ValueError(f"mask shape {mask.shape} differs from image shape {x.shape}")
        if not mask.any():
            raise ValueError("mask is empty: no voxels to take statistics from")
    values = x[mask] if mask is not None else x.ravel()
    if method == "zscore":
        std = values.std()
        return (x - values.mean()) / (std if std > 0 else 1.0)
    if method == "minmax":
        lo, hi = values.min(), values.max()
    elif method == "percentile":
        lo, hi = np.percentile(values, percentiles)
        x = np.clip(x, lo, hi)
    else:
        raise ValueError(f"unknown method {method!r}; use 'zscore', 'minmax' or 'percentile'")
    return (x - lo) / (hi - lo if hi > lo else 1.0)


def window_level(hu: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map CT values in HU through a window (centre, width) to [0, 1], clipping outside."""
    validate.finite("center", center)
    validate.finite("width", width)
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    validate.array("hu", hu)
    lo = center - width / 2.0
    return np.clip((np.asarray(hu, dtype=np.float32) - lo) / width, 0.0, 1.0)


def bounding_box(mask: np.ndarray, margin: int | Sequence[int] = 0) -> tuple[slice, ...]:
    """Slices of the smallest box holding every true voxel of ``mask``, grown by ``margin``."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError("mask is empty: nothing to crop to")
    validate.int_sizes("margin", margin, mask.ndim, min=0)  # a 2-tuple for a 3D mask would skip an axis
    margins = [margin] * mask.ndim if np.isscalar(margin) else list(margin)
    box = []
    for axis, m in enumerate(margins):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        box.append(slice(max(0, idx[0] - m), min(mask.shape[axis], idx[-1] + 1 + m)))
    return tuple(box)


def crop_to_mask(vol: Volume, mask: np.ndarray, margin: int | Sequence[int] = 0) -> Volume:
    """Crop ``vol`` to the bounding box of ``mask`` (plus margin); the affine origin moves with it."""
    if np.shape(mask) != vol.shape:
        raise ValueError(f"mask shape {np.shape(mask)} differs from volume shape {vol.shape}")
    box = bounding_box(mask, margin)
    affine = None
    if vol.affine is not None and vol.affine.shape == (len(box) + 1, len(box) + 1):
        affine = vol.affine.copy()
        affine[:, -1] = vol.affine @ np.array([s.start for s in box] + [1.0])
    return Volume(vol.array[box].copy(), vol.spacing, affine, dict(vol.meta, crop=box))


def apply_mask(vol: Volume, mask: np.ndarray, background: float = 0.0) -> Volume:
    """Set voxels outside ``mask`` to ``background`` (skull stripping with a brain mask)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != vol.shape:
        raise ValueError(f"mask shape {mask.shape} differs from volume shape {vol.shape}")
    validate.number("background", background)
    array = np.where(mask, vol.array, np.asarray(background, dtype=vol.array.dtype))
    return Volume(array, vol.spacing, vol.affine, dict(vol.meta, masked=True))
