"""Pairwise IoU and Dice between two lists of masks, computed on the runs.

For matching predicted regions to true ones (instances, components, boxes
of a detector), :func:`iou_matrix` and :func:`dice_matrix` score every pair
``(a[i], b[j])``.  Masks may be :class:`rlemask.Runs` or 2-D arrays (non-zero
= foreground), mixed; arrays are encoded once, then every pair is scored by a
merge of the two run lists -- a pair whose pixel spans do not overlap costs
nothing.  No dense ``(H, W)`` array is built for a pair.

Scores follow :func:`rlemask.iou` and :func:`rlemask.dice`: a pair of empty
masks scores ``empty`` (1.0 by default).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from rlemask import _runs_kernels as rk
from rlemask.runs import Runs

__all__ = ["dice_matrix", "iou_matrix"]


def _as_runs_list(masks: Any, name: str) -> list[Runs]:
    """Column-major Runs of every mask of ``masks`` (a sequence, or an (N, H, W) array)."""
    if isinstance(masks, Runs) or (isinstance(masks, np.ndarray) and masks.ndim == 2):
        raise TypeError(
            f"`{name}` must be a list of masks (Runs or 2-D arrays) or an (N, H, W) array; "
            f"received a single {type(masks).__name__}: wrap it in a list"
        )
    if isinstance(masks, np.ndarray) and masks.ndim != 3:
        raise ValueError(
            f"`{name}` as an array must be (N, H, W); received {name}.shape={masks.shape}"
        )
    if not isinstance(masks, (Sequence, np.ndarray)) or isinstance(masks, (str, bytes)):
        raise TypeError(
            f"`{name}` must be a list of masks (Runs or 2-D arrays); "
            f"received {type(masks).__name__}"
        )
    out = []
    for i, m in enumerate(masks):
        try:
            runs = m.as_order("F") if isinstance(m, Runs) else Runs.from_mask(m)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{name}[{i}]: {err}") from None
        out.append(runs)
    return out


def _csr(runs: list[Runs]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Concatenated starts and lengths, the CSR pointer, and each mask's area."""
    ptr = np.zeros(len(runs) + 1, np.int64)
    ptr[1:] = np.cumsum([len(r) for r in runs])
    if runs:
        s = np.concatenate([r.starts for r in runs])
        ln = np.concatenate([r.lengths for r in runs])
    else:
        s = ln = np.empty(0, np.int64)
    area = np.array([r.area for r in runs], np.int64)
    return s, ln, ptr, area


def _counts(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(inter (n, m), area_a (n,), area_b (m,))`` after validating both lists."""
    ra = _as_runs_list(a, "a")
    rb = _as_runs_list(b, "b")
    shapes = {r.shape for r in ra} | {r.shape for r in rb}
    if len(shapes) > 1:
        first = (ra + rb)[0].shape
        for name, lst in (("a", ra), ("b", rb)):
            for i, r in enumerate(lst):
                if r.shape != first:
                    raise ValueError(
                        f"every mask must have one shape; {name}[{i}] has shape {r.shape}, "
                        f"the first mask {first}"
                    )
    sa, la, pa, area_a = _csr(ra)
    sb, lb, pb, area_b = _csr(rb)
    inter = rk._pairwise_intersections(sa, la, pa, sb, lb, pb)
    return inter, area_a, area_b


def _check_empty(empty: Any) -> float:
    if isinstance(empty, (bool, np.bool_)) or not isinstance(empty, numbers.Real):
        raise TypeError(f"`empty` must be a number; received empty={empty!r}")
    return float(empty)


def _ratio(num: np.ndarray, den: np.ndarray, empty: float) -> np.ndarray:
    out = np.full(num.shape, empty, np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def iou_matrix(a: Any, b: Any, *, empty: float = 1.0) -> np.ndarray:
    """IoU of every pair of masks: ``out[i, j] = |a[i] ∩ b[j]| / |a[i] ∪ b[j]|``.

    Parameters
    ----------
    a, b : sequence of Runs or 2-D arrays, or an (N, H, W) array
        The masks, all of one shape (``Runs`` of either scan order; arrays of
        any integer or bool dtype, non-zero = foreground).
    empty : float
        Score of a pair of empty masks (as :func:`rlemask.iou`); ``nan`` to
        mark such pairs.

    Returns
    -------
    numpy.ndarray
        ``float64`` of shape ``(len(a), len(b))``.

    Raises
    ------
    ValueError
        Masks of different shapes, or not 2-D (the message names the list and
        the index).
    TypeError
        A single mask instead of a list, or a mask that is not Runs or an
        integer/bool array.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> m = np.zeros((4, 4), np.uint8)
    >>> m[:2, :2] = 1
    >>> rlemask.iou_matrix([m], [m, np.roll(m, 1, axis=1), np.zeros_like(m)])
    array([[1.        , 0.33333333, 0.        ]])
    >>> rlemask.iou_matrix([rlemask.Runs.from_mask(m)], []).shape
    (1, 0)
    """
    inter, area_a, area_b = _counts(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    return _ratio(inter.astype(np.float64), union, _check_empty(empty))


def dice_matrix(a: Any, b: Any, *, empty: float = 1.0) -> np.ndarray:
    """Dice of every pair of masks: ``out[i, j] = 2 |a[i] ∩ b[j]| / (|a[i]| + |b[j]|)``.

    Parameters
    ----------
    a, b : sequence of Runs or 2-D arrays, or an (N, H, W) array
        The masks, all of one shape (see :func:`iou_matrix`).
    empty : float
        Score of a pair of empty masks (as :func:`rlemask.dice`).

    Returns
    -------
    numpy.ndarray
        ``float64`` of shape ``(len(a), len(b))``.

    Raises
    ------
    ValueError, TypeError
        As :func:`iou_matrix`.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> m = np.zeros((4, 4), np.uint8)
    >>> m[:2, :2] = 1
    >>> rlemask.dice_matrix([m, np.zeros_like(m)], [np.roll(m, 1, axis=1), np.zeros_like(m)])
    array([[0.5, 0. ],
           [0. , 1. ]])
    """
    inter, area_a, area_b = _counts(a, b)
    total = area_a[:, None] + area_b[None, :]
    return _ratio(2.0 * inter, total, _check_empty(empty))
