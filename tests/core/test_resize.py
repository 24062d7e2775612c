"""resize_image / resize_mask against the per-pixel references in reference_geometry."""

from __future__ import annotations

import os

import numpy as np
import pytest
import reference_geometry as ref
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rlemask

pytestmark = pytest.mark.kernels

# 1024 x 1024 arrays through the kernels as plain Python take minutes
needs_jit = pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="full-size arrays are slow without numba"
)

MASK_METHODS = ("nearest", "any", "area")
side = st.integers(1, 12)


@st.composite
def masks(draw):
    h, w = draw(side), draw(side)
    return draw(arrays(np.uint8, (h, w), elements=st.integers(0, 1)))


@st.composite
def images(draw):
    h, w = draw(side), draw(side)
    return draw(arrays(np.uint8, (h, w)))


# ---------------------------------------------------------------- masks vs references
@given(masks(), side, side)
def test_nearest_matches_reference(mask, oh, ow):
    out = rlemask.resize_mask(mask, (oh, ow), method="nearest")
    np.testing.assert_array_equal(out, ref.resize_mask_nearest(mask, oh, ow))


@given(masks(), side, side)
def test_any_matches_reference(mask, oh, ow):
    out = rlemask.resize_mask(mask, (oh, ow), method="any")
    np.testing.assert_array_equal(out, ref.resize_mask_any(mask, oh, ow))


@given(masks(), side, side)
def test_area_matches_reference(mask, oh, ow):
    out = rlemask.resize_mask(mask, (oh, ow), method="area")
    np.testing.assert_array_equal(out, ref.resize_mask_area(mask, oh, ow))


@given(
    st.integers(1, 4),
    st.integers(1, 3),
    st.sampled_from([1, 2, 3, 4, 8]),
    st.sampled_from([1, 2, 3, 4, 8]),
    st.data(),
)
def test_integer_factor_fast_paths_match_reference(oh, ow, fy, fx, data):
    # widths that are multiples of 8 take the word-at-a-time paths
    mask = data.draw(arrays(np.uint8, (oh * fy, ow * fx * 8), elements=st.integers(0, 3)))
    size = (oh, ow * 8)
    np.testing.assert_array_equal(
        rlemask.resize_mask(mask, size, method="nearest"), ref.resize_mask_nearest(mask, *size)
    )
    np.testing.assert_array_equal(
        rlemask.resize_mask(mask, size, method="any"), ref.resize_mask_any(mask, *size)
    )
    np.testing.assert_array_equal(
        rlemask.resize_mask(mask, size, method="area"), ref.resize_mask_area(mask, *size)
    )


@given(masks(), side, side)
def test_any_never_loses_a_region_and_contains_the_other_methods(mask, oh, ow):
    out = rlemask.resize_mask(mask, (oh, ow), method="any")
    ih, iw = mask.shape
    shrinking = oh <= ih and ow <= iw
    if shrinking:
        # every foreground input pixel lies under some foreground output pixel
        for r, c in zip(*np.nonzero(mask), strict=True):
            rows = [i for i in range(oh) if r in ref.any_pixels(i, ih, oh)]
            cols = [j for j in range(ow) if c in ref.any_pixels(j, iw, ow)]
            assert any(out[i, j] for i in rows for j in cols)
        assert out.any() == mask.any()
    # nearest samples a pixel of the footprint: "any" contains it at every size;
    # "area" may take a tie across two input pixels when enlarging, so only when shrinking
    nearest = rlemask.resize_mask(mask, (oh, ow), method="nearest")
    assert not np.any(nearest & ~out.astype(bool))
    if shrinking:
        area = rlemask.resize_mask(mask, (oh, ow), method="area")
        assert not np.any(area & ~out.astype(bool))


@given(masks(), st.integers(1, 4), st.integers(1, 4), st.sampled_from(MASK_METHODS))
def test_integer_round_trip_gives_the_mask_back(mask, ky, kx, method):
    h, w = mask.shape
    big = rlemask.resize_mask(mask, (h * ky, w * kx), method=method)
    np.testing.assert_array_equal(big, np.repeat(np.repeat(mask, ky, 0), kx, 1))
    np.testing.assert_array_equal(rlemask.resize_mask(big, (h, w), method=method), mask)


@pytest.mark.parametrize(
    "dtype", [np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.int64, np.float32, np.float64]
)
@pytest.mark.parametrize("method", MASK_METHODS)
def test_output_is_binary_uint8_for_every_dtype(dtype, method):
    rng = np.random.default_rng(1234)
    raw = rng.integers(0, 3, (13, 17)) * (1 if dtype == np.bool_ else 100)
    mask = raw.astype(dtype)
    expected = ref.resize_mask_any((raw != 0).astype(np.uint8), 5, 6) if method == "any" else None
    for size in ((5, 6), (26, 34), (13, 17), 7):
        out = rlemask.resize_mask(mask, size, method=method)
        assert out.dtype == np.uint8 and out.flags.c_contiguous
        assert set(np.unique(out)) <= {0, 1}
        # the same answer as for the 0/1 version of the mask
        np.testing.assert_array_equal(
            out, rlemask.resize_mask((raw != 0).astype(np.uint8), size, method=method)
        )
    if expected is not None:
        np.testing.assert_array_equal(rlemask.resize_mask(mask, (5, 6), method="any"), expected)


@pytest.mark.parametrize("method", MASK_METHODS)
def test_layouts_give_the_same_result(method):
    rng = np.random.default_rng(1234)
    mask = (rng.random((24, 40)) < 0.3).astype(np.uint8)
    expected = rlemask.resize_mask(mask, (6, 10), method=method)
    fortran = np.asfortranarray(mask)
    strided = np.zeros((48, 80), np.uint8)
    strided[::2, ::2] = mask
    for variant in (fortran, strided[::2, ::2], mask.T.copy().T):
        out = rlemask.resize_mask(variant, (6, 10), method=method)
        assert out.flags.c_contiguous
        np.testing.assert_array_equal(out, expected)
    # an offset view whose words are not aligned still works
    buffer = np.zeros(24 * 40 + 3, np.uint8)
    shifted = buffer[3:].reshape(24, 40)
    shifted[:] = mask
    np.testing.assert_array_equal(rlemask.resize_mask(shifted, (6, 10), method=method), expected)


def test_round_trip_256_1024_256_nearest_full_size():
    rng = np.random.default_rng(1234)
    mask = (rng.random((256, 256)) < 0.2).astype(np.uint8)
    back = rlemask.resize_mask(rlemask.resize_mask(mask, 1024), 256)
    np.testing.assert_array_equal(back, mask)


@needs_jit
def test_full_size_fast_paths_match_numpy():
    rng = np.random.default_rng(1234)
    mask = (rng.random((1024, 1024)) < 0.01).astype(np.uint8) * 255
    np.testing.assert_array_equal(
        rlemask.resize_mask(mask, 256, method="any"),
        (mask.reshape(256, 4, 256, 4).max((1, 3)) != 0).astype(np.uint8),
    )
    np.testing.assert_array_equal(
        rlemask.resize_mask(mask, 256, method="nearest"), (mask[2::4, 2::4] != 0).astype(np.uint8)
    )
    counts = (mask != 0).reshape(256, 4, 256, 4).sum((1, 3))
    np.testing.assert_array_equal(
        rlemask.resize_mask(mask, 256, method="area"), (counts >= 8).astype(np.uint8)
    )


def test_a_single_pixel_survives_any_but_not_area():
    mask = np.zeros((1024, 1024), np.uint8)
    mask[513, 1022] = 1
    small = rlemask.resize_mask(mask, 256, method="any")
    assert small.sum() == 1 and small[128, 255] == 1
    assert rlemask.resize_mask(mask, 256, method="area").sum() == 0
    # non-integer factor too
    assert rlemask.resize_mask(mask, (300, 301), method="any").sum() >= 1


# ---------------------------------------------------------------- images
@given(images(), side, side)
def test_image_area_matches_reference(image, oh, ow):
    out = rlemask.resize_image(image, (oh, ow), method="area")
    assert out.dtype == np.float32 and out.shape == (oh, ow)
    np.testing.assert_allclose(out, ref.resize_image_area(image, oh, ow), rtol=1e-6, atol=1e-4)


@given(images(), side, side)
def test_image_bilinear_matches_reference(image, oh, ow):
    out = rlemask.resize_image(image, (oh, ow), method="bilinear")
    np.testing.assert_allclose(out, ref.resize_image_bilinear(image, oh, ow), rtol=1e-6, atol=1e-4)


@given(images(), side, side)
def test_image_nearest_matches_reference(image, oh, ow):
    out = rlemask.resize_image(image, (oh, ow), method="nearest")
    np.testing.assert_array_equal(out, ref.resize_image_nearest(image, oh, ow))


@needs_jit
def test_image_block_mean_is_exact_at_full_size():
    rng = np.random.default_rng(1234)
    image = rng.integers(0, 256, (1024, 1024), dtype=np.uint8)
    out = rlemask.resize_image(image, 256)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    expected = image.reshape(256, 4, 256, 4).astype(np.float64).mean((1, 3))
    np.testing.assert_array_equal(out, expected.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.uint16, np.int16, np.float16, np.float64])
@pytest.mark.parametrize("method", ["area", "bilinear", "nearest"])
def test_image_dtypes_and_layouts(dtype, method):
    rng = np.random.default_rng(1234)
    image = rng.integers(0, 2 if dtype == np.bool_ else 200, (12, 20)).astype(dtype)
    expected = rlemask.resize_image(image.astype(np.float64), (7, 5), method=method)
    for variant in (image, np.asfortranarray(image), image.astype(image.dtype.newbyteorder(">"))):
        out = rlemask.resize_image(variant, (7, 5), method=method)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_constant_image_stays_constant():
    image = np.full((30, 45), 7, np.uint8)
    for method in ("area", "bilinear", "nearest"):
        for size in ((7, 11), (64, 100), 30):
            np.testing.assert_allclose(rlemask.resize_image(image, size, method=method), 7.0)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("size", [0, -3, (0, 4), (4,), (4, 4, 4), 2.5, (2.0, 3), True, "256", None])
def test_bad_size_names_the_parameter(size):
    with pytest.raises(ValueError, match=r"`size`.*received size="):
        rlemask.resize_mask(np.zeros((4, 4), np.uint8), size)
    with pytest.raises(ValueError, match=r"`size`.*received size="):
        rlemask.resize_image(np.zeros((4, 4), np.uint8), size)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4), (0, 4)])
def test_bad_shape_names_the_parameter(shape):
    with pytest.raises(ValueError, match=r"`mask`.*received mask.shape"):
        rlemask.resize_mask(np.zeros(shape, np.uint8), 2)
    with pytest.raises(ValueError, match=r"`image`.*received image.shape"):
        rlemask.resize_image(np.zeros(shape, np.uint8), 2)


def test_bad_method_lists_the_choices():
    with pytest.raises(ValueError, match=r"'nearest', 'any', 'area'; received method='bilinear'"):
        rlemask.resize_mask(np.zeros((4, 4), np.uint8), 2, method="bilinear")
    with pytest.raises(ValueError, match=r"received method='cubic'"):
        rlemask.resize_image(np.zeros((4, 4), np.uint8), 2, method="cubic")


def test_nan_mask_and_non_numeric_input_are_rejected():
    mask = np.zeros((4, 4), np.float32)
    mask[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rlemask.resize_mask(mask, 2)
    with pytest.raises(ValueError, match="dtype"):
        rlemask.resize_mask(np.array([["a", "b"], ["c", "d"]]), 1)


@pytest.mark.parametrize("size", [(2**62, 8), (2**40, 2**40), 2**21])
def test_sizes_whose_pixel_count_does_not_fit_are_refused(size):
    for resize in (rlemask.resize_mask, rlemask.resize_image):
        with pytest.raises(ValueError, match=r"`size` must have at most 2\*\*40 pixels"):
            resize(np.zeros((4, 4), np.uint8), size)


@pytest.mark.parametrize("dtype", [">i4", ">u2", ">f8", ">f2", "<i8"])
def test_any_byte_order_resizes_like_native(dtype):
    rng = np.random.default_rng(1234)
    native = (rng.random((8, 8)) * 3).astype(np.dtype(dtype).newbyteorder("="))
    other = native.astype(dtype)
    for method in ("nearest", "area", "any"):
        np.testing.assert_array_equal(
            rlemask.resize_mask(other, 4, method=method),
            rlemask.resize_mask(native, 4, method=method),
        )
    np.testing.assert_array_equal(rlemask.resize_image(other, 4), rlemask.resize_image(native, 4))
