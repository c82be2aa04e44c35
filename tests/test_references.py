"""book/references.bib parses, has no duplicate keys, and holds every key the book cites."""
import re
from pathlib import Path

from pybtex.database import parse_file

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def test_bibliography_parses_with_one_entry_per_key():
    entries = parse_file(str(BIB)).entries  # raises on a syntax error, e.g. a missing brace
    starts = re.findall(r"^@\w+\{([^,]+),", BIB.read_text(encoding="utf-8"), re.M)
    assert len(starts) == len(set(starts)) == len(entries)


def test_every_cited_key_is_in_the_bibliography():
    keys = set(parse_file(str(BIB)).entries)
    pages = [*ROOT.glob("book/*.md"), *ROOT.glob("notebooks/*/*.py")]
    cited = {k.strip() for p in pages for group in CITE.findall(p.read_text(encoding="utf-8"))
             for k in group.split(",")}
    assert cited, "no citations found"
    assert not sorted(cited - keys), f"cited but missing from references.bib: {sorted(cited - keys)}"
