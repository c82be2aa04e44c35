"""Handcrafted (radiomics-style) features and classical classifiers (survey §4.1, CL0 and CL7).

First-order intensity statistics, shape of the central dark region (breast lesions are mostly
hypo-echoic in ultrasound), GLCM texture (scikit-image ``graycomatrix``/``graycoprops``) and GLRLM
run-length texture (written by hand: scikit-image has no GLRLM), after the radiomics pipelines the
survey cites [93]. Classifiers are scikit-learn pipelines whose hyper-parameter is chosen on the
validation split only.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from corelib import validate

__all__ = ["first_order_features", "shape_features", "glcm_features", "glrlm_features", "extract_features",
           "CLASSIFIERS", "fit_select", "fuse_features"]


def _check_image(img: Any) -> np.ndarray:
    """The binning is explicit: uint8 images are grey levels 0..255 (divided by 255), float (or bool)
    images must already lie in [0, 1]; other integer types (uint16, int32, ...) are refused."""
    src = validate.array("img", img)
    if src.dtype.kind in "iu" and src.dtype != np.uint8:
        raise ValueError(f"img has dtype {src.dtype}; give uint8 grey levels (0..255) or floats in [0, 1]")
    if src.dtype.kind == "f" and src.size and np.all(np.isfinite(src)) and (src.min() < 0 or src.max() > 1):
        raise ValueError(f"float img must lie in [0, 1], got values in [{src.min():g}, {src.max():g}]; "
                         "for grey levels 0..255 pass uint8 (or divide by 255)")
    a = np.asarray(img)
    if a.ndim != 2:
        raise ValueError(f"expected one 2D grey image, got shape {a.shape}")
    if a.size == 0 or min(a.shape) < 3:
        raise ValueError(f"image too small: {a.shape}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError("image contains NaN or inf")
    return a / 255.0 if np.asarray(img).dtype == np.uint8 else a


def _quantize(a: np.ndarray, levels: int) -> np.ndarray:
    """[0, 1] intensities -> integer grey levels 0..levels-1 (fixed bin width, as radiomics tools do)."""
    return np.clip((np.clip(a, 0, 1) * levels).astype(int), 0, levels - 1)


def first_order_features(img: Any) -> dict[str, float]:
    """Intensity statistics: mean, std, skewness, kurtosis, percentiles, IQR, energy, entropy (32 bins)."""
    from scipy import stats

    a = _check_image(img).ravel()
    p10, p25, p50, p75, p90 = np.percentile(a, [10, 25, 50, 75, 90])
    hist = np.bincount(_quantize(a, 32), minlength=32) / a.size
    nz = hist[hist > 0]
    flat = a.std() < 1e-12
    return {"mean": a.mean(), "std": a.std(), "skewness": 0.0 if flat else float(stats.skew(a)),
            "kurtosis": 0.0 if flat else float(stats.kurtosis(a)), "p10": p10, "median": p50, "p90": p90,
            "iqr": p75 - p25, "energy": float(np.mean(a ** 2)), "entropy": float(-(nz * np.log2(nz)).sum())}


def _central_region(a: np.ndarray) -> np.ndarray:
    """Mask of the dark connected region nearest the image centre (Otsu threshold after smoothing)."""
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    s = ndi.gaussian_filter(a, 1.0)
    if s.max() - s.min() < 1e-9:
        return np.zeros(a.shape, bool)
    lab, n = ndi.label(s < threshold_otsu(s))
    if n == 0:
        return np.zeros(a.shape, bool)
    cy, cx = (np.array(a.shape) - 1) / 2
    best, best_d = 0, np.inf
    for i, (sy, sx) in enumerate(ndi.find_objects(lab), start=1):
        yy, xx = np.nonzero(lab[sy, sx] == i)
        d = np.min(np.hypot(yy + sy.start - cy, xx + sx.start - cx))
        if d < best_d:
            best, best_d = i, d
    return ndi.binary_fill_holes(lab == best)


def shape_features(img: Any, mask: Any | None = None) -> dict[str, float]:
    """Shape of a region (default: the central dark region): area fraction, circularity, eccentricity,
    solidity, extent, axis ratio, and contrast between inside and outside. All zero for an empty mask."""
    from skimage.measure import perimeter, regionprops

    a = _check_image(img)
    m = _central_region(a) if mask is None else np.asarray(mask, bool)
    if m.shape != a.shape:
        raise ValueError(f"mask shape {m.shape} differs from image shape {a.shape}")
    names = ("area_frac", "circularity", "eccentricity", "solidity", "extent", "axis_ratio", "in_out_contrast")
    if m.sum() < 2:
        return dict.fromkeys(names, 0.0)
    r = regionprops(m.astype(np.uint8))[0]
    per = perimeter(m)
    out = [m.mean(), min(1.0, 4 * np.pi * r.area / max(per, 1e-9) ** 2), r.eccentricity, r.solidity, r.extent,
           r.axis_minor_length / max(r.axis_major_length, 1e-9),
           a[~m].mean() - a[m].mean() if (~m).any() else 0.0]
    return dict(zip(names, map(float, out)))


def glcm_features(img: Any, levels: int = 32, distances: tuple[int, ...] = (1, 2)) -> dict[str, float]:
    """GLCM texture (scikit-image), symmetric and normalised, averaged over 0/45/90/135 degrees, per distance."""
    from skimage.feature import graycomatrix, graycoprops

    validate.integer("levels", levels, min=2, max=256)  # more would wrap around in uint8
    for d in validate.nonempty("distances", distances):
        validate.positive_int("distances", d)
    q = _quantize(_check_image(img), levels).astype(np.uint8)
    g = graycomatrix(q, distances=list(distances), angles=[0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
                     levels=levels, symmetric=True, normed=True)
    out = {}
    for prop in ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM"):
        v = graycoprops(g, prop)
        v = np.nan_to_num(v, nan=1.0) if prop == "correlation" else v  # constant image: correlation undefined
        for j, d in enumerate(distances):
            out[f"glcm_{prop}_d{d}"] = float(v[j].mean())
    return out


def _runs(line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grey level, length) of each run of equal values in a 1D array."""
    change = np.flatnonzero(np.diff(line)) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.concatenate((starts, [len(line)])))
    return line[starts], lengths


def glrlm_features(img: Any, levels: int = 8) -> dict[str, float]:
    """Grey-level run-length texture, written by hand (Galloway 1975): SRE, LRE, GLN, RLN and run percentage,
    averaged over the 0, 45, 90 and 135 degree directions."""
    validate.integer("levels", levels, min=2)
    q = _quantize(_check_image(img), levels)
    h, w = q.shape
    lines = {0: list(q), 90: list(q.T),
             45: [np.diagonal(q[::-1], k) for k in range(-h + 1, w)],
             135: [np.diagonal(q, k) for k in range(-h + 1, w)]}
    feats = []
    for direction in lines.values():
        rl = np.zeros((levels, max(h, w) + 1))
        for line in direction:
            g, n = _runs(np.asarray(line))
            np.add.at(rl, (g, n), 1)
        n_runs = rl.sum()
        j = np.arange(rl.shape[1])[None, :]
        j2 = np.maximum(j, 1) ** 2
        feats.append([(rl / j2).sum() / n_runs, (rl * j ** 2).sum() / n_runs, (rl.sum(1) ** 2).sum() / n_runs,
                      (rl.sum(0) ** 2).sum() / n_runs, n_runs / q.size])
    names = ("glrlm_SRE", "glrlm_LRE", "glrlm_GLN", "glrlm_RLN", "glrlm_RP")
    return dict(zip(names, map(float, np.mean(feats, axis=0))))


FEATURE_GROUPS: dict[str, Callable[[Any], dict[str, float]]] = {
    "first_order": first_order_features, "shape": shape_features, "glcm": glcm_features, "glrlm": glrlm_features}


def extract_features(images: Any, groups: tuple[str, ...] = tuple(FEATURE_GROUPS)) -> tuple[np.ndarray, list[str]]:
    """Features of each grey image (N, H, W) -> (array (N, F) float64, feature names)."""
    imgs = np.asarray(images)
    if imgs.ndim != 3 or len(imgs) == 0:
        raise ValueError(f"expected a stack of grey images (N, H, W), got shape {imgs.shape}")
    bad = [g for g in groups if g not in FEATURE_GROUPS]
    if bad:
        raise ValueError(f"unknown feature group(s) {bad}; choose from {sorted(FEATURE_GROUPS)}")
    rows, names = [], None
    for im in imgs:
        d: dict[str, float] = {}
        for g in groups:
            d.update(FEATURE_GROUPS[g](im))
        names = names or list(d)
        rows.append([d[k] for k in names])
    return np.asarray(rows, dtype=np.float64), list(names or [])


def _make(name: str, value: float, seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if name == "logistic regression":
        clf = LogisticRegression(C=value, max_iter=5000)
    elif name == "SVM (RBF)":
        from sklearn.calibration import CalibratedClassifierCV

        clf = CalibratedClassifierCV(SVC(C=value, gamma="scale", random_state=seed),
                                     cv=3, ensemble=False)
    else:
        clf = RandomForestClassifier(n_estimators=300, min_samples_leaf=int(value),
                                     random_state=seed, n_jobs=1)
    return make_pipeline(StandardScaler(), clf)


CLASSIFIERS: dict[str, tuple[float, ...]] = {
    "logistic regression": (0.01, 0.1, 1.0, 10.0),   # C
    "SVM (RBF)": (0.3, 1.0, 3.0, 10.0),              # C
    "random forest": (1, 3, 5),                      # min_samples_leaf
}


def fit_select(name: str, x_train: Any, y_train: Any, x_val: Any, y_val: Any, seed: int = 0) -> tuple[Any, dict]:
    """Fit ``name`` (a key of :data:`CLASSIFIERS`) for each value of its grid; keep the best validation AUC.

    Returns the fitted pipeline and ``{"param": value, "val_AUC": auc}``. The test split is never seen.
    """
    from sklearn.metrics import roc_auc_score

    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; choose from {sorted(CLASSIFIERS)}")
    y_train, y_val = np.asarray(y_train).ravel(), np.asarray(y_val).ravel()
    if np.unique(y_train).size < 2:
        raise ValueError("training labels hold a single class; a classifier needs both")
    best: tuple[float, Any, float] | None = None
    for v in CLASSIFIERS[name]:
        model = _make(name, v, seed).fit(x_train, y_train)
        auc = roc_auc_score(y_val, model.predict_proba(x_val)[:, -1])
        if best is None or auc > best[0]:
            best = (auc, model, v)
    assert best is not None
    return best[1], {"param": best[2], "val_AUC": float(best[0])}


def fuse_features(handcrafted: Any, deep: Any) -> np.ndarray:
    """Fusion of handcrafted and deep features by concatenation (each block later standardised) [107]-[109]."""
    h, d = np.asarray(handcrafted, np.float64), np.asarray(deep, np.float64)
    if h.ndim != 2 or d.ndim != 2 or len(h) != len(d):
        raise ValueError(f"expected (N, F1) and (N, F2) with the same N, got {h.shape} and {d.shape}")
    return np.concatenate([h, d], axis=1)
