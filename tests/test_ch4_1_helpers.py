"""Helpers shared by the 4.1 classification notebooks: the MedMNIST split loader and the ROC figure."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from corelib import data  # noqa: E402
from corelib.classification import Splits, load_splits, plot_roc  # noqa: E402


def fake_medmnist(flag="breastmnist"):
    rng = np.random.default_rng(0)
    out = {}
    for split, n in (("train", 6), ("val", 3), ("test", 4)):
        out[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        out[f"{split}_labels"] = np.arange(n, dtype=np.int64) % 2
    out.update(n_classes=2, class_names=["malignant", "normal, benign"], flag=flag, path="fake")
    return out


def test_load_splits_makes_tensors_of_every_split(monkeypatch):
    monkeypatch.setattr(data, "load_medmnist", fake_medmnist)
    d, X, Y = load_splits("breastmnist")
    assert isinstance(load_splits(), Splits) and d["flag"] == "breastmnist"
    assert set(X) == set(Y) == {"train", "val", "test"}
    for split in X:
        raw = d[f"{split}_images"]
        assert X[split].shape == (len(raw), 1, 28, 28) and X[split].dtype == torch.float32
        assert torch.allclose(X[split][:, 0], torch.as_tensor(raw, dtype=torch.float32) / 255)
        assert Y[split].dtype == torch.int64 and Y[split].tolist() == d[f"{split}_labels"].tolist()
    _, X3, _ = load_splits(channels=3)
    assert X3["test"].shape == (4, 3, 28, 28) and torch.equal(X3["test"][:, 0], X3["test"][:, 2])
    with pytest.raises(ValueError, match="channels"):
        load_splits(channels=2)


def test_plot_roc_draws_one_curve_per_method_and_averages_runs():
    y = np.repeat([0, 1], 10)
    perfect = y + 0.1 * np.arange(20) / 20
    runs = np.stack([perfect, 1 - perfect])  # two seeds; their per-case mean is a constant
    ax = plot_roc(y, {"perfect": perfect, "two runs": runs}, highlight=["perfect"])
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0] == "perfect (AUC 1.000)" and labels[1] == "two runs (AUC 0.500)"
    assert ax.get_lines()[0].get_linewidth() > ax.get_lines()[1].get_linewidth()
    assert len(ax.get_lines()) == 3  # two curves and the chance diagonal
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="both classes"):
        plot_roc(np.ones(4), {"a": np.ones(4)})
    with pytest.raises(ValueError, match="highlight"):
        plot_roc(y, {"a": perfect}, highlight=["b"])
    with pytest.raises(ValueError, match="shape"):
        plot_roc(y, {"a": perfect[:5]})


def test_batch_stream_draws_distinct_images_per_batch_and_is_seeded():
    from corelib.classification import BatchStream

    x = torch.arange(10, dtype=torch.float32).reshape(10, 1, 1, 1).expand(10, 1, 4, 4).clone()
    y = torch.arange(10) % 2
    batches = list(BatchStream(x, y, batch_size=4, steps=3, seed=1, aug=False))
    again = list(BatchStream(x, y, batch_size=4, steps=3, seed=1, aug=False))
    assert len(batches) == 3
    for (xb, yb), (xa, _) in zip(batches, again):
        ids = xb[:, 0, 0, 0].long()
        assert len(set(ids.tolist())) == 4 and torch.equal(yb, ids % 2) and torch.equal(xb, xa)


def test_augment_only_flips_and_shifts():
    from corelib.classification import augment

    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 8, 8)
    flipped = augment(x, g, shift=0)
    for a, b in zip(x, flipped):
        assert torch.equal(a, b) or torch.equal(a.flip(-1), b)
    shifted = augment(x, torch.Generator().manual_seed(0), shift=2)
    assert shifted.shape == x.shape and shifted.min() >= x.min() and shifted.max() <= x.max()


def test_predict_scores_and_class_weighted_training():
    from corelib.classification import build_net, predict_scores, train_classifier

    torch.manual_seed(0)
    x, y = torch.rand(12, 1, 12, 12), torch.tensor([0] * 3 + [1] * 9)
    net = build_net("resnet18", width=0.125)
    p = predict_scores(net, x, batch_size=5)
    assert p.shape == (12, 2) and np.allclose(p.sum(1), 1, atol=1e-6)
    hist = train_classifier(net, x, y, x, y, steps=3, batch_size=4, progress=False,
                            class_weight=True)
    assert hist.steps == 3 and len(hist.train_loss) == 3 and "AUC" in hist.val[-1]
