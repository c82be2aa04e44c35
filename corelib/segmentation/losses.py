"""Segmentation losses: cross-entropy, Dice, focal, Combo, and deep supervision.

Every loss takes logits ``(B, C, *spatial)`` and an integer label map ``(B, *spatial)`` (or
``(B, 1, *spatial)``) with values in ``0..C-1``; labels outside the classes or a shape mismatch
raise ``ValueError``. Dice and focal are MONAI's (softmax, one-hot targets); Combo is written here.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from corelib import validate

__all__ = ["ComboLoss", "SegLoss", "check_target", "deep_supervision", "make_loss", "LOSSES"]

LOSSES = ("ce", "dice", "dicece", "focal", "combo")


def check_target(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Validate a label map against logits and return it as ``(B, *spatial)`` int64."""
    if logits.ndim < 3:
        raise ValueError(f"logits must be (B, C, *spatial), got shape {tuple(logits.shape)}")
    if target.ndim == logits.ndim and target.shape[1] == 1:
        target = target[:, 0]
    if target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)} "
                         "(expected (B, *spatial) or (B, 1, *spatial))")
    if target.is_floating_point():
        if not torch.all(target == target.round()):
            raise ValueError("target must hold integer class labels, got non-integer values")
    target = target.long()
    n = logits.shape[1]
    if target.numel() and (target.min() < 0 or target.max() >= n):
        bad = torch.unique(target[(target < 0) | (target >= n)]).tolist()
        raise ValueError(f"target has label values {bad[:5]} outside the {n} classes 0..{n - 1}")
    return target


class ComboLoss(nn.Module):
    """Combo loss (Taghanaki et al. [92]): ``alpha * wCE + (1 - alpha) * (1 - Dice)``.

    ``wCE`` is the per-class binary cross-entropy on softmax probabilities where ``beta`` weighs the
    foreground (false-negative) term and ``1 - beta`` the background (false-positive) term, averaged
    over voxels and foreground classes; Dice is the soft Dice over foreground classes (batch-wise,
    smoothed by ``smooth``). The paper writes ``- (1 - alpha) Dice``; adding 1 makes the minimum 0.
    """

    def __init__(self, alpha: float = 0.5, beta: float = 0.7, smooth: float = 1e-5,
                 include_background: bool = False):
        super().__init__()
        validate.in_range("alpha", alpha, 0, 1)  # NaN passes the comparison below
        validate.in_range("beta", beta, 0, 1)
        validate.nonnegative("smooth", smooth)
        if not (0 <= alpha <= 1 and 0 <= beta <= 1):
            raise ValueError(f"alpha and beta must lie in [0, 1], got {alpha}, {beta}")
        self.alpha, self.beta, self.smooth, self.bg = alpha, beta, smooth, include_background

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = check_target(logits, target)
        n = logits.shape[1]
        onehot = F.one_hot(target, n).movedim(-1, 1).to(logits.dtype)
        logp1 = F.log_softmax(logits, dim=1)
        p = logp1.exp()
        logp0 = torch.log1p(-p.clamp(max=1 - 1e-7))
        start = 0 if self.bg or n == 1 else 1
        o, p, lp1, lp0 = onehot[:, start:], p[:, start:], logp1[:, start:], logp0[:, start:]
        wce = -(self.beta * o * lp1 + (1 - self.beta) * (1 - o) * lp0).mean()
        dims = (0, *range(2, logits.ndim))
        inter = (o * p).sum(dims)
        dice = (2 * inter + self.smooth) / (o.sum(dims) + p.sum(dims) + self.smooth)
        return self.alpha * wce + (1 - self.alpha) * (1 - dice.mean())


class SegLoss(nn.Module):
    """Wrap a loss ``f(logits, target)`` with :func:`check_target` and the target layout it wants."""

    def __init__(self, inner: Callable[..., torch.Tensor], onehot_channel: bool):
        super().__init__()
        self.inner, self.onehot_channel = inner, onehot_channel

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = check_target(logits, target)
        return self.inner(logits, target[:, None] if self.onehot_channel else target)


def make_loss(name: str, *, combo_alpha: float = 0.5, combo_beta: float = 0.7,
              focal_gamma: float = 2.0) -> nn.Module:
    """A segmentation loss by name: ``ce``, ``dice`` (MONAI ``DiceLoss``, V-Net [84]), ``dicece``
    (MONAI ``DiceCELoss``), ``focal`` (MONAI ``FocalLoss``, gamma 2) or ``combo`` ([92]).

    Dice-type losses ignore the background class, as in the V-Net paper; all take softmax of logits.
    """
    from monai.losses import DiceCELoss, DiceLoss, FocalLoss

    try:
        name = validate.one_of("name", name, LOSSES, case_insensitive=True)  # "Dice" works too
    except ValueError:
        raise ValueError(f"unknown loss {name!r}; choose one of {LOSSES}") from None
    validate.nonnegative("focal_gamma", focal_gamma)
    if name == "ce":
        return SegLoss(nn.CrossEntropyLoss(), onehot_channel=False)
    if name == "dice":
        return SegLoss(DiceLoss(include_background=False, to_onehot_y=True, softmax=True, batch=True),
                       onehot_channel=True)
    if name == "dicece":
        return SegLoss(DiceCELoss(include_background=False, to_onehot_y=True, softmax=True, batch=True),
                       onehot_channel=True)
    if name == "focal":
        return SegLoss(FocalLoss(include_background=True, to_onehot_y=True, gamma=focal_gamma,
                                 use_softmax=True), onehot_channel=True)
    if name == "combo":
        return ComboLoss(combo_alpha, combo_beta)
    raise ValueError(f"unknown loss {name!r}; choose one of {LOSSES}")


class _ChannelTarget(nn.Module):
    """Give ``loss`` the target as it came: MONAI's ``DeepSupervisionLoss`` compares the spatial
    shape of each output with ``target.shape[2:]``, so a ``(B, *spatial)`` map travels as
    ``(B, 1, *spatial)`` and loses the added axis again here."""

    def __init__(self, loss: Callable[..., torch.Tensor], added: bool):
        super().__init__()
        self.loss, self.added = loss, added

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss(output, target[:, 0] if self.added else target)


def deep_supervision(loss: nn.Module, weights: Sequence[float] | None = None) -> Callable[..., torch.Tensor]:
    """Loss for a list of outputs (UNet++ deep supervision [83]): weighted mean of ``loss`` over them.

    Default weights halve with each coarser output, as MONAI's ``DeepSupervisionLoss("exp")``
    (without its floor of 1/16 from the sixth output on). A single tensor is passed straight to
    ``loss``. MONAI's ``DeepSupervisionLoss`` forms the weighted sum; dividing by the sum of the
    weights keeps the loss on the scale of one output (bit for bit the hand-written sum it
    replaced, ``tests/test_library_swaps.py``). Outputs must have the target's spatial size.
    """
    from monai.losses import DeepSupervisionLoss

    if weights is not None:
        for w in validate.nonempty("weights", list(weights)):
            validate.nonnegative("weights", w)
        if sum(weights) <= 0:
            raise ValueError(f"weights must not all be zero, got {list(weights)}")

    def f(outputs, target: torch.Tensor) -> torch.Tensor:
        if isinstance(outputs, torch.Tensor):
            return loss(outputs, target)
        w = [float(x) for x in weights] if weights is not None else [0.5 ** i for i in range(len(outputs))]
        if len(w) != len(outputs):
            raise ValueError(f"{len(outputs)} outputs but {len(w)} weights")
        for k, o in enumerate(outputs):
            if o.ndim not in (target.ndim, target.ndim + 1) or o.shape[2:] != outputs[0].shape[2:]:
                raise ValueError(f"output {k} has shape {tuple(o.shape)}; every output needs the "
                                 f"spatial size of output 0, {tuple(outputs[0].shape[2:])}")
        added = target.ndim == outputs[0].ndim - 1
        t = target[:, None] if added else target
        if t.shape[2:] != outputs[0].shape[2:]:
            raise ValueError(f"target shape {tuple(target.shape)} does not match the outputs' spatial "
                             f"size {tuple(outputs[0].shape[2:])}")
        ds = DeepSupervisionLoss(_ChannelTarget(loss, added), weights=w)
        return ds(list(outputs), t) / sum(w)

    return f
