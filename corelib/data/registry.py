"""Dataset cards and where each dataset is looked for.

A :class:`DatasetCard` names a dataset, the files it needs, and its sources in the order they are
tried: a folder under the offline mirror (``CORELIB_DATA_MIRROR``), an installed Debian or pip
package, or a download into the cache (``CORELIB_DATA``). :func:`locate` returns the folder of the
first source that has every file; when none has, it raises :class:`DataNotFoundError` naming every
place it looked and the command that installs the data.

The cards themselves are defined in :mod:`corelib.data.catalogue`; they are registered on the
first call of :func:`names`, :func:`card` or :func:`locate`.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

MIRROR_ENV = "CORELIB_DATA_MIRROR"
CACHE_ENV = "CORELIB_DATA"


# ----------------------------------------------------------------------------------------- errors
class DataError(RuntimeError):
    """Base class of every data error corelib raises."""


class UnknownDatasetError(DataError, KeyError):
    """A dataset name that the registry does not know."""

    def __str__(self) -> str:  # KeyError would print the repr with quotes
        return str(self.args[0])


class DataNotFoundError(DataError, FileNotFoundError):
    """No source of a dataset has its files."""


class CorruptFileError(DataError, ValueError):
    """A file exists but is truncated, corrupt, or fails its checksum."""


# ---------------------------------------------------------------------------------------- folders
def mirror_dir() -> Path | None:
    """The offline mirror folder from ``CORELIB_DATA_MIRROR``, or ``None`` when unset."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else None


def cache_dir() -> Path:
    """The download cache (``CORELIB_DATA``, default ``~/.cache/corelib``)."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value:
        return Path(value).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "corelib"


# ---------------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class Source:
    """One place a dataset can come from.

    kind: ``mirror`` (folder under the mirror), ``cache`` (folder under the download cache, filled
    by ``download``), ``debian`` (an absolute folder installed by a Debian package), or ``pip``
    (a folder inside an installed Python package: ``path`` is relative to the package).
    """

    kind: str
    path: str
    package: str = ""
    url: str = ""
    sha256: str = ""
    md5: str = ""
    distribution: str = ""  # pip distribution name when it differs from the import name
    download: Callable[[Path], None] | None = field(default=None, compare=False, repr=False)

    def folder(self) -> Path | None:
        """The folder this source points to on this machine, or ``None`` when it cannot exist."""
        if self.kind == "mirror":
            root = mirror_dir()
            return root / self.path if root else None
        if self.kind == "cache":
            return cache_dir() / self.path
        if self.kind == "debian":
            return Path(self.path)
        if self.kind == "pip":
            spec = importlib.util.find_spec(self.package)
            if spec is None or not spec.submodule_search_locations:
                return None
            return Path(list(spec.submodule_search_locations)[0]) / self.path
        raise ValueError(f"unknown source kind {self.kind!r}")

    def describe(self) -> str:
        """Where this source looks, for messages."""
        where = self.folder()
        if self.kind == "mirror" and where is None:
            return f"mirror: {MIRROR_ENV} is not set"
        raw = os.environ.get(MIRROR_ENV, "").strip()
        if self.kind == "mirror" and where is not None and not Path(raw).expanduser().is_absolute():
            return (f"mirror: {where} ({MIRROR_ENV}={raw!r} is relative, so it was resolved from the current "
                    f"folder {Path.cwd()}; notebooks run in their own folder: give an absolute path)")
        if self.kind == "pip" and where is None:
            return f"pip package {self.package!r}: not installed"
        label = {"debian": f"Debian package {self.package}", "pip": f"pip package {self.package}"}
        return f"{label.get(self.kind, self.kind)}: {where}"

    def install_hint(self) -> str:
        """The command that makes this source available."""
        if self.kind == "debian":
            return (
                "sudo apt-get update && sudo apt-get install -y --no-install-recommends "
                f"{self.package}"
            )
        if self.kind == "pip":
            return f"pip install {self.distribution or self.package.replace('_', '-')}"
        if self.kind == "mirror":
            return f"export {MIRROR_ENV}=/path/to/shared/data (the offline mirror)"
        if self.kind == "cache":
            return f"run online once to download {self.url or 'it'} into {cache_dir()}"
        return ""


def debian(package: str, path: str) -> Source:
    return Source("debian", path, package=package)


def pip_package(package: str, path: str = "", distribution: str = "") -> Source:
    return Source("pip", path, package=package, distribution=distribution)


def mirror(path: str) -> Source:
    return Source("mirror", path)


def cache(path: str, url: str, download: Callable[[Path], None], sha256: str = "", md5: str = "") -> Source:
    return Source("cache", path, url=url, sha256=sha256, md5=md5, download=download)


# ------------------------------------------------------------------------------------------ cards
@dataclass(frozen=True)
class DatasetCard:
    """What a dataset is, which files it needs, and where to find it (sources tried in order)."""

    name: str
    title: str
    files: tuple[str, ...]
    sources: tuple[Source, ...]
    licence: str
    citation: str
    chapters: tuple[str, ...] = ()
    version: str = ""
    description: str = ""

    def found_in(self) -> tuple[Source, Path] | None:
        """The first source whose folder holds every file, with that folder."""
        for source in self.sources:
            folder = source.folder()
            if folder is not None and all((folder / f).exists() for f in self.files):
                return source, folder
        return None


_REGISTRY: dict[str, DatasetCard] = {}


def register(card: DatasetCard) -> DatasetCard:
    """Add a card to the registry (a second card with the same name is an error)."""
    if card.name in _REGISTRY and _REGISTRY[card.name] != card:
        raise ValueError(f"dataset {card.name!r} is registered twice")
    _REGISTRY[card.name] = card
    return card


def names() -> list[str]:
    """Every registered dataset name."""
    _load_cards()
    return sorted(_REGISTRY)


def card(name: str) -> DatasetCard:
    """The card of ``name``; an unknown name raises :class:`UnknownDatasetError` listing the known ones."""
    _load_cards()
    if name not in _REGISTRY:
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; known datasets: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]


def locate(name: str, download: bool = True) -> Path:
    """Folder holding every file of dataset ``name``, downloading into the cache when allowed.

    Sources are tried in card order; a ``cache`` source downloads only when no other source has
    the files and ``download`` is true. Raises :class:`DataNotFoundError` with every place looked
    at and the command that installs the data.
    """
    c = card(name)
    hit = c.found_in()
    if hit is not None:
        return hit[1]
    errors: list[str] = []
    if download:
        for source in c.sources:
            if source.kind != "cache" or source.download is None:
                continue
            target = source.folder()
            try:
                source.download(target)
            except CorruptFileError:
                raise
            except Exception as exc:  # offline, HTTP error, ...
                errors.append(f"download from {source.url} failed: {exc}")
                continue
            if all((target / f).exists() for f in c.files):
                return target
            errors.append(f"download from {source.url} did not produce {', '.join(c.files)}")
    raise DataNotFoundError(_not_found_message(c, errors))


def _not_found_message(c: DatasetCard, errors: Sequence[str]) -> str:
    lines = [f"dataset {c.name!r} ({c.title}) not found. Looked for {', '.join(c.files)} in:"]
    lines += [f"  - {s.describe()}" for s in c.sources]
    lines += [f"  ! {e}" for e in errors]
    lines.append("To get it:")
    seen: set[str] = set()
    for s in c.sources:
        hint = s.install_hint()
        if hint and hint not in seen:
            lines.append(f"  {hint}")
            seen.add(hint)
    return "\n".join(lines)


# -------------------------------------------------------------------------------------- checksums
def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksum(path: Path, expected: str | Sequence[str], algorithm: str = "sha256") -> None:
    """Raise :class:`CorruptFileError` unless the file's digest is one of ``expected``."""
    allowed = [expected] if isinstance(expected, str) else list(expected)
    actual = file_digest(Path(path), algorithm)
    if actual not in allowed:
        raise CorruptFileError(
            f"{path}: {algorithm} checksum mismatch (got {actual}, expected "
            f"{' or '.join(allowed)}); the file is truncated or corrupt. Delete it and fetch it again."
        )


# ----------------------------------------------------------------------------------------- status
def status(print_table: bool = True) -> list[dict[str, str]]:
    """Print (and return) one row per dataset: found or not, where, and how to get it."""
    rows = []
    for name in names():
        c = _REGISTRY[name]
        hit = c.found_in()
        if hit is not None:
            source, folder = hit
            rows.append(dict(dataset=name, found="yes", where=f"{source.kind}: {folder}", get=""))
        else:
            hints = "; ".join(dict.fromkeys(s.install_hint() for s in c.sources if s.install_hint()))
            rows.append(dict(dataset=name, found="NO", where="", get=hints))
    if print_table:
        width = max(len(r["dataset"]) for r in rows)
        for r in rows:
            detail = r["where"] if r["found"] == "yes" else f"get it: {r['get']}"
            print(f"{r['dataset']:<{width}}  {r['found']:<3}  {detail}")
    return rows


def dataset_versions(names_: Sequence[str]) -> dict[str, str]:
    """``name -> "version (source kind)"`` for the run card; ``missing`` when not found."""
    out = {}
    for name in names_:
        c = card(name)
        hit = c.found_in()
        out[name] = f"{c.version or 'unversioned'} ({hit[0].kind})" if hit else "missing"
    return out


@functools.cache  # once per process, so cards patched into _REGISTRY later (tests) stay
def _load_cards() -> None:
    """Register every card of :data:`corelib.data.catalogue.CARDS`."""
    from corelib.data.catalogue import CARDS  # imported here: the catalogue imports this module

    for c in CARDS:
        register(c)
