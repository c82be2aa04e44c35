"""Curriculum learning: train on easy samples first, then add harder ones (survey §4.1, CL4, [100][101]).

Difficulty of a training image = the out-of-fold cross-entropy of a small probe model (logistic
regression on handcrafted features) on its true label. Why this score: an image that a simple,
independent model classifies confidently is a typical example of its class; one it gets wrong is
atypical or ambiguous. Out-of-fold scores mean no image is scored by a probe that saw it.
The pacing is linear ("baby steps"): the pool starts with the easiest ``start`` fraction and grows to
the whole set at ``ramp`` of the training steps.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from corelib import validate
from corelib.classification.training import BatchStream

__all__ = ["probe_difficulty", "prototype_difficulty", "pacing", "CurriculumStream"]


def probe_difficulty(features: Any, labels: Any, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold cross-entropy -log p(y_i | x_i) of a logistic-regression probe, one per sample (higher = harder)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    validate.integer("folds", folds, min=2)
    x, y = np.asarray(features, np.float64), np.asarray(labels).ravel()
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"features must be (N, F) with one label each, got {x.shape} and {y.shape}")
    validate.finite_array("features", x)
    if y.dtype.kind not in "iub" or (y.size and y.min() < 0):
        raise ValueError(f"labels must be non-negative integer classes, got dtype {y.dtype}"
                         + (f" and minimum {y.min()}" if y.size and y.dtype.kind in "iuf" else ""))
    counts = np.bincount(y)
    if (counts > 0).sum() < 2 or counts[counts > 0].min() < folds:
        raise ValueError(f"each class needs at least {folds} samples for {folds}-fold probing, got counts {counts.tolist()}")
    out = np.zeros(len(y))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000, class_weight="balanced"))
        probe.fit(x[tr], y[tr])
        p = probe.predict_proba(x[te])[np.arange(len(te)), np.searchsorted(probe.classes_, y[te])]
        out[te] = -np.log(np.clip(p, 1e-7, 1))
    return out


def prototype_difficulty(embeddings: Any, labels: Any) -> np.ndarray:
    """Distance to the own class mean divided by the distance to the nearest other class mean (higher = harder)."""
    e, y = np.asarray(embeddings, np.float64), np.asarray(labels).ravel()
    if e.ndim != 2 or len(e) != len(y):
        raise ValueError(f"embeddings must be (N, D) with one label each, got {e.shape} and {y.shape}")
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError("prototype difficulty needs at least two classes")
    e = (e - e.mean(0)) / (e.std(0) + 1e-12)
    protos = np.stack([e[y == c].mean(0) for c in classes])
    d = np.linalg.norm(e[:, None] - protos[None], axis=-1)
    own = d[np.arange(len(y)), np.searchsorted(classes, y)]
    d[np.arange(len(y)), np.searchsorted(classes, y)] = np.inf
    return own / np.maximum(d.min(1), 1e-12)


def pacing(step: int, steps: int, start: float = 0.3, ramp: float = 0.6) -> float:
    """Fraction of the (sorted) training set available at ``step``: linear from ``start`` to 1 at ``ramp * steps``."""
    if not 0 < start <= 1 or not 0 < ramp <= 1:
        raise ValueError(f"start and ramp must be in (0, 1], got {start}, {ramp}")
    return float(min(1.0, start + (1 - start) * step / max(1.0, ramp * steps)))


class CurriculumStream(BatchStream):
    """Mini-batches drawn from the easiest ``pacing(step)`` fraction of the training set, easy to hard [100][101]."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, difficulty: Any, batch_size: int = 64, steps: int = 100,
                 seed: int = 0, aug: bool = True, start: float = 0.3, ramp: float = 0.6):
        super().__init__(x, y, batch_size, steps, seed, aug)
        d = np.asarray(difficulty, np.float64).ravel()
        if len(d) != len(x) or not np.all(np.isfinite(d)):
            raise ValueError(f"difficulty must be {len(x)} finite numbers, got {d.shape}")
        pacing(0, steps, start, ramp)
        self.order = torch.as_tensor(np.argsort(d, kind="stable"))
        self.start, self.ramp = start, ramp

    def pool(self, step: int) -> torch.Tensor:
        k = max(self.batch_size, int(np.ceil(pacing(step, self.steps, self.start, self.ramp) * len(self.order))))
        return self.order[:min(k, len(self.order))]
