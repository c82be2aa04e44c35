"""corelib.saliency: the maps, the randomisation cascade and the scores of the sanity checks."""
import numpy as np
import pytest
import torch
from torch import nn

from corelib import saliency as sal


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.head = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        h = self.act(self.head(self.relu(self.conv(x))))
        return self.fc(h.mean((2, 3)))


@pytest.fixture
def net_and_x():
    return TinyNet().eval(), torch.rand(3, 1, 12, 12, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("method", [sal.gradient, sal.guided_backprop, sal.integrated_gradients,
                                    lambda m, x, t: sal.grad_cam(m, x, t, layer="head"),
                                    lambda m, x, t: sal.occlusion(m, x, t, mask_size=3)])
def test_every_map_has_one_nonnegative_plane_per_image(net_and_x, method):
    net, x = net_and_x
    maps = method(net, x, [0, 1, 0])
    assert maps.shape == (3, 12, 12)
    assert np.isfinite(maps).all() and (maps >= 0).all()


def test_integrated_gradients_complete_for_a_linear_model():
    # for a linear score, IG equals (x − x0) * w exactly (completeness axiom)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    x = torch.rand(2, 1, 4, 4)
    ig = sal.integrated_gradients(lin, x, [1, 1], steps=4)
    w = lin[1].weight[1].detach().reshape(4, 4)
    assert np.allclose(ig, (x[:, 0] * w).abs().numpy(), atol=1e-6)


def test_guided_backprop_swaps_relus_by_type_and_restores_them(net_and_x):
    net, x = net_and_x
    guided, plain = sal.guided_backprop(net, x, [0, 0, 0]), sal.gradient(net, x, [0, 0, 0])
    assert not np.allclose(guided, plain)  # MONAI's name-based version would return `plain` here
    assert isinstance(net.act, nn.ReLU) and isinstance(net.relu, nn.ReLU)
    with pytest.raises(ValueError, match="no nn.ReLU"):
        sal.guided_backprop(nn.Sequential(nn.Flatten(), nn.Linear(144, 2)), x, [0, 0, 0])


def test_cascade_randomises_top_down_and_leaves_the_model_alone(net_and_x):
    net, _ = net_and_x
    before = {k: v.clone() for k, v in net.state_dict().items()}
    stages = list(sal.cascading_randomization(net, ["fc", "head", "conv"]))
    assert [name for name, _ in stages] == ["fc", "head", "conv"]
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    (_, last), = list(sal.cascading_randomization(net, ["fc"]))
    assert not torch.equal(last.fc.weight, net.fc.weight)
    assert torch.equal(last.conv.weight, net.conv.weight)  # below the cascade: still trained
    with pytest.raises(ValueError, match="not modules"):
        list(sal.cascading_randomization(net, ["nope"]))


def test_rank_correlation_mass_inside_and_edges():
    a = np.arange(2 * 16, dtype=float).reshape(2, 4, 4)
    assert np.allclose(sal.rank_correlation(a, a), 1.0)
    assert np.allclose(sal.rank_correlation(a, -a), -1.0)
    assert (sal.rank_correlation(a, np.zeros_like(a)) == 0).all()  # no ranking in a constant map
    mask = np.zeros((2, 4, 4), bool)
    mask[:, :2] = True
    s = np.zeros((2, 4, 4))
    s[0, :2] = 1.0
    s[1] = 1.0
    assert np.allclose(sal.mass_inside(s, mask), [1.0, 0.5])
    step = np.zeros((1, 1, 8, 8))
    step[..., 4:] = 1.0
    edges = sal.edge_map(step)
    assert edges[0, :, 3:5].min() > 0 and edges[0, :, 0].max() == 0


def test_region_score_and_bad_inputs(net_and_x):
    net, x = net_and_x
    seg = nn.Conv2d(1, 3, 1)
    region = torch.zeros(1, 1, 12, 12)
    region[..., 4:8, 4:8] = 1
    score = sal.RegionScore(seg, region)(x)
    assert score.shape == (3, 1) and ((score >= 0) & (score <= 1)).all()
    with pytest.raises(ValueError, match="one class per image"):
        sal.gradient(net, x, [0])
    with pytest.raises(ValueError, match="NaN"):
        sal.gradient(net, torch.full_like(x, float("nan")), [0, 0, 0])
    with pytest.raises(ValueError, match="not a module"):
        sal.grad_cam(net, x, [0, 0, 0], layer="missing")
    with pytest.raises(ValueError, match="differ in shape"):
        sal.mass_inside(np.zeros((1, 4, 4)), np.zeros((1, 4, 5), bool))
