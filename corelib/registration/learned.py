"""Learned registration: spatial transformer, VoxelMorph-style network, rigid regressor.

The warp and the scaling-and-squaring integration are MONAI's ``Warp`` and ``DVF2DDF``; their
convention is the chapter's (field ``(B, ndim, *spatial)`` in voxels, channel ``i`` = array axis
``i``, ``warped(x) = moving(x + u(x))``), checked in the unit tests with an identity field and a
known translation.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import DVF2DDF, Warp
from monai.networks.nets import UNet
from monai.networks.utils import one_hot as monai_one_hot
from torch import nn

from corelib import validate

__all__ = ["warp_tensor", "integrate_velocity", "RegNet", "RigidRegressor", "rigid_displacement", "rigid_inverse",
           "one_hot"]


def _check(moving: torch.Tensor, disp: torch.Tensor) -> None:
    if disp.ndim not in (4, 5) or disp.shape[1] != disp.ndim - 2:
        raise ValueError(f"field must be (B, 2, H, W) or (B, 3, D, H, W), got {tuple(disp.shape)}")
    if moving.ndim != disp.ndim or moving.shape[0] != disp.shape[0] or moving.shape[2:] != disp.shape[2:]:
        raise ValueError(f"image {tuple(moving.shape)} and field {tuple(disp.shape)} do not match "
                         "(need (B, C, *spatial) and (B, ndim, *spatial) with equal B and spatial size)")
    if not torch.isfinite(disp).all():
        raise ValueError("field contains NaN or infinite values")


def warp_tensor(moving: torch.Tensor, disp: torch.Tensor, mode: str = "bilinear",
                padding_mode: str = "border") -> torch.Tensor:
    """``moving(x + disp(x))`` with MONAI ``Warp`` (``mode`` "bilinear" or "nearest")."""
    # MONAI silently falls back to bilinear / border for a value it does not know
    mode = validate.one_of("mode", mode, ("bilinear", "nearest", "bicubic"), case_insensitive=True)
    padding_mode = validate.one_of("padding_mode", padding_mode, ("zeros", "border", "reflection"),
                                   case_insensitive=True)
    validate.tensor("moving", moving, finite=True)  # one NaN voxel would spread to its neighbours
    validate.tensor("disp", disp)
    _check(moving, disp)
    # a new Warp per call: MONAI's Warp caches its reference grid without checking dtype or device
    return Warp(mode=mode, padding_mode=padding_mode)(moving, disp)


def integrate_velocity(velocity: torch.Tensor, steps: int = 7) -> torch.Tensor:
    """Displacement of the flow of a stationary velocity field (scaling and squaring, MONAI ``DVF2DDF``).

    Diffeomorphic VoxelMorph [69]: the result is invertible when the steps are fine enough.
    """
    validate.positive_int("steps", steps)
    validate.tensor("velocity", velocity)
    _check(velocity[:, :1], velocity)
    return DVF2DDF(num_steps=steps, mode="bilinear", padding_mode="zeros")(velocity)


class RegNet(nn.Module):
    """VoxelMorph-style registration network [67][69]: U-Net on (moving, fixed) -> field, then warp.

    ``channels``: MONAI ``UNet`` widths (stride 2 between levels), small by default so that it
    trains on a CPU. ``field_factor``: the field is predicted on a grid ``field_factor`` times
    coarser and upsampled (smooth by construction, fewer unknowns). ``diffeomorphic``: the output
    is a velocity field integrated by scaling and squaring. ``forward`` returns ``(warped, disp)``.
    """

    def __init__(self, spatial_dims: int = 2, channels: Sequence[int] = (16, 32, 32, 32),
                 field_factor: int = 1, diffeomorphic: bool = False, integration_steps: int = 7) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        validate.positive_int("field_factor", field_factor)
        validate.int_sizes("channels", validate.nonempty("channels", channels), len(channels), min=1)
        validate.positive_int("integration_steps", integration_steps)
        self.spatial_dims, self.field_factor = spatial_dims, int(field_factor)
        self.diffeomorphic, self.integration_steps = diffeomorphic, integration_steps
        self.unet = UNet(spatial_dims, 2, channels[0], channels=tuple(channels),
                         strides=(2,) * (len(channels) - 1), num_res_units=1)
        conv = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
        self.head = nn.Sequential(nn.LeakyReLU(0.2), conv(channels[0], spatial_dims, 3, padding=1))
        nn.init.normal_(self.head[1].weight, std=1e-5)  # start at the identity (VoxelMorph's init)
        nn.init.zeros_(self.head[1].bias)
        self.multiple = 2 ** (len(channels) - 1)

    def field(self, moving: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        """Displacement (voxels) mapping fixed-image points into the moving image."""
        if moving.shape != fixed.shape or moving.ndim != self.spatial_dims + 2 or moving.shape[1] != 1:
            raise ValueError(f"moving {tuple(moving.shape)} and fixed {tuple(fixed.shape)} must both be "
                             f"(B, 1, *spatial) with {self.spatial_dims} spatial dims")
        if any(s % self.multiple for s in moving.shape[2:]):
            raise ValueError(f"spatial size {tuple(moving.shape[2:])} must be divisible by {self.multiple}")
        out = self.head(self.unet(torch.cat([moving, fixed], dim=1)))
        mode = "bilinear" if self.spatial_dims == 2 else "trilinear"
        size = moving.shape[2:]
        if self.field_factor > 1:  # work on a coarse grid, in coarse-voxel units
            coarse = [max(2, s // self.field_factor) for s in size]
            scale = torch.tensor([(s - 1) / (c - 1) for s, c in zip(size, coarse)], device=out.device,
                                 dtype=out.dtype).view(1, -1, *([1] * self.spatial_dims))
            out = F.interpolate(out, size=coarse, mode=mode, align_corners=True) / scale
        if self.diffeomorphic:
            out = integrate_velocity(out, self.integration_steps)
        if self.field_factor > 1:
            out = F.interpolate(out, size=size, mode=mode, align_corners=True) * scale
        return out

    def forward(self, moving: torch.Tensor, fixed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        disp = self.field(moving, fixed)
        return warp_tensor(moving, disp), disp


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(B, 1, *spatial)`` integer labels -> ``(B, num_classes, *spatial)`` float one-hot.

    MONAI's ``networks.utils.one_hot`` after the checks (which MONAI does not make: an
    out-of-range label would fail inside its ``scatter_``)."""
    if labels.ndim < 3 or labels.shape[1] != 1:
        raise ValueError(f"labels must be (B, 1, *spatial), got {tuple(labels.shape)}")
    validate.positive_int("num_classes", num_classes)
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels hold values {int(labels.min())}..{int(labels.max())}, outside the "
                         f"num_classes={num_classes} classes 0..{num_classes - 1}")
    return monai_one_hot(labels.long(), num_classes, dtype=torch.float32, dim=1)


def rigid_displacement(params: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """2D field of rigid transforms ``params = (angle_deg, t_row, t_col)`` about the image centre.

    Maps fixed point ``x`` to ``R (x - c) + c + t`` (rows, cols in pixels); returns ``(B, 2, H, W)``.
    """
    if params.ndim != 2 or params.shape[1] != 3:
        raise ValueError(f"params must be (B, 3) = (angle_deg, t_row, t_col), got {tuple(params.shape)}")
    validate.tensor("params", params, finite=True)
    if len(shape) != 2:
        raise ValueError(f"shape must be (H, W) (a 2D field), got {tuple(shape)}")
    validate.int_sizes("shape", tuple(shape), 2, min=1)
    h, w = shape
    rr, cc = torch.meshgrid(torch.arange(h, dtype=params.dtype, device=params.device),
                            torch.arange(w, dtype=params.dtype, device=params.device), indexing="ij")
    y, x = rr - (h - 1) / 2, cc - (w - 1) / 2
    a = params[:, 0].view(-1, 1, 1) * math.pi / 180
    # rotation counter-clockwise in (x = col, y = row) coordinates, as ITK's Euler2D
    ny = torch.sin(a) * x + torch.cos(a) * y + params[:, 1].view(-1, 1, 1)
    nx = torch.cos(a) * x - torch.sin(a) * y + params[:, 2].view(-1, 1, 1)
    return torch.stack([ny - y, nx - x], dim=1)


def rigid_inverse(params: torch.Tensor) -> torch.Tensor:
    """Parameters of the inverse of :func:`rigid_displacement`'s transform (same centre)."""
    if params.ndim != 2 or params.shape[1] != 3:
        raise ValueError(f"params must be (B, 3) = (angle_deg, t_row, t_col), got {tuple(params.shape)}")
    a = -params[:, 0] * math.pi / 180
    tr, tc = params[:, 1], params[:, 2]
    # inverse: x = R^-1 (y - c - t) + c, so t' = -R^-1 t (R^-1 is the rotation by -angle)
    return torch.stack([-params[:, 0], -(torch.sin(a) * tc + torch.cos(a) * tr),
                        -(torch.cos(a) * tc - torch.sin(a) * tr)], dim=1)


class RigidRegressor(nn.Module):
    """Supervised rigid registration [58]-[60]: a CNN regresses (angle_deg, t_row, t_col) of a pair.

    Input ``(B, 2, H, W)`` = (moving, fixed); outputs are scaled by ``scales`` so that the last
    layer works in units of about 1.
    """

    def __init__(self, width: int = 16, scales: Sequence[float] = (10.0, 10.0, 10.0)) -> None:
        super().__init__()
        validate.positive_int("width", width)
        validate.sizes("scales", scales, 3)
        layers: list[nn.Module] = []
        c_in = 2
        for c in (width, 2 * width, 4 * width, 4 * width, 8 * width):
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c_in, 3)
        self.register_buffer("scales", torch.tensor(list(scales), dtype=torch.float32))

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        if pair.ndim != 4 or pair.shape[1] != 2:
            raise ValueError(f"pair must be (B, 2, H, W) = (moving, fixed), got {tuple(pair.shape)}")
        return self.head(self.features(pair)) * self.scales
