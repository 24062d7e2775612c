"""``write_labels``: masks or :class:`rlemask.Labels` as a label file of any layout, atomically.

What is written always reads back the same with :func:`rlemask.read_labels`
(and is refused otherwise): ids are non-empty, have no surrounding spaces
and no line breaks, RLE text is checked before it is written, classes of
a wide file have no ``_``.
"""

from __future__ import annotations

import csv
import functools
import operator
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from rlemask._atomic import atomic_write
from rlemask._errors import RLEError
from rlemask._formats import get_format, scan_order
from rlemask._label_columns import LAYOUTS
from rlemask._label_conventions import pairs_text_problem
from rlemask._validation import check_choice, check_shape, is_empty_rle
from rlemask.label_table import Labels
from rlemask.runs import Runs

__all__ = ["write_labels", "check_row_id", "check_text"]

# the header each layout writes unless ``columns`` names the columns otherwise
_HEADERS = {
    "single": {"id": "ImageId", "rle": "EncodedPixels"},
    "long": {"id": "ImageId", "class": "ClassId", "rle": "EncodedPixels"},
    "wide": {"id": "ImageId_ClassId", "rle": "EncodedPixels"},
}


def check_row_id(image_id: Any, seen: set[str], name: str = "labels") -> str:
    """An id that reads back as itself: non-empty text, no surrounding spaces, no line break.

    ``seen`` holds the ids written so far: the readers strip spaces and read
    ``1`` and ``"1"`` as the same text, so such ids would read back as one.

    Examples
    --------
    >>> check_row_id("a", set())
    'a'
    >>> check_row_id(" a", set())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `labels`: id ' a' has surrounding spaces, which a reader strips ...
    """
    text = image_id if isinstance(image_id, str) else str(image_id)
    if not text.strip():
        raise ValueError(f"`{name}` has an empty id; received id={image_id!r}")
    if text != text.strip():
        raise ValueError(
            f"`{name}`: id {image_id!r} has surrounding spaces, which a reader strips "
            "(it would read back as another id); strip the ids first"
        )
    if "\n" in text or "\r" in text:
        raise ValueError(f"`{name}`: id {image_id!r} holds a line break; received id={text!r}")
    if text in seen:
        raise ValueError(f"`{name}` has two ids that are both {text!r} as text")
    seen.add(text)
    return text


def _is_empty(codec: Any, value: Any) -> bool:
    """None, NaN, or one of the format's empty markers."""
    if is_empty_rle(value):
        return True
    check = getattr(codec, "is_empty", None)
    return isinstance(value, (str, bytes)) and check is not None and bool(check(value))


def _codec_text(fmt: str) -> tuple[Any, str]:
    codec = get_format(fmt)
    empty = getattr(codec, "empty", None)
    if empty is None:
        empty = codec.format(Runs([], [], (1, 1), scan_order(codec, {})))
    if not isinstance(empty, str):
        raise ValueError(f"`format` must print text to write a label file; {fmt!r} does not")
    return codec, empty


def _as_runs(value: Any, shape: tuple[int, int] | None, fmt: str, options: dict,
             where: str) -> list[Runs]:
    """Masks, RLE text (in ``fmt``) or lists of them as runs; ``[]`` for empty."""
    if isinstance(value, Runs):
        return [value]
    if isinstance(value, np.ndarray) and value.ndim == 2:
        return [Runs.from_mask(value, order=scan_order(get_format(fmt), options))]
    if isinstance(value, (str, bytes)) or is_empty_rle(value):
        if _is_empty(get_format(fmt), value):
            return []
        if shape is None:
            raise ValueError(f"{where}: RLE text must be re-encoded here; pass shape=(h, w)")
        try:
            return [Runs.from_text(value, shape, format=fmt, **options)]
        except RLEError as err:
            raise RLEError(f"{where}: {err}") from None
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in _as_runs(v, shape, fmt, options, where)]
    raise TypeError(
        f"{where} must be a 2-D mask, an RLE string, None or a list of them; received "
        f"{type(value).__name__}"
    )


def _mapping_cells(masks: Mapping, classes: Sequence[str] | None) -> Iterator[tuple]:
    """``(image_id, class or None, value)`` of a mapping id -> mask / (C, H, W) / text."""
    for image_id, value in masks.items():
        if isinstance(value, np.ndarray) and value.ndim == 3:
            names = list(classes) if classes is not None else [
                str(c + 1) for c in range(value.shape[0])]
            if len(names) != value.shape[0]:
                raise ValueError(
                    f"`classes` must name the {value.shape[0]} planes of masks[{image_id!r}]; "
                    f"received classes={list(names)}"
                )
            for name, plane in zip(names, value, strict=True):
                yield image_id, name, plane
        else:
            yield image_id, None, value


def _labels_cells(labels: Labels) -> Iterator[tuple]:
    """``(image_id, class, rows)`` of a :class:`Labels`: every (image, class) in table order."""
    classes = labels.classes or (None,)
    for image_id in labels.ids:
        for cls in classes:
            yield image_id, cls, labels.rles(image_id, cls)


def _text_cell(rows: list[str], labels: Labels, fmt: str, options: dict) -> str | None:
    """A Labels cell copied as text when nothing needs re-encoding, else None."""
    same = labels.format == fmt and labels.format_options == options
    if not rows:
        return ""
    if same and len(rows) == 1:
        return rows[0]
    return None


def _row_texts(runs: list[Runs], codec: Any, empty: str, objects: bool,
               options: dict) -> list[str]:
    if not runs:
        return [empty]
    union = functools.reduce(operator.or_, runs) if len(runs) > 1 else runs[0]
    if not objects:
        return [codec.format(union, **options)]
    parts = union.components()
    return [codec.format(part, **options) for part in parts] or [empty]


def _cells(labels: Any, fmt: str, options: dict, objects: bool, shape, classes,
           marker: str | None = None) -> Iterator:
    """``(image_id, class, [row texts])`` of every cell to write, in order."""
    codec, empty = _codec_text(fmt)
    empty = empty if marker is None else marker
    if isinstance(labels, Labels):
        for image_id, cls, rows in _labels_cells(labels):
            text = None if objects else _text_cell(rows, labels, fmt, options)
            if text is not None:
                yield image_id, cls, [text or empty]
                continue
            size = shape or labels.shape_of(image_id)
            runs = labels.objects(image_id, cls, shape=size) if rows else []
            if objects:  # the rows are the objects already (never merged when they touch)
                yield image_id, cls, [codec.format(r, **options) for r in runs] or [empty]
            else:
                yield image_id, cls, _row_texts(runs, codec, empty, False, options)
        return
    for image_id, cls, value in _mapping_cells(labels, classes):
        where = f"labels[{image_id!r}]" + (f" (class {cls!r})" if cls is not None else "")
        if isinstance(value, str) and not objects:  # text is written as given, once checked
            if _is_empty(codec, value):
                yield image_id, cls, [empty]
            else:
                check_text(value, fmt, where, shape, options)
                yield image_id, cls, [value.strip()]
            continue
        runs = _as_runs(value, shape, fmt, options, where)
        yield image_id, cls, _row_texts(runs, codec, empty, objects, options)


def check_text(text: str, fmt: str, where: str, shape: tuple[int, int] | None = None,
               options: dict | None = None) -> None:
    """Refuse RLE text that would not read back (RLEError naming ``where``).

    With a shape the text is parsed whole; without one, pairs text gets the
    checks :func:`rlemask.read_labels` makes (integers, an even count, absolute
    starts that never go backwards).
    """
    try:
        if shape is not None:
            Runs.from_text(text, shape, format=fmt, **(options or {}))
            return
        problem = pairs_text_problem(text, fmt)
    except RLEError as err:
        raise RLEError(f"{where}: {err}") from None
    if problem == "not pairs":
        raise ValueError(f"{where}: pass a mask (or shape=) to write {fmt!r} text")
    if problem:
        raise RLEError(f"{where}: {fmt} RLE: {problem}; received {text[:80]!r}")


def write_labels(
    path: str | os.PathLike,
    labels: Any,
    *,
    layout: str = "single",
    format: str = "kaggle",
    columns: Mapping[str, str] | None = None,
    objects: bool = False,
    shape: tuple[int, int] | None = None,
    classes: Sequence[str] | None = None,
    order: str = "F",
    empty: str | None = None,
) -> None:
    """Write masks or a :class:`rlemask.Labels` as a label file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; written to a temporary file, then renamed over it.
    labels : Labels or mapping
        A :class:`rlemask.Labels`, or a mapping image id -> an ``(H, W)``
        mask, an ``(C, H, W)`` stack (one class per plane), RLE text in
        ``format``, None (empty) or a list of masks / texts (unioned).
    layout : {"single", "long", "wide"}
        ``"single"``: ``ImageId,EncodedPixels``; ``"long"``:
        ``ImageId,ClassId,EncodedPixels``; ``"wide"``:
        ``ImageId_ClassId,EncodedPixels``.
    format : str
        A text format (``"kaggle"``, ``"siim"``, a plugin's).  Empty images
        get the format's empty marker.
    columns : mapping, optional
        Role (``"id"``, ``"class"``, ``"rle"``) -> header name, e.g.
        ``{"id": "id", "rle": "predicted"}`` for HuBMAP.
    objects : bool
        One row per object instead of one row per image (and class): the
        instance layouts (Airbus, DSB), where objects never overlap.  A
        mask's objects are its connected regions (8-connected); a
        :class:`rlemask.Labels`' objects are its non-empty rows (objects that
        touch stay apart).
    shape : (int, int), optional
        Image size for RLE text that must be re-encoded (another format, a
        list to union, ``objects=True``) when the source does not know it.
    classes : sequence of str, optional
        Names of the planes of ``(C, H, W)`` masks (default ``"1"``.. ``"C"``).
    order : {"F", "C"}
        Scan order of Kaggle text.
    empty : str, optional
        The text of an empty row, when a competition wants another marker
        than the format's own (contrails: ``"-"`` in Kaggle text); it must be
        one the format reads as empty.

    Raises
    ------
    ValueError
        An empty id, an id with surrounding spaces or a line break, ids that
        read back as one, a class with ``_`` in a wide file, several classes
        in a single layout, an unknown layout, an ``empty`` marker the format
        would not read as empty.
    RLEError
        RLE text that does not read back.

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np, rlemask
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sub.csv"
    >>> two = np.zeros((4, 4), np.uint8); two[0, 0] = two[3, 3] = 1
    >>> rlemask.write_labels(p, {"a": two, "b": None}, objects=True)
    >>> print(p.read_text(), end="")
    ImageId,EncodedPixels
    a,1 1
    a,16 1
    b,
    """
    check_choice(layout, "layout", LAYOUTS)
    if shape is not None:
        shape = check_shape(shape)
    if not isinstance(labels, (Labels, Mapping)):
        raise TypeError(
            "`labels` must be a Labels or a mapping id -> mask or RLE text; received labels of "
            f"type {type(labels).__name__}"
        )
    options = {"order": order} if order != "F" else {}
    scan_order(get_format(format), options)  # unknown format or option: say so now
    if empty is not None and not (isinstance(empty, str) and _is_empty(get_format(format), empty)):
        raise ValueError(
            f"`empty` must be a marker that format={format!r} reads as an empty mask; "
            f"received empty={empty!r}"
        )
    header = {**_HEADERS[layout], **(columns or {})}
    rows = list(_rows(labels, layout, format, options, objects, shape, classes, empty))
    with atomic_write(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([header[r] for r in _HEADERS[layout]])
        writer.writerows(rows)


def _rows(labels: Any, layout: str, fmt: str, options: dict, objects: bool, shape,
          classes, empty: str | None = None) -> Iterator[list[str]]:
    seen: set[str] = set()
    classes_seen: set[str] = set()
    last: Any = _NO_ID
    for image_id, cls, texts in _cells(labels, fmt, options, objects, shape, classes, empty):
        if last is _NO_ID or image_id != last:
            text_id = check_row_id(image_id, seen)
            last = image_id
        if cls is None and layout != "single":
            raise ValueError(
                f"layout={layout!r} needs a class per row; labels[{image_id!r}] has none (write "
                "(C, H, W) masks or a Labels with classes, or use layout='single')"
            )
        if cls is not None:
            classes_seen.add(cls)
            if layout == "single" and len(classes_seen) > 1:
                raise ValueError(
                    f"layout='single' holds one class; the labels have the classes "
                    f"{sorted(classes_seen)}: use layout='long' or 'wide'"
                )
            if layout == "wide" and "_" in str(cls):
                raise ValueError(f"a wide file's classes must not contain '_'; received {cls!r}")
        for text in texts:
            if layout == "single":
                yield [text_id, text]
            elif layout == "long":
                yield [text_id, str(cls), text]
            else:
                yield [f"{text_id}_{cls}", text]


_NO_ID = object()
