"""Runs: construction, validation, area, bbox, union and intersection on runs."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import reference_rle as ref
from hypothesis import given
from hypothesis import strategies as st

from rlemask import RLEError, Runs

pytestmark = pytest.mark.kernels


@st.composite
def mask_pairs(draw):
    """Two 0/1 masks of one shape."""
    h = draw(st.integers(1, 9))
    w = draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    da, db = draw(st.floats(0, 1)), draw(st.floats(0, 1))
    return (rng.random((h, w)) < da).astype(np.uint8), (rng.random((h, w)) < db).astype(np.uint8)


@given(ref.masks(), st.sampled_from(["F", "C"]))
def test_from_mask_matches_reference(case, order):
    arr, expected = case
    runs = Runs.from_mask(arr, order=order)
    want = ref.runs_of(ref.flat(expected, order))
    assert list(zip(runs.starts.tolist(), runs.lengths.tolist(), strict=True)) == want
    assert runs.shape == expected.shape and runs.order == order
    assert runs.starts.dtype == np.int64 and runs.lengths.dtype == np.int64
    assert len(runs) == len(want)
    assert runs.area == int(expected.sum())
    assert runs.bbox() == ref.bbox(expected)
    out = runs.to_mask()
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, expected)


@given(mask_pairs(), st.sampled_from(["F", "C"]))
def test_union_and_intersection_on_runs(pair, order):
    a, b = pair
    ra, rb = Runs.from_mask(a, order), Runs.from_mask(b, order)
    union, inter = ra | rb, ra & rb
    assert union == Runs.from_mask(a | b, order)  # canonical: runs equal, not just pixels
    assert inter == Runs.from_mask(a & b, order)
    assert (ra | ra) == ra and (ra & ra) == ra


def test_algebra_does_not_decode(monkeypatch):
    from rlemask import _kernels

    def boom(*args):
        raise AssertionError("decoded")

    monkeypatch.setattr(_kernels, "_fill_colmajor_rows", boom)
    a = Runs([0, 10], [3, 5], (6, 5))
    b = Runs([2, 20], [10, 2], (6, 5))
    assert (a | b) == Runs([0, 20], [15, 2], (6, 5))
    assert (a & b) == Runs([2, 10], [1, 2], (6, 5))
    assert (a | b).area == 17 and (a & b).bbox() == (0, 2, 2, 4)


def test_algebra_needs_same_shape_and_order():
    a = Runs([0], [2], (6, 5))
    with pytest.raises(ValueError, match=r"same shape and order.*shape=\(5, 6\)"):
        a | Runs([0], [2], (5, 6))
    with pytest.raises(ValueError, match=r"order='C'"):
        a & Runs([0], [2], (6, 5), order="C")
    with pytest.raises(TypeError, match="needs two Runs; received ndarray"):
        a | np.zeros((6, 5))


def test_constructor_validates_and_merges_touching():
    r = Runs([0, 2, 7], [2, 3, 1], (3, 3))
    assert r.starts.tolist() == [0, 7] and r.lengths.tolist() == [5, 1]
    with pytest.raises(RLEError, match=r"run 1 \(start=1, length=2\) overlaps the previous run"):
        Runs([0, 1], [2, 2], (3, 3))
    with pytest.raises(RLEError, match=r"run 1 \(start=0, length=1\) overlaps"):
        Runs([4, 0], [1, 1], (3, 3))
    with pytest.raises(RLEError, match=r"run 0 \(start=8, length=2\) runs past the last pixel"):
        Runs([8], [2], (3, 3))
    with pytest.raises(RLEError, match=r"run 0 \(start=1, length=0\) has a length <= 0"):
        Runs([1], [0], (3, 3))
    with pytest.raises(RLEError, match=r"run 0 \(start=-1, length=1\) starts before pixel 0"):
        Runs([-1], [1], (3, 3))
    with pytest.raises(RLEError, match="`starts` must hold integers"):
        Runs([1.5], [1], (3, 3))
    with pytest.raises(RLEError, match=r"positive height and width; received mask.shape=\(0, 3\)"):
        Runs.from_mask(np.zeros((0, 3), bool))
    with pytest.raises(RLEError, match="same size"):
        Runs([1, 2], [1], (3, 3))
    with pytest.raises(RLEError, match=r"`shape` must be \(height, width\)"):
        Runs([1], [1], (0, 3))
    with pytest.raises(ValueError, match=r"`order` must be 'F'"):
        Runs([1], [1], (3, 3), order="K")


def test_runs_are_immutable_and_pickle():
    r = Runs([1, 5], [2, 1], (3, 3))
    with pytest.raises(AttributeError):
        r.shape = (9, 1)
    with pytest.raises(ValueError):
        r.starts[0] = 0
    assert pickle.loads(pickle.dumps(r)) == r
    assert r != Runs([1, 5], [2, 1], (3, 3), order="C")
    assert r != Runs([1, 5], [2, 1], (9, 1))
    assert (r == "x") is False


def test_repr_and_empty():
    assert repr(Runs([1], [2], (2, 2))) == "Runs(starts=[1], lengths=[2], shape=(2, 2), order='F')"
    long = Runs(np.arange(0, 40, 2), np.ones(20, int), (8, 5))
    assert repr(long).startswith("Runs(starts=[0, 2, 4, ..., 36, 38], lengths=[1, 1, 1, ..., 1, 1]")
    empty = Runs([], [], (4, 4))
    assert len(empty) == 0 and empty.area == 0 and empty.bbox() is None
    assert not empty.to_mask().any()
    assert empty.to_text() == "-1" and empty.to_text(format="kaggle") == ""


def test_bbox_wrapping_runs():
    # a run from the bottom of column 1 into the top of column 2 spans every row
    r = Runs([9], [2], (5, 4))
    assert r.bbox() == (1, 0, 2, 5)
    assert ref.bbox(r.to_mask()) == (1, 0, 2, 5)
    c = Runs([3], [2], (5, 4), order="C")  # row 0 col 3, row 1 col 0
    assert c.bbox() == (0, 0, 4, 2) == ref.bbox(c.to_mask())


def test_text_round_trip_and_as_order():
    r = Runs.from_text("1 2 7 1 7 2 9 1", (6, 5))
    assert r.to_text() == "1 2 7 1 7 2 9 1"
    assert r.to_text(format="kaggle") == "2 2 11 1 19 2 30 1"
    assert r.to_text(format="kaggle", order="C") == "4 1 6 1 9 1 11 1 22 1 30 1"
    c = r.as_order("C")
    assert c.order == "C" and c.as_order("C") is c
    np.testing.assert_array_equal(c.to_mask(), r.to_mask())
    assert c.as_order("F") == r
    assert Runs.from_text("4 1 6 1 9 1 11 1 22 1 30 1", (6, 5), format="kaggle", order="C") == c


@pytest.mark.parametrize("width", [8, 64, 2040, 2048])
@pytest.mark.parametrize("dtype", [np.bool_, np.uint8])
def test_word_kernel_edges(width, dtype):
    """uint8/bool masks of width 8k (<= 2040) use the 8-pixels-per-word kernel."""
    rng = np.random.default_rng(width)
    m = rng.random((5, width)) < 0.5
    m[:, -1] = True  # a run down the last column, ending on the last pixel
    m[0, :] = True  # every column starts with a run: maximal transitions in row 0
    arr = m.astype(dtype) * (1 if dtype == np.bool_ else 255)
    runs = Runs.from_mask(arr)
    assert list(zip(runs.starts.tolist(), runs.lengths.tolist(), strict=True)) == ref.runs_of(
        ref.flat(m, "F")
    )
