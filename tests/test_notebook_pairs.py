"""Each notebook's jupytext .py (source of truth) and its committed .ipynb agree, and the .ipynb is stripped."""
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(ROOT.glob("notebooks/*/*.py"))


def test_there_are_notebooks():
    assert SOURCES, "no notebooks/<chapter>/*.py found"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_pair_is_in_sync_and_stripped(source):
    paired = source.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} missing: run `make sync`"
    expected = jupytext.read(source)
    committed = nbformat.read(paired, as_version=4)
    strip = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert strip(committed) == strip(expected), f"{source.name} and {paired.name} differ: run `make sync`"
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{paired.name} has stored outputs: run `make sync`"
