"""The shared validation helpers: accepted values, rejected values, one message style."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlemask import RLEError
from rlemask._validation import (
    MAX_PIXELS,
    check_area,
    check_array_2d,
    check_choice,
    check_mask,
    check_probability,
    check_probability_map,
    check_shape,
    check_size,
    check_threshold,
    is_empty_rle,
)


@given(st.integers(1, 2**21), st.integers(1, 2**21))
def test_check_shape_accepts_what_fits_and_rejects_the_rest(h, w):
    if h * w <= MAX_PIXELS:
        assert check_shape((h, w)) == (h, w)
        assert check_shape([np.int64(h), np.uint32(w)]) == (h, w)
        assert all(type(v) is int for v in check_shape(np.array([h, w])))
    else:
        with pytest.raises(RLEError, match=r"at most 2\*\*40 pixels"):
            check_shape((h, w))


@pytest.mark.parametrize("shape", [(2**62, 8), (2**40, 2**40), (2**63, 1), (1, 2**41)])
def test_check_shape_rejects_pixel_counts_that_do_not_fit(shape):
    with pytest.raises(RLEError, match=r"must have at most 2\*\*40 pixels.*received shape="):
        check_shape(shape)


@pytest.mark.parametrize(
    "shape", [(0, 5), (5, -1), (5,), (1, 2, 3), (2.0, 3), ("2", 3), None, 5, (True, 2), "ab"]
)
def test_check_shape_rejects_non_shapes(shape):
    with pytest.raises(RLEError, match=r"^`out` must be \(height, width\), two positive ints; "):
        check_shape(shape, "out")
    assert issubclass(RLEError, ValueError)


@pytest.mark.parametrize("size", [0, -3, 2.5, True, "64", (64,), (64, 0), (2**30, 2**30)])
def test_check_size_rejects(size):
    with pytest.raises(ValueError, match=r"^`img_size` must .*; received img_size="):
        check_size(size, "img_size")


def test_check_size_accepts_int_and_pairs():
    assert check_size(np.int32(7)) == (7, 7)
    assert check_size([3, np.int64(5)]) == (3, 5)
    assert check_size(2**20) == (2**20, 2**20)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_check_probability(value):
    if 0 <= value <= 1:
        assert check_probability(value, "p") == value
    else:
        with pytest.raises(ValueError, match=r"^`p` must be a number in 0..1; received p="):
            check_probability(value, "p")


def test_check_probability_rejects_bools_and_text():
    for value in (True, np.bool_(False), "0.5", None):
        with pytest.raises(ValueError, match="received thr="):
            check_threshold(value, "thr")
    assert check_threshold(np.float32(0.25), "thr") == 0.25


def test_check_area():
    assert check_area(np.uint16(3), "min_area") == 3
    for value in (-1, 1.0, True, "3"):
        with pytest.raises(ValueError, match="received min_area="):
            check_area(value, "min_area")


def test_check_choice():
    with pytest.raises(ValueError, match=r"`mode` must be one of 'a', 'b'; received mode=\['a'\]"):
        check_choice(["a"], "mode", ("a", "b"))


@pytest.mark.parametrize("dtype", ["<i2", ">i2", ">u4", "<i8", ">i8", "u1", "?", "i1"])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_check_mask_any_integer_dtype_byte_order_and_layout(dtype, layout):
    base = (np.arange(12).reshape(4, 3) % 3 == 0).astype(dtype)
    arr = {"C": base, "F": np.asfortranarray(base), "strided": base[::-1, ::2]}[layout]
    out = check_mask(arr)
    assert out.dtype.isnative and out.dtype.kind in "iu"
    np.testing.assert_array_equal(out != 0, arr != 0)


def test_check_mask_rejects():
    with pytest.raises(TypeError, match="received mask.dtype=float64"):
        check_mask(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"received m.shape=\(2,\)"):
        check_mask(np.zeros(2, np.uint8), "m")
    with pytest.raises(RLEError, match="positive height and width"):
        check_mask(np.zeros((0, 2), np.uint8))


def test_check_array_2d_and_probability_map():
    assert check_array_2d(np.ones((2, 2), ">f4"), "image").dtype == np.float32
    assert check_array_2d(np.ones((2, 2), bool), "image").dtype == np.uint8
    with pytest.raises(ValueError, match="received image.dtype=<U1"):
        check_array_2d(np.array([["a"]]), "image")
    with pytest.raises(ValueError, match="must have a positive height"):
        check_array_2d(np.zeros((0, 3)), "image")
    prob = np.zeros((3, 3), np.float32)
    prob[1, 1] = np.nan
    with pytest.raises(ValueError, match="`prob` must not contain NaN; received prob with 1 NaN"):
        check_probability_map(prob)


@pytest.mark.parametrize(
    "value",
    [None, float("nan"), np.float32("nan"), np.float64("nan"), "", "-1", " -1", "-1 ", b"-1", b""],
)
def test_empty_markers(value):
    assert is_empty_rle(value)


@pytest.mark.parametrize("value", ["0 1", "-2", 0, 1.0, np.float32(1), b"1 2", [], "- 1"])
def test_not_empty_markers(value):
    assert not is_empty_rle(value)
