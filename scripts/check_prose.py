"""List the numbers in notebook prose that do not come from the run (the glue rule, CONTRIBUTING.md).

Usage: python scripts/check_prose.py [notebooks/<chapter>/<name>.py ...]   (default: every notebook)

Scans the markdown cells of each jupytext source and prints, per notebook, how many values are
glued (``{glue:text}`...```) and every number that is written by hand. A number is allowed where it
is not a result: inside a glue or other role, inline code or math, a link target, a heading's or
list item's numbering, a survey section (``§2.1``), a table or figure of the survey, a name that
contains digits (``3D``, ``VGG16``, ``MNI152``, ``T1``), or a sentence that cites its source with
``{cite}`` (published numbers are fixed facts). Exit status 1 when any notebook has unglued numbers.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GLUE = re.compile(r"\{glue(?::\w+)?\}`[^`]+`")
ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
CODE = re.compile(r"`[^`]*`")
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)
LINK = re.compile(r"\]\([^)]*\)|https?://\S+")
HEADING_NUMBER = re.compile(r"^(#+\s*)(?:\d+(?:\.\d+)*\.?\s*)", re.M)
LIST_NUMBER = re.compile(r"^(\s*)\d+\.\s", re.M)
SURVEY_REF = re.compile(r"(§|Ch\.|Chapter|chapter|Table|Fig\.?|Figure|Section|section|Eq\.?|step|Solution|Exercise)\s*\d+(\.\d+)*")
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z*(])|\n\s*\n|\n\s*[-*]\s")
NUMBER = re.compile(r"(?<![\w.\-/])[−+-]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?(?:\s*[x×]\s*\d+)*(?![\w])")


def markdown_cells(source: Path) -> list[str]:
    """The markdown cells of a jupytext percent-format source, as plain text."""
    cells, current, in_md = [], [], False
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            if in_md and current:
                cells.append("\n".join(current))
            current, in_md = [], "[markdown]" in line
            continue
        if in_md:
            current.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    if in_md and current:
        cells.append("\n".join(current))
    return cells


def unglued_numbers(text: str) -> list[tuple[str, str]]:
    """``(number, sentence)`` for each hand-written number in one markdown cell (see the module docstring)."""
    hits = []
    text = LIST_NUMBER.sub(r"\1", HEADING_NUMBER.sub(r"\1", text))
    for sentence in SENTENCE.split(text):
        if "{cite}" in sentence or "{cite:" in sentence:
            continue
        s = sentence
        for pattern in (GLUE, ROLE, CODE, MATH, LINK, SURVEY_REF):
            s = pattern.sub(" ", s)
        hits += [(m.group(0).strip(), " ".join(sentence.split())) for m in NUMBER.finditer(s)]
    return hits


def check(source: Path) -> tuple[int, list[str]]:
    """``(number of glued values, unglued numbers with their context)`` for one notebook."""
    glued, found = 0, []
    for cell in markdown_cells(source):
        glued += len(GLUE.findall(cell))
        for number, sentence in unglued_numbers(cell):
            found.append(f"{number!r} in: {sentence[:110]}")
    return glued, found


def main(argv: list[str]) -> int:
    sources = [Path(a) for a in argv] or sorted(ROOT.glob("notebooks/*/*.py"))
    bad = 0
    for src in sources:
        glued, found = check(src)
        bad += bool(found)
        name = src.relative_to(ROOT) if src.is_absolute() else src
        print(f"{name}: {glued} glued, {len(found)} unglued")
        for item in found:
            print(f"    {item}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
