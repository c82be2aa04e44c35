"""Image-to-image translation (survey §2.2.2): pix2pix, CycleGAN and the gradient-consistency term.

The networks are MONAI's: the generator is ``monai.networks.nets.BasicUNet``, the discriminator
``monai.networks.nets.PatchDiscriminator`` and the adversarial criterion
``monai.losses.PatchAdversarialLoss`` (least squares). What MONAI does not have is written here:

- :class:`Pix2PixStep`: a ``batch_fn`` for :func:`corelib.train.fit` that trains pix2pix [46]
  (Isola et al. 2017, "Image-to-image translation with conditional adversarial networks", CVPR):
  a conditional PatchGAN sees (input, output) pairs; the generator minimises adversarial + L1;
- :class:`CycleGAN` and :class:`CycleGANStep`: unpaired translation [47] (Zhu et al. 2017,
  "Unpaired image-to-image translation using cycle-consistent adversarial networks", ICCV): two
  generators, two discriminators, least-squares adversarial + cycle + identity losses, and
  optionally the gradient-consistency term of Hiasa et al. 2018 [54] ("Cross-modality image
  synthesis from unpaired data using CycleGAN", SASHIMI);
- :func:`gradient_correlation`: the gradient correlation GC of [54] (mean normalised cross
  correlation of the horizontal and vertical image gradients), per image;
- :func:`cycle_loss`, :func:`identity_loss`: the L1 terms of [47].
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from corelib import validate

__all__ = ["unet_generator", "PatchCritic", "gradient_correlation", "cycle_loss", "identity_loss",
           "Pix2PixStep", "CycleGAN", "CycleGANStep", "check_pair"]

_SOBEL = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]) / 8.0


def unet_generator(in_channels: int = 1, out_channels: int = 1,
                   features: Sequence[int] = (16, 16, 32, 64, 64, 16)) -> nn.Module:
    """The generator of every method here: MONAI ``BasicUNet`` (2D, four max-pool levels, two
    convolutions per level, instance norm as in [46][47]) with bilinear upsampling instead of
    transposed convolutions (which leave checkerboard artefacts in a briefly trained GAN), and a
    linear output (intensities are not squashed). ``features``: six widths, as in ``BasicUNet``."""
    from monai.networks.nets import BasicUNet

    validate.positive_int("in_channels", in_channels)
    validate.positive_int("out_channels", out_channels)
    if np.ndim(features) != 1 or len(features) != 6:
        raise validate.ArgumentTypeError(f"features must be six widths, got {features!r}")
    feats = tuple(validate.positive_int("features", c) for c in features)
    return BasicUNet(2, in_channels, out_channels, features=feats, upsample="nontrainable")


class PatchCritic(nn.Module):
    """MONAI ``PatchDiscriminator`` (the PatchGAN of [46]) returning only its last map: one
    real/fake score per overlapping patch, ``(B, 1, h, w)``."""

    def __init__(self, in_channels: int = 1, width: int = 32, layers: int = 2) -> None:
        super().__init__()
        from monai.networks.nets import PatchDiscriminator

        validate.positive_int("in_channels", in_channels)
        self.in_channels = in_channels
        self.net = PatchDiscriminator(2, validate.positive_int("width", width), in_channels,
                                      num_layers_d=validate.positive_int("layers", layers),
                                      norm="INSTANCE")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, ndim=4, channels=self.in_channels)
        return self.net(x)[-1]


def check_pair(a: Any, b: Any, names: tuple[str, str] = ("a", "b"),
               channels: int | None = None) -> None:
    """Two image batches that a paired loss compares: torch tensors ``(B, C, H, W)`` of the same
    shape, finite, with ``channels`` channels when given."""
    for name, x in zip(names, (a, b)):
        validate.tensor(name, x, ndim=4, channels=channels, finite=True)
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape (a pixel-wise pair), "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")


def _gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    k = _SOBEL.to(x)
    flat = x.reshape(-1, 1, *x.shape[-2:])
    gx = F.conv2d(flat, k[None, None])
    gy = F.conv2d(flat, k.t()[None, None])
    return gx.reshape(x.shape[0], -1), gy.reshape(x.shape[0], -1)


def _ncc(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / torch.sqrt((a * a).sum(1) * (b * b).sum(1) + eps)


def gradient_correlation(a: torch.Tensor, b: torch.Tensor, mode: str = "signed") -> torch.Tensor:
    """Gradient correlation of Hiasa et al. 2018 [54], one value per image of the batch ``(B,)``.

    ``mode="signed"`` is the paper's GC: the mean of NCC(∂a/∂x, ∂b/∂x) and NCC(∂a/∂y, ∂b/∂y)
    (Sobel gradients). It is 1 for identical images, lower when edges move, and -1 for an inverted
    contrast. ``mode="magnitude"`` is the NCC of the gradient magnitudes: insensitive to the sign
    of an edge, which matters for T1 -> T2, where most tissue edges invert (WM is bright in T1,
    dark in T2) while the brain outline does not, so the signed GC of a T1 slice and its T2
    is close to zero even when the two are perfectly aligned.
    """
    check_pair(a, b, ("a", "b"))
    validate.one_of("mode", mode, ("signed", "magnitude"))
    if min(a.shape[-2:]) < 3:
        raise ValueError(f"images must be at least 3x3 for Sobel gradients, got {tuple(a.shape)}")
    (ax, ay), (bx, by) = _gradients(a), _gradients(b)
    if mode == "magnitude":
        return _ncc(torch.sqrt(ax**2 + ay**2 + 1e-12), torch.sqrt(bx**2 + by**2 + 1e-12))
    return 0.5 * (_ncc(ax, bx) + _ncc(ay, by))


def cycle_loss(real: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """Cycle-consistency loss of [47]: mean |F(G(a)) - a| (zero when the cycle returns the input)."""
    check_pair(real, reconstructed, ("real", "reconstructed"))
    return F.l1_loss(reconstructed, real)


def identity_loss(real: torch.Tensor, mapped: torch.Tensor) -> torch.Tensor:
    """Identity loss of [47]: mean |G(b) - b| for an image ``b`` already in G's target domain."""
    check_pair(real, mapped, ("real", "mapped"))
    return F.l1_loss(mapped, real)


def _lsgan():
    from monai.losses import PatchAdversarialLoss

    return PatchAdversarialLoss(criterion="least_squares")


def _set_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def _unpack(batch: Any, device: torch.device, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"{what} expects (a, b) batches, got {type(batch).__name__}")
    a, b = (t.to(device) for t in batch)
    for name, x in (("a", a), ("b", b)):
        validate.tensor(name, x, ndim=4, finite=True)
    return a, b


class Pix2PixStep:
    """A ``batch_fn`` for :func:`corelib.train.fit` that trains pix2pix [46] on aligned pairs.

    Each call updates the conditional PatchGAN ``critic`` (it sees the input and an output,
    concatenated: real pairs vs generated pairs, least-squares loss), then returns the generator's
    loss ``adv + l1_weight * |G(x) - y|`` for ``fit`` to step. The terms are kept in ``terms``
    (one dict per step) for the loss curves.
    """

    def __init__(self, critic: PatchCritic, l1_weight: float = 100.0, lr: float = 2e-4) -> None:
        if not isinstance(critic, PatchCritic):
            raise validate.ArgumentTypeError(f"critic must be a PatchCritic, got {type(critic).__name__}")
        self.critic = critic
        self.l1_weight = validate.nonnegative("l1_weight", l1_weight)
        self.opt = torch.optim.Adam(critic.parameters(), lr=validate.positive("lr", lr),
                                    betas=(0.5, 0.999))
        self.adv = _lsgan()
        self.terms: list[dict[str, float]] = []

    def __call__(self, model: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
        x, y = _unpack(batch, device, "Pix2PixStep")
        check_pair(x[:, :1], y, ("input", "target"))
        self.critic.to(device).train()
        fake = model(x)
        self.opt.zero_grad(set_to_none=True)
        d_loss = 0.5 * (self.adv(self.critic(torch.cat([x, y], 1)), True, True)
                        + self.adv(self.critic(torch.cat([x, fake.detach()], 1)), False, True))
        d_loss.backward()
        self.opt.step()
        _set_grad(self.critic, False)
        try:
            g_adv = self.adv(self.critic(torch.cat([x, fake], 1)), True, False)
        finally:
            _set_grad(self.critic, True)
        l1 = F.l1_loss(fake, y)
        self.terms.append({"critic": float(d_loss.detach()), "adversarial": float(g_adv.detach()),
                           "L1": float(l1.detach())})
        return g_adv + self.l1_weight * l1


class CycleGAN(nn.Module):
    """The two generators of [47]: ``g_ab`` (domain A -> B, e.g. T1 -> T2) and ``g_ba`` (B -> A).
    Calling the module applies ``g_ab``, so it predicts like any A -> B network."""

    def __init__(self, g_ab: nn.Module, g_ba: nn.Module) -> None:
        super().__init__()
        self.g_ab, self.g_ba = g_ab, g_ba

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.g_ab(x)


class CycleGANStep:
    """A ``batch_fn`` for :func:`corelib.train.fit` that trains a :class:`CycleGAN` on unpaired
    batches ``(a, b)`` (images of domain A and, independently drawn, of domain B) [47].

    Each call updates the two PatchGAN critics ``critic_a``, ``critic_b`` (least squares, real vs
    generated), then returns the generators' loss: adversarial (both directions)
    ``+ cycle_weight * (|F(G(a)) - a| + |G(F(b)) - b|) + identity_weight * (|G(b) - b| + |F(a) - a|)
    + gc_weight * ((1 - GC(a, G(a))) + (1 - GC(b, F(b))))``, the last term being the gradient
    consistency of Hiasa et al. 2018 [54] (0 turns it off; ``gc_mode`` as in
    :func:`gradient_correlation`).
    """

    def __init__(self, critic_a: PatchCritic, critic_b: PatchCritic, cycle_weight: float = 10.0,
                 identity_weight: float = 5.0, gc_weight: float = 0.0, gc_mode: str = "signed",
                 lr: float = 2e-4) -> None:
        for name, c in (("critic_a", critic_a), ("critic_b", critic_b)):
            if not isinstance(c, PatchCritic):
                raise validate.ArgumentTypeError(f"{name} must be a PatchCritic, got {type(c).__name__}")
        self.critic_a, self.critic_b = critic_a, critic_b
        self.cycle_weight = validate.nonnegative("cycle_weight", cycle_weight)
        self.identity_weight = validate.nonnegative("identity_weight", identity_weight)
        self.gc_weight = validate.nonnegative("gc_weight", gc_weight)
        self.gc_mode = validate.one_of("gc_mode", gc_mode, ("signed", "magnitude"))
        params = list(critic_a.parameters()) + list(critic_b.parameters())
        self.opt = torch.optim.Adam(params, lr=validate.positive("lr", lr), betas=(0.5, 0.999))
        self.adv = _lsgan()
        self.terms: list[dict[str, float]] = []

    def __call__(self, model: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
        if not isinstance(model, CycleGAN):
            raise validate.ArgumentTypeError(f"model must be a CycleGAN, got {type(model).__name__}")
        a, b = _unpack(batch, device, "CycleGANStep")
        if a.shape[1:] != b.shape[1:]:
            raise ValueError(f"a and b must have the same image shape, got {tuple(a.shape)} and "
                             f"{tuple(b.shape)}")
        for c in (self.critic_a, self.critic_b):
            c.to(device).train()
        fake_b, fake_a = model.g_ab(a), model.g_ba(b)
        self.opt.zero_grad(set_to_none=True)
        d_loss = 0.5 * sum(self.adv(c(real), True, True) + self.adv(c(fake.detach()), False, True)
                           for c, real, fake in ((self.critic_b, b, fake_b),
                                                 (self.critic_a, a, fake_a)))
        d_loss.backward()
        self.opt.step()
        for c in (self.critic_a, self.critic_b):
            _set_grad(c, False)
        try:
            adv = (self.adv(self.critic_b(fake_b), True, False)
                   + self.adv(self.critic_a(fake_a), True, False))
        finally:
            for c in (self.critic_a, self.critic_b):
                _set_grad(c, True)
        cyc = cycle_loss(a, model.g_ba(fake_b)) + cycle_loss(b, model.g_ab(fake_a))
        loss = adv + self.cycle_weight * cyc
        terms = {"critic": float(d_loss.detach()), "adversarial": float(adv.detach()),
                 "cycle": float(cyc.detach())}
        if self.identity_weight > 0:
            idt = identity_loss(b, model.g_ab(b)) + identity_loss(a, model.g_ba(a))
            loss = loss + self.identity_weight * idt
            terms["identity"] = float(idt.detach())
        if self.gc_weight > 0:
            gc = (2 - gradient_correlation(a, fake_b, self.gc_mode).mean()
                  - gradient_correlation(b, fake_a, self.gc_mode).mean())
            loss = loss + self.gc_weight * gc
            terms["1 - GC"] = float(gc.detach())
        self.terms.append(terms)
        return loss
