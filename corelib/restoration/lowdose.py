"""Low-dose CT simulation from a real CT in HU: forward projection, Poisson counts, log, FBP.

The physics (Beer-Lambert): a ray with line integral ``p = ∫ mu dl`` through the patient reaches
the detector with on average ``I0 * exp(-p)`` photons; the count is Poisson. Taking
``-log(counts / I0)`` gives a noisy sinogram, and filtered back-projection (ramp filter) the
low-dose image. The object is taken as zero outside the inscribed circle (the field of view).
Fewer incident photons ``I0`` means more noise. Projection and FBP are
scikit-image's ``radon``/``iradon`` (parallel beam, ``circle=True``).
"""
from __future__ import annotations

import numpy as np

from corelib import validate

__all__ = ["MU_WATER", "hu_to_mu", "mu_to_hu", "project", "fbp", "simulate_low_dose", "LowDoseSet",
           "make_low_dose_set", "inside_circle"]

MU_WATER = 0.192
"""Linear attenuation of water in 1/cm at about 60 keV (the effective energy of a 120 kVp beam)."""


def hu_to_mu(hu: np.ndarray, mu_water: float = MU_WATER) -> np.ndarray:
    """Hounsfield units to linear attenuation (1/cm): ``mu = mu_water * (1 + HU / 1000)``, clipped at 0."""
    validate.positive("mu_water", mu_water)
    return np.clip(mu_water * (1.0 + np.asarray(hu, dtype=np.float64) / 1000.0), 0.0, None)


def mu_to_hu(mu: np.ndarray, mu_water: float = MU_WATER) -> np.ndarray:
    """Inverse of :func:`hu_to_mu`."""
    validate.positive("mu_water", mu_water)
    return (np.asarray(mu, dtype=np.float64) / mu_water - 1.0) * 1000.0


def _angles(n_angles: int) -> np.ndarray:
    validate.integer("n_angles", n_angles)
    if n_angles < 2:
        raise ValueError(f"n_angles must be at least 2, got {n_angles}")
    return np.linspace(0.0, 180.0, n_angles, endpoint=False)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise ValueError(f"expected a square 2D slice, got shape {image.shape}")
    if not np.all(np.isfinite(image)):
        raise ValueError("image contains NaN or infinite values")
    return image


def project(mu: np.ndarray, pixel_cm: float, n_angles: int = 180) -> np.ndarray:
    """Line integrals (dimensionless) of a square ``mu`` slice (1/cm) with pixels of ``pixel_cm`` cm."""
    from skimage.transform import radon

    validate.positive("pixel_cm", pixel_cm)  # NaN or inf would give a NaN sinogram
    mu = _check_image(mu)
    mu = mu * (inside_circle(mu.shape[0]) & _radon_circle(mu.shape[0]))
    return radon(mu, _angles(n_angles), circle=True) * pixel_cm


def _radon_circle(size: int) -> np.ndarray:
    """The disc that scikit-image's ``radon(circle=True)`` reconstructs (centre ``size // 2``,
    radius ``size // 2``). It differs from :func:`inside_circle` by a rim of single pixels; a
    non-zero pixel outside it makes ``radon`` warn on stderr, so :func:`project` zeroes both."""
    c, r = size // 2, size // 2
    yy, xx = np.mgrid[:size, :size]
    return (yy - c) ** 2 + (xx - c) ** 2 <= r ** 2


def inside_circle(size: int) -> np.ndarray:
    """Boolean disc inscribed in a ``size`` x ``size`` grid: the scanner's field of view. Outside
    it the object is set to zero before projection and FBP is not trusted."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[:size, :size]
    return (yy - c) ** 2 + (xx - c) ** 2 <= (size / 2) ** 2


def fbp(sinogram: np.ndarray, pixel_cm: float, filter_name: str = "ramp") -> np.ndarray:
    """Filtered back-projection of a sinogram of line integrals back to ``mu`` (1/cm)."""
    from skimage.transform import iradon

    validate.positive("pixel_cm", pixel_cm)
    sinogram = validate.finite_array("sinogram", sinogram, ndim=2)
    n_angles = sinogram.shape[1]
    return iradon(np.asarray(sinogram) / pixel_cm, _angles(n_angles), circle=True,
                  filter_name=filter_name)


def simulate_low_dose(hu: np.ndarray, i0: float, pixel_cm: float, n_angles: int = 180,
                      rng: np.random.Generator | None = None, sinogram: np.ndarray | None = None
                      ) -> np.ndarray:
    """One low-dose FBP image (HU) of the slice ``hu`` at ``i0`` incident photons per ray.

    Counts ``~ Poisson(i0 * exp(-p))`` (at least 1, as a detector's log step needs), then
    ``p_noisy = -log(counts / i0)`` and FBP. Pass a precomputed noiseless ``sinogram`` (from
    :func:`project`) to reuse it across doses and realisations.
    """
    if not i0 > 0:
        raise ValueError(f"i0 (incident photons per ray) must be positive, got {i0}")
    validate.positive("i0", i0)  # also refuses inf
    validate.positive("pixel_cm", pixel_cm)
    rng = rng if rng is not None else np.random.default_rng(0)
    p = sinogram if sinogram is not None else project(hu_to_mu(hu), pixel_cm, n_angles)
    counts = np.maximum(rng.poisson(i0 * np.exp(-p)), 1)
    return mu_to_hu(fbp(-np.log(counts / i0), pixel_cm))


class LowDoseSet(dict):
    """Arrays of one split: ``nd`` (normal dose, noiseless FBP), ``ld[i0]`` and ``ld2[i0]`` (two
    independent low-dose realisations per dose), all (n_slices, size, size) float32 HU."""


def make_low_dose_set(hu_slices: np.ndarray, pixel_cm: float, doses: tuple[float, ...] | list[float],
                      n_angles: int = 180, seed: int = 0, second_realisation: bool = True) -> LowDoseSet:
    """Simulate every slice of ``hu_slices`` (n, size, size) at every dose in ``doses``.

    Normal dose = FBP of the noiseless sinogram (same scanner blur and streaks, no noise), so a
    denoiser learns noise removal, not a change of reconstruction kernel.
    """
    validate.positive("pixel_cm", pixel_cm)
    validate.distinct("doses", validate.nonempty("doses", doses))
    for d in doses:
        validate.positive("doses", d)
    validate.finite_array("hu_slices", hu_slices)
    hu_slices = np.asarray(hu_slices)
    if hu_slices.ndim != 3:
        raise ValueError(f"hu_slices must be (n, size, size), got shape {hu_slices.shape}")
    rng = np.random.default_rng(seed)
    out = LowDoseSet(nd=[], ld={d: [] for d in doses}, ld2={d: [] for d in doses})
    for s in hu_slices:
        p = project(hu_to_mu(s), pixel_cm, n_angles)
        out["nd"].append(mu_to_hu(fbp(p, pixel_cm)))
        for d in doses:
            out["ld"][d].append(simulate_low_dose(s, d, pixel_cm, rng=rng, sinogram=p))
            if second_realisation:
                out["ld2"][d].append(simulate_low_dose(s, d, pixel_cm, rng=rng, sinogram=p))
    out["nd"] = np.stack(out["nd"]).astype(np.float32)
    for key in ("ld", "ld2"):
        out[key] = {d: np.stack(v).astype(np.float32) for d, v in out[key].items() if v}
    return out
