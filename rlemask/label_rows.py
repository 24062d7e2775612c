"""A label source split into rows: a CSV's bytes (one compiled pass) or a DataFrame's cells.

Nothing is judged here but the CSV's shape (quotes, widths, line ends): the
rows, their fields' byte ranges, a hash of each id, and -- when asked -- what
the scanner says of each RLE field.  :mod:`rlemask.label_reader` builds the
:class:`rlemask.Labels` from them; :mod:`rlemask.label_inspect` reports on
them.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlemask import _labels_kernels as lk
from rlemask._errors import LabelsFileError
from rlemask._label_columns import Columns, looks_like_header, resolve_columns
from rlemask._label_conventions import RleStats, rle_stats

__all__ = ["ParsedRows", "conflict_marker", "frame_rows", "is_frame", "is_missing", "split_file"]

_BOM = b"\xef\xbb\xbf"
_SLOTS = ("id", "rle", "class", "height", "width")


@dataclass
class ParsedRows:
    """A label source split into rows (before the RLE text is judged)."""

    source: str
    where: str  # "line" (a file) or "row" (a frame)
    columns: Columns
    bom: bool
    buf: bytes
    arr: np.ndarray  # buf as uint8
    fields: dict[str, tuple[np.ndarray, np.ndarray]]  # role -> (starts, ends)
    quoted: dict[str, np.ndarray]
    line: np.ndarray
    bad_rows: list[tuple[int, int, int]] = field(default_factory=list)  # (line, byte, fields)
    values: dict[str, list] = field(default_factory=dict)  # a frame's id/class values
    stats: RleStats | None = None  # the RLE fields measured as the file was split
    hashes: dict[str, np.ndarray] = field(default_factory=dict)  # role -> a hash per row
    n_bad_rows: int = 0  # all rows of the wrong width (bad_rows lists the first ones)

    def rle_stats(self) -> RleStats:
        """What the scanner says of each RLE field (measured once)."""
        if self.stats is None:
            self.stats = rle_stats(self.arr, *self.fields["rle"])
        return self.stats


def is_frame(obj: Any) -> bool:
    """A pandas-like data frame (columns and ``[]``), not a mapping."""
    return not isinstance(obj, Mapping) and hasattr(obj, "columns") and hasattr(obj, "__getitem__")


def _file_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] == b"\x1f\x8b":  # gzip, whatever the name says
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise LabelsFileError(f"{path}: a damaged gzip file: {err}") from None
    return raw


def _line_end(buf: bytes, pos: int) -> int:
    """One past the end of the line at ``pos`` (``\\n``, ``\\r\\n`` or a lone ``\\r``)."""
    lf = buf.find(b"\n", pos)
    cr = buf.find(b"\r", pos, lf if lf >= 0 else len(buf))
    if cr >= 0 and (lf < 0 or cr < lf):
        return cr + 2 if buf[cr + 1 : cr + 2] == b"\n" else cr + 1
    return len(buf) if lf < 0 else lf + 1


def _first_row(buf: bytes, pos: int, path: Path) -> tuple[list[str], int, int, int]:
    """``(fields, start byte, end byte, line)`` of the first non-blank line."""
    line = 1
    while True:
        end = _line_end(buf, pos)
        text = buf[pos:end]
        if text.strip(b" \t\r\n"):
            break
        if end >= len(buf):
            raise LabelsFileError(f"{path}, line 1: empty file, expected a header or a data row")
        pos, line = end, line + 1
    try:
        decoded = text.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise LabelsFileError(f"{path}, line {line}: not UTF-8 text: {err}") from None
    fields = next(csv.reader([decoded], skipinitialspace=True), [])
    return [f.strip() for f in fields], pos, end, line


def _capacity(buf: bytes, start: int, stop: int) -> int:
    """Rows to allocate for: the line ends of the first MB, scaled to the chunk, plus slack.

    Counting every line end first would cost a pass over the file; a chunk
    of shorter rows than its first MB makes the splitter say so, and then
    they are counted.
    """
    sample = buf[start : min(start + 2**20, stop)]
    ends = sample.count(b"\n") + sample.count(b"\r") + 1
    return int(ends * (stop - start) / max(len(sample), 1) * 1.25) + 1024


def _split_chunk(buf: bytes, arr: np.ndarray, a: int, b: int, line: int, ncols: int,
                 wanted: np.ndarray, rle_col: int, measure: bool) -> tuple:
    out = lk._split_rows(arr, a, b, line, ncols, wanted, _capacity(buf, a, b), rle_col, measure)
    if out[9] == lk.SPLIT_FULL:  # shorter rows than the sample said: count them all
        rows = buf.count(b"\n", a, b) + buf.count(b"\r", a, b) + 1
        out = lk._split_rows(arr, a, b, line, ncols, wanted, rows, rle_col, measure)
    return out


_PARALLEL_BYTES = 16 * 2**20  # files this large are split in chunks, one thread each


def _chunks(buf: bytes, start: int) -> list[int]:
    """Chunk boundaries at line ends; one chunk unless the file is large and has no quote
    (a quoted field may hold a line end, so only then is every ``\\n`` a row's end)."""
    size = len(buf) - start
    threads = min(4, os.cpu_count() or 1)
    if size < _PARALLEL_BYTES or threads < 2 or buf.find(b'"', start) >= 0:
        return [start, len(buf)]
    cuts = [start]
    for k in range(1, threads):
        at = buf.find(b"\n", start + size * k // threads)
        if at < 0:
            break
        cuts.append(max(at + 1, cuts[-1]))
    return [*cuts, len(buf)]


def _split(buf: bytes, arr: np.ndarray, start: int, line: int, ncols: int,
           wanted: np.ndarray, rle_col: int, measure: bool) -> tuple:
    """:func:`_split_rows` over the file, in chunks split by threads when it is large.

    Each chunk counts its lines from 0; the chunks' counts give each its first line.
    """
    cuts = _chunks(buf, start)
    if len(cuts) == 2:
        return _split_chunk(buf, arr, start, len(buf), line, ncols, wanted, rle_col, measure)
    spans = [(cuts[k], cuts[k + 1]) for k in range(len(cuts) - 1)]
    with ThreadPoolExecutor(len(spans)) as pool:  # the kernel releases the GIL
        parts = list(pool.map(lambda ab: _split_chunk(buf, arr, ab[0], ab[1], 0, ncols, wanted,
                                                      rle_col, measure), spans))
    offsets = np.cumsum([line] + [int(part[10]) for part in parts[:-1]])
    for part, offset in zip(parts, offsets, strict=True):
        if part[9]:  # an error: its line, counted from the file's start
            return (*part[:10], int(part[10]) + int(offset), part[11])
    n = [int(part[4]) for part in parts]
    nbad = [int(part[8]) for part in parts]
    kept = [min(b, lk.MAX_BAD) for b in nbad]

    def joined(index: int, counts: list[int], shift: bool = False) -> np.ndarray:
        return np.concatenate([part[index][:c] + (o if shift else 0)
                               for part, c, o in zip(parts, counts, offsets, strict=True)])

    stats = tuple(np.concatenate([part[11][j][:c] for part, c in zip(parts, n, strict=True)])
                  for j in range(len(parts[0][11]))) if measure else parts[0][11]
    return (joined(0, n), joined(1, n), joined(2, n), joined(3, n, True), sum(n),
            joined(5, kept, True), joined(6, kept), joined(7, kept), sum(nbad), lk.SPLIT_OK,
            int(parts[-1][10]) + int(offsets[-1]), stats)


def split_file(
    path: str | os.PathLike, layout: str = "auto", columns: Mapping[str, Any] | None = None,
    measure: bool = True,
) -> ParsedRows:
    """Split a label CSV (``.csv`` or gzip) into rows; rows of another width are listed.

    ``measure``: scan the RLE fields as they are split (``ParsedRows.stats``);
    else only find them (``rle_stats()`` measures later, all or some rows).

    Raises
    ------
    LabelsFileError
        An empty file, UTF-16 text, no id or RLE column, an unterminated quote.
    OSError
        The file cannot be opened.
    """
    path = Path(path)
    buf = _file_bytes(path)
    if buf[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise LabelsFileError(f"{path}: UTF-16 text; save the file as UTF-8")
    bom = buf.startswith(_BOM)
    names, row_start, row_end, line = _first_row(buf, 3 if bom else 0, path)
    named = columns is not None and any(not isinstance(v, int) for v in columns.values())
    header = named or looks_like_header(names)
    cols = resolve_columns(names, layout=layout, columns=columns, header=header,
                           where=f"{path}, line {line}")
    roles = {r: p for r, p in cols.positions().items() if r != "class" or cols.cls is not None}
    wanted = np.full(len(names), -1, np.int64)
    slots = [r for r in _SLOTS if r in roles]
    for slot, role in enumerate(slots):
        wanted[roles[role]] = slot
    start, first_line = (row_end, line + 1) if header else (row_start, line)
    arr = np.frombuffer(buf, np.uint8)
    (bounds, quoted, hashes, lines, n, bad_line, bad_at, bad_count, nbad, err, err_line,
     stats) = _split(buf, arr, start, first_line, len(names), wanted, cols.rle, measure)
    if err:
        why = "a quoted field never ends" if err == lk.SPLIT_UNTERMINATED else (
            "text after a closing quote")
        raise LabelsFileError(f"{path}, line {int(err_line)}: unreadable row: {why}")
    return ParsedRows(
        source=str(path),
        where="line",
        columns=cols,
        bom=bom,
        buf=buf,
        arr=arr,
        fields={r: (bounds[:n, i, 0], bounds[:n, i, 1]) for i, r in enumerate(slots)},
        quoted={r: quoted[:n, i] for i, r in enumerate(slots)},
        hashes={r: hashes[:n, i] for i, r in enumerate(slots)},
        line=lines[:n],
        bad_rows=list(zip(bad_line[:nbad].tolist(), bad_at[:nbad].tolist(),
                          bad_count[:nbad].tolist(), strict=False)),
        n_bad_rows=int(nbad),
        stats=RleStats(*(a[:n] for a in stats)) if measure else None,
    )


def is_missing(value: Any) -> bool:
    """None, NaN, pandas' ``NA``/``NaT`` (checked without importing pandas)."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    return type(value).__name__ in ("NAType", "NaTType")


def _frame_text(value: Any) -> str:
    """One RLE cell as text; every missing value and the number -1 are ``""`` (empty)."""
    if is_missing(value):
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8").strip()
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return "" if value == -1 else str(value)
    return str(value).strip()


def _column(frame: Any, label: Any) -> list:
    col = frame[label]
    for method in ("tolist", "to_list", "to_pylist"):  # pandas, polars, pyarrow
        if hasattr(col, method):
            return list(getattr(col, method)())
    return list(col)


def frame_rows(
    frame: Any, layout: str = "auto", columns: Mapping[str, Any] | None = None,
    name: str = "source",
) -> ParsedRows:
    """A pandas DataFrame's rows as :class:`ParsedRows` (the RLE cells joined in one buffer)."""
    labels = list(frame.columns)
    cols = resolve_columns([str(c) for c in labels], layout=layout, columns=columns,
                           header=True, where=f"`{name}`")
    texts = [_frame_text(v).encode("utf-8") for v in _column(frame, labels[cols.rle])]
    lens = np.fromiter(map(len, texts), np.int64, len(texts))
    ends = np.cumsum(lens)
    buf = b"".join(texts)
    values = {"id": _column(frame, labels[cols.id])}
    if cols.cls is not None:
        values["class"] = _column(frame, labels[cols.cls])
    for role in ("height", "width"):
        pos = getattr(cols, role)
        if pos is not None:
            values[role] = _column(frame, labels[pos])
    n = len(texts)
    return ParsedRows(
        source=f"`{name}`",
        where="row",
        columns=cols,
        bom=False,
        buf=buf,
        arr=np.frombuffer(buf, np.uint8),
        fields={"rle": (ends - lens, ends)},
        quoted={},
        line=np.arange(n, dtype=np.int64),
        values=values,
    )


def conflict_marker(buf: bytes, at: int) -> str:
    """Say what a bad row is when it is a git merge-conflict marker."""
    head = buf[at : at + 7]
    if head in (b"<<<<<<<", b"=======", b">>>>>>>"):
        return "a git merge-conflict marker; resolve the conflict first"
    return ""
