"""CL1 / CL6: network shapes (1 and 3 channels, odd sizes), gradients, Grad-CAM, evaluation rule."""
import numpy as np
import pytest
import torch

from corelib.classification import (AttentionGate, CurriculumStream, RotationStream, build_net,
                                    evaluate_binary, gradcam, pacing, probe_difficulty, prototype_difficulty,
                                    replace_head, set_backbone_trainable, stratified_fraction, to_tensor)


@pytest.mark.parametrize("name", ["alexnet", "vgg", "resnet18"])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_gradients(name, channels):
    torch.manual_seed(0)
    net = build_net(name, in_channels=channels, num_classes=3, width=0.125)
    x = torch.randn(2, channels, 28, 28)
    out = net(x)
    assert out.shape == (2, 3)
    assert net.forward_features(x).shape == (2, net.fc.in_features)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    assert net(torch.randn(1, channels, 31, 29)).shape == (1, 3)  # odd sizes


def test_wrong_channels_and_bad_arguments():
    net = build_net("resnet18", in_channels=1, width=0.125)
    with pytest.raises(ValueError, match="input channel"):
        net(torch.randn(1, 3, 28, 28))
    with pytest.raises(ValueError, match="batch"):
        net(torch.randn(28, 28))
    with pytest.raises(ValueError, match="unknown net"):
        build_net("densenet")
    with pytest.raises(ValueError, match="in_channels"):
        build_net("vgg", in_channels=2)
    with pytest.raises(ValueError, match="num_classes"):
        build_net("vgg", num_classes=1)


def test_attention_and_gradcam():
    torch.manual_seed(0)
    net = build_net("resnet18", width=0.125, attention=True)
    x = torch.rand(3, 1, 16, 16)
    assert net(x).shape == (3, 2) and net.last_attention.shape[0] == 3
    a = net.last_attention
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    cam = gradcam(net, x)
    assert cam.shape == (3, 16, 16) and float(cam.min()) >= 0 and float(cam.max()) <= 1 + 1e-6
    assert net.training  # left as it was
    assert torch.allclose(gradcam(net, x, target=1), gradcam(net, x, target=torch.tensor([1, 1, 1])))
    with pytest.raises(ValueError, match="target"):
        gradcam(net, x, target=5)
    gate = AttentionGate(8)
    assert gate(torch.randn(2, 8, 5, 5)).shape == (2, 8, 5, 5)


def test_medmnist_rule_by_hand():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.6, 0.5, 0.9])  # 0.5 counts as negative
    r = evaluate_binary(y, s)
    assert r["AUC"] == pytest.approx(0.75)  # pairs (pos > neg): 0.9>0.1, 0.9>0.6, 0.5>0.1 -> 3 of 4
    assert r["ACC"] == pytest.approx(0.5)  # predictions 0,1,0,1
    assert r["sensitivity"] == pytest.approx(0.5) and r["specificity"] == pytest.approx(0.5)
    assert evaluate_binary(y, np.stack([1 - s, s], 1))["AUC"] == pytest.approx(0.75)
    with pytest.raises(ValueError):
        evaluate_binary(np.array([0, 2, 1, 1]), s)  # labels out of range
    with pytest.raises(ValueError, match="one class"):
        evaluate_binary(np.ones(4, int), s)  # empty class


def test_fractions_are_seeded():
    y = np.repeat([0, 1], 40)
    idx = stratified_fraction(y, 0.1, seed=1)
    assert len(idx) == 8 and np.bincount(y[idx]).tolist() == [4, 4]
    assert np.array_equal(idx, stratified_fraction(y, 0.1, seed=1))
    with pytest.raises(ValueError):
        stratified_fraction(y, 0)


def test_curriculum_orders_easy_first():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    f = rng.normal(size=(40, 2)) + 2 * y[:, None]
    d = probe_difficulty(f, y)
    assert d.shape == (40,) and np.all(d >= 0)
    assert prototype_difficulty(f, y).shape == (40,)
    assert pacing(0, 100, 0.3, 0.5) == pytest.approx(0.3) and pacing(50, 100, 0.3, 0.5) == 1.0
    x, yt = torch.rand(40, 1, 8, 8), torch.as_tensor(y)
    stream = CurriculumStream(x, yt, d, batch_size=4, steps=10, start=0.25, ramp=0.5)
    easiest = set(np.argsort(d, kind="stable")[:10].tolist())
    assert set(stream.pool(0).tolist()) == easiest and len(stream.pool(9)) == 40
    assert len(list(stream)) == 10
    with pytest.raises(ValueError, match="at least"):
        probe_difficulty(f[:6], y[:6] * 0 + np.array([0, 1, 1, 1, 1, 1]))
    with pytest.raises(ValueError, match="difficulty"):
        CurriculumStream(x, yt, d[:5])


def test_transfer_helpers():
    torch.manual_seed(0)
    imgs = to_tensor(np.random.default_rng(0).integers(0, 256, (5, 12, 12), dtype=np.uint8))
    assert imgs.shape == (5, 1, 12, 12) and float(imgs.max()) <= 1
    assert to_tensor(np.zeros((2, 12, 12), np.uint8), channels=3).shape == (2, 3, 12, 12)
    xb, k = next(iter(RotationStream(imgs, batch_size=4, steps=1)))
    assert xb.shape == (4, 1, 12, 12) and set(k.tolist()) <= {0, 1, 2, 3}
    net = replace_head(build_net("resnet18", num_classes=4, width=0.125), 2)
    set_backbone_trainable(net, False)
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    with pytest.raises(ValueError, match="square"):
        RotationStream(torch.rand(2, 1, 8, 9))


def test_benchmark_table():
    from corelib.classification import MEDMNIST_V2_REPORTED, pretext_slices, results_table

    t = results_table({"ours": [{"AUC": 0.9, "ACC": 0.8}, {"AUC": 0.8, "ACC": 0.7}]})
    assert t.loc["ours", "AUC"].startswith("0.850 ±") and t.loc["ours", "source"] == "measured here"
    assert len(t) == 1 + len(MEDMNIST_V2_REPORTED["breastmnist"])
    assert t.loc["MedMNIST v2: ResNet-18 (28)", "AUC"] == "0.901"
    with pytest.raises(ValueError, match="no runs"):
        results_table({"ours": []})
    with pytest.raises(ValueError, match="n >= 1"):
        pretext_slices(0)
