"""Registration losses: similarity, smoothness, label overlap, anti-folding, inverse consistency.

Fields follow the chapter convention (``(B, ndim, *spatial)``, voxels, channel = array axis).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.losses import DiceLoss, LocalNormalizedCrossCorrelationLoss

from corelib import validate
from corelib.registration.learned import warp_tensor

__all__ = ["mse", "ncc", "gradient_smoothness", "label_dice_loss", "negative_jacobian_penalty",
           "jacobian_det", "inverse_consistency"]


def _check_field(disp: torch.Tensor) -> int:
    if disp.ndim not in (4, 5) or disp.shape[1] != disp.ndim - 2:
        raise ValueError(f"field must be (B, 2, H, W) or (B, 3, D, H, W), got {tuple(disp.shape)}")
    return disp.ndim - 2


def mse(warped: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
    """Mean squared intensity difference."""
    if warped.shape != fixed.shape:
        raise ValueError(f"shapes differ: {tuple(warped.shape)} vs {tuple(fixed.shape)}")
    return F.mse_loss(warped, fixed)


def ncc(warped: torch.Tensor, fixed: torch.Tensor, kernel_size: int = 7) -> torch.Tensor:
    """Negative local normalised cross-correlation (MONAI), in [-1, 0]; VoxelMorph's similarity [69]."""
    if warped.shape != fixed.shape:
        raise ValueError(f"shapes differ: {tuple(warped.shape)} vs {tuple(fixed.shape)}")
    validate.tensor("warped", warped, ndim=(4, 5))
    kernel_size = validate.positive_int("kernel_size", kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")
    return LocalNormalizedCrossCorrelationLoss(spatial_dims=warped.ndim - 2, kernel_size=kernel_size)(warped, fixed)


def gradient_smoothness(disp: torch.Tensor) -> torch.Tensor:
    """Diffusion regulariser: mean squared forward difference of the field (VoxelMorph [69]).

    Kept by hand: MONAI's ``DiffusionLoss`` takes central differences on the interior voxels
    (half the step, other weights), a different number that would change every trained field."""
    n = _check_field(disp)
    return sum(torch.diff(disp, dim=2 + i).pow(2).mean() for i in range(n)) / n


def label_dice_loss(warped_onehot: torch.Tensor, fixed_onehot: torch.Tensor) -> torch.Tensor:
    """Soft Dice loss (MONAI, foreground channels) between warped and fixed one-hot labels [63][70]."""
    if warped_onehot.shape != fixed_onehot.shape:
        raise ValueError(f"shapes differ: {tuple(warped_onehot.shape)} vs {tuple(fixed_onehot.shape)}")
    return DiceLoss(include_background=False, smooth_nr=1e-5, smooth_dr=1e-5)(warped_onehot, fixed_onehot)


def jacobian_det(disp: torch.Tensor) -> torch.Tensor:
    """Jacobian determinant of ``x -> x + u(x)`` by forward differences, shape ``(B, *(spatial - 1))``.

    The differentiable, batched form for training losses. Evaluation uses
    :func:`corelib.metrics.jacobian_determinant` (NumPy, central differences, physical spacing,
    the convention of published folding percentages); both agree exactly on affine maps (tested).
    """
    n = _check_field(disp)
    grads = []
    for j in range(n):  # d u / d x_j
        g = torch.diff(disp, dim=2 + j)
        idx = [slice(None), slice(None)] + [slice(0, -1) if k != j else slice(None) for k in range(n)]
        grads.append(g[tuple(idx)])
    jac = torch.stack(grads, dim=2)  # (B, i, j, ...)
    eye = torch.eye(n, device=disp.device, dtype=disp.dtype).view(1, n, n, *([1] * n))
    jac = jac + eye
    return torch.linalg.det(jac.permute(0, *range(3, 3 + n), 1, 2))


def negative_jacobian_penalty(disp: torch.Tensor) -> torch.Tensor:
    """Anti-folding term: mean of ``relu(-det J)`` (ICNet [72] penalises negative Jacobians)."""
    return F.relu(-jacobian_det(disp)).mean()


def inverse_consistency(disp_ab: torch.Tensor, disp_ba: torch.Tensor) -> torch.Tensor:
    """Inverse-consistency loss ``mean_x |u_ab(x) + u_ba(x + u_ab(x))|^2 / ndim`` (ICNet [72]).

    Zero when the two maps are inverses. The squared distance is divided by the number of
    dimensions (a mean over the field's components), so ``sqrt`` of it is the distance divided
    by ``sqrt(ndim)``; :func:`corelib.registration.inverse_errors` gives the distance in voxels.
    """
    n = _check_field(disp_ab)
    if disp_ab.shape != disp_ba.shape:
        raise ValueError(f"shapes differ: {tuple(disp_ab.shape)} vs {tuple(disp_ba.shape)}")
    composed = disp_ab + warp_tensor(disp_ba, disp_ab, padding_mode="border")
    return composed.pow(2).sum(1).mean() / n
