"""iou_matrix / dice_matrix against a loop of dense numpy scores."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rlemask
from rlemask import Runs

pytestmark = pytest.mark.kernels


def dense_scores(a, b, empty=1.0):
    iou = np.empty((len(a), len(b)))
    dice = np.empty((len(a), len(b)))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            x, y = np.asarray(x) != 0, np.asarray(y) != 0
            inter, union, total = (x & y).sum(), (x | y).sum(), x.sum() + y.sum()
            iou[i, j] = inter / union if union else empty
            dice[i, j] = 2 * inter / total if total else empty
    return iou, dice


@st.composite
def mask_lists(draw):
    h, w = draw(st.integers(1, 10)), draw(st.integers(1, 10))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def one():
        return (rng.random((h, w)) < draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))).astype(np.uint8)

    return [one() for _ in range(draw(st.integers(0, 4)))], [
        one() for _ in range(draw(st.integers(0, 4)))
    ]


@given(mask_lists(), st.sampled_from(["arrays", "F", "C", "mixed"]))
def test_matrices_equal_dense_loop(lists, kind):
    a, b = lists
    want_iou, want_dice = dense_scores(a, b)

    def convert(masks, offset):
        if kind == "arrays":
            return masks
        if kind == "mixed":  # Runs of both orders and arrays in one list
            return [
                m if (i + offset) % 3 == 0 else Runs.from_mask(m, "FC"[(i + offset) % 2])
                for i, m in enumerate(masks)
            ]
        return [Runs.from_mask(m, kind) for m in masks]

    ca, cb = convert(a, 0), convert(b, 1)
    iou, dice = rlemask.iou_matrix(ca, cb), rlemask.dice_matrix(ca, cb)
    assert iou.shape == dice.shape == (len(a), len(b)) and iou.dtype == np.float64
    np.testing.assert_allclose(iou, want_iou)
    np.testing.assert_allclose(dice, want_dice)


def test_stack_input_empty_value_and_single_scores():
    rng = np.random.default_rng(5)
    stack = (rng.random((3, 8, 9)) < 0.3).astype(np.uint8)
    stack[2] = 0
    iou = rlemask.iou_matrix(stack, stack, empty=np.nan)
    assert np.isnan(iou[2, 2]) and iou[0, 2] == 0
    for i in range(2):
        for j in range(3):
            assert rlemask.dice_matrix(stack[i : i + 1], stack[j : j + 1])[0, 0] == pytest.approx(
                rlemask.dice(stack[i], stack[j])
            )
            assert iou[i, j] == pytest.approx(rlemask.iou(stack[i], stack[j]))


def test_errors():
    m = np.zeros((4, 4), np.uint8)
    with pytest.raises(TypeError, match="single ndarray: wrap it in a list"):
        rlemask.iou_matrix(m, [m])
    with pytest.raises(TypeError, match="`b` must be a list of masks"):
        rlemask.iou_matrix([m], 3)
    with pytest.raises(ValueError, match=r"b\[1\] has shape \(4, 5\), the first mask \(4, 4\)"):
        rlemask.dice_matrix([m], [m, np.zeros((4, 5), np.uint8)])
    with pytest.raises(TypeError, match=r"a\[0\]: .*bool or integer"):
        rlemask.iou_matrix([m.astype(float)], [m])
    with pytest.raises(TypeError, match="`empty` must be a number"):
        rlemask.iou_matrix([m], [m], empty="1")
    with pytest.raises(ValueError, match=r"\(N, H, W\); received a\.shape=\(3,\)"):
        rlemask.iou_matrix(np.zeros(3), [m])
