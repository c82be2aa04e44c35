"""Stage the book for a build without executing anything: pages, config, and executed notebooks.

Usage: python scripts/stage_book.py EXECUTED_DIR STAGE_DIR

Copies ``book/``, ``_static/``, ``_toc.yml`` and ``_config.yml`` (with notebook execution turned off) into
``STAGE_DIR``, and every ``notebooks/<chapter>/<name>.ipynb`` from ``EXECUTED_DIR`` (the copies the
nbval run wrote, with their outputs and glued values). A notebook with no executed copy is an error:
its page would have no figures and its glued numbers would be missing.
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stage(executed: Path, stage_dir: Path) -> list[Path]:
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    shutil.copytree(ROOT / "book", stage_dir / "book")
    shutil.copytree(ROOT / "_static", stage_dir / "_static")  # the book's CSS
    shutil.copy2(ROOT / "_toc.yml", stage_dir / "_toc.yml")
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    config, n = re.subn(r"execute_notebooks:\s*\S+", 'execute_notebooks: "off"', config)
    if n != 1:
        raise SystemExit("_config.yml: expected one 'execute_notebooks:' setting")
    (stage_dir / "_config.yml").write_text(config, encoding="utf-8")
    missing, staged = [], []
    for nb in sorted(ROOT.glob("notebooks/*/*.ipynb")):
        rel = nb.relative_to(ROOT)
        src = executed / rel
        if not src.exists():
            missing.append(str(rel))
            continue
        (stage_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, stage_dir / rel)
        staged.append(rel)
    if missing:
        raise SystemExit(f"no executed copy under {executed} for: {', '.join(missing)} (run make notebooks first)")
    return staged


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    staged = stage(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"staged the book with {len(staged)} executed notebooks in {sys.argv[2]}")
