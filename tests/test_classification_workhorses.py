"""Values, not only shapes, for the classification chapter's training plumbing."""
import numpy as np
import pytest
import torch

from corelib.classification import build_net
from corelib.classification.training import BatchStream, augment, predict_scores, train_classifier
from corelib.classification.transfer import deep_features


def toy(n=64, seed=0):
    """Bright-centre (class 1) against dark-centre (class 0) 28x28 images: separable."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = 0.3 * torch.rand(n, 1, 28, 28, generator=g)
    x[y == 1, :, 10:18, 10:18] += 0.7
    return x, y


def test_augment_only_flips_without_shift_and_keeps_values():
    x = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4)
    out = augment(x, torch.Generator().manual_seed(0), shift=0)
    for i in range(2):
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(-1))
    shifted = augment(x, torch.Generator().manual_seed(0), shift=1)
    assert shifted.shape == x.shape
    assert set(shifted.unique().tolist()) <= set(x.unique().tolist())  # reflect padding invents nothing


def test_batch_stream_is_seeded_and_draws_distinct_samples_per_batch():
    x, y = toy(20)
    a = [idx for idx, _ in BatchStream(torch.arange(20.0)[:, None, None, None].expand(20, 1, 4, 4), y,
                                      batch_size=8, steps=5, seed=3, aug=False)]
    b = [idx for idx, _ in BatchStream(torch.arange(20.0)[:, None, None, None].expand(20, 1, 4, 4), y,
                                      batch_size=8, steps=5, seed=3, aug=False)]
    assert len(a) == 5 and all(torch.equal(p, q) for p, q in zip(a, b))
    for batch in a:
        ids = batch[:, 0, 0, 0].long()
        assert len(ids.unique()) == 8  # without replacement within a batch
    with pytest.raises(ValueError, match="samples"):
        BatchStream(x, y[:3])


def test_predict_scores_are_the_models_softmax_in_eval_mode():
    torch.manual_seed(0)
    model = build_net("alexnet", in_channels=1, num_classes=2)
    x, _ = toy(10)
    p = predict_scores(model, x, batch_size=4)
    assert not model.training
    with torch.no_grad():
        ref = torch.softmax(model(x), 1).numpy()
    np.testing.assert_allclose(p, ref, atol=1e-5)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)


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
