"""Segmentation networks: shapes (2D/3D, odd sizes), gradients, determinism, bad inputs."""
import numpy as np
import pytest
import torch

from corelib import segmentation as seg

SMALL = (4, 8, 8)

NETS_2D = {
    "fcn8": lambda: seg.fcn(2, 1, 3, features=SMALL),
    "fcn32": lambda: seg.fcn(2, 1, 3, features=SMALL, skips=False),
    "unet": lambda: seg.unet(2, 1, 3, channels=SMALL),
    "unetpp": lambda: seg.unet_plus_plus(2, 1, 3, features=(4, 4, 4, 8, 8, 4)),
    "r2unet": lambda: seg.r2unet(2, 1, 3, features=SMALL, t=1),
}


@pytest.mark.parametrize("name", sorted(NETS_2D))
@pytest.mark.parametrize("shape", [(16, 16), (13, 19)])
def test_2d_shapes_and_gradients(name, shape):
    torch.manual_seed(0)
    net = NETS_2D[name]()
    x = torch.randn(2, 1, *shape, requires_grad=True)
    y = net(x)
    assert y.shape == (2, 3, *shape)
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    unused = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
    assert all("final_conv_0_" in n for n in unused), unused  # UNet++'s side heads without deep supervision


@pytest.mark.parametrize("make", [
    lambda: seg.fcn(3, 1, 2, features=SMALL),
    lambda: seg.unet(3, 1, 2, channels=SMALL),
    lambda: seg.r2unet(3, 1, 2, features=(4, 8), t=1),
    lambda: seg.vnet(1, 2, width=2),
])
def test_3d_odd_shapes(make):
    torch.manual_seed(0)
    net = make()
    x = torch.randn(1, 1, 9, 12, 11)
    assert net(x).shape == (1, 2, 9, 12, 11)


def test_unetpp_deep_supervision_list_in_training_only():
    net = seg.unet_plus_plus(2, 1, 3, features=(4, 4, 4, 8, 8, 4), deep_supervision=True)
    x = torch.randn(1, 1, 17, 15)
    outs = net(x)
    assert isinstance(outs, list) and len(outs) == 4 and all(o.shape == (1, 3, 17, 15) for o in outs)
    net.eval()
    assert net(x).shape == (1, 3, 17, 15)


def test_skip_fusion_adds_score_layers():
    assert seg.count_parameters(seg.fcn(features=SMALL)) > seg.count_parameters(seg.fcn(features=SMALL, skips=False))


def test_determinism():
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        net = seg.unet(2, 1, 3, channels=SMALL).eval()
        outs.append(net(torch.ones(1, 1, 16, 16)))
    assert torch.equal(outs[0], outs[1])


def test_bad_inputs():
    with pytest.raises(ValueError, match="spatial_dims"):
        seg.fcn(4)
    with pytest.raises(ValueError, match="channels"):
        seg.fcn(2, 1, 3, features=SMALL)(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match="shape"):
        seg.r2unet(2, 1, 3, features=SMALL)(torch.randn(1, 8, 8))
    with pytest.raises(ValueError, match="divisible by 8"):
        seg.SmallVNet(1, 2, width=2)(torch.randn(1, 1, 9, 8, 8))
    with pytest.raises(ValueError, match="6 feature"):
        seg.unet_plus_plus(features=(4, 4))


# ------------------------------------------------------------------ slice-sequence Bi-ConvLSTM U-Net (SG8)
@pytest.mark.parametrize("shape", [(1, 16, 16), (5, 13, 19)])
def test_biconvlstm_unet_shapes_and_gradients(shape):
    torch.manual_seed(0)
    net = seg.biconvlstm_unet(1, 3, features=SMALL)
    x = torch.randn(2, 1, *shape, requires_grad=True)
    y = net(x)
    assert y.shape == (2, 3, *shape)
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_biconvlstm_sees_both_ends_of_the_stack():
    """The first slice's prediction depends on the last slice and the reverse (both LSTM directions);
    a 2D network's would not."""
    torch.manual_seed(0)
    net = seg.biconvlstm_unet(1, 2, features=SMALL).eval().double()   # float64: the effect is small at init
    x = torch.randn(1, 1, 6, 12, 12, dtype=torch.float64)
    changed_last, changed_first = x.clone(), x.clone()
    changed_last[:, :, -1] += 3.0
    changed_first[:, :, 0] += 3.0
    with torch.no_grad():
        y, y_last, y_first = net(x), net(changed_last), net(changed_first)
    assert (y_last[:, :, 0] - y[:, :, 0]).abs().max() > 1e-10
    assert (y_first[:, :, -1] - y[:, :, -1]).abs().max() > 1e-10
    net.lstm = torch.nn.Identity()                                  # without the LSTM: slices independent
    net.lstm.forward = lambda seq: torch.zeros_like(seq)
    with torch.no_grad():
        assert torch.equal(net(changed_last)[:, :, 0], net(x)[:, :, 0])


def test_convlstm_cell_by_hand():
    """Zero kernels, biases that open the input/forget/output gates: c_t = c_{t-1} + tanh(g), h_t = tanh(c_t)."""
    cell = seg.ConvLSTMCell(1, 1, kernel=3)
    with torch.no_grad():
        cell.gates.weight.zero_()
        cell.gates.bias.copy_(torch.tensor([50.0, 50.0, 50.0, 0.5]))   # i, f, o, g
    x = torch.zeros(1, 1, 3, 3)
    h, c = cell(x)
    g = torch.tanh(torch.tensor(0.5))
    assert torch.allclose(c, g.expand_as(c), atol=1e-6) and torch.allclose(h, torch.tanh(c), atol=1e-6)
    h2, c2 = cell(x, (h, c))
    assert torch.allclose(c2, (2 * g).expand_as(c2), atol=1e-6)


def test_predict_sequence_along_each_axis():
    net = seg.biconvlstm_unet(1, 3, features=(4, 8)).eval()
    vol = np.random.default_rng(0).normal(size=(6, 10, 9)).astype(np.float32)
    for ax in range(3):
        p = seg.predict_sequence(net, vol, ax)
        assert p.shape == (3, 6, 10, 9) and torch.allclose(p.sum(0), torch.ones(6, 10, 9), atol=1e-5)


def test_biconvlstm_bad_inputs():
    with pytest.raises(ValueError, match="even"):
        seg.biconvlstm_unet(1, 2, features=(4, 7))
    with pytest.raises(ValueError, match="at least 2"):
        seg.biconvlstm_unet(1, 2, features=(4,))
    with pytest.raises(ValueError, match="D, H, W"):
        seg.biconvlstm_unet(1, 2, features=SMALL)(torch.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match="sequence"):
        seg.BiConvLSTM(2, 2)(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match="3D volume"):
        seg.predict_sequence(seg.biconvlstm_unet(1, 2, features=(4, 8)), np.zeros((4, 4)))
