"""Student and teacher copies of the notebooks: ``make handouts``.

Usage::

    python scripts/handouts.py [--out _build/handouts] [NOTEBOOK.ipynb|NOTEBOOK.py ...]
    (default: notebooks/*/*.ipynb)

Writes ``<out>/teacher/<chapter>/<name>.ipynb`` (the notebook as it is, solutions included) and
``<out>/student/<chapter>/<name>.ipynb`` (every solution cell removed, the exercises and all
other cells left as they are). Solution cells follow CONTRIBUTING.md, section 5: a code cell
tagged ``["solution", "hide-cell"]`` whose first line is ``# Solution N``, or a markdown cell
tagged ``solution`` that starts with ``:::{dropdown} Solution N``. A cell that starts like a
solution but lacks the tag raises an error rather than leak into the student copy.

A ``.py`` source (jupytext percent) is read through jupytext; a ``.ipynb`` as it is (committed
notebooks are stripped of outputs, so the copies are too).
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_START = re.compile(r"^(#\s*Solution \d+|:::\{dropdown\} Solution \d+)")


def is_solution(cell) -> bool:
    """True for a solution cell (tagged ``solution``); raises for an untagged cell that looks like one."""
    tagged = "solution" in cell.get("metadata", {}).get("tags", [])
    looks = bool(SOLUTION_START.match(cell.source.lstrip()))
    if looks and not tagged:
        first = cell.source.lstrip().splitlines()[0]
        raise ValueError(f"cell starting {first!r} looks like a solution but is not tagged 'solution'")
    return tagged


def read(path: Path):
    """A notebook from ``.ipynb`` (nbformat) or a jupytext ``.py`` source."""
    path = Path(path)
    if path.suffix == ".ipynb":
        return nbformat.read(path, as_version=4)
    if path.suffix == ".py":
        import jupytext

        return jupytext.read(path)
    raise ValueError(f"{path}: give a .ipynb or a jupytext .py notebook")


def student(nb):
    """A copy of ``nb`` without its solution cells (outputs of the other cells kept as they are)."""
    out = copy.deepcopy(nb)
    out.cells = [c for c in out.cells if not is_solution(c)]
    return out


def teacher(nb):
    """A copy of ``nb`` as it is, solutions included (checked for untagged solutions too)."""
    for c in nb.cells:
        is_solution(c)
    return copy.deepcopy(nb)


def write(sources: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """Write the teacher and student copy of each source; return their paths."""
    written = []
    for src in sources:
        src = Path(src)
        rel = Path(src.parent.name) / f"{src.stem}.ipynb"
        nb = read(src)
        pair = (out / "teacher" / rel, out / "student" / rel)
        for path, copy_ in zip(pair, (teacher(nb), student(nb))):
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(copy_, path)
        written.append(pair)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "handouts")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    sources = args.notebooks or sorted(ROOT.glob("notebooks/*/*.ipynb"))
    if not sources:
        print("no notebooks found")
        return 1
    written = write(sources, args.out)
    removed = sum(len(read(s).cells) - len(nbformat.read(st, as_version=4).cells)
                  for s, (_, st) in zip(sources, written))
    print(f"wrote {len(written)} teacher and {len(written)} student notebooks under {args.out} "
          f"({removed} solution cells left out of the student copies)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
