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

from rlemask import _runs_kernels as rk
from rlemask._metric_kernels import _bbox_scan
from rlemask._validation import check_connectivity, check_probability_map
from rlemask.runs import Runs

__all__ = ["bbox", "bboxes"]

Box = tuple[int, int, int, int]


def _region_boxes(runs: Runs, conn8: bool) -> list[Box]:
    """The boxes of the connected regions of ``runs``, in :meth:`Runs.components` order."""
    if runs.starts.size == 0:
        return []
    columns = runs.order == "F"  # scan lines are columns (F) or rows (C)
    m, n_lines = runs.shape if columns else runs.shape[::-1]
    box = rk._component_boxes(runs.starts, runs.lengths, m, n_lines, conn8, columns)
    line0, line1, pos0, pos1 = box.T
    x0, x1, y0, y1 = (line0, line1, pos0, pos1) if columns else (pos0, pos1, line0, line1)
    xywh = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1).tolist()
    return [tuple(b) for b in xywh]


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
    # NaN rejected; bool, float16 and other byte orders come back as kernel dtypes
    arr = check_probability_map(mask, "mask")
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
    conn8 = check_connectivity(connectivity)
    if isinstance(mask, Runs):
        runs = mask
    else:
        arr = check_probability_map(mask, "mask")
        if arr.size == 0:
            return []
        if arr.dtype.kind == "f":
            arr = (arr != 0).view(np.uint8)
        runs = Runs.from_mask(arr)
    boxes = _region_boxes(runs, conn8)
    boxes.sort(key=lambda b: (b[1], b[0], b[2], b[3]))
    return boxes
