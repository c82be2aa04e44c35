"""CL0 / CL7: handcrafted features and classical classifiers on synthetic shapes and textures."""
import numpy as np
import pytest

from corelib.classification import features as fx


def disk(size=28, r=8):
    yy, xx = np.mgrid[:size, :size]
    return ((yy - (size - 1) / 2) ** 2 + (xx - (size - 1) / 2) ** 2 <= r * r)


def test_first_order_known_values():
    img = np.zeros((10, 10), np.uint8)
    img[:, 5:] = 255
    f = fx.first_order_features(img)
    assert f["mean"] == pytest.approx(0.5)
    assert f["std"] == pytest.approx(0.5)
    assert f["entropy"] == pytest.approx(1.0)  # two equally likely levels: 1 bit
    flat = fx.first_order_features(np.full((8, 8), 0.3))
    assert flat["std"] == 0 and flat["skewness"] == 0 and flat["entropy"] == 0


def test_glcm_constant_vs_checkerboard():
    const = fx.glcm_features(np.full((16, 16), 0.5))
    assert const["glcm_contrast_d1"] == 0 and const["glcm_homogeneity_d1"] == pytest.approx(1.0)
    cb = (np.indices((16, 16)).sum(0) % 2).astype(float)
    f = fx.glcm_features(cb)
    assert f["glcm_contrast_d1"] > 100  # neighbours differ by 31 grey levels in two of four directions
    assert f["glcm_contrast_d2"] < f["glcm_contrast_d1"]  # at distance 2 the 0/90 degree pairs match


def test_glrlm_known_answer():
    const = fx.glrlm_features(np.full((28, 28), 0.5))
    # horizontal: 28 runs of 28 -> SRE = 1/784, RP = 28/784; the diagonals give shorter runs
    stripes = np.tile(np.array([0.1, 0.9])[:, None], (14, 28))
    f = fx.glrlm_features(stripes)
    assert 0 < const["glrlm_SRE"] < f["glrlm_SRE"] <= 1
    assert const["glrlm_RP"] == pytest.approx((28 + 28 + 55 + 55) / 4 / 784)


def test_shape_of_a_dark_disk():
    img = np.full((28, 28), 0.8)
    img[disk()] = 0.2
    f = fx.shape_features(img)
    assert f["area_frac"] == pytest.approx(disk().mean(), rel=0.1)
    assert f["circularity"] > 0.8 and f["eccentricity"] < 0.3
    assert f["in_out_contrast"] == pytest.approx(0.6, abs=0.05)
    assert fx.shape_features(np.full((28, 28), 0.5))["area_frac"] == 0


def test_extract_features_and_bad_inputs():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    x, names = fx.extract_features(imgs)
    assert x.shape == (3, len(names)) and np.all(np.isfinite(x))
    with pytest.raises(ValueError, match="grey images"):
        fx.extract_features(imgs[0])
    with pytest.raises(ValueError, match="unknown feature group"):
        fx.extract_features(imgs, groups=("wavelet",))
    with pytest.raises(ValueError, match="NaN"):
        fx.first_order_features(np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match="shape"):
        fx.shape_features(np.zeros((8, 8)), mask=np.zeros((4, 4)))


def test_fit_select_uses_val_and_rejects_one_class():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    x = rng.normal(size=(60, 3)) + y[:, None]
    model, info = fx.fit_select("logistic regression", x, y, x, y)
    assert info["val_AUC"] > 0.8 and info["param"] in fx.CLASSIFIERS["logistic regression"]
    with pytest.raises(ValueError, match="single class"):
        fx.fit_select("random forest", x, np.zeros(60, int), x, y)
    with pytest.raises(ValueError, match="unknown classifier"):
        fx.fit_select("xgboost", x, y, x, y)
    assert fx.fuse_features(x, x[:, :2]).shape == (60, 5)
    with pytest.raises(ValueError):
        fx.fuse_features(x, x[:10])
