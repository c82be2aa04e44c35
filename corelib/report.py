"""Records each notebook's numbers, checks and claim verdicts, and builds the book's scorecard.

In a notebook::

    from corelib import report
    report.set_notebook("ch2_1_restoration/01_ldct_denoising")
    report.record({"psnr": {"RED-CNN": 33.1, "BM3D": 31.7}})
    v = report.compare(psnr_red, psnr_dae, what="RED-CNN − CNN-DAE", unit="dB")  # per-slice values
    report.claim("C-DN-b", v, evidence="18 held-out slices, I0 = 1e4")
    report.glue("red_gain", v.effect)          # {glue:text}`red_gain:.2f` in the prose
    report.check(psnr_red.mean() > psnr_fbp.mean() + 1, "RED-CNN must clearly beat the low-dose input")

**One verdict rule for every claim** (:func:`decide`): the claim says that method A beats its
comparator B by more than ``margin``. The effect is A − B in the claim's direction, paired over the
same test cases, with a bootstrap confidence interval (:func:`compare`). The claim is *reproduced*
when the whole interval lies above the margin, *not reproduced* when it lies below it, and
*inconclusive* otherwise. A verdict therefore changes only when the evidence moves by more than
its own uncertainty, not with float noise from the thread count.

Each notebook writes ``<results>/<notebook>.json`` (``results_dir()``): profile, device, commit,
wall time, metrics, glued values, checks and claims. In smoke mode (``CORELIB_SMOKE=1``) claims are
recorded with the status ``smoke`` and failed checks are recorded instead of raised: a smoke run
executes the code, it decides nothing. ``python -m corelib.report --out ... --map ... --ledger ...``
builds the scorecard from the quick results (CI) and the full-profile ledger (GPU runs).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

RESULTS_ENV = "CORELIB_RESULTS"
COMMIT_ENV = "CORELIB_COMMIT"
CLAIM_ID = re.compile(r"^(C-[A-Z]{2}-[a-z]|O-OL[0-9]-[a-z])$")
NOTEBOOK_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
STATUSES = ("reproduced", "not reproduced", "inconclusive")
STATUS_SYMBOL = {
    "reproduced": "✓",
    "not reproduced": "✗",
    "inconclusive": "~",
    "smoke": "·",
    "not yet measured": "…",
}
CHAPTERS = {  # claim-id infix -> chapter heading on the scorecard
    "DN": "2.1 Restoration and reconstruction", "SR": "2.1 Restoration and reconstruction",
    "RC": "2.1 Restoration and reconstruction", "SY": "2.2 Synthesis", "RG": "3.1 Registration",
    "SG": "3.2 Segmentation", "CL": "4.1 Classification", "DT": "4.2 Detection", "OL": "5 Outlook",
}
_CATALOGUE_ROW = re.compile(
    r"^\|\s*(C-[A-Z]{2}-[a-z]|O-OL[0-9]-[a-z])\s*\|\s*(?:claim:|statement:)?\s*([^|]*?)\s*\|")
_ROOT = Path(__file__).resolve().parent.parent
MAP_PATH = _ROOT / "book" / "survey_map.md"

_notebook: str | None = None
_started: float | None = None


# ----------------------------------------------------------------------------- the verdict rule
@dataclass(frozen=True)
class Verdict:
    """A claim's outcome: effect (A − B in the claim's direction), its interval, the margin, the status.

    ``n`` counts the paired test cases, ``runs`` the training runs (seeds) behind each side;
    ``parts`` holds the verdicts of a claim made of several comparisons (:func:`all_of`).
    """

    status: str
    effect: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    margin: float = 0.0
    n: int = 0
    runs: int = 1
    what: str = ""
    unit: str = ""
    level: float = 0.95
    parts: dict[str, "Verdict"] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: ``what: +0.52 dB [+0.31, +0.74] (margin +0, 18 cases, 1 run): reproduced``."""
        if self.parts:
            inner = "; ".join(f"{k}: {v.summary()}" for k, v in self.parts.items())
            return f"{self.status} (all of: {inner})"
        unit = f" {self.unit}" if self.unit else ""
        runs = f"{self.runs} run{'s' if self.runs != 1 else ''}"
        what = f"{self.what}: " if self.what else ""
        return (f"{what}{self.effect:+.4g}{unit} [{self.lo:+.4g}, {self.hi:+.4g}] "
                f"(margin {self.margin:+.4g}, {self.n} cases, {runs}): {self.status}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["parts"] = {k: v.to_dict() for k, v in self.parts.items()}
        return _jsonable(out)

    @property
    def interval(self) -> str:
        """``[lo, hi]`` formatted for prose."""
        return f"[{self.lo:+.3g}, {self.hi:+.3g}]"


def decide(lo: float, hi: float, margin: float = 0.0) -> str:
    """The rule: *reproduced* if ``lo > margin``, *not reproduced* if ``hi < margin``, else *inconclusive*."""
    for name, value in (("lo", lo), ("hi", hi), ("margin", margin)):
        if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if lo > hi:
        raise ValueError(f"the interval is reversed: lo {lo} > hi {hi}")
    if lo > margin:
        return "reproduced"
    if hi < margin:
        return "not reproduced"
    return "inconclusive"


def _check_level_and_boot(level: float, n_boot: int) -> None:
    if not 0.5 <= level < 1:
        raise ValueError(f"level must be in [0.5, 1), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
        raise ValueError(f"n_boot must be an integer of at least 100, got {n_boot!r}")


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int, n_boot: int = 2000,
                       level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """``(value, lo, hi)``: ``statistic(indices)`` on all ``n`` cases and its percentile bootstrap interval.

    Resamples that give a non-finite value (e.g. an AUC on one class only) are skipped.
    """
    _check_level_and_boot(level, n_boot)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"need at least 2 paired cases for an interval, got n={n!r}")
    value = float(statistic(np.arange(n)))
    if not math.isfinite(value):
        raise ValueError(f"the statistic is {value} on the full set of cases")
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng.integers(0, n, n)) for _ in range(n_boot)], dtype=float)
    draws = draws[np.isfinite(draws)]
    if len(draws) < n_boot // 2:
        raise ValueError("more than half of the bootstrap resamples gave no finite value")
    lo, hi = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return value, float(lo), float(hi)


def _paired(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` as ``(runs, cases)`` float arrays (one run when they are 1-D)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a and b must hold the same cases: shapes {a.shape} and {b.shape}")
    if a.ndim not in (1, 2):
        raise ValueError(f"a and b must be (cases,) or (runs, cases), got shape {a.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("a and b must be finite (a NaN score means a failed case: fix or drop it first)")
    return np.atleast_2d(a), np.atleast_2d(b)


def _runs_and_cases_interval(d: np.ndarray, n_boot: int, level: float,
                             seed: int) -> tuple[float, float, float]:
    """Mean of ``d`` (runs, cases) and a two-level percentile bootstrap interval.

    Each resample draws runs with replacement and, independently, cases with replacement, so the
    interval holds the run-to-run spread of training (seeds, float noise) as well as the
    case-to-case spread (Davison & Hinkley 1997, section 3.8, nested bootstrap of a two-stage design).
    """
    _check_level_and_boot(level, n_boot)
    runs, n = d.shape
    if n < 2:
        raise ValueError(f"need at least 2 paired cases for an interval, got n={n}")
    rng = np.random.default_rng(seed)
    draws = np.array([d[np.ix_(rng.integers(0, runs, runs), rng.integers(0, n, n))].mean()
                      for _ in range(n_boot)])
    lo, hi = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return float(d.mean()), float(lo), float(hi)


def compare(a: Any, b: Any, *, margin: float = 0.0, higher_is_better: bool = True, what: str = "",
            unit: str = "", n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Verdict:
    """Paired comparison of per-case scores of method A (``a``) and its comparator B (``b``).

    ``a`` and ``b`` hold one value per test case, in the same case order: shape ``(cases,)``, or
    ``(runs, cases)`` for several training runs (seeds). The effect is the mean of ``a - b``
    (``b - a`` when lower is better, e.g. HD95), so a positive effect always favours A.
    The interval is a percentile bootstrap over cases; with several runs it resamples runs too,
    so that a verdict one training run's noise could flip comes out *inconclusive*. The status
    follows :func:`decide`.
    """
    a, b = _paired(a, b)
    d = (a - b) if higher_is_better else (b - a)
    runs, n = d.shape
    if runs == 1:
        value, lo, hi = bootstrap_interval(lambda i: d[0, i].mean(), n, n_boot, level, seed)
    else:
        value, lo, hi = _runs_and_cases_interval(d, n_boot, level, seed)
    return Verdict(decide(lo, hi, margin), value, lo, hi, float(margin), n, runs, what, unit, level)


def compare_statistic(statistic: Callable[[np.ndarray], float], n: int, *, margin: float = 0.0,
                      runs: int = 1, what: str = "", unit: str = "", n_boot: int = 2000,
                      level: float = 0.95, seed: int = 0) -> Verdict:
    """Like :func:`compare` for an effect that is not a mean of per-case values.

    ``statistic(indices)`` returns the effect (A − B, positive favours A) on the cases ``indices``,
    e.g. a difference of AUCs (:func:`compare_auc`).
    """
    value, lo, hi = bootstrap_interval(statistic, n, n_boot, level, seed)
    return Verdict(decide(lo, hi, margin), value, lo, hi, float(margin), int(n), int(runs), what, unit, level)


def compare_unpaired(a: Any, b: Any, *, margin: float = 0.0, higher_is_better: bool = True,
                     what: str = "", unit: str = "", n_boot: int = 2000, level: float = 0.95,
                     seed: int = 0) -> Verdict:
    """Like :func:`compare` for two *different* sets of cases (e.g. in-domain against other
    scanners): effect = mean(a) − mean(b) (reversed when lower is better).

    ``a`` and ``b`` are ``(cases,)`` or ``(runs, cases)`` with the same runs (the same trained
    models, in the same order) and any number of cases each. The bootstrap resamples the cases of
    ``a`` and of ``b`` independently and, with several runs, the runs (shared by both sides).
    ``n`` of the verdict is the smaller group.
    """
    arrays = {"a": np.asarray(a, dtype=float), "b": np.asarray(b, dtype=float)}
    for name, x in arrays.items():
        if x.ndim not in (1, 2):
            raise ValueError(f"{name} must be (cases,) or (runs, cases), got shape {x.shape}")
    a2, b2 = (np.atleast_2d(x) for x in arrays.values())
    for name, x in (("a", a2), ("b", b2)):
        if x.shape[1] < 2:
            raise ValueError(f"{name} needs at least 2 cases for an interval, got {x.shape[1]}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} must be finite (a NaN score means a failed case)")
    if a2.shape[0] != b2.shape[0]:
        raise ValueError(f"a and b must come from the same runs: {a2.shape[0]} and {b2.shape[0]} runs")
    _check_level_and_boot(level, n_boot)
    sign = 1.0 if higher_is_better else -1.0
    runs, na, nb = a2.shape[0], a2.shape[1], b2.shape[1]
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for k in range(n_boot):
        r = rng.integers(0, runs, runs) if runs > 1 else np.zeros(1, int)
        draws[k] = sign * (a2[np.ix_(r, rng.integers(0, na, na))].mean()
                           - b2[np.ix_(r, rng.integers(0, nb, nb))].mean())
    lo, hi = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)])
    value = sign * (a2.mean() - b2.mean())
    return Verdict(decide(float(lo), float(hi), margin), float(value), float(lo), float(hi),
                   float(margin), int(min(na, nb)), int(runs), what, unit, level)


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from scipy.stats import rankdata

    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    r = rankdata(s)
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def compare_auc(y_true: Any, score_a: Any, score_b: Any, *, margin: float = 0.0, runs: int = 1,
                what: str = "", n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Verdict:
    """Paired bootstrap of AUC(A) − AUC(B) over the test cases (binary labels 0/1, one score per case)."""
    y = np.asarray(y_true).reshape(-1)
    a, b = np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)
    for name, s in (("score_a", a), ("score_b", b)):
        if s.ndim != 1:
            raise ValueError(f"{name} must hold one score per case (the positive class), got shape {s.shape}")
        if len(s) != len(y):
            raise ValueError(f"{name} has {len(s)} scores for {len(y)} labels")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"{name} holds NaN or infinite scores")
    if not np.all(np.isin(y, (0, 1))) or np.unique(y).size < 2:
        raise ValueError("y_true must hold both classes, as 0 and 1")
    return compare_statistic(lambda i: _auc(y[i], a[i]) - _auc(y[i], b[i]), len(y), margin=margin,
                             runs=runs, what=what, unit="AUC", n_boot=n_boot, level=level, seed=seed)


def all_of(**parts: Verdict) -> Verdict:
    """A claim made of several comparisons: reproduced if all parts are, not reproduced if any part is not."""
    if not parts:
        raise ValueError("all_of() needs at least one named verdict")
    for name, v in parts.items():
        if not isinstance(v, Verdict):
            raise TypeError(f"part {name!r} is a {type(v).__name__}, not a Verdict")
    statuses = [v.status for v in parts.values()]
    if "not reproduced" in statuses:
        status = "not reproduced"
    elif all(s == "reproduced" for s in statuses):
        status = "reproduced"
    else:
        status = "inconclusive"
    return Verdict(status, n=min(v.n for v in parts.values()), runs=min(v.runs for v in parts.values()),
                   parts=dict(parts))


# ----------------------------------------------------------------------------- recording
def results_dir() -> Path:
    """``$CORELIB_RESULTS``, else ``<repo root>/results`` in a checkout, else ``./results``.

    A checkout is recognised by the ``pyproject.toml`` beside the package (an editable install);
    an installed corelib (Colab) writes next to the notebook instead of into site-packages.
    """
    env = os.environ.get(RESULTS_ENV, "").strip()
    if env:
        return Path(env)
    return _ROOT / "results" if (_ROOT / "pyproject.toml").exists() else Path.cwd() / "results"


def set_notebook(name: str) -> None:
    """Set the notebook that later calls write to, e.g. ``"ch1_foundations/01_data_tour"``; starts its clock."""
    global _notebook, _started
    _notebook = _check_notebook(name)
    _started = time.perf_counter()


def _check_notebook(name: str | None) -> str:
    name = name if name is not None else _notebook
    if name is None:
        raise ValueError("no notebook name: call report.set_notebook('chapter/notebook') first or pass notebook=")
    if not isinstance(name, str) or not NOTEBOOK_NAME.match(name) or ".." in name.split("/"):
        raise ValueError(f"notebook name {name!r} must look like 'chapter/notebook' (letters, digits, _ . -)")
    return name


def _jsonable(value: Any) -> Any:
    """JSON-safe copy: numpy/torch scalars and arrays to Python, non-finite floats to None."""
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalar or array
        value = value.tolist()
    if isinstance(value, Verdict):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def _path(notebook: str) -> Path:
    return results_dir() / f"{notebook}.json"


def _load(notebook: str) -> dict[str, Any]:
    path = _path(notebook)
    if not path.exists():
        return {"notebook": notebook, "metrics": {}, "claims": {}, "glue": {}, "checks": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"results file {path} is not valid JSON: {err}") from err
    for key in ("metrics", "claims", "glue"):
        data.setdefault(key, {})
    data.setdefault("checks", [])
    return data


_commit_cache: str | None = None


def commit() -> str:
    """The corelib commit a result comes from: ``$CORELIB_COMMIT``, else ``git rev-parse``, else ``unknown``."""
    global _commit_cache
    env = os.environ.get(COMMIT_ENV, "").strip()
    if env:
        return env
    if _commit_cache is None:
        try:
            out = subprocess.run(["git", "-C", str(_ROOT), "rev-parse", "--short=12", "HEAD"],
                                 capture_output=True, text=True, timeout=10)
            dirty = subprocess.run(["git", "-C", str(_ROOT), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=10)
            _commit_cache = (out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
                             if out.returncode == 0 else "unknown")
        except (OSError, subprocess.SubprocessError):
            _commit_cache = "unknown"
    return _commit_cache


def _save(notebook: str, data: dict[str, Any], profile: str | None) -> dict[str, Any]:
    from corelib import runtime  # lazy: the scorecard CLI does not need torch

    import torch

    dev = runtime.device()
    data.update(
        notebook=notebook,
        profile=profile or runtime.profile(),
        smoke=runtime.smoke(),
        device=str(dev),
        gpu=torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        peak_gpu_mb=round(torch.cuda.max_memory_allocated(dev) / 2**20, 1) if dev.type == "cuda" else None,
        commit=commit(),
        updated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    if _started is not None and notebook == _notebook:
        data["seconds"] = round(time.perf_counter() - _started, 1)
    path = _path(notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return data


def record(
    notebook: str | Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Merge ``metrics`` into the notebook's results (top-level keys are replaced); return the file's content.

    ``record("ch/nb", {...})`` or, after ``set_notebook``, ``record({...})``.
    """
    if isinstance(notebook, Mapping) and metrics is None:
        notebook, metrics = None, notebook
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a dict, got {type(metrics).__name__}")
    name = _check_notebook(notebook)
    data = _load(name)
    data["metrics"].update(_jsonable(dict(metrics)))
    return _save(name, data, profile)


def known_claims() -> dict[str, str] | None:
    """The claim and statement ids of the book's survey map, or None outside a checkout."""
    return claims_catalogue(MAP_PATH) if MAP_PATH.exists() else None


def claim(claim_id: str, verdict: Verdict, evidence: str = "", notebook: str | None = None,
          profile: str | None = None) -> dict[str, Any]:
    """Record a claim's :class:`Verdict` (from :func:`compare`, :func:`compare_auc` or :func:`all_of`).

    ``evidence`` says what was compared on which data. In smoke mode the status is ``smoke``.
    The id must be one of the survey map's claim (``C-``) or outlook statement (``O-``) ids.
    """
    if not isinstance(claim_id, str) or not CLAIM_ID.match(claim_id):
        raise ValueError(f"claim id {claim_id!r} does not look like 'C-DN-a' or 'O-OL3-a' (see book/survey_map.md)")
    known = known_claims()
    if known is not None and claim_id not in known:
        raise ValueError(f"claim id {claim_id!r} is not in {MAP_PATH.name}; known: {', '.join(known)}")
    if not isinstance(verdict, Verdict):
        raise TypeError(f"verdict must be a report.Verdict (from report.compare, compare_auc or all_of), "
                        f"got {type(verdict).__name__}")
    from corelib import runtime

    entry = verdict.to_dict()
    if runtime.smoke():
        entry["status"] = "smoke"
    entry["evidence"] = str(evidence)
    name = _check_notebook(notebook)
    data = _load(name)
    data["claims"][claim_id] = entry
    _save(name, data, profile)
    status = entry["status"]
    print(f"{claim_id}: {STATUS_SYMBOL[status]} {status}: {verdict.summary()}" + (f" ({evidence})" if evidence else ""))
    return entry


def check(condition: Any, message: str) -> bool:
    """Assert ``condition`` (a notebook's quality check); in smoke mode record a failure instead of raising."""
    from corelib import runtime

    ok = bool(condition)
    if _notebook is not None:
        data = _load(_notebook)
        data["checks"] = [c for c in data["checks"] if c.get("message") != message]
        data["checks"].append({"message": str(message), "passed": ok})
        _save(_notebook, data, None)
    if not ok:
        if runtime.smoke():
            print(f"check not met (smoke run, recorded only): {message}")
        else:
            raise AssertionError(message)
    return ok


def headline(label: str, value: Any, unit: str = "", published: str = "") -> Any:
    """Record one of the notebook's headline numbers for its chapter opener; return ``value``.

    The openers show each headline measured in the quick profile (CI) beside the full profile (GPU
    ledger) and the ``published`` reference, e.g. ``"nnU-Net 0.90 / 0.89 on MSD's test set
    {cite}`isensee2021nnunet`"``. ``label`` says what was measured, e.g. ``"3D U-Net, mean Dice"``.
    """
    if not isinstance(label, str) or not label.strip():
        raise ValueError("headline label must be a non-empty string")
    plain = _jsonable(value)
    if not isinstance(plain, (int, float)) or isinstance(plain, bool):
        raise ValueError(f"headline {label!r}: value must be a finite number, got {value!r}")
    name = _check_notebook(None)
    data = _load(name)
    data.setdefault("headlines", {})[label] = {"value": plain, "unit": str(unit), "published": str(published)}
    _save(name, data, None)
    return value


def glue(name: str, value: Any, display: bool = False) -> Any:
    """Glue ``value`` for the prose (MyST-NB ``{glue:text}`name:.2f```) and record it; return it.

    numpy/torch scalars become Python numbers first (MyST-NB formats only plain values). Outside
    Jupyter Book (e.g. Colab without myst-nb) the value is only recorded.
    """
    if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise ValueError(f"glue name {name!r} must be a Python identifier")
    plain = _jsonable(value)
    if isinstance(plain, float) and not math.isfinite(plain):
        raise ValueError(f"glue value {name!r} is not finite")
    if plain is None and value is not None:
        raise ValueError(f"glue value {name!r} is not finite")
    try:
        from myst_nb import glue as _myst_glue
    except ImportError:
        _myst_glue = None
    if _myst_glue is not None:
        _myst_glue(name, plain, display=display)
    if _notebook is not None:
        data = _load(_notebook)
        data["glue"][name] = plain
        _save(_notebook, data, None)
    return value



def glue_verdict(prefix: str, verdict: Verdict) -> Verdict:
    """Glue a verdict for the prose as ``{prefix}_effect``, ``_lo``, ``_hi`` and ``_status``.

    The text then writes ``{glue:text}`prefix_effect:+.2f``` [``prefix_lo`` , ``prefix_hi``]
    (*``prefix_status``*) and never types the numbers (CONTRIBUTING.md, section 3).
    """
    if not isinstance(verdict, Verdict):
        raise TypeError(f"glue_verdict needs a Verdict, got {type(verdict).__name__}")
    for attr in ("effect", "lo", "hi", "status"):
        glue(f"{prefix}_{attr}", getattr(verdict, attr))
    return verdict

def load_results(directory: str | Path | None = None) -> list[dict[str, Any]]:
    """Every notebook's results under ``directory`` (default ``results_dir()``), sorted by notebook.

    Files that are not JSON are skipped; a JSON file that is corrupt raises an error naming it.
    """
    root = Path(directory) if directory is not None else results_dir()
    out = []
    for path in sorted(root.rglob("*.json")) if root.exists() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"results file {path} is not valid JSON: {err}") from err
        if not isinstance(data, dict):
            raise ValueError(f"results file {path} holds a {type(data).__name__}, not a notebook's results")
        data.setdefault("notebook", path.relative_to(root).with_suffix("").as_posix())
        data.setdefault("claims", {})
        data.setdefault("metrics", {})
        out.append(data)
    return sorted(out, key=lambda d: d["notebook"])


def claims_catalogue(map_path: str | Path) -> dict[str, str]:
    """``{id: text}`` from the ``| C-XX-y | claim: ... |`` and ``| O-OLn-x | statement: ... |`` rows of a map."""
    path = Path(map_path)
    if not path.exists():
        raise FileNotFoundError(f"claims file {path} does not exist")
    catalogue = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _CATALOGUE_ROW.match(line.strip())
        if match:
            catalogue[match.group(1)] = match.group(2)
    return catalogue


# ----------------------------------------------------------------------------- scorecard
def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _effect_text(entry: Mapping[str, Any]) -> str:
    """``✓ +0.52 dB [+0.31, +0.74]`` (or one line per part of a composite claim)."""
    status = entry.get("status", "inconclusive")
    symbol = STATUS_SYMBOL.get(status, "?")
    parts = entry.get("parts") or {}
    if parts:
        inner = "; ".join(f"{k} {_effect_text(v)}" for k, v in parts.items())
        return f"{symbol} {status} ({inner})"
    if entry.get("effect") is None or entry.get("lo") is None:
        return f"{symbol} {status}"
    unit = f" {entry['unit']}" if entry.get("unit") else ""
    return f"{symbol} {entry['effect']:+.3g}{unit} [{entry['lo']:+.3g}, {entry['hi']:+.3g}]"


def _chapter(cid: str) -> str:
    return CHAPTERS.get(cid.split("-")[1][:2], "Other")


def _verdicts(results: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]]:
    out: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
    for res in results:
        if res.get("smoke"):
            continue  # a smoke run decides nothing
        for cid, entry in res.get("claims", {}).items():
            if entry.get("status") in STATUSES:
                out.setdefault(cid, []).append((res, entry))
    return out


def scorecard_markdown(
    results: list[dict[str, Any]] | None = None,
    claims_catalogue: Mapping[str, str] | None = None,
    title: str | None = None,
    ledger: list[dict[str, Any]] | None = None,
) -> str:
    """The scorecard: per chapter, one row per claim with its quick and full verdict, effect and interval.

    ``results`` are the latest quick-profile results (CI), ``ledger`` the full-profile records of GPU
    runs. Smoke results never count. Evidence and the claims' texts are folded below each table.
    """
    results = load_results() if results is None else results
    ledger = ledger or []
    catalogue = dict(claims_catalogue or {})
    quick = _verdicts([r for r in results if r.get("profile") != "full"])
    full = _verdicts([r for r in ledger if r.get("profile") == "full"]
                     + [r for r in results if r.get("profile") == "full"])
    ids = list(catalogue) + sorted((set(quick) | set(full)) - set(catalogue))

    counts: dict[str, int] = {}
    for cid in ids:
        for _, entry in quick.get(cid) or [(None, {"status": "not yet measured"})]:
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    lines = [f"# {title}", ""] if title else []
    lines += ["## Claims", "",
              "Quick profile (2-core CPU, CI): "
              + (", ".join(f"{STATUS_SYMBOL[s]} {n} {s}" for s, n in counts.items() if n) or "none recorded")
              + f". Full profile (GPU): {sum(len(v) for v in full.values())} verdicts recorded.", ""]
    by_chapter: dict[str, list[str]] = {}
    for cid in ids:
        by_chapter.setdefault(_chapter(cid), []).append(cid)
    for chapter, cids in sorted(by_chapter.items()):
        lines += [f"### {chapter}", "", "| claim | quick (CPU) | full (GPU) | notebook |", "|---|---|---|---|"]
        details = []
        for cid in cids:
            q_rows = quick.get(cid) or [(None, None)]
            for res, entry in q_rows:
                nb = res["notebook"] if res else None
                f_entries = [(r, e) for r, e in full.get(cid, []) if nb is None or r["notebook"] == nb]
                q_text = _effect_text(entry) if entry else "… not yet measured"
                if f_entries:
                    r, e = f_entries[0]
                    f_text = f"{_effect_text(e)} ({r.get('gpu') or r.get('device', '')}, {str(r.get('updated', ''))[:10]})"
                else:
                    f_text = "not yet run on a GPU"
                nb_text = f"`{nb.split('/')[-1]}`" if nb else ""
                lines.append(f"| {cid} | {_cell(q_text)} | {_cell(f_text)} | {nb_text} |")
                if entry:
                    details.append(f"- **{cid}** ({nb}): {catalogue.get(cid, '')}. Quick: {entry.get('status')}; "
                                   f"{entry.get('what', '')} {_effect_text(entry)}, margin {entry.get('margin', 0):+g}, "
                                   f"{entry.get('n', '?')} cases, {entry.get('runs', 1)} run(s). {entry.get('evidence', '')}")
                else:
                    details.append(f"- **{cid}**: {catalogue.get(cid, '')}. No notebook measures it yet.")
        lines += ["", ":::{dropdown} The claims and the evidence behind each verdict", *details, ":::", ""]
    lines += ["## Metrics of the latest quick run", ""]
    if not any(res.get("metrics") for res in results):
        lines += ["No metrics recorded yet.", ""]
    for res in results:
        if not res.get("metrics") or res.get("smoke"):
            continue
        lines += [f":::{{dropdown}} `{res['notebook']}`", "",
                  f"profile {res.get('profile', 'n/a')}, device {res.get('device', 'n/a')}, "
                  f"commit {res.get('commit', 'n/a')}, updated {res.get('updated', 'n/a')}", "",
                  "| metric | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(_fmt(v))} |" for k, v in _flatten(res["metrics"])]
        lines += [":::", ""]
    return "\n".join(lines)


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        rows += _flatten(value, f"{name} / ") if isinstance(value, Mapping) else [(name, value)]
    return rows


def headlines_markdown(results: list[dict[str, Any]], ledger: list[dict[str, Any]] | None, chapter: str) -> str:
    """A table of the headline numbers of the notebooks in ``notebooks/<chapter>/``: quick, full, published."""
    full = {r["notebook"]: r for r in (ledger or []) if r.get("profile") == "full" and not r.get("smoke")}
    rows = []
    for res in results:
        if res.get("smoke") or not res["notebook"].startswith(f"{chapter}/"):
            continue
        for label, h in (res.get("headlines") or {}).items():
            f = (full.get(res["notebook"], {}).get("headlines") or {}).get(label)
            unit = f" {h['unit']}" if h.get("unit") else ""
            f_text = (f"{f['value']:.4g}{unit} ({full[res['notebook']].get('gpu') or 'GPU'})" if f
                      else "not yet run on a GPU")
            rows.append(f"| `{res['notebook'].split('/')[-1]}` | {_cell(label)} | {h['value']:.4g}{unit} | "
                        f"{_cell(f_text)} | {h.get('published') or '—'} |")
    if not rows:
        return "No headline numbers recorded yet for this chapter.\n"
    return "\n".join(["| notebook | measured | quick (2-core CPU) | full (GPU) | published |",
                      "|---|---|---|---|---|", *rows, ""])


def write_headlines(folder: str | Path, results: str | Path | None = None, ledger: str | Path | None = None) -> list[Path]:
    """Write ``<folder>/headlines_<chapter>.md`` for every notebook chapter with results; return the paths."""
    res, full = load_results(results), (load_results(ledger) if ledger else None)
    chapters = sorted({r["notebook"].split("/")[0] for r in res if "/" in r["notebook"]}
                      | {p.name for p in (_ROOT / "notebooks").glob("*") if p.is_dir()})
    out = []
    for chapter in chapters:
        path = Path(folder) / f"headlines_{chapter}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(headlines_markdown(res, full, chapter), encoding="utf-8")
        out.append(path)
    return out


def timings_markdown(results: list[dict[str, Any]], ledger: list[dict[str, Any]] | None = None,
                     notebooks: Sequence[str] = ()) -> str:
    """A table of every notebook's measured wall time: latest quick run and latest full (GPU) record.

    ``notebooks`` lists notebooks that should appear even without a record (they read "not run yet").
    The times are the ``seconds`` each run recorded (from ``set_notebook`` to its last save), so a
    course plan built on them cannot drift from what the runs measured.
    """
    quick = {r["notebook"]: r for r in results if r.get("profile") == "quick" and not r.get("smoke")}
    full = {r["notebook"]: r for r in (ledger or []) if r.get("profile") == "full" and not r.get("smoke")}
    rows = []
    for name in sorted(set(notebooks) | set(quick) | set(full)):
        q, f = quick.get(name), full.get(name)
        q_text = f"{q['seconds']:.0f} s" if q and q.get("seconds") is not None else "not run yet"
        f_text = (f"{f['seconds']:.0f} s ({f.get('gpu') or 'GPU'}, {str(f.get('updated', ''))[:10]})"
                  if f and f.get("seconds") is not None else "not yet")
        chapter, _, short = name.partition("/")
        rows.append(f"| {_cell(chapter)} | `{_cell(short)}` | {q_text} | {_cell(f_text)} |")
    if not rows:
        return "No timings recorded yet.\n"
    return "\n".join(["| chapter | notebook | quick (2-core CPU) | full (GPU) |", "|---|---|---|---|",
                      *rows, ""])


def write_timings(path: str | Path, results: str | Path | None = None, ledger: str | Path | None = None) -> Path:
    """Write the timings table (every notebook under ``notebooks/``) to ``path``; return the path."""
    names = [p.relative_to(_ROOT / "notebooks").with_suffix("").as_posix()
             for p in sorted((_ROOT / "notebooks").glob("*/*.py"))]
    text = timings_markdown(load_results(results), load_results(ledger) if ledger else None, names)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def write_scorecard(
    path: str | Path,
    map_path: str | Path | None = None,
    results: str | Path | None = None,
    title: str | None = None,
    ledger: str | Path | None = None,
) -> Path:
    """Write the scorecard Markdown to ``path`` (claims from ``map_path`` when given); return the path."""
    catalogue = claims_catalogue(map_path) if map_path else None
    full = load_results(ledger) if ledger else None
    text = scorecard_markdown(load_results(results), catalogue, title=title, ledger=full)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the book's claims scorecard from the results folder.")
    parser.add_argument("--out", required=True, help="Markdown file to write")
    parser.add_argument("--map", dest="map_path", help="survey map with the '| C-XX-y | claim: ... |' rows")
    parser.add_argument("--results", help=f"quick results folder (default ${RESULTS_ENV} or <repo>/results)")
    parser.add_argument("--ledger", help="folder of full-profile records from GPU runs (e.g. ledger/)")
    parser.add_argument("--title", help="add a '# title' heading")
    args = parser.parse_args(argv)
    out = write_scorecard(args.out, args.map_path, args.results, args.title, args.ledger)
    print(f"wrote {out}")
    for path in write_headlines(Path(args.out).parent, args.results, args.ledger):
        print(f"wrote {path}")
    print(f"wrote {write_timings(Path(args.out).parent / 'timings.md', args.results, args.ledger)}")


if __name__ == "__main__":
    main()
