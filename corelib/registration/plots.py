"""Registration figures: a warped grid, a Jacobian-determinant map, and both for several fields."""
from __future__ import annotations

from typing import Any, Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from corelib import metrics

__all__ = ["deformation_grid", "jacobian_map", "mid_slice", "in_plane", "deformation_figure"]


def deformation_grid(ax: Axes, disp: Any, step: int = 4, color: str = "C0", title: str | None = None) -> Axes:
    """Draw the lines of a regular grid mapped by ``x -> x + u(x)`` (2D field, rows/cols in pixels)."""
    u = np.asarray(disp, dtype=np.float64)
    if u.ndim != 3 or u.shape[0] != 2:
        raise ValueError(f"disp must be a 2D field (2, H, W), got shape {u.shape}")
    h, w = u.shape[1:]
    rr, cc = np.mgrid[0:h, 0:w].astype(np.float64)
    yy, xx = rr + u[0], cc + u[1]
    for i in range(0, h, step):
        ax.plot(xx[i], yy[i], color=color, lw=0.6)
    for j in range(0, w, step):
        ax.plot(xx[:, j], yy[:, j], color=color, lw=0.6)
    ax.set(xlim=(-0.5, w - 0.5), ylim=(h - 0.5, -0.5), aspect="equal", xlabel="column (pixel)",
           ylabel="row (pixel)")
    if title:
        ax.set_title(title)
    return ax


def jacobian_map(ax: Axes, disp: Any, title: str | None = None, vmax: float = 2.0) -> Any:
    """Show ``det J`` (``corelib.metrics.jacobian_determinant``) with 1 (no volume change) in white.

    Folded pixels (``det <= 0``) are outlined in black. Returns the image for a colour bar.
    """
    det = metrics.jacobian_determinant(disp)
    im = ax.imshow(det, cmap="RdBu_r", norm=TwoSlopeNorm(vcenter=1.0, vmin=min(det.min(), 0.0) - 1e-6,
                                                          vmax=max(vmax, det.max())))
    if (det <= 0).any():
        ax.contour(det <= 0, levels=[0.5], colors="k", linewidths=0.8)
    ax.set(xlabel="column (pixel)", ylabel="row (pixel)")
    ax.set_title(title or f"det J (folded: {np.mean(det <= 0):.2%})")
    return im


def mid_slice(image: Any) -> np.ndarray:
    """A 2D image as it is; the middle slice across the first axis of a 3D volume."""
    a = np.asarray(image)
    if a.ndim not in (2, 3):
        raise ValueError(f"image must be 2D or 3D, got shape {a.shape}")
    return a if a.ndim == 2 else a[a.shape[0] // 2]


def in_plane(disp: Any) -> np.ndarray:
    """A 2D field ``(2, H, W)`` as it is; of a 3D field ``(3, D, H, W)`` the in-plane components
    (axes 1 and 2) on the middle slice across axis 0, the plane :func:`mid_slice` shows."""
    u = np.asarray(disp)
    if not (u.ndim == 3 and u.shape[0] == 2) and not (u.ndim == 4 and u.shape[0] == 3):
        raise ValueError(f"disp must be a (2, H, W) or (3, D, H, W) field, got shape {u.shape}")
    return u if u.ndim == 3 else u[1:, u.shape[1] // 2]


def deformation_figure(image: Any, fields: Mapping[str, Any], step: int = 2) -> Figure:
    """One row per field: its deformation grid over ``image``, and its Jacobian-determinant map.

    2D or 3D (the middle slice, :func:`mid_slice` and :func:`in_plane`). Two panels per row, so
    the figure stays readable at the book's page width.
    """
    if not isinstance(fields, Mapping) or not fields:
        raise ValueError("fields must be a non-empty dict {name: field}")
    img = mid_slice(image)
    fig, axes = plt.subplots(len(fields), 2, figsize=(9, 4.2 * len(fields)), squeeze=False,
                             layout="constrained")
    for (name, u), (ax_grid, ax_jac) in zip(fields.items(), axes):
        u2 = in_plane(u)
        if u2.shape[1:] != img.shape:
            raise ValueError(f"field {name!r} is {u2.shape[1:]} in plane, the image {img.shape}")
        ax_grid.imshow(img, cmap="gray", vmin=float(img.min()), vmax=float(img.max()))
        deformation_grid(ax_grid, u2, step=step, title=f"{name}: grid")
        im = jacobian_map(ax_jac, u2)
        ax_jac.set_title(f"{name}: {ax_jac.get_title()}")
        fig.colorbar(im, ax=ax_jac, label="det J")
    return fig
