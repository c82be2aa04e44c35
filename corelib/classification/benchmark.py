"""The MedMNIST v2 benchmark rows and one results table (ours measured, theirs as reported).

Reported numbers: Yang et al. (2023), MedMNIST v2, Table 3 (BreastMNIST test split, 28 px).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from corelib import validate

__all__ = ["MEDMNIST_V2_REPORTED", "results_table", "ci_verdict"]

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


def ci_verdict(ci: Mapping[str, float]) -> bool | None:
    """True when the CI of a difference lies above 0, False when below, None (inconclusive) when it straddles 0."""
    if not isinstance(ci, Mapping) or "lo" not in ci or "hi" not in ci:
        raise ValueError(f"ci must be a dict with 'lo' and 'hi' (e.g. from bootstrap_auc_diff), got {ci!r}")
    validate.ordered("ci (lo, hi)", ci["lo"], ci["hi"], strict=False)  # a reversed interval is a bug
    if ci["lo"] > 0:
        return True
    if ci["hi"] < 0:
        return False
    return None
