"""Classical contrast-synthesis baselines and the per-slice scores of a synthesised image.

- :func:`kmeans_tissues`: a 3-class k-means segmentation (CSF, GM, WM, ordered by a tissue order
  of mean intensities) of the brain pixels of a stack of slices (scikit-learn ``KMeans``);
- :class:`TissueLookup`: tissue-lookup synthesis: each tissue of a segmented source image painted
  with the target contrast's mean intensity of that tissue, learnt from a labelled training slab
  (the simplest form of the tissue-model synthesis that learned methods are compared with);
- :func:`histogram_match`: the source intensities mapped onto a target histogram inside the brain
  (scikit-image ``match_histograms``): unpaired, monotone;
- :func:`synthesis_scores`: MAE, PSNR and SSIM inside the brain mask and the gradient correlation
  (Hiasa et al. 2018 [54]) with the real image, one value per slice.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from corelib import validate

__all__ = ["kmeans_tissues", "TissueLookup", "histogram_match", "synthesis_scores",
           "gradient_correlation_slices", "tissue_ratios"]


def _stack(name: str, x: np.ndarray) -> np.ndarray:
    return validate.finite_array(name, x, ndim=3).astype(np.float32)


def _mask_stack(name: str, m: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    m = np.asarray(m, dtype=bool)
    if m.shape != shape:
        raise ValueError(f"{name} must have the image shape {shape}, got {m.shape}")
    if not m.any():
        raise ValueError(f"{name} is empty: no brain pixel")
    return m


def kmeans_tissues(images: np.ndarray, mask: np.ndarray, order: Sequence[int] = (1, 2, 3),
                   seed: int = 0) -> np.ndarray:
    """Label map (uint8, 0 outside ``mask``) of a 3-class k-means of the intensities in ``mask``.

    Clusters are sorted by mean intensity, darkest first, and given the labels ``order``: the
    default ``(1, 2, 3)`` is CSF, GM, WM for a T1 image (dark CSF, bright WM); ``(3, 2, 1)`` suits
    a T2 image (bright CSF).
    """
    from sklearn.cluster import KMeans

    x = _stack("images", images)
    m = _mask_stack("mask", mask, x.shape)
    order = validate.int_sizes("order", order, 3, min=1)
    km = KMeans(3, n_init=4, random_state=seed).fit(x[m][:, None])
    rank = np.argsort(km.cluster_centers_[:, 0])
    lut = np.zeros(3, np.uint8)
    lut[rank] = order
    out = np.zeros(x.shape, np.uint8)
    out[m] = lut[km.labels_]
    return out


class TissueLookup:
    """Tissue-lookup synthesis: a label map painted with one target intensity per tissue.

    ``fit(labels, target)`` learns the mean target intensity of every label > 0 from a labelled
    training slab (e.g. the atlas tissue map and the real T2); ``predict(labels)`` paints a label
    map (e.g. a k-means segmentation of a test T1) with them (0 outside the brain).
    """

    def __init__(self) -> None:
        self.means: dict[int, float] = {}

    def fit(self, labels: np.ndarray, target: np.ndarray) -> "TissueLookup":
        t = _stack("target", target)
        lab = np.asarray(labels)
        if lab.shape != t.shape:
            raise ValueError(f"labels {lab.shape} and target {t.shape} must have the same shape")
        values = [int(v) for v in np.unique(lab) if v > 0]
        if not values:
            raise ValueError("labels hold no tissue (no value > 0)")
        self.means = {v: float(t[lab == v].mean()) for v in values}
        return self

    def predict(self, labels: np.ndarray) -> np.ndarray:
        if not self.means:
            raise RuntimeError("TissueLookup.predict called before fit")
        lab = np.asarray(labels)
        unknown = sorted(set(int(v) for v in np.unique(lab)) - set(self.means) - {0})
        if unknown:
            raise ValueError(f"labels {unknown} were not seen in fit (known: {sorted(self.means)})")
        out = np.zeros(lab.shape, np.float32)
        for v, mean in self.means.items():
            out[lab == v] = mean
        return out


def histogram_match(source: np.ndarray, reference: np.ndarray, source_mask: np.ndarray,
                    reference_mask: np.ndarray) -> np.ndarray:
    """``source`` slices with their brain intensities mapped onto the histogram of ``reference``'s
    brain intensities (scikit-image ``match_histograms``); 0 outside ``source_mask``."""
    from skimage.exposure import match_histograms

    s, r = _stack("source", source), _stack("reference", reference)
    sm = _mask_stack("source_mask", source_mask, s.shape)
    rm = _mask_stack("reference_mask", reference_mask, r.shape)
    out = np.zeros_like(s)
    out[sm] = match_histograms(s[sm], r[rm])
    return out


def gradient_correlation_slices(pred: np.ndarray, ref: np.ndarray,
                                mode: str = "signed") -> np.ndarray:
    """:func:`corelib.synthesis.translate.gradient_correlation` of each slice pair, as NumPy."""
    from corelib.synthesis.translate import gradient_correlation

    p, r = _stack("pred", pred), _stack("ref", ref)
    validate.same_shape(("pred", "ref"), p, r)
    with torch.no_grad():
        return gradient_correlation(torch.as_tensor(p)[:, None], torch.as_tensor(r)[:, None],
                                    mode).numpy().astype(float)


def synthesis_scores(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray,
                     data_range: float = 1.0) -> dict[str, np.ndarray]:
    """Per-slice scores of synthesised slices ``pred`` against the real ones ``ref`` (n, H, W).

    ``MAE``, ``PSNR (dB)`` and ``SSIM`` count the pixels inside ``mask`` (n, H, W) only (both
    images are zeroed outside it first, so the background neither adds error nor helps);
    ``GC`` is the signed gradient correlation of the masked images, the boundary measure.
    """
    from corelib import metrics

    p, r = _stack("pred", pred), _stack("ref", ref)
    validate.same_shape(("pred", "ref"), p, r)
    m = _mask_stack("mask", mask, r.shape)
    if np.any(m.reshape(len(m), -1).sum(1) == 0):
        raise ValueError("every slice needs at least one brain pixel in mask")
    data_range = validate.positive("data_range", data_range)
    p, r = np.where(m, np.clip(p, 0, data_range), 0), np.where(m, r, 0)
    mae = np.array([np.abs(a[s] - b[s]).mean() for a, b, s in zip(p, r, m)])
    psnr = np.array([metrics.psnr(b, a, data_range, mask=s) for a, b, s in zip(p, r, m)])
    ssim = np.array([metrics.ssim(b, a, data_range, mask=s) for a, b, s in zip(p, r, m)])
    return {"MAE": mae, "PSNR (dB)": psnr, "SSIM": ssim,
            "GC": gradient_correlation_slices(p, r)}


def tissue_ratios(image: np.ndarray, labels: np.ndarray,
                  names: Mapping[int, str] | None = None) -> dict[str, float]:
    """Tissue contrast ratios ``CSF/WM`` and ``GM/WM`` of mean intensities (labels 1 CSF, 2 GM,
    3 WM unless ``names`` maps other values to "CSF", "GM", "WM")."""
    x = validate.finite_array("image", image)
    lab = np.asarray(labels)
    if lab.shape != x.shape:
        raise ValueError(f"labels {lab.shape} and image {x.shape} must have the same shape")
    names = dict(names or {1: "CSF", 2: "GM", 3: "WM"})
    value = {n: v for v, n in names.items()}
    means = {}
    for n in ("CSF", "GM", "WM"):
        if n not in value or not np.any(lab == value[n]):
            raise ValueError(f"no {n} pixel in labels")
        means[n] = float(x[lab == value[n]].mean())
    if not means["WM"] > 0:
        raise ValueError("the mean WM intensity must be positive for a ratio")
    return {"CSF/WM": means["CSF"] / means["WM"], "GM/WM": means["GM"] / means["WM"]}
