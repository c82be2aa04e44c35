"""corelib.synthesis: translation networks and losses, baselines, slabs and pools (tiny inputs)."""
import numpy as np
import pytest
import torch

from corelib import synthesis as sy

FEATS = (4, 4, 8, 8, 8, 4)


def test_generator_and_critic_shapes_and_gradients():
    g = sy.unet_generator(features=FEATS)
    x = torch.rand(2, 1, 32, 32, requires_grad=True)
    y = g(x)
    assert y.shape == (2, 1, 32, 32)
    c = sy.PatchCritic(2, width=8, layers=2)
    s = c(torch.cat([x, y], 1))
    assert s.ndim == 4 and s.shape[:2] == (2, 1)
    s.mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in g.parameters())


def test_cycle_and_identity_losses_are_zero_for_the_identity():
    a = torch.rand(3, 1, 16, 16)
    ident = torch.nn.Identity()
    assert float(sy.cycle_loss(a, ident(ident(a)))) == 0.0
    assert float(sy.identity_loss(a, ident(a))) == 0.0
    assert float(sy.cycle_loss(a, a + 0.1)) == pytest.approx(0.1, abs=1e-6)


def _blob(shift: int = 0) -> torch.Tensor:
    img = torch.zeros(1, 1, 32, 32)
    img[..., 10 + shift:20 + shift, 8:22] = 1.0
    img[..., 14 + shift:17 + shift, 12:16] = 0.3
    return img


def test_gradient_correlation_is_one_for_identical_images_and_lower_when_shifted():
    a = _blob()
    assert float(sy.gradient_correlation(a, a)) == pytest.approx(1.0, abs=1e-5)
    assert float(sy.gradient_correlation(a, a, "magnitude")) == pytest.approx(1.0, abs=1e-5)
    shifted = float(sy.gradient_correlation(a, _blob(3)))
    assert shifted < 0.9
    # an inverted contrast: signed GC -1, magnitude GC still 1
    assert float(sy.gradient_correlation(a, 1 - a)) == pytest.approx(-1.0, abs=1e-5)
    assert float(sy.gradient_correlation(a, 1 - a, "magnitude")) == pytest.approx(1.0, abs=1e-4)


def test_pix2pix_and_cyclegan_steps_train():
    torch.manual_seed(0)
    g = sy.unet_generator(features=FEATS)
    step = sy.Pix2PixStep(sy.PatchCritic(2, width=8))
    x, y = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)
    loss = step(g, (x, y), torch.device("cpu"))
    loss.backward()
    assert torch.isfinite(loss) and set(step.terms[0]) == {"critic", "adversarial", "L1"}
    model = sy.CycleGAN(sy.unet_generator(features=FEATS), sy.unet_generator(features=FEATS))
    cstep = sy.CycleGANStep(sy.PatchCritic(1, width=8), sy.PatchCritic(1, width=8),
                            gc_weight=1.0, gc_mode="magnitude")
    loss = cstep(model, (x, torch.rand(3, 1, 32, 32)), torch.device("cpu"))
    loss.backward()
    assert torch.isfinite(loss) and "1 - GC" in cstep.terms[0] and "identity" in cstep.terms[0]
    assert all(p.grad is not None for p in model.g_ab.parameters())


def test_tissue_lookup_on_a_toy_volume():
    labels = np.zeros((2, 8, 8), np.uint8)
    labels[:, 2:6, 2:6] = 3
    labels[:, 3:5, 3:5] = 1
    labels[:, 2, 2:6] = 2
    target = np.choose(labels, [0.0, 0.9, 0.6, 0.4]).astype(np.float32)
    target += np.random.default_rng(0).normal(0, 0.01, target.shape).astype(np.float32)
    lut = sy.TissueLookup().fit(labels, target)
    assert lut.means[1] == pytest.approx(0.9, abs=0.02)
    assert lut.means[3] == pytest.approx(0.4, abs=0.02)
    out = lut.predict(labels)
    assert out.shape == labels.shape and np.all(out[labels == 0] == 0)
    with pytest.raises(ValueError, match="not seen"):
        lut.predict(np.full((2, 8, 8), 4, np.uint8))


def test_kmeans_tissues_orders_by_intensity():
    img = np.zeros((1, 12, 12), np.float32)
    img[0, :, :4], img[0, :, 4:8], img[0, :, 8:] = 0.2, 0.5, 0.9
    labels = sy.kmeans_tissues(img, np.ones_like(img, bool))
    assert labels[0, 0, 0] == 1 and labels[0, 0, 5] == 2 and labels[0, 0, 10] == 3
    labels = sy.kmeans_tissues(img, np.ones_like(img, bool), order=(3, 2, 1))
    assert labels[0, 0, 0] == 3


def test_histogram_match_and_scores():
    rng = np.random.default_rng(0)
    src = rng.random((2, 16, 16)).astype(np.float32)
    ref = (0.5 * rng.random((2, 16, 16)) + 0.3).astype(np.float32)
    m = np.ones_like(src, bool)
    out = sy.histogram_match(src, ref, m, m)
    assert out.min() >= ref.min() - 1e-6 and out.max() <= ref.max() + 1e-6
    sc = sy.synthesis_scores(ref, ref, m)
    assert set(sc) == {"MAE", "PSNR (dB)", "SSIM", "GC"}
    assert np.all(sc["MAE"] == 0) and np.allclose(sc["SSIM"], 1) and np.allclose(sc["GC"], 1)


def test_tissue_ratios():
    labels = np.array([[1, 2, 3, 3]])
    img = np.array([[2.0, 1.0, 0.5, 0.5]])
    assert sy.tissue_ratios(img, labels) == {"CSF/WM": 4.0, "GM/WM": 2.0}
    with pytest.raises(ValueError, match="CSF"):
        sy.tissue_ratios(img, np.array([[2, 2, 3, 3]]))


def test_brain_slab_and_pools():
    vol = np.zeros((20, 24, 6), np.float32)
    vol[5:15, 4:20, :] = 1.0
    vol[8:12, 8:16, :] = 2.0
    out = sy.brain_slab(vol, vol > 0, [1, 2, 3], 16)
    assert out.shape == (3, 16, 16) and out.max() <= 1.0
    lab = sy.brain_slab(vol, vol > 0, [1], 16, labels=True)
    assert set(np.unique(lab)) <= {0.0, 1.0, 2.0}
    pool = sy.elastic_pool({"a": out, "b": out, "c": out}, 4, seed=0, spacing=4,
                           magnitude=(0.5, 1.0), misalign=["c"], shift=2.0)
    assert pool["a"].shape == (4, 16, 16)
    assert np.allclose(pool["a"], pool["b"])  # one deformation for every key
    assert not np.allclose(pool["a"], pool["c"])  # the misaligned key moves on its own
    a, b = next(iter(sy.PoolBatches(pool["a"], pool["b"], batch=3)))
    assert a.shape == (3, 1, 16, 16) and torch.equal(a, b)
    a, b = next(iter(sy.PoolBatches(pool["a"], out, batch=2, paired=False)))
    assert a.shape == b.shape == (2, 1, 16, 16)


def test_bad_inputs_raise_clear_errors():
    a = torch.rand(2, 1, 16, 16)
    with pytest.raises(ValueError, match="same shape"):
        sy.cycle_loss(a, torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="NaN"):
        sy.gradient_correlation(a, torch.full_like(a, float("nan")))
    with pytest.raises(ValueError, match="channel"):
        sy.PatchCritic(2)(a)
    with pytest.raises(ValueError, match="mode"):
        sy.gradient_correlation(a, a, "unsigned")
    with pytest.raises(ValueError, match="NaN"):
        sy.synthesis_scores(np.full((1, 8, 8), np.nan), np.zeros((1, 8, 8)),
                            np.ones((1, 8, 8), bool))
    with pytest.raises(ValueError, match="same length"):
        sy.PoolBatches(np.zeros((3, 8, 8)), np.zeros((4, 8, 8)), batch=2)
    with pytest.raises(ValueError, match="same shape"):
        sy.elastic_pool({"a": np.zeros((2, 8, 8)), "b": np.zeros((2, 9, 8))}, 2)
    with pytest.raises(ValueError, match="Pix2PixStep expects"):
        sy.Pix2PixStep(sy.PatchCritic(2))(sy.unet_generator(features=FEATS), a, "cpu")
    with pytest.raises(TypeError, match="CycleGAN"):
        sy.CycleGANStep(sy.PatchCritic(1), sy.PatchCritic(1))(torch.nn.Identity(), (a, a), "cpu")
    with pytest.raises(TypeError):
        sy.unet_generator(features=(8, 8, 8))
