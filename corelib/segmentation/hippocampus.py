"""The hippocampus set-up shared by notebooks 3.2a-c: MSD Task04, one split by subject, padded volumes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from corelib.segmentation.volumes import PaddedVolumes, pad_cases

__all__ = ["HIPPOCAMPUS_PAD", "HippocampusSplit", "hippocampus_split"]

HIPPOCAMPUS_PAD = (48, 64, 48)   # every MSD Task04 case fits (the largest is 43 x 59 x 47 voxels)


@dataclass
class HippocampusSplit:
    """Cases by id, the split's id lists, the padded ``train``/``val``/``test`` volumes, the test
    label maps in their original extents (``targets``) and the voxel ``spacing`` in mm."""

    by_id: dict
    split: dict[str, list[str]]
    train: PaddedVolumes
    val: PaddedVolumes
    test: PaddedVolumes
    targets: list[np.ndarray]
    spacing: tuple[float, ...]


def hippocampus_split(shape: Sequence[int] = HIPPOCAMPUS_PAD, fractions: Sequence[float] = (0.7, 0.15, 0.15),
                      seed: int = 0) -> HippocampusSplit:
    """Load every MSD Task04 case, split by subject (seeded) and centre-pad each split to ``shape``."""
    from corelib import data

    by_id = {c.case_id: c for c in data.load_hippocampus()}
    split = data.split_by_subject(list(by_id), fractions, seed=seed)
    pads = {k: pad_cases(by_id, split[k], shape) for k in ("train", "val", "test")}
    targets = [np.asarray(by_id[i].label.array) for i in split["test"]]
    spacing = tuple(float(s) for s in by_id[split["test"][0]].image.spacing)
    return HippocampusSplit(by_id, split, pads["train"], pads["val"], pads["test"], targets, spacing)
