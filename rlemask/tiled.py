"""Predict a gigapixel image in overlapping tiles, straight to its RLE row.

:func:`predict_tiled` is the whole tiled-prediction loop of a HuBMAP-style
pipeline, without a framework: it lays out the windows of :func:`rlemask.tiles`
in the output format's scan order, reads each window alone
(:func:`rlemask.read_region`: a TIFF is read lazily, only the tiles of the
file that the window meets; a PNG or JPEG is decoded once and sliced), calls
your ``predict`` on batches of tiles, and feeds the probabilities to a
:class:`rlemask.TileWriter`, which blends the overlaps, thresholds and
encodes band by band.  Neither the image nor its mask is ever held whole.
:func:`predict_tiled_classes` does the same for ``C`` classes (one writer,
one row per class).

The model's side
----------------
``predict(batch)`` gets float32 ``(B, h, w, channels)`` in 0..1, the pixels
a training sample of the same window has (8-bit steps ``k / 255``, as
:func:`rlemask.load_sample` and :class:`rlemask.TileDataset`), and returns
probabilities ``(B, h, w)`` or ``(B, h, w, C)`` in 0..1 (a NumPy array or
anything ``numpy.asarray`` takes: a Keras, JAX or torch CPU tensor).  With
``size=`` each tile is resized to the model's input first (area mean, as
training samples) and the probabilities back to the tile (bilinear when
enlarging, area mean when shrinking: :meth:`rlemask.SampleLayout.to_image`),
before blending: the mask is thresholded once, at full resolution.

``skip(tile)`` (optional) is asked about each tile, float32
``(h, w, channels)`` at full resolution, before the model: ``True`` leaves
the tile out (:meth:`rlemask.TileWriter.skip`: background), e.g. glass,
``lambda tile: tile.mean() > 0.9``.

Channels: ``channels=1`` gives the grey (luma) image, what
``rlemask_keras.DataGenerator`` trains on (its ``channels=3`` repeats that
grey plane); ``channels=3`` reads the file's colours, for a model trained
on colour tiles.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> import tifffile
>>> import rlemask
>>> path = pathlib.Path(tempfile.mkdtemp()) / "slide.tiff"
>>> image = np.full((300, 400, 3), 240, np.uint8)
>>> image[100:150, 200:260] = (170, 95, 165)                 # one purple region
>>> tifffile.imwrite(path, image, tile=(64, 64), photometric="rgb")
>>> def purple(batch):                                       # a stand-in model
...     return (batch[..., 1] < 0.5).astype(np.float32)
>>> rle = rlemask.predict_tiled(path, purple, tile=128, overlap=16, channels=3)
>>> int(rlemask.Runs.from_text(rle, (300, 400), format="kaggle").area)
3000
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rlemask._validation import check_probability, check_size
from rlemask.images import image_shape, read_image, read_region, source_of
from rlemask.resize import resize_image
from rlemask.sample import sample_layout, to_unit
from rlemask.tiles import TileWriter

__all__ = ["predict_tiled", "predict_tiled_classes", "fit_tile"]

Window = tuple[int, int, int, int]


def fit_tile(pixels: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """8-bit tile pixels -> float32 0..1 at ``size``: a training sample's image.

    ``pixels`` is uint8 ``(h, w)`` or ``(h, w, c)``.  Resized (each channel
    by :func:`rlemask.resize_image`'s area mean) and rounded to 8-bit steps
    as :func:`rlemask.load_sample` does, then :func:`rlemask.sample.to_unit`.

    Examples
    --------
    >>> fit_tile(np.array([[0, 255], [255, 255]], np.uint8), (1, 1))
    array([[0.7490196]], dtype=float32)
    """
    if size is None or tuple(pixels.shape[:2]) == tuple(size):
        return to_unit(pixels)
    planes = pixels[..., None] if pixels.ndim == 2 else pixels
    out = np.stack([resize_image(planes[..., c], size, method="area")
                    for c in range(planes.shape[2])], axis=-1)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return to_unit(out[..., 0] if pixels.ndim == 2 else out)


class _Source:
    """The windows of one image file, as uint8 ``(h, w, channels)``."""

    def __init__(self, path: str | os.PathLike, channels: int):
        self.path, self.channels = path, channels
        self.shape = image_shape(path)
        # a TIFF is read window by window; PNG and JPEG cannot be, so decode once
        self._whole = (
            None if source_of(path) == "tiff"
            else read_image(path, dtype=np.uint8, channels=channels)
        )

    def read(self, window: Window) -> np.ndarray:
        y, x, h, w = window
        if self._whole is None:
            arr = read_region(self.path, window, dtype=np.uint8, channels=self.channels)
        else:
            arr = self._whole[y : y + h, x : x + w]
        return arr[..., None] if arr.ndim == 2 else arr


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {name}={value!r}")
    return int(value)


def _thresholds(threshold: Any, n: int) -> list[float]:
    if isinstance(threshold, (list, tuple, np.ndarray)):
        values = list(threshold)
        if len(values) != n:
            raise ValueError(
                f"`threshold` must be one float or one per class ({n}); "
                f"received {len(values)} values"
            )
        return [check_probability(v, "threshold") for v in values]
    return [check_probability(threshold, "threshold")] * n


def _probabilities(out: Any, n_tiles: int, model_shape: tuple[int, int], n: int) -> np.ndarray:
    """The model's output as float32 ``(B, h, w, C)``; a clear error for any other shape."""
    prob = np.asarray(out, dtype=np.float32)
    if prob.ndim == 3 and n == 1:
        prob = prob[..., None]
    expected = (n_tiles, *model_shape, n)
    if prob.shape != expected:
        one = f" or {expected[:3]}" if n == 1 else ""
        raise ValueError(
            f"`predict` must return probabilities of shape {expected}{one} for a batch of "
            f"{n_tiles} tiles of {model_shape}; it returned shape {prob.shape}"
        )
    return prob


class _Batcher:
    """Tiles waiting for the model (float32 at its size), in the writers' order, skips included."""

    def __init__(self, predict: Callable, writers: list[TileWriter], size: Any):
        self.predict, self.writers, self.size = predict, writers, size
        self.pending: list[tuple[Window, np.ndarray | None]] = []
        self.n_tiles = 0
        self.calls = 0

    def put(self, window: Window, tile: np.ndarray | None) -> None:
        if tile is None and not self.n_tiles:  # nothing ahead of it: done at once
            for writer in self.writers:
                writer.skip(window)
            return
        self.pending.append((window, tile))
        self.n_tiles += tile is not None

    def flush(self) -> None:
        tiles = [t for _, t in self.pending if t is not None]
        prob = None
        if tiles:
            batch = np.stack(tiles)
            prob = _probabilities(self.predict(batch), len(tiles), batch.shape[1:3],
                                  len(self.writers))
            self.calls += 1
        k = 0
        for window, tile in self.pending:
            if tile is None:
                for writer in self.writers:
                    writer.skip(window)
                continue
            p = prob[k]
            k += 1
            if self.size is not None:  # back to the tile's own size, then blended
                layout = sample_layout(window[2:], self.size)
                p = np.clip(layout.to_image(p), 0, 1)
            for c, writer in enumerate(self.writers):
                writer.add(window, p[..., c])
        self.pending, self.n_tiles = [], 0


def predict_tiled_classes(
    path: str | os.PathLike,
    predict: Callable[[np.ndarray], Any],
    classes: int,
    *,
    tile: int | tuple[int, int] = 512,
    overlap: int | tuple[int, int] = 64,
    format: str = "kaggle",
    threshold: float | Sequence[float] = 0.5,
    blend: str = "mean",
    channels: int = 1,
    batch_size: int = 8,
    skip: Callable[[np.ndarray], bool] | None = None,
    size: int | tuple[int, int] | None = None,
    **format_options: Any,
) -> list[Any]:
    """:func:`predict_tiled` for a model of ``classes`` output channels: one row per class.

    ``predict(batch)`` returns ``(B, h, w, classes)``; ``threshold`` is one
    float or one per class.  Each class has its own :class:`rlemask.TileWriter`
    (the memory of one band per class).  Other parameters as
    :func:`predict_tiled`.

    Returns
    -------
    list
        ``classes`` RLE rows (``str``; dicts for ``coco``), in channel order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "strip.png"
    >>> image = np.zeros((64, 320), np.uint8); image[:, 160:] = 255
    >>> Image.fromarray(image).save(path)
    >>> def two(batch):                  # class 0: dark, class 1: bright
    ...     bright = batch[..., 0]
    ...     return np.stack([1 - bright, bright], axis=-1)
    >>> rows = predict_tiled_classes(path, two, 2, tile=64, overlap=8)
    >>> rows
    ['1 10240', '10241 10240']
    """
    n = _check_count(classes, "classes")
    thresholds = _thresholds(threshold, n)
    batch = _check_count(batch_size, "batch_size")
    model_size = None if size is None else check_size(size, "size")
    if skip is not None and not callable(skip):
        raise TypeError(f"`skip` must be a callable or None; received {type(skip).__name__}")
    if not callable(predict):
        raise TypeError(f"`predict` must be a callable; received {type(predict).__name__}")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"`channels` must be 1 or 3; received channels={channels!r}")
    source = _Source(path, channels)
    writers = [
        TileWriter(source.shape, format=format, threshold=t, blend=blend, tile=tile,
                   overlap=overlap, **format_options)
        for t in thresholds
    ]
    batcher = _Batcher(predict, writers, model_size)
    for window in writers[0].windows():
        pixels = source.read(window)
        # 0..1 once: for skip() and, at the tile's own size, the model's input too
        unit = to_unit(pixels) if skip is not None or model_size is None else None
        if skip is not None and skip(unit):
            batcher.put(window, None)
            continue
        batcher.put(window, unit if model_size is None else fit_tile(pixels, model_size))
        if batcher.n_tiles == batch:
            batcher.flush()
    batcher.flush()
    return [writer.finish() for writer in writers]


def predict_tiled(
    path: str | os.PathLike,
    predict: Callable[[np.ndarray], Any],
    *,
    tile: int | tuple[int, int] = 512,
    overlap: int | tuple[int, int] = 64,
    format: str = "kaggle",
    threshold: float = 0.5,
    blend: str = "mean",
    channels: int = 1,
    batch_size: int = 8,
    skip: Callable[[np.ndarray], bool] | None = None,
    size: int | tuple[int, int] | None = None,
    **format_options: Any,
) -> Any:
    """Predict an image of any size in overlapping tiles; its RLE row, streamed.

    Parameters
    ----------
    path : str or os.PathLike
        The image (TIFF read lazily window by window; DICOM, PNG, JPEG whole).
    predict : callable
        ``predict(batch) -> probabilities``: float32 ``(B, h, w, channels)``
        in 0..1 in, ``(B, h, w)`` or ``(B, h, w, 1)`` in 0..1 out (see the
        module docstring); e.g. ``model.predict_on_batch``.
    tile, overlap : int or (int, int), default 512 and 64
        The grid (:func:`rlemask.tiles`).
    format : str, default "kaggle"
        Output RLE format; its scan order decides the bands.
    threshold : float, default 0.5
        Foreground where the blended probability is ``> threshold``.
    blend : {"mean", "gaussian", "cosine"}
        How overlaps are combined (:class:`rlemask.TileWriter`).
    channels : {1, 3}
        Grey or colour tiles.
    batch_size : int, default 8
        Tiles per ``predict`` call (the last call may get fewer).
    skip : callable, optional
        ``skip(tile) -> bool`` on the float32 ``(h, w, channels)`` tile;
        ``True``: background, the model is not called for it.
    size : int or (int, int), optional
        The model's input size: tiles are resized to it and the
        probabilities back (module docstring).  Default: the tile's own.
    **format_options
        Options of ``format`` (``order="C"`` for row-major kaggle).

    Returns
    -------
    str
        The whole image's RLE (a dict for ``coco``), exactly what thresholding
        a dense blended map of the same tiles and encoding it gives.

    Raises
    ------
    rlemask.ImageError
        The image cannot be read.
    ValueError
        A bad argument, or ``predict`` returned another shape or values
        outside 0..1 (the message gives the shapes).
    TypeError
        ``predict`` or ``skip`` is not callable.

    Examples
    --------
    See the module docstring; with the tissue check of a HuBMAP pipeline::

        rle = rlemask.predict_tiled("kidney.tiff", model.predict_on_batch, tile=1024,
                                    overlap=128, size=512, channels=3,
                                    skip=lambda tile: tile.mean() > 0.9)
    """
    return predict_tiled_classes(
        path, predict, 1, tile=tile, overlap=overlap, format=format, threshold=threshold,
        blend=blend, channels=channels, batch_size=batch_size, skip=skip, size=size,
        **format_options,
    )[0]
