"""A safe reader for InVesalius 3 project files (``.inv3``).

An ``.inv3`` file is a gzip-compressed tar holding ``main.plist`` (shape, spacing, dtype, window,
modality), the raw image ``matrix.dat`` (C order, slices first) and masks/surfaces we ignore. The
reader never extracts to disk: members are read into memory, and an archive with an absolute path,
a ``..`` component, a link or a device is rejected as :class:`CorruptFileError`.
"""
from __future__ import annotations

import plistlib
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from corelib.data.io import Volume
from corelib.data.registry import CorruptFileError, DataNotFoundError

__all__ = ["read_inv3"]

_DTYPES = {"int16", "uint16", "int32", "uint8", "float32"}


def _safe_members(tar: tarfile.TarFile, path: Path) -> dict[str, tarfile.TarInfo]:
    """Map base names to regular-file members, rejecting anything unsafe."""
    out: dict[str, tarfile.TarInfo] = {}
    for m in tar.getmembers():
        p = PurePosixPath(m.name)
        if p.is_absolute() or ".." in p.parts or m.name.startswith(("/", "\\")):
            raise CorruptFileError(f"{path}: unsafe member path {m.name!r} in archive")
        if m.isdir():
            continue
        if not m.isfile():
            raise CorruptFileError(f"{path}: member {m.name!r} is a link or device; refused")
        out[p.name] = m
    return out


def read_inv3(path: str | Path) -> Volume:
    """Read the image of an InVesalius project; ``array`` axes are (slice, row, column).

    ``spacing`` follows the array axes (the plist stores x, y, z). Values are returned as stored;
    InVesalius stores CT in Hounsfield units (``meta["units"] == "HU"``).
    """
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not an InVesalius .inv3 file")
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = _safe_members(tar, path)
            if "main.plist" not in members:
                raise CorruptFileError(f"{path}: no main.plist in the archive")
            main = plistlib.loads(tar.extractfile(members["main.plist"]).read())
            info = main["matrix"]
            name = PurePosixPath(info["filename"]).name
            if str(info["dtype"]) not in _DTYPES or name not in members:
                raise CorruptFileError(f"{path}: unsupported or missing matrix {info!r}")
            dtype = np.dtype(str(info["dtype"])).newbyteorder("<")
            shape = tuple(int(s) for s in info["shape"])
            raw = tar.extractfile(members[name]).read()
            missing = [k for k in ("spacing",) if k not in main]  # read after the try: check here
            if missing or len(main["spacing"]) != 3:
                raise CorruptFileError(f"{path}: main.plist has no valid 'spacing' (three numbers)")
    except CorruptFileError:
        raise
    except (tarfile.TarError, OSError, EOFError, KeyError, TypeError, ValueError,
            plistlib.InvalidFileException) as exc:
        raise CorruptFileError(
            f"{path}: cannot read InVesalius project ({type(exc).__name__}: {exc}); "
            "the file is truncated or corrupt") from exc
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected or len(shape) != 3:
        raise CorruptFileError(
            f"{path}: matrix has {len(raw)} bytes, expected {expected} for shape {shape}")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    sx, sy, sz = (float(s) for s in main["spacing"])
    modality = str(main.get("modality", ""))
    meta = {
        "path": str(path),
        "name": main.get("name", ""),
        "modality": modality,
        "units": "HU" if modality == "CT" else "stored values",
        "scalar_range": tuple(main.get("scalar_range", (array.min(), array.max()))),
        "window": {"level": float(main.get("window_level", 0.0)),
                   "width": float(main.get("window_width", 0.0))},
        "axes": ("slice", "row", "column"),
    }
    return Volume(array, (sz, sy, sx), None, meta)
