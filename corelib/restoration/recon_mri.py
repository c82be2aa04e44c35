"""MRI reconstruction from undersampled Cartesian k-space (survey §2.1.3): simulation, baselines,
learned models and the fastMRI metrics.

The forward operator and the sampling masks are deepinv's (``deepinv.physics.MRI``: a centred,
orthonormal 2D FFT followed by the mask; ``deepinv.physics.generator`` for random, Gaussian and
equispaced line masks with a fully sampled centre). corelib adds what deepinv lacks:

- :func:`sampling_mask`, :func:`smooth_phase`, :func:`simulate_kspace`: masks with checked
  arguments, and single-coil k-space simulated from real magnitude images with a smooth random
  phase (a real image's k-space is conjugate-symmetric, so half of it would be redundant: that
  would make undersampling artificially easy);
- :func:`fft2c`, :func:`ifft2c`, :func:`zero_filled`, :func:`data_consistency`: the same FFT as
  deepinv on ``(B, 2, H, W)`` real/imaginary tensors, and the hard data-consistency step;
- :class:`ResidualUNet` (RC5: MONAI's UNet as post-processing of the zero-filled image, with a
  residual connection), :class:`CascadeCNN` (RC7: Schlemper et al. 2018, separate weights per
  cascade) and :class:`KIKINet` (RC9: Eo et al. 2018, alternating k-space and image CNNs);
- :func:`cs_tv`: compressed sensing with total variation (sigpy ``TotalVariationRecon``);
- :func:`fastmri_scores`, :func:`nmse`: PSNR, SSIM and NMSE as the fastMRI challenge defines them.

Every model is called as ``model(x_zf, k0, mask)``: the zero-filled image, the measured k-space
and the mask, all ``(B, C, H, W)`` (2 channels for the complex tensors, 1 for the mask).
"""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from corelib import validate

__all__ = ["MASK_KINDS", "sampling_mask", "smooth_phase", "simulate_kspace", "fft2c", "ifft2c",
           "zero_filled", "data_consistency", "DataConsistency", "ResidualUNet", "CascadeCNN",
           "KIKINet", "count_parameters", "KspaceBatches", "reconstruct", "magnitude", "cs_tv",
           "point_spread_function", "nmse", "fastmri_scores", "fastmri_slice_scores",
           "brain_slices", "root_sum_of_squares"]

MASK_KINDS = ("random", "gaussian", "equispaced")


# ----------------------------------------------------------------------------- checks
def _complex_channels(name: str, x: torch.Tensor) -> torch.Tensor:
    """A finite ``(B, 2, H, W)`` real tensor (real and imaginary parts as channels)."""
    validate.tensor(name, x, ndim=4)
    if x.is_complex():
        raise validate.ArgumentTypeError(
            f"{name} must be a real tensor with real/imaginary parts as 2 channels, got a complex "
            f"tensor of shape {tuple(x.shape)} (use torch.view_as_real and move the last axis)")
    if x.shape[1] != 2:
        raise ValueError(f"{name} must have 2 channels (real, imaginary), got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _mask_for(mask: torch.Tensor, x: torch.Tensor, name: str = "mask") -> torch.Tensor:
    validate.tensor(name, mask, ndim=4)
    if mask.shape[1] != 1 or mask.shape[-2:] != x.shape[-2:] or mask.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"{name} must be (B or 1, 1, H, W) with the image's H, W = "
                         f"{tuple(x.shape[-2:])}, got shape {tuple(mask.shape)}")
    return mask.to(x.dtype)


# ----------------------------------------------------------------------------- masks and data
def brain_slices(volume: np.ndarray, size: int, fov: int = 192, min_fraction: float = 0.15,
                 flip_x: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Axial slices of a skull-stripped 1 mm (x, y, z) brain volume on a common ``size`` x ``size``
    grid: a ``fov`` x ``fov`` pixel square centred on the brain's bounding box (zero-padded where
    needed), resized with anti-aliasing (scikit-image). Only slices whose brain covers at least
    ``min_fraction`` of the square are kept. Returns ``(slices (n, size, size), z indices)``;
    rows are y (anterior up after ``np.flipud``-free display with ``origin="lower"``)."""
    from skimage.transform import resize

    v = validate.finite_array("volume", volume, ndim=3)
    size = validate.integer("size", size, min=8)
    fov = validate.integer("fov", fov, min=size)
    min_fraction = validate.in_range("min_fraction", min_fraction, 0.0, 1.0)
    if flip_x:
        v = v[::-1]
    brain = v > 0.05 * np.percentile(v, 99.9)
    xs, ys = (np.nonzero(brain.any(axis=a))[0] for a in ((1, 2), (0, 2)))
    cx, cy = (int(round((a[0] + a[-1]) / 2)) for a in (xs, ys))
    pad = fov
    vp = np.pad(v, ((pad, pad), (pad, pad), (0, 0)))
    sq = vp[cx + pad - fov // 2:cx + pad + fov - fov // 2, cy + pad - fov // 2:cy + pad + fov - fov // 2]
    bp = np.pad(brain, ((pad, pad), (pad, pad), (0, 0)))
    bsq = bp[cx + pad - fov // 2:cx + pad + fov - fov // 2, cy + pad - fov // 2:cy + pad + fov - fov // 2]
    zs = np.nonzero(bsq.mean(axis=(0, 1)) >= min_fraction)[0]
    if len(zs) == 0:
        raise ValueError(f"no axial slice has a brain fraction of {min_fraction} or more")
    out = np.stack([resize(sq[:, :, z].T, (size, size), anti_aliasing=True, order=1)
                    for z in zs]).astype(np.float32)
    return np.clip(out, 0, None), zs


def sampling_mask(shape: Sequence[int], acceleration: float, kind: str = "random",
                  center_fraction: float = 0.08, n: int = 1, seed: int = 0) -> torch.Tensor:
    """``n`` Cartesian line masks ``(n, 1, H, W)`` (1 = measured), from deepinv's generators.

    Whole columns (phase encodes along W) are sampled: a fully sampled centre of
    ``center_fraction`` of the columns, the rest drawn by ``kind``: ``random`` (uniform, as
    fastMRI's random masks), ``gaussian`` (variable density) or ``equispaced``, so that about
    ``W / acceleration`` columns are measured in all. Seeded: the same ``seed`` gives the same masks.
    """
    from deepinv.physics import generator as gen

    h, w = validate.int_sizes("shape", shape, 2, min=8)
    acc = validate.number("acceleration", acceleration)
    if not 1 <= acc <= w:
        raise ValueError(f"acceleration must be in [1, {w}] (the number of columns), got {acc:g}")
    if acc != int(acc):
        raise ValueError(f"acceleration must be a whole number (deepinv's mask generators), got {acc:g}")
    kind = validate.one_of("kind", kind, MASK_KINDS)
    cf = validate.in_range("center_fraction", center_fraction, 0.0, 1.0, lo_open=True)
    n = validate.positive_int("n", n)
    seed = validate.integer("seed", seed, min=0)
    if acc == 1:
        return torch.ones(n, 1, h, w)
    cls = {"random": gen.RandomMaskGenerator, "gaussian": gen.GaussianMaskGenerator,
           "equispaced": gen.EquispacedMaskGenerator}[kind]
    g = cls((h, w), acceleration=int(acc), center_fraction=cf,
            rng=torch.Generator().manual_seed(seed))
    m = g.step(batch_size=n, seed=seed)["mask"].float()
    return m.reshape(n, 1, h, w)


def smooth_phase(n: int, shape: Sequence[int], max_phase: float = math.pi, grid: int = 4,
                 seed: int | torch.Generator = 0) -> torch.Tensor:
    """``n`` smooth random phase maps ``(n, 1, H, W)`` in radians.

    A ``grid`` x ``grid`` field of uniform values in ``[-max_phase, max_phase]`` upsampled
    bicubically to ``H x W``: a slowly varying phase, like the one that field inhomogeneity and coil
    phase give a real acquisition.
    """
    n = validate.positive_int("n", n)
    h, w = validate.int_sizes("shape", shape, 2, min=1)
    max_phase = validate.nonnegative("max_phase", max_phase)
    grid = validate.integer("grid", grid, min=2)
    g = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(
        validate.integer("seed", seed, min=0))
    coarse = (torch.rand(n, 1, grid, grid, generator=g) * 2 - 1) * max_phase
    return nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)


def fft2c(x: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal 2D FFT of ``(B, 2, H, W)`` real/imaginary tensors (deepinv's convention)."""
    z = torch.complex(x[:, 0], x[:, 1])
    k = torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(z, dim=(-2, -1)), norm="ortho"),
                           dim=(-2, -1))
    return torch.stack([k.real, k.imag], dim=1)


def ifft2c(k: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`fft2c` (the adjoint too: the transform is unitary)."""
    z = torch.complex(k[:, 0], k[:, 1])
    x = torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(z, dim=(-2, -1)), norm="ortho"),
                           dim=(-2, -1))
    return torch.stack([x.real, x.imag], dim=1)


def simulate_kspace(images: torch.Tensor | np.ndarray, mask: torch.Tensor,
                    phase: torch.Tensor | None = None, noise_sd: float = 0.0,
                    seed: int | torch.Generator = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Simulated single-coil acquisition of real magnitude ``images`` ``(B, H, W)``.

    The complex image is ``images * exp(i * phase)`` (``phase`` ``(B, 1, H, W)``, none = real
    image); its measured k-space is ``mask * (FFT(image) + noise)`` with complex Gaussian noise
    of standard deviation ``noise_sd`` per real and imaginary part. Returns ``(k0, x_true)``, both
    ``(B, 2, H, W)``. The acquisition is simulated: real raw data also has coils, noise
    correlations and off-resonance.
    """
    x = torch.as_tensor(images)
    if x.is_complex():
        raise validate.ArgumentTypeError("images must be real magnitude images (B, H, W); "
                                         f"got a complex tensor of shape {tuple(x.shape)}")
    validate.tensor("images", x, ndim=3, finite=True)
    x = x.float()
    if phase is None:
        phase = torch.zeros(x.shape[0], 1, *x.shape[1:])
    validate.tensor("phase", phase, ndim=4, finite=True)
    if phase.shape != (x.shape[0], 1, *x.shape[1:]):
        raise ValueError(f"phase must be (B, 1, H, W) = {(x.shape[0], 1, *x.shape[1:])}, "
                         f"got {tuple(phase.shape)}")
    x_true = torch.cat([x[:, None] * torch.cos(phase), x[:, None] * torch.sin(phase)], dim=1)
    m = _mask_for(mask, x_true)
    noise_sd = validate.nonnegative("noise_sd", noise_sd)
    k = fft2c(x_true)
    if noise_sd > 0:
        g = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(
            validate.integer("seed", seed, min=0))
        k = k + noise_sd * torch.randn(k.shape, generator=g)
    return m * k, x_true


def zero_filled(k0: torch.Tensor) -> torch.Tensor:
    """The zero-filled reconstruction: the inverse FFT of the measured k-space (zeros elsewhere)."""
    return ifft2c(_complex_channels("k0", k0))


def data_consistency(x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor,
                     lam: float | torch.Tensor | None = None) -> torch.Tensor:
    """Replace the measured samples of ``x``'s k-space by ``k0`` (hard, ``lam=None``) or mix them.

    Hard: ``IFFT((1 - m) FFT(x) + m k0)``, so the result's k-space equals ``k0`` exactly where
    ``m = 1``. Soft (Schlemper et al. 2018, noisy data): ``(FFT(x) + lam k0) / (1 + lam)`` on the
    measured samples.
    """
    validate.tensor("x", x, ndim=4)
    _complex_channels("k0", k0)
    if x.shape != k0.shape:
        raise ValueError(f"x and k0 must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(k0.shape)}")
    m = _mask_for(mask, x)
    k = fft2c(x)
    if lam is None:
        k = (1 - m) * k + m * k0
    else:
        k = (1 - m) * k + m * (k + lam * k0) / (1 + lam)
    return ifft2c(k)


class DataConsistency(nn.Module):
    """Data-consistency layer (Schlemper et al. 2018): hard replacement, or soft with a learned
    ``lam`` (kept positive through a softplus) when ``learn_lambda``."""

    def __init__(self, learn_lambda: bool = False) -> None:
        super().__init__()
        self.raw = nn.Parameter(torch.tensor(3.0)) if learn_lambda else None

    def forward(self, x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lam = None if self.raw is None else nn.functional.softplus(self.raw)
        return data_consistency(x, k0, mask, lam)


def _cnn(in_ch: int, width: int, depth: int, out_ch: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_ch, width, 3, padding=1), nn.LeakyReLU(0.1)]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.1)]
    last = nn.Conv2d(width, out_ch, 3, padding=1)
    nn.init.zeros_(last.weight)  # a residual block starts as the identity
    nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)


class ResidualUNet(nn.Module):
    """RC5, image-domain post-processing: MONAI's 2D UNet on the zero-filled complex image
    (2 channels) with a global residual connection, ``x_zf + UNet(x_zf)`` (as in Jin et al. 2017
    and Hyun et al. 2018; the fastMRI U-Net baseline, Zbontar et al. 2018). It ignores the
    measured k-space: nothing forces its output to agree with the data. A zero-initialised 1x1
    convolution after the UNet makes the untrained model the identity (the zero-filled image), as
    the cascade's residual blocks are at initialisation."""

    def __init__(self, channels: Sequence[int] = (16, 32, 64), num_res_units: int = 1) -> None:
        super().__init__()
        from monai.networks.nets import UNet

        channels = validate.int_sizes("channels", channels, len(channels), min=1)
        self.unet = UNet(2, 2, 2, channels=channels, strides=(2,) * (len(channels) - 1),
                         num_res_units=validate.integer("num_res_units", num_res_units, min=0))
        self.head = nn.Conv2d(2, 2, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, k0: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.head(self.unet(x))


class CascadeCNN(nn.Module):
    """RC7, deep cascade of CNNs with data consistency: Schlemper et al. 2018, "A deep cascade of
    convolutional neural networks for dynamic MR image reconstruction", IEEE TMI 37(2).

    ``n_cascades`` blocks, each a residual CNN (``depth`` 3x3 convolutions of ``width`` channels,
    leaky ReLU; the last one zero-initialised, so each block starts as the identity) followed by a
    data-consistency layer. Each block has its **own** weights (deepinv's
    VarNet / unrolled models tie or structure them differently); hard data consistency unless
    ``learn_lambda``.
    """

    def __init__(self, n_cascades: int = 5, width: int = 32, depth: int = 5,
                 learn_lambda: bool = False) -> None:
        super().__init__()
        n_cascades = validate.positive_int("n_cascades", n_cascades)
        width = validate.positive_int("width", width)
        depth = validate.integer("depth", depth, min=2)
        self.cnns = nn.ModuleList(_cnn(2, width, depth, 2) for _ in range(n_cascades))
        self.dcs = nn.ModuleList(DataConsistency(learn_lambda) for _ in range(n_cascades))

    def forward(self, x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for cnn, dc in zip(self.cnns, self.dcs):
            x = dc(x + cnn(x), k0, mask)
        return x


class KIKINet(nn.Module):
    """RC9, KIKI-net: Eo et al. 2018, "KIKI-net: cross-domain convolutional neural networks for
    reconstructing undersampled magnetic resonance images", Magn. Reson. Med. 80(5).

    ``n_iter`` rounds of a k-space CNN (on the measured k-space, 2 channels, then the measured
    samples restored), the inverse FFT, an image-domain CNN with a residual connection and a
    data-consistency layer; separate weights for every CNN.
    """

    def __init__(self, n_iter: int = 2, width: int = 32, depth: int = 5) -> None:
        super().__init__()
        n_iter = validate.positive_int("n_iter", n_iter)
        width = validate.positive_int("width", width)
        depth = validate.integer("depth", depth, min=2)
        self.k_cnns = nn.ModuleList(_cnn(2, width, depth, 2) for _ in range(n_iter))
        self.i_cnns = nn.ModuleList(_cnn(2, width, depth, 2) for _ in range(n_iter))

    def forward(self, x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = _mask_for(mask, x)
        for k_cnn, i_cnn in zip(self.k_cnns, self.i_cnns):
            k = fft2c(x)
            k = k + k_cnn(k)
            k = (1 - m) * k + m * k0  # k-space consistency
            x = ifft2c(k)
            x = data_consistency(x + i_cnn(x), k0, m)
        return x


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------- training data
class KspaceBatches(torch.utils.data.IterableDataset):
    """Endless training batches ``(x_zf, k0, mask, x_true)`` simulated on the fly from magnitude
    slices ``images`` (n, H, W): for each batch a fresh smooth phase and a fresh random mask per
    slice, at an acceleration drawn from ``accelerations``; seeded."""

    def __init__(self, images: np.ndarray, batch: int, accelerations: Sequence[int] = (4, 8),
                 center_fraction: float = 0.08, noise_sd: float = 0.0, kind: str = "random",
                 seed: int = 0) -> None:
        a = validate.finite_array("images", images, ndim=3)
        self.images = torch.as_tensor(a, dtype=torch.float32)
        self.batch = validate.positive_int("batch", batch)
        self.accelerations = [validate.positive("acceleration", r) for r in accelerations]
        self.cf, self.noise_sd, self.kind, self.seed = center_fraction, noise_sd, kind, int(seed)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        g = torch.Generator().manual_seed(self.seed)
        n, h, w = self.images.shape
        step = 0
        while True:
            idx = torch.randint(n, (self.batch,), generator=g)
            flip = torch.rand(1, generator=g) < 0.5  # left-right flip as augmentation
            x = self.images[idx].flip(-1) if flip else self.images[idx]
            acc = self.accelerations[int(torch.randint(len(self.accelerations), (1,), generator=g))]
            mask = sampling_mask((h, w), acc, self.kind, self.cf, self.batch,
                                 seed=self.seed * 100003 + step)
            k0, x_true = simulate_kspace(x, mask, smooth_phase(self.batch, (h, w), seed=g),
                                         self.noise_sd, seed=g)
            step += 1
            yield ifft2c(k0), k0, mask, x_true


@torch.no_grad()
def reconstruct(model: nn.Module, k0: torch.Tensor, mask: torch.Tensor, batch: int = 16,
                device: torch.device | str | None = None) -> torch.Tensor:
    """``model`` applied to measured k-space ``k0`` (B, 2, H, W) in batches; returns (B, 2, H, W)."""
    _complex_channels("k0", k0)
    mask = _mask_for(mask, k0)
    if device is None:
        p = next(model.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
    model.eval()
    out = []
    for i in range(0, len(k0), batch):
        k = k0[i:i + batch].to(device)
        m = (mask[i:i + batch] if mask.shape[0] > 1 else mask).to(device)
        out.append(model(ifft2c(k), k, m).float().cpu())
    return torch.cat(out)


def magnitude(x: torch.Tensor) -> np.ndarray:
    """``|x|`` of (B, 2, H, W) real/imaginary tensors as a float32 array (B, H, W)."""
    validate.tensor("x", x, ndim=4)
    return torch.sqrt(x[:, 0] ** 2 + x[:, 1] ** 2).detach().cpu().numpy().astype(np.float32)


def point_spread_function(mask: torch.Tensor | np.ndarray) -> np.ndarray:
    """``|IFFT(mask)|`` normalised to a peak of 1: the image of a point source after sampling."""
    m = torch.as_tensor(np.asarray(mask), dtype=torch.float32)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2D (H, W), got shape {tuple(m.shape)}")
    psf = magnitude(ifft2c(torch.stack([m, torch.zeros_like(m)])[None]))[0]
    return psf / psf.max()


# ----------------------------------------------------------------------------- multi-coil raw data
def _coil_images(coil_images: np.ndarray) -> np.ndarray:
    c = validate.array("coil_images", coil_images, ndim=3, real=False, finite=True)
    if c.dtype.kind != "c":
        raise validate.ArgumentTypeError("coil_images must be complex (coils, H, W), got dtype "
                                         f"{c.dtype}")
    return c


def root_sum_of_squares(coil_images: np.ndarray) -> np.ndarray:
    """The root-sum-of-squares magnitude image ``sqrt(sum_c |x_c|^2)`` of (coils, H, W) images."""
    c = _coil_images(coil_images)
    return np.sqrt((np.abs(c) ** 2).sum(axis=0)).astype(np.float32)


# ----------------------------------------------------------------------------- compressed sensing
def cs_tv(k0: torch.Tensor, mask: torch.Tensor, lamda: float, max_iter: int = 200) -> torch.Tensor:
    """Compressed sensing with total variation, slice by slice: sigpy's ``TotalVariationRecon``
    (primal-dual hybrid gradient), ``argmin_x 1/2 ||M F x - k0||^2 + lamda ||grad x||_1``, single
    coil (sensitivity 1). ``k0`` and the result are (B, 2, H, W); sigpy's centred orthonormal FFT
    is the same as :func:`fft2c`."""
    import sigpy as sp
    from sigpy.mri.app import TotalVariationRecon

    _complex_channels("k0", k0)
    mask = _mask_for(mask, k0)
    lamda = validate.positive("lamda", lamda)
    max_iter = validate.positive_int("max_iter", max_iter)
    out = []
    for i in range(len(k0)):
        y = (k0[i, 0] + 1j * k0[i, 1]).numpy().astype(np.complex64)[None]
        m = (mask[i] if mask.shape[0] > 1 else mask[0]).numpy().astype(np.float32)
        mps = np.ones_like(y)
        x = TotalVariationRecon(y, mps, lamda, weights=m, max_iter=max_iter,
                                show_pbar=False, device=sp.cpu_device).run()
        out.append(torch.stack([torch.as_tensor(x.real), torch.as_tensor(x.imag)]).float())
    return torch.stack(out)


# ----------------------------------------------------------------------------- fastMRI metrics
def _volumes(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = validate.finite_array("gt", gt, ndim=3)
    p = validate.finite_array("pred", pred, ndim=3)
    validate.same_shape(("gt", "pred"), g, p)
    if not g.max() > 0:
        raise ValueError("gt must have a positive maximum (its data range)")
    return g.astype(np.float64), p.astype(np.float64)


def nmse(gt: np.ndarray, pred: np.ndarray) -> float:
    """Normalised mean squared error ``||gt - pred||^2 / ||gt||^2`` (fastMRI)."""
    g = validate.finite_array("gt", gt)
    p = validate.finite_array("pred", pred)
    validate.same_shape(("gt", "pred"), g, p)
    den = float(np.sum(np.asarray(g, np.float64) ** 2))
    if den == 0:
        raise ValueError("gt is all zeros: NMSE is undefined")
    return float(np.sum((np.asarray(g, np.float64) - p) ** 2) / den)


def fastmri_scores(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """PSNR, SSIM and NMSE of one volume (slices along axis 0), as the fastMRI evaluation defines
    them (Zbontar et al. 2018, ``fastmri/evaluate.py``): PSNR over the whole volume with the
    volume's maximum ``gt.max()`` as data range; SSIM the mean of the 2D SSIMs of the slices
    (7x7 window), each with the volume's maximum as data range; NMSE over the whole volume."""
    from corelib import metrics

    g, p = _volumes(gt, pred)
    dr = float(g.max())
    return {"PSNR (dB)": float(metrics.psnr(g, p, dr)),
            "SSIM": float(np.mean(metrics.ssim(g, p, dr, per_slice=True))),
            "NMSE": nmse(g, p)}


def fastmri_slice_scores(gt: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """The same three scores for each slice (one value per test case, for ``report.compare``),
    still with the **volume's** maximum as data range (not each slice's own)."""
    from corelib import metrics

    g, p = _volumes(gt, pred)
    dr = float(g.max())
    return {"PSNR (dB)": np.asarray(metrics.psnr(g, p, dr, per_slice=True), dtype=float),
            "SSIM": np.asarray(metrics.ssim(g, p, dr, per_slice=True), dtype=float),
            "NMSE": np.array([nmse(a, b) for a, b in zip(g, p)])}
