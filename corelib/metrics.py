"""Evaluation metrics used across the book.

Image quality (PSNR, SSIM), segmentation overlap and surface distances (Dice, HD95, ASD),
classification (AUC/ACC as in MedMNIST v2, sensitivity/specificity/F1) and registration
regularity (Jacobian determinant, folding fraction).

Every function accepts NumPy arrays or torch tensors and returns plain floats (or NumPy arrays /
dicts of floats). Bad inputs (shape mismatch, NaN, impossible parameters) raise ``ValueError``.
Library implementations are used where they compute the same thing: scikit-image (PSNR, SSIM),
MONAI (Hausdorff and surface distances), scikit-learn (ROC AUC).
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import torch

from corelib import validate

__all__ = [
    "psnr",
    "ssim",
    "dice_per_class",
    "hd95",
    "asd",
    "surface_distances",
    "auc_acc",
    "sens_spec_f1",
    "jacobian_determinant",
    "folding_fraction",
]


# ----------------------------------------------------------------------------- helpers
def _to_numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return x.numpy()
    try:
        return np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc


def _check_finite(a: np.ndarray, name: str) -> None:
    if not np.issubdtype(a.dtype, np.number) and a.dtype != bool:
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")


def _pair(reference: Any, test: Any, names: tuple[str, str] = ("reference", "test")) -> tuple[np.ndarray, np.ndarray]:
    a, b = _to_numpy(reference, names[0]), _to_numpy(test, names[1])
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError(f"{names[0]} and {names[1]} are empty")
    _check_finite(a, names[0])
    _check_finite(b, names[1])
    return a, b


# ----------------------------------------------------------------------------- image quality
def _image_pair(reference: Any, test: Any, data_range: float) -> tuple[np.ndarray, np.ndarray, float]:
    validate.array("reference", _to_numpy(reference, "reference"))  # refuses complex (imaginary part dropped)
    validate.array("test", _to_numpy(test, "test"))
    a, b = _pair(reference, test)
    if a.ndim not in (2, 3):
        raise ValueError(f"images must be 2D or 3D, got shape {a.shape}")
    if data_range is None or not np.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range must be a positive finite number, got {data_range!r}")
    span = float(np.ptp(a.astype(np.float64)))
    if span > 2 * data_range:  # e.g. an image in 0..255 scored with data_range=1
        raise ValueError(f"data_range={data_range!r} cannot match the reference, whose values span {span:g} "
                         "(more than twice data_range); give the width of the images' intensity range")
    return a.astype(np.float64), b.astype(np.float64), float(data_range)


def _slices(a: np.ndarray, b: np.ndarray, axis: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if a.ndim != 3:
        raise ValueError(f"per_slice needs a 3D volume, got shape {a.shape}")
    axis = validate.axis("axis", axis, 3)
    a, b = np.moveaxis(a, axis, 0), np.moveaxis(b, axis, 0)
    return list(zip(a, b))


def _psnr2(a: np.ndarray, b: np.ndarray, data_range: float, m: np.ndarray | None = None) -> float:
    from skimage.metrics import peak_signal_noise_ratio

    if m is not None:  # the mean squared error over the pixels inside the mask only
        mse = float(np.mean((a[m] - b[m]) ** 2))
        return float("inf") if mse == 0 else float(10 * np.log10(data_range ** 2 / mse))
    if np.array_equal(a, b):
        return float("inf")
    return float(peak_signal_noise_ratio(a, b, data_range=data_range))


def _mask(mask: Any, shape: tuple[int, ...], per_slice: bool, axis: int) -> np.ndarray | None:
    """``mask`` as a boolean array of the image's shape (a slice's shape is broadcast when per_slice)."""
    if mask is None:
        return None
    m = validate.array("mask", mask)
    if m.dtype.kind not in "bi" or not np.isin(m, (0, 1)).all():
        raise ValueError(f"mask must hold booleans (or 0/1), got dtype {m.dtype}")
    m = m.astype(bool)
    if per_slice and len(shape) == 3:
        ax = validate.axis("axis", axis, 3)
        slice_shape = tuple(s for i, s in enumerate(shape) if i != ax)
        if m.shape == slice_shape:
            m = np.broadcast_to(np.expand_dims(m, ax), shape)
    if m.shape != tuple(shape):
        raise ValueError(f"mask must have the image's shape {tuple(shape)} (or, per slice, one slice's "
                         f"shape), got {m.shape}")
    return m


def _masked_slices(a: np.ndarray, b: np.ndarray, m: np.ndarray | None,
                   axis: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    pairs = _slices(a, b, axis)
    if m is None:
        return [(x, y, None) for x, y in pairs]
    ms = list(np.moveaxis(m, axis, 0))
    if not all(s.any() for s in ms):
        raise ValueError("mask is empty on at least one slice: nothing to score there")
    return [(x, y, s) for (x, y), s in zip(pairs, ms)]


def psnr(
    reference: Any, test: Any, data_range: float, *, per_slice: bool = False, axis: int = 0,
    mask: Any = None,
) -> float | np.ndarray:
    """Peak signal-to-noise ratio in dB (scikit-image), ``10 log10(data_range^2 / MSE)``.

    ``data_range`` is required: the width of the intensity range (e.g. 1.0 for [0, 1] images), never
    guessed from the data; a reference whose values span more than twice ``data_range`` (e.g.
    0..255 scored with ``data_range=1``) raises ``ValueError``, as do complex images (take ``np.abs``
    first). Identical images give ``inf``. With ``per_slice=True`` a 3D volume gives
    one value per slice along ``axis`` (a NumPy array).

    ``mask`` (boolean, the image's shape, or one slice's shape with ``per_slice``) restricts the
    MSE to the pixels inside it, e.g. a CT scanner's field of view: pixels outside neither add
    error nor count in the mean.
    """
    a, b, dr = _image_pair(reference, test, data_range)
    m = _mask(mask, a.shape, per_slice, axis)
    if per_slice:
        return np.array([_psnr2(x, y, dr, s) for x, y, s in _masked_slices(a, b, m, axis)])
    if m is not None and not m.any():
        raise ValueError("mask is empty: nothing to score")
    return _psnr2(a, b, dr, m)


def ssim(
    reference: Any, test: Any, data_range: float, *, per_slice: bool = False, axis: int = 0,
    mask: Any = None, **kwargs: Any
) -> float | np.ndarray:
    """Structural similarity (scikit-image ``structural_similarity``, its default 7-pixel window).

    ``data_range`` is required. 2D images, or 3D volumes (3D SSIM with a 7x7x7 window; every axis
    must be at least 7 long). ``per_slice=True`` gives 2D SSIM for each slice along ``axis``.
    ``mask`` (as in :func:`psnr`) averages the local SSIM map over the pixels inside it only.
    Extra keyword arguments (e.g. ``gaussian_weights=True``) go to scikit-image.
    """
    from skimage.metrics import structural_similarity

    a, b, dr = _image_pair(reference, test, data_range)
    m = _mask(mask, a.shape, per_slice, axis)

    def one(x: np.ndarray, y: np.ndarray, s: np.ndarray | None = None) -> float:
        if s is None:
            return float(structural_similarity(x, y, data_range=dr, **kwargs))
        _, local = structural_similarity(x, y, data_range=dr, full=True, **kwargs)
        return float(local[s].mean())

    if per_slice:
        return np.array([one(x, y, s) for x, y, s in _masked_slices(a, b, m, axis)])
    if m is not None and not m.any():
        raise ValueError("mask is empty: nothing to score")
    return one(a, b, m)


# ----------------------------------------------------------------------------- segmentation
def _label_maps(pred: Any, target: Any, labels: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    p, t = _pair(pred, target, ("pred", "target"))
    for arr, name in ((p, "pred"), (t, "target")):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            if not np.all(arr == np.round(arr)):
                raise ValueError(f"{name} must be an integer label map, got non-integer values")
    if isinstance(labels, (int, np.integer)):
        if labels < 2:
            raise ValueError(f"n_classes must be at least 2 (background + one class), got {labels}")
        labels = list(range(1, int(labels)))
    labels = [int(v) for v in labels]
    if not labels or len(set(labels)) != len(labels) or 0 in labels:
        raise ValueError(f"labels must be distinct, non-empty and exclude background 0, got {labels}")
    allowed = np.array([0, *labels])
    for arr, name in ((p, "pred"), (t, "target")):
        bad = np.setdiff1d(np.unique(arr), allowed)
        if bad.size:
            raise ValueError(f"{name} has label values {bad.tolist()} outside the classes {allowed.tolist()}")
    return p.astype(np.int64), t.astype(np.int64), labels


def dice_per_class(
    pred: Any, target: Any, labels: int | Sequence[int], empty: str = "nan"
) -> dict[int, float]:
    """Dice ``2|P∩T| / (|P|+|T|)`` for each foreground class of two integer label maps.

    ``labels`` is either the foreground labels, e.g. ``(1, 2)``, or the number of classes
    ``n_classes`` (then labels ``1..n_classes-1``; 0 is background). A value in ``pred`` or
    ``target`` that is neither 0 nor one of the labels raises ``ValueError``.
    When a class is absent from both maps, Dice is undefined: ``empty="nan"`` (default) returns NaN,
    so that ``np.nanmean`` skips it (MONAI's ``ignore_empty``); ``empty="one"`` returns 1.0.
    Kept by hand: scikit-learn's ``f1_score(average=None)`` gives the same numbers (tested) about
    ten times slower on a volume, and validation calls this after every few training steps.
    """
    if empty not in ("nan", "one"):
        raise ValueError(f"empty must be 'nan' or 'one', got {empty!r}")
    p, t, labels = _label_maps(pred, target, labels)
    out: dict[int, float] = {}
    for c in labels:
        pc, tc = p == c, t == c
        denom = pc.sum() + tc.sum()
        if denom == 0:
            out[c] = float("nan") if empty == "nan" else 1.0
        else:
            out[c] = float(2.0 * np.logical_and(pc, tc).sum() / denom)
    return out


def _masks(pred_mask: Any, target_mask: Any, spacing: Any) -> tuple[np.ndarray, np.ndarray, list[float]]:
    p, t = _pair(pred_mask, target_mask, ("pred_mask", "target_mask"))
    if p.ndim not in (2, 3):
        raise ValueError(f"masks must be 2D or 3D, got shape {p.shape}")
    for arr, name in ((p, "pred_mask"), (t, "target_mask")):
        if not np.all(np.isin(arr, (0, 1))):
            raise ValueError(f"{name} must be binary (0/1 or bool)")
    sp = np.atleast_1d(np.asarray(spacing, dtype=np.float64))
    if sp.size == 1:
        sp = np.repeat(sp, p.ndim)
    if sp.shape != (p.ndim,) or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"spacing must be one positive number or {p.ndim} of them (mm), got {spacing!r}")
    return p.astype(bool), t.astype(bool), sp.tolist()


def surface_distances(pred_mask: Any, target_mask: Any, spacing: float | Sequence[float] = 1.0) -> dict[str, float]:
    """``{"hd95": ..., "asd": ...}`` in mm from one computation of the two directed surface distances
    (MONAI's ``get_edge_surface_distance``, masks cropped to their bounding box): the same values
    as :func:`hd95` and :func:`asd`, at half the cost of calling both. Empty masks as there."""
    from monai.metrics.utils import get_edge_surface_distance

    p, t, sp = _masks(pred_mask, target_mask, spacing)
    if not p.any() and not t.any():
        return {"hd95": 0.0, "asd": 0.0}
    if not p.any() or not t.any():
        return {"hd95": float("inf"), "asd": float("inf")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, distances, _ = get_edge_surface_distance(torch.from_numpy(p), torch.from_numpy(t),
                                                    distance_metric="euclidean", spacing=sp, symmetric=True)
    hd = max(float(torch.quantile(d.double(), 0.95)) for d in distances)
    return {"hd95": hd, "asd": float(torch.cat(distances).double().mean())}


def _surface(pred_mask: Any, target_mask: Any, spacing: Any, kind: str) -> float:
    return surface_distances(pred_mask, target_mask, spacing)[kind]


def hd95(pred_mask: Any, target_mask: Any, spacing: float | Sequence[float] = 1.0) -> float:
    """95th-percentile symmetric Hausdorff distance between two binary masks, in mm (MONAI).

    MONAI's definition: the larger of the two directed 95th percentiles of the distances between
    the mask surfaces. ``spacing`` is the voxel size per array axis (one number = isotropic).
    Empty masks: both empty -> 0.0 (perfect agreement); exactly one empty -> ``inf``.
    """
    return _surface(pred_mask, target_mask, spacing, "hd95")


def asd(pred_mask: Any, target_mask: Any, spacing: float | Sequence[float] = 1.0) -> float:
    """Average symmetric surface distance between two binary masks, in mm (MONAI).

    The mean over all surface voxels of both masks of the distance to the other surface.
    Empty masks as in :func:`hd95`: both empty -> 0.0; exactly one empty -> ``inf``.
    """
    return _surface(pred_mask, target_mask, spacing, "asd")


# ----------------------------------------------------------------------------- classification
_TASKS = {"binary": "binary", "binary-class": "binary", "multi-class": "multi-class"}


def auc_acc(y_true: Any, y_score: Any, task: str = "binary") -> tuple[float, float]:
    """``(AUC, ACC)`` exactly as MedMNIST v2's ``Evaluator`` (``getAUC`` / ``getACC``) computes them.

    - ``task="binary"`` (or ``"binary-class"``): ``y_score`` is ``(N,)`` or ``(N, 2)``, the last
      column being the positive class (more columns raise ``ValueError``). AUC of that score; ACC with prediction ``score > 0.5``
      (a score of exactly 0.5 counts as negative).
    - ``task="multi-class"``: ``y_score`` is ``(N, C)``; AUC is the unweighted mean of the
      one-vs-rest AUCs of the C classes; ACC uses ``argmax``.

    ``y_true`` holds integer labels, shape ``(N,)`` or ``(N, 1)``. Unlike MedMNIST, a class
    without both positive and negative samples raises ``ValueError`` (its AUC is undefined).
    """
    from sklearn.metrics import accuracy_score, roc_auc_score

    if task not in _TASKS:
        raise ValueError(f"task must be one of {sorted(_TASKS)}, got {task!r}")
    task = _TASKS[task]
    yt = _to_numpy(y_true, "y_true").squeeze()
    ys = _to_numpy(y_score, "y_score").astype(np.float64).squeeze()
    if yt.ndim != 1 or yt.size < 2:
        raise ValueError(f"y_true must be a vector of at least 2 labels, got shape {yt.shape}")
    _check_finite(yt.astype(np.float64), "y_true")
    _check_finite(ys, "y_score")
    if ys.shape[0] != yt.shape[0]:
        raise ValueError(f"y_true has {yt.shape[0]} samples but y_score has {ys.shape[0]}")
    if task == "binary":
        if ys.ndim == 2 and ys.shape[1] > 2:
            raise ValueError(f"binary y_score must be (N,) or (N, 2), got {ys.shape[1]} columns; "
                             "use task='multi-class' for more than two classes")
        if ys.ndim == 2:
            ys = ys[:, -1]
        if ys.ndim != 1:
            raise ValueError(f"binary y_score must be (N,) or (N, C), got shape {ys.shape}")
        if not np.all(np.isin(yt, (0, 1))):
            raise ValueError("binary y_true must contain only 0 and 1")
        if np.unique(yt).size < 2:
            raise ValueError("AUC is undefined: y_true has only one class")
        return float(roc_auc_score(yt, ys)), float(accuracy_score(yt, ys > 0.5))
    if ys.ndim != 2:
        raise ValueError(f"multi-class y_score must be (N, C), got shape {ys.shape}")
    n_classes = ys.shape[1]
    if not np.all(np.isin(yt, np.arange(n_classes))):
        raise ValueError(f"y_true values must be class indices 0..{n_classes - 1}")
    aucs = []
    for c in range(n_classes):
        yb = (yt == c).astype(float)
        if np.unique(yb).size < 2:
            raise ValueError(f"AUC is undefined: class {c} is {'absent' if yb.sum() == 0 else 'the only class'}")
        aucs.append(roc_auc_score(yb, ys[:, c]))
    return float(np.mean(aucs)), float(accuracy_score(yt, np.argmax(ys, axis=-1)))


def sens_spec_f1(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Sensitivity (recall), specificity and F1 of binary predictions (0/1, positive = 1).

    scikit-learn's ``recall_score`` (specificity: the recall of class 0) and ``f1_score``, with
    ``zero_division=nan``: a ratio whose denominator is zero (e.g. sensitivity with no positives)
    is NaN.
    """
    from sklearn.metrics import f1_score, recall_score

    t, p = _pair(y_true, y_pred, ("y_true", "y_pred"))
    t, p = t.ravel(), p.ravel()
    for arr, name in ((t, "y_true"), (p, "y_pred")):
        if not np.all(np.isin(arr, (0, 1))):
            raise ValueError(f"{name} must contain only 0 and 1 (threshold scores first)")
    t, p = t.astype(int), p.astype(int)
    kw = dict(labels=[0, 1], average="binary", zero_division=np.nan)
    return {
        "sensitivity": float(recall_score(t, p, pos_label=1, **kw)),
        "specificity": float(recall_score(t, p, pos_label=0, **kw)),
        "f1": float(f1_score(t, p, pos_label=1, **kw)),
    }


# ----------------------------------------------------------------------------- registration
def jacobian_determinant(disp: Any, spacing: float | Sequence[float] | None = None) -> np.ndarray:
    """Jacobian determinant of the map ``x -> x + u(x)`` at every voxel.

    ``disp`` is ``(2, H, W)`` or ``(3, D, H, W)``; channel ``i`` is the displacement along array
    axis ``i``. With ``spacing=None`` it is in voxels; with ``spacing`` (voxel size per axis) it
    is in the same physical unit (e.g. mm). Derivatives by central differences (``np.gradient``,
    one-sided at the border). ``det <= 0`` marks folding. Returns an ``(H, W)`` / ``(D, H, W)`` array.
    Training losses use the differentiable torch form
    :func:`corelib.registration.losses.jacobian_det` (forward differences).
    """
    u = _to_numpy(disp, "disp").astype(np.float64)
    if u.ndim not in (3, 4) or u.shape[0] != u.ndim - 1:
        raise ValueError(f"disp must be (2, H, W) or (3, D, H, W), got shape {u.shape}")
    if min(u.shape[1:]) < 2:
        raise ValueError(f"disp needs at least 2 voxels along each axis, got shape {u.shape}")
    _check_finite(u, "disp")
    n = u.shape[0]
    if spacing is None:
        sp = [1.0] * n
    else:
        sp = np.atleast_1d(np.asarray(spacing, dtype=np.float64)).tolist()
        if len(sp) == 1:
            sp = sp * n
        if len(sp) != n or not all(np.isfinite(s) and s > 0 for s in sp):
            raise ValueError(f"spacing must be one positive number or {n} of them, got {spacing!r}")
    # jac[..., i, j] = d(x_i + u_i)/d x_j
    jac = np.stack([np.stack(np.gradient(u[i], *sp), axis=-1) for i in range(n)], axis=-2)
    jac += np.eye(n)
    return np.linalg.det(jac)


def folding_fraction(disp: Any, spacing: float | Sequence[float] | None = None) -> float:
    """Fraction (0..1) of voxels whose Jacobian determinant is ``<= 0`` (folded)."""
    return float(np.mean(jacobian_determinant(disp, spacing) <= 0))
