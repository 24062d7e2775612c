"""numba kernels behind :mod:`rlemask.metrics`, :mod:`rlemask.boxes` and
:mod:`rlemask.postprocess`: single passes that count or scan a mask.

The kernels trust their inputs (shapes, dtypes, contiguity); the public
wrappers validate first and are the only callers.  The counts of two run
lists (``_runs_counts``) are the set operations' sweep, so they live with
them in :mod:`rlemask._runs_kernels` and are named here for the metrics.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rlemask._runs_kernels import _runs_counts  # noqa: F401 - the metrics' name for it


@njit(cache=True)
def _count_pair(a, b):
    """``(|a|, |b|, |a & b|)`` of two equally long 1-D arrays, non-zero = foreground.

    One pass over both; the three sums vectorise.
    """
    na = 0
    nb = 0
    nab = 0
    for i in range(a.size):
        x = a[i] != 0
        y = b[i] != 0
        na += x
        nb += y
        nab += x & y
    return na, nb, nab


@njit(cache=True)
def _count_batch(preds, targets, threshold, counts):
    """Per row ``n``: ``counts[n] = (|p > t|, |q != 0|, |both|)``; returns the NaN count.

    ``preds`` and ``targets`` are (N, P) arrays.  NaN compares false with
    everything, so it is counted separately for the caller to reject.
    """
    nan = 0
    n_rows, n_pix = preds.shape
    for n in range(n_rows):
        na = 0
        nb = 0
        nab = 0
        for i in range(n_pix):
            p = preds[n, i]
            q = targets[n, i]
            x = p > threshold
            y = q != 0
            na += x
            nb += y
            nab += x & y
            nan += (p != p) | (q != q)
        counts[n, 0] = na
        counts[n, 1] = nb
        counts[n, 2] = nab
    return nan


@njit(cache=True)
def _bbox_scan(mask):
    """``(found, row_min, row_max, col_min, col_max)`` of the non-zero pixels."""
    h, w = mask.shape
    r0 = -1
    r1 = -1
    c0 = w
    c1 = -1
    for r in range(h):
        first = -1
        for c in range(w):
            if mask[r, c] != 0:
                first = c
                break
        if first < 0:
            continue
        if r0 < 0:
            r0 = r
        r1 = r
        if first < c0:
            c0 = first
        # only columns right of the current maximum can raise it
        for c in range(w - 1, max(first, c1), -1):
            if mask[r, c] != 0:
                c1 = c
                break
        if first > c1:
            c1 = first
    return r0 >= 0, r0, r1, c0, c1


@njit(cache=True)
def _prob_scan(prob, top):
    """``(count of prob > top, NaN count, min, max)`` in one pass over a 1-D array."""
    above = 0
    nan = 0
    lo = np.inf
    hi = -np.inf
    for i in range(prob.size):
        v = prob[i]
        if v != v:
            nan += 1
            continue
        above += v > top
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    return above, nan, lo, hi
