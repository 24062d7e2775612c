"""``read_labels``: any RLE label file of the field (or a DataFrame of one) as :class:`Labels`.

A file is read in one pass over its bytes (a compiled splitter finds the
fields of every row), one over its RLE fields (a compiled scanner checks the
syntax and measures each row without keeping its tokens), and a factorisation
of the ids in Python.  The RLE text is not copied into Python strings: the
:class:`rlemask.Labels` keeps the file's bytes and two offset arrays.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from rlemask import _labels_kernels as lk
from rlemask._errors import LabelsFileError, RLEError
from rlemask._formats import get_format
from rlemask._label_conventions import (
    AUTO_CANDIDATES,
    DEFAULT_EXTRA_EMPTY,
    RleStats,
    decide_format,
    empty_markers,
    mark_empty_tokens,
    pairs_rule,
    rle_problem,
    rle_stats,
)
from rlemask._validation import check_order, check_shape
from rlemask.label_rows import (
    ParsedRows,
    conflict_marker,
    frame_rows,
    is_frame,
    is_missing,
    split_file,
)
from rlemask.label_table import LabelRows, Labels

__all__ = [
    "ParsedRows",
    "build_labels",
    "conflict_marker",
    "frame_rows",
    "empty_tokens",
    "images_and_classes",
    "is_frame",
    "is_missing",
    "read_labels",
    "shape_columns",
    "split_file",
]

def _where(p: ParsedRows, row: int) -> str:
    return f"{p.source}, {p.where} {int(p.line[row])}"


def _keys(p: ParsedRows, role: str) -> list:
    """The values of ``role`` per row: ``bytes`` slices of a file, ``str`` of a frame."""
    if role in p.values:
        out = []
        for row, v in enumerate(p.values[role]):
            if is_missing(v) or not str(v).strip():
                raise ValueError(f"{_where(p, row)}: empty {role}; received {v!r}")
            out.append(str(v).strip())
        return out
    s, e = p.fields[role]
    buf = p.buf
    keys = [buf[a:b] for a, b in zip(s.tolist(), e.tolist(), strict=True)]
    for row in np.flatnonzero(p.quoted[role]).tolist():
        keys[row] = keys[row].replace(b'""', b'"')
    return keys


def _check_filled(p: ParsedRows, role: str) -> None:
    s, e = p.fields[role]
    empty = np.flatnonzero(s == e)
    if empty.size:
        raise LabelsFileError(f"{_where(p, int(empty[0]))}: empty {role}")


def _factorize_fields(p: ParsedRows, role: str) -> tuple[np.ndarray, list] | None:
    """Codes (first-seen order) and unique keys of a file's column, hashed in one pass.

    The unique keys are sliced from the buffer once each (a Python object per
    distinct id, not per row).  None on a hash collision (then the caller
    factorizes the slices themselves).
    """
    s, e = (np.ascontiguousarray(a) for a in p.fields[role])
    codes, rows, m, collided = lk._factorize_hashed(p.arr, s, e, p.hashes[role])
    if collided:
        return None  # two different ids with one hash: never seen, but exact all the same
    rows = rows[:m]
    quoted = p.quoted[role][rows]
    uniques = [p.buf[a:b] for a, b in zip(s[rows].tolist(), e[rows].tolist(), strict=True)]
    for i in np.flatnonzero(quoted).tolist():
        uniques[i] = uniques[i].replace(b'""', b'"')
    if quoted.any() and len(set(uniques)) < len(uniques):
        return None  # '"a"' and 'a' are one id once unquoted
    return codes, uniques


def _codes(p: ParsedRows, role: str) -> tuple[np.ndarray, list]:
    if role not in p.values:
        _check_filled(p, role)
        found = _factorize_fields(p, role)
        if found is not None:
            return found
    return _factorize(_keys(p, role))


def _show(key: Any) -> str:
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else key


def _factorize(keys: list) -> tuple[np.ndarray, list]:
    """Codes in first-seen order and the unique keys."""
    table: dict = {}
    codes = np.fromiter((table.setdefault(k, len(table)) for k in keys), np.int64, len(keys))
    return codes, list(table)


def _texts(p: ParsedRows, uniques: list, codes: np.ndarray) -> tuple[str, ...]:
    if not uniques or isinstance(uniques[0], str):
        return tuple(uniques)
    try:
        return tuple(u.decode("utf-8") for u in uniques)
    except UnicodeDecodeError:
        for i, u in enumerate(uniques):
            try:
                u.decode("utf-8")
            except UnicodeDecodeError as err:
                row = int(np.flatnonzero(codes == i)[0])
                raise LabelsFileError(f"{_where(p, row)}: not UTF-8 text: {err}") from None
        raise


def _split_wide(p: ParsedRows, codes: np.ndarray, uniques: list) -> tuple:
    """``<id>_<class>`` keys -> (image codes, ids, class codes, classes)."""
    sep = b"_" if uniques and isinstance(uniques[0], bytes) else "_"
    heads, tails = [], []
    for i, key in enumerate(uniques):
        head, found, tail = key.rpartition(sep)
        if not (found and head and tail):
            row = int(np.flatnonzero(codes == i)[0])
            raise LabelsFileError(
                f"{_where(p, row)}: id {_show(key)!r} has no '_<class>' suffix (wide layout: "
                "'<image id>_<class>', the class after the last '_')"
            )
        heads.append(head)
        tails.append(tail)
    head_codes, head_uniques = _factorize(heads)
    tail_codes, tail_uniques = _factorize(tails)
    return (head_codes[codes], _texts(p, head_uniques, head_codes[codes]),
            tail_codes[codes], _texts(p, tail_uniques, tail_codes[codes]))


def images_and_classes(p: ParsedRows) -> tuple:
    codes, uniques = _codes(p, "id")
    if p.columns.layout == "wide":
        return _split_wide(p, codes, uniques)
    ids = _texts(p, uniques, codes)
    if p.columns.cls is None:
        return codes, ids, np.full(codes.size, -1, np.int64), ()
    ccodes, cuniques = _codes(p, "class")
    return codes, ids, ccodes, _texts(p, cuniques, ccodes)


def shape_columns(p: ParsedRows) -> tuple[np.ndarray | None, np.ndarray | None]:
    out = []
    for role in ("height", "width"):
        if role in p.values:
            try:
                vals = np.asarray([int(v) for v in p.values[role]], np.int64)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{p.source}: the {role} column holds a non-integer: "
                                 f"{err}") from None
            bad = np.flatnonzero(vals <= 0)
        elif role in p.fields:
            s, e = p.fields[role]
            vals, bad_row = lk._field_ints(p.arr, np.ascontiguousarray(s), np.ascontiguousarray(e))
            bad = np.flatnonzero(vals <= 0) if bad_row < 0 else np.array([bad_row])
        else:
            return None, None
        if bad.size:
            raise LabelsFileError(f"{_where(p, int(bad[0]))}: {role} must be a positive integer")
        out.append(vals)
    return out[0], out[1]


def empty_tokens(empty: Any) -> tuple[str, ...]:
    """``empty=`` as a tuple of tokens (beyond the defaults: blank, NaN, ``-1``, ``-``)."""
    if empty is None:
        return DEFAULT_EXTRA_EMPTY
    items = [empty] if isinstance(empty, str) else list(empty) if isinstance(empty, Iterable) \
        else None
    if items is None or not all(isinstance(t, str) for t in items):
        raise TypeError(f"`empty` must be a str or a sequence of str; received empty={empty!r}")
    return DEFAULT_EXTRA_EMPTY + tuple(items)


def _check_syntax(p: ParsedRows, stats: RleStats, ids: tuple, image: np.ndarray) -> None:
    bad = np.flatnonzero(stats.code > lk.RLE_EMPTY)
    if bad.size:
        row = int(bad[0])
        s, e = p.fields["rle"]
        why = rle_problem(stats, p.buf, int(s[row]), int(e[row]), row)
        raise LabelsFileError(f"{_where(p, row)} (id {ids[image[row]]!r}): RLE {why}")


def _check_absolute(p: ParsedRows, stats: RleStats, ids: tuple, image: np.ndarray,
                    fmt: str, base: int) -> None:
    """Absolute starts that go backwards, overlap or fall below the base are not ``fmt``."""
    ok = stats.code == lk.RLE_OK
    checks = [(lk.FLAG_UNSORTED, "starts that go backwards"),
              (lk.FLAG_OVERLAP, "runs that overlap")]
    if base == 1:
        checks.insert(0, (lk.FLAG_ZERO_START, f"a start of 0 ({fmt} starts are 1-based)"))
    for flag, why in checks:
        rows = np.flatnonzero(ok & ((stats.flags & flag) != 0))
        if rows.size:
            row = int(rows[0])
            raise LabelsFileError(
                f"{_where(p, row)} (id {ids[image[row]]!r}): {fmt} RLE with {why}; "
                f"{rows.size} rows like it (SIIM relative offsets? read with format='siim')"
            )


def _check_fit(p: ParsedRows, end: np.ndarray | None, npix: np.ndarray | None,
               ids: tuple, image: np.ndarray, heights, widths, shape) -> None:
    if end is None or npix is None:
        return
    past = np.flatnonzero(end > npix)
    if past.size:
        row = int(past[0])
        size = (int(heights[row]), int(widths[row])) if heights is not None else shape
        raise RLEError(
            f"{_where(p, row)} (id {ids[image[row]]!r}): the row covers pixels up to "
            f"{int(end[row]) - 1}, outside the image of shape {size} ({int(npix[row])} pixels); "
            f"{past.size} rows like it"
        )


def _choose(format: str, stats: RleStats | None, npix: np.ndarray | None) -> tuple:
    if format == "auto":
        return decide_format(stats, npix)
    get_format(format)  # unknown names: ValueError listing the formats
    return format, "given by the caller (format=...)"


def build_labels(p: ParsedRows, *, format: str = "auto", tokens: tuple[str, ...] = (),
                 shape: tuple[int, int] | None = None, order: str = "F",
                 validate: bool = True) -> Labels:
    """Judge the RLE text of split rows and make the :class:`Labels` (strict).

    ``validate=False`` keeps malformed RLE text as it is (checked when decoded).
    """
    if p.bad_rows:
        line, _, count = p.bad_rows[0]
        what = conflict_marker(p.buf, p.bad_rows[0][1])
        raise LabelsFileError(
            f"{p.source}, line {line}: expected {len(p.columns.names)} columns, got {count}"
            + (f" ({what})" if what else "")
        )
    image, ids, cls, classes = images_and_classes(p)
    heights, widths = shape_columns(p)
    s, e = p.fields["rle"]
    candidates = AUTO_CANDIDATES if format == "auto" else (format,)
    markers = tuple(t for c in candidates for t in empty_markers(c)) + tokens
    npix = (heights * widths if heights is not None
            else np.full(image.size, shape[0] * shape[1], np.int64) if shape else None)
    if validate:
        stats = p.rle_stats()
        mark_empty_tokens(stats, p.buf, s, e, markers)
        empty = stats.code == lk.RLE_EMPTY
        fmt, evidence, end = _validated(p, stats, format, npix, ids, image)
        _check_fit(p, end, npix, ids, image, heights, widths, shape)
    else:
        empty = _empty_rows(p.buf, s, e, markers)
        fmt, evidence = _sampled_format(p, format, empty, npix)
        end = None  # rows are measured when they are decoded
    options = {"order": check_order(order)} if order != "F" else {}
    if fmt is not None and options:
        get_format(fmt).scan_order(**options)  # a format without the option: TypeError
    return Labels(LabelRows(
        source=p.source, where=p.where, layout=p.columns.layout, buf=p.buf,
        rle_start=s, rle_end=e, image=image, ids=ids, cls=cls, classes=classes, line=p.line,
        empty=empty, format=fmt, format_evidence=evidence, options=options, end=end,
        shape=shape, heights=heights, widths=widths,
    ))


def _validated(p: ParsedRows, stats: RleStats, format: str, npix, ids, image) -> tuple:
    """Every row checked: ``(format, evidence, end per row or None)``."""
    pairs = format == "auto" or pairs_rule(format) is not None
    if pairs:
        _check_syntax(p, stats, ids, image)
    fmt, evidence = _choose(format, stats, npix)
    rule = pairs_rule(fmt)
    if rule is not None and not rule[0]:
        _check_absolute(p, stats, ids, image, fmt, rule[1])
    return fmt, evidence, stats.end(fmt) if pairs else None


def _empty_rows(buf: bytes, starts: np.ndarray, ends: np.ndarray, tokens) -> np.ndarray:
    """Rows whose text is blank or one of ``tokens`` (no scan of the other rows)."""
    lens = ends - starts
    empty = lens == 0
    for token in {t.strip() for t in tokens} - {""}:
        raw = token.encode("utf-8")
        for row in np.flatnonzero(lens == len(raw)).tolist():
            if buf[starts[row] : ends[row]] == raw:
                empty[row] = True
    return empty


_SAMPLE = 4096  # rows measured to decide the format when the rows are not all validated


def _sampled_format(p: ParsedRows, format: str, empty: np.ndarray, npix) -> tuple:
    """The format decided from rows spread over the file (``validate=False``)."""
    if format != "auto":
        return _choose(format, None, None)
    rows = np.flatnonzero(~empty)
    if rows.size > _SAMPLE:
        rows = rows[np.linspace(0, rows.size - 1, _SAMPLE).astype(np.int64)]
    s, e = p.fields["rle"]
    stats = rle_stats(p.arr, s[rows], e[rows])
    fmt, evidence = decide_format(stats, npix[rows] if npix is not None else None)
    return fmt, f"{evidence} (from {rows.size} of {int((~empty).sum())} non-empty rows)"


def read_labels(
    source: Any,
    *,
    layout: str = "auto",
    format: str = "auto",
    columns: Mapping[str, Any] | None = None,
    empty: str | Sequence[str] | None = None,
    shape: tuple[int, int] | None = None,
    order: str = "F",
    validate: bool = True,
) -> Labels:
    """Read an RLE label file of any competition of the field into :class:`rlemask.Labels`.

    Parameters
    ----------
    source : str, os.PathLike or pandas.DataFrame
        A CSV (``.csv`` or gzip ``.csv.gz``) or a DataFrame of its rows.  A
        UTF-8 byte-order mark, a missing header (the first row is data), CRLF
        line ends, quoted fields and spaces around values all read.  Header
        aliases: ``ImageId``/``id``/``fname``/``image_id``/``record_id``/``Id``;
        ``EncodedPixels``/``mask``/``segmentation``/``predicted``/``encoding``/
        ``rle_mask``/``encoded_pixels``; ``ClassId``/``class``; ``height``/
        ``width`` (case, ``_`` and spaces ignored).
    layout : {"auto", "single", "long", "wide"}
        ``"single"``: id, rle (one row per image or per object);
        ``"long"``: id, class, rle; ``"wide"``: ``<id>_<class>``, rle (the
        class is the part after the last ``_``).  ``"auto"`` decides from the
        header.
    format : str
        A registered format, or ``"auto"``: SIIM relative offsets against
        Kaggle absolute starts, decided from the rows (``labels.format_evidence``
        says why).  When the rows cannot decide (all empty, or no row with
        several runs), ``labels.format`` is None and decoding a non-empty row
        asks for an explicit ``format=``: never a silent guess.
    columns : mapping, optional
        Role (``"id"``, ``"rle"``, ``"class"``, ``"height"``, ``"width"``) ->
        column name (or 0-based position) for what the aliases miss.
    empty : str or sequence of str, optional
        Tokens that mean an empty mask beyond the defaults (blank, NaN,
        ``-1``, ``-``), e.g. ``empty="1 1"`` for a sample submission's
        placeholders.
    shape : (int, int), optional
        ``(height, width)`` of every image, for a file with no shape columns.
        Rows are then checked to fit it.
    order : {"F", "C"}
        Scan order of Kaggle text (``"C"``: row-major, as Vesuvius).
    validate : bool
        Check every row while reading (the default: malformed text, Kaggle
        runs that go backwards and rows outside a known size are refused
        here).  False reads faster (about 1.4 times, see the performance
        page): each row is checked, with the same messages (as an RLEError),
        when it is decoded, and ``format="auto"`` decides from 4,096 rows
        spread over the file.

    Returns
    -------
    Labels
        Every row in file order.

    Raises
    ------
    LabelsFileError
        No id or RLE column, a row of the wrong width (git merge-conflict
        markers are named), an empty id, malformed RLE text, Kaggle text that
        goes backwards; the message names the file, the line and the id.
    RLEError
        A row whose pixels fall outside the known image size (line and id named).
    OSError
        The file cannot be opened.

    Examples
    --------
    >>> import pathlib, tempfile, rlemask
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "train.csv"
    >>> _ = p.write_text("id,class,segmentation\\n"
    ...                  "c1_s1,stomach,1 2 6 3\\nc1_s1,large_bowel,\\nc1_s2,stomach,\\n")
    >>> labels = rlemask.read_labels(p, shape=(3, 3))
    >>> labels.layout, labels.classes, labels.format
    ('long', ('stomach', 'large_bowel'), 'kaggle')
    >>> labels.mask("c1_s1", "stomach")
    array([[1, 0, 1],
           [1, 0, 1],
           [0, 1, 0]], dtype=uint8)
    """
    if shape is not None:
        shape = check_shape(shape)
    if not isinstance(format, str) or (format != "auto" and format not in AUTO_CANDIDATES):
        get_format(format)  # unknown: ValueError naming the available formats
    tokens = empty_tokens(empty)
    if is_frame(source):
        parsed = frame_rows(source, layout, columns)
    elif isinstance(source, (str, os.PathLike)):
        parsed = split_file(source, layout, columns, measure=validate)
    else:
        raise TypeError(
            "`source` must be a CSV path or a pandas DataFrame; received source of type "
            f"{type(source).__name__}"
        )
    return build_labels(parsed, format=format, tokens=tokens, shape=shape, order=order,
                        validate=validate)
