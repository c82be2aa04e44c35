"""pytest plugin for the nbval notebook runs (loaded by ``scripts/run_notebooks.py``).

- ``--nb-save-dir DIR``: write each executed notebook, with the outputs nbval collected, to
  ``DIR/<path relative to the repository>``. The book check builds from these copies, so the
  notebooks run once in CI and the glued numbers and figures of that run are what the pages show.
  Progress-bar widgets are dropped from the copies (a static page cannot show them; ``fit`` prints
  a summary line instead).
- A cell that writes to stderr fails: warnings and library noise would otherwise end up on the
  rendered page. Fix the cause, or filter a known-benign warning once in ``corelib/__init__.py``.
  ``--nb-allow-stderr`` turns the check off (for debugging only).
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_notebooks: dict[str, object] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nbval capture")
    group.addoption("--nb-save-dir", default=None, help="write executed notebooks under this folder")
    group.addoption("--nb-allow-stderr", action="store_true", help="do not fail cells that write to stderr")


def _static(outputs: list) -> list:
    """Outputs without progress-bar widgets (their state is not saved, so a page would show nothing)."""
    return [o for o in outputs if not (o.get("output_type") == "display_data" and WIDGET_MIME in o.get("data", {}))]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not hasattr(item, "test_outputs") or not hasattr(item, "cell"):
        return
    outputs = list(item.test_outputs or [])
    item.cell.outputs = _static(outputs)
    nb_file = item.parent
    counter = getattr(nb_file, "_capture_count", 0) + 1
    nb_file._capture_count = counter
    item.cell.execution_count = counter
    for out in item.cell.outputs:
        if out.get("output_type") == "execute_result":
            out["execution_count"] = counter
    _notebooks[str(nb_file.fspath)] = nb_file
    stderr = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr")
    if report.passed and stderr.strip() and not item.config.getoption("--nb-allow-stderr"):
        report.outcome = "failed"
        report.longrepr = (f"cell {getattr(item, 'cell_num', '?')} wrote to stderr; the rendered page would show it. "
                           "Fix the cause, or filter a known-benign warning in corelib/__init__.py:\n"
                           + stderr[:4000])


def pytest_sessionfinish(session: pytest.Session) -> None:
    save_dir = session.config.getoption("--nb-save-dir")
    if not save_dir:
        return
    root = Path(str(session.config.rootpath))
    for path, nb_file in _notebooks.items():
        nb = getattr(nb_file, "nb", None)
        if nb is None:
            continue
        src = Path(path).resolve()
        rel = src.relative_to(root) if src.is_relative_to(root) else Path(src.name)
        out = Path(save_dir) / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
