"""Saliency maps and the sanity checks that tell an explanation from an edge detector (survey §5, OL2).

The maps come from MONAI's ``monai.visualize`` where it has them (plain gradient, guided
backpropagation, Grad-CAM, occlusion sensitivity); integrated gradients are written out here
(Sundararajan, Taly, Yan, ICML 2017). The sanity check is the *cascading model randomisation test* of
Adebayo et al., "Sanity checks for saliency maps", NeurIPS 2018: re-initialise the layers from the
top down and measure how much each map changes (Spearman rank correlation with the trained model's
map). A map that barely changes when the weights become random explains the input, not the model.

Every map function takes ``model`` (in eval mode), images ``x`` of shape (N, C, H, W) and the class
``target`` (one index per image) and returns an array (N, H, W) of non-negative importance.
"""
from __future__ import annotations

import copy
import warnings
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from scipy import ndimage, stats
from torch import nn

from corelib import validate

SaliencyFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], np.ndarray]


def _inputs(model: nn.Module, x: torch.Tensor, target: torch.Tensor | Sequence[int]) -> torch.Tensor:
    if not isinstance(model, nn.Module):
        raise validate.ArgumentTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    validate.tensor("x", x, ndim=4)
    if not torch.isfinite(x).all():
        raise ValueError("x holds NaN or infinite values")
    t = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if len(t) != len(x):
        raise ValueError(f"target needs one class per image: {len(t)} targets for {len(x)} images")
    model.eval()
    return t


def _per_image(monai_cls, model: nn.Module, x: torch.Tensor, target) -> np.ndarray:
    t = _inputs(model, x, target)
    explain = monai_cls(model)
    maps = [explain(x[i:i + 1].clone(), index=int(t[i])).detach().abs().amax(1)[0] for i in range(len(x))]
    return torch.stack(maps).cpu().numpy()


def gradient(model: nn.Module, x: torch.Tensor, target) -> np.ndarray:
    """|d score / d input| (Simonyan et al. 2014), MONAI ``VanillaGrad``, maximum over channels."""
    from monai.visualize import VanillaGrad

    return _per_image(VanillaGrad, model, x, target)


class _GuidedReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad.clamp_min(0) * (x > 0)


class _GuidedReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _GuidedReLUFunction.apply(x)


@contextmanager
def _guided_relus(model: nn.Module) -> Iterator[int]:
    """Swap every ``nn.ReLU`` module (found by type) for the guided one; restore them afterwards."""
    swapped = [(parent, name, child) for parent in model.modules()
               for name, child in parent.named_children() if isinstance(child, nn.ReLU)]
    for parent, name, _ in swapped:
        setattr(parent, name, _GuidedReLU())
    try:
        yield len(swapped)
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


def guided_backprop(model: nn.Module, x: torch.Tensor, target) -> np.ndarray:
    """Guided backpropagation (Springenberg et al. 2015): only positive gradients pass each ReLU
    backwards. Adebayo et al. (2018) found it nearly independent of the weights.

    Written here because MONAI's ``GuidedBackpropGrad`` swaps modules by *name* ("relu"), and MONAI's
    own ResNet names its ReLUs ``act``: there it silently returns the plain gradient. This version
    swaps every ``nn.ReLU`` by type and refuses a model without one.
    """
    from monai.visualize import VanillaGrad

    with _guided_relus(model) as n:
        if n == 0:
            raise ValueError("the model has no nn.ReLU module: guided backpropagation would equal "
                             "the plain gradient")
        return _per_image(VanillaGrad, model, x, target)


def integrated_gradients(model: nn.Module, x: torch.Tensor, target, steps: int = 32,
                         baseline: torch.Tensor | None = None) -> np.ndarray:
    """Integrated gradients (Sundararajan et al. 2017): (x − x0) times the mean gradient along the
    straight path from the baseline x0 (default: zeros) to x, by the midpoint rule with ``steps`` points."""
    t = _inputs(model, x, target)
    validate.positive_int("steps", steps)
    x0 = torch.zeros_like(x) if baseline is None else baseline.expand_as(x)
    alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps
    out = []
    for i in range(len(x)):
        path = (x0[i] + alphas.view(-1, 1, 1, 1) * (x[i] - x0[i])).requires_grad_(True)
        score = model(path)[:, int(t[i])].sum()
        (grad,) = torch.autograd.grad(score, path)
        out.append(((x[i] - x0[i]) * grad.mean(0)).sum(0).abs())
    return torch.stack(out).detach().cpu().numpy()


def grad_cam(model: nn.Module, x: torch.Tensor, target, layer: str) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) at the named layer, MONAI ``GradCAM``, upsampled to the input."""
    from monai.visualize import GradCAM

    t = _inputs(model, x, target)
    names = dict(model.named_modules())
    if layer not in names:
        raise ValueError(f"layer {layer!r} is not a module of the model; e.g. {list(names)[-3:]}")
    cam = GradCAM(model, target_layers=layer)
    maps = [cam(x[i:i + 1].clone(), class_idx=int(t[i]))[0, 0] for i in range(len(x))]
    return torch.stack(maps).detach().cpu().numpy()


def occlusion(model: nn.Module, x: torch.Tensor, target, mask_size: int = 5,
              outputs_probabilities: bool = False) -> np.ndarray:
    """Occlusion sensitivity (Zeiler and Fergus 2014), MONAI ``OcclusionSensitivity``: the drop of the
    target's probability when a patch around each pixel is blurred out (negative drops count as 0).

    The model's outputs are logits (softmax applied here) unless ``outputs_probabilities``.
    """
    from monai.visualize import OcclusionSensitivity

    t = _inputs(model, x, target)
    validate.positive_int("mask_size", mask_size)
    occ = OcclusionSensitivity(model, mask_size=mask_size, n_batch=64, verbose=False,
                               activate=not outputs_probabilities)
    with torch.no_grad():
        p = model(x) if outputs_probabilities else torch.softmax(model(x), 1)
    maps = []
    for i in range(len(x)):
        with warnings.catch_warnings():  # MONAI 1.6.1 indexes with a list (a torch deprecation)
            warnings.filterwarnings("ignore", "Using a non-tuple sequence", UserWarning)
            occluded, _ = occ(x[i:i + 1])
        maps.append((p[i, t[i]] - occluded[0, t[i]]).clamp_min(0))
    return torch.stack(maps).detach().cpu().numpy()


def _reset(module: nn.Module, generator: torch.Generator) -> None:
    for m in module.modules():
        if hasattr(m, "reset_parameters"):
            with torch.random.fork_rng():
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
                m.reset_parameters()


def cascading_randomization(model: nn.Module, layers: Sequence[str],
                            seed: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """Yield ``(layer, model)`` with that layer and every one before it in ``layers`` re-initialised.

    ``layers`` lists module names from the output towards the input (Adebayo et al. 2018). The model
    passed in is not changed: the randomised models are copies.
    """
    names = dict(model.named_modules())
    missing = [n for n in layers if n not in names]
    if missing:
        raise ValueError(f"layers {missing} are not modules of the model")
    randomised = copy.deepcopy(model).eval()
    g = torch.Generator().manual_seed(seed)
    current = dict(randomised.named_modules())
    for name in layers:
        _reset(current[name], g)
        yield name, randomised


def rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of two stacks of maps (N, H, W), one value per image.

    A constant map (e.g. a Grad-CAM that is zero everywhere) has no ranking left to share: its
    correlation is 0, not undefined.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"need two stacks of maps (N, H, W) of one shape, got {a.shape} and {b.shape}")
    out = np.zeros(len(a))
    for i, (p, q) in enumerate(zip(a, b)):
        if np.ptp(p) > 0 and np.ptp(q) > 0:  # a constant map has no ranking
            out[i] = stats.spearmanr(p.ravel(), q.ravel()).statistic
    return out


def edge_map(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of each image (N, C, H, W) -> (N, H, W): the 'explanation' that
    needs no model, against which the maps are compared."""
    a = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if a.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {a.shape}")
    img = a.mean(1)
    return np.hypot(ndimage.sobel(img, axis=1), ndimage.sobel(img, axis=2))


def mass_inside(saliency: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of each map's total importance that falls inside ``mask`` (both (N, H, W)), per image."""
    s, m = np.abs(np.asarray(saliency, dtype=np.float64)), np.asarray(mask, dtype=bool)
    if s.shape != m.shape:
        raise ValueError(f"saliency {s.shape} and mask {m.shape} differ in shape")
    total = s.reshape(len(s), -1).sum(1)
    return np.where(total > 0, (s * m).reshape(len(s), -1).sum(1) / np.maximum(total, 1e-300), np.nan)


class RegionScore(nn.Module):
    """A segmentation network turned into a one-output 'classifier' for the saliency methods: the
    mean foreground probability (classes 1..K together) inside a fixed region of each image."""

    def __init__(self, net: nn.Module, region: torch.Tensor) -> None:
        super().__init__()
        validate.tensor("region", region, ndim=4)
        self.net = net
        self.register_buffer("region", region.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != self.region.shape[-2:]:
            raise ValueError(f"x {tuple(x.shape)} and region {tuple(self.region.shape)} differ in size")
        fg = 1 - torch.softmax(self.net(x), 1)[:, :1]
        region = self.region.expand(len(x), -1, -1, -1) if len(self.region) == 1 else self.region
        return (fg * region).sum((2, 3)) / region.sum((2, 3)).clamp_min(1)
