"""Spatial attention and Grad-CAM (survey §4.1, CL6 and interpretability).

``AttentionGate``: an attention branch computes a spatial map A in (0, 1) from the features and
re-weights them as F * (1 + A) (the residual form of the attention branch network), after the
attention-guided CNNs of [104]-[106]. ``gradcam``: Selvaraju et al. (2017) class activation maps.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from corelib import validate

__all__ = ["AttentionGate", "gradcam"]


class AttentionGate(nn.Module):
    """Attention branch: A = sigmoid(conv1x1(relu(conv3x3(F)))), output F * (1 + A); keeps ``last_map``.

    Written by hand after the attention branches of AG-CNN / LACNN [104]-[106].
    """

    def __init__(self, channels: int, hidden: int | None = None):
        super().__init__()
        validate.positive_int("channels", channels)
        if hidden is not None:
            validate.positive_int("hidden", hidden)
        hidden = hidden or max(4, channels // 4)
        self.branch = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.BatchNorm2d(hidden),
                                    nn.ReLU(inplace=True), nn.Conv2d(hidden, 1, 1))
        self.last_map: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.sigmoid(self.branch(x))
        self.last_map = a.detach()
        return x * (1 + a)


def gradcam(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor | None = None,
            layer: nn.Module | None = None) -> torch.Tensor:
    """Grad-CAM maps (N, H, W), on the CPU: ReLU(sum_k w_k A_k), w_k = mean gradient of the class score over A_k.

    Selvaraju et al. (2017). ``layer`` defaults to ``model.cam_layer``; ``target`` is a class index
    (or one per image; default: the predicted class). Maps are upsampled (bilinear) to the input
    size and scaled to [0, 1] per image (an all-zero map stays zero). The model is left unchanged.

    Written by hand because 4.1c teaches the method (hook, gradient, channel weights, ReLU). It
    agrees with MONAI's ``visualize.GradCAM`` given one class index and divided by its maximum
    (``tests/test_library_swaps.py``); MONAI's defaults differ: its normaliser maps (min, max) to
    (1, 0), and its default class (``logits[:, argmax]``) mixes the images of a batch.
    """
    layer = layer if layer is not None else getattr(model, "cam_layer", None)
    if layer is None:
        raise ValueError("give layer=, or a model with a cam_layer attribute")
    if x.ndim != 4:
        raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(x.shape)}")
    store: dict[str, torch.Tensor] = {}

    def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
        out.retain_grad()
        store["act"] = out

    handle = layer.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            dev = next(model.parameters()).device
            x = x.detach().to(dev).clone().requires_grad_(True)
            logits = model(x)
            if target is None:
                idx = logits.argmax(1)
            elif isinstance(target, int):
                idx = torch.full((x.shape[0],), target, dtype=torch.long)
            else:
                idx = torch.as_tensor(target, dtype=torch.long).reshape(-1)
            if idx.numel() != x.shape[0] or idx.min() < 0 or idx.max() >= logits.shape[1]:
                raise ValueError(f"target must be class indices in 0..{logits.shape[1] - 1}, one per image")
            score = logits.gather(1, idx.to(logits.device)[:, None]).sum()
            model.zero_grad(set_to_none=True)
            score.backward()
        act, grad = store["act"], store["act"].grad
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * act).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        peak = cam.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
        cam = torch.where(peak > 1e-12, cam / peak, torch.zeros_like(cam))
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return cam.detach().cpu()
