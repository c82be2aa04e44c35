"""Small input checks for corelib's public functions (issue 11: no silent wrong results).

Each helper checks one argument and returns it in a normal form (a Python ``int``/``float``, a
NumPy array, a tuple), or raises with a short message: which argument, what was given, what is
allowed. Value problems raise ``ValueError``; an argument of the wrong kind raises
:class:`ArgumentTypeError`, which is both a ``TypeError`` and a ``ValueError`` (so callers that
catch either keep working).

Use them at the start of a public function, not in inner loops::

    sigma = validate.nonnegative("sigma", sigma)
    image = validate.finite_array("image", image, ndim=(2, 3))
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["ArgumentTypeError", "describe", "integer", "positive_int", "number", "finite", "positive",
           "nonnegative", "in_range", "ordered", "one_of", "sizes", "int_sizes", "axis", "array",
           "finite_array", "ndim", "same_shape", "same_length", "nonempty", "distinct", "tensor"]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong kind (a string for a number, a float for a count, ...)."""


def describe(value: Any) -> str:
    """A short description of ``value`` for a message: arrays by shape and dtype, others by repr."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def integer(name: str, value: Any, *, min: int | None = None, max: int | None = None) -> int:
    """A whole number (Python or NumPy integer, not bool or float) within ``[min, max]``."""
    if not _is_int(value):
        raise ArgumentTypeError(f"{name} must be an integer, got {describe(value)}")
    value = int(value)
    if (min is not None and value < min) or (max is not None and value > max):
        allowed = (f"at least {min}" if max is None else f"at most {max}" if min is None
                   else f"in [{min}, {max}]")
        raise ValueError(f"{name} must be an integer {allowed}, got {value}")
    return value


def positive_int(name: str, value: Any) -> int:
    """An integer of at least 1 (a count, a size, a number of steps)."""
    if not _is_int(value):
        raise ArgumentTypeError(f"{name} must be a positive integer, got {describe(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {int(value)}")
    return int(value)


def number(name: str, value: Any) -> float:
    """A real number (Python or NumPy scalar, or a 0-d array); NaN and inf are allowed here."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if hasattr(value, "numel") and hasattr(value, "item") and value.numel() == 1 and value.ndim == 0:
        value = value.item()  # a 0-d torch tensor
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (complex, np.complexfloating)) \
            or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise ArgumentTypeError(f"{name} must be a real number, got {describe(value)}")
    return float(value)


def finite(name: str, value: Any) -> float:
    """A finite real number (not NaN, not inf)."""
    v = number(name, value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v}")
    return v


def positive(name: str, value: Any) -> float:
    """A finite number > 0."""
    v = finite(name, value)
    if v <= 0:
        raise ValueError(f"{name} must be positive, got {v:g}")
    return v


def nonnegative(name: str, value: Any) -> float:
    """A finite number >= 0."""
    v = finite(name, value)
    if v < 0:
        raise ValueError(f"{name} must be non-negative, got {v:g}")
    return v


def in_range(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False,
             hi_open: bool = False) -> float:
    """A finite number in the interval from ``lo`` to ``hi`` (closed unless ``lo_open``/``hi_open``)."""
    v = finite(name, value)
    if (v < lo or (lo_open and v == lo)) or (v > hi or (hi_open and v == hi)):
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {v:g}")
    return v


def ordered(name: str, lo: Any, hi: Any, *, strict: bool = True) -> tuple[float, float]:
    """Two finite numbers ``(lo, hi)`` with ``lo < hi`` (``lo <= hi`` when not ``strict``)."""
    a, b = finite(f"{name}[0]", lo), finite(f"{name}[1]", hi)
    if a > b or (strict and a == b):
        raise ValueError(f"{name} must be (low, high) with low {'<' if strict else '<='} high, got ({a:g}, {b:g})")
    return a, b


def one_of(name: str, value: Any, choices: Iterable[Any], *, case_insensitive: bool = False) -> Any:
    """``value`` if it is one of ``choices`` (strings matched ignoring case when asked); the canonical choice."""
    choices = list(choices)
    if value in choices and not isinstance(value, bool):
        return value
    if case_insensitive and isinstance(value, str):
        for c in choices:
            if isinstance(c, str) and c.lower() == value.lower():
                return c
    raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {describe(value)}")


def sizes(name: str, value: Any, n: int, *, allow_zero: bool = False) -> tuple[float, ...]:
    """One finite positive number or ``n`` of them (a spacing, a voxel size) -> a tuple of ``n`` floats."""
    if np.ndim(value) == 0:
        values = [value] * n
    else:
        values = list(np.asarray(value).ravel()) if not isinstance(value, (list, tuple)) else list(value)
        if len(values) != n:
            raise ValueError(f"{name} must be one number or {n} of them (one per axis), got {describe(value)}")
    out = tuple(finite(name, v) for v in values)
    if any(v < 0 or (v == 0 and not allow_zero) for v in out):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {describe(value)}")
    return out


def int_sizes(name: str, value: Any, n: int, *, min: int = 0) -> tuple[int, ...]:
    """One integer or ``n`` of them, each at least ``min`` (a margin, a patch size) -> a tuple of ``n`` ints."""
    if np.ndim(value) == 0:
        values = [value] * n
    else:
        values = list(value)
        if len(values) != n:
            raise ValueError(f"{name} must be one integer or {n} of them (one per axis), got {describe(value)}")
    return tuple(integer(name, v, min=min) for v in values)


def axis(name: str, value: Any, n_dims: int) -> int:
    """An axis index valid for ``n_dims`` dimensions (negative counts from the end) -> ``0..n_dims-1``."""
    a = integer(name, value)
    if not -n_dims <= a < n_dims:
        raise ValueError(f"{name}={a} is out of range for {n_dims} dimensions (allowed {-n_dims}..{n_dims - 1})")
    return a % n_dims


def _as_numpy(name: str, value: Any) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch tensor
        value = value.detach().cpu()
        if str(value.dtype) in ("torch.bfloat16", "torch.float16"):
            value = value.float()
        value = value.numpy()
    try:
        a = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ArgumentTypeError(f"{name} must be a numeric array (ragged lists or mixed types?): "
                                f"{str(exc).split('.')[0]}") from None
    if a.dtype == object:
        raise ArgumentTypeError(f"{name} must be a numeric array, got {describe(value)} "
                                "(ragged lists or mixed types?)")
    return a


def _ndim(name: str, a: Any, allowed: int | Sequence[int]) -> None:
    """Check that ``a`` has one of the allowed numbers of dimensions."""
    allowed = (allowed,) if isinstance(allowed, int) else tuple(allowed)
    nd = len(a.shape) if hasattr(a, "shape") else np.ndim(a)
    if nd not in allowed:
        want = " or ".join(f"{k}D" for k in allowed)
        raise ValueError(f"{name} must be {want}, got shape {tuple(np.shape(a))}")


ndim = _ndim


def array(name: str, value: Any, *, ndim: int | Sequence[int] | None = None, nonempty: bool = True,
          real: bool = True, finite: bool = False) -> np.ndarray:
    """``value`` as a numeric NumPy array (torch tensors too), with optional checks."""
    a = _as_numpy(name, value)
    if a.dtype.kind not in "biufc":
        raise ArgumentTypeError(f"{name} must be numeric, got dtype {a.dtype}")
    if real and a.dtype.kind == "c":
        raise ArgumentTypeError(f"{name} must be real, got complex values (take np.abs or .real first)")
    if ndim is not None:
        _ndim(name, a, ndim)
    if nonempty and a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if finite and a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        n_bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"{name} contains {n_bad} NaN or infinite value(s)")
    return a


def finite_array(name: str, value: Any, *, ndim: int | Sequence[int] | None = None,
                 nonempty: bool = True) -> np.ndarray:
    """A real, non-empty, finite numeric array."""
    return array(name, value, ndim=ndim, nonempty=nonempty, finite=True)


def same_shape(names: tuple[str, str], a: Any, b: Any) -> None:
    """Check that two arrays have the same shape."""
    if tuple(np.shape(a)) != tuple(np.shape(b)):
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, "
                         f"got {tuple(np.shape(a))} and {tuple(np.shape(b))}")


def same_length(names: tuple[str, str], a: Any, b: Any) -> None:
    """Check that two sequences have the same length (instead of letting ``zip`` truncate)."""
    if len(a) != len(b):
        raise ValueError(f"{names[0]} and {names[1]} must have the same length, got {len(a)} and {len(b)}")


def nonempty(name: str, seq: Any) -> Any:
    """A sequence with at least one element."""
    if seq is None or len(seq) == 0:
        raise ValueError(f"{name} is empty; give at least one item")
    return seq


def distinct(name: str, seq: Any) -> Any:
    """A sequence without repeated items."""
    items = np.asarray(seq).ravel().tolist() if hasattr(seq, "shape") else list(seq)
    seen, dup = set(), []
    for x in items:
        if x in seen and x not in dup:
            dup.append(x)
        seen.add(x)
    if dup:
        raise ValueError(f"{name} has repeated items {dup[:5]}; each must appear once")
    return seq


def tensor(name: str, x: Any, *, ndim: int | Sequence[int] | None = None, channels: int | None = None,
           finite: bool = False) -> Any:
    """A torch tensor with the given number of dimensions and channel count (dimension 1)."""
    import torch

    if not isinstance(x, torch.Tensor):
        raise ArgumentTypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if ndim is not None:
        _ndim(name, x, ndim)
    if channels is not None and (x.ndim < 2 or x.shape[1] != channels):
        raise ValueError(f"{name} must have {channels} channel(s) (dimension 1), got shape {tuple(x.shape)}")
    if finite and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x
