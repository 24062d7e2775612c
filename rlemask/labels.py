"""Label files: CSVs of ``ImageId,EncodedPixels`` rows (SIIM ``train-rle.csv`` and the like).

Reading keeps exactly what the file says: one list entry per non-empty row, in
file order, repeated identical rows included (a union -- :func:`rlemask.merge`
-- is unaffected by repeats; count regions on ``set(rles)`` if the data repeats
rows).  Writing produces one row per image, atomically.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._atomic import atomic_write
from rlemask._errors import LabelsFileError, RLEError

_ID = "ImageId"
_RLE = "EncodedPixels"
# formats whose text can be syntax-checked without knowing the mask shape
_TEXT_FORMATS = ("siim", "kaggle")


def _is_empty_text(value: str) -> bool:
    return value == "" or value == "-1"


def read_rle_csv(
    path: str | os.PathLike, *, format: str = "siim", validate: bool = True
) -> dict[str, list[str]]:
    """Read a labels CSV into ``{image_id: [rle, ...]}``.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV with a header naming the columns ``ImageId`` and
        ``EncodedPixels`` (both spellings ``ImageId, EncodedPixels`` of SIIM
        stage 1 and ``ImageId,EncodedPixels`` of stage 2 are accepted; other
        columns are ignored).  Leading spaces in values are stripped.
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
        Wrong header, missing column, short or unreadable row, empty id, or a
        malformed RLE; the message names the file and the 1-based line.
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
    path = Path(path)
    check = None
    if validate and format in _TEXT_FORMATS:
        from rlemask._formats import _text

        def check(value: str) -> None:
            _text.check_pairs(_text.tokens(value, format), format)

    labels: dict[str, list[str]] = {}
    line = 1
    reader = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            # strict: an unterminated quote or stray quote is an error, not a silent guess
            reader = csv.reader(handle, skipinitialspace=True, strict=True)
            header = next(reader, None)
            if header is None:
                raise LabelsFileError(f"{path}, line 1: empty file, expected a header")
            names = [h.strip() for h in header]
            missing = [c for c in (_ID, _RLE) if c not in names]
            if missing:
                raise LabelsFileError(
                    f"{path}, line 1: header must name the columns {_ID} and {_RLE}; "
                    f"missing {', '.join(missing)}. Received: {header}"
                )
            i_id, i_rle = names.index(_ID), names.index(_RLE)
            need = max(i_id, i_rle) + 1
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) < need:
                    raise LabelsFileError(
                        f"{path}, line {line}: expected {need} columns, got {len(row)}: {row}"
                    )
                image_id = row[i_id].strip()
                value = row[i_rle].strip()
                if not image_id:
                    raise LabelsFileError(f"{path}, line {line}: empty {_ID}")
                rles = labels.setdefault(image_id, [])
                if _is_empty_text(value):
                    continue
                if check is not None:
                    try:
                        check(value)
                    except RLEError as err:
                        raise LabelsFileError(f"{path}, line {line}: {err}") from None
                rles.append(value)
    except csv.Error as err:
        line = max(reader.line_num, 1) if reader is not None else line
        raise LabelsFileError(f"{path}, line {line}: unreadable row: {err}") from None
    except UnicodeDecodeError as err:
        raise LabelsFileError(f"{path}: not UTF-8 text near line {line + 1}: {err}") from None
    return labels


def _row_text(image_id: str, value: Any, fmt: str, shape: tuple[int, int] | None) -> str:
    from rlemask._formats import get_format, scan_order
    from rlemask.codec import _is_missing, encode
    from rlemask.runs import Runs, _check_shape, _union_many

    codec = get_format(fmt)
    order = scan_order(codec, {})
    empty = codec.format(Runs._trusted(np.empty(0, np.int64), np.empty(0, np.int64), (1, 1), order))
    if not isinstance(empty, str):
        raise ValueError(f"write_rle_csv needs a text format; {fmt!r} does not print text")
    if _is_missing(value):
        return empty
    if isinstance(value, (str, bytes)):
        text = value.decode("ascii") if isinstance(value, bytes) else value
        text = text.strip()
        return empty if _is_empty_text(text) else text
    if isinstance(value, np.ndarray) and value.ndim == 2:
        return encode(value, format=fmt)
    if isinstance(value, (list, tuple)):
        arrays = [v for v in value if isinstance(v, np.ndarray)]
        texts = [v for v in value if not isinstance(v, np.ndarray) and not _is_missing(v)]
        if not arrays and len(texts) <= 1:
            return _row_text(image_id, texts[0] if texts else None, fmt, shape)
        if arrays:
            shapes = {a.shape for a in arrays}
            if len(shapes) > 1 or (shape is not None and tuple(shape) not in shapes):
                raise ValueError(
                    f"masks[{image_id!r}]: masks of different shapes: {sorted(shapes)}"
                    + (f" (shape={tuple(shape)})" if shape is not None else "")
                )
            the_shape = _check_shape(shapes.pop())
        else:
            the_shape = _check_shape(shape if shape is not None else (1024, 1024))
        parts = [Runs.from_mask(a, order=order) for a in arrays]
        parts += [codec.parse(t, the_shape) for t in texts]
        return codec.format(_union_many(parts, the_shape, order))
    raise TypeError(
        f"masks[{image_id!r}] must be a 2-D mask array, an RLE string or a list of them. "
        f"Received: {type(value).__name__}"
    )


def write_rle_csv(
    path: str | os.PathLike,
    masks: Mapping[str, Any],
    *,
    format: str = "siim",
    shape: tuple[int, int] | None = None,
) -> None:
    """Write ``{image_id: mask}`` as a labels CSV, one row per image, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination.  Written to a temporary file in the same folder, then
        renamed over ``path``: a crash never leaves a half-written file.
    masks : mapping
        Image id -> a 2-D mask array (bool/integer), an RLE string, ``None``
        (empty), or a list of masks / RLE strings.  A list is UNIONED into one
        row (one row per image, as the competitions' submissions expect); an
        empty list is an empty mask.
    format : str
        ``"siim"`` (default; empty mask ``-1``) or ``"kaggle"`` (empty ``""``).
    shape : (int, int), optional
        Shape used to union a list of several RLE strings (default
        ``(1024, 1024)``); arrays carry their own shape.

    Raises
    ------
    TypeError
        A value of another type.
    RLEError
        A malformed RLE string in a list that had to be unioned.

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
    rows = [(str(k), _row_text(str(k), v, format, shape)) for k, v in masks.items()]
    with atomic_write(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([_ID, _RLE])
        writer.writerows(rows)
