"""Focal loss for dense one-stage detection.

Lin T.-Y., Goyal P., Girshick R., He K., Dollár P. Focal loss for dense object detection. ICCV 2017
(RetinaNet): ``FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t)`` on every anchor and class (sigmoid),
summed and divided by the number of anchors assigned to a ground-truth box. ``gamma = 0`` with no
``alpha`` is plain binary cross-entropy with the same normalisation, which is the comparator of
claim C-DT-b. The elementwise loss is torchvision's ``sigmoid_focal_loss``.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import sigmoid_focal_loss

from corelib import validate

__all__ = ["FocalLoss"]


class FocalLoss(nn.Module):
    """Sigmoid focal loss over ``(anchors, classes)`` logits and 0/1 targets.

    ``gamma`` >= 0 down-weights easy examples; ``alpha`` in ``[0, 1]`` weighs positives (``None``: no
    weighting). ``normalize="positives"`` divides the sum by the number of positive targets (at
    least 1), as in the paper; ``"mean"`` averages over all elements.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | None = 0.25, normalize: str = "positives"):
        super().__init__()
        self.gamma = validate.nonnegative("gamma", gamma)
        self.alpha = None if alpha is None else validate.in_range("alpha", alpha, 0.0, 1.0)
        self.normalize = validate.one_of("normalize", normalize, ("positives", "mean"))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        validate.tensor("logits", logits)
        validate.tensor("targets", targets)
        if logits.shape != targets.shape:
            raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} "
                             "must have the same shape")
        loss = sigmoid_focal_loss(logits, targets.to(logits.dtype),
                                  alpha=-1.0 if self.alpha is None else self.alpha,
                                  gamma=self.gamma, reduction="sum")
        if self.normalize == "mean":
            return loss / max(1, logits.numel())
        return loss / targets.sum().clamp(min=1.0)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}, normalize={self.normalize!r}"
