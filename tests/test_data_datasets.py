"""Subject-level splits and the slice / patch torch datasets."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from corelib.data.datasets import split_by_subject

IDS = [f"case_{k:03d}" for k in range(40)]


# -------------------------------------------------------------------------------------- splits
def test_split_is_deterministic_disjoint_and_covering():
    a, b = split_by_subject(IDS, seed=3), split_by_subject(IDS, seed=3)
    assert a == b and list(a) == ["train", "val", "test"]
    assert split_by_subject(IDS, seed=4) != a
    together = a["train"] + a["val"] + a["test"]
    assert sorted(together) == sorted(IDS) and len(set(together)) == len(IDS)
    assert [len(a[k]) for k in ("train", "val", "test")] == [28, 6, 6]


@pytest.mark.parametrize("n", [3, 4, 5, 7])
def test_small_splits_get_one_id_each(n):
    split = split_by_subject(IDS[:n])
    assert all(len(v) >= 1 for v in split.values())
    assert sum(len(v) for v in split.values()) == n


def test_zero_fraction_split_is_empty():
    split = split_by_subject(IDS[:10], fractions=(0.8, 0.2, 0.0))
    assert split["test"] == [] and len(split["train"]) == 8


@pytest.mark.parametrize("fractions", [(0.5, 0.5, 0.5), (0.7, 0.3), (1.2, -0.1, -0.1), (float("nan"), 0.5, 0.5)])
def test_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_by_subject(IDS, fractions=fractions)


def test_duplicate_ids():
    with pytest.raises(ValueError, match="duplicate subject ids.*case_001"):
        split_by_subject(IDS + ["case_001"])


# ------------------------------------------------------------------------------- slice datasets
