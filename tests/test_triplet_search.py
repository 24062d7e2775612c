"""rlemask.TripletSearch against the obvious loop: triplet_threshold, then dice, per triplet."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rlemask
from rlemask.postprocess import TRIPLET_GRID


def _reference_row(prob, truth, grid, reference):
    row = []
    for top, area, bottom in grid:
        scaled = int(round(area * prob.shape[0] * prob.shape[1] / reference**2))
        mask = rlemask.triplet_threshold(prob, top, scaled, bottom)
        row.append(rlemask.dice(mask, truth))
    return row


_levels = st.sampled_from([0.0, 0.25, 0.3, 0.35, 0.5, 0.55, 0.7, 0.75, 0.9, 1.0])


@st.composite
def _image(draw):
    h = draw(st.integers(1, 12))
    w = draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    prob = draw(hnp.arrays(dtype, (h, w), elements=_levels))
    truth = draw(hnp.arrays(np.uint8, (h, w), elements=st.integers(0, 1)))
    return prob, truth


@settings(max_examples=150, deadline=None)
@given(
    images=st.lists(_image(), min_size=1, max_size=4),
    top=st.lists(_levels, min_size=1, max_size=3),
    area=st.lists(st.integers(0, 40), min_size=1, max_size=3),
    bottom=st.lists(_levels, min_size=1, max_size=3),
    reference=st.integers(1, 16),
)
def test_rows_and_best_match_triplet_threshold_then_dice(images, top, area, bottom, reference):
    search = rlemask.TripletSearch(top, area, bottom, reference=reference)
    rows = []
    for prob, truth in images:
        row = search.add(prob, truth)
        expected = _reference_row(prob, truth, search.grid, reference)
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-12)
        rows.append(expected)
    means = np.mean(rows, axis=0)
    (triplet, score) = search.best()
    assert score == pytest.approx(means.max(), abs=1e-12)
    assert triplet == search.grid[int(np.argmax(means))]  # first of the grid on ties
    assert search.scores.shape == (len(images), len(search.grid))


def test_default_grid_and_scaled_area():
    search = rlemask.TripletSearch()
    assert len(search.grid) == np.prod([len(v) for v in TRIPLET_GRID.values()])
    assert rlemask.scale_min_area(2000, (512, 512)) == 500
    assert rlemask.scale_min_area(250, (128, 128)) == 4  # 3.9 rounds to 4


@pytest.mark.parametrize(
    "prob, truth, match",
    [
        (np.full((2, 2), 1.5), np.zeros((2, 2)), "0..1"),
        (np.full((2, 2), np.nan), np.zeros((2, 2)), "NaN"),
        (np.zeros((2, 2)), np.zeros((3, 2)), "shape"),
        (np.zeros(4), np.zeros(4), "2-D"),
    ],
)
def test_bad_maps_are_rejected(prob, truth, match):
    with pytest.raises(ValueError, match=match):
        rlemask.TripletSearch().add(prob, truth)


def test_bad_grids_and_empty_search_are_rejected():
    with pytest.raises(ValueError, match="top"):
        rlemask.TripletSearch(top=(1.5,))
    with pytest.raises(ValueError, match="min_area"):
        rlemask.TripletSearch(min_area=(-1,))
    with pytest.raises(ValueError, match="at least one"):
        rlemask.TripletSearch(bottom=())
    with pytest.raises(ValueError, match="add"):
        rlemask.TripletSearch().best()
    with pytest.raises(ValueError, match="min_area"):
        rlemask.scale_min_area(-3, (4, 4))


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((2000, (-256, 256)), {}, r"`shape` must be a positive int or a \(height, width\) pair"),
        ((2000, (256, 256)), {"reference": 0}, r"`reference` must be an int > 0"),
        ((2000, (256, 256)), {"reference": 1.5}, r"`reference` must be an int > 0"),
        ((float("inf"), (256, 256)), {}, r"`min_area` must be a finite number >= 0"),
        ((float("nan"), (256, 256)), {}, r"`min_area` must be a finite number >= 0"),
        ((2000, "256"), {}, r"`shape` must be"),
    ],
)
def test_scale_min_area_validates_every_parameter(args, kwargs, match):
    """Issue 19.14: -125, ZeroDivisionError, OverflowError and a bare TypeError escaped."""
    with pytest.raises(ValueError, match=match):
        rlemask.scale_min_area(*args, **kwargs)


def test_scale_min_area_takes_a_square_side():
    assert rlemask.scale_min_area(2000, 256) == rlemask.scale_min_area(2000, (256, 256)) == 125
