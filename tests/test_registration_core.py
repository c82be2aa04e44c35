"""Unit tests for corelib.registration (tiny inputs, seconds)."""
import numpy as np
import pytest
import torch

import corelib.registration as R
from corelib import metrics


def _blob(shape, centre, r=4.0):
    grids = np.indices(shape).astype(np.float32)
    d2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
    return np.exp(-d2 / (2 * r * r)).astype(np.float32)


@pytest.mark.parametrize("shape", [(17, 23), (9, 11, 13)])
def test_identity_warp_numpy_and_torch(shape):
    img = np.random.default_rng(0).random(shape).astype(np.float32)
    zero = np.zeros((len(shape), *shape), np.float32)
    np.testing.assert_allclose(R.warp(img, zero), img, atol=1e-6)
    t = torch.from_numpy(img)[None, None]
    out = R.warp_tensor(t, torch.zeros(1, len(shape), *shape))
    np.testing.assert_allclose(out[0, 0].numpy(), img, atol=1e-5)


def test_known_translation_convention_matches_metrics_and_numpy():
    shape = (21, 25)
    img = _blob(shape, (10, 12))
    disp = np.zeros((2, *shape), np.float32)
    disp[0] = 2.0   # rows
    disp[1] = -3.0  # cols
    expected = _blob(shape, (8, 15))  # warped(x) = img(x + u) -> blob moves by -u
    w_np = R.warp(img, disp)
    w_t = R.warp_tensor(torch.from_numpy(img)[None, None], torch.from_numpy(disp)[None])[0, 0].numpy()
    np.testing.assert_allclose(w_np[4:-4, 4:-4], expected[4:-4, 4:-4], atol=1e-5)
    np.testing.assert_allclose(w_t[4:-4, 4:-4], expected[4:-4, 4:-4], atol=1e-5)
    np.testing.assert_allclose(metrics.jacobian_determinant(disp), 1.0, atol=1e-9)


def test_rigid_displacement_zero_and_translation():
    d0 = R.rigid_displacement(torch.zeros(1, 3), (9, 11))
    assert torch.allclose(d0, torch.zeros_like(d0))
    d = R.rigid_displacement(torch.tensor([[0.0, 2.0, -1.0]]), (9, 11))
    assert torch.allclose(d[0, 0], torch.full((9, 11), 2.0)) and torch.allclose(d[0, 1], torch.full((9, 11), -1.0))
    r = R.rigid_displacement(torch.tensor([[30.0, 0.0, 0.0]]), (9, 11))
    assert abs(r[0, :, 4, 5]).max() < 1e-6  # the centre stays
    np.testing.assert_allclose(metrics.jacobian_determinant(r[0].numpy()), 1.0, atol=1e-5)


def test_affine_recovers_translation_and_demons_improves():
    shape = (40, 40)
    fixed = _blob(shape, (20, 20), 6) + 0.5 * _blob(shape, (12, 26), 3)
    true = np.zeros((2, *shape), np.float32)
    true[0], true[1] = 3.0, -2.0
    moving = R.warp(fixed, -true)  # moving(x) = fixed(x - t) so moving(x + t) = fixed(x)
    res = R.affine_register(fixed, moving, kind="rigid")
    centre = res.displacement[:, 10:30, 10:30].reshape(2, -1).mean(1)
    np.testing.assert_allclose(centre, [3.0, -2.0], atol=0.3)
    dem = R.demons_register(fixed, moving, levels=(2, 1), iterations=(30, 20))
    assert np.abs(dem.warped - fixed).mean() < np.abs(moving - fixed).mean()
    assert dem.displacement.shape == (2, *shape) and res.seconds >= 0


def test_regnet_shapes_gradients_and_start_at_identity():
    torch.manual_seed(0)
    for dims, shape, kw in [(2, (16, 24), {}), (2, (16, 24), dict(field_factor=2, diffeomorphic=True)),
                            (3, (8, 8, 16), dict(channels=(4, 8)))]:
        net = R.RegNet(dims, **({"channels": (8, 8, 8)} | kw))
        m, f = torch.rand(2, 1, *shape), torch.rand(2, 1, *shape)
        warped, disp = net(m, f)
        assert warped.shape == m.shape and disp.shape == (2, dims, *shape)
        assert disp.abs().max() < 1e-2
        loss = R.ncc(warped, f) + R.gradient_smoothness(disp) + R.negative_jacobian_penalty(disp)
        loss.backward()
        assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_jacobian_losses_identity_and_folding():
    zero = torch.zeros(1, 2, 8, 9)
    assert torch.allclose(R.jacobian_det(zero), torch.ones(1, 7, 8))
    assert R.negative_jacobian_penalty(zero) == 0
    fold = torch.zeros(1, 2, 8, 9)
    fold[0, 1] = -2.0 * torch.arange(9.0)  # x -> x - 2x: the map reverses the column axis
    assert (R.jacobian_det(fold) < 0).all() and R.negative_jacobian_penalty(fold) > 0
    assert metrics.folding_fraction(fold[0].numpy()) == 1.0
    u = torch.zeros(1, 2, 8, 9, requires_grad=True)
    R.inverse_consistency(u, -u.detach()).backward()
    assert R.inverse_consistency(zero, zero) == 0


def test_integrate_velocity_translation_and_label_dice():
    v = torch.zeros(1, 2, 12, 12)
    v[:, 0] = 1.5
    d = R.integrate_velocity(v)
    assert torch.allclose(d[:, :, 4:8, 4:8], v[:, :, 4:8, 4:8], atol=1e-4)
    lab = torch.zeros(1, 1, 8, 8, dtype=torch.long)
    lab[..., 2:6, 2:6] = 1
    oh = R.one_hot(lab, 2)
    assert R.label_dice_loss(oh, oh) < 1e-4


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="same shape"):
        R.affine_register(np.zeros((8, 8)), np.zeros((8, 9)))
    with pytest.raises(ValueError, match="NaN"):
        R.demons_register(np.full((8, 8), np.nan), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="NaN"):
        R.warp_tensor(torch.zeros(1, 1, 4, 4), torch.full((1, 2, 4, 4), float("nan")))
    with pytest.raises(ValueError, match="do not match"):
        R.warp_tensor(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 5))
    with pytest.raises(ValueError, match="field must be"):
        R.gradient_smoothness(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="displacement must have shape"):
        R.warp(np.zeros((4, 4)), np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="divisible"):
        R.RegNet(2, channels=(4, 4, 4))(torch.zeros(1, 1, 10, 12), torch.zeros(1, 1, 10, 12))
    with pytest.raises(ValueError, match="2 or 3"):
        R.RegNet(1)
    with pytest.raises(ValueError, match="kind"):
        R.affine_register(np.zeros((8, 8)), np.zeros((8, 8)), kind="bspline")


def test_pad_or_crop_and_pairs():
    a = np.arange(12).reshape(3, 4)
    b = R.pad_or_crop(a, (5, 2))
    assert b.shape == (5, 2) and (b[0] == 0).all() and (b[1] == a[0, 1:3]).all()
    p = R.make_pairs([3, 4, 5], 10, seed=1)
    assert p.shape == (10, 2) and (p[:, 0] != p[:, 1]).all()
    np.testing.assert_array_equal(p, R.make_pairs([3, 4, 5], 10, seed=1))


def test_rigid_inverse_composes_to_identity():
    p = torch.tensor([[12.0, 3.0, -5.0]], dtype=torch.float64)
    u, v = R.rigid_displacement(p, (41, 43)), R.rigid_displacement(R.rigid_inverse(p), (41, 43))
    composed = u + R.warp_tensor(v, u, padding_mode="border")  # analytic field, linear in x: exact inside
    assert composed[..., 15:26, 15:28].abs().max() < 1e-6


def test_torch_jacobian_matches_metrics_on_a_linear_field():
    a = np.array([[0.2, -0.1], [0.3, 0.1]])
    rr, cc = np.mgrid[0:9, 0:11].astype(np.float64)
    u = np.stack([a[0, 0] * rr + a[0, 1] * cc, a[1, 0] * rr + a[1, 1] * cc])
    expected = np.linalg.det(np.eye(2) + a)
    np.testing.assert_allclose(R.jacobian_det(torch.from_numpy(u)[None]).numpy(), expected, atol=1e-9)
    np.testing.assert_allclose(metrics.jacobian_determinant(u), expected, atol=1e-9)


def test_hippocampus_experiment_splits_subjects_before_pairing(monkeypatch):
    import os
    from pathlib import Path

    # $CORELIB_DATA_MIRROR (the Makefile sets it), else ../shared/data beside the repository
    mirror = Path(os.environ.get("CORELIB_DATA_MIRROR", "").strip()
                  or Path(__file__).resolve().parents[2] / "shared" / "data")
    if not (mirror / "msd").exists():
        pytest.skip("offline mirror with the MSD hippocampus not beside the repository")
    monkeypatch.setenv("CORELIB_DATA_MIRROR", str(mirror))
    d = R.hippocampus_experiment(dim=2, shape=(56, 40), n_test=5, n_val=3)
    assert d["images"].shape[1:] == (56, 40) and len(d["ids"]) == len(d["images"])
    train, val, test = (set(d["index"][s].tolist()) for s in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert set(d["test_pairs"].ravel().tolist()) <= test and set(d["val_pairs"].ravel().tolist()) <= val
    assert len(d["test_pairs"]) == 5 and (d["test_pairs"][:, 0] != d["test_pairs"][:, 1]).all()
