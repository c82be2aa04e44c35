"""``make handouts`` (scripts/handouts.py): student copies without solutions, teacher copies as is."""
import ast
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import handouts  # noqa: E402

NOTEBOOKS = sorted(ROOT.glob("notebooks/*/*.ipynb"))


def tags(cell):
    return set(cell.get("metadata", {}).get("tags", []))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("handouts")
    return out, dict(zip(NOTEBOOKS, handouts.write(NOTEBOOKS, out)))


def test_every_notebook_gets_both_copies(written):
    out, pairs = written
    assert NOTEBOOKS, "no notebooks found"
    for nb in NOTEBOOKS:
        rel = Path(nb.parent.name) / nb.name
        assert pairs[nb] == (out / "teacher" / rel, out / "student" / rel)


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_copy_has_no_solution_and_every_other_cell(source, written):
    _, pairs = written
    teacher_path, student_path = pairs[source]
    src = nbformat.read(source, as_version=4)
    stu = nbformat.read(student_path, as_version=4)
    kept = [c for c in src.cells if "solution" not in tags(c)]
    assert len(kept) < len(src.cells), f"{source.name}: every notebook has solutions (CONTRIBUTING.md §5)"
    assert not [c for c in stu.cells if "solution" in tags(c)]
    assert not [c for c in stu.cells if handouts.SOLUTION_START.match(c.source.lstrip())]
    assert [(c.cell_type, c.source) for c in stu.cells] == [(c.cell_type, c.source) for c in kept]
    assert any("## Exercises" in c.source for c in stu.cells), "the exercises stay"
    assert nbformat.read(teacher_path, as_version=4) == src, "the teacher copy equals the source"


def _names(source, kind):
    tree = ast.walk(ast.parse(source))
    return {n.id for n in tree if isinstance(n, ast.Name) and isinstance(n.ctx, kind)}


def _defined(source):
    """Names a cell binds: assignments, deletions, and parameters of its functions and lambdas."""
    tree = ast.parse(source)
    return _names(source, (ast.Store, ast.Del)) | {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_copy_needs_nothing_from_a_solution(source):
    """No cell left in the student copy reads a name that only a solution cell defines."""
    code = [c for c in nbformat.read(source, as_version=4).cells if c.cell_type == "code"]
    solutions = [c for c in code if "solution" in tags(c)]
    rest = [c for c in code if "solution" not in tags(c)]
    only_solutions = (set().union(*(_names(c.source, ast.Store) for c in solutions))
                      - set().union(*(_defined(c.source) for c in rest)))
    used = set().union(*(_names(c.source, ast.Load) for c in rest))
    assert not used & only_solutions, f"{source.name}: student cells use {used & only_solutions}"


def _tiny():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny\n\n## Exercises\n\n1. Double `x`."),
        nbformat.v4.new_code_cell("x = 21\nprint('exercise', x)"),
        nbformat.v4.new_code_cell("# Solution 1\nprint('answer', 2 * x)",
                                  metadata={"tags": ["solution", "hide-cell"]}),
        nbformat.v4.new_markdown_cell(":::{dropdown} Solution 1\nTwice 21.\n:::",
                                      metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("print('after', x)"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_a_student_copy_runs_and_a_teacher_copy_shows_the_answer(tmp_path):
    from nbclient import NotebookClient

    src = tmp_path / "ch0" / "tiny.ipynb"
    src.parent.mkdir()
    nbformat.write(_tiny(), src)
    teacher_path, student_path = handouts.write([src], tmp_path / "out")[0]
    outputs = {}
    for name, path in (("teacher", teacher_path), ("student", student_path)):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()
        outputs[name] = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                                for o in c.outputs)
    assert "exercise 21" in outputs["student"] and "after 21" in outputs["student"]
    assert "answer" not in outputs["student"] and "Solution" not in student_path.read_text()
    assert "answer 42" in outputs["teacher"]


def test_an_untagged_solution_is_refused(tmp_path):
    nb = _tiny()
    nb.cells[2].metadata = {}
    with pytest.raises(ValueError, match="not tagged"):
        handouts.student(nb)


def test_a_jupytext_source_gives_the_same_copies(tmp_path):
    source = ROOT / "notebooks" / "ch1_foundations" / "01_data_tour.py"
    from_py = handouts.student(handouts.read(source))
    from_ipynb = handouts.student(handouts.read(source.with_suffix(".ipynb")))
    assert [c.source for c in from_py.cells] == [c.source for c in from_ipynb.cells]
