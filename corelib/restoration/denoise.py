"""Image denoisers of survey §2.1.1 (low-dose CT), their losses and a texture measure.

- :class:`CNNDAE`: convolutional denoising autoencoder (DN1).
- :class:`REDCNN`: residual encoder-decoder CNN with shortcut connections (DN2).
- :class:`Critic`, :func:`gradient_penalty`, :class:`PerceptualLoss`, :func:`wgan_batch_fn`:
  WGAN-VGG training (DN4) with a frozen feature network that works offline.
- :func:`noise2noise_batch_fn`: training from pairs of independent noisy images only (DN8).
- :func:`radial_power_spectrum`, :func:`hf_energy_ratio`: texture / over-smoothing measures.

All networks take and return ``(N, 1, H, W)`` tensors (any H, W the architecture allows).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from corelib import validate

__all__ = ["CNNDAE", "REDCNN", "Critic", "gradient_penalty", "PerceptualLoss", "wgan_batch_fn",
           "noise2noise_batch_fn", "radial_power_spectrum", "hf_energy_ratio", "add_rician_noise"]


def _check_input(x: torch.Tensor, min_size: int = 1, multiple: int = 1) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected a (N, 1, H, W) tensor, got {shape}")
    h, w = x.shape[-2:]
    if min(h, w) < min_size or h % multiple or w % multiple:
        raise ValueError(f"H and W must be at least {min_size} and multiples of {multiple}, got {h}x{w}")


class CNNDAE(nn.Module):
    """Convolutional denoising autoencoder: conv + max-pool encoder, upsample + conv decoder, no
    shortcuts; the output is the clean image itself. [1] Gondara, ICDMW 2016.

    ``predict_noise=True`` makes it output ``x - net(x)`` (the generator that learns the noise, DN6 [6]).
    H and W must be multiples of 4.
    """

    def __init__(self, channels: int = 32, predict_noise: bool = False) -> None:
        super().__init__()
        validate.positive_int("channels", channels)
        c = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c, 1, 3, padding=1),
        )
        self.predict_noise = predict_noise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, 4, 4)
        y = self.decoder(self.encoder(x))
        return x - y if self.predict_noise else y


class REDCNN(nn.Module):
    """Residual encoder-decoder CNN: 5 valid 5x5 convolutions, 5 transposed convolutions, and
    shortcuts adding encoder features (and the input) to the decoder. [2] Chen et al., IEEE TMI 2017.

    With ``shortcuts=False`` it is the same encoder-decoder without them (the paper's ablation).
    The last layer is initialised to zero, so at initialisation the network is the identity.
    H and W must be at least 21.
    """

    def __init__(self, channels: int = 32, kernel: int = 5, shortcuts: bool = True) -> None:
        super().__init__()
        validate.positive_int("channels", channels)
        validate.positive_int("kernel", kernel)
        c, k = channels, kernel
        self.convs = nn.ModuleList([nn.Conv2d(1 if i == 0 else c, c, k) for i in range(5)])
        self.deconvs = nn.ModuleList([nn.ConvTranspose2d(c, 1 if i == 4 else c, k) for i in range(5)])
        nn.init.zeros_(self.deconvs[-1].weight)
        nn.init.zeros_(self.deconvs[-1].bias)
        self.shortcuts = shortcuts
        self.min_size = 4 * (k - 1) + 5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.min_size)
        saved = [x]
        h = x
        for i, conv in enumerate(self.convs):
            h = F.relu(conv(h))
            if i in (1, 3):
                saved.append(h)
        # decoder: deconv1..5; add conv4 output after deconv1, conv2 output after deconv3, input after deconv5
        for i, deconv in enumerate(self.deconvs):
            h = deconv(h)
            if self.shortcuts and i in (0, 2, 4):
                h = h + saved.pop()
            h = F.relu(h) if i < 4 else h
        return h


class Critic(nn.Module):
    """Wasserstein critic: strided conv + LeakyReLU stack, global average, linear score (no sigmoid,
    no batch norm, as the gradient penalty requires). [4] Yang et al., IEEE TMI 2018."""

    def __init__(self, channels: int = 32, depth: int = 4) -> None:
        super().__init__()
        validate.positive_int("channels", channels)
        validate.positive_int("depth", depth)
        layers: list[nn.Module] = []
        c_in = 1
        for i in range(depth):
            c_out = channels * 2 ** min(i, 3)
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2 if i % 2 else 1, padding=1), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.score = nn.Linear(c_in, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x)
        return self.score(self.features(x).mean(dim=(2, 3))).squeeze(1)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP penalty ``E[(||grad critic(x_hat)|| - 1)^2]`` on random mixes of real and fake.
    Gulrajani et al. 2017, as used by WGAN-VGG [4]."""
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    eps = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


class PerceptualLoss(nn.Module):
    """MSE between feature maps of a frozen network: ``||phi(x) - phi(y)||^2`` (the "VGG loss" of
    WGAN-VGG [4]). ``features`` is any module mapping (N, 1, H, W) to feature maps; it is frozen and
    kept in eval mode. Offline the book uses an encoder trained on another task (e.g. the
    CNN-DAE's); ImageNet VGG16 only where its weights are on disk."""

    def __init__(self, features: nn.Module) -> None:
        super().__init__()
        self.features = features.eval()
        for p in self.features.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "PerceptualLoss":  # keep the frozen net in eval mode
        super().train(mode)
        self.features.eval()
        return self

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.features(x), self.features(y))


def wgan_batch_fn(critic: nn.Module, critic_opt: torch.optim.Optimizer, perceptual: nn.Module | None,
                  adv_weight: float = 1e-3, gp_weight: float = 10.0, n_critic: int = 2,
                  pixel_weight: float = 0.0) -> Callable[[nn.Module, Any, torch.device], torch.Tensor]:
    """``batch_fn`` for :func:`corelib.train.fit` that trains WGAN-VGG [4]: on each batch
    ``(low_dose, normal_dose)`` it takes ``n_critic`` critic steps (Wasserstein loss + gradient
    penalty), then returns the generator loss
    ``perceptual(G(x), y) + pixel_weight * MSE - adv_weight * critic(G(x))``."""
    validate.positive_int("n_critic", n_critic)
    for name, w in (("adv_weight", adv_weight), ("gp_weight", gp_weight), ("pixel_weight", pixel_weight)):
        validate.nonnegative(name, w)
    critic_losses: list[float] = []

    def batch_fn(gen: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
        x, y = (t.to(device) for t in batch)
        critic.to(device).train()
        for _ in range(n_critic):
            with torch.no_grad():
                fake = gen(x)
            critic_opt.zero_grad(set_to_none=True)
            loss_c = critic(fake).mean() - critic(y).mean() + gp_weight * gradient_penalty(critic, y, fake)
            loss_c.backward()
            critic_opt.step()
        critic_losses.append(float(loss_c.detach()))
        out = gen(x)
        loss = -adv_weight * critic(out).mean()
        if perceptual is not None:
            loss = loss + perceptual(out, y)
        if pixel_weight:
            loss = loss + pixel_weight * F.mse_loss(out, y)
        return loss

    batch_fn.critic_losses = critic_losses  # type: ignore[attr-defined]
    return batch_fn


def noise2noise_batch_fn(loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.mse_loss,
                         swap: bool = True) -> Callable[[nn.Module, Any, torch.device], torch.Tensor]:
    """``batch_fn`` for training from noisy data only (DN8, Noise2Noise family; the Consensus net
    of [8] builds on it): a batch is ``(noisy_a, noisy_b)``, two independent noisy images of the same
    object, and the loss is ``loss_fn(f(a), b)`` (with ``swap``, also ``loss_fn(f(b), a)``). Because
    the noise of ``b`` is zero-mean and independent of ``a``, the MSE minimiser is the clean mean."""

    def batch_fn(model: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
        a, b = (t.to(device) for t in batch)
        if not swap:
            return loss_fn(model(a), b)
        both_in, both_out = torch.cat([a, b]), torch.cat([b, a])
        return loss_fn(model(both_in), both_out)

    return batch_fn


def add_rician_noise(image: np.ndarray, sigma: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Magnitude MR noise: ``|image + n1 + i n2|`` with ``n1, n2 ~ N(0, sigma^2)`` independent.
    Biased upwards where the signal is low (background follows a Rayleigh distribution)."""
    validate.nonnegative("sigma", sigma)  # a NaN sigma would give an all-NaN image
    validate.finite_array("image", image)
    rng = rng if rng is not None else np.random.default_rng(0)
    a = np.asarray(image, dtype=np.float64)
    return np.hypot(a + rng.normal(0, sigma, a.shape), rng.normal(0, sigma, a.shape)).astype(np.float32)


# ----------------------------------------------------------------------------- texture measures
def radial_power_spectrum(images: np.ndarray, n_bins: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean radially averaged power spectrum of (n, H, W) images (mean of each removed).

    Returns ``(freq, power)``: bin centres in cycles/pixel (0 .. 0.5) and mean |FFT|^2 / (H W) per
    bin (white noise of variance s^2 gives s^2 everywhere). ``n_bins`` defaults to min(H, W) // 2;
    a bin that no frequency falls in is NaN.
    Applied to ``test - reference`` it is the noise power spectrum (NPS) of the residual noise.
    """
    validate.finite_array("images", images, ndim=(2, 3))
    if n_bins is not None:
        validate.positive_int("n_bins", n_bins)
    a = np.asarray(images, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"images must be (n, H, W) or (H, W), got shape {a.shape}")
    n_bins = n_bins or max(1, min(a.shape[1:]) // 2)
    a = a - a.mean(axis=(1, 2), keepdims=True)
    p = (np.abs(np.fft.fftshift(np.fft.fft2(a), axes=(1, 2))) ** 2).mean(0) / (a.shape[1] * a.shape[2])
    fy = np.fft.fftshift(np.fft.fftfreq(a.shape[1]))
    fx = np.fft.fftshift(np.fft.fftfreq(a.shape[2]))
    r = np.hypot(*np.meshgrid(fy, fx, indexing="ij"))
    edges = np.linspace(0, 0.5, n_bins + 1)
    idx = np.clip(np.digitize(r, edges) - 1, 0, n_bins - 1)
    keep = r <= 0.5
    counts = np.bincount(idx[keep], None, n_bins)
    power = np.where(counts > 0, np.bincount(idx[keep], p[keep], n_bins) / np.maximum(counts, 1), np.nan)
    return 0.5 * (edges[:-1] + edges[1:]), power


def hf_energy_ratio(test: np.ndarray, reference: np.ndarray, cutoff: float = 0.25) -> float:
    """High-frequency energy of ``test`` over that of ``reference`` (radial frequency above
    ``cutoff`` cycles/pixel, summed over (n, H, W) stacks). 1 = same fine texture as the reference;
    below 1 = over-smoothed; above 1 = extra noise."""
    if not 0 < cutoff < 0.5:
        raise ValueError(f"cutoff must be in (0, 0.5) cycles/pixel, got {cutoff}")
    t, r = np.asarray(test, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if t.shape != r.shape:
        raise ValueError(f"test {t.shape} and reference {r.shape} differ in shape")
    f_t, p_t = radial_power_spectrum(t)
    _, p_r = radial_power_spectrum(r)
    band = f_t > cutoff
    return float(np.nansum(p_t[band]) / max(np.nansum(p_r[band]), 1e-12))
