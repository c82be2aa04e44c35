"""corelib.validate: each helper accepts the legal forms and names the argument when it refuses."""
import math

import numpy as np
import pytest
import torch

from corelib import validate as v


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_integer_accepts_python_and_numpy_ints(value):
    out = v.integer("n", value, min=1)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize("value", [3.0, True, "3", None, np.float32(3)])
def test_integer_refuses_other_kinds(value):
    with pytest.raises(TypeError, match="^n must be an integer"):
        v.integer("n", value)


def test_integer_bounds_and_positive_int():
    assert v.integer("k", 0, min=0, max=2) == 0
    with pytest.raises(ValueError, match=r"k must be an integer in \[0, 2\], got 3"):
        v.integer("k", 3, min=0, max=2)
    with pytest.raises(ValueError, match="n_boot must be a positive integer, got 0"):
        v.positive_int("n_boot", 0)
    with pytest.raises(TypeError, match="n_boot must be a positive integer, got 2.0"):
        v.positive_int("n_boot", 2.0)


def test_type_errors_are_also_value_errors():
    with pytest.raises(ValueError):
        v.positive_int("steps", 2.5)
    assert issubclass(v.ArgumentTypeError, TypeError) and issubclass(v.ArgumentTypeError, ValueError)


@pytest.mark.parametrize("value", [1, 2.5, np.float32(0.5), np.array(2.0), torch.tensor(1.5)])
def test_finite_accepts_real_scalars(value):
    assert isinstance(v.finite("x", value), float)


@pytest.mark.parametrize("value, exc, words", [
    (float("nan"), ValueError, "sigma must be a finite number, got nan"),
    (float("inf"), ValueError, "sigma must be a finite number, got inf"),
    (1 + 2j, TypeError, "sigma must be a real number"),
    ("1", TypeError, "sigma must be a real number"),
    (None, TypeError, "sigma must be a real number"),
    (True, TypeError, "sigma must be a real number"),
    (np.array([1.0, 2.0]), TypeError, "sigma must be a real number"),
])
def test_finite_refuses(value, exc, words):
    with pytest.raises(exc, match=words):
        v.finite("sigma", value)


def test_positive_nonnegative_in_range():
    assert v.positive("width", 2) == 2.0
    assert v.nonnegative("sigma", 0) == 0.0
    with pytest.raises(ValueError, match="width must be positive, got 0"):
        v.positive("width", 0)
    with pytest.raises(ValueError, match="sigma must be non-negative, got -1"):
        v.nonnegative("sigma", -1)
    assert v.in_range("level", 0.95, 0.5, 1, hi_open=True) == 0.95
    with pytest.raises(ValueError, match=r"level must be in \[0.5, 1\), got 1"):
        v.in_range("level", 1.0, 0.5, 1, hi_open=True)
    with pytest.raises(ValueError, match=r"cutoff must be in \(0, 0.5\)"):
        v.in_range("cutoff", 0, 0, 0.5, lo_open=True, hi_open=True)


def test_ordered():
    assert v.ordered("percentiles", 1, 99) == (1.0, 99.0)
    with pytest.raises(ValueError, match=r"percentiles must be \(low, high\) with low < high, got \(99, 1\)"):
        v.ordered("percentiles", 99, 1)
    assert v.ordered("soft_hu", 0, 0, strict=False) == (0.0, 0.0)


def test_one_of():
    assert v.one_of("mode", "nearest", ("bilinear", "nearest")) == "nearest"
    assert v.one_of("similarity", "NCC", ("ncc", "mse"), case_insensitive=True) == "ncc"
    with pytest.raises(ValueError, match="similarity must be one of 'ncc', 'mse'; got 'NCC'"):
        v.one_of("similarity", "NCC", ("ncc", "mse"))
    with pytest.raises(ValueError, match="dims must be one of 2, 3"):
        v.one_of("dims", True, (1, 2, 3)[1:])


def test_sizes_and_int_sizes():
    assert v.sizes("spacing", 2, 3) == (2.0, 2.0, 2.0)
    assert v.sizes("spacing", np.array([1, 2, 3]), 3) == (1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="spacing must be one number or 3 of them"):
        v.sizes("spacing", (1, 1), 3)
    with pytest.raises(ValueError, match="spacing must be positive"):
        v.sizes("spacing", (1, 0, 1), 3)
    with pytest.raises(ValueError, match="spacing must be a finite number"):
        v.sizes("spacing", (1, float("nan"), 1), 3)
    assert v.int_sizes("margin", 2, 3) == (2, 2, 2)
    with pytest.raises(ValueError, match="margin must be one integer or 3 of them"):
        v.int_sizes("margin", (1, 1), 3)
    with pytest.raises(ValueError, match="margin must be an integer at least 0, got -1"):
        v.int_sizes("margin", -1, 2)


def test_axis():
    assert v.axis("axis", -1, 3) == 2
    assert v.axis("axis", np.int64(1), 3) == 1
    with pytest.raises(ValueError, match=r"axis=3 is out of range for 3 dimensions \(allowed -3..2\)"):
        v.axis("axis", 3, 3)


def test_array_helpers():
    a = v.finite_array("image", [[1, 2], [3, 4]], ndim=2)
    assert isinstance(a, np.ndarray) and a.shape == (2, 2)
    assert v.array("x", torch.ones(2, dtype=torch.bfloat16)).dtype == np.float32
    with pytest.raises(ValueError, match=r"image must be 2D or 3D, got shape \(4,\)"):
        v.finite_array("image", np.zeros(4), ndim=(2, 3))
    with pytest.raises(ValueError, match="image contains 1 NaN or infinite value"):
        v.finite_array("image", [1.0, math.nan])
    with pytest.raises(ValueError, match="image is empty"):
        v.finite_array("image", np.zeros((0, 3)))
    with pytest.raises(TypeError, match="image must be real"):
        v.finite_array("image", np.ones(3, complex))
    with pytest.raises(TypeError, match="image must be numeric"):
        v.array("image", np.array(["a", "b"]))
    with pytest.raises(TypeError, match="image must be a numeric array"):
        v.array("image", [[1, 2], [3]])


def test_shape_length_empty_distinct():
    v.same_shape(("a", "b"), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"a and b must have the same shape, got \(3,\) and \(4,\)"):
        v.same_shape(("a", "b"), np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match="fields and pairs must have the same length, got 2 and 3"):
        v.same_length(("fields", "pairs"), [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="ids is empty"):
        v.nonempty("ids", [])
    assert v.distinct("ids", ["a", "b"]) == ["a", "b"]
    with pytest.raises(ValueError, match=r"indices has repeated items \[1\]"):
        v.distinct("indices", np.array([1, 1, 2]))


def test_tensor():
    x = torch.zeros(2, 1, 8, 8)
    assert v.tensor("x", x, ndim=4, channels=1, finite=True) is x
    with pytest.raises(TypeError, match="x must be a torch tensor, got ndarray"):
        v.tensor("x", np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match="x must have 3 channel"):
        v.tensor("x", x, channels=3)
    with pytest.raises(ValueError, match="x contains NaN"):
        v.tensor("x", torch.full((1, 1, 2, 2), float("nan")), finite=True)


def test_describe_is_short():
    assert v.describe(np.zeros((2, 3))) == "ndarray of shape (2, 3) and dtype float64"
    assert len(v.describe("x" * 500)) <= 80
