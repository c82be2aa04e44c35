"""Tests for corelib.restoration.superres (tiny inputs)."""
import numpy as np
import pytest
import torch

from corelib.restoration import superres as sr


@pytest.mark.parametrize("dims,shape", [(2, (17, 20)), (3, (9, 10, 11))])
@pytest.mark.parametrize("make", [lambda d: sr.SRCNN(d, (8, 4)), lambda d: sr.ResidualSR(d, 8, 3)])
def test_same_grid_nets_shapes_gradients(dims, shape, make):
    torch.manual_seed(0)
    net = make(dims)
    x = torch.randn(2, 1, *shape, requires_grad=True)
    y = net(x)
    assert y.shape == x.shape
    y.mean().backward()
    assert torch.isfinite(x.grad).all()


def test_residual_sr_identity_at_init():
    x = torch.randn(1, 1, 13, 15)
    assert torch.equal(sr.ResidualSR(2, 8, 4)(x), x)


@pytest.mark.parametrize("dims,scale", [(2, 2), (2, 3), (3, 2)])
def test_subpixel_upsamples(dims, scale):
    torch.manual_seed(0)
    x = torch.randn(1, 1, *([6] * dims), requires_grad=True)
    y = sr.SubPixelSR(scale, dims, 8, 2)(x)
    assert y.shape == (1, 1, *([6 * scale] * dims))
    y.mean().backward()
    assert x.grad is not None


def test_determinism_and_bad_inputs():
    outs = []
    for _ in range(2):
        torch.manual_seed(1)
        outs.append(sr.SRCNN(2, (4, 4))(torch.ones(1, 1, 8, 8)))
    assert torch.equal(*outs)
    with pytest.raises(ValueError):
        sr.SRCNN(2)(torch.randn(1, 1, 8, 8, 8))
    with pytest.raises(ValueError):
        sr.SRCNN(4)
    with pytest.raises(ValueError):
        sr.SubPixelSR(1)
    with pytest.raises(ValueError):
        sr.ResidualSR(3)(torch.randn(1, 2, 4, 4, 4))


def test_degradations_known_answers():
    const = np.full((16, 12), 3.0)
    assert np.allclose(sr.blur_downsample(const, 2), 3.0) and sr.blur_downsample(const, 2).shape == (8, 6)
    assert np.allclose(sr.kspace_truncate(const, 4), 3.0) and sr.kspace_truncate(const, 4).shape == (4, 3)
    vol = np.arange(8 * 3 * 2, dtype=float).reshape(8, 3, 2)
    thick = sr.thick_slices(vol, 2, axis=0)
    assert thick.shape == (4, 3, 2) and np.allclose(thick[0], vol[:2].mean(0))
    assert sr.thick_slices(vol, 2, axis=-1).shape == (8, 3, 1)
    # a smooth ramp survives blur + downsample + bicubic up almost exactly (away from the border)
    ramp = np.tile(np.linspace(0, 1, 32), (32, 1))
    up = sr.interpolate(sr.blur_downsample(ramp, 2, sigma=0.0), 2, "bilinear")
    assert up.shape == (32, 32) and np.abs(up - ramp)[4:-4, 4:-4].max() < 1e-5
    up = sr.interpolate(sr.blur_downsample(ramp, 2, sigma=0.0), 2, "bicubic")  # Keys a=-0.75: not exact
    assert np.abs(up - ramp)[4:-4, 4:-4].max() < 0.01


def test_interpolate_modes_and_errors():
    assert sr.interpolate(np.zeros((3, 4, 4)), 2, "bicubic").shape == (3, 8, 8)
    assert sr.interpolate(np.zeros((4, 4, 4)), 2, "trilinear").shape == (8, 8, 8)
    assert sr.interpolate(np.zeros((4, 5, 6)), 3, "linear", axes=(1,)).shape == (4, 15, 6)
    with pytest.raises(ValueError):
        sr.interpolate(np.zeros((4, 4)), 2, "linear")
    with pytest.raises(ValueError):
        sr.interpolate(np.zeros((4, 4)), 2, "nearest-ish")
    with pytest.raises(ValueError):
        sr.blur_downsample(np.zeros((5, 4)), 2)
    with pytest.raises(ValueError):
        sr.kspace_truncate(np.full((4, 4), np.nan), 2)
    with pytest.raises(ValueError):
        sr.thick_slices(np.zeros((4, 4)), 2)


ARCHS = {"context": lambda w: sr.ContextSR(w, 3), "dense": lambda w: sr.DenseBranchSR(w, 2, 2),
         "split": lambda w: sr.ChannelSplitSR(w, 2), "multiscale": lambda w: sr.MultiScaleResidualSR(w, 2)}


@pytest.mark.parametrize("name", list(ARCHS))
def test_architectures_shapes_gradients_identity_start(name):
    torch.manual_seed(0)
    net = ARCHS[name](8)
    x = torch.randn(2, 1, 17, 23)
    assert torch.equal(net(x), x)  # the zero-initialised tail: the net starts as its input
    for p in net.tail.parameters():  # move off the identity so every parameter gets a gradient
        torch.nn.init.normal_(p, std=0.1)
    x.requires_grad_(True)
    y = net(x)
    assert y.shape == x.shape
    (y ** 2).mean().backward()
    assert torch.isfinite(x.grad).all()
    for pname, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", list(ARCHS))
def test_width_for_budget_matches_residual_sr(name):
    budget = sr.count_parameters(sr.ResidualSR(2, 24, 6))
    w = sr.width_for_budget(ARCHS[name], budget)
    n = sr.count_parameters(ARCHS[name](w))
    assert abs(n - budget) <= 0.1 * budget
    # no other width is closer
    for other in (w - 1, w + 1):
        assert abs(sr.count_parameters(ARCHS[name](other)) - budget) >= abs(n - budget)


def test_count_parameters_known_answer_and_budget_errors():
    assert sr.count_parameters(torch.nn.Conv2d(2, 3, 3)) == 2 * 3 * 9 + 3
    with pytest.raises(ValueError, match="within"):
        sr.width_for_budget(lambda w: sr.ContextSR(w), 10 ** 9, widths=range(4, 8))
    with pytest.raises(ValueError, match="budget"):
        sr.width_for_budget(lambda w: sr.ContextSR(w), 0)
    with pytest.raises(TypeError, match="make"):
        sr.width_for_budget(3, 100)
    with pytest.raises(ValueError, match="widths"):
        sr.width_for_budget(lambda w: sr.ContextSR(w), 100, widths=range(5, 5))
    with pytest.raises(TypeError, match="model"):
        sr.count_parameters("net")


def test_architectures_bad_inputs():
    with pytest.raises(ValueError, match="channels"):
        sr.ChannelSplitSR(3)
    with pytest.raises(ValueError, match="channels"):
        sr.ContextSR(1)
    with pytest.raises(ValueError, match="blocks"):
        sr.MultiScaleResidualSR(8, 0)
    with pytest.raises(ValueError, match="layers"):
        sr.DenseBranchSR(8, 1, 0)
    with pytest.raises(ValueError, match="tensor"):
        sr.ContextSR(8)(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match="tensor"):
        sr.DenseBranchSR(8)(torch.randn(1, 1, 8, 8, 8))


@pytest.mark.parametrize("blocks,width,depth", [(3, 16, 6), (6, 64, 12)])
def test_width_for_budget_at_the_notebook_budgets(blocks, width, depth):
    """The budgets of notebook 04 (quick, full) can be matched within 10% by all four."""
    for budget in (sr.count_parameters(sr.ResidualSR(2, width, depth)),):
        for make in (lambda w: sr.ContextSR(w, blocks), lambda w: sr.DenseBranchSR(w, blocks),
                     lambda w: sr.ChannelSplitSR(w, blocks),
                     lambda w: sr.MultiScaleResidualSR(w, blocks)):
            n = sr.count_parameters(make(sr.width_for_budget(make, budget)))
            assert abs(n / budget - 1) <= 0.1
