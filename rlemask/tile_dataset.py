"""Training tiles of large images: a :class:`rlemask.Dataset` seen window by window.

:class:`TileDataset` wraps a data set of images too large to train on whole
(HuBMAP's kidney TIFFs) and offers the same interface, one entry per window
of :func:`rlemask.tiles`: ``ids`` such as ``"aaa6a05cc@512,1024"`` (image id
``@`` top row ``,`` left column), ``classes``, ``path(id)`` (the image's
file), ``shape(id)`` (the window's), ``sample(id, size, policy=...)`` and
``positive()``, so ``rlemask_keras.DataGenerator(TileDataset(data))`` trains
on tiles as it trains on images.

Nothing full-size is built.  A sample reads only its window
(:func:`rlemask.read_region`: lazily for a TIFF; a PNG or JPEG is decoded
whole each time) and cuts its labels from the image's runs
(:meth:`rlemask.Runs.crop`).  Which windows hold a region of which class
comes from the runs themselves, each cut into at most three rectangles (its
first partial line, full lines, last partial line), never from a decoded
mask: exact, and cheap for a 30,000-pixel image.

Tiles of a large slide are mostly empty (HuBMAP: a few percent hold a
glomerulus).  ``positive_share=p`` keeps every positive window and only as
many empty ones, drawn once from ``seed``, as leave positives a share ``p``;
for a share redrawn every epoch, pass ``positive_fraction`` to the
generator, which reads :meth:`TileDataset.positive`.

Examples
--------
>>> import tempfile
>>> import rlemask
>>> from rlemask.synthetic_kinds import make_kind
>>> root = make_kind(tempfile.mkdtemp(), "hubmap", size=(600, 800), seed=1)
>>> data = rlemask.load_dataset(root, root / "train.csv")
>>> tiles = rlemask.TileDataset(data, tile=256, overlap=32)
>>> len(tiles), tiles.ids[0], tiles.shape(tiles.ids[0])
(12, '4b5f4fa1b@0,0', (256, 256))
>>> image, mask = tiles.sample(tiles.ids[5], 128)
>>> image.shape, image.dtype.name, mask.shape, mask.dtype.name
((128, 128), 'float32', (128, 128, 1), 'uint8')
>>> bool(tiles.positive().any())
True
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._validation import check_choice, check_probability
from rlemask.images import read_region
from rlemask.resize import resize_mask
from rlemask.runs import Runs
from rlemask.sample import MASK_RESIZE_METHOD, POLICIES, SampleLayout, sample_layout
from rlemask.tiled import fit_tile
from rlemask.tiles import tiles

__all__ = ["TileDataset", "window_positives"]

Window = tuple[int, int, int, int]


def _rectangles(runs: Runs) -> tuple[np.ndarray, ...]:
    """Rows ``r0, r1`` and columns ``c0, c1`` (inclusive) of rectangles covering ``runs`` exactly.

    A run spans scan lines (columns for ``"F"``, rows for ``"C"``): its
    first line from its start, the full lines between, its last line to its
    end -- at most three rectangles, whose union is the run.
    """
    H, W = runs.shape
    m = H if runs.order == "F" else W  # pixels per scan line
    s = runs.starts.astype(np.int64)
    e = s + runs.lengths.astype(np.int64) - 1
    l0, p0, l1, p1 = s // m, s % m, e // m, e % m
    one = l0 == l1
    full = l1 - l0 >= 2
    top = np.where(one, p1, m - 1)  # the first line: p0 .. top
    lines_lo = np.concatenate([l0, l1[~one], l0[full] + 1])
    lines_hi = np.concatenate([l0, l1[~one], l1[full] - 1])
    pos_lo = np.concatenate([p0, np.zeros((~one).sum(), np.int64), np.zeros(full.sum(), np.int64)])
    pos_hi = np.concatenate([top, p1[~one], np.full(full.sum(), m - 1, np.int64)])
    if runs.order == "F":  # lines are columns, positions rows
        return pos_lo, pos_hi, lines_lo, lines_hi
    return lines_lo, lines_hi, pos_lo, pos_hi


def window_positives(
    runs: Runs, starts_y: Sequence[int], starts_x: Sequence[int], size: tuple[int, int]
) -> np.ndarray:
    """bool ``(len(starts_y), len(starts_x))``: which windows of a grid hold a run's pixel.

    Window ``(i, j)`` is ``(starts_y[i], starts_x[j], *size)``; starts sorted.
    Exact (``mask[window].any()``), from the runs' rectangles, with a 2-D
    difference array: no mask is decoded.

    Examples
    --------
    >>> runs = Runs.from_mask(np.eye(6, dtype=np.uint8))
    >>> window_positives(runs, [0, 3], [0, 3], (3, 3)).tolist()
    [[True, False], [False, True]]
    """
    ys, xs = np.asarray(starts_y, np.int64), np.asarray(starts_x, np.int64)
    out = np.zeros((len(ys) + 1, len(xs) + 1), np.int64)
    if len(runs):
        r0, r1, c0, c1 = _rectangles(runs)
        th, tw = size
        # window i meets rows a..b when start_i <= b and start_i + t - 1 >= a
        ylo, yhi = np.searchsorted(ys, r0 - th + 1), np.searchsorted(ys, r1, side="right")
        xlo, xhi = np.searchsorted(xs, c0 - tw + 1), np.searchsorted(xs, c1, side="right")
        for rows, cols, sign in ((ylo, xlo, 1), (ylo, xhi, -1), (yhi, xlo, -1), (yhi, xhi, 1)):
            np.add.at(out, (rows, cols), sign)
    return np.cumsum(np.cumsum(out, axis=0), axis=1)[:-1, :-1] > 0


class TileDataset:
    """The windows of a data set's images, as a data set (see the module docstring).

    Parameters
    ----------
    dataset : rlemask.Dataset
        The images and their labels (:func:`rlemask.load_dataset`).
    tile : int or (int, int), default 512
        Window size; an image side shorter than it gets one window of its
        length.
    overlap : int or (int, int), default 0
        Pixels shared by neighbouring windows (:func:`rlemask.tiles`).
    positive_share : float, optional
        Keep every window with a region and only enough empty windows for
        positives to make this share (drawn once from ``seed``); ``None``:
        every window.
    seed : int, default 0
        Seed of that draw.
    image_ids : sequence of str, optional
        Tile only these images of ``dataset`` (default: all), e.g. the
        training part of an image-level split: windows of one image overlap
        and look alike, so split the images, not the windows (or pass
        :meth:`groups` to :func:`rlemask.split_dataset`).

    Attributes
    ----------
    ids : tuple of str
        Window ids ``"<image id>@<y>,<x>"``, image by image, in
        :func:`rlemask.tiles` order.
    classes : tuple of str
        The data set's classes (``()``: one class).
    dataset : rlemask.Dataset
        The data set wrapped.

    Raises
    ------
    TypeError
        ``dataset`` is not an :class:`rlemask.Dataset` (its labels are needed).
    ValueError
        A bad ``tile``, ``overlap``, ``positive_share`` or ``seed``, or
        ``positive_share`` with no positive window to keep.
    """

    def __init__(
        self,
        dataset: Any,
        tile: int | tuple[int, int] = 512,
        *,
        overlap: int | tuple[int, int] = 0,
        positive_share: float | None = None,
        seed: int = 0,
        image_ids: Sequence[str] | None = None,
    ) -> None:
        if not (hasattr(dataset, "ids") and hasattr(dataset, "labels")
                and callable(getattr(dataset, "shape", None))):
            raise TypeError(
                "`dataset` must be an rlemask.Dataset (rlemask.load_dataset); "
                f"received {type(dataset).__name__}"
            )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"`seed` must be a non-negative integer; received seed={seed!r}")
        self.dataset = dataset
        self.classes: tuple[str, ...] = tuple(dataset.classes)
        self.tile, self.overlap = tile, overlap
        self._runs: dict[str, list[Runs | None]] = {}
        self._windows: dict[str, tuple[str, Window]] = {}
        positives = []
        chosen = dataset.ids if image_ids is None else list(image_ids)
        for image_id in chosen:
            dataset.path(image_id)  # an unknown id: the data set's KeyError names it
            positives.append(self._index_image(image_id))
        positive = (np.concatenate(positives) if positives
                    else np.zeros((0, max(1, len(self.classes))), bool))
        keep = self._keep(positive, positive_share, int(seed))
        all_ids = list(self._windows)
        self.ids: tuple[str, ...] = tuple(all_ids[k] for k in keep)
        self._positive = positive[keep]
        if len(keep) < len(all_ids):
            self._windows = {i: self._windows[i] for i in self.ids}

    def _image_runs(self, image_id: str, shape: tuple[int, int]) -> list[Runs | None]:
        """The image's mask per class as runs (None: empty); objects merged with ``|``."""
        labels = self.dataset.labels
        if image_id not in labels:
            return [None] * max(1, len(self.classes))
        out: list[Runs | None] = []
        for cls in self.classes or (None,):
            objects = labels.objects(image_id, cls, shape=shape)
            out.append(functools.reduce(operator.or_, objects) if objects else None)
        return out

    def _index_image(self, image_id: str) -> np.ndarray:
        """Record the image's windows and runs; its windows' positive flags (n, C)."""
        shape = self.dataset.shape(image_id)
        runs = self._image_runs(image_id, shape)
        self._runs[image_id] = runs
        windows = list(tiles(shape, self.tile, self.overlap))
        ys = sorted({w[0] for w in windows})
        xs = sorted({w[1] for w in windows})
        size = windows[0][2:]
        grids = [np.zeros((len(ys), len(xs)), bool) if r is None
                 else window_positives(r, ys, xs, size) for r in runs]
        row, col = {y: i for i, y in enumerate(ys)}, {x: j for j, x in enumerate(xs)}
        flags = []
        for window in windows:
            self._windows[f"{image_id}@{window[0]},{window[1]}"] = (image_id, window)
            flags.append([g[row[window[0]], col[window[1]]] for g in grids])
        return np.array(flags, bool).reshape(len(windows), len(runs))

    @staticmethod
    def _keep(positive: np.ndarray, share: Any, seed: int) -> np.ndarray:
        """Indices of the windows kept: all, or the positives and a draw of empties."""
        if share is None:
            return np.arange(len(positive))
        share = check_probability(share, "positive_share")
        hit = positive.any(axis=1)
        pos, empty = np.flatnonzero(hit), np.flatnonzero(~hit)
        if share > 0 and not len(pos):
            raise ValueError(
                f"positive_share={share}: no window holds a region, so none would be kept "
                "(pass positive_share=None)"
            )
        n_empty = len(empty) if share == 0 else min(len(empty), int(len(pos) * (1 - share) / share))
        chosen = np.random.default_rng(seed).choice(empty, n_empty, replace=False)
        return np.sort(np.concatenate([pos, chosen]))

    # ------------------------------------------------------------ the contract
    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, window_id: object) -> bool:
        return window_id in self._windows

    def __repr__(self) -> str:
        return (f"TileDataset({len(self._runs)} images, {len(self)} windows, "
                f"tile={self.tile!r}, overlap={self.overlap!r}, classes={list(self.classes)})")

    def window(self, window_id: str) -> tuple[str, Window]:
        """``(image id, (y, x, h, w))`` of a window id."""
        try:
            return self._windows[window_id]
        except (KeyError, TypeError):
            raise KeyError(
                f"no window {window_id!r} in this TileDataset ({len(self.ids)} windows, "
                f"e.g. {list(self.ids[:3])})"
            ) from None

    def path(self, window_id: str) -> Path:
        """The image file the window lies in."""
        return self.dataset.path(self.window(window_id)[0])

    def shape(self, window_id: str) -> tuple[int, int]:
        """The window's ``(height, width)``."""
        _, (_, _, h, w) = self.window(window_id)
        return h, w

    def groups(self) -> dict[str, str]:
        """Window id -> its image id: ``split_dataset(tiles, groups=tiles.groups())``."""
        return {window_id: self._windows[window_id][0] for window_id in self.ids}

    def positive(self) -> np.ndarray:
        """bool ``(N, C)``: which windows hold a region of each class (from the runs)."""
        return self._positive.copy()

    def layout(
        self, window_id: str, size: int | Sequence[int] | None = None, *, policy: str = "resize"
    ) -> SampleLayout:
        """Where the window lies in :meth:`sample`'s output (as :meth:`rlemask.Dataset.layout`)."""
        return sample_layout(self.shape(window_id), size, policy=policy)

    def masks(self, window_id: str) -> np.ndarray:
        """uint8 ``(h, w, C)``: the window's labels at full resolution, cut from the runs."""
        image_id, (y, x, h, w) = self.window(window_id)
        out = np.zeros((h, w, max(1, len(self.classes))), np.uint8)
        for c, runs in enumerate(self._runs[image_id]):
            if runs is not None:
                out[..., c] = runs.crop(y, x, h, w).to_mask()
        return out

    def sample(
        self, window_id: str, size: int | Sequence[int] | None = None, *, policy: str = "resize"
    ) -> tuple[np.ndarray, np.ndarray]:
        """One window: ``(image float32 (h, w) in 0..1, mask uint8 (h, w, C))``.

        As :meth:`rlemask.Dataset.sample`: ``"resize"`` to ``size`` (None:
        the window's own; the image by area mean rounded to 8-bit steps,
        each class by ``resize_mask``'s ``"area"``), or ``"pad"`` to a
        multiple of ``size``, centred.
        """
        check_choice(policy, "policy", POLICIES)
        image_id, window = self.window(window_id)
        shape = window[2:]
        if size is None:
            size = shape if policy == "resize" else 1
        layout = sample_layout(shape, size, policy=policy)
        pixels = read_region(self.dataset.path(image_id), window, dtype=np.uint8)
        masks = self.masks(window_id)
        out = layout.sample_shape
        if policy == "resize":
            image = fit_tile(pixels, out)
            if out != shape:
                masks = np.stack([resize_mask(masks[..., c], out, method=MASK_RESIZE_METHOD)
                                  for c in range(masks.shape[2])], axis=-1)
            return image, np.ascontiguousarray(masks)
        image = np.zeros(out, np.float32)
        padded = np.zeros((*out, masks.shape[2]), np.uint8)
        where = np.s_[layout.top : layout.top + shape[0], layout.left : layout.left + shape[1]]
        image[where] = fit_tile(pixels)
        padded[where] = masks
        return image, padded
