"""Axis maps shared by resize_mask and Runs.resize, against exact rational references."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlemask._axis_maps import any_ranges, footprint_ranges, nearest_index

sizes = st.integers(1, 300)


def nearest_reference(n_in: int, n_out: int) -> list[int]:
    """The input pixel that holds each output centre (i + 1/2) * n_in / n_out."""
    return [math.floor((Fraction(2 * i + 1, 2) * n_in) / n_out) for i in range(n_out)]


def any_reference(n_in: int, n_out: int) -> tuple[list[int], list[int]]:
    """Input pixels j whose [j, j + 1) overlaps the footprint with positive length."""
    if n_out >= n_in:
        near = nearest_reference(n_in, n_out)
        return near, [j + 1 for j in near]
    lo, hi = [], []
    for i in range(n_out):
        a, b = Fraction(i * n_in, n_out), Fraction((i + 1) * n_in, n_out)
        touched = [j for j in range(n_in) if min(b, j + 1) - max(a, j) > 0]
        lo.append(touched[0])
        hi.append(touched[-1] + 1)
    return lo, hi


@given(sizes, sizes)
def test_nearest_index(n_in, n_out):
    got = nearest_index(n_in, n_out)
    assert got.dtype == np.int64
    assert got.tolist() == nearest_reference(n_in, n_out)


@given(sizes, sizes)
def test_any_ranges(n_in, n_out):
    lo, hi = any_ranges(n_in, n_out)
    assert (lo.tolist(), hi.tolist()) == any_reference(n_in, n_out)
    if n_out < n_in:  # shrinking: every input pixel is read, so no region is lost
        covered = np.zeros(n_in, bool)
        for a, b in zip(lo, hi, strict=True):
            covered[a:b] = True
        assert covered.all()


@given(sizes, sizes, st.sampled_from(["nearest", "any"]))
def test_footprint_ranges(n_in, n_out, method):
    lo, hi = footprint_ranges(n_in, n_out, method)
    if method == "any":
        want = any_reference(n_in, n_out)
    else:
        near = nearest_reference(n_in, n_out)
        want = (near, [j + 1 for j in near])
    assert (lo.tolist(), hi.tolist()) == want


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_integer_round_trip(factor):
    """Enlarge by an integer factor, shrink back: every pixel maps to itself."""
    n = 7
    up = nearest_index(n, n * factor)
    assert up[nearest_index(n * factor, n)].tolist() == list(range(n))
