"""Small helpers to train and score the classifiers of this chapter with ``corelib.train.fit``.

Images go in as float tensors (N, C, H, W) scaled to [0, 1]; labels as int64 (N,).
"""
from __future__ import annotations

from typing import Any, Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from corelib import metrics, validate
from corelib.train import History, fit

__all__ = ["to_tensor", "Splits", "load_splits", "augment", "BatchStream", "predict_scores",
           "evaluate_binary", "train_classifier", "stratified_fraction"]

SPLITS = ("train", "val", "test")


def to_tensor(images: np.ndarray, channels: int = 1) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, H, W, 3) -> float (N, C, H, W) in [0, 1]; grey replicated to 3 channels on request."""
    a = validate.array("images", images)
    if a.ndim not in (3, 4):
        raise ValueError(f"expected (N, H, W) or (N, H, W, 3) images, got shape {a.shape}")
    validate.one_of("channels", channels, (1, 3))
    if a.dtype.kind in "iu" and a.dtype != np.uint8:  # uint16 would come out far above 1
        raise ValueError(f"images have dtype {a.dtype}; give uint8 (0..255) or floats in [0, 1]")
    if a.dtype.kind == "f" and (not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1):
        raise ValueError(f"float images must be finite and in [0, 1], got values in [{a.min():g}, {a.max():g}]")
    scale = 255.0 if a.dtype == np.uint8 else 1.0
    t = torch.as_tensor(a, dtype=torch.float32) / scale
    t = t[:, None] if t.ndim == 3 else t.permute(0, 3, 1, 2)
    if channels == 3 and t.shape[1] == 1:
        t = t.repeat(1, 3, 1, 1)
    if channels not in (1, 3) or t.shape[1] != channels:
        raise ValueError(f"cannot make {channels} channel(s) from images with {t.shape[1]}")
    return t.contiguous()


class Splits(NamedTuple):
    """A MedMNIST dataset ready for this chapter: ``raw`` is :func:`corelib.data.load_medmnist`'s dict
    (uint8 images, int64 labels, ``class_names``); ``x`` and ``y`` map each split to tensors."""

    raw: dict[str, Any]
    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]


def load_splits(flag: str = "breastmnist", channels: int = 1) -> Splits:
    """Load a MedMNIST dataset with its official train/val/test split as :class:`Splits`.

    ``x[split]`` is float (N, C, H, W) in [0, 1] (:func:`to_tensor`), ``y[split]`` int64 (N,).
    Use ``d, X, Y = load_splits("breastmnist")``.
    """
    from corelib import data

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    raw = data.load_medmnist(flag)
    x = {s: to_tensor(raw[f"{s}_images"], channels=channels) for s in SPLITS}
    y = {s: torch.as_tensor(raw[f"{s}_labels"]) for s in SPLITS}
    return Splits(raw, x, y)


def augment(x: torch.Tensor, generator: torch.Generator, shift: int = 2) -> torch.Tensor:
    """Random horizontal flips and integer shifts of up to ``shift`` px (reflect padding)."""
    validate.tensor("x", x, ndim=4)
    validate.integer("shift", shift, min=0)
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if shift > 0:
        h, w = x.shape[-2:]
        p = F.pad(x, (shift,) * 4, mode="reflect")
        dy, dx = torch.randint(0, 2 * shift + 1, (2, n), generator=generator)
        rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
        x = p[torch.arange(n)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]
    return x


class BatchStream:
    """``steps`` random mini-batches (x, y), seeded, optionally augmented.

    Each batch is drawn without replacement, independently of the others (no epochs: a sample can
    appear in consecutive batches and another not at all for a while).

    ``pool(step) -> indices`` may restrict which samples are drawn at each step (used by curriculum learning).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int = 64, steps: int = 100,
                 seed: int = 0, aug: bool = True):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        if len(x) == 0:
            raise ValueError("no training samples")
        validate.positive_int("batch_size", batch_size)
        validate.positive_int("steps", steps)
        self.x, self.y, self.batch_size, self.steps, self.seed, self.aug = x, y, batch_size, steps, seed, aug

    def __len__(self) -> int:
        return self.steps

    def pool(self, step: int) -> torch.Tensor:
        return torch.arange(len(self.x))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed)
        for step in range(self.steps):
            pool = self.pool(step)
            bs = min(self.batch_size, len(pool))
            idx = pool[torch.randperm(len(pool), generator=g)[:bs]]
            xb = self.x[idx]
            yield (augment(xb, g) if self.aug else xb), self.y[idx]


@torch.no_grad()
def predict_scores(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """Softmax probabilities (N, C) in eval mode."""
    validate.positive_int("batch_size", batch_size)
    validate.nonempty("x", x)
    model.eval()
    dev = next(model.parameters()).device
    out = [torch.softmax(model(x[i:i + batch_size].to(dev)).float(), 1).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


def evaluate_binary(y_true: Any, score: Any) -> dict[str, float]:
    """MedMNIST rule (AUC of the positive-class score, ACC with score > 0.5) plus sensitivity, specificity, F1."""
    s = np.asarray(score, dtype=np.float64)
    if s.ndim == 2 and s.shape[1] > 2:
        raise ValueError(f"score must be (N,) or (N, 2) for a binary task, got {s.shape[1]} columns")
    s = s[:, -1] if s.ndim == 2 else s
    auc, acc = metrics.auc_acc(y_true, s, task="binary")
    return {"AUC": auc, "ACC": acc, **metrics.sens_spec_f1(np.asarray(y_true).reshape(-1), (s > 0.5).astype(int))}


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
                     steps: int = 300, batch_size: int = 64, lr: float = 2e-3, weight_decay: float = 1e-4,
                     seed: int = 0, aug: bool = True, stream: BatchStream | None = None, val_every: int | None = None,
                     desc: str = "train", progress: bool = True, class_weight: bool = False) -> History:
    """Train with ``fit`` (AdamW, one-cycle LR, cross-entropy), keeping the weights with the best validation AUC.

    The history's validation entries hold ``loss`` and ``AUC`` on ``(x_val, y_val)``.

    ``class_weight``: weight the cross-entropy by inverse class frequency of ``y`` (off by default, as in
    MedMNIST: with a fixed 0.5 threshold, re-weighting trades ACC for sensitivity on the rarer class).
    """
    validate.positive_int("steps", steps)
    n_out = getattr(getattr(model, "fc", None), "out_features", None)
    for name, t in (("y", y), ("y_val", y_val)):
        validate.tensor(name, t, ndim=1)
        if t.is_floating_point() or t.dtype == torch.bool:
            raise validate.ArgumentTypeError(f"{name} must hold integer class indices (int64), got {t.dtype}")
        if len(t) and (int(t.min()) < 0 or (n_out is not None and int(t.max()) >= n_out)):
            raise ValueError(f"{name} holds classes {int(t.min())}..{int(t.max())}, but the model has "
                             f"{n_out} outputs (classes 0..{(n_out or 0) - 1})")
    validate.same_length(("x_val", "y_val"), x_val, y_val)
    torch.manual_seed(seed)
    stream = stream or BatchStream(x, y, batch_size, steps, seed, aug)
    w = None
    if class_weight:
        counts = torch.bincount(y, minlength=int(y.max()) + 1).float().clamp_min(1)
        w = (counts.sum() / counts / len(counts)).to(torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=w)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=len(stream), pct_start=0.15)
    yv = y_val.numpy()

    def val_fn(m: nn.Module) -> dict[str, float]:
        p = predict_scores(m, x_val)
        return {"AUC": metrics.auc_acc(yv, p[:, -1])[0],
                "loss": float(F.nll_loss(torch.log(torch.as_tensor(p).clamp_min(1e-7)), y_val))}

    return fit(model, stream, loss_fn, optimizer=opt, scheduler=sched, steps=len(stream), val_fn=val_fn,
               val_every=val_every or max(1, len(stream) // 15), monitor="AUC", mode="max", desc=desc,
               progress=progress)


def stratified_fraction(y: Any, fraction: float, seed: int = 0, min_per_class: int = 2) -> np.ndarray:
    """Indices of a class-stratified random subset holding ``fraction`` of the samples (at least ``min_per_class`` each).

    Kept by hand rather than ``sklearn.model_selection.train_test_split(stratify=y)``: that draws
    from another random stream (so other subsets, and other 4.1b numbers), rounds the class counts
    its own way and has no ``min_per_class`` floor.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    validate.positive_int("min_per_class", min_per_class)
    validate.nonempty("y", np.asarray(y).reshape(-1))
    y = np.asarray(y).reshape(-1)
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = max(min_per_class, int(round(fraction * len(idx))))
        keep.append(rng.permutation(idx)[:min(k, len(idx))])
    return np.sort(np.concatenate(keep))
