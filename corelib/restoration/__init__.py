"""Restoration (survey §2.1): low-dose CT simulation, denoising and super-resolution."""
from corelib.restoration.denoise import (CNNDAE, REDCNN, Critic, PerceptualLoss, add_rician_noise, gradient_penalty,
                                         hf_energy_ratio, noise2noise_batch_fn, radial_power_spectrum,
                                         wgan_batch_fn)
from corelib.restoration.lowdose import hu_to_mu, make_low_dose_set, mu_to_hu, simulate_low_dose
from corelib.restoration.superres import (SRCNN, ResidualSR, SubPixelSR, blur_downsample, interpolate,
                                          kspace_truncate, thick_slices)

__all__ = ["CNNDAE", "REDCNN", "Critic", "PerceptualLoss", "add_rician_noise", "gradient_penalty", "hf_energy_ratio",
           "noise2noise_batch_fn", "radial_power_spectrum", "wgan_batch_fn", "hu_to_mu",
           "make_low_dose_set", "mu_to_hu", "simulate_low_dose", "SRCNN", "ResidualSR", "SubPixelSR",
           "blur_downsample", "interpolate", "kspace_truncate", "thick_slices"]
