"""The nbval plugin of the notebook runner: executed copies are saved, stderr output fails a notebook."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def make_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def run_nbval(notebook: Path, save: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-p", "nbval_capture",
           "-q", "--nb-save-dir", str(save), "--rootdir", str(notebook.parent), str(notebook)]
    env = {"PYTHONPATH": str(ROOT / "scripts"), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run(cmd, cwd=notebook.parent, capture_output=True, text=True, env=env, timeout=240)


@pytest.mark.timeout(300)
def test_executed_copy_keeps_outputs_and_stderr_fails(tmp_path):
    good = make_notebook(tmp_path / "good.ipynb", "print('hello')", "6 * 7")
    res = run_nbval(good, tmp_path / "executed")
    assert res.returncode == 0, res.stdout + res.stderr
    saved = nbformat.read(tmp_path / "executed" / "good.ipynb", as_version=4)
    code = [c for c in saved.cells if c.cell_type == "code"]
    assert code[0].outputs[0]["text"] == "hello\n" and code[0].execution_count == 1
    assert code[1].outputs[0]["data"]["text/plain"] == "42"

    noisy = make_notebook(tmp_path / "noisy.ipynb", "import warnings; warnings.warn('careful')")
    res = run_nbval(noisy, tmp_path / "executed")
    assert res.returncode != 0 and "wrote to stderr" in res.stdout
