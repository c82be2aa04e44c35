"""Helpers shared by the chapter 3.1 notebooks: per-pair scores, validation Dice, inverse error,
pair timing, the deformation figure, and the initial transform of ``affine_register``."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import corelib.registration as R  # noqa: E402
from corelib.registration import plots  # noqa: E402


def _labels():
    lab = np.zeros((3, 16, 12), np.uint8)
    lab[:, 4:8, 3:7] = 1
    lab[:, 9:13, 3:7] = 2
    lab[1] = np.roll(lab[1], 2, axis=0)  # subject 1: both structures two rows lower
    return lab


def test_pair_scores_values_and_order():
    lab = _labels()
    pairs = np.array([[0, 2], [1, 0]])
    zero = np.zeros((2, 2, 16, 12), np.float32)
    s = R.pair_scores(zero, lab, pairs)
    assert s["Dice mean"][0] == pytest.approx(1.0)       # identical labels
    assert s["Dice 1"][1] == pytest.approx(0.5)           # 4x4 squares overlapping on 2 rows
    assert s["Dice mean"][1] == pytest.approx(0.5)
    assert s["HD95 (px)"][0] == pytest.approx(0.0)
    assert np.all(s["folding (%)"] == 0)
    # the field that undoes the shift (fixed 0 <- moving 1: look two rows lower) restores overlap
    fix = zero.copy()
    fix[1, 0] = 2.0
    assert R.pair_scores(fix, lab, pairs)["Dice mean"][1] == pytest.approx(1.0)
    # the table is the mean of the per-pair scores
    table = R.evaluate_fields(zero, lab, pairs)
    assert table["Dice mean"] == pytest.approx(np.mean(s["Dice mean"]))
    assert table["folding (%)"] == 0.0


def test_pair_scores_folding_and_bad_input():
    lab = _labels()
    u = np.zeros((1, 2, 16, 12), np.float32)
    u[0, 0] = -1.5 * np.arange(16)[:, None]  # det J = 1 - 1.5 < 0 everywhere
    assert R.pair_scores(u, lab, np.array([[0, 1]]))["folding (%)"][0] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="pairs"):
        R.pair_scores(u, lab, np.array([[0, 5]]))
    with pytest.raises(ValueError, match="fields"):
        R.pair_scores(np.zeros((2, 2, 16, 12)), lab, np.array([[0, 1]]))


def test_dice_validation_scores_the_model_and_keeps_the_name():
    lab = _labels()
    images = lab.astype(np.float32)
    net = R.RegNet(2, (4, 8), field_factor=1)  # starts at the identity
    val = R.dice_validation(images, lab, np.array([[0, 2], [1, 0]]))
    out = val(net)
    assert set(out) == {"val_dice"}
    assert out["val_dice"] == pytest.approx(0.75, abs=0.02)  # pairs: 1.0 and 0.5
    fields, _ = R.predict_fields(net, images, np.array([[0, 2], [1, 0]]))
    table = R.evaluate_fields(fields, lab, np.array([[0, 2], [1, 0]]))
    assert out["val_dice"] == pytest.approx(table["Dice mean"])


def test_inverse_errors_is_the_euclidean_distance():
    shape = (2, 2, 12, 10)
    t = torch.zeros(shape, dtype=torch.float64)
    t[:, 0], t[:, 1] = 3.0, 4.0
    assert np.allclose(R.inverse_errors(t, -t), 0.0)            # exact inverses
    assert np.allclose(R.inverse_errors(t, torch.zeros(shape)), 5.0)  # |(3, 4)| = 5 pixels
    # the training loss divides the squared distance by ndim: sqrt gives 5 / sqrt(2)
    loss = R.inverse_consistency(t, torch.zeros(shape, dtype=torch.float64))
    assert float(loss.sqrt()) == pytest.approx(5 / np.sqrt(2))
    with pytest.raises(ValueError, match="must match"):
        R.inverse_errors(t, t[:1])


def test_pair_seconds_one_per_pair():
    images = np.random.default_rng(0).random((3, 16, 12)).astype(np.float32)
    sec = R.pair_seconds(R.RegNet(2, (4, 8)), images, np.array([[0, 1], [1, 2], [2, 0]]))
    assert sec.shape == (3,) and np.all(sec > 0)
    sec5 = R.pair_seconds(R.RegNet(2, (4, 8)), images, np.array([[0, 1]]), repeats=5)
    assert sec5.shape == (1,) and sec5[0] > 0
    with pytest.raises(ValueError, match="repeats"):
        R.pair_seconds(R.RegNet(2, (4, 8)), images, np.array([[0, 1]]), repeats=0)


def test_in_plane_mid_slice_and_deformation_figure():
    u3 = np.zeros((3, 5, 8, 6), np.float32)
    u3[1, 2] = 7.0
    assert plots.in_plane(u3).shape == (2, 8, 6) and np.all(plots.in_plane(u3)[0] == 7.0)
    vol = np.arange(5 * 8 * 6, dtype=float).reshape(5, 8, 6)
    assert np.array_equal(plots.mid_slice(vol), vol[2])
    u2 = np.zeros((2, 8, 6))
    assert plots.in_plane(u2) is u2 or np.array_equal(plots.in_plane(u2), u2)
    fig = plots.deformation_figure(vol, {"a": u3, "b": u3})
    assert fig.axes[0].get_title().startswith("a")
    assert sum(ax.get_visible() for ax in fig.axes) >= 4  # 2 rows x 2 panels (+ colour bars)
    plt.close(fig)
    with pytest.raises(ValueError):
        plots.in_plane(np.zeros((3, 8, 6)))
    with pytest.raises(ValueError, match="in plane"):
        plots.deformation_figure(np.zeros((4, 4)), {"a": u2})


def _blob(shape=(64, 56)):
    rr, cc = np.mgrid[0:shape[0], 0:shape[1]]
    img = np.exp(-(((rr - 30) / 9.0) ** 2 + ((cc - 24) / 6.0) ** 2))
    img += 0.6 * np.exp(-(((rr - 20) / 4.0) ** 2 + ((cc - 36) / 5.0) ** 2))
    return img.astype(np.float32)


def test_euler_transform_matches_rigid_displacement():
    shape = (20, 16)
    p = torch.tensor([[12.0, 3.0, -2.0]], dtype=torch.float64)
    tx = R.euler_transform(p[0].numpy(), shape)
    u_sitk = R.transform_to_displacement(tx, shape)
    u_torch = R.rigid_displacement(p, shape)[0].numpy()
    assert np.allclose(u_sitk, u_torch, atol=1e-4)
    with pytest.raises(ValueError, match="params"):
        R.euler_transform([1.0, 2.0], shape)


def test_affine_register_starts_from_the_initial_transform():
    fixed = 255 * _blob()  # 8-bit intensities, as the ITK slices (the optimiser's step tolerances)
    truth = torch.tensor([[10.0, 4.0, -3.0]], dtype=torch.float64)  # map fixed -> moving
    u_true = R.rigid_displacement(truth, fixed.shape)[0].numpy()
    moving = R.warp(fixed, R.rigid_displacement(R.rigid_inverse(truth), fixed.shape)[0].numpy())
    start = R.euler_transform(truth[0].numpy(), fixed.shape)

    def err(res):
        return np.abs(res.displacement - u_true)[:, 10:-10, 10:-10].max()

    # one iteration per level stays near where it starts: the truth, or the moments (no rotation)
    near = R.affine_register(fixed, moving, kind="rigid", iterations=1, initial=start)
    far = R.affine_register(fixed, moving, kind="rigid", iterations=1)
    assert near.iterations == far.iterations == 3  # one per level
    assert err(near) < 0.5 * err(far)
    # run to convergence, both are accurate and the good start needs fewer iterations
    good = R.affine_register(fixed, moving, kind="rigid", initial=start)
    plain = R.affine_register(fixed, moving, kind="rigid")
    assert err(good) < 0.1 and err(plain) < 0.1
    assert good.iterations < plain.iterations
    with pytest.raises(TypeError, match="initial"):
        R.affine_register(fixed, moving, initial=np.eye(3))
