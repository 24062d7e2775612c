"""``inspect_labels``: which conventions a label file uses, and what is wrong with it.

No library of the field says which layout, scan convention or empty marker
a file uses; public code is full of transposed and off-by-one decoders
because of it.  ``inspect_labels`` reads what :func:`rlemask.read_labels`
reads, but never stops at a bad row: it lists every problem with its line
(git merge-conflict markers, odd token counts, bad tokens, unsorted or
overlapping runs, overlapping objects, duplicate rows, ``1 1``
placeholders, a byte-order mark), decides the RLE convention with its
evidence, bounds the image size from the pixels the rows cover, and
prints the ``read_labels(...)`` call that reads the file.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlemask import _labels_kernels as lk
from rlemask._errors import LabelsFileError
from rlemask._label_conventions import (
    AUTO_CANDIDATES,
    DEFAULT_EXTRA_EMPTY,
    decide_format,
    empty_markers,
    mark_empty_tokens,
    pairs_rule,
    rle_problem,
)
from rlemask.competition_table import competition, competitions
from rlemask.label_reader import images_and_classes
from rlemask.label_rows import ParsedRows, conflict_marker, split_file

__all__ = ["LabelsReport", "inspect_labels", "PROBLEM_KINDS"]

#: the kinds of problem a report names
PROBLEM_KINDS = (
    "bom",
    "merge-conflict",
    "wrong-columns",
    "odd-count",
    "bad-token",
    "unsorted-runs",
    "overlapping-runs",
    "overlapping-objects",
    "duplicate-row",
    "placeholder",
    "outside-image",
)
_LISTED = 20  # problems of one kind listed in full; the rest are counted


@dataclass
class LabelsReport:
    """What :func:`inspect_labels` found in a label file.

    ``problems`` lists at most 20 entries per kind (``{"line", "kind",
    "message"}``); ``problem_counts`` counts them all.  ``str(report)`` is a
    readable page, ``to_dict()`` is JSON-ready.
    """

    path: str
    layout: str
    columns: dict[str, str]
    header: bool
    bom: bool
    format: str | None
    format_evidence: str
    n_rows: int
    n_images: int
    classes: list[str]
    empty_tokens: list[str]
    max_pixel: int | None
    consistent_sizes: list[str]
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_counts: dict[str, int] = field(default_factory=dict)
    suggestion: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return {
            "path": self.path,
            "layout": self.layout,
            "columns": dict(self.columns),
            "header": self.header,
            "bom": self.bom,
            "format": self.format,
            "format_evidence": self.format_evidence,
            "n_rows": self.n_rows,
            "n_images": self.n_images,
            "classes": list(self.classes),
            "empty_tokens": list(self.empty_tokens),
            "max_pixel": self.max_pixel,
            "consistent_sizes": list(self.consistent_sizes),
            "problems": [dict(p) for p in self.problems],
            "problem_counts": dict(self.problem_counts),
            "suggestion": self.suggestion,
        }

    def __str__(self) -> str:
        cols = ", ".join(f"{role}={name!r}" for role, name in self.columns.items())
        lines = [
            f"label file   {self.path}",
            f"layout       {self.layout} ({cols}; "
            f"{'header' if self.header else 'no header'}{', UTF-8 BOM' if self.bom else ''})",
            f"format       {self.format or 'undecided'}: {self.format_evidence}",
            f"rows         {self.n_rows} for {self.n_images} images",
            f"classes      {', '.join(self.classes) if self.classes else '(single class)'}",
            f"empty rows   {', '.join(repr(t) for t in self.empty_tokens) or '(none)'}",
            f"max pixel    {self.max_pixel if self.max_pixel is not None else '-'}"
            + (f" (sizes that hold it: {', '.join(self.consistent_sizes)})"
               if self.consistent_sizes else ""),
        ]
        if self.problems:
            counts = ", ".join(f"{k} {v}" for k, v in self.problem_counts.items())
            lines.append(f"problems     {counts}")
            lines += [f"  line {p['line']}: {p['kind']}: {p['message']}" for p in self.problems]
        else:
            lines.append("problems     none")
        lines.append(f"read it with {self.suggestion}")
        return "\n".join(lines)


class _Problems:
    """Problems in the order found, at most ``_LISTED`` per kind, all counted."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()

    def add(self, line: int, kind: str, message: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= _LISTED:
            self.items.append({"line": int(line), "kind": kind, "message": message})

    def sorted(self) -> list[dict[str, Any]]:
        return sorted(self.items, key=lambda p: (p["line"], p["kind"]))


def _bad_rows(p: ParsedRows, out: _Problems) -> None:
    for line, at, count in p.bad_rows:
        marker = conflict_marker(p.buf, at)
        if marker:
            text = p.buf[at : p.buf.find(b"\n", at) if b"\n" in p.buf[at:] else len(p.buf)]
            out.add(line, "merge-conflict", f"{text.decode('utf-8', 'replace').strip()!r}: "
                                            f"{marker}")
        else:
            out.add(line, "wrong-columns",
                    f"{count} columns, expected {len(p.columns.names)}: row not read")
    if p.n_bad_rows > len(p.bad_rows):  # the splitter kept the first ones, counted all
        out.counts["wrong-columns"] += p.n_bad_rows - len(p.bad_rows)


_KIND_OF_CODE = {lk.RLE_ODD: "odd-count", lk.RLE_BAD_TOKEN: "bad-token",
                 lk.RLE_TOO_LONG: "bad-token", lk.RLE_NEGATIVE: "bad-token",
                 lk.RLE_BAD_LENGTH: "bad-token"}


def _row_problems(p: ParsedRows, stats, image, ids, fmt: str | None, out: _Problems) -> None:
    s, e = p.fields["rle"]
    for row in np.flatnonzero(stats.code > lk.RLE_EMPTY).tolist():
        out.add(p.line[row], _KIND_OF_CODE[int(stats.code[row])],
                f"id {ids[image[row]]!r}: RLE {rle_problem(stats, p.buf, s[row], e[row], row)}")
    rule = pairs_rule(fmt)
    ok = stats.code == lk.RLE_OK
    if rule is not None and not rule[0]:  # absolute starts must increase
        for flag, kind, why in ((lk.FLAG_UNSORTED, "unsorted-runs", "a start below the one "
                                 "before it"), (lk.FLAG_OVERLAP, "overlapping-runs",
                                                "a run starts inside the one before it")):
            for row in np.flatnonzero(ok & ((stats.flags & flag) != 0)).tolist():
                out.add(p.line[row], kind, f"id {ids[image[row]]!r}: {why}")
    placeholder = np.flatnonzero(ok & (stats.npairs == 1) & (stats.first == 1) & (
        stats.abs_end == 1))
    for row in placeholder.tolist():
        out.add(p.line[row], "placeholder",
                f"id {ids[image[row]]!r}: '1 1', a sample submission's placeholder, not a mask")


def _duplicates(p: ParsedRows, image, cls, ids, out: _Problems) -> None:
    s, e = p.fields["rle"]
    first: dict[tuple, int] = {}
    for row, key in enumerate(zip(image.tolist(), cls.tolist(), s.tolist(), e.tolist(),
                                  strict=True)):
        k = (key[0], key[1], p.buf[key[2] : key[3]])
        if k in first:
            out.add(p.line[row], "duplicate-row",
                    f"id {ids[key[0]]!r}: the same row as line {int(p.line[first[k]])}")
        else:
            first[k] = row


def _overlapping_objects(p: ParsedRows, stats, image, cls, ids, fmt, out: _Problems) -> None:
    """Two rows of one image and class that share pixels (instance layouts forbid it)."""
    from rlemask.runs import Runs

    end = stats.end(fmt)
    if end is None:
        return
    ok = np.flatnonzero(stats.code == lk.RLE_OK)
    key = image[ok] * (int(cls.max(initial=0)) + 2) + (cls[ok] + 1)
    order = np.argsort(key, kind="stable")
    groups = np.split(ok[order], np.flatnonzero(np.diff(key[order])) + 1)
    s, e = p.fields["rle"]
    for rows in groups:
        if rows.size < 2:
            continue
        npix = int(end[rows].max())
        runs = [Runs.from_text(p.buf[s[r] : e[r]], (npix, 1), format=fmt) for r in rows]
        starts = np.concatenate([r.starts for r in runs])
        stops = np.concatenate([r.starts + r.lengths for r in runs])
        owner = np.concatenate([np.full(len(r), i) for i, r in enumerate(runs)])
        at = np.argsort(starts, kind="stable")
        reach = np.maximum.accumulate(stops[at])
        hit = np.flatnonzero(starts[at][1:] < reach[:-1])
        if hit.size:
            j = hit[0] + 1
            a = rows[owner[at][j]]
            b = rows[owner[at][:j][stops[at][:j] > starts[at][j]][0]]
            out.add(p.line[a], "overlapping-objects",
                    f"id {ids[image[a]]!r}: shares pixels with line {int(p.line[b])} (the same "
                    f"image{' and class' if cls[a] >= 0 else ''}); {rows.size} rows there")


def _sizes(max_pixel: int | None) -> tuple[list[str], list[tuple[int, int]]]:
    """Image sizes that hold ``max_pixel`` pixels (the competitions', the smallest square),
    as text, and the competitions' shapes that do."""
    if not max_pixel:
        return [], []
    sizes, shapes = [], []
    for name in competitions():
        shape = competition(name).shape
        if shape is not None and shape[0] * shape[1] >= max_pixel:
            sizes.append(f"{shape[0]}x{shape[1]} ({name})")
            shapes.append(tuple(shape))
    side = math.isqrt(max_pixel - 1) + 1
    sizes.append(f"at least {side}x{side} if square")
    return sizes, shapes


# problems that make read_labels refuse the file (the others are advice)
_BLOCKING = frozenset({"merge-conflict", "wrong-columns", "odd-count", "bad-token",
                       "unsorted-runs", "overlapping-runs", "outside-image"})


def _suggestion(path: str, p: ParsedRows, fmt, n_rows_ok: int, shape, shapes, counts) -> str:
    """The ``read_labels(...)`` call that reads the file (after the fixes it needs)."""
    args = [repr(path)]
    if shape is not None:
        args.append(f"shape={tuple(shape)}")
    elif len(set(shapes)) == 1:
        args.append(f"shape={shapes[0]}")
    elif n_rows_ok:
        args.append("shape=(H, W)")
    placeholders = counts.get("placeholder", 0)
    if placeholders and placeholders == n_rows_ok:
        args.append("empty='1 1'")  # a sample submission: every row a placeholder
    elif fmt is None and n_rows_ok:
        args.append("format='kaggle'")  # the rows cannot tell: the field's usual choice
    call = f"rlemask.read_labels({', '.join(args)})"
    if fmt is None and n_rows_ok and placeholders != n_rows_ok:
        call += "  # or format='siim': the rows cannot tell"
    if "merge-conflict" in counts:
        return "(resolve the git merge conflict first) " + call
    if set(counts) & _BLOCKING:
        return "(fix the rows listed first) " + call
    return call


def inspect_labels(path: str | os.PathLike, *, shape: tuple[int, int] | None = None
                   ) -> LabelsReport:
    """Name a label file's layout, format and problems; say how to read it.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV label file (``.csv`` or gzip).
    shape : (int, int), optional
        The images' size, when known: rows past it are listed
        (``outside-image``) and the format is decided with it.

    Returns
    -------
    LabelsReport

    Raises
    ------
    LabelsFileError
        Only a file that cannot be read at all: empty, not a label file (no
        id or RLE column), not text, an unterminated quote.
    OSError
        The file cannot be opened.

    Examples
    --------
    >>> import pathlib, tempfile, rlemask
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sub.csv"
    >>> _ = p.write_text("ImageId,EncodedPixels\\na,5 2 9 1 14 3\\na,5 2 9 1 14 3\\nb,1 1\\n")
    >>> report = rlemask.inspect_labels(p)
    >>> report.layout, report.format, report.max_pixel
    ('single', 'kaggle', 16)
    >>> [(q["line"], q["kind"]) for q in report.problems]
    [(3, 'duplicate-row'), (3, 'overlapping-objects'), (4, 'placeholder')]
    """
    p = split_file(path)
    out = _Problems()
    if p.bom:
        out.add(1, "bom", "a UTF-8 byte-order mark before the first row (read here; some "
                          "tools read it as part of the first id)")
    _bad_rows(p, out)
    try:
        image, ids, cls, classes = images_and_classes(p)
    except LabelsFileError as err:  # an empty id, a wide id without a class: no table
        raise LabelsFileError(f"{err} (the rows cannot be inspected further)") from None
    s, e = p.fields["rle"]
    stats = p.rle_stats()
    markers = tuple(t for c in AUTO_CANDIDATES for t in empty_markers(c))
    mark_empty_tokens(stats, p.buf, s, e, markers + DEFAULT_EXTRA_EMPTY)
    npix = np.full(image.size, shape[0] * shape[1], np.int64) if shape else None
    fmt, evidence = decide_format(stats, npix)
    _row_problems(p, stats, image, ids, fmt, out)
    _duplicates(p, image, cls, ids, out)
    _overlapping_objects(p, stats, image, cls, ids, fmt, out)
    ok = stats.code == lk.RLE_OK
    if fmt is not None:
        ends = stats.end(fmt)
        max_pixel = int(ends[ok].max()) if ok.any() else None
    else:  # either convention may be the file's: the size must hold the smaller reach
        ends = np.maximum(stats.abs_end, stats.rel_end)
        max_pixel = (min(int(stats.abs_end[ok].max()), int(stats.rel_end[ok].max()))
                     if ok.any() else None)
    if shape is not None and ends is not None:
        for row in np.flatnonzero(ok & (ends > shape[0] * shape[1])).tolist():
            out.add(p.line[row], "outside-image",
                    f"id {ids[image[row]]!r}: covers pixels up to {int(ends[row]) - 1}, outside "
                    f"{tuple(shape)}")
    empties = Counter(p.buf[a:b].decode("utf-8", "replace") for a, b in zip(
        s[~ok & (stats.code == lk.RLE_EMPTY)].tolist(),
        e[~ok & (stats.code == lk.RLE_EMPTY)].tolist(), strict=True))
    sizes, shapes = ([], []) if shape else _sizes(max_pixel)
    return LabelsReport(
        path=str(path), layout=p.columns.layout, columns=p.columns.by_name(),
        header=p.columns.header, bom=p.bom, format=fmt, format_evidence=evidence,
        n_rows=int(image.size), n_images=len(ids), classes=list(classes),
        empty_tokens=[t for t, _ in empties.most_common()], max_pixel=max_pixel,
        consistent_sizes=sizes, problems=out.sorted(), problem_counts=dict(out.counts),
        suggestion=_suggestion(str(path), p, fmt, int(ok.sum()), shape, shapes, out.counts),
    )
