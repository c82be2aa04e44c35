"""Records each notebook's numbers and claim checks, and builds the book's scorecard.

In a notebook::

    from corelib import report
    report.set_notebook("02_restoration/01_denoising")
    report.record({"psnr": {"RED-CNN": 33.1, "BM3D": 31.7}})
    report.claim("C-DN-b", passed=gain > 0.5, evidence=f"RED-CNN {a:.2f} dB vs CNN-DAE {b:.2f} dB")

Each notebook writes ``<results>/<notebook>.json`` (``results_dir()``): profile, device, time, metrics
and claims. ``python -m corelib.report --out book/_generated/scorecard.md --map MAP.md`` collects
them into a Markdown table of every claim.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

RESULTS_ENV = "CORELIB_RESULTS"
CLAIM_ID = re.compile(r"^C-[A-Z]{2}-[a-z]$")
NOTEBOOK_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
STATUS_SYMBOL = {
    "reproduced": "✓",
    "not reproduced": "✗",
    "inconclusive": "~",
    "not yet measured": "…",
}
_CATALOGUE_ROW = re.compile(r"^\|\s*(C-[A-Z]{2}-[a-z])\s*\|\s*(?:claim:\s*)?([^|]*?)\s*\|")

_notebook: str | None = None


def results_dir() -> Path:
    """``$CORELIB_RESULTS``, else ``<repo root>/results`` in a checkout, else ``./results``.

    A checkout is recognised by the ``pyproject.toml`` beside the package (an editable install);
    an installed corelib (Colab) writes next to the notebook instead of into site-packages.
    """
    env = os.environ.get(RESULTS_ENV, "").strip()
    if env:
        return Path(env)
    root = Path(__file__).resolve().parent.parent
    return root / "results" if (root / "pyproject.toml").exists() else Path.cwd() / "results"


def set_notebook(name: str) -> None:
    """Set the notebook that later ``record``/``claim`` calls write to, e.g. ``"01_foundations/01_data_tour"``."""
    global _notebook
    _notebook = _check_notebook(name)


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
        return {"notebook": notebook, "metrics": {}, "claims": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"results file {path} is not valid JSON: {err}") from err
    data.setdefault("metrics", {})
    data.setdefault("claims", {})
    return data


def _save(notebook: str, data: dict[str, Any], profile: str | None) -> dict[str, Any]:
    from corelib import runtime  # lazy: the scorecard CLI does not need torch

    data.update(
        notebook=notebook,
        profile=profile or runtime.profile(),
        device=str(runtime.device()),
        updated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
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


def claim(
    claim_id: str,
    passed: bool | None,
    evidence: str,
    notebook: str | None = None,
    profile: str | None = None,
) -> dict[str, str]:
    """Record a claim check: ``passed`` True/False, or ``None`` for inconclusive; print and return it."""
    if not isinstance(claim_id, str) or not CLAIM_ID.match(claim_id):
        raise ValueError(f"claim id {claim_id!r} does not look like 'C-DN-a' (see MAP.md)")
    if passed is not None and type(passed).__name__ not in ("bool", "bool_"):
        raise TypeError(f"passed must be True, False or None, got {passed!r}")
    status = "inconclusive" if passed is None else "reproduced" if passed else "not reproduced"
    name = _check_notebook(notebook)
    data = _load(name)
    entry = {"status": status, "evidence": str(evidence)}
    data["claims"][claim_id] = entry
    _save(name, data, profile)
    print(f"{claim_id}: {STATUS_SYMBOL[status]} {status} ({evidence})")
    return entry


def load_results(directory: str | Path | None = None) -> list[dict[str, Any]]:
    """Every notebook's results under ``directory`` (default ``results_dir()``), sorted by notebook."""
    root = Path(directory) if directory is not None else results_dir()
    out = []
    for path in sorted(root.rglob("*.json")) if root.exists() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"results file {path} is not valid JSON: {err}") from err
        data.setdefault("notebook", path.relative_to(root).with_suffix("").as_posix())
        out.append(data)
    return sorted(out, key=lambda d: d["notebook"])


def claims_catalogue(map_path: str | Path) -> dict[str, str]:
    """``{claim id: claim text}`` from the ``| C-XX-y | claim: ... |`` rows of a MAP.md-style file."""
    path = Path(map_path)
    if not path.exists():
        raise FileNotFoundError(f"claims file {path} does not exist")
    catalogue = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _CATALOGUE_ROW.match(line.strip())
        if match:
            catalogue[match.group(1)] = match.group(2)
    return catalogue


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


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        rows += _flatten(value, f"{name} / ") if isinstance(value, Mapping) else [(name, value)]
    return rows


def scorecard_markdown(
    results: list[dict[str, Any]] | None = None,
    claims_catalogue: Mapping[str, str] | None = None,
    title: str | None = None,
) -> str:
    """A Markdown table of every claim (catalogue order, then any others) and each notebook's metrics."""
    results = load_results() if results is None else results
    catalogue = dict(claims_catalogue or {})
    measured: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for res in results:
        for cid, entry in res.get("claims", {}).items():
            measured.setdefault(cid, []).append((res, entry))
    ids = list(catalogue) + sorted(set(measured) - set(catalogue))

    counts = dict.fromkeys(STATUS_SYMBOL, 0)
    rows = []
    for cid in ids:
        text = _cell(catalogue.get(cid, ""))
        for res, entry in measured.get(cid) or [(None, None)]:
            status = entry.get("status", "inconclusive") if entry else "not yet measured"
            counts[status] = counts.get(status, 0) + 1
            cells = [cid, text, f"{STATUS_SYMBOL.get(status, '')} {status}",
                     f"`{res['notebook']}`" if res else "", (res.get("profile") or "") if res else "",
                     _cell(entry.get("evidence", "")) if entry else ""]
            rows.append("| " + " | ".join(cells) + " |")

    lines = [f"# {title}", ""] if title else []
    lines += ["## Claims", ""]
    lines.append(", ".join(f"{STATUS_SYMBOL[s]} {n} {s}" for s, n in counts.items() if n) or "No claims recorded yet.")
    lines += ["", "| claim | text | status | notebook | profile | evidence |", "|---|---|---|---|---|---|", *rows, ""]
    lines += ["## Metrics", ""]
    if not any(res.get("metrics") for res in results):
        lines += ["No metrics recorded yet.", ""]
    for res in results:
        if not res.get("metrics"):
            continue
        lines += [f"### `{res['notebook']}`", "",
                  f"profile {res.get('profile', 'n/a')}, device {res.get('device', 'n/a')}, "
                  f"updated {res.get('updated', 'n/a')}", "", "| metric | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(_fmt(v))} |" for k, v in _flatten(res["metrics"])]
        lines.append("")
    return "\n".join(lines)


def write_scorecard(
    path: str | Path,
    map_path: str | Path | None = None,
    results: str | Path | None = None,
    title: str | None = None,
) -> Path:
    """Write the scorecard Markdown to ``path`` (claims from ``map_path`` when given); return the path."""
    catalogue = claims_catalogue(map_path) if map_path else None
    text = scorecard_markdown(load_results(results), catalogue, title=title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the book's claims scorecard from the results folder.")
    parser.add_argument("--out", required=True, help="Markdown file to write")
    parser.add_argument("--map", dest="map_path", help="MAP.md-style file with the '| C-XX-y | claim: ... |' rows")
    parser.add_argument("--results", help=f"results folder (default ${RESULTS_ENV} or <repo>/results)")
    parser.add_argument("--title", help="add a '# title' heading")
    args = parser.parse_args(argv)
    out = write_scorecard(args.out, args.map_path, args.results, args.title)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
