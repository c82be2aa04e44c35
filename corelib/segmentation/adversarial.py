"""Adversarial segmentation: SegAN (Xue et al. [89]).

The critic sees the image masked by the segmentation (prediction probabilities or the one-hot
ground truth, one masked copy per foreground class), extracts features at several scales, and the
loss is the mean absolute difference between the two feature pyramids (the multi-scale L1 loss).
The segmentor minimises it (here plus a supervised loss), the critic maximises it.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from corelib import validate
from corelib.segmentation.losses import check_target

__all__ = ["SegANCritic", "SegANStep", "multiscale_l1"]


class SegANCritic(nn.Module):
    """SegAN critic [89]: strided conv - norm - LeakyReLU stages; every stage's output is a feature scale.

    Input: ``n_classes - 1`` channels (the image times each foreground class map), 2D or 3D.
    """

    def __init__(self, spatial_dims: int = 2, n_classes: int = 3, features: Sequence[int] = (16, 32, 64)):
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
        validate.integer("n_classes", n_classes, min=2)  # the critic sees n_classes - 1 masked copies
        for f in validate.nonempty("features", features):
            validate.positive_int("features", f)
        conv = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
        norm = nn.InstanceNorm2d if spatial_dims == 2 else nn.InstanceNorm3d
        chans = [n_classes - 1, *features]
        self.in_channels = n_classes - 1
        self.stages = nn.ModuleList(
            nn.Sequential(conv(a, b, 4, stride=2, padding=1), norm(b, affine=True), nn.LeakyReLU(0.2, inplace=True))
            for a, b in zip(chans[:-1], chans[1:]))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim < 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"critic expects (B, {self.in_channels}, *spatial), got {tuple(x.shape)}")
        feats = [x]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        return feats


def _masked(image: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Image times each foreground class map: ``(B, C-1, *spatial)``."""
    return image * maps[:, 1:]


def multiscale_l1(critic: SegANCritic, image: torch.Tensor, probs: torch.Tensor,
                  target: torch.Tensor) -> torch.Tensor:
    """SegAN's multi-scale L1 loss [89]: mean over scales of ``|f(image*probs) - f(image*truth)|``.

    ``probs`` are softmax probabilities ``(B, C, *spatial)``; ``target`` an integer label map.
    """
    target = check_target(probs, target)
    onehot = F.one_hot(target, probs.shape[1]).movedim(-1, 1).to(probs.dtype)
    fp, ft = critic(_masked(image, probs)), critic(_masked(image, onehot))
    return sum(F.l1_loss(a, b) for a, b in zip(fp, ft)) / len(fp)


class SegANStep:
    """A ``batch_fn`` for :func:`corelib.train.fit` that trains SegAN [89].

    Each call first updates the critic (gradient ascent on the multi-scale L1 loss, segmentation
    detached; weights clipped to ``clip`` as in the paper), then returns the segmentor's loss
    ``supervised(logits, y) + weight * multiscale_l1`` for ``fit`` to step.
    """

    def __init__(self, critic: SegANCritic, supervised: nn.Module, weight: float = 1.0,
                 lr: float = 1e-3, clip: float | None = 0.05):
        validate.nonnegative("weight", weight)
        validate.positive("lr", lr)
        if clip is not None:
            validate.positive("clip", clip)
        self.critic, self.supervised, self.weight, self.clip = critic, supervised, weight, clip
        self.opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.999))
        self.critic_loss: list[float] = []

    def __call__(self, model: nn.Module, batch, device: torch.device) -> torch.Tensor:
        x, y = (t.to(device) for t in batch)
        self.critic.to(device).train()
        logits = model(x)
        probs = torch.softmax(logits, 1)
        self.opt.zero_grad(set_to_none=True)
        c_loss = -multiscale_l1(self.critic, x, probs.detach(), y)
        c_loss.backward()
        self.opt.step()
        if self.clip is not None:
            with torch.no_grad():
                for p in self.critic.parameters():
                    p.clamp_(-self.clip, self.clip)
        self.critic_loss.append(float(-c_loss.detach()))
        for p in self.critic.parameters():
            p.requires_grad_(False)
        try:
            adv = multiscale_l1(self.critic, x, probs, y)
        finally:
            for p in self.critic.parameters():
                p.requires_grad_(True)
        return self.supervised(logits, y) + self.weight * adv
