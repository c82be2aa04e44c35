"""Tests for corelib.metrics: reference implementations, hand-computed cases and bad inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score

from corelib import metrics as m

RNG = np.random.default_rng(0)


def _noisy(shape: tuple[int, ...], sigma: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    ref = RNG.random(shape)
    return ref, np.clip(ref + sigma * RNG.standard_normal(shape), 0, 1)


# ----------------------------------------------------------------------------- PSNR / SSIM
def test_psnr_ssim_match_skimage_2d_and_3d():
    for shape in [(32, 40), (9, 16, 20)]:
        ref, test = _noisy(shape)
        assert m.psnr(ref, test, data_range=1.0) == pytest.approx(
            peak_signal_noise_ratio(ref, test, data_range=1.0)
        )
        assert m.ssim(ref, test, data_range=1.0) == pytest.approx(
            structural_similarity(ref, test, data_range=1.0)
        )


def test_psnr_hand_value_and_identical():
    ref = np.zeros((8, 8))
    test = ref + 0.1  # MSE = 0.01, data_range 1 -> 20 dB
    assert m.psnr(ref, test, data_range=1.0) == pytest.approx(20.0)
    assert m.psnr(ref, ref, data_range=1.0) == float("inf")
    assert m.ssim(test, test, data_range=1.0) == pytest.approx(1.0)


def test_per_slice_matches_skimage_on_each_slice():
    ref, test = _noisy((10, 12, 5))
    p = m.psnr(ref, test, data_range=1.0, per_slice=True, axis=2)
    s = m.ssim(ref, test, data_range=1.0, per_slice=True, axis=2)
    assert p.shape == s.shape == (5,)
    for k in range(5):
        assert p[k] == pytest.approx(peak_signal_noise_ratio(ref[..., k], test[..., k], data_range=1.0))
        assert s[k] == pytest.approx(structural_similarity(ref[..., k], test[..., k], data_range=1.0))


def test_psnr_accepts_torch():
    ref, test = _noisy((16, 16))
    assert m.psnr(torch.from_numpy(ref), torch.from_numpy(test), 1.0) == pytest.approx(
        m.psnr(ref, test, 1.0)
    )


@pytest.mark.parametrize("fn", [m.psnr, m.ssim])
def test_image_metric_bad_inputs(fn):
    ref, test = _noisy((16, 16))
    with pytest.raises(ValueError, match="same shape"):
        fn(ref, test[:8], data_range=1.0)
    bad = test.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fn(ref, bad, data_range=1.0)
    for dr in (0, -1.0, None, float("nan")):
        with pytest.raises(ValueError, match="data_range"):
            fn(ref, test, data_range=dr)
    with pytest.raises(ValueError, match="3D"):
        fn(ref, test, data_range=1.0, per_slice=True)
    with pytest.raises(ValueError, match="2D or 3D"):
        fn(ref.ravel(), test.ravel(), data_range=1.0)


# ----------------------------------------------------------------------------- Dice
def test_dice_perfect_and_hand_case():
    t = np.zeros((6, 6), int)
    t[:2, :2] = 1
    t[3:, 3:] = 2
    assert m.dice_per_class(t, t, labels=3) == {1: 1.0, 2: 1.0}
    p = t.copy()
    p[0, 0] = 0  # class 1: |P|=3, |T|=4, overlap 3 -> 6/7
    p[5, 0] = 2  # class 2: |P|=10, |T|=9, overlap 9 -> 18/19
    d = m.dice_per_class(p, t, labels=(1, 2))
    assert d[1] == pytest.approx(6 / 7)
    assert d[2] == pytest.approx(18 / 19)


def test_dice_empty_class_policy():
    t = np.zeros((4, 4), int)
    t[0, 0] = 1
    assert np.isnan(m.dice_per_class(t, t, labels=(1, 2))[2])  # default "nan"
    assert m.dice_per_class(t, t, labels=(1, 2), empty="one")[2] == 1.0
    p = np.zeros_like(t)
    assert m.dice_per_class(p, t, labels=(1, 2), empty="one")[1] == 0.0  # one side empty -> 0


def test_dice_bad_inputs():
    t = np.zeros((4, 4), int)
    with pytest.raises(ValueError, match="outside the classes"):
        m.dice_per_class(t + 3, t, labels=3)
    with pytest.raises(ValueError, match="same shape"):
        m.dice_per_class(t[:2], t, labels=3)
    with pytest.raises(ValueError, match="empty"):
        m.dice_per_class(t, t, labels=3, empty="zero")
    with pytest.raises(ValueError, match="integer"):
        m.dice_per_class(t + 0.5, t, labels=3)


# ----------------------------------------------------------------------------- HD95 / ASD
def _squares(offset: int = 3) -> tuple[np.ndarray, np.ndarray]:
    a = np.zeros((32, 32), bool)
    b = a.copy()
    a[10:20, 10:20] = True
    b[10:20, 10 + offset : 20 + offset] = True
    return a, b


def test_hd95_of_offset_squares():
    a, b = _squares(3)
    assert m.hd95(a, b, spacing=1.0) == pytest.approx(3.0)
    # the offset is along axis 1, whose voxels are 0.5 mm wide
    assert m.hd95(a, b, spacing=(2.0, 0.5)) == pytest.approx(1.5)
    assert m.hd95(a, a, spacing=1.0) == 0.0


def test_asd_hand_case():
    a, b = _squares(3)
    # Surface of A (36 pixels) to surface of B: left column 10 x 3, top/bottom rows near the left
    # corners 2 x (2 + 1), right column interior (inside B) 1+2+3+3+3+3+2+1 = 18, the rest 0:
    # 54 / 36 = 1.5 in each direction (the case is symmetric).
    assert m.asd(a, b, spacing=1.0) == pytest.approx(1.5)
    p = np.zeros((9, 9), bool)
    q = p.copy()
    p[2, 2] = q[2, 6] = True  # two single voxels 4 apart
    assert m.asd(p, q, spacing=2.0) == pytest.approx(8.0)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_surface_distances_match_monai():
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    rng = np.random.default_rng(1)
    a = np.zeros((12, 20, 18), bool)
    b = a.copy()
    a[3:9, 4:15, 5:12] = True
    b[4:10, 6:16, 3:12] = True
    b &= rng.random(b.shape) > 0.1
    sp = (2.0, 0.8, 1.1)
    t = lambda x: torch.from_numpy(x)[None, None].float()  # noqa: E731
    hd = compute_hausdorff_distance(t(a), t(b), include_background=True, percentile=95, spacing=sp)
    sd = compute_average_surface_distance(t(a), t(b), include_background=True, symmetric=True, spacing=sp)
    assert m.hd95(a, b, sp) == pytest.approx(hd.item())
    assert m.asd(a, b, sp) == pytest.approx(sd.item())
    both = m.surface_distances(a, b, sp)
    assert both == {"hd95": pytest.approx(hd.item()), "asd": pytest.approx(sd.item())}


def test_surface_empty_cases():
    a, _ = _squares()
    empty = np.zeros_like(a)
    for fn in (m.hd95, m.asd):
        assert fn(empty, empty, 1.0) == 0.0
        assert fn(a, empty, 1.0) == float("inf")
        assert fn(empty, a, 1.0) == float("inf")


def test_surface_bad_inputs():
    a, b = _squares()
    with pytest.raises(ValueError, match="spacing"):
        m.hd95(a, b, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        m.asd(a, b, spacing=0)
    with pytest.raises(ValueError, match="binary"):
        m.hd95(a * 2, b, spacing=1.0)
    with pytest.raises(ValueError, match="same shape"):
        m.hd95(a[:5], b, spacing=1.0)


# ----------------------------------------------------------------------------- AUC / ACC
def test_auc_acc_binary_vs_sklearn():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 50)
    p1 = np.clip(0.3 * y + 0.7 * rng.random(50), 0, 1)
    score = np.stack([1 - p1, p1], axis=1)
    auc, acc = m.auc_acc(y[:, None], score, task="binary")
    assert auc == pytest.approx(roc_auc_score(y, p1))
    assert acc == pytest.approx(accuracy_score(y, p1 > 0.5))
    assert m.auc_acc(y, p1, task="binary-class") == (auc, acc)


def test_binary_threshold_is_strict():
    y = np.array([0, 1, 1, 0])
    score = np.array([0.5, 0.5, 0.9, 0.1])  # exactly 0.5 counts as negative
    auc, acc = m.auc_acc(y, score, task="binary")
    assert acc == pytest.approx(0.75)
    assert auc == pytest.approx(roc_auc_score(y, score))


def test_auc_acc_multiclass_vs_sklearn():
    rng = np.random.default_rng(3)
    y = np.arange(60) % 4
    logits = rng.standard_normal((60, 4)) + np.eye(4)[y]
    score = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    auc, acc = m.auc_acc(torch.from_numpy(y), torch.from_numpy(score), task="multi-class")
    assert auc == pytest.approx(roc_auc_score(y, score, multi_class="ovr", average="macro"))
    assert acc == pytest.approx(accuracy_score(y, score.argmax(1)))


def test_auc_acc_bad_inputs():
    y = np.array([0, 1, 1, 0])
    with pytest.raises(ValueError, match="task"):
        m.auc_acc(y, y, task="multi-label")
    with pytest.raises(ValueError, match="samples"):
        m.auc_acc(y, np.zeros(3))
    with pytest.raises(ValueError, match="one class"):
        m.auc_acc(np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        m.auc_acc(y, np.array([0.1, np.nan, 0.2, 0.3]))
    with pytest.raises(ValueError, match="absent"):
        m.auc_acc(np.array([0, 1, 0, 1]), np.full((4, 3), 1 / 3), task="multi-class")


def test_sens_spec_f1():
    t = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p = np.array([1, 0, 1, 0, 1, 0, 0, 1])
    out = m.sens_spec_f1(t, p)
    assert out["sensitivity"] == pytest.approx(recall_score(t, p))
    assert out["specificity"] == pytest.approx(recall_score(1 - t, 1 - p))
    assert out["f1"] == pytest.approx(f1_score(t, p))
    assert np.isnan(m.sens_spec_f1(np.zeros(3), np.zeros(3))["sensitivity"])
    with pytest.raises(ValueError, match="only 0 and 1"):
        m.sens_spec_f1(t, p * 0.7)


# ----------------------------------------------------------------------------- Jacobian
def test_jacobian_identity_and_scaling():
    assert np.allclose(m.jacobian_determinant(np.zeros((2, 5, 6))), 1.0)
    assert np.allclose(m.jacobian_determinant(torch.zeros(3, 4, 5, 6)), 1.0)
    s = 1.5
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in (4, 5, 6)], indexing="ij"))
    det = m.jacobian_determinant((s - 1) * grid)  # x -> s x
    assert det.shape == (4, 5, 6)
    assert np.allclose(det, s**3)
    # the same field in mm with 2 mm voxels: u = (s-1) x_mm, still det = s^3
    assert np.allclose(m.jacobian_determinant((s - 1) * 2.0 * grid, spacing=2.0), s**3)
    assert m.folding_fraction((s - 1) * grid) == 0.0


def test_jacobian_anisotropic_scaling_2d():
    grid = np.stack(np.meshgrid(np.arange(6.0), np.arange(7.0), indexing="ij"))
    disp = np.stack([1.0 * grid[0], -0.5 * grid[1]])  # x -> (2 x0, 0.5 x1)
    assert np.allclose(m.jacobian_determinant(disp), 1.0)


def test_folding_field():
    h, w = 8, 16
    disp = np.zeros((2, h, w))
    # along axis 1, the map x -> x + u is increasing on the left half and reversed on the right half
    x1 = np.arange(w, dtype=float)
    mapped = np.where(x1 < w // 2, x1, (w - 1) - x1 + w // 2)
    disp[1] = mapped - x1
    det = m.jacobian_determinant(disp)
    assert np.all(det[:, : w // 2 - 1] > 0)
    assert np.all(det[:, w // 2 + 1 :] <= 0)
    frac = m.folding_fraction(disp)
    assert 0.4 <= frac <= 0.6
    mirror = np.zeros((2, 4, 4))
    mirror[0] = -2 * np.arange(4.0)[:, None]  # x0 -> -x0: a reflection folds everywhere
    assert np.allclose(m.jacobian_determinant(mirror), -1.0)
    assert m.folding_fraction(mirror) == 1.0


def test_jacobian_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        m.jacobian_determinant(np.zeros((3, 5, 6)))
    with pytest.raises(ValueError, match="shape"):
        m.jacobian_determinant(np.zeros((5, 6)))
    with pytest.raises(ValueError, match="at least 2"):
        m.jacobian_determinant(np.zeros((2, 1, 6)))
    bad = np.zeros((2, 4, 4))
    bad[0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.folding_fraction(bad)
    with pytest.raises(ValueError, match="spacing"):
        m.jacobian_determinant(np.zeros((2, 4, 4)), spacing=(1.0, 0.0))


def test_jacobian_metric_and_training_loss_agree_on_affine_maps():
    """The NumPy metric (central differences) and the torch loss (forward differences) are two
    finite-difference schemes of one quantity; on an affine map both are exact."""
    from corelib.registration.losses import jacobian_det

    A = np.array([[0.3, -0.2, 0.1], [0.05, -0.4, 0.2], [0.1, 0.0, 0.25]])  # u(x) = A x
    grid = np.stack(np.meshgrid(*(np.arange(n, dtype=float) for n in (5, 6, 7)), indexing="ij"))
    disp = np.einsum("ij,j...->i...", A, grid)
    expected = np.linalg.det(np.eye(3) + A)
    metric = m.jacobian_determinant(disp)
    loss_form = jacobian_det(torch.as_tensor(disp)[None]).numpy()[0]
    assert np.allclose(metric, expected) and np.allclose(loss_form, expected)

def test_psnr_and_ssim_inside_a_mask_hand_value():
    ref = np.zeros((4, 4))
    test = ref.copy()
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True  # four pixels count
    test[1, 1] = test[2, 2] = 0.1  # two of them off by 0.1
    test[0, 0] = 5.0  # outside: ignored
    # MSE = 2 * 0.01 / 4 = 0.005 -> 10 log10(1 / 0.005)
    assert m.psnr(ref, test, 1.0, mask=mask) == pytest.approx(10 * np.log10(200.0))
    assert m.psnr(ref, np.where(mask, ref, 9.0), 1.0, mask=mask) == float("inf")
    vol_ref, vol_test = np.stack([ref, ref]), np.stack([test, ref])
    p = m.psnr(vol_ref, vol_test, 1.0, per_slice=True, mask=mask)  # one slice's mask, broadcast
    assert p[0] == pytest.approx(10 * np.log10(200.0)) and p[1] == float("inf")
    big = np.random.default_rng(0).uniform(0, 1, (16, 16))
    noisy = big + np.random.default_rng(1).normal(0, 0.05, big.shape)
    full = np.ones((16, 16), bool)
    _, local = structural_similarity(big, noisy, data_range=1.0, full=True)
    assert m.ssim(big, noisy, 1.0, mask=full) == pytest.approx(local.mean())
    assert m.psnr(big, noisy, 1.0, mask=full) == pytest.approx(m.psnr(big, noisy, 1.0))
    with pytest.raises(ValueError, match="mask must have"):
        m.psnr(ref, test, 1.0, mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="mask is empty"):
        m.psnr(ref, test, 1.0, mask=np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="booleans"):
        m.psnr(ref, test, 1.0, mask=np.full((4, 4), 0.5))
