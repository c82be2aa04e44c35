"""Tests for the restoration notebooks' shared helpers (corelib.restoration.evaluate) and the
low-dose projection's field of view."""
import warnings

import numpy as np
import pytest
import torch

from corelib import metrics
from corelib.restoration import evaluate as ev, lowdose


def test_pair_patches_are_aligned_scaled_and_seeded():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 20, 24)).astype(np.float32) * 1000
    b = a * 2
    ds = ev.PairPatches(a, b, patch=8, seed=5, scale=1000.0)
    it = iter(ds)
    items = [next(it) for _ in range(6)]
    for x, y in items:
        assert x.shape == y.shape == (1, 8, 8)
        torch.testing.assert_close(y, 2 * x)  # the same crop and flip of both stacks
        assert x.abs().max() < 10  # divided by the scale
    again = iter(ev.PairPatches(a, b, patch=8, seed=5, scale=1000.0))
    for x, _ in items:
        torch.testing.assert_close(next(again)[0], x)
    # every crop is a (possibly flipped) window of one slice
    x = items[0][0][0].numpy() * 1000
    found = any(np.allclose(np.flip(a[i, r:r + 8, c:c + 8], axis=ax) if ax else a[i, r:r + 8, c:c + 8],
                            x, atol=1e-3)
                for i in range(3) for r in range(13) for c in range(17)
                for ax in (None, 0, 1, (0, 1)))
    assert found


def test_pair_patches_validates():
    a = np.zeros((2, 10, 10), np.float32)
    with pytest.raises(ValueError, match="same shape"):
        ev.PairPatches(a, np.zeros((2, 10, 11)), 4)
    with pytest.raises(ValueError, match="patch"):
        ev.PairPatches(a, a, 11)
    with pytest.raises(ValueError, match="scale"):
        ev.PairPatches(a, a, 4, scale=0)
    with pytest.raises(ValueError, match=r"\(n, H, W\)"):
        ev.PairPatches(a[0], a[0], 4)


def test_predict_slices_matches_a_per_slice_forward_pass():
    torch.manual_seed(0)
    net = torch.nn.Conv2d(1, 1, 3, padding=1)
    x = np.random.default_rng(1).normal(size=(5, 12, 10)).astype(np.float32) * 100
    out = ev.predict_slices(net, x, batch=2, scale=100.0)
    assert out.shape == x.shape
    with torch.no_grad():
        ref = np.stack([net(torch.as_tensor(s / 100.0)[None, None])[0, 0].numpy() * 100 for s in x])
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="batch"):
        ev.predict_slices(net, x, batch=0)


def test_slice_scores_per_slice_clip_and_mask():
    rng = np.random.default_rng(2)
    ref = rng.uniform(0, 1, (4, 16, 16)).astype(np.float32)
    pred = ref + rng.normal(0, 0.05, ref.shape).astype(np.float32)
    s = ev.slice_scores(pred, ref, 1.0)
    assert s["PSNR (dB)"].shape == s["SSIM"].shape == (4,)
    np.testing.assert_allclose(s["PSNR (dB)"], metrics.psnr(ref, pred, 1.0, per_slice=True))
    # outside the mask the prediction does not count, and only the inside enters the mean
    mask = np.zeros((16, 16), bool)
    mask[4:12, 4:12] = True
    bad = pred.copy()
    bad[:, ~mask] = 10.0
    inside = ev.slice_scores(bad, ref, 1.0, mask=mask)
    np.testing.assert_allclose(inside["PSNR (dB)"],
                               ev.slice_scores(pred[:, 4:12, 4:12], ref[:, 4:12, 4:12],
                                               1.0)["PSNR (dB)"])
    assert (inside["PSNR (dB)"] < ev.slice_scores(np.where(mask, pred, ref), ref,
                                                  1.0)["PSNR (dB)"]).all()  # no free zeros
    # clipping both images to [0, 1] removes the error above 1
    over = ref.copy()
    over[:, 0, 0] = 5.0
    assert np.isinf(ev.slice_scores(over, ref, 1.0, clip=(0.0, 1.0))["PSNR (dB)"]).all() or \
        (ev.slice_scores(over, ref, 1.0, clip=(0.0, 1.0))["PSNR (dB)"]
         > ev.slice_scores(over, ref, 1.0)["PSNR (dB)"]).all()
    with pytest.raises(ValueError, match="mask"):
        ev.slice_scores(pred, ref, 1.0, mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="clip"):
        ev.slice_scores(pred, ref, 1.0, clip=(1.0, 0.0))


def test_nlm_slices_reduces_noise():
    rng = np.random.default_rng(3)
    clean = np.zeros((2, 32, 32), np.float32)
    clean[:, 8:24, 8:24] = 1.0
    noisy = clean + rng.normal(0, 0.1, clean.shape).astype(np.float32)
    out = ev.nlm_slices(noisy, 0.1, h=0.8)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert np.mean((out - clean) ** 2) < 0.5 * np.mean((noisy - clean) ** 2)
    with pytest.raises(ValueError, match="noise_sd"):
        ev.nlm_slices(noisy, 0.0)


def test_bm3d_slices_reduces_noise():
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:32, :32]
    clean = np.stack([np.sin(xx / 5.0) * np.cos(yy / 7.0), np.cos(xx / 6.0)]).astype(np.float32)
    noisy = clean + rng.normal(0, 0.2, clean.shape).astype(np.float32)
    out = ev.bm3d_slices(noisy, 0.2)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert np.mean((out - clean) ** 2) < 0.5 * np.mean((noisy - clean) ** 2)
    with pytest.raises(ValueError, match="sigma"):
        ev.bm3d_slices(noisy, 0.0)
    with pytest.raises(ValueError, match=r"\(n, H, W\)"):
        ev.bm3d_slices(noisy[0], 0.2)
    with pytest.raises(ValueError, match="x contains"):
        ev.bm3d_slices(np.where(clean > 0.5, np.nan, noisy), 0.2)


def test_tune_on_validation_picks_the_best_grid_value_on_the_validation_slices():
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:32, :32]
    clean = np.stack([np.sin(xx / 5.0) * np.cos(yy / 7.0)] * 2).astype(np.float32)
    noisy = clean + rng.normal(0, 0.2, clean.shape).astype(np.float32)

    def score(p, r):
        return float(ev.slice_scores(p, r, 2.0)["PSNR (dB)"].mean())

    grid = [0.01, 0.2, 5.0]  # far too weak, about right, far too strong
    best, scores = ev.tune_on_validation(ev.bm3d_slices, grid, noisy, clean, score)
    assert list(scores) == grid and best == 0.2
    assert scores[0.2] == pytest.approx(score(ev.bm3d_slices(noisy, 0.2), clean))
    assert scores[0.2] > max(scores[0.01], scores[5.0])
    # the choice follows the validation references it is given
    best_identity, _ = ev.tune_on_validation(ev.bm3d_slices, grid, noisy, noisy, score)
    assert best_identity == 0.01
    with pytest.raises(ValueError, match="grid"):
        ev.tune_on_validation(ev.bm3d_slices, [], noisy, clean, score)
    with pytest.raises(ValueError, match="repeated"):
        ev.tune_on_validation(ev.bm3d_slices, [0.2, 0.2], noisy, clean, score)
    with pytest.raises(ValueError, match="same shape"):
        ev.tune_on_validation(ev.bm3d_slices, grid, noisy, clean[:1], score)


def test_scale_intensity_and_axial_slices():
    v = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    s = ev.scale_intensity(v, 100.0, top=1.2)
    assert s.dtype == np.float32 and s.max() == pytest.approx(1.0) and s.min() == 0.0
    assert ev.scale_intensity(v, 50.0, top=1.2).max() == pytest.approx(1.2)
    ax = ev.axial_slices(v, [1, 3], rows=slice(1, 3), cols=slice(0, 4))
    assert ax.shape == (2, 2, 4)
    np.testing.assert_array_equal(ax[1], v[1:3, 0:4, 3])
    with pytest.raises(ValueError, match="zs"):
        ev.axial_slices(v, [6])
    with pytest.raises(ValueError, match="nothing to scale"):
        ev.scale_intensity(np.zeros((2, 2, 2)))


def test_project_zeroes_pixels_outside_the_radon_circle_without_a_warning():
    for size in (16, 17):
        ones = np.ones((size, size))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # radon's 'image must be zero outside' would raise
            p = lowdose.project(ones, pixel_cm=0.1, n_angles=8)
        assert p.shape == (size, 8) and np.isfinite(p).all() and p.max() > 0
