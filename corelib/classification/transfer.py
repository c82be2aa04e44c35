"""Transfer learning without downloads: self-supervised pretraining on the book's MR/CT slices (CL2, [96]-[99]).

ImageNet weights cannot be fetched here, so the source task is real but local: predict the rotation
(0/90/180/270 degrees) of 28 px crops of real MR (MNI152, Colin27, BrainWeb) and CT (InVesalius head
CT) slices (Gidaris et al. 2018's pretext). The pretrained network is then transferred both ways the
survey names: frozen features + a classical classifier, and fine-tuning.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch import nn

from corelib import validate

__all__ = ["pretext_slices", "RotationStream", "replace_head", "set_backbone_trainable", "deep_features"]


def _slices_of(vol: np.ndarray, axis: int, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    lo, hi = int(vol.shape[axis] * 0.25), int(vol.shape[axis] * 0.75)
    return [vol[(slice(None),) * axis + (int(k),)] for k in rng.integers(lo, hi, n)]


def pretext_slices(n: int = 2000, size: int = 28, seed: int = 0, sources: tuple[str, ...] = ("mni152", "colin27", "head_ct")
                   ) -> np.ndarray:
    """``n`` random square crops (40-90 % of the slice side, at least ``size`` px, enough anatomy to show an orientation) of real MR/CT slices, resized to ``size`` px, in [0, 1]."""
    import torch.nn.functional as F

    from corelib import data

    validate.integer("n", n)
    validate.integer("size", size)
    if n < 1 or size < 8:
        raise ValueError(f"need n >= 1 and size >= 8, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    vols = []
    for s in sources:
        if s == "mni152":
            vols.append(data.load_mni152("t1", resolution=1).array)  # already in [0, 1]
        elif s == "colin27":
            v = data.load_colin27("ch2").array
            vols.append(np.clip(v / np.percentile(v, 99.5), 0, 1))
        elif s == "head_ct":
            v = data.load_head_ct().array.astype(np.float32)
            level, width = data.CT_WINDOWS["soft"]
            vols.append(np.clip((v - level + width / 2) / width, 0, 1))
        else:
            raise ValueError(f"unknown source {s!r}; use mni152, colin27, head_ct")
    out = np.empty((n, size, size), np.float32)
    per = min(40, int(np.ceil(n / (3 * len(vols)))))
    pool = [sl for v in vols for ax in range(3) for sl in _slices_of(v, ax, per, rng)]
    for i in range(n):
        sl = pool[i % len(pool)]
        side = max(size, int(min(sl.shape) * rng.uniform(0.4, 0.9)))
        y0, x0 = rng.integers(0, sl.shape[0] - side + 1), rng.integers(0, sl.shape[1] - side + 1)
        crop = torch.as_tensor(np.ascontiguousarray(sl[y0:y0 + side, x0:x0 + side]), dtype=torch.float32)
        out[i] = F.adaptive_avg_pool2d(crop[None, None], size)[0, 0].numpy()  # area averaging = anti-aliased
    return np.clip(out, 0, 1)


class RotationStream:
    """``steps`` batches (rotated images, k) with k in {0, 1, 2, 3} quarter turns, seeded."""

    def __init__(self, images: torch.Tensor, batch_size: int = 64, steps: int = 100, seed: int = 0):
        if images.ndim != 4:
            raise ValueError(f"expected (N, C, H, W) images, got {tuple(images.shape)}")
        if images.shape[-1] != images.shape[-2]:
            raise ValueError("rotation prediction needs square images")
        self.x, self.batch_size, self.steps, self.seed = images, batch_size, steps, seed

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed)
        for _ in range(self.steps):
            idx = torch.randint(0, len(self.x), (self.batch_size,), generator=g)
            k = torch.randint(0, 4, (self.batch_size,), generator=g)
            xb = torch.stack([torch.rot90(self.x[i], int(r), dims=(-2, -1)) for i, r in zip(idx, k)])
            yield xb, k


def replace_head(model: nn.Module, num_classes: int, seed: int = 0) -> nn.Module:
    """Give a pretrained net a fresh last layer ``fc`` for the target task (in place; returns the model)."""
    validate.integer("num_classes", num_classes, min=2)
    if not isinstance(getattr(model, "fc", None), nn.Linear):
        raise ValueError(f"model must have a linear last layer .fc, got {type(getattr(model, 'fc', None)).__name__}")
    torch.manual_seed(seed)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def set_backbone_trainable(model: nn.Module, trainable: bool) -> nn.Module:
    """Freeze (``False``) or unfreeze every parameter except those of ``fc``."""
    for name, p in model.named_parameters():
        p.requires_grad = trainable or name.startswith("fc.")
    return model


@torch.no_grad()
def deep_features(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """Penultimate features ``model.forward_features`` (N, D), eval mode."""
    validate.positive_int("batch_size", batch_size)
    validate.nonempty("x", x)
    model.eval()
    dev = next(model.parameters()).device
    return torch.cat([model.forward_features(x[i:i + batch_size].to(dev)).float().cpu()
                      for i in range(0, len(x), batch_size)]).numpy()
