"""Figure helpers and widgets for the book.

Conventions (CONTRIBUTING.md, section 1):

- Every helper returns a matplotlib ``Figure`` and never calls ``plt.show()``.
- Images compared side by side share one window/level and one colour bar; error maps share one
  symmetric scale.
- Images may be numpy arrays or torch tensors; singleton (channel/batch) dimensions are squeezed.
- A window is ``(lo, hi)``, a CT preset name (``"brain"``, see :data:`CT_WINDOWS`) or ``None``
  (1st/99th percentiles of the first image).
- Volumes are indexed as stored, ``(i, j, k)``, which for NIfTI (RAS) is ``(x, y, z)``: axis 2 is
  axial, 1 coronal, 0 sagittal. Slices are drawn with the first remaining axis horizontal and the
  second vertical (origin lower left), like nilearn and most viewers. Transpose other layouts first.
- Widgets always come with a static figure beside them, because the static book cannot run them.
"""
from __future__ import annotations

import textwrap
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import FancyBboxPatch, Patch, Rectangle

from corelib import validate
from corelib.data.packaged import CT_WINDOWS  # the one table of CT windows, (level, width) in HU

Window = tuple[float, float]


PANEL = 2.6  # inches per image panel
ERROR_CMAP = "RdBu_r"
ABS_ERROR_CMAP = "magma"
LABEL_CMAP = "tab10"
PLANES = {2: "axial", 1: "coronal", 0: "sagittal"}


# ----------------------------------------------------------------------------- inputs and windows
def ct_window(center: float | str, width: float | None = None) -> Window:
    """``(lo, hi)`` of a CT window given its center and width in HU, or a preset name."""
    if isinstance(center, str):
        if center not in CT_WINDOWS:
            raise ValueError(f"unknown CT window {center!r}; presets: {', '.join(CT_WINDOWS)}")
        center, width = CT_WINDOWS[center]
    validate.finite("center", center)
    if width is not None:
        validate.finite("width", width)  # NaN passes the comparison below
    if width is None or width <= 0:
        raise ValueError(f"window width must be positive, got {width!r}")
    return (float(center) - width / 2, float(center) + width / 2)


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, without importing torch
        x = x.detach().cpu().float().numpy()
    return np.asarray(x)


def _as_2d(image: Any, name: str = "image") -> np.ndarray:
    """A 2D float array; singleton dimensions squeezed; a clear error otherwise."""
    arr = _to_numpy(image)
    if np.iscomplexobj(arr):
        raise validate.ArgumentTypeError(f"{name} is complex; show np.abs({name}) or its real part")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    squeezed = np.squeeze(arr)
    if squeezed.ndim != 2:
        raise ValueError(
            f"{name} must be 2D after squeezing singleton dimensions, got shape {arr.shape}; "
            "pass a list of 2D slices (or use montage() for a volume)"
        )
    if squeezed.dtype == bool or not np.issubdtype(squeezed.dtype, np.number):
        squeezed = squeezed.astype(np.float32)
    return squeezed


def _as_volume(volume: Any, name: str = "volume") -> np.ndarray:
    arr = _to_numpy(volume)
    if np.iscomplexobj(arr):
        raise validate.ArgumentTypeError(f"{name} is complex; show np.abs({name}) or its real part")
    squeezed = np.squeeze(arr)
    if squeezed.ndim != 3:
        raise ValueError(f"{name} must be 3D after squeezing, got shape {arr.shape}")
    return squeezed


def _auto_window(image: np.ndarray) -> Window:
    """1st/99th percentiles of the finite values (subsampled for large arrays)."""
    flat = np.asarray(image, dtype=np.float64).ravel()
    if flat.size > 1_000_000:
        flat = flat[:: flat.size // 1_000_000 + 1]
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return (0.0, 1.0)
    lo, hi = np.percentile(flat, [1, 99])
    if hi <= lo:
        lo, hi = float(flat.min()), float(flat.max())
    if hi <= lo:
        hi = lo + 1.0
    return (float(lo), float(hi))


def _resolve_window(window: Window | str | None, image: np.ndarray) -> Window:
    if window is None:
        return _auto_window(image)
    if isinstance(window, str):
        return ct_window(window)
    lo, hi = (float(v) for v in window)
    if not hi > lo:
        raise ValueError(f"window must be (lo, hi) with hi > lo, got {window!r}")
    return (lo, hi)


def _grid(n: int, ncols: int | None, figsize: tuple[float, float] | None, extra_width: float = 0.6):
    ncols = max(1, min(n, ncols or min(n, 4)))
    nrows = -(-n // ncols)
    figsize = figsize or (PANEL * ncols + extra_width, PANEL * nrows + 0.3)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, layout="constrained")
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.remove()
    return fig, flat[:n]


def _image(ax: Axes, image: np.ndarray, window: Window, cmap: str = "gray", **kw: Any) -> AxesImage:
    im = ax.imshow(image, cmap=cmap, vmin=window[0], vmax=window[1], interpolation="nearest", **kw)
    ax.set_axis_off()
    return im


def label_color(value: int) -> tuple[float, float, float, float]:
    """The colour of label ``value`` in every overlay: fixed by the value, not by which labels a
    slice happens to contain (1..10: ``tab10``, larger values: ``tab20``)."""
    v = int(value)
    base = plt.get_cmap(LABEL_CMAP if 1 <= v <= 10 else "tab20")
    return base((v - 1) % base.N)


def _label_colors(labels: np.ndarray) -> tuple[np.ndarray, ListedColormap, BoundaryNorm]:
    values = np.unique(labels[labels != 0]).astype(int)
    colors = [label_color(v) for v in values] or [label_color(1)]
    cmap = ListedColormap(colors)
    bounds = np.arange(len(colors) + 1) - 0.5
    return values, cmap, BoundaryNorm(bounds, cmap.N)


MAX_LEGEND_LABELS = 12


def _draw_labels(ax: Axes, labels: np.ndarray, alpha: float, names: Mapping[int, str] | Sequence[str] | None,
                 legend: bool = True, **kw: Any) -> None:
    """Overlay a label map (0 = background, not drawn) with a discrete colormap and a legend."""
    labels = np.asarray(labels)
    values, cmap, norm = _label_colors(labels)
    if len(values) == 0:
        return
    index = np.searchsorted(values, labels.astype(int))  # label value -> colour index
    shown = np.ma.masked_where(labels == 0, np.clip(index, 0, len(values) - 1))
    ax.imshow(shown, cmap=cmap, norm=norm, alpha=alpha, interpolation="nearest", **kw)
    if legend and len(values) > MAX_LEGEND_LABELS:  # an atlas: a legend would hide the image
        ax.text(0.02, 0.02, f"{len(values)} labels", transform=ax.transAxes, color="w", fontsize="small")
    elif legend:
        def name(v: int) -> str:
            if names is None:
                return f"label {v}"
            if isinstance(names, Mapping):
                return str(names.get(v, f"label {v}"))
            return str(names[v]) if v < len(names) else f"label {v}"

        handles = [Patch(color=cmap(i), alpha=max(alpha, 0.6), label=name(int(v))) for i, v in enumerate(values)]
        ax.legend(handles=handles, loc="upper right", fontsize="x-small", framealpha=0.8)


# ----------------------------------------------------------------------------- 2D figures
def show_grid(
    images: Any,
    titles: Sequence[str] | None = None,
    window: Window | str | None = None,
    cmap: str = "gray",
    ncols: int | None = None,
    colorbar: bool = True,
    suptitle: str | None = None,
    figsize: tuple[float, float] | None = None,
    colorbar_label: str | None = None,
) -> Figure:
    """Images in a grid with ONE shared window/level and one shared colour bar.

    ``images``: a list of 2D arrays/tensors, one 2D image, or a dict ``{title: image}``.
    """
    if isinstance(images, Mapping):
        titles = list(images) if titles is None else titles
        images = list(images.values())
    elif hasattr(images, "shape"):
        images = [images]
    arrays = [_as_2d(im, f"images[{i}]") for i, im in enumerate(images)]
    if not arrays:
        raise ValueError("show_grid needs at least one image")
    if titles is not None and len(titles) != len(arrays):
        raise ValueError(f"got {len(titles)} titles for {len(arrays)} images")
    win = _resolve_window(window, arrays[0])
    fig, axes = _grid(len(arrays), ncols, figsize)
    for i, (ax, arr) in enumerate(zip(axes, arrays)):
        im = _image(ax, arr, win, cmap)
        if titles is not None:
            ax.set_title(titles[i])
    if colorbar:
        fig.colorbar(im, ax=axes, shrink=0.8, label=colorbar_label)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def overlay_labels(
    image: Any,
    labels: Any,
    ax: Axes | None = None,
    alpha: float = 0.4,
    label_names: Mapping[int, str] | Sequence[str] | None = None,
    window: Window | str | None = None,
    title: str | None = None,
) -> Figure:
    """An image with its label map on top (discrete colours, a legend of label names).

    ``label_names``: ``{value: name}`` or a list indexed by label value (index 0 = background).
    """
    img, lab = _as_2d(image), _as_2d(labels, "labels")
    if img.shape != lab.shape:
        raise ValueError(f"image {img.shape} and labels {lab.shape} must have the same shape")
    if ax is None:
        fig, ax = plt.subplots(figsize=(PANEL * 1.5, PANEL * 1.5), layout="constrained")
    _image(ax, img, _resolve_window(window, img))
    _draw_labels(ax, lab, alpha, label_names)
    if title:
        ax.set_title(title)
    return ax.figure


def _difference(reference: Any, test: Any, signed: bool) -> np.ndarray:
    ref, tst = _as_2d(reference, "reference"), _as_2d(test, "test")
    if ref.shape != tst.shape:
        raise ValueError(f"reference {ref.shape} and test {tst.shape} must have the same shape")
    diff = tst.astype(np.float64) - ref.astype(np.float64)
    return diff if signed else np.abs(diff)


def _error_scale(diffs: Sequence[np.ndarray]) -> float:
    """Shared error scale: the largest 99th percentile of |error| (robust to a few outliers)."""
    vmax = max(float(np.percentile(np.abs(d[np.isfinite(d)]), 99)) if np.isfinite(d).any() else 0.0 for d in diffs)
    return vmax if vmax > 0 else 1e-12


def _draw_error(ax: Axes, diff: np.ndarray, vmax: float, signed: bool) -> AxesImage:
    lo = -vmax if signed else 0.0
    return _image(ax, diff, (lo, vmax), ERROR_CMAP if signed else ABS_ERROR_CMAP)


def _check_zoom(zoom: Sequence[int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(zoom) != 4:
        raise ValueError(f"zoom must be (row0, row1, col0, col1), got {zoom!r}")
    r0, r1, c0, c1 = (int(z) for z in zoom)
    if not (0 <= r0 < r1 <= shape[0] and 0 <= c0 < c1 <= shape[1]):
        raise ValueError(f"zoom {zoom!r} is empty or outside the image of shape {shape}")
    return r0, r1, c0, c1


def compare_with_errors(
    reference: Any,
    tests: Mapping[str, Any],
    window: Window | str | None = None,
    zoom: Sequence[int] | None = None,
    signed: bool = True,
    error_vmax: float | None = None,
    reference_title: str = "reference",
    suptitle: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """The book's standard comparison figure.

    Row 1: reference and each test image with one window (one colour bar). Optional row 2: the
    ``zoom=(row0, row1, col0, col1)`` box of each (the box is drawn on row 1). Last row: the error
    map ``test - reference`` of each test with one shared symmetric scale, titled with its RMSE.
    """
    ref = _as_2d(reference, "reference")
    if not tests:
        raise ValueError("compare_with_errors needs at least one test image")
    imgs = {name: _as_2d(t, f"tests[{name!r}]") for name, t in tests.items()}
    for name, img in imgs.items():
        if img.shape != ref.shape:
            raise ValueError(f"tests[{name!r}] has shape {img.shape}, the reference {ref.shape}")
    box = _check_zoom(zoom, ref.shape) if zoom is not None else None
    win = _resolve_window(window, ref)
    diffs = {name: _difference(ref, img, signed) for name, img in imgs.items()}
    vmax = error_vmax or _error_scale(list(diffs.values()))

    ncols, nrows = 1 + len(imgs), 3 if box else 2
    figsize = figsize or (PANEL * ncols + 0.9, PANEL * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, layout="constrained")
    panels = {reference_title: ref, **imgs}
    for ax, (name, img) in zip(axes[0], panels.items()):
        im = _image(ax, img, win)
        ax.set_title(name)
        if box:
            r0, r1, c0, c1 = box
            ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, ec="yellow", lw=1.2))
    if box:
        r0, r1, c0, c1 = box
        for ax, (name, img) in zip(axes[1], panels.items()):
            _image(ax, img[r0:r1, c0:c1], win)
            ax.set_title(f"{name} (zoom)", fontsize="small")
            ax.set_axis_on()
            ax.set(xticks=[], yticks=[])
            for spine in ax.spines.values():
                spine.set(edgecolor="gold", linewidth=2)
    fig.colorbar(im, ax=list(axes[: nrows - 1].ravel()), shrink=0.8, label="intensity")

    err_axes = axes[-1]
    err_axes[0].set_axis_off()
    err_axes[0].text(0.5, 0.5, "error maps\n(test − reference)\nshared scale" if signed else
                     "error maps\n|test − reference|\nshared scale",
                     ha="center", va="center", fontsize="small", transform=err_axes[0].transAxes)
    for ax, (name, diff) in zip(err_axes[1:], diffs.items()):
        em = _draw_error(ax, diff, vmax, signed)
        ax.set_title(f"{name}: RMSE {np.sqrt(np.nanmean(diff**2)):.3g}", fontsize="small")
    fig.colorbar(em, ax=list(err_axes), shrink=0.8, label="test − reference" if signed else "|test − reference|")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


# ----------------------------------------------------------------------------- training curves
def _field(history: Any, name: str) -> Any:
    if isinstance(history, Mapping):
        return history.get(name, [])
    return getattr(history, name, [])


def _smooth(values: np.ndarray) -> np.ndarray:
    """Moving average over about 1/20 of the run (same length; edges use shorter windows)."""
    w = max(1, len(values) // 20)
    if w == 1:
        return values
    kernel = np.ones(w)
    return np.convolve(values, kernel, "same") / np.convolve(np.ones_like(values), kernel, "same")


def plot_history(history: Any, ax: Axes | None = None, logy: bool = True) -> Figure:
    """Training loss per step (raw and smoothed) and validation metrics over steps.

    ``history``: an object with ``train_loss``, ``steps`` (the step of each loss, or the total count)
    and ``val`` (list of dicts with a ``"step"`` key), or the same as a dict (``History.to_dict()``). A validation ``"loss"`` goes on the loss axes;
    other validation metrics get a second panel (or a twin axis when ``ax`` is given).
    """
    loss = np.asarray(_field(history, "train_loss"), dtype=float)
    steps = np.atleast_1d(np.asarray(_field(history, "steps"), dtype=float))
    if len(steps) != len(loss):  # ``steps`` may be the total count (corelib.train.History): one loss per step
        steps = np.arange(1, len(loss) + 1, dtype=float)
    val = list(_field(history, "val") or [])
    if loss.size == 0 and not val:
        raise ValueError("history has no train_loss and no val entries to plot")
    metrics = sorted({k for v in val for k, x in v.items()
                      if k not in ("step", "loss") and isinstance(x, (int, float, np.number))})

    if ax is None:
        ncols = 2 if metrics else 1
        fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols, 3.2), squeeze=False, layout="constrained")
        loss_ax, metric_ax = axes[0, 0], (axes[0, 1] if metrics else None)
    else:
        loss_ax, metric_ax = ax, (ax.twinx() if metrics else None)

    if loss.size:
        loss_ax.plot(steps, loss, color="tab:blue", alpha=0.3, lw=0.8, label="train loss")
        loss_ax.plot(steps, _smooth(loss), color="tab:blue", lw=1.8, label="train loss (smoothed)")
    val_loss = [(v["step"], v["loss"]) for v in val if v.get("loss") is not None]
    if val_loss:
        loss_ax.plot(*zip(*val_loss), "o-", color="tab:orange", ms=3, label="val loss")
    plotted = np.concatenate([loss, [y for _, y in val_loss]]) if val_loss else loss
    if logy and plotted.size and np.all(plotted[np.isfinite(plotted)] > 0):
        loss_ax.set_yscale("log")
    loss_ax.set(xlabel="step", ylabel="loss", title="training")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(fontsize="small")

    if metric_ax is not None:
        colors = plt.get_cmap("Dark2")
        for i, name in enumerate(metrics):
            pts = [(v["step"], v[name]) for v in val if v.get(name) is not None]
            if pts:
                metric_ax.plot(*zip(*pts), "s--" if ax is not None else "s-", ms=3, color=colors(i % 8), label=f"val {name}")
        metric_ax.set_ylabel("validation metric")
        if ax is None:
            metric_ax.set(xlabel="step", title="validation")
            metric_ax.grid(alpha=0.3)
        metric_ax.legend(fontsize="small", loc="center right")
    return loss_ax.figure


def plot_histories(histories: Mapping[str, Any], ncols: int = 3, logy: bool = True,
                   suptitle: str | None = None) -> Figure:
    """One :func:`plot_history` panel per run, in a grid of at most ``ncols`` (≤ 3) columns.

    ``histories`` maps a run's name (the panel title) to its history. The grid keeps labels readable
    at the book's page width, however many runs a notebook compares.
    """
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("histories must be a non-empty dict {name: history}")
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or not 1 <= ncols <= 3:
        raise ValueError(f"ncols must be 1, 2 or 3 (readable at page width), got {ncols!r}")
    n = len(histories)
    cols = min(int(ncols), n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False, layout="constrained")
    for ax, (name, hist) in zip(axes.flat, histories.items()):
        plot_history(hist, ax=ax, logy=logy)
        ax.set_title(str(name))
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def show_source(obj: Any) -> Any:
    """Display the source code of a corelib class or function, so the page shows the method itself.

    Returns an IPython ``Code`` object (rendered with syntax highlighting in Jupyter and in the book).
    """
    import inspect

    from IPython.display import Code

    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as err:
        raise TypeError(f"no source code for {obj!r}: pass a class or function defined in Python") from err
    return Code(textwrap.dedent(source), language="python")


# ----------------------------------------------------------------------------- volumes
def _plane(volume: np.ndarray, axis: int, index: int) -> np.ndarray:
    """Slice ``index`` along ``axis``, transposed for display with origin="lower"."""
    return np.take(volume, index, axis=axis).T


def _aspect(spacing: Sequence[float] | None, axis: int) -> float:
    """Pixel aspect (height / width) of a displayed plane: spacing of its vertical / horizontal axis."""
    if spacing is None:
        return 1.0
    if len(spacing) != 3 or any(not s > 0 or not np.isfinite(s) for s in spacing):
        raise ValueError(f"spacing must be three positive numbers, got {spacing!r}")
    horizontal, vertical = [a for a in range(3) if a != axis]
    return float(spacing[vertical]) / float(spacing[horizontal])


def _volume_labels(labels: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    if labels is None:
        return None
    lab = _as_volume(labels, "labels")
    if lab.shape != shape:
        raise ValueError(f"labels {lab.shape} must have the volume's shape {shape}")
    return lab


def three_plane(
    volume: Any,
    spacing: Sequence[float] = (1, 1, 1),
    index: Sequence[int] | None = None,
    window: Window | str | None = None,
    labels: Any = None,
    label_names: Mapping[int, str] | Sequence[str] | None = None,
    alpha: float = 0.4,
    title: str | None = None,
) -> Figure:
    """Axial, coronal and sagittal slices through ``index`` (default: the centre), in mm aspect.

    Dashed lines mark where the other two planes cut each view.
    """
    vol = _as_volume(volume)
    validate.sizes("spacing", spacing, 3)  # before any figure is made
    lab = _volume_labels(labels, vol.shape)
    index = tuple(s // 2 for s in vol.shape) if index is None else tuple(int(i) for i in index)
    if len(index) != 3 or not all(0 <= i < s for i, s in zip(index, vol.shape)):
        raise ValueError(f"index {index!r} is outside the volume of shape {vol.shape}")
    win = _resolve_window(window, vol)
    widths = [vol.shape[a] * spacing[a] for a in (0, 0, 1)]  # horizontal extent of each view in mm
    fig, axes = plt.subplots(1, 3, figsize=(3 * PANEL + 0.8, PANEL + 0.4), layout="constrained",
                             gridspec_kw={"width_ratios": widths})
    for ax, axis in zip(axes, (2, 1, 0)):
        im = _image(ax, _plane(vol, axis, index[axis]), win, origin="lower", aspect=_aspect(spacing, axis))
        if lab is not None:
            _draw_labels(ax, _plane(lab, axis, index[axis]), alpha, label_names, legend=axis == 0,
                         origin="lower", aspect=_aspect(spacing, axis))
        horizontal, vertical = [a for a in range(3) if a != axis]
        ax.axvline(index[horizontal], color="yellow", lw=0.6, ls="--")
        ax.axhline(index[vertical], color="yellow", lw=0.6, ls="--")
        ax.set_title(f"{PLANES[axis]} ({'ijk'[axis]} = {index[axis]})")
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def montage(
    volume: Any,
    n: int = 8,
    axis: int = 2,
    window: Window | str | None = None,
    spacing: Sequence[float] | None = None,
    labels: Any = None,
    ncols: int | None = None,
    alpha: float = 0.4,
) -> Figure:
    """``n`` evenly spaced slices along ``axis`` with one window and one colour bar."""
    vol = _as_volume(volume)
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis!r}")
    validate.positive_int("n", n)
    validate.in_range("alpha", alpha, 0, 1)
    lab = _volume_labels(labels, vol.shape)
    n = max(1, min(int(n), vol.shape[axis]))
    indices = np.linspace(0, vol.shape[axis] - 1, n + 2)[1:-1].round().astype(int) if n < vol.shape[axis] \
        else np.arange(vol.shape[axis])
    win = _resolve_window(window, vol)
    fig, axes = _grid(len(indices), ncols, None)
    for ax, k in zip(axes, indices):
        im = _image(ax, _plane(vol, axis, k), win, origin="lower", aspect=_aspect(spacing, axis))
        if lab is not None:
            _draw_labels(ax, _plane(lab, axis, k), alpha, None, legend=False, origin="lower",
                         aspect=_aspect(spacing, axis))
        ax.set_title(f"{'ijk'[axis]} = {k}", fontsize="small")
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.suptitle(f"{PLANES[axis]} slices")
    return fig


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def slice_scroller(
    volume: Any,
    axis: int = 2,
    window: Window | str | None = None,
    spacing: Sequence[float] | None = None,
    labels: Any = None,
    n: int = 8,
) -> tuple[Figure, Any]:
    """A static montage (for the book) and an ipywidgets slice scroller (for exploring).

    Returns ``(static_figure, widget)``; ``widget`` is ``None`` when ipywidgets is missing.
    In IPython both are displayed (the static figure once).
    """
    vol = _as_volume(volume)
    lab = _volume_labels(labels, vol.shape)
    win = _resolve_window(window, vol)
    static = montage(vol, n=n, axis=axis, window=win, spacing=spacing, labels=lab)
    try:
        import ipywidgets as widgets
    except ImportError:
        print("Note: ipywidgets is not installed; showing the static montage only "
              "(pip install ipywidgets for the slice scroller).")
        widget = None
    else:
        widget = _scroller_widget(widgets, vol, axis, win, spacing, lab)
    if _in_ipython():
        from IPython.display import display

        display(static)
        plt.close(static)  # already shown; the returned Figure stays usable
        if widget is not None:
            display(widget)
    return static, widget


def _scroller_widget(widgets: Any, vol: np.ndarray, axis: int, win: Window,
                     spacing: Sequence[float] | None, lab: np.ndarray | None) -> Any:
    slider = widgets.IntSlider(value=vol.shape[axis] // 2, min=0, max=vol.shape[axis] - 1,
                               description=f"{PLANES[axis]} {'ijk'[axis]}", continuous_update=False)
    out = widgets.Output()

    def draw(change: Any = None) -> None:
        k = slider.value
        fig, ax = plt.subplots(figsize=(PANEL * 1.6, PANEL * 1.6), layout="constrained")
        im = _image(ax, _plane(vol, axis, k), win, origin="lower", aspect=_aspect(spacing, axis))
        if lab is not None:
            _draw_labels(ax, _plane(lab, axis, k), 0.4, None, legend=False, origin="lower",
                         aspect=_aspect(spacing, axis))
        ax.set_title(f"{PLANES[axis]} slice {'ijk'[axis]} = {k}")
        fig.colorbar(im, ax=ax, shrink=0.8)
        if _in_ipython():  # outside a kernel there is nothing to draw into
            from IPython.display import display

            with out:
                out.clear_output(wait=True)
                display(fig)
        plt.close(fig)

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, out])


# ----------------------------------------------------------------------------- diagrams
def pipeline_figure(
    steps: Sequence[str],
    notes: Sequence[str | Sequence[str] | None] | None = None,
    highlight: int | str | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """A left-to-right flow diagram: one box per step, arrows between them.

    ``notes``: optional text (or list of lines) under each box; ``highlight``: a step (index or
    name) drawn in colour, e.g. the stage a chapter is about.
    """
    steps = [str(s) for s in steps]
    if not steps:
        raise ValueError("pipeline_figure needs at least one step")
    if notes is not None and len(notes) != len(steps):
        raise ValueError(f"got {len(notes)} notes for {len(steps)} steps")
    if isinstance(highlight, str):
        highlight = steps.index(highlight) if highlight in steps else None
    box_w, box_h, gap, scale = 2.0, 1.0, 0.8, 0.62  # data units; inches per unit
    n = len(steps)
    note_text = [_note_text(notes[i] if notes is not None else None) for i in range(n)]
    note_lines = max((t.count("\n") + 1 for t in note_text if t), default=0)
    bottom = -(0.3 + 0.19 * note_lines) if note_lines else -0.2
    width = n * box_w + (n - 1) * gap + 0.4
    figsize = figsize or (width * scale, (box_h + 0.2 - bottom) * scale + (0.35 if title else 0.1))
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    for i, step in enumerate(steps):
        x = i * (box_w + gap)
        color = "#fdd49e" if i == highlight else "#deebf7"
        ax.add_patch(FancyBboxPatch((x, 0), box_w, box_h, boxstyle="round,pad=0.05,rounding_size=0.15",
                                    fc=color, ec="#3a3a3a", lw=1.2))
        ax.text(x + box_w / 2, box_h / 2, textwrap.fill(step, 14), ha="center", va="center",
                fontsize=10, weight="bold")
        if i < n - 1:
            ax.annotate("", xy=(x + box_w + gap - 0.06, box_h / 2), xytext=(x + box_w + 0.06, box_h / 2),
                        arrowprops=dict(arrowstyle="-|>", lw=1.5, color="#3a3a3a", mutation_scale=14))
        if note_text[i]:
            ax.text(x + box_w / 2, -0.2, note_text[i], ha="center", va="top", fontsize=8.5, color="#333333")
    ax.set_xlim(-0.2, width - 0.2)
    ax.set_ylim(bottom, box_h + 0.2)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def _note_text(note: str | Sequence[str] | None) -> str:
    if not note:
        return ""
    lines = note.split("\n") if isinstance(note, str) else list(note)
    return "\n".join(textwrap.fill(line, 18) for line in lines)
