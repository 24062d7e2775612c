"""Tiles of images too large to hold: ``tiles`` and ``TileWriter``.

A gigapixel image (HuBMAP's kidney TIFFs reach 30,000 x 30,000 and more) is
predicted in overlapping tiles.  :func:`tiles` lays the windows out;
:class:`TileWriter` takes each tile's probabilities, blends the overlaps,
thresholds, and prints the whole image's run-length row -- without ever
holding a full-size array.  :func:`rlemask.predict_tiled` runs the whole loop
(read each window lazily, call a model on batches, feed the writer), and
:class:`rlemask.TileDataset` gives the training windows.

The grid
--------
Along an axis of ``n`` pixels, tiles of ``t`` pixels start every
``t - overlap`` pixels; the last tile is moved back to end on the image's
edge (so every tile is full size and neighbours overlap by at least
``overlap``).  An axis shorter than ``t`` gets one tile of ``n`` pixels.

Bands and memory
----------------
The windows come band by band in the *scan order of the output format*:
column bands (all the tiles of one column of tiles, top to bottom, then the
next column) for the column-major formats (``siim``, ``kaggle``, ``coco``),
row bands for row-major ones (``kaggle`` with ``order="C"``).  The writer
knows the grid, so it knows which tiles touch each stretch of columns (rows):
the moment the last of them has arrived, that stretch is blended,
thresholded, encoded into runs and freed.  Fed in scan order, it holds about
one band: ``H x tile`` float32 sums and weights, 8 bytes per pixel (the
stretch a band shares with the next one is part of that band): 30,000 x 512
x 8 B = 123 MB for a 30,000-pixel-high image in 512-pixel tiles, against
3.6 GB for one dense float32 map (measured: ``benchmarks/compare_tiles.py``,
docs/performance.md).  :attr:`TileWriter.peak_bytes` reports it.  Tiles may
come in any order: a stretch is still encoded exactly when its last tile
arrives, but bands stay open longer, so memory grows (a warning says so).

Blending and threshold
----------------------
``blend="mean"`` averages the tiles covering a pixel; ``"gaussian"``
(sigma = 1/8 of the tile, the nnU-Net choice) and ``"cosine"``
(``sin(pi (i + 0.5) / t) ** 2``, never zero) weight each tile's pixels by a
separable window that favours its centre.  The blended value is
``sum(w * p) / sum(w)`` in float32, tiles added in the order they arrive; a
pixel is foreground when it is ``> threshold`` (strictly, as
:func:`rlemask.dice_scores`).  A dense float32 map built the same way (same
tiles, same order) gives the same mask bit for bit.  Tiles passed to
:meth:`TileWriter.skip` (e.g. background without tissue) contribute nothing;
pixels that no added tile covers are background.

Examples
--------
>>> import numpy as np
>>> import rlemask
>>> list(rlemask.tiles((5, 7), 4, 1))          # column bands: x, then y
[(0, 0, 4, 4), (1, 0, 4, 4), (0, 3, 4, 4), (1, 3, 4, 4)]
>>> writer = rlemask.TileWriter((5, 7), tile=4, overlap=1)
>>> for y, x, h, w in writer.windows():
...     writer.add((y, x, h, w), np.full((h, w), 0.9 if x == 0 else 0.1, np.float32))
>>> writer.finish()           # columns 0..2 above 0.5; column 3 averages 0.9 and 0.1
'1 15'
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from rlemask._formats import get_format
from rlemask._validation import (
    check_choice,
    check_order,
    check_probability,
    check_probability_map,
    check_shape,
    check_size,
)
from rlemask.runs import Runs

__all__ = ["TileWriter", "tiles"]

BLENDS = ("mean", "gaussian", "cosine")

Window = tuple[int, int, int, int]


def _check_overlap(overlap: Any, tile: tuple[int, int]) -> tuple[int, int]:
    pair = (overlap, overlap) if not isinstance(overlap, (tuple, list)) else tuple(overlap)
    ok = len(pair) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v < t
        for v, t in zip(pair, tile, strict=False)
    )
    if not ok:
        raise ValueError(
            f"`overlap` must be an int (or a pair) >= 0 and smaller than the tile {tile}; "
            f"received overlap={overlap!r}"
        )
    return int(pair[0]), int(pair[1])


def axis_starts(n: int, t: int, overlap: int) -> list[int]:
    """Tile starts along an axis of ``n`` pixels (tiles of ``min(t, n)``, see the module).

    Examples
    --------
    >>> axis_starts(10, 4, 1), axis_starts(3, 4, 1), axis_starts(8, 4, 0)
    ([0, 3, 6], [0], [0, 4])
    """
    if n <= t:
        return [0]
    starts = list(range(0, n - t + 1, t - overlap))
    if starts[-1] + t < n:
        starts.append(n - t)
    return starts


def tiles(
    shape: tuple[int, int],
    tile: int | tuple[int, int] = 512,
    overlap: int | tuple[int, int] = 64,
    *,
    order: str = "F",
) -> Iterator[Window]:
    """Windows ``(y, x, h, w)`` covering an image of ``shape``, band by band.

    Parameters
    ----------
    shape : (int, int)
        The image's ``(height, width)``.
    tile : int or (int, int), default 512
        Tile size (square, or ``(height, width)``); axes shorter than the
        tile get one tile of the axis' length.
    overlap : int or (int, int), default 64
        Pixels shared by neighbouring tiles at least; ``0 <= overlap < tile``.
    order : {"F", "C"}
        ``"F"`` (default): column bands, top to bottom within a band, bands
        left to right -- the order the column-major formats scan, which lets
        :class:`TileWriter` free each band early.  ``"C"``: row bands, left
        to right within a band (for row-major formats).

    Yields
    ------
    (int, int, int, int)
        ``(y, x, h, w)``: top row, left column, height, width.

    Raises
    ------
    ValueError
        A bad ``tile``, ``overlap`` or ``order``.

    Examples
    --------
    >>> list(tiles((3, 10), 4, 1, order="C"))
    [(0, 0, 3, 4), (0, 3, 3, 4), (0, 6, 3, 4)]
    """
    (H, W), (th, tw) = check_shape(shape), check_size(tile, "tile")
    oy, ox = _check_overlap(overlap, (th, tw))
    order = check_order(order)
    ys, xs = axis_starts(H, th, oy), axis_starts(W, tw, ox)
    h, w = min(th, H), min(tw, W)
    if order == "F":
        return ((y, x, h, w) for x in xs for y in ys)
    return ((y, x, h, w) for y in ys for x in xs)


def _blend_weights(n: int, blend: str) -> np.ndarray:
    """1-D float32 weights of a tile side of ``n`` pixels."""
    i = np.arange(n, dtype=np.float64)
    if blend == "gaussian":
        sigma = max(n / 8.0, 1e-3)
        w = np.exp(-0.5 * ((i - (n - 1) / 2.0) / sigma) ** 2)
    elif blend == "cosine":
        w = np.sin(np.pi * (i + 0.5) / n) ** 2
    else:
        w = np.ones(n)
    return w.astype(np.float32)


class _Axis:
    """The scan-major axis cut into segments, each touched by a fixed set of tiles.

    ``bounds[i]:bounds[i + 1]`` is segment ``i``; ``need[i]`` tiles touch it.
    """

    def __init__(self, starts: list[int], size: int, n_other: int):
        self.starts, self.size = starts, size
        self.bounds = sorted(set(starts) | {s + size for s in starts})
        self.first = {s: self.bounds.index(s) for s in starts}  # first segment of a tile
        self.last = {s: self.bounds.index(s + size) for s in starts}  # one past its last
        pairs = zip(self.bounds[:-1], self.bounds[1:], strict=True)
        self.need = [n_other * sum(s <= a and b <= s + size for s in starts) for a, b in pairs]


class TileWriter:
    """Blend probability tiles of a large image and print its RLE row, band by band.

    Parameters
    ----------
    shape : (int, int)
        The full image's ``(height, width)``.
    format : str, default "kaggle"
        Output format (:func:`rlemask.formats`); its scan order decides the
        bands (column bands for column-major formats).
    threshold : float, default 0.5
        A pixel is foreground when its blended probability is ``> threshold``.
    blend : {"mean", "gaussian", "cosine"}
        How overlapping tiles are combined (see the module docstring).
    tile, overlap : int or (int, int), default 512 and 64
        The grid of :func:`tiles` the tiles come from; :meth:`add` accepts
        exactly its windows.
    **options
        Format options, e.g. ``order="C"`` for kaggle's row-major variant.

    Attributes
    ----------
    order : {"F", "C"}
        The format's scan order; :meth:`windows` yields tiles in it.
    peak_bytes : int
        The most bytes of blending buffers held at once so far.

    Examples
    --------
    >>> import numpy as np
    >>> writer = TileWriter((6, 5), tile=3, overlap=1, format="siim")
    >>> truth = np.zeros((6, 5), np.float32); truth[1:3, 0] = 1; truth[5, 4] = 1
    >>> for y, x, h, w in writer.windows():
    ...     writer.add((y, x, h, w), truth[y:y + h, x:x + w])
    >>> writer.finish()
    '1 2 26 1'
    """

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        format: str = "kaggle",
        threshold: float = 0.5,
        blend: str = "mean",
        tile: int | tuple[int, int] = 512,
        overlap: int | tuple[int, int] = 64,
        **options: Any,
    ):
        self.shape = check_shape(shape)
        self.threshold = np.float32(check_probability(threshold, "threshold"))
        self.blend = check_choice(blend, "blend", BLENDS)
        self.tile = check_size(tile, "tile")
        self.overlap = _check_overlap(overlap, self.tile)
        self._codec = get_format(format)
        self.format, self.options = format, options
        scan = getattr(self._codec, "scan_order", None)
        self.order = check_order(scan(**options) if scan is not None else "F")
        H, W = self.shape
        self._ys = axis_starts(H, self.tile[0], self.overlap[0])
        self._xs = axis_starts(W, self.tile[1], self.overlap[1])
        self._th, self._tw = min(self.tile[0], H), min(self.tile[1], W)
        major = self.order == "F"  # scan-major axis: columns for "F", rows for "C"
        self._axis = (
            _Axis(self._xs, self._tw, len(self._ys)) if major
            else _Axis(self._ys, self._th, len(self._xs))
        )
        self._grid = {(y, x) for y in self._ys for x in self._xs}
        self._seen: set[tuple[int, int]] = set()
        self._left = list(self._axis.need)
        self._open: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._runs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._weights = (
            _blend_weights(self._th, self.blend)[:, None] * _blend_weights(self._tw, self.blend)
        )
        self._max_band = -1
        self._warned = False
        self._finished = False
        self._bytes = 0
        self.peak_bytes = 0

    def windows(self) -> Iterator[Window]:
        """The grid's windows in the writer's scan order (:func:`tiles` with its arguments)."""
        return tiles(self.shape, self.tile, self.overlap, order=self.order)

    # ------------------------------------------------------------- feeding
    def _check_window(self, window: Any) -> tuple[int, int]:
        if self._finished:
            raise RuntimeError("this TileWriter has finished; make a new one for another image")
        try:
            y, x, h, w = (int(v) for v in window)
        except (TypeError, ValueError):
            raise ValueError(
                f"`window` must be (y, x, h, w); received window={window!r}"
            ) from None
        if (y, x) not in self._grid or (h, w) != (self._th, self._tw):
            raise ValueError(
                f"`window` {window!r} is not a window of tiles({self.shape}, tile={self.tile}, "
                f"overlap={self.overlap}); pass windows from TileWriter.windows()"
            )
        if (y, x) in self._seen:
            raise ValueError(f"`window` {window!r} was already added")
        self._seen.add((y, x))
        band = x if self.order == "F" else y
        if band < self._max_band and not self._warned:
            self._warned = True
            warnings.warn(
                f"tile {window!r} comes after a later band: bands stay open until their last "
                "tile arrives, so memory grows (feed tiles in TileWriter.windows() order)",
                UserWarning,
                stacklevel=3,
            )
        self._max_band = max(self._max_band, band)
        return y, x

    def add(self, window: Window, probabilities: Any) -> None:
        """Blend one tile's probabilities in; encode every stretch it completes.

        Parameters
        ----------
        window : (int, int, int, int)
            ``(y, x, h, w)``, one of :meth:`windows`.
        probabilities : array_like, shape (h, w) or (h, w, 1)
            Probabilities in 0..1 (any real dtype; no NaN).  A model's
            one-channel output ``(h, w, 1)`` is taken as ``(h, w)``.

        Raises
        ------
        ValueError
            A window off the grid or added twice; probabilities of the wrong
            shape, with NaN, or outside 0..1.
        """
        arr = np.asarray(probabilities)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        prob = check_probability_map(arr, "probabilities")
        if prob.shape != (self._th, self._tw):
            raise ValueError(
                f"`probabilities` must have the window's shape {(self._th, self._tw)}; "
                f"received probabilities.shape={prob.shape}"
            )
        lo, hi = (float(prob.min()), float(prob.max())) if prob.size else (0.0, 0.0)
        if lo < 0 or hi > 1:
            raise ValueError(
                f"`probabilities` must hold values in 0..1; received values from {lo} to {hi}"
            )
        y, x = self._check_window(window)
        prob = prob.astype(np.float32, copy=False)
        self._accumulate(y, x, prob)

    def skip(self, window: Window) -> None:
        """Mark a tile as background without probabilities (it contributes nothing).

        For tiles a pipeline does not predict (no tissue): its stretch is
        still encoded as soon as its other tiles are in.
        """
        y, x = self._check_window(window)
        self._accumulate(y, x, None)

    def _accumulate(self, y: int, x: int, prob: np.ndarray | None) -> None:
        ax = self._axis
        start, off = (x, y) if self.order == "F" else (y, x)
        for seg in range(ax.first[start], ax.last[start]):
            a, b = ax.bounds[seg], ax.bounds[seg + 1]
            if prob is not None:
                total, weight = self._buffers(seg)
                if self.order == "F":
                    part = np.s_[:, a - x : b - x]
                    where = np.s_[y : y + self._th, :]
                else:
                    part = np.s_[a - y : b - y, :]
                    where = np.s_[:, x : x + self._tw]
                if self.blend == "mean":
                    total[where] += prob[part]
                    weight[where] += np.float32(1)
                else:
                    wgt = self._weights[part]
                    total[where] += prob[part] * wgt
                    weight[where] += wgt
            self._left[seg] -= 1
            if self._left[seg] == 0:
                self._encode(seg)

    def _buffers(self, seg: int) -> tuple[np.ndarray, np.ndarray]:
        bufs = self._open.get(seg)
        if bufs is None:
            a, b = self._axis.bounds[seg], self._axis.bounds[seg + 1]
            shape = (self.shape[0], b - a) if self.order == "F" else (b - a, self.shape[1])
            bufs = (np.zeros(shape, np.float32), np.zeros(shape, np.float32))
            self._open[seg] = bufs
            self._bytes += 2 * bufs[0].nbytes
            self.peak_bytes = max(self.peak_bytes, self._bytes)
        return bufs

    def _encode(self, seg: int) -> None:
        """Blend, threshold and encode one complete stretch; free its buffers."""
        a = self._axis.bounds[seg]
        bufs = self._open.pop(seg, None)
        if bufs is None:  # every tile of this stretch was skipped
            return
        total, weight = bufs
        # divide in place (the sums are not needed again): no second full-size buffer
        np.divide(total, weight, out=total, where=weight > 0)
        mask = total > self.threshold
        runs = Runs.from_mask(mask, order=self.order)
        line = self.shape[0] if self.order == "F" else self.shape[1]
        if len(runs):
            self._runs[seg] = (runs.starts + a * line, runs.lengths)
        self._bytes -= 2 * total.nbytes
        del bufs, total, weight, mask

    # ------------------------------------------------------------- output
    def finish_runs(self) -> Runs:
        """The whole image's :class:`rlemask.Runs` (in the format's scan order).

        Tiles never added nor skipped count as skipped (a warning gives
        their number).  The writer cannot be fed afterwards.
        """
        if not self._finished:
            missing = len(self._grid) - len(self._seen)
            if missing:
                warnings.warn(
                    f"{missing} of {len(self._grid)} tiles were never added: their pixels count "
                    "as background", UserWarning, stacklevel=2,
                )
                for y, x in sorted(self._grid - self._seen):
                    self._seen.add((y, x))
                    self._accumulate(y, x, None)
            self._finished = True
        parts = [self._runs[k] for k in sorted(self._runs)]
        if not parts:
            empty = np.empty(0, np.int64)
            return Runs.from_canonical(empty, empty, self.shape, self.order, check=False)
        starts = np.concatenate([p[0] for p in parts])
        lengths = np.concatenate([p[1] for p in parts])
        # the constructor validates and merges runs that touch across stretch boundaries
        return Runs(starts, lengths, self.shape, self.order)

    def finish(self) -> Any:
        """The whole image's RLE in the writer's format (``str``; a dict for ``coco``)."""
        return self._codec.format(self.finish_runs(), **self.options)

    def __repr__(self) -> str:
        return (
            f"TileWriter(shape={self.shape}, format={self.format!r}, tile={self.tile}, "
            f"overlap={self.overlap}, blend={self.blend!r}, tiles {len(self._seen)}/"
            f"{len(self._grid)})"
        )
