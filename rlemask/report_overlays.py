"""Overlays of a prediction on its image, for the error-analysis page (:mod:`rlemask.report_page`).

Truth only, prediction only and their overlap are painted half transparent in
three colours of the Okabe-Ito palette (:data:`COLOURS`, told apart with the
common colour-vision deficiencies) over the grey image, with a box around
each connected region of the truth and of the prediction.  An overlay is a
palette PNG: 4 states x 60 grey levels, then the two box colours.  Written
with Pillow (no matplotlib).

Where the pixels come from: :class:`ImageSource` reads the images of a
folder (:func:`rlemask.load_dataset`) or a Dataset; :class:`LabelMasks` the
masks of one side of a score report (anything with ``ids`` and
``mask(image_id, cls, shape)``).  Images over :data:`MAX_OVERLAY_SIDE` pixels
a side are drawn reduced, their masks reduced on the runs.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlemask.datasets import DEFAULT_EXCLUDE
from rlemask.runs import Runs

__all__ = ["COLOURS", "ImageSource", "LabelMasks", "draw_overlay", "overlay_image", "row_pixels"]

#: Okabe-Ito colours (RGB) of the overlays: truth only, prediction only, both.
COLOURS = {
    "truth": (0x56, 0xB4, 0xE9),  # sky blue: missed
    "prediction": (0xE6, 0x9F, 0x00),  # orange: false alarm
    "both": (0x00, 0x9E, 0x73),  # bluish green: found
}

ALPHA = 0.5  # opacity of the mask colours over the image
LEVELS = 60  # grey levels per overlay state: 4 states x 60 + 2 box colours <= 256
NEUTRAL = 128  # the grey of overlays drawn without image data
#: overlays of larger images are drawn reduced (HuBMAP's are 30,000 px a side)
MAX_OVERLAY_SIDE = 4096


# -- images and masks ------------------------------------------------------------
class _Files:
    """Image files given one by one: a mapping id -> path, or paths named by their stem."""

    def __init__(self, files: Mapping | Sequence):
        if isinstance(files, Mapping):
            self._paths = {str(k): Path(v) for k, v in files.items()}
        else:
            self._paths = {Path(p).stem: Path(p) for p in files}
        self.ids = tuple(self._paths)

    def path(self, image_id: str) -> Path:
        return self._paths[image_id]


class ImageSource:
    """Grey images by id from ``data``: None, a folder (``rlemask.load_dataset``), a Dataset,
    a mapping image id -> path, or a list of paths (ids: their stems)."""

    def __init__(self, data: Any, truth: Any, *, skip: Sequence[str] = ()):
        """``skip``: folder names not searched for images (a page's own overlays)."""
        import rlemask

        self.dataset = None
        self._last: tuple[Any, Any] = (None, None)
        if data is None:
            return
        if isinstance(data, (str, os.PathLike)):
            if not Path(data).is_dir():
                raise ValueError(f"`data` must be a folder of images or a Dataset; "
                                 f"received data={str(data)!r}, which is not a folder")
            data = rlemask.load_dataset(data, truth, exclude=(*DEFAULT_EXCLUDE, *skip))
        elif isinstance(data, Mapping) or (
            isinstance(data, Sequence) and not isinstance(data, (str, bytes))
        ):
            data = _Files(data)
        if not callable(getattr(data, "path", None)):
            raise TypeError(f"`data` must be a folder, a rlemask Dataset, a mapping image id -> "
                            f"path or a list of paths; received {type(data).__name__}")
        self.dataset = data
        self._ids = set(data.ids)

    def has(self, image_id: str) -> bool:
        return self.dataset is not None and image_id in self._ids

    def shape(self, image_id: str) -> tuple[int, int]:
        """The image's (h, w): the Dataset's, else the file header's."""
        import rlemask

        if callable(getattr(self.dataset, "shape", None)):
            return tuple(self.dataset.shape(image_id))
        return tuple(rlemask.image_shape(self.dataset.path(image_id)))

    def read(self, image_id: str, reduce: int) -> np.ndarray:
        """The image as uint8 (H, W), read ``reduce`` times smaller.

        The last image is kept: the rows of its classes come one after another.
        """
        import rlemask

        if self._last[0] != (image_id, reduce):
            self._last = ((image_id, reduce), rlemask.read_image(self.dataset.path(image_id),
                                                                  reduce=reduce))
        return self._last[1]


class LabelMasks:
    """One side's labels (the truth or the submission) as the overlays read them.

    A :class:`rlemask.Labels` gives its masks (``mask``, ``objects``); a side
    that only lists its rows (``iter_rows()`` of ``(image_id, cls, text or
    Runs)`` and a ``format``, as :func:`rlemask.score` keeps a mapping) is
    indexed once and its rows parsed here.  Anything else has no masks:
    :attr:`drawable` is False.
    """

    def __init__(self, labels: Any):
        self.labels = labels
        self.ids = set(getattr(labels, "ids", None) or ())
        # a single-class side of a per-class score: its one mask serves every class
        self.single = not getattr(labels, "classes", ())
        self._rows: dict[str, list[tuple[Any, Any]]] | None = None
        if labels is not None and not callable(getattr(labels, "mask", None)) and callable(
            getattr(labels, "iter_rows", None)
        ) and getattr(labels, "format", None):
            self._rows = {}
            for image_id, cls, value in labels.iter_rows():
                if value is not None:
                    self._rows.setdefault(str(image_id), []).append((cls, value))

    @property
    def drawable(self) -> bool:
        """True when the masks can be drawn."""
        return self._rows is not None or callable(getattr(self.labels, "mask", None))

    def shape_of(self, image_id: str) -> tuple[int, int] | None:
        """The image size the labels know (shape columns, ``read_labels(shape=)``), or None."""
        shape_of = getattr(self.labels, "shape_of", None)
        if shape_of is None or image_id not in self.ids:
            return None
        with contextlib.suppress(KeyError, ValueError):
            shape = shape_of(image_id)
            return None if shape is None else tuple(shape)
        return None

    def _objects(self, image_id: str, cls: str | None, shape: tuple[int, int]) -> list[Runs]:
        if self._rows is None:
            return self.labels.objects(image_id, cls, shape)
        objects = []
        for row_cls, value in self._rows.get(image_id, []):
            if cls is not None and row_cls != cls:
                continue
            if not isinstance(value, Runs):
                value = Runs.from_text(value, shape, format=self.labels.format)
            elif tuple(value.shape) != tuple(shape):
                raise ValueError(f"image {image_id!r}: its Runs are of shape {value.shape}, "
                                 f"not the image's {tuple(shape)}")
            objects.append(value)
        return objects

    def mask(self, image_id: str, cls: str | None, shape: tuple[int, int], k: int) -> np.ndarray:
        """The row's mask (all classes OR-ed for ``cls=None``), reduced ``k`` times.

        Empty where the labels have no such image.  A reduced mask keeps every
        region (``method="any"``) and is made on the runs: the full-size mask of
        a gigapixel image is never decoded.
        """
        reduced = (-(-shape[0] // k), -(-shape[1] // k))
        if image_id not in self.ids:
            return np.zeros(reduced, np.uint8)
        cls = None if self.single else cls
        if k == 1 and self._rows is None:
            return np.asarray(self.labels.mask(image_id, cls, shape))
        objects = self._objects(image_id, cls, shape)
        if not objects:
            return np.zeros(reduced, np.uint8)
        union = functools.reduce(operator.or_, objects)
        return (union if k == 1 else union.resize(reduced, method="any")).to_mask()


def row_pixels(
    shape: tuple[int, int] | None, sides: tuple[LabelMasks, LabelMasks], images: ImageSource,
    image_id: str, cls: str | None,
) -> tuple | None:
    """One row's grey image and masks, at most :data:`MAX_OVERLAY_SIDE` a side.

    ``shape`` is the size the labels were scored at (None: the labels' own, or
    the image file's).  An image of another size is resized to the masks,
    since the labels are what was scored.  Without an image file: a neutral
    grey.  Returns ``(grey, truth, prediction, has_image)``, or None when no
    size is known.
    """
    has_image = images.has(image_id)
    shape = shape or sides[0].shape_of(image_id) or sides[1].shape_of(image_id)
    if shape is None and has_image:
        shape = images.shape(image_id)
    if shape is None:
        return None
    k = -(-max(shape) // MAX_OVERLAY_SIDE)
    truth, pred = (side.mask(image_id, cls, tuple(shape), k) for side in sides)
    if not has_image:
        return np.full(truth.shape, NEUTRAL, np.uint8), truth, pred, False
    grey = images.read(image_id, k)
    if grey.shape != truth.shape:
        from PIL import Image

        grey = np.asarray(Image.fromarray(grey).resize(truth.shape[::-1], Image.Resampling.BOX))
    return grey, truth, pred, True


# -- drawing ---------------------------------------------------------------------
def _palette() -> list[int]:
    """256 RGB entries: 4 overlay states x LEVELS greys, then the two box colours."""
    grey = np.linspace(0, 255, LEVELS)[:, None] * np.ones(3)
    states = [grey]
    for colour in (COLOURS["truth"], COLOURS["prediction"], COLOURS["both"]):
        states.append((1 - ALPHA) * grey + ALPHA * np.asarray(colour, float))
    entries = np.concatenate(states + [np.asarray([COLOURS["truth"], COLOURS["prediction"]])])
    entries = np.vstack([entries, np.zeros((256 - len(entries), 3))])
    return np.round(entries).astype(np.uint8).ravel().tolist()


_PALETTE = _palette()
_TRUTH_BOX, _PRED_BOX = 4 * LEVELS, 4 * LEVELS + 1  # palette entries of the box colours
_GREY_TO_LEVEL = (np.arange(256) * LEVELS // 256).astype(np.uint8)


def _boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    import rlemask

    return rlemask.bboxes(mask) if mask.any() else []


def _draw_boxes(draw: Any, boxes: Sequence, colour: Any, scale: float, width: int) -> None:
    for x, y, w, h in boxes:
        x0, y0 = int(x * scale), int(y * scale)
        x1, y1 = max(x0, int((x + w) * scale) - 1), max(y0, int((y + h) * scale) - 1)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)


def overlay_image(image: Any, truth: Any, prediction: Any, *, boxes: bool = True) -> Any:
    """The overlay of a prediction on its image: a palette ``PIL.Image`` of the image's size.

    Truth only, prediction only and both are painted half transparent in
    :data:`COLOURS` over the grey image (kept at 60 grey levels, which is what
    makes the palette PNG small), with a box around each connected region of
    the truth and of the prediction.

    Parameters
    ----------
    image : array_like, shape (H, W), uint8
        The grey image.
    truth, prediction : array_like, shape (H, W)
        Masks, non-zero = foreground.
    boxes : bool, default True
        Draw a box per region.

    Returns
    -------
    PIL.Image.Image
        Mode ``"P"``; ``.convert("RGB")`` for pixels.

    Raises
    ------
    ValueError
        Shapes that differ, or an image that is not 2-D uint8.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((8, 8), np.uint8)
    >>> truth = np.zeros((8, 8), np.uint8); truth[2:5, 2:5] = 1
    >>> overlay_image(image, truth, np.zeros((8, 8)), boxes=False).convert("RGB").getpixel((3, 3))
    (43, 90, 116)
    """
    from PIL import Image, ImageDraw

    grey = np.asarray(image)
    if grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError(f"`image` must be a 2-D uint8 array; received shape {grey.shape}, "
                         f"dtype {grey.dtype}")
    t, p = np.asarray(truth) != 0, np.asarray(prediction) != 0
    if t.shape != grey.shape or p.shape != grey.shape:
        raise ValueError(f"`truth` {t.shape} and `prediction` {p.shape} must have the image's "
                         f"shape {grey.shape}")
    state = t.view(np.uint8) + 2 * p.view(np.uint8)  # 0 none, 1 truth, 2 prediction, 3 both
    index = _GREY_TO_LEVEL[grey] + state * np.uint8(LEVELS)
    out = Image.fromarray(index)
    out.putpalette(_PALETTE)
    if boxes:
        width = max(1, round(max(grey.shape) / 512))
        draw = ImageDraw.Draw(out)
        _draw_boxes(draw, _boxes(t), _TRUTH_BOX, 1.0, width)
        _draw_boxes(draw, _boxes(p), _PRED_BOX, 1.0, width)
    return out


def _thumbnail(full: Any, truth_boxes: Sequence, pred_boxes: Sequence, size: int) -> Any:
    """A small RGB copy of an overlay (without boxes), with its boxes redrawn 1 px wide."""
    from PIL import Image, ImageDraw

    w, h = full.size
    scale = min(2 * size / w, size / h, 1.0)  # fits 2*size x size: wide strips stay legible
    small = full.convert("RGB").resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    draw = ImageDraw.Draw(small)
    _draw_boxes(draw, truth_boxes, COLOURS["truth"], scale, 1)
    _draw_boxes(draw, pred_boxes, COLOURS["prediction"], scale, 1)
    return small


def draw_overlay(grey: np.ndarray, truth: np.ndarray, pred: np.ndarray, size: int) -> tuple:
    """The full-size overlay (boxes drawn at the image's scale) and its thumbnail."""
    from PIL import ImageDraw

    full = overlay_image(grey, truth, pred, boxes=False)
    truth_boxes, pred_boxes = _boxes(truth != 0), _boxes(pred != 0)
    thumb = _thumbnail(full, truth_boxes, pred_boxes, size)
    width = max(1, round(max(grey.shape) / 512))
    draw = ImageDraw.Draw(full)
    _draw_boxes(draw, truth_boxes, _TRUTH_BOX, 1.0, width)
    _draw_boxes(draw, pred_boxes, _PRED_BOX, 1.0, width)
    return full, thumb
