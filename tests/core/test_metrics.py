"""dice / iou / dice_scores against set-based references; Dice on runs against dense."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference_geometry as ref
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rlemask

pytestmark = pytest.mark.kernels


@st.composite
def mask_pairs(draw, max_side=10):
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    pair = []
    for _ in range(2):
        density = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
        bits = draw(arrays(np.float64, (h, w), elements=st.floats(0, 1)))
        pair.append((bits < density).astype(np.uint8))
    return pair


@given(mask_pairs(), st.sampled_from([1.0, 0.0, 0.5]))
def test_dice_and_iou_match_sets(pair, empty):
    pred, target = pair
    assert rlemask.dice(pred, target, empty=empty) == pytest.approx(
        ref.dice(pred, target, empty), abs=1e-12
    )
    assert rlemask.iou(pred, target, empty=empty) == pytest.approx(
        ref.iou(pred, target, empty), abs=1e-12
    )


@given(mask_pairs())
def test_dtypes_and_layouts_do_not_change_the_score(pair):
    pred, target = pair
    expected = ref.dice(pred, target)
    variants = [
        (pred.astype(bool), target),
        (pred * 255, target.astype(np.int32)),
        (pred.astype(np.float32), target.astype(np.float64)),
        (np.asfortranarray(pred), np.asfortranarray(target)),
        (np.asfortranarray(pred), target),  # mixed layouts
        (pred.T.copy().T, target[:, :]),
    ]
    for p, t in variants:
        assert rlemask.dice(p, t) == pytest.approx(expected, abs=1e-12)


@given(mask_pairs(), st.sampled_from(["F", "C"]))
def test_dice_on_runs_agrees_with_dense(pair, order):
    pred, target = pair
    a = rlemask.Runs.from_mask(pred, order=order)
    b = rlemask.Runs.from_mask(target, order=order)
    assert rlemask.dice(a, b) == pytest.approx(rlemask.dice(pred, target), abs=1e-12)
    assert rlemask.iou(a, b) == pytest.approx(rlemask.iou(pred, target), abs=1e-12)
    nan = rlemask.dice(a, b, empty=float("nan"))
    assert math.isnan(nan) == (not pred.any() and not target.any())


def test_dice_on_runs_of_parsed_text():
    truth = rlemask.Runs.from_text("1 2 7 1 7 2 9 1", (6, 5))
    pred = rlemask.Runs.from_text("1 2", (6, 5))
    dense = rlemask.dice(rlemask.decode("1 2", (6, 5)), rlemask.decode("1 2 7 1 7 2 9 1", (6, 5)))
    assert rlemask.dice(pred, truth) == pytest.approx(dense) == pytest.approx(2 * 2 / (2 + 6))


def test_empty_rules():
    empty = np.zeros((4, 4), np.uint8)
    some = empty.copy()
    some[1, 1] = 1
    assert rlemask.dice(empty, empty) == 1.0
    assert rlemask.dice(empty, empty, empty=0.0) == 0.0
    assert rlemask.dice(some, empty) == 0.0  # prediction on an empty truth
    assert rlemask.dice(empty, some) == 0.0
    assert rlemask.iou(some, empty) == 0.0
    assert rlemask.iou(empty, empty, empty=0.25) == 0.25
    assert isinstance(rlemask.dice(some, some), float)


def test_full_size_dice():
    rng = np.random.default_rng(1234)
    a = (rng.random((1024, 1024)) < 0.1).astype(np.uint8)
    b = (rng.random((1024, 1024)) < 0.1).astype(np.uint8)
    inter = np.count_nonzero(a & b)
    expected = 2 * inter / (np.count_nonzero(a) + np.count_nonzero(b))
    assert rlemask.dice(a, b) == pytest.approx(expected, abs=1e-15)


# ---------------------------------------------------------------- batches
@st.composite
def batches(draw):
    n = draw(st.integers(0, 5))
    h = draw(st.integers(1, 6))
    w = draw(st.integers(1, 6))
    probs = draw(arrays(np.float32, (n, h, w), elements=st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0])))
    targets = draw(arrays(np.uint8, (n, h, w), elements=st.integers(0, 1)))
    return probs, targets


@given(batches(), st.sampled_from([0.0, 0.2, 0.5, 0.99, 1.0]), st.sampled_from([1.0, 0.0]))
def test_dice_scores_threshold_rule(batch, threshold, empty):
    probs, targets = batch
    scores = rlemask.dice_scores(probs, targets, threshold=threshold, empty=empty)
    assert scores.shape == (len(probs),) and scores.dtype == np.float64
    for score, p, t in zip(scores, probs, targets, strict=True):
        # documented rule: prediction = prob > threshold (strict), truth = non-zero
        assert score == pytest.approx(ref.dice(p > threshold, t, empty), abs=1e-12)
    # Keras layout (N, H, W, 1) gives the same scores
    np.testing.assert_array_equal(
        rlemask.dice_scores(probs[..., None], targets[..., None], threshold=threshold, empty=empty),
        scores,
    )


def test_dice_scores_on_masks_equals_dice():
    rng = np.random.default_rng(1234)
    preds = (rng.random((3, 32, 32)) < 0.3).astype(np.uint8)
    targets = (rng.random((3, 32, 32)) < 0.3).astype(bool)
    preds[2] = 0
    targets[2] = False
    scores = rlemask.dice_scores(preds, targets)
    assert list(scores) == pytest.approx(
        [rlemask.dice(p, t) for p, t in zip(preds, targets, strict=True)]
    )
    assert scores[2] == 1.0


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), True, "0.5", None])
def test_dice_scores_bad_threshold(threshold):
    with pytest.raises(ValueError, match=r"`threshold` must be a number in 0..1; received"):
        rlemask.dice_scores(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), threshold=threshold)


def test_bad_input_names_the_parameter():
    with pytest.raises(
        ValueError, match=r"same shape; received pred.shape=\(2, 2\), target.shape=\(2, 3\)"
    ):
        rlemask.dice(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(
        ValueError, match=r"`pred` must be a 2-D array \(H, W\); received pred.shape=\(2,\)"
    ):
        rlemask.iou(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match=r"`target` must not contain NaN"):
        rlemask.dice(np.zeros((2, 2)), np.array([[0, np.nan], [0, 0]]))
    with pytest.raises(ValueError, match=r"`preds` and `targets` must have the same shape"):
        rlemask.dice_scores(np.zeros((1, 2, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"`preds` must be a 3-D or 4-D array"):
        rlemask.dice_scores(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\(N, H, W, 1\); received preds.shape=\(1, 2, 2, 3\)"):
        rlemask.dice_scores(np.zeros((1, 2, 2, 3)), np.zeros((1, 2, 2, 3)))
    probs = np.zeros((1, 2, 2), np.float32)
    probs[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rlemask.dice_scores(probs, np.zeros((1, 2, 2)))
    runs = rlemask.Runs.from_mask(np.eye(2, dtype=bool))
    with pytest.raises(TypeError, match="both be arrays or both be rlemask.Runs"):
        rlemask.dice(runs, np.eye(2))
    with pytest.raises(ValueError, match="same shape"):
        rlemask.dice(runs, rlemask.Runs.from_mask(np.eye(3, dtype=bool)))
    with pytest.raises(
        ValueError, match="same scan order; received pred.order='F', target.order='C'"
    ):
        rlemask.dice(runs, rlemask.Runs.from_mask(np.eye(2, dtype=bool), order="C"))
