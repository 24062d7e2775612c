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


def _reference_gated_score(images, triplet, gate, reference):
    """The mean Dice of the triplet rule with a presence gate, written out plainly."""
    top, area, bottom = triplet
    scores = []
    for prob, truth, presence in images:
        if presence < gate:
            mask = np.zeros_like(truth)
        else:
            mask = rlemask.triplet_threshold(
                prob, top, rlemask.scale_min_area(area, prob.shape, reference=reference), bottom
            )
        scores.append(rlemask.dice(mask, truth))
    return float(np.mean(scores))


_GRID = dict(top=(0.5, 0.8), min_area=(0, 3), bottom=(0.3, 0.6), reference=8)
_GATES = (0.0, 0.25, 0.5, 0.75)


@st.composite
def _gated_images(draw):
    n = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    images = []
    for _ in range(n):
        prob = rng.random((8, 8)).astype(np.float32) * draw(st.sampled_from([0.5, 1.0]))
        truth = (rng.random((8, 8)) < draw(st.sampled_from([0.0, 0.2, 0.5]))).astype(np.uint8)
        images.append((prob, truth, float(draw(st.sampled_from([0.0, 0.3, 0.6, 0.9])))))
    return images


@settings(max_examples=40)
@given(_gated_images())
def test_best_gate_is_the_best_of_every_triplet_and_gate(images):
    search = rlemask.TripletSearch(**_GRID)
    for prob, truth, presence in images:
        search.add(prob, truth, presence=presence)
    triplet, gate, score = search.best_gate(_GATES)
    every = {
        (t, g): _reference_gated_score(images, t, g, _GRID["reference"])
        for g in _GATES
        for t in search.grid
    }
    assert score == pytest.approx(max(every.values()), abs=1e-12)
    assert score == pytest.approx(every[(triplet, gate)], abs=1e-12)
    # gate 0 empties nothing: the plain search is never better than the gated one
    assert search.best()[1] <= score + 1e-12


def test_best_gate_needs_every_presence_and_valid_gates():
    search = rlemask.TripletSearch(**_GRID)
    search.add(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"`presence` was not given for 1 of 1 images"):
        search.best_gate()
    with pytest.raises(ValueError, match=r"`presence` must be a number in 0..1"):
        search.add(np.zeros((8, 8)), np.zeros((8, 8)), presence=1.5)
    assert len(search.scores) == 1  # the refused image left nothing behind
    gated = rlemask.TripletSearch(**_GRID)
    gated.add(np.zeros((8, 8)), np.zeros((8, 8)), presence=0.5)
    with pytest.raises(ValueError, match=r"`gates` must be a number in 0..1"):
        gated.best_gate((0.5, 2.0))


@settings(max_examples=25)
@given(_gated_images(), _gated_images())
def test_class_search_chooses_each_class_alone(first, second):
    """Per class = an independent search on each channel; the score is the mean over pairs."""
    n = min(len(first), len(second))
    search = rlemask.ClassTripletSearch(["a", "b"], **_GRID)
    alone = {"a": rlemask.TripletSearch(**_GRID), "b": rlemask.TripletSearch(**_GRID)}
    for (pa, ta, ga), (pb, tb, gb) in zip(first[:n], second[:n], strict=True):
        search.add(np.dstack([pa, pb]), np.dstack([ta, tb]), presence=[ga, gb])
        alone["a"].add(pa, ta, presence=ga)
        alone["b"].add(pb, tb, presence=gb)
    triplets, score = search.best()
    assert triplets == {k: s.best()[0] for k, s in alone.items()}
    pairs = np.concatenate([s.scores[:, s.grid.index(triplets[k])] for k, s in alone.items()])
    assert score == pytest.approx(pairs.mean(), abs=1e-12)
    gated, gated_score = search.best_gates(_GATES)
    assert gated == {k: s.best_gate(_GATES)[:2] for k, s in alone.items()}
    assert gated_score >= score - 1e-12


def test_class_search_validates_its_inputs():
    with pytest.raises(ValueError, match="`classes` must be distinct names"):
        rlemask.ClassTripletSearch(["a", "a"])
    search = rlemask.ClassTripletSearch(["a", "b"], **_GRID)
    with pytest.raises(ValueError, match=r"`prob` must be \(H, W, 2\)"):
        search.add(np.zeros((8, 8)), np.zeros((8, 8, 2)))
    with pytest.raises(ValueError, match=r"`presence` must hold 2 values"):
        search.add(np.zeros((8, 8, 2)), np.zeros((8, 8, 2)), presence=[0.5])
