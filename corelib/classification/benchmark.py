"""The MedMNIST v2 benchmark rows, one results table (ours measured, theirs as reported), ROC curves.

Reported numbers: Yang et al. (2023), MedMNIST v2, Table 3 (BreastMNIST test split, 28 px).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["MEDMNIST_V2_REPORTED", "results_table", "plot_roc"]

MEDMNIST_V2_REPORTED: dict[str, dict[str, tuple[float, float]]] = {
    "breastmnist": {
        "ResNet-18 (28)": (0.901, 0.863),
        "ResNet-50 (28)": (0.857, 0.812),
        "auto-sklearn": (0.836, 0.803),
        "AutoKeras": (0.871, 0.831),
        "Google AutoML Vision": (0.919, 0.861),
    },
}


def results_table(ours: Mapping[str, Sequence[Mapping[str, float]]], flag: str = "breastmnist",
                  reported: bool = True) -> Any:
    """A DataFrame: one row per method; ``ours`` maps a name to one metrics dict per seed (mean ± std
    when several), followed by the MedMNIST v2 rows for ``flag`` marked "reported"."""
    import pandas as pd

    rows = []
    for name, runs in ours.items():
        if not runs:
            raise ValueError(f"no runs for {name!r}")
        row: dict[str, Any] = {"method": name, "source": "measured here", "seeds": str(len(runs))}
        for k in runs[0]:
            v = np.array([r[k] for r in runs], dtype=float)
            row[k] = f"{v.mean():.3f}" if len(v) == 1 else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"
        rows.append(row)
    if reported:
        for name, (auc, acc) in MEDMNIST_V2_REPORTED.get(flag, {}).items():
            rows.append({"method": f"MedMNIST v2: {name}", "source": "reported", "seeds": "",
                         "AUC": f"{auc:.3f}", "ACC": f"{acc:.3f}"})
    return pd.DataFrame(rows).set_index("method").fillna("")


def plot_roc(y_true: Any, scores: Mapping[str, Any], ax: Any = None, highlight: Sequence[str] = (),
             title: str = "ROC on the test split") -> Any:
    """ROC curves of several classifiers on the same cases; returns the axes.

    ``scores`` maps a name to the positive-class scores, shape ``(cases,)`` or ``(runs, cases)``
    (several seeds: the per-case mean score is plotted, and the legend gives its AUC). Names in
    ``highlight`` are drawn thicker. The chance diagonal is dotted.
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.asarray(y_true).reshape(-1)
    if not np.all(np.isin(y, (0, 1))) or np.unique(y).size < 2:
        raise ValueError("y_true must hold both classes, as 0 and 1")
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError("scores must be a non-empty dict {name: scores}")
    unknown = set(highlight) - set(scores)
    if unknown:
        raise ValueError(f"highlight names {sorted(unknown)} are not in scores")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5), layout="constrained")
    for name, s in scores.items():
        s = np.asarray(s, dtype=np.float64)
        s = s.mean(0) if s.ndim == 2 else s
        if s.shape != y.shape:
            raise ValueError(f"scores[{name!r}] has shape {s.shape}, expected ({len(y)},) per run")
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, lw=2.2 if name in highlight else 1.2,
                label=f"{name} (AUC {roc_auc_score(y, s):.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="1 - specificity (false positive rate)",
           ylabel="sensitivity (true positive rate)", title=title)
    ax.legend(fontsize=7, loc="lower right")
    return ax
