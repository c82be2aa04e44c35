"""Subject-level splits: ``split_by_subject(ids)`` gives disjoint lists of volume ids, so that
slices or patches of one subject never leak across train/val/test (the chapters build their
slices and patches from each split's own volumes).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from corelib import validate

__all__ = ["split_by_subject"]

_SPLITS = ("train", "val", "test")


def split_by_subject(ids: Sequence[str], fractions: Sequence[float] = (0.7, 0.15, 0.15),
                     seed: int = 0) -> dict[str, list[str]]:
    """Split subject ids into ``train``/``val``/``test`` lists: seeded, disjoint, covering all ids.

    ``fractions`` must be three non-negative numbers summing to 1 (at least one positive). Each
    split with a non-zero fraction gets at least one id when there are enough ids.

    Kept by hand rather than two calls of ``sklearn.model_selection.train_test_split``: those
    draw another permutation and round the split sizes differently, so every notebook's subject
    split (and its numbers) would change; subjects carry no class label to stratify by here.
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
