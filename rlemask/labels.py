"""Label files: CSVs of ``ImageId,EncodedPixels`` rows (SIIM ``train-rle.csv`` and the like).

Reading keeps exactly what the file says: one list entry per non-empty row, in
file order, repeated identical rows included (a union -- :func:`rlemask.merge`
-- is unaffected by repeats; count regions on ``set(rles)`` if the data repeats
rows).  Writing produces one row per image, atomically.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import itertools
import numbers
import operator
import os
import threading
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._atomic import atomic_write
from rlemask._errors import LabelsFileError, RLEError
from rlemask._formats import get_format
from rlemask._label_columns import looks_like_header, resolve_columns, role_of
from rlemask._optional import install_hint
from rlemask._validation import check_shape, is_empty_rle
from rlemask.label_reader import build_labels, empty_tokens
from rlemask.label_rows import is_missing, split_file
from rlemask.label_writer import check_row_id, check_text

__all__ = [
    "as_labels",
    "labels_from_frame",
    "large_fields",
    "read_rle_csv",
    "rle_rows",
    "write_rle_csv",
]

_ID = "ImageId"
_RLE = "EncodedPixels"
_PANDAS_HINT = f"install pandas ({install_hint('pandas')})"


# Python's csv module refuses fields over 131,072 characters by default, but a
# noisy 1024 x 1024 prediction is a ~1 MB row that write_rle_csv writes.  The
# limit is process-wide, so it is raised only while a reader runs and put back
# when the last concurrent reader ends (a counter, so that one thread never
# lowers it under another).
_FIELD_LIMIT = 2**31 - 1  # a C long on every platform
_limit_lock = threading.Lock()
_limit_users = 0
_limit_saved = 0


@contextlib.contextmanager
def large_fields() -> Iterator[None]:
    """CSV fields of any length while the block runs (every reader of labels files).

    Examples
    --------
    >>> import csv
    >>> with large_fields():
    ...     csv.field_size_limit() > 10**9
    True
    """
    global _limit_users, _limit_saved
    with _limit_lock:
        if _limit_users == 0:
            _limit_saved = csv.field_size_limit(_FIELD_LIMIT)
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                csv.field_size_limit(_limit_saved)


def _syntax_check(fmt: str, validate: bool):
    """The format's cheap syntax check of one RLE text (``codec.check_syntax``), or None."""
    return getattr(get_format(fmt), "check_syntax", None) if validate else None


def _add_row(labels: dict, image_id: str, value: Any, check, where: str, error: type) -> None:
    """Record one row: the id always, its RLE text unless it is an empty marker."""
    rles = labels.setdefault(image_id, [])
    if is_empty_rle(value):
        return
    if check is not None:
        try:
            check(value)
        except RLEError as err:
            raise error(f"{where}: {err}") from None
    rles.append(value)


def read_rle_csv(
    path: str | os.PathLike, *, format: str = "siim", validate: bool = True
) -> dict[str, list[str]]:
    """Read a labels CSV into ``{image_id: [rle, ...]}``.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV (or gzip CSV) of ``ImageId,EncodedPixels`` rows: both spellings
        of SIIM (``ImageId, EncodedPixels`` of stage 1, ``ImageId,EncodedPixels``
        of stage 2), the header aliases of :func:`rlemask.read_labels`
        (``fname,mask``, ``id,predicted``, ...), no header at all (SIIM's own
        ``train-rle-sample.csv``), a UTF-8 byte-order mark, CRLF; other columns
        are ignored, spaces around values stripped.  A class column is
        ignored too, with a warning: :func:`rlemask.read_labels` keeps it.
    format : str
        Format of the RLE column.  For ``"siim"`` and ``"kaggle"`` each value
        is syntax-checked (integer tokens, an even number of them) when
        ``validate`` is true.
    validate : bool
        Check each RLE value's syntax (cheap; positions against the mask size
        are checked when decoding).

    Returns
    -------
    dict[str, list[str]]
        Image id -> RLE strings in file order.  A ``-1`` (or empty) row gives
        the id with an empty list; several rows of one id are all kept, repeats
        included.

    Raises
    ------
    LabelsFileError
        No id or RLE column, a row of the wrong width, an empty id, or a
        malformed RLE; the message names the file, the 1-based line and the
        id.
    OSError
        The file cannot be opened.

    Examples
    --------
    >>> import pathlib, tempfile, rlemask
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "train-rle.csv"
    >>> _ = p.write_text("ImageId, EncodedPixels\\na, -1\\nb, 1 2\\nb, 5 1\\n")
    >>> rlemask.read_rle_csv(p)
    {'a': [], 'b': ['1 2', '5 1']}
    """
    parsed = split_file(path, "single")
    classes = [n for n in parsed.columns.names if role_of(n) == "class"]
    if parsed.columns.header and classes:  # ignored, as every other column (the contract)
        warnings.warn(
            f"{path}: the class column {classes[0]!r} is ignored (the rows of all classes of "
            "an image are listed together); rlemask.read_labels keeps the classes",
            stacklevel=2,
        )
    labels = build_labels(parsed, format=format, tokens=empty_tokens(None), validate=validate)
    return labels.to_dict()


def _parsed_rows(reader: Any) -> Iterator[list[str]]:
    """``reader``'s rows, each parsed under :func:`large_fields`.

    The raised limit is process-wide; holding it only while a row is parsed
    (not while the caller holds a half-read iterator) gives it back to other
    CSV readers between rows.
    """
    while True:
        with large_fields():
            row = next(reader, None)
        if row is None:
            return
        yield row


def rle_rows(path: str | os.PathLike) -> Iterator[tuple[int, str, str]]:
    """The data rows of a labels CSV as ``(line, image_id, rle)``, one at a time.

    The streaming reader under ``rlemask convert``: the header names the id
    and RLE columns (any alias of :func:`rlemask.read_labels`; other columns
    ignored) or is absent (the first row already data), values are stripped,
    blank lines skipped, and a field may be of any length
    (:func:`large_fields`).  ``rle`` is the text
    as written (``"-1"`` included); nothing is decoded or syntax-checked.

    Raises
    ------
    LabelsFileError
        Wrong header, missing column, short or unreadable row, empty id, text
        that is not UTF-8; the message names the file and the 1-based line.
    OSError
        The file cannot be opened.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "train-rle.csv"
    >>> _ = p.write_text("ImageId, EncodedPixels\\na, -1\\n\\nb, 1 2\\n")
    >>> list(rle_rows(p))
    [(2, 'a', '-1'), (4, 'b', '1 2')]
    """
    path = Path(path)
    line = 1
    reader = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            # strict: an unterminated quote or stray quote is an error, not a silent guess
            reader = csv.reader(handle, skipinitialspace=True, strict=True)
            rows = _parsed_rows(reader)
            header = next(rows, None)
            if header is None:
                raise LabelsFileError(f"{path}, line 1: empty file, expected a header")
            names = [h.strip() for h in header]
            has_header = looks_like_header(names)
            cols = resolve_columns(names, layout="single", header=has_header,
                                   where=f"{path}, line 1")
            i_id, i_rle = cols.id, cols.rle
            need = max(i_id, i_rle) + 1
            if not has_header:  # the first row is data (SIIM's own train-rle-sample.csv)
                rows = itertools.chain([header], rows)
            for row in rows:
                line = 1 if row is header else reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) < need:
                    raise LabelsFileError(
                        f"{path}, line {line}: expected {need} columns, got {len(row)}: {row}"
                    )
                image_id = row[i_id].strip()
                if not image_id:
                    raise LabelsFileError(f"{path}, line {line}: empty id")
                yield line, image_id, row[i_rle].strip()
    except csv.Error as err:
        line = max(reader.line_num, 1) if reader is not None else line
        raise LabelsFileError(f"{path}, line {line}: unreadable row: {err}") from None
    except UnicodeDecodeError as err:
        raise LabelsFileError(f"{path}: not UTF-8 text near line {line + 1}: {err}") from None


def _frame_columns(frame: Any, name: str) -> tuple[list, list]:
    """The id and RLE columns of a frame-like object as two lists (duck typing).

    Works on a pandas DataFrame without importing pandas (and on frames that
    index columns the same way, e.g. polars).
    """
    names: dict[str, Any] = {}
    try:
        for c in frame.columns:  # the first column of each role, by the readers' aliases
            role = role_of(c)
            if role in ("id", "rle") and role not in names:
                names[role] = c
    except TypeError:
        pass
    missing = [c for c, role in ((_ID, "id"), (_RLE, "rle")) if role not in names]
    if missing:
        raise ValueError(
            f"`{name}` must have the columns {_ID} and {_RLE} (or an alias, e.g. 'id', "
            f"'predicted'); missing {', '.join(missing)}; received {name}.columns="
            f"{[str(c) for c in getattr(frame, 'columns', [])]}"
        )

    def column(role: str) -> list:
        col = frame[names[role]]
        for method in ("tolist", "to_list", "to_pylist"):  # pandas, polars, pyarrow
            if hasattr(col, method):
                return list(getattr(col, method)())
        return list(col)

    try:
        return column("id"), column("rle")
    except Exception as err:  # an unknown frame type: say what is supported
        raise TypeError(
            f"`{name}` looks like a data frame but its columns cannot be read ({err}); "
            f"pass a pandas DataFrame ({_PANDAS_HINT}) or a mapping id -> list of RLE strings"
        ) from err


def _is_frame(obj: Any) -> bool:
    return not isinstance(obj, Mapping) and hasattr(obj, "columns") and hasattr(obj, "__getitem__")


def labels_from_frame(
    frame: Any, *, format: str = "siim", validate: bool = True, name: str = "frame"
) -> dict[str, list[str]]:
    """Labels ``{image_id: [rle, ...]}`` from a pandas DataFrame of CSV rows.

    pandas itself is not imported: the frame's two columns are read as lists.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``ImageId`` and ``EncodedPixels`` (the stage-1 spelling
        ``" EncodedPixels"`` works too; other columns are ignored).  One row per
        region, several rows per id; ``-1`` (text or number), ``""``, NaN,
        None and pandas' ``<NA>`` (nullable strings, ``read_csv(dtype="string")``)
        mean an empty mask.  The header aliases of :func:`rlemask.read_labels`
        (``id``, ``predicted``...) name the columns too.
    format : str
        Format of the RLE column; ``"siim"`` and ``"kaggle"`` text is
        syntax-checked when ``validate`` is true.
    validate : bool
        Check each RLE value's syntax.
    name : str
        The argument's name in error messages.

    Returns
    -------
    dict[str, list[str]]
        As :func:`read_rle_csv`: ids (as ``str``) in first-seen order, RLE
        strings in row order, ``[]`` for an id whose rows are all empty.

    Raises
    ------
    ValueError
        A missing column, an empty id, or two ids that differ but print the
        same (``1`` and ``"1"``).
    RLEError
        A malformed RLE value; the message names the row and the id.

    Examples
    --------
    >>> import pandas as pd, rlemask
    >>> df = pd.DataFrame({"ImageId": ["a", "b", "b"], " EncodedPixels": [" -1", "1 2", "5 1"]})
    >>> rlemask.labels_from_frame(df)
    {'a': [], 'b': ['1 2', '5 1']}
    """
    ids, values = _frame_columns(frame, name)
    check = _syntax_check(format, validate)
    labels: dict[str, list[str]] = {}
    seen: dict[str, Any] = {}
    for row, (raw_id, value) in enumerate(zip(ids, values, strict=True)):
        image_id = "" if is_missing(raw_id) else str(raw_id).strip()  # None, NaN, <NA>
        if not image_id or (not isinstance(raw_id, str) and is_empty_rle(raw_id)):
            raise ValueError(f"`{name}`, row {row}: empty {_ID}; received {_ID}={raw_id!r}")
        _same_id(seen, image_id, raw_id, name)
        if is_missing(value):  # pandas' nullable strings hold <NA> for an empty cell
            value = None
        elif isinstance(value, numbers.Integral) and value == -1:  # "-1" read as a number
            value = None
        elif not is_empty_rle(value):
            value = (value.decode("ascii") if isinstance(value, bytes) else str(value)).strip()
        where = f"`{name}`, row {row} ({_ID} {image_id!r})"
        _add_row(labels, image_id, value, check, where, RLEError)
    return labels


def _same_id(seen: dict[str, Any], image_id: str, raw: Any, name: str) -> None:
    """Refuse two different keys that print as the same id (``1`` and ``"1"``).

    Equal values of other types (``np.int64(1)`` and ``1``) are the same id.
    """
    first = seen.setdefault(image_id, raw)
    if first is not raw and not first == raw:
        raise ValueError(
            f"`{name}` has two ids that are both {image_id!r} as text: {first!r} and {raw!r}; "
            "make the ids unique strings"
        )


def as_labels(labels: Any, name: str = "labels", *, format: str = "siim") -> dict[str, Any]:
    """Any accepted form of labels as a ``dict`` keyed by ``str`` ids.

    The one entry point of every function that takes labels.

    Parameters
    ----------
    labels : mapping, pandas.DataFrame, str or os.PathLike
        A mapping id -> RLE value(s) (values are kept as they are), a frame
        of CSV rows (see :func:`labels_from_frame`), or the path of a labels
        CSV (see :func:`read_rle_csv`).
    name : str
        The argument's name in error messages.
    format : str
        RLE format of a CSV or frame.

    Returns
    -------
    dict
        ``{str(id): value}`` in the input's order.

    Raises
    ------
    ValueError
        Two ids that differ but print the same (``1`` and ``"1"``).
    TypeError
        Anything else.

    Examples
    --------
    >>> from rlemask.labels import as_labels
    >>> as_labels({1: ["1 2"], "b": []})
    {'1': ['1 2'], 'b': []}
    """
    if isinstance(labels, (str, os.PathLike)):
        return read_rle_csv(labels, format=format)
    if isinstance(labels, Mapping):
        out: dict[str, Any] = {}
        seen: dict[str, Any] = {}
        for key, value in labels.items():
            image_id = key if type(key) is str else str(key)
            _same_id(seen, image_id, key, name)
            out[image_id] = value
        return out
    if _is_frame(labels):
        return labels_from_frame(labels, format=format, name=name)
    raise TypeError(
        f"`{name}` must be a mapping id -> list of RLE strings, a pandas DataFrame with the "
        f"columns {_ID} and {_RLE}, or a CSV path; received {name} of type "
        f"{type(labels).__name__}"
    )


def _row_text(image_id: str, value: Any, fmt: str, shape: tuple[int, int] | None) -> str:
    from rlemask._formats import get_format, scan_order
    from rlemask.codec import encode
    from rlemask.runs import Runs

    codec = get_format(fmt)
    order = scan_order(codec, {})
    empty = codec.format(Runs([], [], (1, 1), order))
    if not isinstance(empty, str):
        raise ValueError(f"write_rle_csv needs a text format; {fmt!r} does not print text")
    if is_empty_rle(value):
        return empty
    if isinstance(value, (str, bytes)):
        text = (value.decode("ascii") if isinstance(value, bytes) else value).strip()
        if not getattr(codec, "is_empty", is_empty_rle)(text):
            check_text(text, fmt, f"masks[{image_id!r}]", shape)  # only what reads back
        return text
    if isinstance(value, np.ndarray) and value.ndim == 2:
        return encode(value, format=fmt)
    if isinstance(value, (list, tuple)):
        arrays = [v for v in value if isinstance(v, np.ndarray)]
        texts = [v for v in value if not isinstance(v, np.ndarray) and not is_empty_rle(v)]
        if not arrays and len(texts) <= 1:
            return _row_text(image_id, texts[0] if texts else None, fmt, shape)
        if arrays:
            shapes = {a.shape for a in arrays}
            if len(shapes) > 1 or (shape is not None and tuple(shape) not in shapes):
                raise ValueError(
                    f"masks[{image_id!r}]: masks of different shapes: {sorted(shapes)}"
                    + (f" (shape={tuple(shape)})" if shape is not None else "")
                )
            the_shape = check_shape(shapes.pop())
        else:
            the_shape = check_shape(shape if shape is not None else (1024, 1024))
        parts = [Runs.from_mask(a, order=order) for a in arrays]
        parts += [codec.parse(t, the_shape) for t in texts]
        # a handful of regions per image: folding ``|`` on the runs is cheap
        return codec.format(functools.reduce(operator.or_, parts))
    raise TypeError(
        f"masks[{image_id!r}] must be a 2-D mask array, an RLE string or a list of them; "
        f"received {type(value).__name__}"
    )


def write_rle_csv(
    path: str | os.PathLike,
    masks: Any,
    *,
    format: str = "siim",
    shape: tuple[int, int] | None = None,
) -> None:
    """Write ``{image_id: mask}`` as a labels CSV, one row per image, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination.  Written to a temporary file in the same folder, then
        renamed over ``path``: a crash never leaves a half-written file.  The
        file gets the usual permissions (``0666`` less the umask).
    masks : mapping or pandas.DataFrame
        Image id -> a 2-D mask array (bool/integer), an RLE string, ``None``
        (empty), or a list of masks / RLE strings.  A list is UNIONED into one
        row (one row per image, as the competitions' submissions expect); an
        empty list is an empty mask.  A DataFrame of RLE text with the
        columns ``ImageId`` and ``EncodedPixels`` (several rows per id are
        unioned) works too.
    format : str
        ``"siim"`` (default; empty mask ``-1``) or ``"kaggle"`` (empty ``""``).
    shape : (int, int), optional
        Shape used to union a list of several RLE strings (default
        ``(1024, 1024)``); arrays carry their own shape.

    Raises
    ------
    TypeError
        A value of another type.
    ValueError
        What :func:`read_rle_csv` would not give back: an empty id, an id with
        surrounding spaces or a line break, two ids that print the same
        (``1`` and ``"1"``).
    RLEError
        RLE text that would not read back (not integers, an odd count, Kaggle
        starts that go backwards; with ``shape``: runs past it), also in a
        list that had to be unioned.

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np, rlemask
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sub.csv"
    >>> rlemask.write_rle_csv(p, {"a": np.eye(2, dtype=bool), "b": "-1"})
    >>> print(p.read_text(), end="")
    ImageId,EncodedPixels
    a,0 1 2 1
    b,-1
    """
    if shape is not None:
        shape = check_shape(shape)
    if isinstance(masks, (str, os.PathLike)):
        raise TypeError(
            "`masks` must be a mapping id -> mask or a DataFrame; received a path "
            f"{os.fspath(masks)!r} (pass read_rle_csv(path) to copy a file)"
        )
    items = as_labels(masks, "masks", format=format)
    seen: set[str] = set()
    rows = [(check_row_id(k, seen, "masks"), _row_text(k, v, format, shape))
            for k, v in items.items()]
    with atomic_write(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([_ID, _RLE])
        writer.writerows(rows)
