"""remove_small_regions / triplet_threshold against the references."""

from __future__ import annotations

import numpy as np
import pytest
import reference_geometry as ref
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rlemask

pytestmark = pytest.mark.kernels

LEVELS = [0.0, 0.1, 0.3, 0.5, 0.7, 0.75, 0.8, 1.0]


@st.composite
def masks(draw):
    h = draw(st.integers(1, 10))
    w = draw(st.integers(1, 10))
    return draw(arrays(np.uint8, (h, w), elements=st.integers(0, 1)))


@given(masks(), st.integers(0, 12))
def test_remove_small_regions_matches_flood_fill(mask, min_area):
    out = rlemask.remove_small_regions(mask, min_area)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, ref.remove_small_regions(mask, min_area))
    np.testing.assert_array_equal(
        rlemask.remove_small_regions(mask.astype(bool) * 7, min_area), out
    )


def test_remove_small_regions_uses_8_connectivity():
    mask = np.zeros((4, 4), np.uint8)
    mask[0, 0] = mask[1, 1] = mask[2, 2] = 1  # one diagonal region of 3
    mask[0, 3] = 1  # a lone pixel
    out = rlemask.remove_small_regions(mask, 3)
    assert out[0, 0] == out[1, 1] == out[2, 2] == 1 and out[0, 3] == 0
    assert rlemask.remove_small_regions(mask, 4).sum() == 0
    assert out is not mask


@st.composite
def prob_maps(draw):
    h = draw(st.integers(1, 10))
    w = draw(st.integers(1, 10))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return draw(arrays(dtype, (h, w), elements=st.sampled_from(LEVELS)))


@given(prob_maps(), st.sampled_from(LEVELS), st.integers(0, 30), st.sampled_from(LEVELS))
def test_triplet_matches_reference(prob, top, min_area, bottom):
    out = rlemask.triplet_threshold(prob, top=top, min_area=min_area, bottom=bottom)
    assert out.dtype == np.uint8 and out.shape == prob.shape
    # the rule compares in the map's precision
    top_c, bottom_c = prob.dtype.type(top), prob.dtype.type(bottom)
    np.testing.assert_array_equal(out, ref.triplet_threshold(prob, top_c, min_area, bottom_c))


def test_triplet_rule_on_a_full_size_map():
    prob = np.zeros((1024, 1024), np.float32)
    prob[:40, :50] = 0.9  # 2000 pixels above top
    prob[40:60, :50] = 0.5
    out = rlemask.triplet_threshold(prob)
    assert out.sum() == 3000
    prob[0, 0] = 0.7  # now only 1999 above top: empty
    assert rlemask.triplet_threshold(prob).sum() == 0
    # min_area scales with the pixel area: the 2000-pixel region at 512 has 500
    prob[0, 0] = 0.9
    small = prob[::2, ::2]
    assert rlemask.triplet_threshold(small).sum() == 0  # unscaled 2000: wrongly empty
    assert rlemask.triplet_threshold(small, min_area=round(2000 * (512 / 1024) ** 2)).sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"top": 1.5}, r"`top` must be a number in 0..1; received top=1.5"),
        ({"top": float("nan")}, r"`top` must be a number in 0..1; received top=nan"),
        ({"bottom": -0.1}, r"`bottom` must be a number in 0..1; received bottom=-0.1"),
        ({"min_area": -1}, r"`min_area` must be an int >= 0 \(pixels\); received min_area=-1"),
        ({"min_area": 2.5}, r"received min_area=2.5"),
    ],
)
def test_triplet_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rlemask.triplet_threshold(np.zeros((4, 4), np.float32), **kwargs)


def test_triplet_bad_maps():
    prob = np.zeros((4, 4), np.float32)
    prob[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"`prob` must not contain NaN; received prob with 1 NaN"):
        rlemask.triplet_threshold(prob)
    with pytest.raises(
        ValueError, match=r"`prob` must hold probabilities in 0..1; received values"
    ):
        rlemask.triplet_threshold(np.full((4, 4), 3.0))
    with pytest.raises(ValueError, match=r"`prob` must be a 2-D array \(H, W\); received prob\.sh"):
        rlemask.triplet_threshold(np.zeros((1, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"`mask` must be a 2-D array"):
        rlemask.remove_small_regions(np.zeros(4), 2)
    with pytest.raises(ValueError, match=r"`min_area` must be an int >= 0"):
        rlemask.remove_small_regions(np.zeros((4, 4)), -2)
