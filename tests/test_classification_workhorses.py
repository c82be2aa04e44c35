"""Values, not only shapes: training learns a separable task; deep features are the penultimate layer
(BatchStream, augment and predict_scores: tests/test_ch4_1_helpers.py)."""
import numpy as np
import torch

from corelib.classification import build_net
from corelib.classification.training import train_classifier
from corelib.classification.transfer import deep_features


def toy(n=64, seed=0):
    """Bright-centre (class 1) against dark-centre (class 0) 28x28 images: separable."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = 0.3 * torch.rand(n, 1, 28, 28, generator=g)
    x[y == 1, :, 10:18, 10:18] += 0.7
    return x, y


def test_train_classifier_learns_a_separable_task():
    torch.manual_seed(0)
    x, y = toy(64)
    xv, yv = toy(32, seed=1)
    model = build_net("alexnet", in_channels=1, num_classes=2)
    hist = train_classifier(model, x, y, xv, yv, steps=60, batch_size=16, progress=False, aug=False)
    auc = max(v["AUC"] for v in hist.val)
    assert auc > 0.95
    assert "loss" in hist.val[-1]


def test_deep_features_are_the_penultimate_layer():
    torch.manual_seed(0)
    model = build_net("resnet18", in_channels=1, num_classes=2)
    x, _ = toy(6)
    f = deep_features(model, x, batch_size=4)
    with torch.no_grad():
        ref = model.forward_features(x).numpy()
    assert f.shape[0] == 6 and f.ndim == 2
    np.testing.assert_allclose(f, ref, atol=1e-5)
