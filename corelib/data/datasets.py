"""Torch datasets of 2D slices and 3D patches, and subject-level splits.

Split by subject first, then build datasets: ``split_by_subject(ids)`` gives disjoint lists of
volume ids, and each split's :class:`SliceDataset` / :class:`PatchDataset` is built only from its
own volumes, so slices or patches of one subject never leak across train/val/test. Both datasets
expose ``subject_of(index)`` so this can be checked.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from corelib import validate

__all__ = ["PatchDataset", "SliceDataset", "split_by_subject"]

_SPLITS = ("train", "val", "test")


def split_by_subject(ids: Sequence[str], fractions: Sequence[float] = (0.7, 0.15, 0.15),
                     seed: int = 0) -> dict[str, list[str]]:
    """Split subject ids into ``train``/``val``/``test`` lists: seeded, disjoint, covering all ids.

    ``fractions`` must be three non-negative numbers summing to 1 (at least one positive). Each
    split with a non-zero fraction gets at least one id when there are enough ids.
    """
    validate.nonempty("ids", ids)  # an empty list is not a split
    validate.integer("seed", seed, min=0)
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate subject ids: {dupes[:10]}")
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or not np.isfinite(fr).all() or (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {tuple(fractions)}")
    n = len(ids)
    counts = np.floor(fr * n).astype(int)
    # hand out the remainder by largest fractional part, then make sure non-zero splits get one
    for i in np.argsort(-(fr * n - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    for i in np.flatnonzero((fr > 0) & (counts == 0)):
        donor = int(np.argmax(counts))
        if counts[donor] > 1:
            counts[donor] -= 1
            counts[i] += 1
    order = np.random.default_rng(seed).permutation(n)
    shuffled = [ids[j] for j in order]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return {name: shuffled[bounds[k]:bounds[k + 1]] for k, name in enumerate(_SPLITS)}


def _check_arrays(volumes: Sequence[np.ndarray], labels: Sequence[np.ndarray] | None,
                  ndim: int) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Validate dims, finiteness and image/label shape agreement; return float32/int64 arrays."""
    if len(volumes) == 0:
        raise ValueError("no volumes given")
    vols = []
    for k, v in enumerate(volumes):
        a = np.asarray(getattr(v, "array", v))
        if a.ndim != ndim:
            raise ValueError(f"volume {k} has shape {a.shape}; expected a {ndim}D array")
        if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
            raise ValueError(f"volume {k} has dtype {a.dtype}; expected real numbers")
        a = a.astype(np.float32, copy=False)
        if not np.isfinite(a).all():
            raise ValueError(f"volume {k} contains NaN or infinite values")
        vols.append(a)
    if labels is None:
        return vols, None
    if len(labels) != len(vols):
        raise ValueError(f"{len(vols)} volumes but {len(labels)} label arrays")
    labs = []
    for k, (v, lab) in enumerate(zip(vols, labels)):
        b = np.asarray(getattr(lab, "array", lab))
        if b.shape != v.shape:
            raise ValueError(f"label {k} has shape {b.shape} but volume {k} has shape {v.shape}")
        if np.issubdtype(b.dtype, np.floating) and not (np.isfinite(b).all() and (b == np.round(b)).all()):
            raise ValueError(f"label {k} has NaN or non-integer values")
        labs.append(b.astype(np.int64, copy=False))
    return vols, labs


def _subject_ids(subjects: Sequence[str] | None, n: int) -> list[str]:
    if subjects is None:
        return [str(i) for i in range(n)]
    if len(subjects) != n:
        raise ValueError(f"{n} volumes but {len(subjects)} subject ids")
    return [str(s) for s in subjects]


class SliceDataset(Dataset):
    """2D slices along ``axis`` of 3D volumes: ``(1, H, W)`` float32 tensors, with ``(H, W)`` long labels.

    Give one split's volumes only (see :func:`split_by_subject`). Slices are dropped when
    ``keep(image_slice, label_slice)`` is false or when their label has fewer than
    ``min_foreground`` non-zero pixels. ``transform`` is applied to ``(image, label)`` (or to the
    image alone when there are no labels) and must return the same structure.
    """

    def __init__(self, volumes: Sequence[np.ndarray], labels: Sequence[np.ndarray] | None = None,
                 axis: int = 2, subjects: Sequence[str] | None = None,
                 keep: Callable[[np.ndarray, np.ndarray | None], bool] | None = None,
                 min_foreground: int = 0, transform: Callable | None = None) -> None:
        self.volumes, self.labels = _check_arrays(volumes, labels, ndim=3)
        if axis not in (0, 1, 2, -1, -2, -3):
            raise ValueError(f"axis must be 0, 1 or 2, got {axis}")
        if min_foreground and self.labels is None:
            raise ValueError("min_foreground needs labels")
        self.axis = axis % 3
        self.subjects = _subject_ids(subjects, len(self.volumes))
        self.transform = transform
        self.index: list[tuple[int, int]] = []
        for v, vol in enumerate(self.volumes):
            for s in range(vol.shape[self.axis]):
                img, lab = self._slice(v, s)
                if lab is not None and np.count_nonzero(lab) < min_foreground:
                    continue
                if keep is not None and not keep(img, lab):
                    continue
                self.index.append((v, s))

    def _slice(self, v: int, s: int) -> tuple[np.ndarray, np.ndarray | None]:
        img = np.take(self.volumes[v], s, axis=self.axis)
        lab = None if self.labels is None else np.take(self.labels[v], s, axis=self.axis)
        return img, lab

    def __len__(self) -> int:
        return len(self.index)

    def subject_of(self, index: int) -> str:
        """Subject id of the volume that item ``index`` comes from."""
        return self.subjects[self.index[index][0]]

    def __getitem__(self, index: int):
        img, lab = self._slice(*self.index[index])
        image = torch.from_numpy(np.ascontiguousarray(img))[None]
        if lab is None:
            return self.transform(image) if self.transform else image
        label = torch.from_numpy(np.ascontiguousarray(lab))
        return self.transform(image, label) if self.transform else (image, label)


class PatchDataset(Dataset):
    """Random 3D patches: ``(1, D, H, W)`` float32 tensors, with ``(D, H, W)`` long labels.

    Item ``i`` is patch ``i % samples_per_volume`` of volume ``i // samples_per_volume``; its
    position is drawn from a generator seeded by ``(seed, i)``, so the same index always gives the
    same patch. Volumes smaller than ``patch_size`` are padded (``pad_value`` for images, 0 for
    labels) symmetrically.
    """

    def __init__(self, volumes: Sequence[np.ndarray], labels: Sequence[np.ndarray] | None = None,
                 patch_size: Sequence[int] = (32, 32, 32), samples_per_volume: int = 8,
                 seed: int = 0, subjects: Sequence[str] | None = None, pad_value: float = 0.0,
                 transform: Callable | None = None) -> None:
        self.volumes, self.labels = _check_arrays(volumes, labels, ndim=3)
        self.patch_size = tuple(int(p) for p in patch_size)
        if len(self.patch_size) != 3 or min(self.patch_size) < 1:
            raise ValueError(f"patch_size must be three positive ints, got {tuple(patch_size)}")
        if samples_per_volume < 1:
            raise ValueError(f"samples_per_volume must be at least 1, got {samples_per_volume}")
        self.samples_per_volume = int(samples_per_volume)
        self.seed = int(seed)
        self.subjects = _subject_ids(subjects, len(self.volumes))
        self.pad_value = float(pad_value)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.volumes) * self.samples_per_volume

    def subject_of(self, index: int) -> str:
        """Subject id of the volume that item ``index`` comes from."""
        return self.subjects[index // self.samples_per_volume]

    def _pad(self, a: np.ndarray, value: float) -> np.ndarray:
        extra = [max(p - s, 0) for p, s in zip(self.patch_size, a.shape)]
        if not any(extra):
            return a
        return np.pad(a, [(e // 2, e - e // 2) for e in extra], constant_values=value)

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} patches")
        v = index // self.samples_per_volume
        img = self._pad(self.volumes[v], self.pad_value)
        rng = np.random.default_rng([self.seed, index])
        start = [int(rng.integers(0, s - p + 1)) for s, p in zip(img.shape, self.patch_size)]
        box = tuple(slice(o, o + p) for o, p in zip(start, self.patch_size))
        image = torch.from_numpy(np.ascontiguousarray(img[box]))[None]
        if self.labels is None:
            return self.transform(image) if self.transform else image
        label = torch.from_numpy(np.ascontiguousarray(self._pad(self.labels[v], 0)[box]))
        return self.transform(image, label) if self.transform else (image, label)
