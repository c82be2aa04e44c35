"""Reading image files into arrays with their geometry, with clear errors for bad files."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corelib.data.registry import CorruptFileError, DataNotFoundError


@dataclass
class Volume:
    """An image array with its geometry.

    ``array`` is indexed as stored (NIfTI: i, j, k voxel axes); ``spacing`` is the voxel size in mm
    per array axis; ``affine`` maps voxel indices to world mm (RAS for NIfTI) or is ``None`` for 2D
    images without one; ``meta`` holds anything else (DICOM tags, labels, units, source path).
    """

    array: np.ndarray
    spacing: tuple[float, ...]
    affine: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def __repr__(self) -> str:
        sp = ", ".join(f"{s:.3g}" for s in self.spacing)
        return (
            f"Volume(shape={self.shape}, dtype={self.array.dtype}, spacing=({sp}) mm, "
            f"meta keys={sorted(self.meta)})"
        )


def read_nifti(path: str | Path, dtype: Any = np.float32) -> Volume:
    """Read a NIfTI file (``.nii``/``.nii.gz``) fully into memory.

    Raises :class:`DataNotFoundError` for a missing file and :class:`CorruptFileError` (with the
    path) for a truncated or corrupt one, instead of returning garbage or NaNs.
    """
    import nibabel as nib

    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a NIfTI file; give the path of a .nii or .nii.gz file")
    try:
        img = nib.load(str(path))
        data = np.asarray(img.dataobj, dtype=dtype)
    except Exception as exc:  # nibabel raises many types for broken files (EOFError, zlib, ...)
        raise CorruptFileError(f"{path}: cannot read NIfTI ({type(exc).__name__}: {exc}); "
                               "the file is truncated or corrupt. Delete it and fetch it again.") from exc
    if np.issubdtype(data.dtype, np.floating) and not np.isfinite(data).all():
        raise CorruptFileError(f"{path}: NIfTI holds NaN or infinite values")
    spacing = tuple(float(z) for z in img.header.get_zooms()[: data.ndim])
    return Volume(data, spacing, np.asarray(img.affine, dtype=np.float64), {"path": str(path)})
