"""Training patches, slice-wise prediction and per-slice scores shared by the restoration notebooks.

- :class:`PairPatches`: endless random aligned crops (with flips) from two stacks of slices, the
  input and the target of a denoiser (target clean, or a second noisy realisation for Noise2Noise);
- :func:`predict_slices`: a 2D network applied to a stack of slices in small batches;
- :func:`slice_scores`: PSNR and SSIM per slice (one value per test case, what
  :func:`corelib.report.compare` needs), optionally clipped and restricted to a field of view;
- :func:`nlm_slices` and :func:`bm3d_slices`: the classical non-local means (scikit-image) and
  BM3D (the reference ``bm3d`` package) baselines applied slice by slice;
- :func:`tune_on_validation`: a classical filter's parameter chosen from a small grid by its
  score on validation slices;
- :func:`scale_intensity` and :func:`axial_slices`: MR intensities scaled by a high percentile,
  and a stack of axial slices cut from an (x, y, z) volume.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from corelib import validate

__all__ = ["PairPatches", "predict_slices", "slice_scores", "nlm_slices", "bm3d_slices",
           "tune_on_validation", "scale_intensity", "axial_slices"]


def _stack(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    if a.ndim != 3:
        raise ValueError(f"{name} must be a stack of slices (n, H, W), got shape {a.shape}")
    return a


class PairPatches(torch.utils.data.IterableDataset):
    """Endless random aligned ``patch`` x ``patch`` crops (with random flips) from two stacks.

    ``a`` (the network input) and ``b`` (its target) are (n, H, W) arrays of the same shape; both
    are divided by ``scale`` (e.g. 1000 for HU). Each item is ``(a_crop, b_crop)``, shaped
    (1, patch, patch). The stream is seeded: the same ``seed`` gives the same crops.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, patch: int, seed: int = 0,
                 scale: float = 1.0) -> None:
        a, b = _stack(a, "a"), _stack(b, "b")
        if a.shape != b.shape:
            raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
        if isinstance(patch, bool) or not isinstance(patch, (int, np.integer)) or patch < 1 \
                or patch > min(a.shape[1:]):
            raise ValueError(f"patch must be an integer in [1, {min(a.shape[1:])}], got {patch!r}")
        scale = validate.positive("scale", scale)
        self.a = torch.as_tensor(a / scale)[:, None]
        self.b = torch.as_tensor(b / scale)[:, None]
        self.patch, self.seed = int(patch), int(seed)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed)
        n, _, h, w = self.a.shape
        p = self.patch
        while True:
            i = int(torch.randint(n, (1,), generator=g))
            r, c = (int(torch.randint(s - p + 1, (1,), generator=g)) for s in (h, w))
            flip = [d for d in (-1, -2) if torch.rand(1, generator=g) < 0.5]
            yield (self.a[i, :, r:r + p, c:c + p].flip(flip),
                   self.b[i, :, r:r + p, c:c + p].flip(flip))


@torch.no_grad()
def predict_slices(model: torch.nn.Module, x: np.ndarray, batch: int = 8, scale: float = 1.0,
                   device: torch.device | str | None = None) -> np.ndarray:
    """``model`` applied to each slice of ``x`` (n, H, W) in batches; returns (n, H', W') float32.

    The network sees ``x / scale`` and its output is multiplied back by ``scale`` (so a network
    trained on HU / 1000 returns HU). The model is put in eval mode; ``device`` defaults to the
    device of its parameters.
    """
    x = _stack(x, "x")
    scale = validate.positive("scale", scale)
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    model.eval()
    out = [model(torch.as_tensor(x[i:i + batch] / scale)[:, None].to(device)).float().cpu().numpy()
           for i in range(0, len(x), batch)]
    return np.concatenate(out)[:, 0] * scale


def slice_scores(pred: np.ndarray, ref: np.ndarray, data_range: float,
                 clip: tuple[float, float] | None = None,
                 mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """PSNR (dB) and SSIM of each slice of ``pred`` against ``ref``: ``{"PSNR (dB)": (n,), "SSIM": (n,)}``.

    ``clip=(lo, hi)`` clips both images first (e.g. a HU window); ``mask`` (H, W) keeps a field of
    view: only the pixels inside it count (PSNR: the mean squared error over them; SSIM: the mean
    of the local SSIM map over them), so pixels outside neither add error nor dilute the mean.
    """
    from corelib import metrics

    p, r = _stack(pred, "pred"), _stack(ref, "ref")
    if p.shape != r.shape:
        raise ValueError(f"pred {p.shape} and ref {r.shape} differ in shape")
    data_range = validate.positive("data_range", data_range)
    if clip is not None:
        lo, hi = clip
        if not lo < hi:
            raise ValueError(f"clip must be (lo, hi) with lo < hi, got {clip!r}")
        p, r = np.clip(p, lo, hi), np.clip(r, lo, hi)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != r.shape[1:]:
            raise ValueError(f"mask must have the slice shape {r.shape[1:]}, got {mask.shape}")
    return {"PSNR (dB)": np.asarray(metrics.psnr(r, p, data_range, per_slice=True, mask=mask),
                                    dtype=float),
            "SSIM": np.asarray(metrics.ssim(r, p, data_range, per_slice=True, mask=mask),
                               dtype=float)}


def nlm_slices(x: np.ndarray, noise_sd: float, h: float = 0.8, patch_size: int = 5,
               patch_distance: int = 6) -> np.ndarray:
    """Non-local means (scikit-image ``denoise_nl_means``, fast mode) on each slice of ``x``.

    ``noise_sd`` is the noise standard deviation in the units of ``x``; the filter strength is
    ``h * noise_sd`` (choose ``h`` on validation data).
    """
    from skimage.restoration import denoise_nl_means

    x = _stack(x, "x")
    noise_sd, h = validate.positive("noise_sd", noise_sd), validate.positive("h", h)
    return np.stack([denoise_nl_means(s, h=h * noise_sd, sigma=noise_sd, patch_size=patch_size,
                                      patch_distance=patch_distance, fast_mode=True)
                     for s in x]).astype(np.float32)


def bm3d_slices(x: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (Dabov et al. 2007, "Image denoising by sparse 3-D transform-domain collaborative
    filtering", IEEE TIP 16(8)) on each slice of ``x``, with the reference implementation (the
    ``bm3d`` package of Tampere University, both stages: hard thresholding, then Wiener filtering).

    ``sigma`` is the standard deviation of additive white Gaussian noise that BM3D assumes, in the
    units of ``x`` (e.g. HU). Noise in an FBP image is neither white nor Gaussian, so treat
    ``sigma`` as the filter's strength and choose it on validation data
    (:func:`tune_on_validation`). The package's default profile (``"np"``). Returns float32
    (n, H, W).
    """
    import bm3d

    x = _stack(x, "x")
    validate.finite_array("x", x)
    sigma = validate.positive("sigma", sigma)
    return np.stack([np.asarray(bm3d.bm3d(s, sigma)).reshape(s.shape)
                     for s in x.astype(np.float64)]).astype(np.float32)


def tune_on_validation(denoise: Callable[[np.ndarray, Any], np.ndarray], grid: Sequence[Any],
                       x_val: np.ndarray, ref_val: np.ndarray,
                       score: Callable[[np.ndarray, np.ndarray], float]) -> tuple[Any, dict[Any, float]]:
    """The value of ``grid`` whose ``denoise(x_val, value)`` scores best against ``ref_val``.

    ``score(pred, ref)`` returns one number, higher is better (e.g. the mean PSNR over the
    validation slices). Returns ``(best value, {value: score})``; ties go to the earlier value.
    Only validation slices are seen: the test slices stay untouched until the final table.
    """
    grid = list(validate.distinct("grid", validate.nonempty("grid", grid)))
    x_val, ref_val = _stack(x_val, "x_val"), _stack(ref_val, "ref_val")
    validate.same_shape(("x_val", "ref_val"), x_val, ref_val)
    if not callable(denoise) or not callable(score):
        raise validate.ArgumentTypeError("denoise and score must be callables")
    scores = {}
    for value in grid:
        s = float(score(denoise(x_val, value), ref_val))
        if not np.isfinite(s):
            raise ValueError(f"score is {s} for {value!r}: it must be a finite number")
        scores[value] = s
    best = max(grid, key=lambda v: scores[v])
    return best, scores


def scale_intensity(volume: np.ndarray, percentile: float = 99.9, top: float = 1.2) -> np.ndarray:
    """``volume`` divided by its ``percentile``-th percentile and clipped to ``[0, top]`` (float32)."""
    v = np.asarray(volume, dtype=np.float32)
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    ref = float(np.percentile(v, percentile))
    if not ref > 0:
        raise ValueError(f"the {percentile}th percentile of the volume is {ref}: nothing to scale by")
    return np.clip(v / ref, 0, validate.positive("top", top)).astype(np.float32)


def axial_slices(volume: np.ndarray, zs: Sequence[int], rows: slice = slice(None),
                 cols: slice = slice(None)) -> np.ndarray:
    """Stack of the axial slices ``volume[rows, cols, z]`` for ``z`` in ``zs`` of an (x, y, z) volume."""
    v = np.asarray(volume)
    if v.ndim != 3:
        raise ValueError(f"volume must be 3D (x, y, z), got shape {v.shape}")
    zs = list(zs)
    if not zs or any(not -v.shape[2] <= int(z) < v.shape[2] for z in zs):
        raise ValueError(f"zs must be non-empty indices into the {v.shape[2]} axial slices, got {zs}")
    return np.stack([v[rows, cols, int(z)] for z in zs])
