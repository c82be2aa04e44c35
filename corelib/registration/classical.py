"""Classical (iterative) registration baselines with SimpleITK, and numpy warping helpers.

Convention used in the whole chapter (the same as ``corelib.metrics.jacobian_determinant`` and
MONAI's ``Warp``): a displacement field ``u`` has shape ``(ndim, *shape)``, channel ``i`` is the
displacement along array axis ``i`` in voxels, and the warped moving image is
``warped(x) = moving(x + u(x))`` for every fixed-image voxel ``x``.

RG0 in book/survey_map.md (survey §3.1 context: affine and demons registration as the baseline).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from corelib import validate

__all__ = ["RegistrationResult", "warp", "transform_to_displacement", "euler_transform",
           "affine_register", "demons_register", "affine_then_demons"]


@dataclass
class RegistrationResult:
    """Output of a classical registration: field (voxels, array-axis order), warped image, time.

    ``iterations``: optimiser iterations summed over the resolution levels (affine only).
    """

    displacement: np.ndarray
    warped: np.ndarray
    seconds: float
    transform: Any = None
    iterations: int | None = None


def _check_image(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float32)
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be a 2D or 3D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_pair(fixed: Any, moving: Any) -> tuple[np.ndarray, np.ndarray]:
    f, m = _check_image(fixed, "fixed"), _check_image(moving, "moving")
    if f.shape != m.shape:
        raise ValueError(f"fixed {f.shape} and moving {m.shape} must have the same shape (pad or crop first)")
    return f, m


def _check_disp(disp: Any, shape: tuple[int, ...]) -> np.ndarray:
    u = np.asarray(disp, dtype=np.float64)
    if u.shape != (len(shape), *shape):
        raise ValueError(f"displacement must have shape {(len(shape), *shape)}, got {u.shape}")
    if not np.all(np.isfinite(u)):
        raise ValueError("displacement contains NaN or infinite values")
    return u


def warp(image: Any, disp: Any, order: int = 1, cval: float = 0.0) -> np.ndarray:
    """``image(x + disp(x))`` by interpolation (``order`` 1 linear, 0 nearest for label maps)."""
    img = validate.finite_array("image", image)  # one NaN pixel would spread to its neighbours
    if img.ndim not in (2, 3):
        raise ValueError(f"image must be 2D or 3D, got shape {img.shape}")
    validate.integer("order", order, min=0, max=5)
    validate.finite("cval", cval)
    u = _check_disp(disp, img.shape)
    coords = np.indices(img.shape, dtype=np.float64) + u
    out = ndimage.map_coordinates(img.astype(np.float64), coords, order=order, mode="constant", cval=cval)
    return out.astype(img.dtype) if order == 0 else out.astype(np.float32)


def _to_sitk(a: np.ndarray) -> sitk.Image:
    return sitk.GetImageFromArray(np.ascontiguousarray(a, dtype=np.float32))


def transform_to_displacement(transform: sitk.Transform, shape: Sequence[int]) -> np.ndarray:
    """Dense displacement ``(ndim, *shape)`` (voxels, array-axis order) of a SimpleITK transform.

    SimpleITK orders vector components as (x, y[, z]) = reversed array axes; this flips them.
    """
    validate.int_sizes("shape", tuple(shape), len(shape), min=1)
    ref = sitk.Image([int(s) for s in reversed(tuple(shape))], sitk.sitkFloat32)
    f = sitk.TransformToDisplacementFieldFilter()
    f.SetReferenceImage(ref)
    f.SetOutputPixelType(sitk.sitkVectorFloat64)
    field = sitk.GetArrayFromImage(f.Execute(transform))  # (*shape, ndim) in (x, y, z) order
    return np.moveaxis(field[..., ::-1], -1, 0).astype(np.float32)


def euler_transform(params: Any, shape: Sequence[int]) -> sitk.Euler2DTransform:
    """SimpleITK ``Euler2DTransform`` of rigid ``params = (angle_deg, t_row, t_col)`` on a 2D grid.

    The same map as :func:`corelib.registration.rigid_displacement` (rotation about the image
    centre, counter-clockwise in (x = column, y = row), then the shift), for unit spacing and a
    zero origin, e.g. to start :func:`affine_register` from a network's prediction.
    """
    p = np.asarray(params, dtype=np.float64).reshape(-1)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ValueError(f"params must be 3 finite numbers (angle_deg, t_row, t_col), got {params!r}")
    if len(shape) != 2:
        raise ValueError(f"shape must be a 2D (rows, cols) shape, got {tuple(shape)}")
    h, w = shape
    return sitk.Euler2DTransform(((w - 1) / 2, (h - 1) / 2), float(np.deg2rad(p[0])),
                                 (float(p[2]), float(p[1])))


def affine_register(fixed: Any, moving: Any, kind: str = "affine", metric: str = "mse",
                    levels: Sequence[int] = (4, 2, 1), iterations: int = 200,
                    initial: sitk.Transform | None = None) -> RegistrationResult:
    """Multi-resolution rigid / similarity / affine registration (SimpleITK, gradient descent).

    Moments-based initialisation, or ``initial``: a SimpleITK transform to start from (e.g.
    :func:`euler_transform` of a network's prediction), converted to ``kind``. ``metric`` "mse",
    "ncc" or "mattes" (mutual information, for different contrasts), shrink factors ``levels``
    with Gaussian smoothing. The result counts the optimiser's ``iterations`` over all levels.
    """
    f, m = _check_pair(fixed, moving)
    metric = validate.one_of("metric", metric, ("mse", "ncc", "mattes"), case_insensitive=True)
    kind = validate.one_of("kind", kind, ("rigid", "similarity", "affine"), case_insensitive=True)
    validate.int_sizes("levels", validate.nonempty("levels", levels), len(levels), min=1)
    validate.positive_int("iterations", iterations)
    kinds = {"rigid": (sitk.Euler2DTransform, sitk.Euler3DTransform),
             "similarity": (sitk.Similarity2DTransform, sitk.Similarity3DTransform),
             "affine": (lambda: sitk.AffineTransform(2), lambda: sitk.AffineTransform(3))}
    if kind not in kinds:
        raise ValueError(f"kind must be one of {sorted(kinds)}, got {kind!r}")
    if initial is not None and not all(hasattr(initial, a) for a in
                                       ("GetCenter", "GetMatrix", "GetTranslation", "GetDimension")):
        raise TypeError(f"initial must be a SimpleITK matrix transform (Euler, Similarity, Affine; "
                        f"e.g. euler_transform(...)), got {type(initial).__name__}")
    if initial is not None and initial.GetDimension() != f.ndim:
        raise ValueError(f"initial is a {initial.GetDimension()}D transform for {f.ndim}D images")
    t0 = time.perf_counter()
    fi, mi = _to_sitk(f), _to_sitk(m)
    if initial is None:
        init = sitk.CenteredTransformInitializer(fi, mi, kinds[kind][f.ndim - 2](),
                                                 sitk.CenteredTransformInitializerFilter.MOMENTS)
    else:
        init = kinds[kind][f.ndim - 2]()
        init.SetCenter(initial.GetCenter())
        if kind == "affine":
            init.SetMatrix(initial.GetMatrix())
        else:  # rigid / similarity: the matrix must be a rotation (times a scale)
            init.SetMatrix(initial.GetMatrix(), 1e-5)
        init.SetTranslation(initial.GetTranslation())
    reg = sitk.ImageRegistrationMethod()
    if metric == "mse":
        reg.SetMetricAsMeanSquares()
    elif metric == "ncc":
        reg.SetMetricAsCorrelation()
    elif metric == "mattes":
        reg.SetMetricAsMattesMutualInformation(32)
    else:
        raise ValueError(f"metric must be 'mse', 'ncc' or 'mattes', got {metric!r}")
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-4, iterations, relaxationFactor=0.7)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel(list(levels))
    reg.SetSmoothingSigmasPerLevel([max(s - 1, 0) * 0.5 for s in levels])
    reg.SetInitialTransform(init, inPlace=False)
    count = [0]
    reg.AddCommand(sitk.sitkIterationEvent, lambda: count.__setitem__(0, count[0] + 1))
    tx = reg.Execute(fi, mi)
    disp = transform_to_displacement(tx, f.shape)
    seconds = time.perf_counter() - t0
    return RegistrationResult(disp, warp(m, disp), seconds, tx, count[0])


def demons_register(fixed: Any, moving: Any, initial: Any = None, levels: Sequence[int] = (4, 2, 1),
                    iterations: Sequence[int] | int = (100, 60, 30), sigma: float = 1.5,
                    diffeomorphic: bool = True) -> RegistrationResult:
    """Multi-resolution (diffeomorphic) demons (SimpleITK), optionally from an initial field.

    Moving intensities are histogram-matched to the fixed image first (demons assumes equal
    intensities). ``sigma``: Gaussian smoothing of the field (voxels at full resolution).
    """
    f, m = _check_pair(fixed, moving)
    validate.int_sizes("levels", validate.nonempty("levels", levels), len(levels), min=1)
    validate.int_sizes("iterations", iterations, len(levels), min=1)
    validate.positive("sigma", sigma)
    iters = [iterations] * len(levels) if isinstance(iterations, int) else list(iterations)
    if len(iters) != len(levels):
        raise ValueError(f"give one iteration count per level: {len(levels)} levels, {len(iters)} counts")
    t0 = time.perf_counter()
    fi, mi = _to_sitk(f), _to_sitk(m)
    mi = sitk.HistogramMatching(mi, fi, 64, 7, True)
    if initial is not None:
        u0 = _check_disp(initial, f.shape)
        field = sitk.GetImageFromArray(np.moveaxis(u0, 0, -1)[..., ::-1].astype(np.float64), isVector=True)
    else:
        field = sitk.Image(fi.GetSize(), sitk.sitkVectorFloat64, f.ndim)
    field.CopyInformation(fi)
    filt = (sitk.DiffeomorphicDemonsRegistrationFilter() if diffeomorphic
            else sitk.DemonsRegistrationFilter())
    filt.SetSmoothDisplacementField(True)
    for shrink, n in zip(levels, iters):
        fl = sitk.Shrink(sitk.SmoothingRecursiveGaussian(fi, 0.5 * shrink), [shrink] * f.ndim) if shrink > 1 else fi
        ml = sitk.Shrink(sitk.SmoothingRecursiveGaussian(mi, 0.5 * shrink), [shrink] * f.ndim) if shrink > 1 else mi
        field = sitk.Resample(field, fl, sitk.Transform(), sitk.sitkLinear, 0.0, field.GetPixelID())
        filt.SetNumberOfIterations(int(n))
        filt.SetStandardDeviations(max(sigma / shrink, 0.5))
        field = filt.Execute(fl, ml, field)
    field = sitk.Resample(field, fi, sitk.Transform(), sitk.sitkLinear, 0.0, field.GetPixelID())
    disp = np.moveaxis(sitk.GetArrayFromImage(field)[..., ::-1], -1, 0).astype(np.float32)
    seconds = time.perf_counter() - t0
    return RegistrationResult(disp, warp(m, disp), seconds)


def affine_then_demons(fixed: Any, moving: Any, **demons_kw: Any) -> RegistrationResult:
    """The deformable baseline: affine (multi-resolution, MSE) then demons started from it."""
    t0 = time.perf_counter()
    aff = affine_register(fixed, moving, kind="affine")
    res = demons_register(fixed, moving, initial=aff.displacement, **demons_kw)
    res.seconds = time.perf_counter() - t0
    res.transform = aff.transform
    return res
