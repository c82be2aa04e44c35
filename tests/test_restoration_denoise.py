"""Tests for corelib.restoration.denoise and the low-dose CT simulator (tiny inputs)."""
import numpy as np
import pytest
import torch

from corelib.restoration import denoise as dn, lowdose


@pytest.mark.parametrize("cls,kw", [(dn.CNNDAE, {}), (dn.CNNDAE, {"predict_noise": True}),
                                    (dn.REDCNN, {}), (dn.REDCNN, {"kernel": 3}),
                                    (dn.REDCNN, {"shortcuts": False})])
@pytest.mark.parametrize("shape", [(24, 28)])
def test_denoisers_shapes_and_gradients(cls, kw, shape):
    torch.manual_seed(0)
    net = cls(8, **kw)
    x = torch.randn(1, 1, *shape, requires_grad=True)
    y = net(x)
    assert y.shape == x.shape
    y.pow(2).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_redcnn_is_identity_at_init():
    x = torch.randn(1, 1, 25, 31)
    assert torch.equal(dn.REDCNN(8)(x), x)


def test_denoiser_determinism():
    x = torch.randn(1, 1, 24, 24)
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        outs.append(dn.CNNDAE(8)(x))
    assert torch.equal(*outs)


@pytest.mark.parametrize("bad", [torch.randn(1, 2, 24, 24), torch.randn(24, 24), torch.randn(1, 1, 22, 22)])
def test_bad_inputs(bad):
    with pytest.raises(ValueError):
        dn.CNNDAE(4)(bad)
    with pytest.raises(ValueError):
        dn.REDCNN(4)(torch.randn(1, 1, 10, 10))


def test_critic_and_gradient_penalty():
    torch.manual_seed(0)
    critic = dn.Critic(8)
    real, fake = torch.randn(3, 1, 16, 16), torch.randn(3, 1, 16, 16)
    assert critic(real).shape == (3,)
    gp = dn.gradient_penalty(critic, real, fake)
    assert gp.ndim == 0 and gp >= 0
    gp.backward()
    assert all(m.weight.grad is not None for m in critic.modules() if isinstance(m, torch.nn.Conv2d))
    with pytest.raises(ValueError):
        dn.gradient_penalty(critic, real, fake[:2])


def test_gradient_penalty_known_answer():
    """A linear critic with unit-norm weights has gradient norm 1 everywhere: penalty 0."""
    class Lin(torch.nn.Module):
        def forward(self, x):
            w = torch.ones_like(x[0]) / x[0].numel() ** 0.5
            return (x * w).flatten(1).sum(1)
    gp = dn.gradient_penalty(Lin(), torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4))
    assert float(gp) == pytest.approx(0.0, abs=1e-10)


def test_perceptual_loss_frozen_and_gradients():
    enc = dn.CNNDAE(4).encoder
    loss_fn = dn.PerceptualLoss(enc).train()
    assert not enc.training and not any(p.requires_grad for p in enc.parameters())
    x = torch.randn(2, 1, 16, 16, requires_grad=True)
    y = torch.randn(2, 1, 16, 16)
    loss = loss_fn(x, y)
    loss.backward()
    assert x.grad is not None and float(loss_fn(y, y)) == 0.0


def test_wgan_and_noise2noise_batch_fns():
    torch.manual_seed(0)
    gen, critic = dn.REDCNN(4, kernel=3), dn.Critic(4)
    opt = torch.optim.Adam(critic.parameters())
    fn = dn.wgan_batch_fn(critic, opt, dn.PerceptualLoss(dn.CNNDAE(4).encoder), n_critic=1, pixel_weight=1.0)
    batch = (torch.randn(2, 1, 16, 16), torch.randn(2, 1, 16, 16))
    loss = fn(gen, batch, torch.device("cpu"))
    loss.backward()
    assert torch.isfinite(loss) and len(fn.critic_losses) == 1
    assert any(p.grad is not None for p in gen.parameters())
    l2 = dn.noise2noise_batch_fn()(gen, batch, torch.device("cpu"))
    assert l2.ndim == 0
    with pytest.raises(ValueError):
        dn.wgan_batch_fn(critic, opt, None, n_critic=0)


def test_power_spectrum_and_hf_ratio():
    rng = np.random.default_rng(0)
    white = rng.normal(size=(4, 32, 32))
    f, p = dn.radial_power_spectrum(white)
    assert f.shape == p.shape and 0 < f[0] < f[-1] < 0.5
    assert f.shape == (16,) and np.all(np.isfinite(p[1:]))
    assert np.nanmean(p[4:]) == pytest.approx(1.0, rel=0.1)  # white noise: flat, at its variance
    assert dn.hf_energy_ratio(white, white) == pytest.approx(1.0)
    from scipy.ndimage import gaussian_filter
    smooth = np.stack([gaussian_filter(w, 1.5) for w in white])
    assert dn.hf_energy_ratio(smooth, white) < 0.1
    with pytest.raises(ValueError):
        dn.hf_energy_ratio(white, white[:2])


def test_hu_mu_roundtrip_and_water():
    hu = np.array([-1000.0, 0.0, 1000.0])
    mu = lowdose.hu_to_mu(hu)
    assert mu[0] == 0 and mu[1] == pytest.approx(lowdose.MU_WATER) and mu[2] == pytest.approx(2 * lowdose.MU_WATER)
    assert np.allclose(lowdose.mu_to_hu(mu), hu)


def test_low_dose_simulation_noise_falls_with_dose():
    yy, xx = np.mgrid[:32, :32]
    disc = np.where((yy - 15.5) ** 2 + (xx - 15.5) ** 2 < 100, 0.0, -1000.0)  # water disc in air
    s = lowdose.make_low_dose_set(disc[None], pixel_cm=0.1, doses=(1e3, 1e5), n_angles=48, seed=0)
    assert s["nd"].shape == (1, 32, 32) and set(s["ld"]) == {1e3, 1e5} and 1e3 in s["ld2"]
    noise = {d: float((s["ld"][d] - s["nd"]).std()) for d in (1e3, 1e5)}
    assert noise[1e3] > 3 * noise[1e5]  # std ~ 1/sqrt(I0): 10x expected
    assert abs(float(s["nd"][0, 16, 16])) < 100  # water ~ 0 HU after FBP
    again = lowdose.make_low_dose_set(disc[None], 0.1, (1e3,), 48, seed=0)
    assert np.array_equal(again["ld"][1e3], s["ld"][1e3])


def test_low_dose_bad_inputs():
    with pytest.raises(ValueError):
        lowdose.simulate_low_dose(np.zeros((8, 8)), i0=0, pixel_cm=0.1)
    with pytest.raises(ValueError):
        lowdose.project(np.zeros((8, 6)), 0.1)
    with pytest.raises(ValueError):
        lowdose.project(np.full((8, 8), np.nan), 0.1)
    with pytest.raises(ValueError):
        lowdose.make_low_dose_set(np.zeros((8, 8)), 0.1, (1e3,))


def test_rician_noise_known_answers():
    zero = dn.add_rician_noise(np.zeros((200, 200)), 1.0)
    assert zero.mean() == pytest.approx(np.sqrt(np.pi / 2), rel=0.02)  # Rayleigh mean
    bright = dn.add_rician_noise(np.full((200, 200), 50.0), 1.0)
    assert bright.mean() == pytest.approx(50.0, abs=0.1) and bright.std() == pytest.approx(1.0, rel=0.05)
    assert np.array_equal(dn.add_rician_noise(np.ones((4, 4)), 0.0), np.ones((4, 4)))
    with pytest.raises(ValueError):
        dn.add_rician_noise(np.ones(3), -1.0)
