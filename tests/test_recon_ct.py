"""Sparse-view CT reconstruction (corelib.restoration.recon_ct): the operator, TV, the networks."""
import numpy as np
import pytest
import torch

from corelib.restoration import recon_ct as rc

SIZE = 32


@pytest.fixture(scope="module")
def physics():
    return rc.tomography(12, SIZE)


def disc(size: int = SIZE, batch: int = 2) -> torch.Tensor:
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2 + 0.5, xx - size / 2 + 0.5)
    img = ((r < size * 0.35) + 0.5 * (r < size * 0.12)).astype(np.float32)
    return torch.from_numpy(img)[None, None].repeat(batch, 1, 1, 1)


@pytest.mark.parametrize("views,size", [(12, 32), (30, 64)])
def test_adjoint_passes_the_dot_product_test(views, size):
    ph = rc.tomography(views, size)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        u = torch.randn(2, 1, size, size, generator=g)
        v = torch.randn(2, 1, size, views, generator=g)
        lhs, rhs = float((ph.A(u) * v).sum()), float((u * ph.A_adjoint(v)).sum())
        assert abs(lhs - rhs) <= 1e-4 * abs(lhs)
    assert float(ph.adjointness_test(torch.randn(1, 1, size, size, generator=g)).abs()) < 1e-3


def test_operator_is_normalised_and_sinogram_shape(physics):
    x = disc()
    y = physics.A(x)
    assert y.shape == (2, 1, SIZE, 12)
    assert abs(float(physics.compute_norm(torch.randn(1, 1, SIZE, SIZE), verbose=False,
                                          squared=False)) - 1.0) < 0.05


def test_hu_conversion_round_trip():
    hu = np.array([[-1000.0, 0.0], [1000.0, -1200.0]])
    x = rc.hu_to_x(hu)
    np.testing.assert_allclose(x, [[0, 1], [2, 0]])
    np.testing.assert_allclose(rc.x_to_hu(x)[:, :1], [[-1000.0], [1000.0]])


def test_simulated_sinogram_tends_to_the_noiseless_one(physics):
    x = disc()
    g = torch.Generator().manual_seed(0)
    clean = physics.A(x)
    low = rc.simulate_sinogram(physics, x, 1e3, 0.4, generator=g)
    high = rc.simulate_sinogram(physics, x, 1e8, 0.4, generator=g)
    assert low.shape == clean.shape
    err_low, err_high = float((low - clean).pow(2).mean()), float((high - clean).pow(2).mean())
    assert err_high < 1e-3 * err_low
    assert err_high < 1e-5


def test_fbp_approximates_the_image_with_many_views():
    ph = rc.tomography(90, SIZE)
    x = disc()
    rel = float((rc.fbp(ph, ph.A(x)) - x).norm() / x.norm())
    assert rel < 0.25


def test_tv_decreases_its_objective_and_beats_fbp_on_a_disc(physics):
    x = disc()
    y = physics.A(x) + 0.02 * torch.randn(2, 1, SIZE, 12, generator=torch.Generator().manual_seed(1))
    out, objective = rc.tv_pdhg(physics, y, 1e-3, n_iter=200, ratio=100.0)
    assert objective.shape == (20, 2)
    assert objective[-1].sum() < objective[0].sum()
    assert float((out - x).norm()) < float((rc.fbp(physics, y) - x).norm())
    assert float(out.min()) >= 0.0
    # one weight per image gives the same result as separate runs
    lam = torch.tensor([1e-3, 1e-3])[:, None, None, None]
    out2, _ = rc.tv_pdhg(physics, y, lam, n_iter=200, ratio=100.0)
    torch.testing.assert_close(out, out2)


@pytest.mark.parametrize("init", ["fbp", "zero"])
def test_learned_primal_dual_shapes_and_gradients(physics, init):
    model = rc.LearnedPrimalDual(physics, n_iter=2, width=8, init=init)
    y = physics.A(disc())
    out = model(y)
    assert out.shape == (2, 1, SIZE, SIZE)
    out.pow(2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert sum(float(p.grad.abs().sum()) for p in model.dual.parameters()) > 0
    # the operator is not a parameter and not in the state dict
    assert rc.count_parameters(model) == sum(p.numel() for p in model.parameters())
    assert not any("physics" in k for k in model.state_dict())


def test_fbp_unet_starts_as_fbp_and_dual_domain_shapes(physics):
    y = physics.A(disc())
    unet = rc.FBPUNet(physics, channels=(4, 8))
    torch.testing.assert_close(unet.eval()(y), rc.fbp(physics, y))
    dd = rc.DualDomainNet(physics, width=4, depth=3)
    assert dd(y).shape == (2, 1, SIZE, SIZE)
    assert rc.count_parameters(dd) > 0


def test_batch_fn_trains_and_reconstruct_returns_numpy(physics):
    model = rc.LearnedPrimalDual(physics, n_iter=1, width=4)
    batch_fn = rc.sinogram_batch_fn(physics, 1e4, 0.4, seed=0)
    loss = batch_fn(model, (disc(), disc()), torch.device("cpu"))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    out = rc.reconstruct(model, physics.A(disc(batch=3)), batch=2)
    assert isinstance(out, np.ndarray) and out.shape == (3, SIZE, SIZE)
    assert out.dtype == np.float32


def test_bad_inputs_raise_clear_errors(physics):
    with pytest.raises(ValueError, match="n_views"):
        rc.tomography(1, SIZE)
    with pytest.raises(TypeError, match="size"):
        rc.tomography(10, 32.0)
    with pytest.raises(TypeError, match="physics"):
        rc.fbp("not an operator", torch.zeros(1, 1, SIZE, 12))
    with pytest.raises(ValueError, match="y must be"):
        rc.fbp(physics, torch.zeros(1, 1, SIZE, 13))
    with pytest.raises(ValueError, match="x must be"):
        rc.simulate_sinogram(physics, torch.zeros(1, 1, 16, 16), 1e4, 0.4)
    with pytest.raises(ValueError, match="i0"):
        rc.simulate_sinogram(physics, disc(), -1.0, 0.4)
    with pytest.raises(ValueError, match="pixel_cm"):
        rc.simulate_sinogram(physics, disc(), 1e4, 0.0)
    with pytest.raises(ValueError, match="lam"):
        rc.tv_pdhg(physics, physics.A(disc()), -1.0)
    with pytest.raises(ValueError, match="lam"):
        rc.tv_pdhg(physics, physics.A(disc()), torch.ones(3, 1, 1, 1))
    with pytest.raises(ValueError, match="init"):
        rc.LearnedPrimalDual(physics, init="random")
    with pytest.raises(ValueError, match="divisible"):
        rc.FBPUNet(rc.tomography(8, 36), channels=(4, 8, 16, 32))
    with pytest.raises(ValueError, match="contains NaN"):
        rc.fbp(physics, torch.full((1, 1, SIZE, 12), float("nan")))
    with pytest.raises(ValueError, match="hu"):
        rc.hu_to_x(np.array([np.nan]))
