"""Slices and training pools for the contrast-translation notebooks.

- :func:`brain_slab`: axial slices of a brain volume in one square box around the brain, resized
  to a small grid (area averaging for images, nearest for labels), intensities scaled by a
  percentile of the brain;
- :func:`elastic_pool`: a fixed pool of randomly deformed copies of training slices, with one
  random elastic deformation per copy applied identically to every contrast (MONAI
  ``Rand2DElasticd``), and optionally a random rigid misalignment of some contrasts only
  (MONAI ``RandAffined``);
- :class:`PoolBatches`: endless random batches from pools, paired (the same indices in every
  pool) or unpaired (independent indices: the pools never meet as pairs).
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from corelib import validate

__all__ = ["brain_slab", "elastic_pool", "PoolBatches"]


def brain_slab(volume: np.ndarray, brain: np.ndarray, zs: Sequence[int], size: int,
               labels: bool = False, percentile: float = 99.5, margin: int = 4) -> np.ndarray:
    """Axial slices ``zs`` of an (x, y, z) ``volume`` as an (n, size, size) float32 stack.

    The box is the square around the brain's (``brain`` > 0) in-plane bounding box over the whole
    volume, ``margin`` voxels wider, so every slice of a volume shares one box and one scale.
    Images are divided by the ``percentile``-th percentile of their brain voxels and clipped to
    ``[0, 1]``; with ``labels=True`` the values are kept and resized by nearest neighbour.
    """
    v = validate.finite_array("volume", volume, ndim=3)
    b = np.asarray(brain) > 0
    if b.shape != v.shape:
        raise ValueError(f"brain {b.shape} and volume {v.shape} must have the same shape")
    if not b.any():
        raise ValueError("brain is empty")
    size = validate.positive_int("size", size)
    zs = [validate.integer("zs", z, min=0, max=v.shape[2] - 1) for z in zs]
    if not zs:
        raise ValueError("zs is empty")
    (x0, y0, _), (x1, y1, _) = np.argwhere(b).min(0), np.argwhere(b).max(0) + 1
    side = max(x1 - x0, y1 - y0) + 2 * margin
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    pad = side
    vp = np.pad(v, ((pad, pad), (pad, pad), (0, 0)))
    xs, ys = cx - side // 2 + pad, cy - side // 2 + pad
    crop = np.stack([vp[xs:xs + side, ys:ys + side, z] for z in zs]).astype(np.float32)
    t = torch.as_tensor(crop)[:, None]
    if labels:
        return F.interpolate(t, size=(size, size), mode="nearest")[:, 0].numpy()
    ref = float(np.percentile(v[b], validate.in_range("percentile", percentile, 0, 100,
                                                      lo_open=True)))
    if not ref > 0:
        raise ValueError(f"the brain's {percentile}th percentile is {ref}: nothing to scale by")
    out = F.interpolate(t, size=(size, size), mode="area")[:, 0].numpy() / ref
    return np.clip(out, 0, 1).astype(np.float32)


def elastic_pool(images: dict[str, np.ndarray], n: int, seed: int = 0, spacing: float = 16.0,
                 magnitude: tuple[float, float] = (1.0, 3.0), rotate: float = 0.1,
                 scale: float = 0.08, misalign: Sequence[str] = (), shift: float = 2.0,
                 misalign_rotate: float = 0.08) -> dict[str, np.ndarray]:
    """``n`` randomly deformed copies of random slices of the (m, H, W) stacks in ``images``.

    Every copy draws one slice index and one elastic deformation (control-point ``spacing`` and
    ``magnitude`` in pixels, small random rotation and scaling), applied identically to all
    keys, so paired contrasts stay aligned. Keys in ``misalign`` are then moved by a further
    random rigid transform of their own (shift up to ``shift`` pixels, rotation up to
    ``misalign_rotate`` radians): deliberately misaligned pairs. Returns ``{key: (n, H, W)}``.
    """
    from monai.transforms import Rand2DElasticd, RandAffined

    if not images:
        raise ValueError("images is empty")
    stacks = {k: validate.finite_array(k, v, ndim=3).astype(np.float32) for k, v in images.items()}
    shapes = {v.shape for v in stacks.values()}
    if len(shapes) != 1:
        raise ValueError(f"the stacks of images must have the same shape, got {sorted(shapes)}")
    unknown = set(misalign) - set(stacks)
    if unknown:
        raise ValueError(f"misalign names {sorted(unknown)}, not keys of images {sorted(stacks)}")
    n = validate.positive_int("n", n)
    keys = list(stacks)
    elastic = Rand2DElasticd(keys, spacing=spacing, magnitude_range=magnitude, prob=1.0,
                             rotate_range=rotate, scale_range=scale, padding_mode="zeros")
    elastic.set_random_state(seed)
    moves = None
    if misalign:
        moves = RandAffined(list(misalign), prob=1.0, rotate_range=misalign_rotate,
                            translate_range=(shift, shift), padding_mode="zeros")
        moves.set_random_state(seed + 1)
    rng = np.random.default_rng(seed)
    m = next(iter(shapes))[0]
    out: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for i in rng.integers(0, m, n):
        item = elastic({k: stacks[k][i][None] for k in keys})
        if moves is not None:
            item = moves(item)
        for k in keys:
            out[k].append(np.asarray(item[k])[0])
    return {k: np.stack(v).astype(np.float32) for k, v in out.items()}


class PoolBatches(torch.utils.data.IterableDataset):
    """Endless random batches ``(pool_0[i], pool_1[j], ...)`` as (batch, 1, H, W) tensors.

    ``paired=True`` draws the same indices in every pool (aligned pairs); ``paired=False`` draws
    them independently for each pool (unpaired: the pools may differ in length). Seeded.
    """

    def __init__(self, *pools: np.ndarray, batch: int, paired: bool = True, seed: int = 0) -> None:
        if not pools:
            raise ValueError("give at least one pool")
        self.pools = [torch.as_tensor(validate.finite_array(f"pools[{i}]", p, ndim=3)
                                      .astype(np.float32))[:, None] for i, p in enumerate(pools)]
        if paired and len({len(p) for p in self.pools}) != 1:
            raise ValueError(f"paired pools must have the same length, got "
                             f"{[len(p) for p in self.pools]}")
        self.batch, self.paired, self.seed = validate.positive_int("batch", batch), paired, seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        g = torch.Generator().manual_seed(self.seed)
        while True:
            if self.paired:
                idx = torch.randint(len(self.pools[0]), (self.batch,), generator=g)
                yield tuple(p[idx] for p in self.pools)
            else:
                yield tuple(p[torch.randint(len(p), (self.batch,), generator=g)]
                            for p in self.pools)
