"""The mechanical parts of CONTRIBUTING.md, checked on every notebook's jupytext source."""
import re
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(ROOT.glob("notebooks/*/*.py"))
sys.path.insert(0, str(ROOT / "scripts"))
import check_prose  # noqa: E402

MAX_LINE = 90


def cells(source):
    return jupytext.read(source).cells


def tags(cell):
    return set(cell.metadata.get("tags", []))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_numbers_in_prose_are_glued(source):
    glued, unglued = check_prose.check(source)
    assert not unglued, f"{source.name}: numbers written by hand in the prose (glue them):\n" + "\n".join(unglued)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_code_lines_fit_the_page(source):
    long = [line for c in cells(source) if c.cell_type == "code"
            for line in c.source.splitlines() if len(line) > MAX_LINE]
    assert not long, f"{source.name}: code lines over {MAX_LINE} characters:\n" + "\n".join(long)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_shape_of_the_notebook(source):
    nb = cells(source)
    assert nb[0].cell_type == "markdown" and nb[0].source.lstrip().startswith("# "), \
        f"{source.name}: the first cell must be the title (markdown)"
    setup = [c for c in nb if "google.colab" in c.source and c.cell_type == "code"]
    assert len(setup) == 1 and "remove-cell" in tags(setup[0]), \
        f"{source.name}: one Colab set-up cell, tagged remove-cell (make sync)"
    text = source.read_text(encoding="utf-8")
    assert "NBVAL_CHECK_OUTPUT" not in text, "stripped notebooks store no outputs: the marker checks nothing"
    name = f"{source.parent.name}/{source.stem}"
    assert f'report.set_notebook("{name}")' in text, f"{source.name}: report.set_notebook({name!r})"
    assert not re.search(r"^\s*assert .*(PSNR|psnr|Dice|dice|AUC|auc|SSIM|ssim)", text, re.M), \
        f"{source.name}: quality targets go through report.check (smoke-safe), not assert"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_repository_address_comes_from_the_config(source):
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]["url"].removeprefix("https://github.com/").strip("/")
    found = set(re.findall(r"github\.com/([\w.-]+/[\w.-]+?)(?=/blob/|'|\"|\)|\s)", source.read_text(encoding="utf-8")))
    assert found == {repo}, f"{source.name}: repository {found} instead of {repo!r}: run make sync"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution(source):
    nb = cells(source)
    exercises = [c for c in nb if c.cell_type == "markdown" and re.search(r"^## Exercises", c.source, re.M)]
    assert len(exercises) == 1, f"{source.name}: one '## Exercises' cell"
    numbers = {int(n) for n in re.findall(r"^(\d+)\.\s", exercises[0].source, re.M)}
    assert numbers, f"{source.name}: the exercises are a numbered list"
    solved = set()
    for c in nb:
        if "solution" not in tags(c):
            continue
        if c.cell_type == "code":
            assert "hide-cell" in tags(c), f"{source.name}: solution code cells are folded (hide-cell)"
            m = re.match(r"#\s*Solution (\d+)", c.source.lstrip())
        else:
            m = re.match(r":::\{dropdown\} Solution (\d+)", c.source.lstrip())
        assert m, f"{source.name}: a solution cell starts with '# Solution N' or ':::{{dropdown}} Solution N'"
        solved.add(int(m.group(1)))
    assert solved == numbers, f"{source.name}: exercises {sorted(numbers)}, solutions {sorted(solved)}"
