"""Axis maps: which input pixels each output pixel of a resized axis reads.

Shared by the dense resizers (:mod:`rlemask.resize`) and the run resizer
(:meth:`rlemask.Runs.resize`), so that both give the same mask.  Pixel ``i``
covers ``[i, i + 1)``; resizing an axis from ``n_in`` to ``n_out`` pixels
maps output pixel ``i`` onto the input interval
``[i * n_in / n_out, (i + 1) * n_in / n_out)``, its footprint.  Everything is
integer arithmetic: no rounding differs between platforms.

Examples
--------
>>> nearest_index(4, 2)
array([1, 3])
>>> any_ranges(5, 2)
(array([0, 2]), array([3, 5]))
"""

from __future__ import annotations

import numpy as np

__all__ = ["any_ranges", "footprint_ranges", "nearest_index"]


def nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """Input pixel under each output pixel's centre: ``((2 i + 1) n_in) // (2 n_out)``.

    Returns ``int64`` of length ``n_out``.  Enlarging by an integer factor
    and shrinking back by the same factor is the identity.

    Examples
    --------
    >>> nearest_index(2, 4)
    array([0, 0, 1, 1])
    """
    return (2 * np.arange(n_out, dtype=np.int64) + 1) * n_in // (2 * n_out)


def any_ranges(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)``: input pixels ``lo[i] .. hi[i] - 1`` share a positive area with footprint ``i``.

    When shrinking, the ranges cover every input pixel, so no region can be
    lost; when enlarging an axis, each range is the nearest pixel alone (a
    footprint straddling two pixels would otherwise dilate the mask).

    Examples
    --------
    >>> any_ranges(3, 2)  # output pixel 0 covers [0, 1.5): pixels 0 and 1
    (array([0, 1]), array([2, 3]))
    >>> any_ranges(2, 3)
    (array([0, 1, 1]), array([1, 2, 2]))
    """
    return footprint_ranges(n_in, n_out, "any")


def footprint_ranges(n_in: int, n_out: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` input ranges that ``method`` (``"nearest"`` or ``"any"``) reads.

    ``"nearest"`` reads one pixel (:func:`nearest_index`), ``"any"`` the
    pixels under the footprint (:func:`any_ranges`).

    Examples
    --------
    >>> footprint_ranges(4, 2, "nearest")
    (array([1, 3]), array([2, 4]))
    >>> footprint_ranges(4, 2, "any")
    (array([0, 2]), array([2, 4]))
    """
    if method == "any" and n_out < n_in:
        i = np.arange(n_out, dtype=np.int64)
        return i * n_in // n_out, -((-(i + 1) * n_in) // n_out)  # floor, ceil
    start = nearest_index(n_in, n_out)
    return start, start + 1
