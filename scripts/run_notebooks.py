"""Run notebooks under nbval (``pytest --nbval-lax``), one at a time, and print their wall times.

Usage::

    python scripts/run_notebooks.py [--smoke] [NOTEBOOK.ipynb ...]   (default: notebooks/*/*.ipynb)

- default: the profile from ``CORELIB_PROFILE`` (``make test`` uses quick); results go to
  ``results/``, executed copies to ``_build/executed/`` (the book check builds from them).
- ``--smoke``: every notebook's *full* configuration with training and evaluation cut short
  (``CORELIB_SMOKE=1 CORELIB_PROFILE=full``); results to ``_build/smoke/results``, so a smoke run never
  overwrites real results, and executed copies to ``_build/smoke/executed``.

A cell that raises, fails an assert or writes to stderr fails its notebook (``scripts/nbval_capture.py``).
Budgets (CONTRIBUTING.md): 150 s per notebook in quick, 600 s for the whole smoke pass, on a 2-core CPU.
Notebooks over budget are flagged in the table, not failed: timing targets belong in benchmarks.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = {"quick": 150, "smoke": 600}


def run(notebook: Path, save_dir: Path, env: dict[str, str]) -> tuple[bool, float]:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-p", "nbval_capture",
           "-q", "--timeout", "900", "--nb-save-dir", str(save_dir), str(notebook)]
    ok = subprocess.call(cmd, cwd=ROOT, env=env) == 0
    return ok, time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="full configs, training and evaluation cut short")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(ROOT.glob("notebooks/*/*.ipynb"))
    if not notebooks:
        print("no notebooks found")
        return 1
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "scripts"), env.get("PYTHONPATH", "")]))
    if args.smoke:
        env.update(CORELIB_SMOKE="1", CORELIB_PROFILE="full",
                   CORELIB_RESULTS=str(ROOT / "_build" / "smoke" / "results"))
        save_dir, kind = ROOT / "_build" / "smoke" / "executed", "smoke"
    else:
        save_dir, kind = ROOT / "_build" / "executed", env.setdefault("CORELIB_PROFILE", "quick")
    rows = []
    for nb in notebooks:
        print(f"\n=== {nb.relative_to(ROOT) if nb.is_absolute() else nb} ({kind})", flush=True)
        rows.append((nb, *run(nb, save_dir, env)))
    budget = BUDGET_S.get(kind)
    print(f"\nNotebook wall times (nbval, {kind}):")
    for nb, ok, seconds in rows:
        flag = f"  OVER the {budget} s budget" if kind == "quick" and seconds > budget else ""
        print(f"  {'ok  ' if ok else 'FAIL'}  {seconds:7.1f} s  {nb.parent.name}/{nb.name}{flag}")
    total = sum(s for _, _, s in rows)
    over = f"  OVER the {budget} s budget" if kind == "smoke" and total > budget else ""
    print(f"  total {total:.1f} s{over}")
    failed = sum(not ok for _, ok, _ in rows)
    print(f"notebooks ({kind}): {len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
