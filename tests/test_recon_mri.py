"""Tests for corelib.restoration.recon_mri: operators, masks, models, CS baseline, fastMRI metrics."""
import math

import numpy as np
import pytest
import torch

from corelib.restoration import recon_mri as rm


def _images(n=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, size, size, generator=g)


# ----------------------------------------------------------------------------- operators
def test_fft_matches_deepinv_mri_operator():
    import deepinv as dinv

    x = torch.randn(2, 2, 16, 16, dtype=torch.float64)
    mask = rm.sampling_mask((16, 16), 4, n=1, seed=3).double()
    physics = dinv.physics.MRI(mask=mask, img_size=(16, 16))
    assert torch.allclose(physics.A(x), mask * rm.fft2c(x), atol=1e-10)
    assert torch.allclose(rm.ifft2c(rm.fft2c(x)), x, atol=1e-10)


def test_forward_adjoint_dot_product():
    """<A x, y> = <x, A^H y> for A = M F (deepinv's operator and ours)."""
    import deepinv as dinv

    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 16, 16, generator=g, dtype=torch.float64)
    y = torch.randn(1, 2, 16, 16, generator=g, dtype=torch.float64)
    mask = rm.sampling_mask((16, 16), 4, n=1, seed=2).double()
    physics = dinv.physics.MRI(mask=mask, img_size=(16, 16))
    lhs = torch.sum(physics.A(x) * y)  # real inner product of complex vectors
    rhs = torch.sum(x * physics.A_adjoint(y))
    assert math.isclose(float(lhs), float(rhs), rel_tol=1e-10)
    lhs2 = torch.sum(mask * rm.fft2c(x) * y)
    rhs2 = torch.sum(x * rm.ifft2c(mask * y))
    assert math.isclose(float(lhs2), float(rhs2), rel_tol=1e-10)


def test_hard_data_consistency_returns_measured_samples():
    x_true = torch.randn(2, 2, 16, 16)
    mask = rm.sampling_mask((16, 16), 4, n=2, seed=0)
    k0 = mask * rm.fft2c(x_true)
    guess = torch.randn(2, 2, 16, 16)
    out = rm.data_consistency(guess, k0, mask)
    k_out = rm.fft2c(out)
    assert torch.allclose(mask * k_out, k0, atol=1e-5)
    # the unmeasured samples are those of the guess
    assert torch.allclose((1 - mask) * k_out, (1 - mask) * rm.fft2c(guess), atol=1e-5)
    soft = rm.data_consistency(guess, k0, mask, lam=1e6)
    assert torch.allclose(mask * rm.fft2c(soft), k0, atol=1e-3)


# ----------------------------------------------------------------------------- masks
@pytest.mark.parametrize("kind", rm.MASK_KINDS)
@pytest.mark.parametrize("acc", [4, 8])
def test_masks_have_acceleration_and_centre(kind, acc):
    m = rm.sampling_mask((32, 64), acc, kind, center_fraction=0.08, n=3, seed=5)
    assert m.shape == (3, 1, 32, 64)
    assert set(torch.unique(m).tolist()) <= {0.0, 1.0}
    lines = m[:, 0, 0, :]
    assert torch.equal(m[:, 0], lines[:, None, :].expand(-1, 32, -1)), "whole columns are sampled"
    n_lines = lines.sum(dim=1)
    assert torch.all(torch.abs(n_lines - 64 / acc) <= 2)
    centre = int(round(0.08 * 64))
    c0 = 64 // 2 - centre // 2
    assert torch.all(lines[:, c0:c0 + centre - 1] == 1), "the centre is fully sampled"
    assert torch.equal(m, rm.sampling_mask((32, 64), acc, kind, 0.08, n=3, seed=5))


def test_acceleration_one_samples_everything():
    assert torch.all(rm.sampling_mask((16, 16), 1) == 1)


def test_point_spread_function_peak():
    psf = rm.point_spread_function(rm.sampling_mask((16, 16), 1)[0, 0])
    assert psf.max() == pytest.approx(1.0)
    assert psf.sum() == pytest.approx(1.0, abs=1e-5)  # full sampling: a delta


def test_simulation_and_phase():
    x = _images()
    phase = rm.smooth_phase(2, (16, 16), seed=1)
    assert phase.shape == (2, 1, 16, 16) and phase.abs().max() <= math.pi + 1e-5
    full = torch.ones(1, 1, 16, 16)
    k0, x_true = rm.simulate_kspace(x, full, phase)
    assert np.allclose(rm.magnitude(x_true), x.numpy(), atol=1e-5)
    assert np.allclose(rm.magnitude(rm.zero_filled(k0)), x.numpy(), atol=1e-5)


def test_kspace_batches_shapes():
    it = iter(rm.KspaceBatches(_images(5).numpy(), batch=3, accelerations=(4,), seed=0))
    x_zf, k0, mask, x_true = next(it)
    assert x_zf.shape == k0.shape == x_true.shape == (3, 2, 16, 16)
    assert mask.shape == (3, 1, 16, 16)


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("make", [lambda: rm.ResidualUNet((4, 8)), lambda: rm.CascadeCNN(2, 4, 3),
                                  lambda: rm.KIKINet(1, 4, 3),
                                  lambda: rm.CascadeCNN(2, 4, 3, learn_lambda=True)])
def test_networks_shapes_gradients_and_identity_start(make):
    net = make()
    x = _images()
    mask = rm.sampling_mask((16, 16), 4, n=2)
    k0, x_true = rm.simulate_kspace(x, mask, rm.smooth_phase(2, (16, 16)))
    zf = rm.ifft2c(k0)
    out = net(zf, k0, mask)
    assert out.shape == (2, 2, 16, 16)
    if not any(isinstance(m, rm.DataConsistency) and m.raw is not None for m in net.modules()):
        assert torch.allclose(out, zf, atol=1e-5), "an untrained model returns the zero-filled image"
    loss = (out - x_true).abs().mean()
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_cascade_has_separate_weights():
    net = rm.CascadeCNN(3, 4, 3)
    w = [c[0].weight for c in net.cnns]
    assert w[0].data_ptr() != w[1].data_ptr()
    assert rm.count_parameters(net) == 3 * rm.count_parameters(net.cnns[0])


def test_reconstruct_batches():
    net = rm.CascadeCNN(1, 4, 3)
    mask = rm.sampling_mask((16, 16), 4, n=5)
    k0, _ = rm.simulate_kspace(_images(5), mask)
    out = rm.reconstruct(net, k0, mask, batch=2)
    assert out.shape == (5, 2, 16, 16)


def test_cs_tv_beats_zero_filling_on_piecewise_constant_image():
    x = torch.zeros(1, 32, 32)
    x[:, 8:24, 10:20] = 1.0
    x[:, 12:16, 4:28] = 0.5
    mask = rm.sampling_mask((32, 32), 4, n=1, seed=0)
    k0, x_true = rm.simulate_kspace(x, mask)
    gt = rm.magnitude(x_true)
    zf = rm.fastmri_scores(gt, rm.magnitude(rm.zero_filled(k0)))["PSNR (dB)"]
    cs = rm.fastmri_scores(gt, rm.magnitude(rm.cs_tv(k0, mask, 0.01, 300)))["PSNR (dB)"]
    assert cs > zf + 1


def test_root_sum_of_squares():
    coils = np.stack([np.full((4, 4), 3 + 0j), np.full((4, 4), 4j)])
    assert np.allclose(rm.root_sum_of_squares(coils), 5.0)
    with pytest.raises(TypeError, match="complex"):
        rm.root_sum_of_squares(np.abs(coils))
    with pytest.raises(ValueError, match="3D"):
        rm.root_sum_of_squares(coils[0])


# ----------------------------------------------------------------------------- fastMRI metrics
def test_fastmri_metrics_hand_computed():
    gt = np.ones((2, 8, 8))
    gt[0, 0, 0] = 2.0  # the volume's maximum: the data range
    pred = gt.copy()
    pred[0, 3, 3] += 0.5
    pred[1, 4, 4] -= 0.5
    s = rm.fastmri_scores(gt, pred)
    mse = 2 * 0.25 / gt.size
    assert s["PSNR (dB)"] == pytest.approx(10 * math.log10(2.0 ** 2 / mse))
    assert s["NMSE"] == pytest.approx(0.5 / (127 * 1.0 + 4.0))
    assert 0 < s["SSIM"] < 1
    per = rm.fastmri_slice_scores(gt, pred)
    mse_slice = 0.25 / 64
    # both slices use the volume's maximum (2), not slice 1's own maximum (1)
    assert per["PSNR (dB)"] == pytest.approx([10 * math.log10(4 / mse_slice)] * 2)
    assert per["NMSE"][1] == pytest.approx(0.25 / 64)
    assert rm.fastmri_scores(gt, gt)["SSIM"] == pytest.approx(1.0)
    assert rm.nmse(gt, gt) == 0.0


# ----------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_clear_errors():
    x = torch.randn(1, 2, 16, 16)
    k0 = rm.fft2c(x)
    mask = rm.sampling_mask((16, 16), 4)
    with pytest.raises(ValueError, match="mask"):
        rm.data_consistency(x, k0, torch.ones(1, 1, 8, 8))
    with pytest.raises(TypeError, match="complex"):
        rm.zero_filled(torch.complex(k0[:, :1], k0[:, 1:]))
    with pytest.raises(ValueError, match="2 channels"):
        rm.zero_filled(k0[:, :1])
    with pytest.raises(ValueError, match="acceleration"):
        rm.sampling_mask((16, 16), 0.5)
    with pytest.raises(ValueError, match="acceleration"):
        rm.sampling_mask((16, 16), 2.5)
    with pytest.raises(ValueError, match="kind"):
        rm.sampling_mask((16, 16), 4, kind="spiral")
    bad = k0.clone()
    bad[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        rm.data_consistency(x, bad, mask)
    with pytest.raises(ValueError, match="NaN"):
        rm.cs_tv(bad, mask, 0.01, 5)
    with pytest.raises(TypeError, match="real magnitude"):
        rm.simulate_kspace(torch.ones(1, 16, 16, dtype=torch.complex64), mask)
    with pytest.raises(ValueError, match="mask"):
        rm.simulate_kspace(torch.ones(1, 16, 16), torch.ones(1, 1, 16, 8))
    with pytest.raises(ValueError, match="phase"):
        rm.simulate_kspace(torch.ones(2, 16, 16), mask, phase=torch.zeros(1, 1, 16, 16))
    with pytest.raises(ValueError, match="lamda"):
        rm.cs_tv(k0, mask, 0.0)
    with pytest.raises(ValueError, match="same shape"):
        rm.fastmri_scores(np.ones((2, 8, 8)), np.ones((2, 8, 7)))
    with pytest.raises(ValueError, match="3D"):
        rm.fastmri_scores(np.ones((8, 8)), np.ones((8, 8)))
    with pytest.raises(ValueError, match="NaN"):
        rm.nmse(np.ones(4), np.array([1.0, np.nan, 1.0, 1.0]))
