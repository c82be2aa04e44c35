"""Registration figures: a warped grid and a Jacobian-determinant map (matplotlib)."""
from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm

from corelib import metrics

__all__ = ["deformation_grid", "jacobian_map"]


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
