"""Box utilities in the book's one box convention, with the conversions to MONAI's.

**Convention.** A box is ``(x_min, y_min, x_max, y_max)`` in pixels, **x along the columns (image
width), y along the rows (image height)**, continuous coordinates, the image spanning
``[0, W] x [0, H]``: the Pascal VOC, torchvision and matplotlib order (``Rectangle((x_min, y_min),
w, h)`` draws it). Arrays of boxes are ``(N, 4)``.

MONAI's detection module (``monai.apps.detection``) instead orders a 2D box by the *tensor's* axes:
``(r_min, c_min, r_max, c_max)`` for an image tensor ``(C, H, W)``, first image axis (rows) first.
:func:`to_monai` and :func:`from_monai` swap between the two (the swap is its own inverse); the
tests check the direction with MONAI's own ``convert_box_to_mask``.

IoU and NMS are torchvision's (``torchvision.ops.box_iou``, ``batched_nms``), which use the same
``(x1, y1, x2, y2)`` order as this module; area is ``(x2 - x1) * (y2 - y1)`` (no ``+1``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torchvision import ops

from corelib import validate

__all__ = ["check_boxes", "check_image", "to_monai", "from_monai", "xyxy_to_cxcywh",
           "cxcywh_to_xyxy", "box_iou", "nms", "box_sizes", "clip_boxes"]


def _np(name: str, boxes: Any) -> np.ndarray:
    if isinstance(boxes, torch.Tensor):
        boxes = boxes.detach().cpu().numpy()
    try:
        a = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise validate.ArgumentTypeError(
            f"{name} must be an (N, 4) array of boxes, got {validate.describe(boxes)}") from None
    if a.size == 0:
        return a.reshape(0, 4)
    return a


def check_boxes(name: str, boxes: Any, image_size: Sequence[int] | None = None, *,
                allow_empty: bool = True, tol: float = 0.5) -> np.ndarray:
    """``boxes`` as a float ``(N, 4)`` array, checked: finite, non-negative sizes, inside the image.

    ``image_size`` is ``(H, W)`` (rows, columns), like ``image.shape[:2]``; boxes may stick out by at
    most ``tol`` pixels (rounding). An empty set raises unless ``allow_empty``.
    """
    a = _np(name, boxes)
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) as (x_min, y_min, x_max, y_max), "
                         f"got shape {a.shape}")
    if len(a) == 0 and not allow_empty:
        raise ValueError(f"{name} is empty: an image with no boxes cannot be used here")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    bad = np.flatnonzero((w < 0) | (h < 0))
    if len(bad):
        raise ValueError(f"{name} has negative sizes (x_max < x_min or y_max < y_min), e.g. box "
                         f"{bad[0]} = {a[bad[0]].tolist()}; the order is (x_min, y_min, x_max, y_max)")
    if image_size is not None:
        hh, ww = validate.int_sizes("image_size", image_size, 2, min=1)
        out = np.flatnonzero((a[:, 0] < -tol) | (a[:, 1] < -tol) | (a[:, 2] > ww + tol)
                             | (a[:, 3] > hh + tol))
        if len(out):
            raise ValueError(f"{name} has boxes outside the image of (H, W) = ({hh}, {ww}), e.g. box "
                             f"{out[0]} = {a[out[0]].tolist()}; x runs along the width, y along "
                             "the height")
    return a


def check_image(name: str, image: Any, channels: int = 3) -> np.ndarray:
    """An ``(H, W, channels)`` image array (uint8 or float), with a clear error otherwise."""
    if isinstance(image, torch.Tensor):
        raise validate.ArgumentTypeError(
            f"{name} must be a NumPy (H, W, {channels}) image, got a torch tensor of shape "
            f"{tuple(image.shape)}")
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != channels:
        raise ValueError(f"{name} must have shape (H, W, {channels}) ({channels} channels last), "
                         f"got shape {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {a.shape}")
    return a


def to_monai(boxes: Any) -> Any:
    """``(x_min, y_min, x_max, y_max)`` -> MONAI's 2D order ``(r_min, c_min, r_max, c_max)``."""
    idx = [1, 0, 3, 2]
    return boxes[:, idx] if len(boxes) else boxes


def from_monai(boxes: Any) -> Any:
    """MONAI's 2D order ``(r_min, c_min, r_max, c_max)`` -> ``(x_min, y_min, x_max, y_max)``."""
    return to_monai(boxes)


def xyxy_to_cxcywh(boxes: Any) -> np.ndarray:
    """Corners -> ``(x_centre, y_centre, width, height)`` (torchvision ``box_convert``)."""
    a = check_boxes("boxes", boxes)
    return ops.box_convert(torch.as_tensor(a), "xyxy", "cxcywh").numpy()


def cxcywh_to_xyxy(boxes: Any) -> np.ndarray:
    """``(x_centre, y_centre, width, height)`` -> corners (torchvision ``box_convert``)."""
    a = _np("boxes", boxes)
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) as (cx, cy, w, h), got shape {a.shape}")
    if np.any(a[:, 2:] < 0):
        raise ValueError("boxes have a negative width or height")
    return ops.box_convert(torch.as_tensor(a), "cxcywh", "xyxy").numpy()


def box_iou(a: Any, b: Any) -> np.ndarray:
    """IoU matrix ``(len(a), len(b))`` of two box sets (torchvision ``box_iou``)."""
    a, b = check_boxes("a", a), check_boxes("b", b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return ops.box_iou(torch.as_tensor(a), torch.as_tensor(b)).numpy()


def nms(boxes: Any, scores: Any, iou_threshold: float = 0.5, labels: Any = None) -> np.ndarray:
    """Indices kept by non-maximum suppression, by decreasing score (per class when ``labels``)."""
    a = check_boxes("boxes", boxes)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(s) != len(a):
        raise ValueError(f"scores has {len(s)} values for {len(a)} boxes")
    validate.in_range("iou_threshold", iou_threshold, 0.0, 1.0)
    if len(a) == 0:
        return np.zeros(0, dtype=np.int64)
    lab = np.zeros(len(a), np.int64) if labels is None else np.asarray(labels, np.int64).reshape(-1)
    if len(lab) != len(a):
        raise ValueError(f"labels has {len(lab)} values for {len(a)} boxes")
    keep = ops.batched_nms(torch.as_tensor(a, dtype=torch.float32),
                           torch.as_tensor(s, dtype=torch.float32), torch.as_tensor(lab),
                           float(iou_threshold))
    return keep.numpy()


def box_sizes(boxes: Any) -> np.ndarray:
    """``(N, 2)`` widths and heights."""
    a = check_boxes("boxes", boxes)
    return np.stack([a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]], axis=1)


def clip_boxes(boxes: Any, image_size: Sequence[int]) -> np.ndarray:
    """Boxes clipped to an image of ``(H, W)``."""
    a = check_boxes("boxes", boxes).copy()
    h, w = validate.int_sizes("image_size", image_size, 2, min=1)
    a[:, [0, 2]] = a[:, [0, 2]].clip(0, w)
    a[:, [1, 3]] = a[:, [1, 3]].clip(0, h)
    return a
