"""Volumes in, label maps out: padding, slice/crop tensors, whole-volume inference, Table-2 metrics.

Networks train on 2D slices or 3D crops; evaluation is always on whole volumes in their original
size: 2D networks slice by slice along one axis, 2.5D networks on the three orthogonal planes with
the class probabilities averaged (:func:`predict_triplanar`), 3D networks with MONAI's
``sliding_window_inference``. Metrics are MONAI's through :mod:`corelib.metrics`, in mm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from corelib import metrics, validate

__all__ = [
    "PaddedVolumes",
    "evaluate",
    "keep_largest_components",
    "pad_cases",
    "pad_volumes",
    "predict_2d",
    "predict_3d",
    "predict_sequence",
    "predict_triplanar",
    "random_crops",
    "segment",
    "slice_stack",
    "summary_row",
    "val_dice",
]


@dataclass
class PaddedVolumes:
    """Volumes centre-padded to one ``shape``: images ``(N, *shape)`` float32, labels int64,
    and for each the slices that cut the original volume back out."""

    images: np.ndarray
    labels: np.ndarray | None
    crops: list[tuple[slice, ...]]
    ids: list[str]

    def original(self, i: int, array: np.ndarray) -> np.ndarray:
        """Cut volume ``i``'s original extent out of a padded array (last 3 axes)."""
        return array[(..., *self.crops[i])]


def _zscore(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float32)
    sd = float(a.std())
    return (a - float(a.mean())) / (sd if sd > 0 else 1.0)


def pad_volumes(images: Sequence[np.ndarray], labels: Sequence[np.ndarray] | None,
                shape: Sequence[int], ids: Sequence[str] | None = None) -> PaddedVolumes:
    """Z-score each image (per volume: stored ranges differ), centre-pad images (with 0, the mean)
    and labels (with background) to ``shape``. A volume larger than ``shape`` raises ``ValueError``."""
    validate.int_sizes("shape", tuple(shape), len(shape), min=1)
    if ids is not None:
        validate.same_length(("images", "ids"), images, ids)
    shape = tuple(int(s) for s in shape)
    n = len(images)
    if n == 0:
        raise ValueError("no volumes given")
    if labels is not None and len(labels) != n:
        raise ValueError(f"{n} images but {len(labels)} label maps")
    imgs = np.zeros((n, *shape), np.float32)
    labs = np.zeros((n, *shape), np.int64) if labels is not None else None
    crops = []
    for i in range(n):
        a = np.asarray(getattr(images[i], "array", images[i]))
        if a.ndim != len(shape):
            raise ValueError(f"volume {i} has shape {a.shape}; expected {len(shape)} dimensions")
        if any(s > t for s, t in zip(a.shape, shape)):
            raise ValueError(f"volume {i} of shape {a.shape} does not fit in {shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"volume {i} contains NaN or infinite values")
        sl = tuple(slice((t - s) // 2, (t - s) // 2 + s) for s, t in zip(a.shape, shape))
        imgs[(i, *sl)] = _zscore(a)
        if labs is not None:
            b = np.asarray(getattr(labels[i], "array", labels[i]))
            if b.shape != a.shape:
                raise ValueError(f"label {i} has shape {b.shape} but image {i} has {a.shape}")
            labs[(i, *sl)] = b
        crops.append(sl)
    return PaddedVolumes(imgs, labs, crops, [str(x) for x in (ids or range(n))])


def _pad_plane(x: torch.Tensor, size: Sequence[int] | None) -> tuple[torch.Tensor, tuple[slice, ...]]:
    """Centre-pad the last two axes of ``x`` to ``size``."""
    h, w = x.shape[-2:]
    if size is None:
        return x, (slice(0, h), slice(0, w))
    ph, pw = size[0] - h, size[1] - w
    if ph < 0 or pw < 0:
        raise ValueError(f"slices of {h}x{w} do not fit in plane size {tuple(size)}")
    x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
    return x, (slice(ph // 2, ph // 2 + h), slice(pw // 2, pw // 2 + w))


def slice_stack(pv: PaddedVolumes, axes: Sequence[int] = (2,), plane: Sequence[int] | None = None,
                drop_empty: float = 0.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """All 2D slices of the volumes along ``axes``: ``x (N, 1, H, W)`` float, ``y (N, H, W)`` int64.

    Slices of several axes need a common ``plane`` size (centre-padded). ``drop_empty`` is the
    fraction of label-free slices to leave out (seeded), which lowers the background share.
    """
    if pv.labels is None:
        raise ValueError("slice_stack needs labels")
    for ax in validate.nonempty("axes", axes):
        validate.integer("axes", ax, min=0, max=pv.images.ndim - 2)
    if plane is not None:
        validate.int_sizes("plane", tuple(plane), 2, min=1)
    validate.in_range("drop_empty", drop_empty, 0, 1)
    xs, ys = [], []
    for ax in axes:
        x = torch.from_numpy(np.moveaxis(pv.images, ax + 1, 1)).flatten(0, 1)
        y = torch.from_numpy(np.moveaxis(pv.labels, ax + 1, 1)).flatten(0, 1)
        x, _ = _pad_plane(x, plane)
        y, _ = _pad_plane(y, plane)
        xs.append(x)
        ys.append(y)
    x, y = torch.cat(xs)[:, None], torch.cat(ys)
    if drop_empty > 0:
        empty = (y.flatten(1) == 0).all(1)
        g = torch.Generator().manual_seed(seed)
        drop = empty & (torch.rand(len(y), generator=g) < drop_empty)
        x, y = x[~drop], y[~drop]
    return x.contiguous(), y.contiguous()


def random_crops(pv: PaddedVolumes, size: Sequence[int], n: int, seed: int = 0,
                 fg_fraction: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random 3D crops ``(n, 1, *size)``: a ``fg_fraction`` of them centred near a labelled
    voxel (as MONAI's ``RandCropByPosNegLabel``), the rest anywhere. Seeded.

    Kept by hand rather than calling ``RandCropByPosNegLabel``: MONAI crops one volume at a time
    from its own random stream and centres its negative crops on background voxels (here: anywhere),
    so the swap would change every training crop and with it the 3.2b/3.2c numbers.
    """
    if pv.labels is None:
        raise ValueError("random_crops needs labels")
    validate.int_sizes("size", size, pv.images.ndim - 1, min=1)  # one size per volume axis
    validate.positive_int("n", n)
    validate.in_range("fg_fraction", fg_fraction, 0, 1)
    size = tuple(int(s) for s in size)
    shape = pv.images.shape[1:]
    if any(s > t for s, t in zip(size, shape)):
        raise ValueError(f"crop {size} larger than the volumes {shape}")
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n):
        i = int(rng.integers(len(pv.images)))
        if rng.random() < fg_fraction and pv.labels[i].any():
            fg = np.argwhere(pv.labels[i] > 0)
            c = fg[rng.integers(len(fg))]
            lo = [int(np.clip(ci - s // 2, 0, t - s)) for ci, s, t in zip(c, size, shape)]
        else:
            lo = [int(rng.integers(0, t - s + 1)) for s, t in zip(size, shape)]
        sl = tuple(slice(a, a + s) for a, s in zip(lo, size))
        xs.append(pv.images[(i, *sl)])
        ys.append(pv.labels[(i, *sl)])
    return torch.from_numpy(np.stack(xs))[:, None], torch.from_numpy(np.stack(ys))


def _device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@torch.no_grad()
def predict_2d(model: nn.Module, volume: np.ndarray | torch.Tensor, axis: int = 2,
               plane: Sequence[int] | None = None, batch: int = 64) -> torch.Tensor:
    """Class probabilities ``(C, *volume.shape)`` of a 2D network applied slice by slice along ``axis``.

    MONAI's ``SliceInferer`` does the slicing: one window per slice (``roi_size`` = the slice, or
    ``plane``, to which slices are centre-padded with 0), ``batch`` slices per forward pass, softmax
    per batch, cut back to the slice size. Identical, bit for bit, to the hand-written loop it
    replaced (``tests/test_library_swaps.py``).
    """
    from monai.inferers import SliceInferer

    axis = validate.axis("axis", axis, 3)  # a negative axis would be shifted by the channel axis
    validate.positive_int("batch", batch)
    model.eval()
    v = torch.as_tensor(np.asarray(volume), dtype=torch.float32)
    if v.ndim != 3:
        raise ValueError(f"predict_2d needs a 3D volume, got shape {tuple(v.shape)}")
    size = [s for i, s in enumerate(v.shape) if i != axis]
    if plane is not None:
        plane = [int(p) for p in plane]
        if len(plane) != 2 or plane[0] < size[0] or plane[1] < size[1]:
            raise ValueError(f"slices of {size[0]}x{size[1]} do not fit in plane size {tuple(plane)}")
    dev = _device(model)
    inferer = SliceInferer(spatial_dim=axis, roi_size=plane or size, sw_batch_size=batch, overlap=0.0,
                           mode="constant", padding_mode="constant", cval=0.0, sw_device=dev,
                           device=torch.device("cpu"), progress=False)
    probs = inferer(v[None, None], lambda x: torch.softmax(model(x).float(), 1))
    return probs.as_subclass(torch.Tensor)[0].cpu()


def predict_triplanar(model: nn.Module, volume: np.ndarray | torch.Tensor,
                      plane: Sequence[int] | None = None, batch: int = 64) -> torch.Tensor:
    """2.5D (Prasoon et al. [77]): one 2D network on the three orthogonal planes, probabilities averaged."""
    return sum(predict_2d(model, volume, ax, plane, batch) for ax in range(3)) / 3


@torch.no_grad()
def predict_sequence(model: nn.Module, volume: np.ndarray | torch.Tensor, axis: int = 0) -> torch.Tensor:
    """Class probabilities ``(C, *volume.shape)`` of a slice-sequence network (input ``(1, 1, S, H, W)``,
    e.g. :class:`~corelib.segmentation.nets.SliceSequenceUNet`) given every slice along ``axis`` as
    one sequence."""
    axis = validate.axis("axis", axis, 3)
    model.eval()
    v = torch.as_tensor(np.asarray(volume), dtype=torch.float32)
    if v.ndim != 3:
        raise ValueError(f"predict_sequence needs a 3D volume, got shape {tuple(v.shape)}")
    seq = v.movedim(axis, 0)[None, None].to(_device(model))
    probs = torch.softmax(model(seq).float(), 1)[0].cpu()     # (C, S, h, w)
    return probs.movedim(1, axis + 1)


@torch.no_grad()
def predict_3d(model: nn.Module, volume: np.ndarray | torch.Tensor, roi_size: Sequence[int],
               overlap: float = 0.25, sw_batch_size: int = 4) -> torch.Tensor:
    """Class probabilities ``(C, *volume.shape)`` of a 3D network by MONAI ``sliding_window_inference``
    (Gaussian blending of overlapping windows of ``roi_size``)."""
    from monai.inferers import sliding_window_inference

    validate.int_sizes("roi_size", roi_size, 3, min=1)
    validate.in_range("overlap", overlap, 0, 1, hi_open=True)
    validate.positive_int("sw_batch_size", sw_batch_size)
    model.eval()
    v = torch.as_tensor(np.asarray(volume), dtype=torch.float32)
    if v.ndim != 3:
        raise ValueError(f"predict_3d needs a 3D volume, got shape {tuple(v.shape)}")
    logits = sliding_window_inference(v[None, None].to(_device(model)), tuple(roi_size), sw_batch_size,
                                      model, overlap=overlap, mode="gaussian")
    return torch.softmax(logits.float(), 1)[0].cpu()


def keep_largest_components(labels: np.ndarray, n: int = 1, classes: Sequence[int] | None = None) -> np.ndarray:
    """Keep the ``n`` largest connected pieces (26-connectivity in 3D, 8 in 2D) of each class of a
    label map and set the rest to background: the usual clean-up of slice-wise predictions
    (nnU-Net applies it when validation shows it helps). ``classes``: those to clean (default: all
    non-zero values). ``n=2`` suits a class that merges a left and a right structure.

    MONAI's ``KeepLargestConnectedComponent`` (``independent=True``, full connectivity) does the
    work, on a copy: it writes into the array it is given, so ``labels`` itself would be cleaned in
    place. Pieces of equal size tied at the ``n``-th place are broken by MONAI's rule (the
    hand-written version it replaced could keep another of the tied pieces; it agrees otherwise,
    ``tests/test_library_swaps.py``).
    """
    from monai.transforms import KeepLargestConnectedComponent

    lab = np.asarray(labels)
    if lab.dtype.kind not in "iub":
        raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
    validate.positive_int("n", n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    applied = [c for c in (np.unique(lab[lab != 0]) if classes is None else classes)]
    if not applied:
        return lab.copy()
    keep = KeepLargestConnectedComponent(applied_labels=[int(c) for c in applied], is_onehot=False,
                                         independent=True, connectivity=None, num_components=n)
    out = keep(torch.from_numpy(lab.astype(np.int64))[None])   # a copy: MONAI edits its input in place
    return out.as_subclass(torch.Tensor)[0].numpy().astype(lab.dtype)


def segment(predict: Callable[[np.ndarray], torch.Tensor], pv: PaddedVolumes,
            indices: Sequence[int] | None = None) -> list[np.ndarray]:
    """Label maps (argmax of ``predict(padded_volume)``) cut back to each volume's original extent."""
    if indices is not None:
        for i in indices:
            validate.integer("indices", i, min=0, max=len(pv.images) - 1)
    idx = range(len(pv.images)) if indices is None else indices
    return [pv.original(i, predict(pv.images[i]).argmax(0).numpy().astype(np.int64)) for i in idx]


def evaluate(preds: Sequence[np.ndarray], targets: Sequence[np.ndarray], labels: Sequence[int] = (1, 2),
             spacing: float | Sequence[float] = 1.0, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-volume Dice, HD95 and ASD (mm) for each class: one row per volume.

    A class predicted empty while present (or the reverse) has an undefined surface distance; it is
    recorded as the volume's diagonal in mm (the largest distance possible) instead of ``inf``, and
    counted in the column ``empty``. A class absent from both gives Dice NaN (skipped by means).
    """
    if len(preds) != len(targets):
        raise ValueError(f"{len(preds)} predictions but {len(targets)} targets")
    validate.distinct("labels", validate.nonempty("labels", labels))
    if ids is not None:
        validate.same_length(("preds", "ids"), preds, ids)
    rows = []
    for k, (p, t) in enumerate(zip(preds, targets)):
        t = np.asarray(getattr(t, "array", t))
        sp = np.broadcast_to(np.asarray(spacing, float), (t.ndim,))
        diag = float(np.sqrt(np.sum((np.array(t.shape) * sp) ** 2)))
        d = metrics.dice_per_class(p, t, list(labels))
        row: dict[str, float | str] = {"id": ids[k] if ids is not None else str(k)}
        n_empty = 0
        for c in labels:
            dist = metrics.surface_distances(p == c, t == c, sp)
            h, a = dist["hd95"], dist["asd"]
            if math.isinf(h):
                n_empty += 1
                h, a = diag, diag
            row.update({f"dice_{c}": d[c], f"hd95_{c}": h, f"asd_{c}": a})
        row["empty"] = n_empty
        rows.append(row)
    return pd.DataFrame(rows)


def summary_row(per_case: pd.DataFrame, labels: Sequence[int] = (1, 2),
                names: Sequence[str] | None = None, **extra: float | int | str) -> dict:
    """One Table-2 row: mean Dice per class and overall, mean HD95/ASD over classes, plus ``extra``
    (e.g. ``params=..., train_s=...``)."""
    missing = [c for c in labels if f"dice_{c}" not in per_case.columns]
    if missing:
        have = sorted(int(c[5:]) for c in per_case.columns if c.startswith("dice_") and c[5:].isdigit())
        raise ValueError(f"labels {missing} are not in the results table, which has labels {have}")
    if names is not None:
        validate.same_length(("names", "labels"), names, labels)
    names = list(names) if names is not None else [str(c) for c in labels]
    row: dict = {}
    for c, n in zip(labels, names):
        row[f"Dice {n}"] = float(per_case[f"dice_{c}"].mean())
    row["Dice mean"] = float(np.mean([row[f"Dice {n}"] for n in names]))
    row["HD95 mm"] = float(np.mean([per_case[f"hd95_{c}"].mean() for c in labels]))
    row["ASD mm"] = float(np.mean([per_case[f"asd_{c}"].mean() for c in labels]))
    row.update(extra)
    return row


def pad_cases(by_id: Mapping[str, object], ids: Sequence[str], shape: Sequence[int]) -> PaddedVolumes:
    """:func:`pad_volumes` for labelled cases looked up by id (objects with ``.image`` and ``.label``,
    e.g. :func:`corelib.data.load_hippocampus`'s), keeping the ids."""
    ids = [str(i) for i in ids]
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise KeyError(f"ids {missing[:5]} are not among the {len(by_id)} cases given")
    for i in ids:
        if not (hasattr(by_id[i], "image") and hasattr(by_id[i], "label")):
            raise TypeError(f"case {i!r} is a {type(by_id[i]).__name__}: need .image and .label")
    return pad_volumes([by_id[i].image for i in ids], [by_id[i].label for i in ids], shape, ids)


def val_dice(predict: Callable[[nn.Module, np.ndarray], torch.Tensor], pv: PaddedVolumes,
             indices: Sequence[int] | None = None,
             labels: Sequence[int] = (1, 2)) -> Callable[[nn.Module], dict[str, float]]:
    """A validation function for :func:`corelib.train.fit`: ``{"dice": mean Dice}`` of
    ``predict(model, padded_volume)`` on the volumes ``indices`` of ``pv`` (all by default).

    Dice is taken per volume over ``labels`` (a class absent from prediction and truth is skipped),
    then averaged over volumes; predictions and labels are cut back to the original extents.
    """
    if pv.labels is None:
        raise ValueError("val_dice needs labelled volumes (pv.labels is None)")
    idx = list(range(len(pv.images))) if indices is None else [int(i) for i in indices]
    if not idx:
        raise ValueError("val_dice needs at least one volume index")
    bad = [i for i in idx if not 0 <= i < len(pv.images)]
    if bad:
        raise IndexError(f"indices {bad[:5]} out of range for {len(pv.images)} volumes")
    labels = [int(c) for c in labels]
    targets = [pv.original(i, pv.labels[i]) for i in idx]

    def fn(model: nn.Module) -> dict[str, float]:
        preds = segment(lambda v: predict(model, v), pv, idx)
        per_volume = [np.nanmean(list(metrics.dice_per_class(p, t, labels).values()))
                      for p, t in zip(preds, targets)]
        return {"dice": float(np.nanmean(per_volume))}

    return fn
