"""Turning probability maps into masks: the SIIM winners' post-processing.

* :func:`triplet_threshold` — the 1st-place "triplet" binarisation: an image
  is declared empty unless enough pixels are confidently foreground.
* :func:`remove_small_regions` — drop connected regions below a pixel count.

Pixel counts (``min_area``) are in pixels of the array you pass.  The
published values were tuned on 1024 x 1024 probability maps; for a map of
``S x S`` pixels scale them by the pixel area:
``min_area_S = round(min_area_1024 * (S / 1024) ** 2)`` (2000 at 1024 is 500
at 512 and 125 at 256).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from rlemask._metric_kernels import _prob_scan
from rlemask._validation import (
    check_area,
    check_array_2d,
    check_probability,
    check_probability_map,
    check_size,
)
from rlemask.runs import Runs

__all__ = [
    "remove_small_regions",
    "triplet_threshold",
    "TripletSearch",
    "TRIPLET_GRID",
    "scale_min_area",
]


def _without_small_regions(runs: Runs, min_area: int) -> Runs:
    """The 8-connected regions of ``runs`` of at least ``min_area`` pixels (validated)."""
    if runs.starts.size == 0 or min_area <= 1:
        return runs
    from rlemask import _runs_kernels as rk

    m, n_lines = runs.shape if runs.order == "F" else runs.shape[::-1]  # pixels a line, lines
    s, ln = rk._remove_small(runs.starts, runs.lengths, m, n_lines, True, min_area)
    return Runs.from_canonical(s, ln, runs.shape, runs.order, check=False)  # kernel output


def remove_small_regions(mask: np.ndarray | Runs, min_area: int) -> np.ndarray | Runs:
    """Remove the connected regions of fewer than ``min_area`` pixels.

    Regions are 8-connected: pixels touching by an edge or a corner belong
    to the same region.

    Regions are found on the runs (the kernel of
    :meth:`rlemask.Runs.components`), so a :class:`rlemask.Runs` is never
    decoded, and an array is labelled without building a label image.

    Parameters
    ----------
    mask : array_like, shape (H, W), or rlemask.Runs
        Any numeric or boolean dtype, non-zero = foreground; or runs.
    min_area : int
        Smallest region kept, in pixels at the resolution of ``mask`` (see the
        module docstring for scaling).  0 or 1 keeps everything.

    Returns
    -------
    numpy.ndarray or rlemask.Runs
        For an array: ``uint8`` (H, W) of 0 and 1, a new array.  For runs:
        :class:`rlemask.Runs` of the same shape and scan order.

    Raises
    ------
    ValueError
        ``mask`` not 2-D or holding NaN; ``min_area`` not an int >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> mask = np.zeros((4, 6), np.uint8)
    >>> mask[0, 0] = 1                 # 1 pixel
    >>> mask[1:3, 3:5] = 1             # 4 pixels
    >>> rlemask.remove_small_regions(mask, 2)
    array([[0, 0, 0, 0, 0, 0],
           [0, 0, 0, 1, 1, 0],
           [0, 0, 0, 1, 1, 0],
           [0, 0, 0, 0, 0, 0]], dtype=uint8)
    >>> rlemask.remove_small_regions(rlemask.Runs.from_mask(mask), 2).area
    4
    """
    min_area = check_area(min_area, "min_area")
    if isinstance(mask, Runs):
        return _without_small_regions(mask, min_area)
    arr = check_probability_map(mask, "mask")
    foreground = np.ascontiguousarray(arr != 0).view(np.uint8)
    if min_area <= 1 or foreground.size == 0:
        return foreground
    # regions are labelled on the runs (Runs.components' kernel): no label image
    return _without_small_regions(Runs.from_mask(foreground), min_area).to_mask()


def triplet_threshold(
    prob: np.ndarray, top: float = 0.75, min_area: int = 2000, bottom: float = 0.3
) -> np.ndarray:
    """Binarise a probability map with the 1st-place SIIM "triplet" rule.

    The image is declared empty when fewer than ``min_area`` pixels exceed
    ``top``; otherwise the mask is ``prob > bottom``.  The defaults
    (0.75, 2000, 0.3) are the winner's validation values at 1024 x 1024;
    (0.7, 600, 0.3) did best on the public board.

    Parameters
    ----------
    prob : array_like, shape (H, W)
        Probabilities in 0..1 (any real dtype).  Not logits: values outside
        0..1 are rejected.
    top : float
        Confidence level in 0..1 that decides whether the image has a region.
    min_area : int
        Pixels that must exceed ``top``, counted at the resolution of
        ``prob``.  Scale it with the pixel area for other sizes:
        ``round(min_area * (S / 1024) ** 2)`` for an ``S x S`` map.
    bottom : float
        Threshold in 0..1 of the mask kept for non-empty images.

    Returns
    -------
    numpy.ndarray
        ``uint8`` (H, W) of 0 and 1.

    Raises
    ------
    ValueError
        ``prob`` not 2-D, not real, holding NaN or values outside 0..1;
        ``top``/``bottom`` outside 0..1; ``min_area`` not an int >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> prob = np.zeros((4, 4), np.float32)
    >>> prob[0, :3] = [0.9, 0.8, 0.4]
    >>> rlemask.triplet_threshold(prob, top=0.75, min_area=2, bottom=0.3)[0]
    array([1, 1, 1, 0], dtype=uint8)
    >>> int(rlemask.triplet_threshold(prob, top=0.75, min_area=3, bottom=0.3).sum())
    0
    """
    if np.asarray(prob).dtype.kind == "b":
        raise ValueError("`prob` must hold probabilities (real numbers); received prob.dtype=bool")
    # float16 comes back as float32 and any byte order as native: what the kernel takes
    arr = np.ascontiguousarray(check_array_2d(prob, "prob", allow_empty=True))
    top = check_probability(top, "top")
    bottom = check_probability(bottom, "bottom")
    min_area = check_area(min_area, "min_area")
    if arr.size == 0:
        return np.zeros(arr.shape, np.uint8)
    if arr.dtype.kind == "f":
        # compare in the map's precision (as numpy does): float32 0.3 is not above 0.3
        top, bottom = arr.dtype.type(top), arr.dtype.type(bottom)
    above, nan, lo, hi = _prob_scan(arr.reshape(-1), top)
    if nan:
        raise ValueError(f"`prob` must not contain NaN; received prob with {nan} NaN values")
    if lo < 0 or hi > 1:
        raise ValueError(
            f"`prob` must hold probabilities in 0..1; received values from {lo} to {hi}"
        )
    if above < min_area:
        return np.zeros(arr.shape, np.uint8)
    return (arr > bottom).view(np.uint8)


#: the grid :class:`TripletSearch` tries by default; ``min_area`` in pixels of
#: a 1024 x 1024 map (scaled to each map, see :func:`scale_min_area`)
#: presence-probability gates tried by :meth:`TripletSearch.best_gate` (0: no gate)
PRESENCE_GATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

TRIPLET_GRID = {
    "top": (0.5, 0.6, 0.7, 0.8, 0.9),
    "min_area": (0, 250, 500, 1000, 2000, 4000, 6000, 8000),
    "bottom": (0.3, 0.4, 0.5),
}


def scale_min_area(min_area: float, shape: Any, *, reference: int = 1024) -> int:
    """A pixel count given at ``reference x reference`` scaled to a map of ``shape``.

    Parameters
    ----------
    min_area : float
        Pixels on a ``reference x reference`` map: a finite number >= 0.
    shape : int or (int, int)
        The map's ``(height, width)``; an int means a square map.
    reference : int
        Side of the map ``min_area`` is counted on (1024: SIIM), > 0.

    Returns
    -------
    int
        ``round(min_area * height * width / reference**2)``, >= 0.

    Raises
    ------
    ValueError
        A parameter out of its range (the message names it).

    Examples
    --------
    >>> import rlemask
    >>> rlemask.scale_min_area(2000, (256, 256))
    125
    >>> rlemask.scale_min_area(2000, (1024, 1024))
    2000
    >>> rlemask.scale_min_area(2000, 256)
    125
    """
    if (
        isinstance(min_area, (bool, np.bool_))
        or not isinstance(min_area, numbers.Real)
        or not 0 <= min_area < math.inf  # also false for NaN
    ):
        raise ValueError(
            f"`min_area` must be a finite number >= 0; received min_area={min_area!r}"
        )
    height, width = check_size(shape, "shape")
    if isinstance(reference, (bool, np.bool_)) or not isinstance(reference, numbers.Integral):
        raise ValueError(f"`reference` must be an int > 0; received reference={reference!r}")
    if reference <= 0:
        raise ValueError(f"`reference` must be an int > 0; received reference={reference!r}")
    return int(round(min_area * height * width / (int(reference) * int(reference))))


class TripletSearch:
    """Choose :func:`triplet_threshold`'s ``(top, min_area, bottom)`` on validation maps.

    Feed it one image at a time (``add``) -- probability map and true mask at
    the resolution they are scored at -- and ask for the best triplet: the
    one with the highest mean Dice over the images, the competition's score
    (an empty prediction of an empty truth scores 1).  Memory grows by one
    row of scores per image, never by the maps.  Framework-free: feed it
    from Keras, PyTorch or numpy.

    The triplet rule has only ``len(bottom)`` distinct non-empty masks per
    image, so each image costs one count per ``top`` and one Dice per
    ``bottom``, whatever the grid's size.

    Parameters
    ----------
    top, min_area, bottom : sequence
        The values tried (every combination).  ``min_area`` is in pixels of
        a ``reference x reference`` map and scaled to each map's size.
    reference : int
        Side of the map ``min_area`` is counted on (1024: SIIM).

    Attributes
    ----------
    grid : list of (top, min_area, bottom)
        The triplets, in the order of the columns of :attr:`scores`.
    scores : numpy.ndarray
        (n_images, len(grid)) float64: each image's Dice for each triplet.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> search = rlemask.TripletSearch(top=(0.5, 0.9), min_area=(0, 4), bottom=(0.3,), reference=4)
    >>> truth = np.zeros((4, 4), np.uint8); truth[:2, :2] = 1
    >>> prob = np.zeros((4, 4), np.float32); prob[:2, :2] = 0.8; prob[3, 3] = 0.6
    >>> search.grid
    [(0.5, 0, 0.3), (0.5, 4, 0.3), (0.9, 0, 0.3), (0.9, 4, 0.3)]
    >>> search.add(prob, truth).round(3).tolist()  # the speck costs Dice; 4 px > 0.5 pass
    [0.889, 0.889, 0.889, 0.0]
    >>> search.add(np.where(prob == 0.6, 0.6, 0.0), np.zeros((4, 4)))  # an empty image
    array([0., 1., 0., 1.])
    >>> search.best()  # (0.889 + 1) / 2
    ((0.5, 4, 0.3), 0.9444444444444444)

    With a classifier's presence probability per image (``presence=``), the
    gate that empties an image whose probability is below it is chosen with
    the triplet (:meth:`best_gate`):

    >>> gated = rlemask.TripletSearch(top=(0.5,), min_area=(0,), bottom=(0.3,), reference=4)
    >>> _ = gated.add(prob, truth, presence=0.9)
    >>> _ = gated.add(np.where(prob == 0.6, 0.6, 0.0), np.zeros((4, 4)), presence=0.2)
    >>> gated.best()[1], gated.best_gate(gates=(0.0, 0.5))  # the gate saves the empty image
    (0.4444444444444444, ((0.5, 0, 0.3), 0.5, 0.9444444444444444))
    """

    def __init__(
        self,
        top=TRIPLET_GRID["top"],
        min_area=TRIPLET_GRID["min_area"],
        bottom=TRIPLET_GRID["bottom"],
        *,
        reference: int = 1024,
    ):
        self._tops = [check_probability(t, "top") for t in top]
        self._areas = [check_area(a, "min_area") for a in min_area]
        self._bottoms = [check_probability(b, "bottom") for b in bottom]
        if not (self._tops and self._areas and self._bottoms):
            raise ValueError("`top`, `min_area` and `bottom` each need at least one value")
        if isinstance(reference, bool) or not isinstance(reference, int) or reference < 1:
            raise ValueError(
                f"`reference` must be a positive int; received reference={reference!r}"
            )
        self.reference = reference
        self.grid = [(t, a, b) for t in self._tops for a in self._areas for b in self._bottoms]
        self._rows: list[np.ndarray] = []
        self._presence: list[float] = []  # NaN where add() was given none
        self._empty: list[float] = []  # the score of an emptied image: 1 when its truth is empty

    def add(
        self, prob: np.ndarray, truth: np.ndarray, *, presence: float | None = None
    ) -> np.ndarray:
        """Score one image for every triplet; returns its row of :attr:`scores`.

        ``prob`` is an (H, W) map of probabilities in 0..1, ``truth`` an
        (H, W) mask (non-zero = foreground) of the same shape; ``presence``
        a classifier's probability that the image holds anything (for
        :meth:`best_gate`).
        """
        from rlemask.metrics import dice

        gate_value = math.nan if presence is None else check_probability(presence, "presence")
        arr = check_probability_map(prob, "prob")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(
                f"`prob` must hold probabilities in 0..1; received values from "
                f"{arr.min()} to {arr.max()}"
            )
        target = check_array_2d(truth, "truth", allow_empty=True)
        if target.shape != arr.shape:
            raise ValueError(
                f"`truth` must have the shape of `prob` {arr.shape}; received {target.shape}"
            )
        target = target != 0
        if arr.dtype.kind == "f":  # compare in the map's precision, as triplet_threshold
            above = {t: int(np.count_nonzero(arr > arr.dtype.type(t))) for t in self._tops}
            scores = {b: dice(arr > arr.dtype.type(b), target) for b in self._bottoms}
        else:
            above = {t: int(np.count_nonzero(arr > t)) for t in self._tops}
            scores = {b: dice(arr > b, target) for b in self._bottoms}
        empty = 0.0 if target.any() else 1.0
        areas = {a: scale_min_area(a, arr.shape, reference=self.reference) for a in self._areas}
        row = np.array(
            [empty if above[t] < areas[a] else scores[b] for t, a, b in self.grid], np.float64
        )
        self._rows.append(row)
        self._empty.append(empty)
        self._presence.append(gate_value)
        return row

    @property
    def scores(self) -> np.ndarray:
        if not self._rows:
            return np.zeros((0, len(self.grid)))
        return np.stack(self._rows)

    def best(self) -> tuple[tuple[float, int, float], float]:
        """The triplet of the highest mean Dice and that mean; the first of the grid on ties."""
        if not self._rows:
            raise ValueError("no image added: call add(prob, truth) first")
        means = self.scores.mean(axis=0)
        index = int(np.argmax(means))
        return self.grid[index], float(means[index])

    def best_gate(
        self, gates: Sequence[float] = PRESENCE_GATES
    ) -> tuple[tuple[float, int, float], float, float]:
        """The best ``(triplet, gate, mean Dice)`` when an image whose presence is below the
        gate is emptied; gate 0 keeps every image (the plain :meth:`best`).

        Every :meth:`add` must have been given ``presence``.  Ties go to the
        smaller gate, then to the first triplet of the grid.
        """
        if not self._rows:
            raise ValueError("no image added: call add(prob, truth, presence=p) first")
        presence = np.asarray(self._presence)
        if np.isnan(presence).any():
            missing = int(np.isnan(presence).sum())
            raise ValueError(
                f"`presence` was not given for {missing} of {len(presence)} images: "
                "call add(prob, truth, presence=p) for every image"
            )
        checked = sorted({check_probability(g, "gates") for g in gates})
        if not checked:
            raise ValueError("`gates` needs at least one value")
        scores, empty = self.scores, np.asarray(self._empty)[:, None]
        best: tuple[float, int, float] = (-1.0, 0, 0.0)
        for gate in checked:
            means = np.where(presence[:, None] < gate, empty, scores).mean(axis=0)
            index = int(np.argmax(means))
            if means[index] > best[0]:
                best = (float(means[index]), index, gate)
        score, index, gate = best
        return self.grid[index], gate, score


class ClassTripletSearch:
    """:class:`TripletSearch` for each class of multi-class maps (Severstal's four defects).

    Each class gets its own triplet (and gate), chosen on its own channel;
    the score is the mean Dice over (image, class) pairs, which -- every
    class seeing every image -- is the mean of the classes' scores.

    Parameters
    ----------
    classes : sequence of str
        The class names, in channel order.
    **grid
        ``top``, ``min_area``, ``bottom``, ``reference``: as :class:`TripletSearch`.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> search = rlemask.ClassTripletSearch(["a", "b"], top=(0.5,), min_area=(0, 4),
    ...                                     bottom=(0.5,), reference=4)
    >>> prob = np.zeros((4, 4, 2), np.float32); prob[:2, :2, 0] = 0.9; prob[3, 3, 1] = 0.9
    >>> truth = np.zeros((4, 4, 2), np.uint8); truth[:2, :2, 0] = 1
    >>> search.add(prob, truth).tolist()     # per class, the best triplet's Dice so far
    [1.0, 1.0]
    >>> search.best()                        # class b's speck is removed by min_area 4
    ({'a': (0.5, 0, 0.5), 'b': (0.5, 4, 0.5)}, 1.0)
    """

    def __init__(self, classes: Sequence[str], **grid: Any) -> None:
        names = [str(c) for c in classes]
        if not names or len(set(names)) != len(names):
            raise ValueError(
                f"`classes` must be distinct names, at least one; received classes={classes!r}"
            )
        self.classes = tuple(names)
        self.searches = {name: TripletSearch(**grid) for name in self.classes}

    def add(self, prob: np.ndarray, truth: np.ndarray, *, presence: Any = None) -> np.ndarray:
        """Score one image: ``prob`` and ``truth`` (H, W, C), ``presence`` (C,) or None.

        Returns each class's best score over the grid for this image alone.
        """
        arr, target = np.asarray(prob), np.asarray(truth)
        n = len(self.classes)
        for name, value in (("prob", arr), ("truth", target)):
            if value.ndim != 3 or value.shape[-1] != n:
                raise ValueError(
                    f"`{name}` must be (H, W, {n}), one channel per class; "
                    f"received shape {value.shape}"
                )
        gates = [None] * n if presence is None else list(np.asarray(presence, float).ravel())
        if len(gates) != n:
            raise ValueError(f"`presence` must hold {n} values, one per class; got {len(gates)}")
        rows = [
            search.add(arr[..., c], target[..., c], presence=gates[c])
            for c, search in enumerate(self.searches.values())
        ]
        return np.array([row.max() for row in rows])

    def best(self) -> tuple[dict[str, tuple[float, int, float]], float]:
        """Each class's best triplet and the mean Dice over (image, class) pairs."""
        chosen = {name: search.best() for name, search in self.searches.items()}
        return {k: v[0] for k, v in chosen.items()}, float(np.mean([v[1] for v in chosen.values()]))

    def best_gates(
        self, gates: Sequence[float] = PRESENCE_GATES
    ) -> tuple[dict[str, tuple[tuple[float, int, float], float]], float]:
        """Each class's best ``(triplet, gate)`` and the mean Dice over (image, class) pairs."""
        chosen = {name: search.best_gate(gates) for name, search in self.searches.items()}
        score = float(np.mean([v[2] for v in chosen.values()]))
        return {k: (v[0], v[1]) for k, v in chosen.items()}, score
