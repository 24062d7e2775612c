"""Bounding boxes of masks, in the COCO convention.

A box is ``(x, y, w, h)`` of Python ints: ``x`` is the first foreground
column, ``y`` the first foreground row (both 0-based), ``w`` and ``h`` the
width and height in pixels, so the box covers columns ``x .. x + w - 1`` and
rows ``y .. y + h - 1``.  This is pycocotools' ``toBbox`` for a non-empty
mask (which returns floats, and ``[0, 0, 0, 0]`` for an empty one; here an
empty mask has no box: ``None``).
"""

from __future__ import annotations

import numpy as np

from rlemask._metric_kernels import _bbox_scan
from rlemask.runs import Runs

__all__ = ["bbox", "bboxes"]

Box = tuple[int, int, int, int]


def _as_mask(mask, name: str = "mask") -> np.ndarray:
    """2-D numeric/bool array, NaN rejected, in a layout numba reads quickly."""
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D array (H, W); received shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"`{name}` must hold numbers or booleans; received dtype {arr.dtype}")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"`{name}` must not contain NaN")
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    elif arr.dtype == np.float16 or not arr.dtype.isnative:
        arr = arr != 0
        arr = arr.view(np.uint8)
    return arr


def bbox(mask: np.ndarray | Runs) -> Box | None:
    """Bounding box ``(x, y, w, h)`` of all foreground pixels, or ``None`` if empty.

    Parameters
    ----------
    mask : array_like, shape (H, W), or rlemask.Runs
        Any numeric or boolean dtype, any layout; non-zero = foreground.
        Runs are not decoded (:meth:`rlemask.Runs.bbox`).

    Returns
    -------
    tuple of int or None
        ``(x, y, w, h)``, 0-based, COCO convention (see the module docstring);
        ``None`` for a mask without foreground.

    Raises
    ------
    ValueError
        ``mask`` not 2-D, not numeric, or holding NaN.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> mask = np.zeros((6, 5), np.uint8)
    >>> mask[1:3, 0] = 1
    >>> mask[4, 1] = 1
    >>> rlemask.bbox(mask)
    (0, 1, 2, 4)
    >>> rlemask.bbox(np.zeros((3, 3))) is None
    True
    """
    if isinstance(mask, Runs):
        return mask.bbox()
    arr = _as_mask(mask)
    if arr.flags.f_contiguous and not arr.flags.c_contiguous:
        # scan the transpose in memory order and swap the axes back
        found, c0, c1, r0, r1 = _bbox_scan(arr.T)
    else:
        found, r0, r1, c0, c1 = _bbox_scan(np.ascontiguousarray(arr))
    if not found:
        return None
    return int(c0), int(r0), int(c1 - c0 + 1), int(r1 - r0 + 1)


def bboxes(mask: np.ndarray | Runs, *, connectivity: int = 8) -> list[Box]:
    """One bounding box per connected region (8-connectivity by default).

    Two foreground pixels belong to the same region when a path of
    foreground pixels joins them, steps going to any of the 8 neighbours
    (diagonals included; with ``connectivity=4`` only edges count).  Regions
    are found on the runs (the kernel of :meth:`rlemask.Runs.components`):
    a :class:`rlemask.Runs` is never decoded.

    Parameters
    ----------
    mask : array_like, shape (H, W), or rlemask.Runs
        Any numeric or boolean dtype, any layout, non-zero = foreground; or
        runs of either scan order.
    connectivity : {8, 4}
        Neighbourhood of a region.

    Returns
    -------
    list of tuple of int
        ``(x, y, w, h)`` per region, sorted top to bottom then left to right:
        by ``(y, x)``, ties by ``(w, h)``.  Empty list for an empty mask.

    Raises
    ------
    ValueError
        ``mask`` not 2-D, not numeric, or holding NaN; ``connectivity`` not 4
        or 8.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> mask = np.zeros((5, 6), np.uint8)
    >>> mask[0, 0] = mask[1, 1] = 1          # diagonal neighbours: one region
    >>> mask[3:5, 3:6] = 1
    >>> rlemask.bboxes(mask)
    [(0, 0, 2, 2), (3, 3, 3, 2)]
    >>> rlemask.bboxes(rlemask.Runs.from_mask(mask), connectivity=4)
    [(0, 0, 1, 1), (1, 1, 1, 1), (3, 3, 3, 2)]
    """
    if isinstance(mask, Runs):
        runs = mask
    else:
        arr = _as_mask(mask)
        if arr.size == 0:
            return []
        if arr.dtype.kind == "f":
            arr = (arr != 0).view(np.uint8)
        runs = Runs.from_mask(arr)
    boxes, _ = runs._component_boxes(connectivity)
    boxes.sort(key=lambda b: (b[1], b[0], b[2], b[3]))
    return boxes
