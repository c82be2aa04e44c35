"""Downloading files with checksums, and extracting archives without escaping the target folder."""
from __future__ import annotations

import os
import tarfile
import urllib.request
import zlib
from pathlib import Path

from corelib.data.registry import CorruptFileError, DataError, verify_checksum

__all__ = ["download", "safe_extract"]

_CHUNK = 1 << 20


def download(url: str, dest: Path, sha256: str | None = None, md5: str | None = None,
             timeout: float = 60.0, progress: bool = True) -> Path:
    """Download ``url`` (``https://``, ``http://`` or ``file://``) to ``dest`` and verify it.

    The data goes to ``dest.part`` first and is renamed only once complete and verified, so an
    interrupted download never leaves a file that looks finished. A checksum mismatch raises
    :class:`CorruptFileError` naming the path (the partial file is removed).
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    request = urllib.request.Request(url, headers={"User-Agent": "corelib-data/1.0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as fh:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name,
                      disable=not progress, leave=False) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    fh.write(chunk)
                    bar.update(len(chunk))
        if total is not None and part.stat().st_size != total:
            raise CorruptFileError(f"{dest}: download from {url} is truncated "
                                   f"({part.stat().st_size} of {total} bytes)")
        try:
            if sha256:
                verify_checksum(part, sha256, "sha256")
            if md5:
                verify_checksum(part, md5, "md5")
        except CorruptFileError as exc:
            raise CorruptFileError(f"{dest} (downloaded from {url}): {exc}") from None
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


def _inside(target: Path, path: str) -> bool:
    """Whether ``path`` (relative to ``target``) resolves inside ``target``."""
    resolved = (target / path).resolve()
    return resolved == target or target in resolved.parents


def _check_member(archive: Path, root: Path, m: tarfile.TarInfo) -> None:
    """Raise :class:`DataError` if extracting ``m`` into ``root`` could write outside it."""
    name = m.name
    if name.startswith(("/", "\\")) or os.path.isabs(name):
        raise DataError(f"{archive}: refusing member {name!r}: absolute path")
    if ".." in name.replace("\\", "/").split("/") or not _inside(root, name):
        raise DataError(f"{archive}: refusing member {name!r}: path escapes {root}")
    if m.issym() or m.islnk():
        raise DataError(f"{archive}: refusing member {name!r}: a link (to {m.linkname!r}); "
                        "archives with links are not extracted")
    if not (m.isfile() or m.isdir()):
        raise DataError(f"{archive}: refusing member {name!r}: special file")


def safe_extract(archive: Path, target: Path) -> Path:
    """Extract a tar / tar.gz ``archive`` into ``target``, refusing members that could escape it.

    Every member is checked before anything is written, so a refused archive leaves nothing behind:
    absolute paths, ``..`` components, paths that resolve outside ``target``, links of any kind
    (symbolic or hard: no dataset of the book ships them, and a chain of links that each look
    harmless can point a later member outside the folder), and device files raise
    :class:`DataError` naming the member. The check does not rely on the ``tarfile`` data filter
    (missing on Python 3.10 before 3.10.12 and 3.11 before 3.11.4); where the filter exists it is
    applied as well. A truncated or unreadable archive raises :class:`CorruptFileError`.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for m in members:
                _check_member(archive, root, m)
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(root, members=members, **kwargs)
    except getattr(tarfile, "FilterError", ()) as exc:  # Python's own check, as a second guard
        raise DataError(f"{archive}: refusing member: {exc}") from exc
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise CorruptFileError(f"{archive}: cannot extract ({type(exc).__name__}: {exc}); "
                               "the archive is truncated or corrupt. Delete it and fetch it again.") from exc
    return target
