"""Write the repository address from ``_config.yml`` into every notebook (Colab badge and setup cell).

Usage: python scripts/sync_repository.py   (``make sync`` runs it before pairing the notebooks)

The address lives in one place, ``repository.url`` (and ``branch``) in ``_config.yml``; publishing
the book under another name is one edit there and ``make sync``. The badge of each notebook is
pointed at the notebook's own path, so moving a notebook needs no hand edit either. The script also tags each notebook's Colab set-up
cell ``remove-cell``, so the book does not show it while Colab still runs it.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GITHUB = re.compile(r"github\.com/[\w.-]+/[\w.-]+?(?=/blob/|'|\"|\)|\s|$)")
BADGE = re.compile(r"colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/[\w./-]+?\.ipynb")
SETUP_CELL = re.compile(r"^# %%[^\n]*\n(import subprocess\nimport sys\n\nif \"google\.colab\" in sys\.modules:)", re.M)


def repository() -> tuple[str, str]:
    """``(owner/name, branch)`` of the repository named in ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config.get("repository") or {}
    url = repo.get("url", "")
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)/?", url)
    if not match:
        raise SystemExit(f"_config.yml repository.url {url!r} is not a https://github.com/owner/name address")
    return match.group(1), repo.get("branch", "main")


def sync(source: Path, repo: str, branch: str = "main") -> bool:
    text = source.read_text(encoding="utf-8")
    notebook = source.with_suffix(".ipynb").relative_to(ROOT).as_posix()
    new = BADGE.sub(f"colab.research.google.com/github/{repo}/blob/{branch}/{notebook}", text)
    new = GITHUB.sub(f"github.com/{repo}", new)
    new = SETUP_CELL.sub('# %% tags=["remove-cell"]\n\\1', new)
    if new != text:
        source.write_text(new, encoding="utf-8")
    return new != text


def main() -> int:
    repo, branch = repository()
    changed = [p for p in sorted(ROOT.glob("notebooks/*/*.py")) if sync(p, repo, branch)]
    for p in changed:
        print(f"updated {p.relative_to(ROOT)}")
    print(f"repository {repo}: {len(changed)} notebook(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
