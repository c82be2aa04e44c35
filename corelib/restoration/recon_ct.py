"""Sparse-view CT reconstruction (survey §2.1.3): the forward operator, classical and learned
reconstructions.

The operator is deepinv's parallel-beam :class:`deepinv.physics.Tomography` (Radon transform with
an exact adjoint computed by autograd, ``circle=True``, normalised to unit operator norm); corelib
adds only what deepinv lacks:

- :func:`tomography`: the operator for ``n_views`` angles over 180 degrees on a ``size`` x
  ``size`` grid;
- :func:`hu_to_x` / :func:`x_to_hu`: images in units of the attenuation of water
  (``x = mu / mu_water = 1 + HU / 1000``: air 0, water 1, dense bone about 2);
- :func:`simulate_sinogram`: Poisson photon counts ``~ Poisson(I0 exp(-p))`` on the line
  integrals ``p`` (Beer-Lambert), then ``-log(counts / I0)`` in the operator's units;
- :func:`fbp`: filtered back-projection (ramp filter, deepinv's ``A_dagger(fbp=True)``);
- :func:`tv_pdhg`: total-variation regularised least squares with a non-negativity constraint,
  solved by the primal-dual hybrid gradient method (Chambolle & Pock 2011), with deepinv's
  :class:`~deepinv.optim.TVPrior` finite differences (:func:`tv_objective` its objective);
- :class:`LearnedPrimalDual`: Adler & Öktem 2018 (RC2), unrolled primal-dual iterations with small
  CNNs in the image and in the sinogram domain and the operator and its adjoint inside;
- :class:`FBPUNet`: FBP followed by a residual U-Net (post-processing; Jin et al. 2017,
  FBPConvNet; Lee et al. 2017 for the residual, RC5);
- :class:`DualDomainNet`: a residual CNN on the sinogram, FBP, a residual CNN on the image (the
  dual-domain idea of Yin et al. 2019, DN7, in 2D);
- :func:`sinogram_batch_fn`: a :func:`corelib.train.fit` batch function that simulates a fresh
  noisy sinogram of each clean training image at every step;
- :func:`reconstruct`: any of the models above applied to a stack of sinograms.

Every model maps a sinogram ``y`` (B, 1, detectors, views) to an image ``x`` (B, 1, H, W).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from corelib import validate
from corelib.restoration.lowdose import MU_WATER

__all__ = ["tomography", "hu_to_x", "x_to_hu", "simulate_sinogram", "fbp", "tv_objective",
           "tv_pdhg", "LearnedPrimalDual", "FBPUNet", "DualDomainNet", "sinogram_batch_fn",
           "reconstruct", "count_parameters"]


def tomography(n_views: int, size: int, device: torch.device | str = "cpu") -> Any:
    """deepinv's parallel-beam :class:`~deepinv.physics.Tomography` with ``n_views`` angles
    evenly spaced over 180 degrees, on a ``size`` x ``size`` grid.

    ``circle=True`` (only the inscribed disc is imaged), ``normalize=True`` (``A`` has unit
    operator norm; ``operator_norm`` holds the factor divided out) and the exact adjoint
    (``adjoint_via_backprop=True``). The sinogram has shape (B, 1, ``size``, ``n_views``).
    """
    from deepinv.physics import Tomography

    n_views = validate.integer("n_views", n_views, min=2)
    size = validate.integer("size", size, min=8)
    return Tomography(angles=n_views, img_width=size, circle=True, normalize=True,
                      adjoint_via_backprop=True, device=device)


def hu_to_x(hu: np.ndarray, mu_water: float = MU_WATER) -> np.ndarray:
    """Hounsfield units to attenuation relative to water, ``x = 1 + HU / 1000``, clipped at 0.

    ``mu_water`` is not needed for ``x`` itself; it is validated so that the pair
    :func:`hu_to_x` / :func:`x_to_hu` reads like :func:`corelib.restoration.lowdose.hu_to_mu`.
    """
    validate.positive("mu_water", mu_water)
    hu = validate.finite_array("hu", hu)
    return np.clip(1.0 + hu.astype(np.float32) / 1000.0, 0.0, None)


def x_to_hu(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hu_to_x`: ``HU = 1000 (x - 1)``."""
    x = validate.array("x", x)
    return (1000.0 * (x.astype(np.float32) - 1.0)).astype(np.float32)


def _check_physics(physics: Any) -> Any:
    if not (hasattr(physics, "A") and hasattr(physics, "A_adjoint")
            and hasattr(physics, "img_width")):
        raise validate.ArgumentTypeError(
            f"physics must be a deepinv Tomography operator (from tomography()), got "
            f"{type(physics).__name__}")
    return physics


def _check_image(name: str, x: Any, size: int) -> torch.Tensor:
    validate.tensor(name, x, ndim=4, channels=1, finite=True)
    if tuple(x.shape[-2:]) != (size, size):
        raise ValueError(f"{name} must be (B, 1, {size}, {size}) for this operator, "
                         f"got shape {tuple(x.shape)}")
    return x


def _check_sinogram(name: str, y: Any, physics: Any) -> torch.Tensor:
    validate.tensor(name, y, ndim=4, channels=1, finite=True)
    want = (physics.img_width, len(physics.angles))
    if tuple(y.shape[-2:]) != want:
        raise ValueError(f"{name} must be (B, 1, {want[0]}, {want[1]}) (detectors, views) for "
                         f"this operator, got shape {tuple(y.shape)}")
    return y


def simulate_sinogram(physics: Any, x: torch.Tensor, i0: float, pixel_cm: float,
                      generator: torch.Generator | None = None,
                      mu_water: float = MU_WATER) -> torch.Tensor:
    """A noisy sinogram of the images ``x`` (B, 1, H, W; attenuation relative to water), in the
    units of ``physics.A`` (noiseless: ``physics.A(x)``).

    Line integrals ``p = R(mu) * pixel_cm`` with ``mu = mu_water * x`` and ``R`` the unnormalised
    Radon transform (pixel sums); counts ``~ Poisson(i0 * exp(-p))`` (at least 1, as the log step
    of a detector needs), ``p_noisy = -log(counts / i0)``, divided back to the operator's units.
    ``i0`` is the number of incident photons per ray (the dose per view).
    """
    physics = _check_physics(physics)
    x = _check_image("x", x, physics.img_width)
    i0 = validate.positive("i0", i0)
    pixel_cm = validate.positive("pixel_cm", pixel_cm)
    validate.positive("mu_water", mu_water)
    if not np.isfinite(i0):
        raise ValueError(f"i0 must be finite, got {i0}")
    scale = float(physics.operator_norm) * mu_water * pixel_cm  # operator units -> line integral
    with torch.no_grad():
        p = physics.A(x) * scale
        counts = torch.poisson(i0 * torch.exp(-p), generator=generator).clamp_min(1.0)
        return -torch.log(counts / i0) / scale


def fbp(physics: Any, y: torch.Tensor) -> torch.Tensor:
    """Filtered back-projection (ramp filter) of ``y`` with deepinv's ``A_dagger(y, fbp=True)``."""
    physics = _check_physics(physics)
    y = _check_sinogram("y", y, physics)
    return physics.A_dagger(y, fbp=True)


def tv_objective(physics: Any, x: torch.Tensor, y: torch.Tensor,
                 lam: float | torch.Tensor) -> torch.Tensor:
    """Per-image value of ``1/2 ||A x - y||^2 + lam * TV(x)`` (isotropic TV with deepinv's
    finite differences), shape (B,)."""
    from deepinv.optim import TVPrior

    data_term = 0.5 * (physics.A(x) - y).pow(2).flatten(1).sum(1)
    tv = TVPrior().nabla(x).pow(2).sum(-1).sqrt().flatten(1).sum(1)
    lam = lam.flatten() if isinstance(lam, torch.Tensor) else lam
    return data_term + lam * tv


def tv_pdhg(physics: Any, y: torch.Tensor, lam: float | torch.Tensor, n_iter: int = 300,
            x0: torch.Tensor | None = None, nonneg: bool = True, ratio: float = 1.0,
            every: int = 10) -> tuple[torch.Tensor, np.ndarray]:
    """TV-regularised reconstruction:
    ``argmin_x 1/2 ||A x - y||^2 + lam * TV(x)`` (isotropic TV), with ``x >= 0`` if ``nonneg``.

    Primal-dual hybrid gradient (Chambolle & Pock 2011, "A first-order primal-dual algorithm for
    convex problems with applications to imaging", J. Math. Imaging Vis. 40) on
    ``K = [A; grad / c]`` with ``c = sqrt(8)``, i.e. ``lam * TV(x)`` written as
    ``(lam c) ||(grad / c) x||_{2,1}``, so that both blocks have norm at most 1 (``||A|| = 1``
    for :func:`tomography`, ``||grad||^2 <= 8``) and ``||K||^2 <= 2``. Step sizes
    ``tau = sqrt(ratio / 2)`` (primal) and ``sigma = 1 / (2 tau)`` (dual), so
    ``tau sigma ||K||^2 <= 1``; ``ratio`` (= tau / sigma) trades primal against dual progress and
    does not change the solution, only the speed. The finite differences are deepinv's
    ``TVPrior.nabla`` and its adjoint. ``lam`` is a number or a (B, 1, 1, 1) tensor (one weight
    per image, e.g. to try a grid at once).

    Returns the image and the per-image objective (:func:`tv_objective`) after every ``every``
    iterations, shape (n_iter // every, B), to check convergence.
    """
    physics = _check_physics(physics)
    y = _check_sinogram("y", y, physics)
    n_iter = validate.positive_int("n_iter", n_iter)
    every = validate.positive_int("every", every)
    if isinstance(lam, torch.Tensor):
        if lam.ndim != 4 or lam.shape[0] not in (1, y.shape[0]) or lam.shape[1:] != (1, 1, 1):
            raise ValueError(f"lam must be a number or a (B, 1, 1, 1) tensor with B = "
                             f"{y.shape[0]}, got shape {tuple(lam.shape)}")
        if not bool(torch.isfinite(lam).all()) or bool((lam < 0).any()):
            raise ValueError("lam must be finite and non-negative")
        lam = lam.to(y)
    else:
        lam = validate.nonnegative("lam", lam)
        if not np.isfinite(lam):
            raise ValueError(f"lam must be finite, got {lam}")
    ratio = validate.positive("ratio", ratio)
    if not np.isfinite(ratio):
        raise ValueError(f"ratio must be finite, got {ratio}")
    from deepinv.optim import TVPrior

    tv = TVPrior()
    c = float(np.sqrt(8.0))
    tau = float(np.sqrt(ratio / 2.0))
    sigma = 1.0 / (2.0 * tau)
    lam_q = lam.unsqueeze(-1) if isinstance(lam, torch.Tensor) else lam  # (B, 1, 1, 1, 1)
    with torch.no_grad():
        x = fbp(physics, y).clamp_min(0.0) if x0 is None else _check_image(
            "x0", x0, physics.img_width).clone()
        x_bar = x.clone()
        p = torch.zeros_like(y)
        q = torch.zeros_like(tv.nabla(x))
        radius = torch.clamp(torch.as_tensor(lam_q * c), min=1e-12)
        objective = []
        for i in range(1, n_iter + 1):
            p = (p + sigma * (physics.A(x_bar) - y)) / (1.0 + sigma)
            q = q + (sigma / c) * tv.nabla(x_bar)
            norm = q.pow(2).sum(-1, keepdim=True).sqrt()  # isotropic: per-pixel 2-norm
            q = q / torch.clamp(norm / radius, min=1.0)
            x_new = x - tau * (physics.A_adjoint(p) + tv.nabla_adjoint(q) / c)
            if nonneg:
                x_new = x_new.clamp_min(0.0)
            x_bar = 2.0 * x_new - x
            x = x_new
            if i % every == 0:
                objective.append(tv_objective(physics, x, y, lam).cpu().numpy())
    return x, np.array(objective).reshape(-1, len(y))


def _cnn(c_in: int, c_out: int, width: int, depth: int = 3) -> nn.Sequential:
    """``depth`` 3x3 convolutions (``c_in -> width -> ... -> c_out``) with PReLU between them."""
    layers: list[nn.Module] = []
    channels = [c_in] + [width] * (depth - 1) + [c_out]
    for i, (a, b) in enumerate(zip(channels[:-1], channels[1:])):
        layers.append(nn.Conv2d(a, b, 3, padding=1))
        if i < depth - 1:
            layers.append(nn.PReLU(b))
    return nn.Sequential(*layers)


class _WithPhysics(nn.Module):
    """Keeps the deepinv operator out of ``parameters()`` and ``state_dict()`` (it has buffers,
    no weights) while moving it with ``.to(device)``."""

    def __init__(self, physics: Any):
        super().__init__()
        self._physics = [_check_physics(physics)]

    @property
    def physics(self) -> Any:
        return self._physics[0]

    def _apply(self, fn: Callable, *args: Any, **kwargs: Any) -> "_WithPhysics":
        self._physics[0] = self._physics[0]._apply(fn, *args, **kwargs)
        if hasattr(self._physics[0], "_auto_grad_adjoint_fn"):
            self._physics[0]._auto_grad_adjoint_fn = None  # cached on the old device
        return super()._apply(fn, *args, **kwargs)


class LearnedPrimalDual(_WithPhysics):
    """Learned primal-dual reconstruction (Adler & Öktem 2018, "Learned primal-dual
    reconstruction", IEEE Trans. Med. Imaging 37(6):1322-1332), survey RC2 [20].

    ``n_iter`` unrolled iterations, each with its own weights:

    - dual step: ``h <- h + Gamma_i(h, A f^(1), y)`` (a CNN on the sinogram domain, ``n_dual``
      memory channels);
    - primal step: ``f <- f + Lambda_i(f, A^T h^(0))`` (a CNN on the image, ``n_primal``
      channels).

    ``A`` and ``A^T`` are the deepinv operator and its exact adjoint: the network sees the
    measurements at every iteration. Each CNN has three 3x3 convolutions (``width`` channels,
    PReLU), as in the paper (which uses ``n_iter=10``, ``width=32``, ``n_primal=n_dual=5``).
    ``init="zero"`` starts from zeros as the paper does; ``init="fbp"`` puts the FBP into every
    primal channel (a common variant that trains faster on a small budget). The output is the
    first primal channel.
    """

    def __init__(self, physics: Any, n_iter: int = 10, n_primal: int = 5, n_dual: int = 5,
                 width: int = 32, init: str = "fbp"):
        super().__init__(physics)
        self.n_iter = validate.positive_int("n_iter", n_iter)
        self.n_primal = validate.positive_int("n_primal", n_primal)
        self.n_dual = validate.positive_int("n_dual", n_dual)
        width = validate.positive_int("width", width)
        self.init = validate.one_of("init", init, ("fbp", "zero"))
        self.dual = nn.ModuleList(_cnn(self.n_dual + 2, self.n_dual, width)
                                  for _ in range(self.n_iter))
        self.primal = nn.ModuleList(_cnn(self.n_primal + 1, self.n_primal, width)
                                    for _ in range(self.n_iter))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        ph = self.physics
        y = _check_sinogram("y", y, ph)
        b = y.shape[0]
        h = y.new_zeros(b, self.n_dual, *y.shape[-2:])
        if self.init == "fbp":
            f = ph.A_dagger(y, fbp=True).repeat(1, self.n_primal, 1, 1)
        else:
            f = y.new_zeros(b, self.n_primal, ph.img_width, ph.img_width)
        for dual, primal in zip(self.dual, self.primal):
            h = h + dual(torch.cat([h, ph.A(f[:, 1:2] if self.n_primal > 1 else f), y], 1))
            f = f + primal(torch.cat([f, ph.A_adjoint(h[:, :1])], 1))
        return f[:, :1]


class FBPUNet(_WithPhysics):
    """FBP followed by a residual U-Net: ``x = FBP(y) + UNet(FBP(y))`` (post-processing).

    FBPConvNet (Jin et al. 2017, "Deep convolutional neural network for inverse problems in
    imaging", IEEE Trans. Image Process. 26(9)) with the residual learning of the artefact of
    Lee et al. 2017 (survey RC5 [23]). The U-Net is MONAI's ``UNet`` (stride-2 convolutions,
    ``num_res_units`` residual units, batch norm), ``channels`` per level, and a 1x1
    convolution to one channel that starts at zero, so that the model starts as the FBP (as
    the residual networks of the low-dose notebook start as the identity).
    """

    def __init__(self, physics: Any, channels: Sequence[int] = (16, 32, 64),
                 num_res_units: int = 1):
        from monai.networks.nets import UNet

        super().__init__(physics)
        channels = validate.int_sizes("channels", channels, len(channels), min=1)
        if len(channels) < 2:
            raise ValueError(f"channels needs at least two levels, got {channels}")
        factor = 2 ** (len(channels) - 1)
        if self.physics.img_width % factor:
            raise ValueError(f"image size {self.physics.img_width} must be divisible by "
                             f"{factor} for {len(channels)} U-Net levels")
        num_res_units = validate.integer("num_res_units", num_res_units, min=0)
        self.unet = UNet(2, 1, channels[0], channels=channels,
                         strides=(2,) * (len(channels) - 1), num_res_units=num_res_units,
                         norm="batch")
        self.head = nn.Conv2d(channels[0], 1, 1)
        nn.init.zeros_(self.head.weight)  # the residual starts at zero: the model starts as FBP
        nn.init.zeros_(self.head.bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        x = self.physics.A_dagger(_check_sinogram("y", y, self.physics), fbp=True)
        return x + self.head(self.unet(x))


class DualDomainNet(_WithPhysics):
    """Dual-domain reconstruction: ``x = g(FBP(y + s(y)))`` with ``g(z) = z + G(z)``.

    A residual CNN ``s`` restores the sinogram, FBP (differentiable) maps it to the image and a
    residual CNN ``G`` restores the image; both are trained end to end through the FBP. This is
    the idea of Yin et al. 2019 ("Domain progressive 3D residual convolution network to improve
    low-dose CT imaging", IEEE Trans. Med. Imaging 38(12), survey DN7 [7]) in 2D and in one
    pass: they train the two 3D networks progressively. Each CNN has ``depth`` 3x3 convolutions
    of ``width`` channels.
    """

    def __init__(self, physics: Any, width: int = 32, depth: int = 5):
        super().__init__(physics)
        width = validate.positive_int("width", width)
        depth = validate.integer("depth", depth, min=2)
        self.sino_net = _cnn(1, 1, width, depth)
        self.image_net = _cnn(1, 1, width, depth)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        y = _check_sinogram("y", y, self.physics)
        x = self.physics.A_dagger(y + self.sino_net(y), fbp=True)
        return x + self.image_net(x)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model`` (the operator has none)."""
    if not isinstance(model, nn.Module):
        raise validate.ArgumentTypeError(
            f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def sinogram_batch_fn(physics: Any, i0: float, pixel_cm: float, seed: int = 0,
                      loss: Callable[..., torch.Tensor] = nn.functional.mse_loss
                      ) -> Callable[[nn.Module, Any, Any], torch.Tensor]:
    """A :func:`corelib.train.fit` batch function: each batch of clean images ``x`` (or a pair
    whose first item is ``x``, e.g. from :class:`~corelib.restoration.evaluate.PairPatches`)
    gets a fresh noisy sinogram from :func:`simulate_sinogram` (seeded stream), and the loss is
    ``loss(model(y), x)``. Fresh noise at every step is the augmentation."""
    _check_physics(physics)
    i0, pixel_cm = validate.positive("i0", i0), validate.positive("pixel_cm", pixel_cm)
    seed = validate.integer("seed", seed, min=0)
    streams: dict[str, torch.Generator] = {}

    def batch_fn(model: nn.Module, batch: Any, device: Any) -> torch.Tensor:
        x = (batch[0] if isinstance(batch, (tuple, list)) else batch).to(device)
        key = str(x.device)  # one seeded stream on the device that simulates
        if key not in streams:
            streams[key] = torch.Generator(device=x.device).manual_seed(seed)
        y = simulate_sinogram(physics, x, i0, pixel_cm, generator=streams[key])
        return loss(model(y), x)

    return batch_fn


@torch.no_grad()
def reconstruct(model: nn.Module | Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor,
                batch: int = 8) -> np.ndarray:
    """``model`` (a module in eval mode, or any callable ``y -> x``) applied to the sinograms
    ``y`` (N, 1, detectors, views) in batches; returns the images (N, H, W) as float32 NumPy."""
    validate.tensor("y", y, ndim=4, channels=1, finite=True)
    batch = validate.positive_int("batch", batch)
    if isinstance(model, nn.Module):
        model.eval()
        param = next(model.parameters(), None)
        device = param.device if param is not None else y.device
    elif callable(model):
        device = y.device
    else:
        raise validate.ArgumentTypeError(f"model must be callable, got {type(model).__name__}")
    out = [model(y[i:i + batch].to(device)).float().cpu() for i in range(0, len(y), batch)]
    return torch.cat(out)[:, 0].numpy()
