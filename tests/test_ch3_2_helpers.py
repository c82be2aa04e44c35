"""Helpers shared by the chapter 3.2 notebooks: seg.pad_cases, seg.val_dice, seg.hippocampus_split."""
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from corelib import segmentation as seg
from corelib.data.registry import MIRROR_ENV

SHARED = Path(os.environ.get(MIRROR_ENV, "").strip()
              or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_mirror = pytest.mark.skipif(not (SHARED / "msd").is_dir(), reason="offline mirror not present")


def case(shape, value=1, seed=0):
    rng = np.random.default_rng(seed)
    lab = np.zeros(shape, np.int64)
    lab[1:3, 1:3, 1:3] = value
    img = rng.normal(size=shape).astype(np.float32) + 3 * lab
    return SimpleNamespace(image=SimpleNamespace(array=img), label=SimpleNamespace(array=lab))


def test_pad_cases_pads_by_id_and_keeps_the_ids():
    by_id = {"a": case((4, 5, 6)), "b": case((6, 6, 6), value=2)}
    pv = seg.pad_cases(by_id, ["b", "a"], (8, 8, 8))
    assert pv.ids == ["b", "a"] and pv.images.shape == (2, 8, 8, 8)
    np.testing.assert_array_equal(pv.original(1, pv.labels[1]), by_id["a"].label.array)
    assert pv.original(0, pv.labels[0]).max() == 2
    ref = seg.pad_volumes([by_id["a"].image.array], [by_id["a"].label.array], (8, 8, 8))
    np.testing.assert_allclose(pv.images[1], ref.images[0])


def test_pad_cases_names_a_missing_id_and_a_bad_case():
    with pytest.raises(KeyError, match="'c'"):
        seg.pad_cases({"a": case((4, 4, 4))}, ["c"], (8, 8, 8))
    with pytest.raises(TypeError, match=".image and .label"):
        seg.pad_cases({"a": np.zeros((4, 4, 4))}, ["a"], (8, 8, 8))


class Oracle(nn.Module):
    """Predicts the stored label map of the volume it is given (looked up by content)."""

    def __init__(self, pv, wrong=()):
        super().__init__()
        self.pv, self.wrong = pv, set(wrong)

    def forward(self, volume):
        i = next(k for k, v in enumerate(self.pv.images) if np.array_equal(v, volume))
        lab = torch.as_tensor(self.pv.labels[i])
        if i in self.wrong:
            lab = torch.zeros_like(lab)
        return nn.functional.one_hot(lab, 3).permute(3, 0, 1, 2).float()


def test_val_dice_is_one_for_perfect_predictions_and_averages_over_volumes():
    pv = seg.pad_cases({"a": case((4, 5, 6)), "b": case((6, 6, 6), value=2)}, ["a", "b"], (8, 8, 8))
    fn = seg.val_dice(lambda m, v: m(v), pv)
    assert fn(Oracle(pv)) == {"dice": pytest.approx(1.0)}
    # volume 1 predicted empty: its Dice is 0 (class 2 missed; class 1 absent from both is skipped)
    assert fn(Oracle(pv, wrong=[1]))["dice"] == pytest.approx(0.5)
    only_first = seg.val_dice(lambda m, v: m(v), pv, indices=[0])
    assert only_first(Oracle(pv, wrong=[1]))["dice"] == pytest.approx(1.0)


def test_val_dice_checks_its_inputs():
    pv = seg.pad_cases({"a": case((4, 4, 4))}, ["a"], (8, 8, 8))
    with pytest.raises(IndexError, match="out of range"):
        seg.val_dice(lambda m, v: m(v), pv, indices=[3])
    with pytest.raises(ValueError, match="at least one"):
        seg.val_dice(lambda m, v: m(v), pv, indices=[])
    unlabelled = seg.pad_volumes([pv.images[0]], None, (8, 8, 8))
    with pytest.raises(ValueError, match="labelled"):
        seg.val_dice(lambda m, v: m(v), unlabelled)


@needs_mirror
def test_hippocampus_split_is_disjoint_padded_and_seeded(monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(SHARED))
    h = seg.hippocampus_split()
    ids = [set(h.split[k]) for k in ("train", "val", "test")]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert h.train.images.shape[1:] == seg.HIPPOCAMPUS_PAD
    assert len(h.targets) == len(h.split["test"]) == len(h.test.images)
    np.testing.assert_array_equal(h.test.original(0, h.test.labels[0]), h.targets[0])
    assert h.split == seg.hippocampus_split().split


def test_full_size_vnet_builds_and_keeps_the_input_size():
    net = seg.vnet(1, 3, width=None).eval()          # MONAI VNet, the `full` profile's network
    with torch.no_grad():
        out = net(torch.zeros(1, 1, 20, 24, 18))
    assert out.shape == (1, 3, 20, 24, 18)
