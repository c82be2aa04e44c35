"""Segmentation losses, SegAN and whole-volume evaluation: known answers, minima, bad inputs."""
import math

import numpy as np
import pytest
import torch

from corelib import segmentation as seg


def _perfect_logits(y, n=3, scale=30.0):
    return torch.nn.functional.one_hot(y, n).movedim(-1, 1).float() * scale - scale / 2


@pytest.fixture
def labels():
    y = torch.zeros(2, 8, 8, dtype=torch.long)
    y[:, 2:5, 2:5] = 1
    y[:, 5:7, 5:7] = 2
    return y


@pytest.mark.parametrize("name", seg.LOSSES)
def test_perfect_prediction_gives_minimum(name, labels):
    loss = seg.make_loss(name)
    perfect = float(loss(_perfect_logits(labels), labels))
    assert perfect == pytest.approx(0.0, abs=1e-3)
    wrong = float(loss(_perfect_logits((labels + 1) % 3), labels))
    assert wrong > perfect + 0.1


@pytest.mark.parametrize("name", seg.LOSSES)
def test_gradients_and_3d(name):
    logits = torch.randn(1, 3, 5, 6, 7, requires_grad=True)
    y = torch.randint(0, 3, (1, 1, 5, 6, 7))
    seg.make_loss(name)(logits, y).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_combo_known_case_by_hand():
    # two voxels, two classes, probabilities of class 1: 0.8 (truth 1) and 0.4 (truth 0)
    p1 = torch.tensor([0.8, 0.4])
    logits = torch.stack([torch.zeros(2), torch.log(p1 / (1 - p1))])[None]  # (1, 2, 2)
    y = torch.tensor([[1, 0]])
    alpha, beta = 0.5, 0.7
    wce = -(beta * math.log(0.8) + (1 - beta) * math.log(0.6)) / 2
    dice = 2 * 0.8 / (1 + 1.2)
    expected = alpha * wce + (1 - alpha) * (1 - dice)
    got = float(seg.ComboLoss(alpha, beta, smooth=0.0)(logits, y))
    assert got == pytest.approx(expected, rel=1e-5)


def test_bad_targets(labels):
    logits = torch.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match="outside the 3 classes"):
        seg.make_loss("dice")(logits, labels + 2)
    with pytest.raises(ValueError, match="does not match"):
        seg.make_loss("ce")(logits, labels[:, :4])
    with pytest.raises(ValueError, match="non-integer"):
        seg.make_loss("combo")(logits, labels.float() + 0.5)
    with pytest.raises(ValueError, match="unknown loss"):
        seg.make_loss("hinge")


def test_deep_supervision_weights(labels):
    base = seg.make_loss("ce")
    good, bad = _perfect_logits(labels), _perfect_logits((labels + 1) % 3)
    ds = seg.deep_supervision(base)
    assert float(ds([good, good], labels)) == pytest.approx(float(base(good, labels)))
    mixed = float(ds([good, bad], labels))
    assert mixed == pytest.approx((float(base(good, labels)) + 0.5 * float(base(bad, labels))) / 1.5, rel=1e-5)


def test_segan_loss_zero_for_truth_and_step_trains(labels):
    torch.manual_seed(0)
    critic = seg.SegANCritic(2, 3, features=(4, 8))
    img = torch.randn(2, 1, 8, 8)
    truth = torch.nn.functional.one_hot(labels, 3).movedim(-1, 1).float()
    assert float(seg.multiscale_l1(critic, img, truth, labels).detach()) == pytest.approx(0.0, abs=1e-6)
    net = seg.unet(2, 1, 3, channels=(4, 8))
    step = seg.SegANStep(critic, seg.make_loss("dice"))
    loss = step(net, (img, labels), torch.device("cpu"))
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    assert len(step.critic_loss) == 1 and all(p.abs().max() <= 0.05 + 1e-6 for p in critic.parameters())


def test_pad_predict_evaluate_round_trip():
    rng = np.random.default_rng(0)
    img = rng.normal(size=(5, 7, 6)).astype(np.float32)
    lab = np.zeros((5, 7, 6), np.uint8)
    lab[1:4, 2:5, 1:4] = 1
    lab[2:4, 5:6, 2:5] = 2
    pv = seg.pad_volumes([img], [lab], (8, 8, 8), ["a"])
    assert pv.images.shape == (1, 8, 8, 8) and np.array_equal(pv.original(0, pv.labels[0]), lab)

    def oracle(v):  # perfect "network": one-hot of the padded truth
        return torch.nn.functional.one_hot(torch.from_numpy(pv.labels[0]), 3).movedim(-1, 0).float()

    preds = seg.segment(oracle, pv)
    df = seg.evaluate(preds, [lab], spacing=1.0)
    row = seg.summary_row(df, names=["a", "p"], params=0)
    assert row["Dice mean"] == 1.0 and row["HD95 mm"] == 0.0 and row["ASD mm"] == 0.0
    empty = seg.evaluate([np.zeros_like(lab, dtype=np.int64)], [lab])
    assert empty.loc[0, "dice_1"] == 0.0 and np.isfinite(empty.loc[0, "hd95_1"]) and empty.loc[0, "empty"] == 2
    with pytest.raises(ValueError, match="outside the classes"):
        seg.evaluate([lab.astype(np.int64) * 2], [lab])
    with pytest.raises(ValueError, match="does not fit"):
        seg.pad_volumes([img], [lab], (4, 8, 8))


def test_inference_helpers_shapes():
    net = seg.unet(2, 1, 3, channels=(4, 8)).eval()
    vol = np.random.default_rng(0).normal(size=(6, 10, 9)).astype(np.float32)
    for ax in range(3):
        assert seg.predict_2d(net, vol, ax).shape == (3, 6, 10, 9)
    p = seg.predict_triplanar(net, vol, plane=(12, 12))
    assert p.shape == (3, 6, 10, 9) and torch.allclose(p.sum(0), torch.ones(6, 10, 9), atol=1e-5)
    net3 = seg.unet(3, 1, 3, channels=(4, 8)).eval()
    assert seg.predict_3d(net3, vol, roi_size=(4, 8, 8)).shape == (3, 6, 10, 9)
    pv = seg.pad_volumes([vol], [np.zeros(vol.shape, np.uint8)], (8, 12, 10))
    x, y = seg.slice_stack(pv, axes=(0, 1, 2), plane=(12, 12))
    assert x.shape == (8 + 12 + 10, 1, 12, 12) and y.shape == (30, 12, 12)
    xc, yc = seg.random_crops(pv, (4, 4, 4), n=3)
    assert xc.shape == (3, 1, 4, 4, 4) and yc.shape == (3, 4, 4, 4)


def test_keep_largest_components():
    lab = np.zeros((12, 12, 12), np.int64)
    lab[1:4, 1:4, 1:4] = 1          # 27 voxels
    lab[6:10, 6:10, 6:10] = 1       # 64 voxels
    lab[11, 0, 11] = 1              # an island
    lab[0:2, 8:10, 0:2] = 2         # one piece
    one = seg.keep_largest_components(lab, n=1)
    assert (one == 1).sum() == 64 and (one == 2).sum() == 8
    two = seg.keep_largest_components(lab, n=2)
    assert (two == 1).sum() == 27 + 64 and two[11, 0, 11] == 0
    assert np.array_equal(seg.keep_largest_components(lab, n=1, classes=[2]), lab)   # class 1 untouched
    diagonal = np.zeros((3, 3), np.int64)
    diagonal[0, 0] = diagonal[1, 1] = 1     # corners touch: one piece (8-connectivity in 2D)
    assert np.array_equal(seg.keep_largest_components(diagonal, n=1), diagonal)
    with pytest.raises(ValueError, match="integers"):
        seg.keep_largest_components(lab.astype(float))
    with pytest.raises(ValueError, match="n must"):
        seg.keep_largest_components(lab, n=0)
