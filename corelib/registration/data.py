"""Registration data: MSD hippocampus volumes (or 2D slices) on one grid, and subject pairs."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from corelib import validate

__all__ = ["pad_or_crop", "hippocampus_pairs", "make_pairs", "hippocampus_experiment"]


def pad_or_crop(a: np.ndarray, shape: Sequence[int], value: float = 0.0) -> np.ndarray:
    """Centre-pad (with ``value``) or centre-crop ``a`` to ``shape``.

    Kept by hand: MONAI's ``ResizeWithPadOrCrop`` pads the same way but crops one voxel later
    when an even size is cut to an odd one (its centre is ``n // 2``), which would move the
    registration images."""
    validate.int_sizes("shape", tuple(shape), len(shape), min=1)
    a = np.asarray(a)
    if a.ndim != len(shape):
        raise ValueError(f"array has {a.ndim} dims, shape {tuple(shape)} has {len(shape)}")
    out = np.full(tuple(shape), value, dtype=a.dtype)
    src, dst = [], []
    for n, m in zip(a.shape, shape):
        if n >= m:
            o = (n - m) // 2
            src.append(slice(o, o + m)); dst.append(slice(0, m))
        else:
            o = (m - n) // 2
            src.append(slice(0, n)); dst.append(slice(o, o + n))
    out[tuple(dst)] = a[tuple(src)]
    return out


def _normalise(x: np.ndarray) -> np.ndarray:
    """Percentile scaling to [0, 1] (1st-99.5th) with the percentiles taken in the stored dtype.

    ``corelib.data.normalize_intensity(x, "percentile", percentiles=(1, 99.5))`` does the same
    in float32 from the start; on the 260 MSD hippocampus volumes the two differ by up to 3e-8,
    which would move every registration number of chapters 1.2 and 3.1 by float noise: kept.
    """
    lo, hi = np.percentile(x, [1, 99.5])
    return np.clip((x - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32)


def hippocampus_pairs(cases: int | Sequence[str] | None = None, dim: int = 2,
                      shape: Sequence[int] = (48, 40), axis: int = 2) -> dict[str, Any]:
    """MSD Task04 hippocampus images and labels on one grid, ready to pair between subjects.

    Each volume is normalised to [0, 1] (1st-99.5th percentile; the set mixes uint8 and float
    storage). ``dim=3``: whole volumes padded/cropped to ``shape``. ``dim=2``: one slice per
    subject, across ``axis`` through the centroid of the hippocampus label. Returns
    ``{"images": (N, *shape) float32, "labels": (N, *shape) uint8, "ids": [...]}``.
    """
    from corelib.data import load_hippocampus

    if dim not in (2, 3) or len(shape) != dim:
        raise ValueError(f"dim must be 2 or 3 with a shape of that length, got dim={dim}, shape={shape}")
    validate.int_sizes("shape", tuple(shape), dim, min=1)
    validate.axis("axis", axis, 3)
    imgs, labs, ids = [], [], []
    for c in load_hippocampus(cases):
        x, y = _normalise(c.image.array), c.label.array
        if dim == 2:
            k = int(round(np.argwhere(y > 0)[:, axis].mean()))
            x, y = np.take(x, k, axis=axis), np.take(y, k, axis=axis)
        imgs.append(pad_or_crop(x, shape)); labs.append(pad_or_crop(y, shape)); ids.append(c.case_id)
    return {"images": np.stack(imgs), "labels": np.stack(labs).astype(np.uint8), "ids": ids}


def make_pairs(indices: Sequence[int], n_pairs: int, seed: int = 0) -> np.ndarray:
    """``n_pairs`` random (moving, fixed) index pairs of distinct subjects from ``indices``."""
    validate.distinct("indices", indices)  # a repeated id would pair a subject with itself
    validate.positive_int("n_pairs", n_pairs)
    idx = np.asarray(indices)
    if len(idx) < 2:
        raise ValueError("need at least two subjects to form pairs")
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n_pairs:
        a, b = rng.choice(idx, 2, replace=False)
        out.append((a, b))
    return np.array(out)


def hippocampus_experiment(dim: int, shape: Sequence[int], n_test: int, n_val: int,
                           fractions: tuple[float, float, float] = (0.77, 0.08, 0.15),
                           seed: int = 0) -> dict[str, Any]:
    """The chapter's shared setup: images on one grid, a subject split, held-out pairs.

    Subjects are split before pairing (``corelib.data.split_by_subject``), so no test subject is
    seen in training. Returns :func:`hippocampus_pairs`' dict plus ``index`` (split -> image
    indices), ``test_pairs`` and ``val_pairs`` ((moving, fixed) index pairs).
    """
    from corelib.data import split_by_subject

    validate.positive_int("n_test", n_test)
    validate.positive_int("n_val", n_val)
    d = hippocampus_pairs(None, dim=dim, shape=shape, axis=0)
    split = split_by_subject(d["ids"], fractions, seed=seed)
    index = {s: np.array([d["ids"].index(i) for i in split[s]]) for s in split}
    return dict(d, index=index, test_pairs=make_pairs(index["test"], n_test, seed=1),
                val_pairs=make_pairs(index["val"], n_val, seed=2))
