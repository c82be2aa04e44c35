"""Plumbing shared by the chapter's notebooks: the VoxelMorph-family loss, prediction, evaluation.

Per-pair scores (:func:`pair_scores`, :func:`inverse_errors`, :func:`pair_seconds`) feed the
claims' paired comparisons (``corelib.report.compare``); :func:`evaluate_fields` is their mean
for the tables, and :func:`dice_validation` the validation function of every training run.
"""
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

__all__ = ["registration_loss", "predict_fields", "evaluate_fields", "pair_scores", "dice_validation",
           "inverse_errors", "pair_seconds"]


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


def predict_fields(net: RegNet, images: np.ndarray, pairs: np.ndarray, device: Any = "cpu",
                   batch: int = 64) -> tuple[np.ndarray, float]:
    """Fields ``(P, ndim, *shape)`` for (moving, fixed) index ``pairs``, and the seconds per pair."""
    validate.positive_int("batch", batch)
    pairs = _check_pairs(pairs, len(images))
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


def _check_pairs(pairs: Any, n_images: int) -> np.ndarray:
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) == 0:
        raise ValueError(f"pairs must be a non-empty (P, 2) array of (moving, fixed) indices, got shape {p.shape}")
    if not np.issubdtype(p.dtype, np.integer):
        raise validate.ArgumentTypeError(f"pairs must hold integer indices, got dtype {p.dtype}")
    if p.min() < 0 or p.max() >= n_images:
        raise ValueError(f"pairs hold indices {p.min()}..{p.max()}, outside the {n_images} images 0..{n_images - 1}")
    return p


def pair_scores(fields: Sequence[np.ndarray] | np.ndarray, labels: np.ndarray, pairs: np.ndarray,
                label_ids: Sequence[int] = (1, 2)) -> dict[str, np.ndarray]:
    """One score per (moving, fixed) pair: ``{"Dice k", "Dice mean", "HD95 (px)", "folding (%)"}``.

    The moving labels are warped by each field (nearest neighbour) and compared with the fixed
    labels. ``Dice mean`` averages the structures present in the pair (a structure absent from
    both maps has no Dice); ``HD95 (px)`` averages the structures present in both; ``folding (%)``
    is the share of pixels with ``det J <= 0``. The arrays are in the order of ``pairs``, ready for
    a paired comparison (``report.compare``).
    """
    validate.distinct("label_ids", validate.nonempty("label_ids", label_ids))
    labels = np.asarray(labels)
    pairs = _check_pairs(pairs, len(labels))
    validate.same_length(("fields", "pairs"), fields, pairs)  # zip would silently drop the extra ones
    out: dict[str, list[float]] = {f"Dice {k}": [] for k in label_ids}
    out.update({"Dice mean": [], "HD95 (px)": [], "folding (%)": []})
    for u, (m, f) in zip(fields, pairs):
        warped = warp(labels[m], u, order=0)
        d = metrics.dice_per_class(warped, labels[f], labels=list(label_ids))
        for k in label_ids:
            out[f"Dice {k}"].append(d[k])
        present = [d[k] for k in label_ids if np.isfinite(d[k])]
        out["Dice mean"].append(float(np.mean(present)) if present else np.nan)
        hd = [metrics.hd95(warped == k, labels[f] == k) for k in label_ids
              if (warped == k).any() and (labels[f] == k).any()]
        out["HD95 (px)"].append(float(np.mean(hd)) if hd else np.nan)
        out["folding (%)"].append(100 * metrics.folding_fraction(u))
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def evaluate_fields(fields: Sequence[np.ndarray] | np.ndarray, labels: np.ndarray, pairs: np.ndarray,
                    label_ids: Sequence[int] = (1, 2)) -> dict[str, float]:
    """Means over ``pairs`` of :func:`pair_scores`: Dice per structure, ``Dice mean`` (mean of the
    structures' means), HD95 and folding %."""
    scores = pair_scores(fields, labels, pairs, label_ids)
    out = {f"Dice {k}": float(np.nanmean(scores[f"Dice {k}"])) for k in label_ids}
    out["Dice mean"] = float(np.mean([out[f"Dice {k}"] for k in label_ids]))
    out["HD95 (px)"] = float(np.nanmean(scores["HD95 (px)"]))
    out["folding (%)"] = float(np.mean(scores["folding (%)"]))
    return out


def dice_validation(images: np.ndarray, labels: np.ndarray, pairs: np.ndarray,
                    name: str = "val_dice") -> Callable[[RegNet], dict[str, float]]:
    """``val_fn`` for ``corelib.train.fit``: the mean Dice of warped labels on validation ``pairs``.

    Use with ``monitor="val_dice", mode="max"``; the fields are predicted on the model's device.
    The value is ``evaluate_fields(...)["Dice mean"]`` for structures 1 and 2, without the HD95.
    """
    pairs = _check_pairs(pairs, len(images))

    def val_fn(model: RegNet) -> dict[str, float]:
        fields, _ = predict_fields(model, images, pairs, device=next(model.parameters()).device)
        dices = [metrics.dice_per_class(warp(labels[m], u, order=0), labels[f], labels=[1, 2])
                 for u, (m, f) in zip(fields, pairs)]  # Dice only: HD95 would slow training
        return {name: float(np.mean([np.nanmean([d[k] for d in dices]) for k in (1, 2)]))}

    return val_fn


def inverse_errors(fields_ab: np.ndarray | torch.Tensor, fields_ba: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per pair, the root-mean-square distance (voxels) between ``x`` and its round trip.

    ``x -> x + u_ab(x) -> + u_ba(x + u_ab(x))`` comes back to ``x`` when the two fields are
    inverses; this is ``sqrt(mean_x |u_ab(x) + u_ba(x + u_ab(x))|^2)``, the Euclidean distance
    (unlike :func:`corelib.registration.inverse_consistency`, the training loss, which also
    divides by the number of dimensions). ``fields_*``: ``(P, ndim, *spatial)``.
    """
    u = torch.as_tensor(np.asarray(fields_ab) if not torch.is_tensor(fields_ab) else fields_ab)
    v = torch.as_tensor(np.asarray(fields_ba) if not torch.is_tensor(fields_ba) else fields_ba)
    if u.shape != v.shape:
        raise ValueError(f"fields_ab {tuple(u.shape)} and fields_ba {tuple(v.shape)} must match")
    u, v = u.double(), v.double()
    composed = u + warp_tensor(v, u, padding_mode="border")
    return composed.pow(2).sum(1).flatten(1).mean(1).sqrt().numpy()


def pair_seconds(net: RegNet, images: np.ndarray, pairs: np.ndarray, device: Any = "cpu",
                 repeats: int = 1) -> np.ndarray:
    """Seconds for each pair registered alone (a batch of one) after one warm-up pass.

    The per-pair timing that matches a classical method's (which registers one pair at a time).
    ``repeats``: each pair is timed that many times and the median kept, so that a pass of a few
    milliseconds is not decided by a moment of load on a shared machine.
    """
    pairs = _check_pairs(pairs, len(images))
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    net = net.to(device).eval()
    x = torch.from_numpy(np.asarray(images, dtype=np.float32))[:, None]
    sync = (lambda: torch.cuda.synchronize()) if torch.device(device).type == "cuda" else (lambda: None)
    out = []
    with torch.no_grad():
        net.field(x[pairs[:1, 0]].to(device), x[pairs[:1, 1]].to(device))  # warm-up
        for m, f in pairs:
            a, b = x[m:m + 1].to(device), x[f:f + 1].to(device)
            times = []
            for _ in range(int(repeats)):
                sync()
                t0 = time.perf_counter()
                net.field(a, b)
                sync()
                times.append(time.perf_counter() - t0)
            out.append(float(np.median(times)))
    return np.asarray(out)
