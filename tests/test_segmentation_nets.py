"""Segmentation networks: shapes (2D/3D, odd sizes), gradients, determinism, bad inputs."""
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
