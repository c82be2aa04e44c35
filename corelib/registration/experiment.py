"""Plumbing shared by the chapter's notebooks: the VoxelMorph-family loss, prediction, evaluation."""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from corelib import metrics, validate
from corelib.registration.classical import warp
from corelib.registration.learned import RegNet, one_hot, warp_tensor
from corelib.registration.losses import (gradient_smoothness, inverse_consistency, label_dice_loss, mse,
                                         ncc, negative_jacobian_penalty)

__all__ = ["registration_loss", "predict_fields", "evaluate_fields"]


def registration_loss(net: RegNet, moving: torch.Tensor, fixed: torch.Tensor,
                      moving_labels: torch.Tensor | None = None, fixed_labels: torch.Tensor | None = None,
                      similarity: str = "ncc", smooth: float = 1.0, dice: float = 0.0, fold: float = 0.0,
                      inverse: float = 0.0, num_classes: int = 3) -> torch.Tensor:
    """One loss for the VoxelMorph family.

    ``similarity`` (NCC or MSE) of warped moving and fixed [67][69] + ``smooth`` x gradient
    smoothness [69] + ``dice`` x Dice loss of warped one-hot labels (weak supervision [63][70]) +
    ``fold`` x negative-Jacobian penalty and ``inverse`` x inverse-consistency error (ICNet [72]; the
    network is also run on the swapped pair, whose similarity is added too).
    """
    similarity = validate.one_of("similarity", similarity, ("ncc", "mse"), case_insensitive=True)
    for name, w in (("smooth", smooth), ("dice", dice), ("fold", fold), ("inverse", inverse)):
        validate.nonnegative(name, w)
    validate.integer("num_classes", num_classes, min=2)
    sim_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = {"ncc": ncc, "mse": mse}[similarity]
    warped, u = net(moving, fixed)
    loss = sim_fn(warped, fixed) + smooth * gradient_smoothness(u)
    if dice > 0:
        if moving_labels is None or fixed_labels is None:
            raise ValueError("dice > 0 needs moving_labels and fixed_labels")
        warped_oh = warp_tensor(one_hot(moving_labels, num_classes), u)
        loss = loss + dice * label_dice_loss(warped_oh, one_hot(fixed_labels, num_classes))
    if fold > 0:
        loss = loss + fold * negative_jacobian_penalty(u)
    if inverse > 0:
        warped_b, v = net(fixed, moving)
        loss = loss + sim_fn(warped_b, moving) + smooth * gradient_smoothness(v)
        loss = loss + inverse * 0.5 * (inverse_consistency(u, v) + inverse_consistency(v, u))
        if fold > 0:
            loss = loss + fold * negative_jacobian_penalty(v)
    return loss


def _check_pairs(pairs: np.ndarray, n: int) -> None:
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0:
        raise ValueError(f"pairs must be a non-empty (P, 2) array of (moving, fixed) indices, got shape {pairs.shape}")
    if not np.issubdtype(pairs.dtype, np.integer):
        raise validate.ArgumentTypeError(f"pairs must hold integer indices, got dtype {pairs.dtype}")
    if pairs.min() < 0 or pairs.max() >= n:
        raise ValueError(f"pairs hold indices {pairs.min()}..{pairs.max()}, outside the {n} images 0..{n - 1}")


def predict_fields(net: RegNet, images: np.ndarray, pairs: np.ndarray, device: Any = "cpu",
                   batch: int = 64) -> tuple[np.ndarray, float]:
    """Fields ``(P, ndim, *shape)`` for (moving, fixed) index ``pairs``, and the seconds per pair."""
    validate.positive_int("batch", batch)
    pairs = np.asarray(pairs)
    _check_pairs(pairs, len(images))
    net = net.to(device).eval()
    x = torch.from_numpy(np.asarray(images, dtype=np.float32))[:, None]
    out = []
    with torch.no_grad():
        for i in range(2):  # first pass warms up (kernels, caches); the second is timed
            if device != "cpu" and torch.cuda.is_available():
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = [net.field(x[pairs[j:j + batch, 0]].to(device), x[pairs[j:j + batch, 1]].to(device)).cpu()
                   for j in range(0, len(pairs), batch)]
            seconds = (time.perf_counter() - t0) / len(pairs)
    return torch.cat(out).numpy(), seconds


def evaluate_fields(fields: Sequence[np.ndarray] | np.ndarray, labels: np.ndarray, pairs: np.ndarray,
                    label_ids: Sequence[int] = (1, 2)) -> dict[str, float]:
    """Dice per structure and mean, HD95 (mean over structures), folding % over all ``pairs``."""
    validate.distinct("label_ids", validate.nonempty("label_ids", label_ids))
    pairs = np.asarray(pairs)
    _check_pairs(pairs, len(labels))
    validate.same_length(("fields", "pairs"), fields, pairs)  # zip would silently drop the extra ones
    dices: dict[int, list[float]] = {k: [] for k in label_ids}
    hds, folds = [], []
    for u, (m, f) in zip(fields, pairs):
        warped = warp(labels[m], u, order=0)
        d = metrics.dice_per_class(warped, labels[f], labels=list(label_ids))
        for k in label_ids:
            dices[k].append(d[k])
        hds.append(np.mean([metrics.hd95(warped == k, labels[f] == k) if (warped == k).any() and
                            (labels[f] == k).any() else np.nan for k in label_ids]))
        folds.append(metrics.folding_fraction(u))
    out = {f"Dice {k}": float(np.nanmean(v)) for k, v in dices.items()}
    out["Dice mean"] = float(np.mean([out[f"Dice {k}"] for k in label_ids]))
    out["HD95 (px)"] = float(np.nanmean(hds))
    out["folding (%)"] = 100 * float(np.mean(folds))
    return out
