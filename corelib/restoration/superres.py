"""Super-resolution of survey §2.1.2: networks, degradations and interpolation baselines.

- :class:`SRCNN` (SR1, 2D or 3D): three convolutions on the interpolated low-resolution image.
- :class:`ResidualSR` (SR2): deep residual SR, global residual learning (output = input + f(input)).
- :class:`SubPixelSR` (SR6): features at low resolution, then sub-pixel convolution (pixel shuffle).
- Architectures compared at a matched parameter budget (2D, same interface as :class:`ResidualSR`):
  :class:`ContextSR` (SR3), :class:`DenseBranchSR` (SR4), :class:`ChannelSplitSR` (SR5),
  :class:`MultiScaleResidualSR` (SR8); :func:`count_parameters` and :func:`width_for_budget`.
- Degradations: :func:`blur_downsample`, :func:`kspace_truncate` (in-plane), :func:`thick_slices`
  (through-plane); baseline :func:`interpolate` (bicubic / linear / trilinear).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from corelib import validate

__all__ = ["SRCNN", "ResidualSR", "SubPixelSR", "ContextSR", "DenseBranchSR", "ChannelSplitSR",
           "MultiScaleResidualSR", "count_parameters", "width_for_budget", "blur_downsample",
           "kspace_truncate", "thick_slices", "interpolate"]


def _conv(dims: int) -> type[nn.Module]:
    validate.integer("dims", dims)
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    return nn.Conv2d if dims == 2 else nn.Conv3d


def _check(x: torch.Tensor, dims: int, channels: int = 1) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != dims + 2 or x.shape[1] != channels:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected a (N, {channels}, {', '.join('HWD'[:dims])}) tensor for dims={dims}, got {shape}")


class SRCNN(nn.Module):
    """SRCNN: patch extraction (9), non-linear mapping (5), reconstruction (5), on the image already
    interpolated to the high-resolution grid; 2D or 3D. [11] Pham et al. 2019 (3D SRCNN for brain MRI)."""

    def __init__(self, dims: int = 2, channels: tuple[int, int] = (64, 32),
                 kernels: tuple[int, int, int] = (9, 5, 5)) -> None:
        super().__init__()
        conv = _conv(dims)
        c1, c2 = channels
        k1, k2, k3 = kernels
        self.dims = dims
        self.net = nn.Sequential(conv(1, c1, k1, padding=k1 // 2), nn.ReLU(inplace=True),
                                 conv(c1, c2, k2, padding=k2 // 2), nn.ReLU(inplace=True),
                                 conv(c2, 1, k3, padding=k3 // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check(x, self.dims)
        return self.net(x)


class ResidualSR(nn.Module):
    """Deep residual SR with global residual learning: ``y = x + f(x)`` on the interpolated input,
    ``f`` a stack of 3x3 conv + ReLU (VDSR-style). [10] Oktay et al., MICCAI 2016. The last layer
    starts at zero, so at initialisation the network returns its input (the interpolation)."""

    def __init__(self, dims: int = 2, channels: int = 32, depth: int = 6) -> None:
        super().__init__()
        validate.positive_int("channels", channels)
        validate.integer("depth", depth)
        if depth < 2:
            raise ValueError(f"depth must be at least 2, got {depth}")
        conv = _conv(dims)
        layers: list[nn.Module] = [conv(1, channels, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [conv(channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
        last = conv(channels, 1, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.body = nn.Sequential(*layers, last)
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check(x, self.dims)
        return x + self.body(x)


class SubPixelSR(nn.Module):
    """Sub-pixel CNN: convolutions on the LOW-resolution input, a convolution to ``scale**dims``
    channels and a pixel shuffle to the high-resolution grid (MONAI ``SubpixelUpsample``), plus the
    interpolated input as a global residual. [15] Tanno et al., MICCAI 2017 (3D sub-pixel CNN)."""

    def __init__(self, scale: int = 2, dims: int = 2, channels: int = 32, depth: int = 4) -> None:
        super().__init__()
        from monai.networks.blocks import SubpixelUpsample

        validate.integer("scale", scale, min=2)
        validate.positive_int("channels", channels)
        validate.positive_int("depth", depth)
        conv = _conv(dims)
        layers: list[nn.Module] = [conv(1, channels, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 1):
            layers += [conv(channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.up = SubpixelUpsample(dims, channels, 1, scale_factor=scale, apply_pad_pool=False)
        self.scale, self.dims = scale, dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check(x, self.dims)
        mode = "bicubic" if self.dims == 2 else "trilinear"
        base = F.interpolate(x, scale_factor=self.scale, mode=mode, align_corners=False)
        return base + self.up(self.features(x))


# ------------------------------------------------ architectures at a matched parameter budget
def _conv2(cin: int, cout: int, k: int = 3, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation)


class _GlobalResidual2D(nn.Module):
    """Shared frame of the 2D architectures below: ``y = x + tail(body(head(x)))`` on the
    bicubic-upsampled input (as :class:`ResidualSR`). ``head`` is a 3x3 convolution from one
    channel to ``channels``, ``tail`` a 3x3 convolution back to one channel that starts at zero,
    so every network starts as the interpolation it is given."""

    def __init__(self, channels: int, blocks: int, min_channels: int = 2) -> None:
        super().__init__()
        validate.integer("channels", channels, min=min_channels)
        validate.positive_int("blocks", blocks)
        self.channels, self.n_blocks, self.dims = channels, blocks, 2
        self.head = _conv2(1, channels)
        self.tail = _conv2(channels, 1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def features(self, h: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check(x, 2)
        return x + self.tail(self.features(F.relu(self.head(x))))


class _ContextBlock(nn.Module):
    def __init__(self, c: int, dilation: int) -> None:
        super().__init__()
        self.context = _conv2(c, c, dilation=dilation)
        self.local = _conv2(c, c)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.local(F.relu(self.context(h)))


class ContextSR(_GlobalResidual2D):
    """SR3, context-sensitive residual SR. [12] McDonagh et al., MICCAI workshops 2017
    (fast fetal MRI).

    Simplified: residual blocks (dilated 3x3, ReLU, 3x3, plus the block's input) whose dilation
    doubles from block to block (1, 2, 4, then again), so that the later blocks see a wide
    context of surrounding anatomy at the cost of a plain residual block; global residual on the
    bicubic input. The paper's exact layers and its fetal-specific training are not reproduced.
    """

    def __init__(self, channels: int = 32, blocks: int = 3) -> None:
        super().__init__(channels, blocks)
        self.blocks = nn.ModuleList(_ContextBlock(channels, 2 ** (i % 3)) for i in range(blocks))

    def features(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = F.relu(block(h))
        return h


class _DenseBranchBlock(nn.Module):
    def __init__(self, c: int, layers: int) -> None:
        super().__init__()
        # growth per branch about c / 4; the two branches step up at different widths, so that
        # the parameter count grows smoothly enough with c to match a budget
        gn, gf = max(1, c // 4), max(1, (c + 2) // 4)
        g = gn + gf
        self.near = nn.ModuleList(_conv2(c + g * i, gn) for i in range(layers))
        self.far = nn.ModuleList(_conv2(c + g * i, gf, dilation=2) for i in range(layers))
        self.fuse = nn.Conv2d(c + g * layers, c, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        feats = [h]
        for near, far in zip(self.near, self.far):
            cat = torch.cat(feats, 1)
            feats += [F.relu(near(cat)), F.relu(far(cat))]
        return h + self.fuse(torch.cat(feats, 1))


class DenseBranchSR(_GlobalResidual2D):
    """SR4, dense blocks with multiple branches. [13] Zheng et al., Medical Physics 2020 (hybrid
    CNN for MR SR).

    Simplified: each dense block has ``layers`` densely connected layers; every layer has two
    branches (a 3x3 convolution and a dilated 3x3 one, a 5x5 receptive field) of about
    ``channels / 4`` feature maps each, on the concatenation of all earlier maps of the block; a 1x1 convolution
    fuses the block and a local residual adds its input. Global residual on the bicubic input.
    Branch count, growth rate and block count are ours, not the paper's.
    """

    def __init__(self, channels: int = 32, blocks: int = 2, layers: int = 2) -> None:
        super().__init__(channels, blocks, min_channels=4)
        validate.positive_int("layers", layers)
        self.blocks = nn.ModuleList(_DenseBranchBlock(channels, layers) for _ in range(blocks))

    def features(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = block(h)
        return h


class _SplitBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = c // 2  # residual half
        b = c - self.a  # dense half
        g = max(1, b // 2)
        self.res1, self.res2 = _conv2(self.a, self.a), _conv2(self.a, self.a)
        self.dense1, self.dense2 = _conv2(b, g), _conv2(b + g, g)
        self.merge = nn.Conv2d(self.a + b + 2 * g, c, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        r, d = h[:, :self.a], h[:, self.a:]
        r = r + self.res2(F.relu(self.res1(r)))
        d1 = F.relu(self.dense1(d))
        d2 = F.relu(self.dense2(torch.cat([d, d1], 1)))
        return h + self.merge(torch.cat([r, d, d1, d2], 1))


class ChannelSplitSR(_GlobalResidual2D):
    """SR5, channel splitting network. [14] Zhao et al., IEEE TIP 2019 (CSN for single MR image SR).

    Simplified: each block splits its feature maps into two halves; one half goes through a
    residual branch (3x3, ReLU, 3x3, plus input), the other through a dense branch (two densely
    connected 3x3 layers); a 1x1 convolution merges both and a local residual adds the block's
    input. Global residual on the bicubic input. The paper's block count, widths and its merge
    details are not reproduced.
    """

    def __init__(self, channels: int = 32, blocks: int = 3) -> None:
        super().__init__(channels, blocks, min_channels=4)
        self.blocks = nn.ModuleList(_SplitBlock(channels) for _ in range(blocks))

    def features(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = F.relu(block(h))
        return h


class _MultiScaleBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        half = max(1, c // 2)
        self.k3, self.k5 = _conv2(c, half, 3), _conv2(c, half, 5)
        self.fuse = nn.Conv2d(2 * half, c, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        multi = torch.cat([F.relu(self.k3(h)), F.relu(self.k5(h))], 1)
        return h + self.fuse(multi)  # local residual


class MultiScaleResidualSR(_GlobalResidual2D):
    """SR8, MGLRL: multi-scale global and local residual learning. [17] Shi et al., Physics in
    Medicine & Biology 2018.

    Simplified: blocks of parallel 3x3 and 5x5 convolutions (two scales) fused by a 1x1
    convolution with a local residual; a global feature residual adds the head's features to the
    last block's output, and the global image residual adds the bicubic input. The paper's
    number of blocks, its scales and training are not reproduced.
    """

    def __init__(self, channels: int = 32, blocks: int = 3) -> None:
        super().__init__(channels, blocks)
        self.blocks = nn.ModuleList(_MultiScaleBlock(channels) for _ in range(blocks))

    def features(self, h: torch.Tensor) -> torch.Tensor:
        g = h
        for block in self.blocks:
            h = F.relu(block(h))
        return h + g  # global feature residual


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    if not isinstance(model, nn.Module):
        raise validate.ArgumentTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def width_for_budget(make: Callable[[int], nn.Module], budget: int, widths: range = range(4, 257),
                     tolerance: float = 0.1) -> int:
    """The width ``w`` in ``widths`` whose ``make(w)`` has the parameter count closest to
    ``budget``; raises ValueError when even that one is more than ``tolerance`` (relative) away.
    Parameter counts grow with the width, so the search stops once they pass the budget."""
    if not callable(make):
        raise validate.ArgumentTypeError(f"make must be callable (width -> model), got {type(make).__name__}")
    validate.positive_int("budget", budget)
    validate.in_range("tolerance", tolerance, 0.0, 1.0)
    if not isinstance(widths, range) or len(widths) == 0 or widths.start < 1 or widths.step < 1:
        raise ValueError(f"widths must be a non-empty increasing range of positive ints, got {widths!r}")
    best_w, best_n = None, None
    for w in widths:
        n = count_parameters(make(w))
        if best_n is None or abs(n - budget) < abs(best_n - budget):
            best_w, best_n = w, n
        if n > budget:
            break
    if abs(best_n - budget) > tolerance * budget:
        raise ValueError(f"no width in {widths!r} gives {budget} parameters within {tolerance:.0%}: "
                         f"closest is width {best_w} with {best_n}")
    return best_w


# ----------------------------------------------------------------------------- degradations
def _check_array(img: np.ndarray, factor: int, axes: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(img, dtype=np.float64)
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    if not np.all(np.isfinite(a)):
        raise ValueError("image contains NaN or infinite values")
    for ax in axes:
        if a.shape[ax] % factor:
            raise ValueError(f"axis {ax} has length {a.shape[ax]}, not a multiple of factor {factor}")
    return a


def _block_mean(a: np.ndarray, factor: int, axes: tuple[int, ...]) -> np.ndarray:
    """Mean over ``factor``-long blocks along ``axes`` (lengths checked to be multiples):
    scikit-image's ``block_reduce``."""
    from skimage.measure import block_reduce

    axes = {ax % a.ndim for ax in axes}
    return block_reduce(a, tuple(factor if i in axes else 1 for i in range(a.ndim)), np.mean)


def blur_downsample(img: np.ndarray, factor: int, sigma: float | None = None,
                    axes: tuple[int, ...] = (-2, -1)) -> np.ndarray:
    """Gaussian blur (``sigma`` in HR pixels, default ``0.5 * factor``) then block averaging by
    ``factor`` along ``axes``: the usual artificial low-resolution image."""
    from scipy.ndimage import gaussian_filter

    axes = tuple(validate.axis("axes", ax, np.ndim(img)) for ax in axes)  # no silent wrap-around
    if sigma is not None:
        validate.nonnegative("sigma", sigma)
    a = _check_array(img, factor, axes)
    s = 0.5 * factor if sigma is None else sigma
    sig = [s if i in axes else 0.0 for i in range(a.ndim)]
    return _block_mean(gaussian_filter(a, sig, mode="reflect"), factor, axes).astype(np.float32)


def kspace_truncate(img: np.ndarray, factor: int, axes: tuple[int, ...] = (-2, -1)) -> np.ndarray:
    """MR-style low resolution: keep only the central ``1/factor`` of k-space along ``axes``
    (a sharp cut, so Gibbs ringing), back to image space, then block averaging to the low-resolution grid."""
    axes = tuple(validate.axis("axes", ax, np.ndim(img)) for ax in axes)
    a = _check_array(img, factor, axes)
    k = np.fft.fftshift(np.fft.fftn(a, axes=axes), axes=axes)
    mask = np.ones(a.shape, dtype=bool)
    for ax in axes:
        n = a.shape[ax]
        keep = np.zeros(n, dtype=bool)
        half = n // (2 * factor)
        keep[n // 2 - half: n // 2 + half] = True
        mask &= keep.reshape([-1 if i == ax else 1 for i in range(a.ndim)])
    low = np.real(np.fft.ifftn(np.fft.ifftshift(k * mask, axes=axes), axes=axes))
    return _block_mean(low, factor, axes).astype(np.float32)


def thick_slices(volume: np.ndarray, factor: int, axis: int = 0) -> np.ndarray:
    """Through-plane low resolution: average each run of ``factor`` thin slices along ``axis`` into
    one thick slice (a thick-slice acquisition's slice profile as a box)."""
    vol = np.asarray(volume)
    if vol.ndim != 3:
        raise ValueError(f"volume must be 3D, got shape {vol.shape}")
    axis = validate.axis("axis", axis, 3)
    a = _check_array(vol, factor, (axis,))
    return _block_mean(a, factor, (axis,)).astype(np.float32)


def interpolate(low: np.ndarray | torch.Tensor, factor: int, mode: str = "bicubic",
                axes: tuple[int, ...] | None = None) -> np.ndarray:
    """Baseline upsampling by ``factor`` on the grid that the degradations above use (cell-centred,
    ``align_corners=False``). ``mode``: ``bicubic`` (2D), ``bilinear``, ``trilinear`` (3D), or
    ``linear`` along one axis (``axes=(k,)``, through-plane slice interpolation) of a 3D volume."""
    validate.positive_int("factor", factor)
    validate.finite_array("low", low)
    a = torch.as_tensor(np.asarray(low, dtype=np.float32))
    if mode == "linear":
        if a.ndim != 3 or axes is None or len(axes) != 1:
            raise ValueError("linear slice interpolation needs a 3D volume and axes=(axis,)")
        ax = validate.axis("axes", axes[0], 3)
        moved = a.movedim(ax, -1)  # (A, B, n)
        up = F.interpolate(moved.reshape(1, -1, moved.shape[-1]), scale_factor=factor, mode="linear",
                           align_corners=False).reshape(*moved.shape[:2], -1)
        return up.movedim(-1, ax).numpy()
    dims = {"bicubic": 2, "bilinear": 2, "trilinear": 3}.get(mode)
    if dims is None:
        raise ValueError(f"mode must be bicubic, bilinear, trilinear or linear, got {mode!r}")
    if a.ndim < dims:
        raise ValueError(f"{mode} needs at least {dims} dimensions, got shape {tuple(a.shape)}")
    lead = a.shape[:-dims]
    x = a.reshape(-1, 1, *a.shape[-dims:])
    up = F.interpolate(x, scale_factor=factor, mode=mode, align_corners=False)
    return up.reshape(*lead, *up.shape[-dims:]).numpy()
