"""``Labels``: the rows of a label file, kept in file order, read-only.

A label file of the field holds one row per image, per object or per
(image, class) pair (see ``docs/labels.md``).  ``Labels`` keeps every row --
its image, its class, its RLE text and its line -- and decodes only what is
asked for.  The RLE text of all rows stays in one ``bytes`` buffer with two
offset arrays, so a 100 MB file costs about 100 MB, not a Python string per
row.  Build one with :func:`rlemask.read_labels`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlemask._errors import LabelsFileError, RLEError
from rlemask._label_conventions import pairs_rule, rle_problem, rle_stats
from rlemask._labels_kernels import FLAG_OVERLAP, FLAG_UNSORTED, FLAG_ZERO_START, RLE_EMPTY
from rlemask._validation import check_shape
from rlemask.codec import decode, merge
from rlemask.runs import Runs

__all__ = ["Labels", "LabelRows"]


@dataclass
class LabelRows:
    """The parts a reader hands to :class:`Labels` (one entry per row, file order).

    ``rle_start``/``rle_end`` index ``buf``; ``image`` and ``cls`` index
    ``ids`` and ``classes`` (``cls`` is -1 everywhere for a single-class file);
    ``line`` is the 1-based line (file) or 0-based row (frame, ``where="row"``);
    ``end`` is one past the last pixel each row covers under ``format``
    (None when the format is not pairs text); ``heights``/``widths`` hold the
    per-row shape columns when the file has them.
    """

    source: str
    where: str
    layout: str
    buf: bytes
    rle_start: np.ndarray
    rle_end: np.ndarray
    image: np.ndarray
    ids: tuple[str, ...]
    cls: np.ndarray
    classes: tuple[str, ...]
    line: np.ndarray
    empty: np.ndarray
    format: str | None
    format_evidence: str
    options: dict
    end: np.ndarray | None = None
    shape: tuple[int, int] | None = None
    heights: np.ndarray | None = None
    widths: np.ndarray | None = None


def _groups(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each code in file order: ``order[bounds[c]:bounds[c + 1]]``."""
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n + 1))
    return order, bounds


class Labels:
    """A read-only table of label rows: image, class, RLE text, in file order.

    Attributes
    ----------
    ids : tuple of str
        Unique image ids in first-seen order, empty images included.
    classes : tuple of str
        Class names in first-seen order; ``()`` for a single-class file.
    layout : str
        ``"single"``, ``"long"`` or ``"wide"`` (how the file was laid out).
    format : str or None
        The RLE format the rows are read with; None when the file gave no
        evidence either way (all empty, or too few runs): decoding a
        non-empty row then asks for ``read_labels(..., format=...)``.
    format_evidence : str
        Why ``format`` was chosen (or why it could not be).
    n_rows : int
        Rows of the file (blank lines not counted), empty rows included.
    source : str
        The file (or ``"<DataFrame>"``) the rows came from.

    Examples
    --------
    >>> import pathlib, tempfile, rlemask
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "steel.csv"
    >>> _ = p.write_text("ImageId_ClassId,EncodedPixels\\n"
    ...                  "a.jpg_1,1 2 6 1\\na.jpg_2,\\nb.jpg_1,\\nb.jpg_2,3 2 7 2\\n")
    >>> labels = rlemask.read_labels(p, shape=(4, 3))
    >>> labels.ids, labels.classes, labels.layout, labels.format
    (('a.jpg', 'b.jpg'), ('1', '2'), 'wide', 'kaggle')
    >>> labels.rles("b.jpg")
    ['3 2 7 2']
    >>> labels.masks("a.jpg")[0]
    array([[1, 0, 0],
           [1, 1, 0],
           [0, 0, 0],
           [0, 0, 0]], dtype=uint8)
    """

    def __init__(self, rows: LabelRows):
        self._r = rows
        self._index = {image_id: i for i, image_id in enumerate(rows.ids)}
        self._class_index = {c: i for i, c in enumerate(rows.classes)}
        self._order, self._bounds = _groups(rows.image, len(rows.ids))
        self._shapes = self._image_shapes()

    # -- what the table is ---------------------------------------------------
    @property
    def ids(self) -> tuple[str, ...]:
        return self._r.ids

    @property
    def classes(self) -> tuple[str, ...]:
        return self._r.classes

    @property
    def layout(self) -> str:
        return self._r.layout

    @property
    def format(self) -> str | None:
        return self._r.format

    @property
    def format_evidence(self) -> str:
        return self._r.format_evidence

    @property
    def format_options(self) -> dict:
        """Options the format is read with (``{"order": "C"}`` for row-major Kaggle)."""
        return dict(self._r.options)

    @property
    def n_rows(self) -> int:
        return int(self._r.image.size)

    @property
    def source(self) -> str:
        return self._r.source

    @property
    def max_pixel(self) -> int | None:
        """One past the largest pixel index any row covers (bounds the image size).

        None when the format is undecided or not pairs text.
        """
        r = self._r
        if r.end is None:
            rows = np.flatnonzero(~r.empty)
            end = self._measured(rows) if pairs_rule(r.format) is not None else None
            return None if end is None else int(end.max(initial=0))
        return int(r.end.max(initial=0))

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._index

    def __repr__(self) -> str:
        fmt = self.format if self.format is not None else "undecided"
        return (
            f"<Labels {self.n_rows} rows, {len(self.ids)} images, layout {self.layout!r}, "
            f"format {fmt!r}, classes {list(self.classes)}>"
        )

    # -- rows ----------------------------------------------------------------
    def _where(self, row: int) -> str:
        r = self._r
        image_id = r.ids[r.image[row]]
        return f"{r.source}, {r.where} {int(r.line[row])} (id {image_id!r})"

    def _image(self, image_id: Any) -> int:
        try:
            return self._index[image_id]
        except (KeyError, TypeError):
            raise KeyError(
                f"no image {image_id!r} in {self.source} ({len(self.ids)} ids, e.g. "
                f"{list(self.ids[:3])})"
            ) from None

    def _class(self, cls: Any) -> int:
        if not self.classes:
            raise ValueError(
                f"`cls` must be None for a single-class file ({self.source}); received cls={cls!r}"
            )
        key = cls if isinstance(cls, str) else str(cls)
        if key not in self._class_index:
            raise ValueError(
                f"`cls` must be one of {list(self.classes)}; received cls={cls!r}"
            )
        return self._class_index[key]

    def _rows(self, image_id: Any, cls: Any = None, *, non_empty: bool = True) -> np.ndarray:
        i = self._image(image_id)
        rows = self._order[self._bounds[i] : self._bounds[i + 1]]
        if cls is not None:
            rows = rows[self._r.cls[rows] == self._class(cls)]
        if non_empty:
            rows = rows[~self._r.empty[rows]]
        return rows

    def _text(self, row: int) -> str:
        r = self._r
        return r.buf[r.rle_start[row] : r.rle_end[row]].decode("utf-8")

    def rles(self, image_id: Any, cls: Any = None) -> list[str]:
        """The RLE text of the image's non-empty rows, in file order.

        ``cls=None``: rows of every class.  An empty image gives ``[]``.
        """
        return [self._text(int(row)) for row in self._rows(image_id, cls)]

    def to_dict(self) -> dict[str, list[str]]:
        """``{image_id: [rle, ...]}``: every id in order, its non-empty rows' text in file
        order (``[]`` for an empty image), classes ignored -- :func:`rlemask.read_rle_csv`'s form.
        """
        r = self._r
        out: dict[str, list[str]] = {image_id: [] for image_id in r.ids}
        buf, starts, ends = r.buf, r.rle_start, r.rle_end
        for row in np.flatnonzero(~r.empty).tolist():
            out[r.ids[r.image[row]]].append(buf[starts[row] : ends[row]].decode("utf-8", "replace"))
        return out

    def iter_rows(self) -> Iterator[tuple[str, str | None, str | None]]:
        """Every row as ``(image_id, class or None, rle text or None for an empty row)``."""
        r = self._r
        for row in range(self.n_rows):
            cls = r.classes[r.cls[row]] if r.cls[row] >= 0 else None
            text = None if r.empty[row] else self._text(row)
            yield r.ids[r.image[row]], cls, text

    # -- shapes --------------------------------------------------------------
    def _image_shapes(self) -> np.ndarray | None:
        """``(n_ids, 2)`` shape per image from the per-row columns (all rows must agree)."""
        r = self._r
        if r.heights is None:
            return None
        shapes = np.zeros((len(r.ids), 2), np.int64)
        first = self._order[self._bounds[:-1][self._bounds[:-1] < self._bounds[1:]]]
        shapes[r.image[first], 0] = r.heights[first]
        shapes[r.image[first], 1] = r.widths[first]
        differ = (shapes[r.image, 0] != r.heights) | (shapes[r.image, 1] != r.widths)
        if differ.any():
            row = int(np.flatnonzero(differ)[0])
            raise LabelsFileError(
                f"{self._where(row)}: height/width ({int(r.heights[row])}, "
                f"{int(r.widths[row])}) differ from the image's first row "
                f"{tuple(int(v) for v in shapes[r.image[row]])}"
            )
        return shapes

    def shape_of(self, image_id: Any) -> tuple[int, int] | None:
        """``(h, w)`` of the image (shape columns, else ``read_labels(shape=)``), or None."""
        i = self._image(image_id)
        if self._shapes is not None:
            return int(self._shapes[i, 0]), int(self._shapes[i, 1])
        return self._r.shape

    def _shape(self, image_id: Any, shape: Any) -> tuple[int, int]:
        if shape is not None:
            return check_shape(shape)
        known = self.shape_of(image_id)
        if known is None:
            reach = self.max_pixel
            raise ValueError(
                f"the size of image {image_id!r} is unknown ({self.source} has no height/width "
                "columns and was read without shape=): pass shape=(height, width)"
                + (f"; its rows reach pixel {reach - 1}" if reach else "")
            )
        return known

    # -- decoding ------------------------------------------------------------
    def _checked(self, rows: np.ndarray, shape: tuple[int, int]) -> str:
        """The format, after checking the rows fit ``shape`` (RLEError naming line and id)."""
        r = self._r
        if r.format is None:
            raise LabelsFileError(
                f"{r.source}: the RLE format is undecided ({r.format_evidence}); read it with "
                "read_labels(..., format='siim') or format='kaggle'"
            )
        end = r.end[rows] if r.end is not None else self._measured(rows)
        if end is not None and rows.size:
            past = end > shape[0] * shape[1]
            if past.any():
                row = int(rows[np.flatnonzero(past)[0]])
                raise RLEError(
                    f"{self._where(row)}: the row covers pixels up to "
                    f"{int(end[past][0]) - 1}, outside the image of shape {shape} "
                    f"({shape[0] * shape[1]} pixels)"
                )
        return r.format

    def _measured(self, rows: np.ndarray) -> np.ndarray | None:
        """End of each of ``rows`` (read without validation), checked as the reader would.

        RLEError naming the line and id for malformed text or, in an
        absolute format, runs that go backwards.
        """
        r = self._r
        rule = pairs_rule(r.format)
        if rule is None:
            return None
        arr = np.frombuffer(r.buf, np.uint8)
        stats = rle_stats(arr, r.rle_start[rows], r.rle_end[rows])
        bad = np.flatnonzero(stats.code > RLE_EMPTY)
        if bad.size:
            i = int(bad[0])
            row = int(rows[i])
            raise RLEError(f"{self._where(row)}: RLE " + rle_problem(
                stats, r.buf, int(r.rle_start[row]), int(r.rle_end[row]), i))
        relative, base = rule
        backward = (stats.flags & (FLAG_UNSORTED | FLAG_OVERLAP)) != 0
        zero = (stats.flags & FLAG_ZERO_START) != 0
        if base == 1 and zero.any():
            row = int(rows[np.flatnonzero(zero)[0]])
            raise RLEError(f"{self._where(row)}: {r.format} RLE with a start of 0 (its starts "
                           "are 1-based)")
        if not relative and backward.any():
            row = int(rows[np.flatnonzero(backward)[0]])
            raise RLEError(f"{self._where(row)}: {r.format} RLE with starts that go backwards "
                           "or runs that overlap (SIIM relative offsets? format='siim')")
        return stats.end(r.format)

    def _decode(self, rows: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        if rows.size == 0:
            return np.zeros(shape, np.uint8)
        fmt = self._checked(rows, shape)
        texts = [self._text(int(row)) for row in rows]
        if len(texts) == 1:  # one kernel call: parse, validate, fill
            return decode(texts[0], shape, format=fmt, **self._r.options)
        return merge(texts, shape, format=fmt, **self._r.options)

    def mask(self, image_id: Any, cls: Any = None, shape: Any = None) -> np.ndarray:
        """The union of the image's rows (of class ``cls``; None: all) as ``(H, W)`` uint8 0/1."""
        shape = self._shape(image_id, shape)
        return self._decode(self._rows(image_id, cls), shape)

    def masks(self, image_id: Any, shape: Any = None) -> np.ndarray:
        """``(C, H, W)`` uint8 0/1, one plane per class in ``classes`` order (``(1, H, W)``
        for a single-class file)."""
        shape = self._shape(image_id, shape)
        rows = self._rows(image_id)
        if not self.classes:
            return self._decode(rows, shape)[None]
        out = np.empty((len(self.classes), *shape), np.uint8)
        codes = self._r.cls[rows]
        for c in range(len(self.classes)):
            out[c] = self._decode(rows[codes == c], shape)
        return out

    def objects(self, image_id: Any, cls: Any = None, shape: Any = None) -> list[Runs]:
        """One :class:`rlemask.Runs` per non-empty row of the image (of class ``cls``)."""
        shape = self._shape(image_id, shape)
        rows = self._rows(image_id, cls)
        if rows.size == 0:
            return []
        fmt = self._checked(rows, shape)
        return [
            Runs.from_text(self._text(int(row)), shape, format=fmt, **self._r.options)
            for row in rows
        ]

    def to_frame(self) -> Any:
        """A long pandas DataFrame: ``image_id``, ``class`` (None for single-class), ``rle``
        (``""`` for an empty row), one row per row of the file."""
        import pandas as pd

        rows = list(self.iter_rows())
        return pd.DataFrame(
            {
                "image_id": [r[0] for r in rows],
                "class": [r[1] for r in rows],
                "rle": [r[2] if r[2] is not None else "" for r in rows],
            }
        )
