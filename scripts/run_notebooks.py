"""Run every notebook under nbval (``pytest --nbval-lax``), one at a time, and print wall times.

Usage: python scripts/run_notebooks.py [NOTEBOOK.ipynb ...]   (default: notebooks/*/*.ipynb)

The budget in the quick profile is 150 s per notebook on a 2-core CPU (DESIGN.md); notebooks over
it are flagged in the table, not failed here: timing targets belong in benchmarks, not in tests.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BUDGET_S = 150
ROOT = Path(__file__).resolve().parents[1]


def run(notebook: Path) -> tuple[bool, float]:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
           "--timeout", "900", str(notebook)]
    ok = subprocess.call(cmd, cwd=ROOT) == 0
    return ok, time.perf_counter() - start


def main(argv: list[str]) -> int:
    notebooks = [Path(a) for a in argv] or sorted(ROOT.glob("notebooks/*/*.ipynb"))
    if not notebooks:
        print("no notebooks found")
        return 1
    rows = []
    for nb in notebooks:
        print(f"\n=== {nb.relative_to(ROOT) if nb.is_absolute() else nb}", flush=True)
        rows.append((nb, *run(nb)))
    print("\nNotebook wall times (nbval, profile from CORELIB_PROFILE):")
    for nb, ok, seconds in rows:
        flag = "" if seconds <= BUDGET_S else f"  OVER the {BUDGET_S} s budget"
        print(f"  {'ok  ' if ok else 'FAIL'}  {seconds:7.1f} s  {nb.name}{flag}")
    total = sum(s for _, _, s in rows)
    failed = sum(not ok for _, ok, _ in rows)
    print(f"  total {total:.1f} s")
    print(f"notebooks: {len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
