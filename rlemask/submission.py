"""``check_submission``: what a Kaggle checker rejects, found before the upload.

With a competition, one pass over the file's lines in the competition's
RLE format; without one, the rejections among :func:`rlemask.inspect_labels`'
problems (the file read in its own conventions).  Each problem is a dict ``{"line", "id",
"kind", "message"}`` (``line`` is 1-based in the submission, ``None`` for an
id the submission lacks; ``id`` is ``None`` where no row is concerned).
Kinds:

``bom``
    A UTF-8 byte-order mark before the header.
``merge-conflict``
    A git conflict marker line (``<<<<<<<``, ``=======``, ``>>>>>>>``).
``header``
    A header other than the competition's (or no header at all).
``wrong-columns``
    A row with another number of fields than the header.
``bad-token``, ``odd-count``
    A token that is not a non-negative integer; an odd number of tokens.
``bad-start``, ``zero-length``, ``unsorted-runs``, ``overlapping-runs``
    A start below 1 (Kaggle's starts are 1-based; a negative SIIM offset), a
    length <= 0, starts that do not increase, a run that begins inside the
    previous one.
``outside-image``
    Pixels past the image (where the competition fixed its size).
``overlapping-objects``
    Two rows of one image that share pixels (instance competitions).
``duplicate-row``
    A second row for an (id, class) where one row is expected.
``missing-id``, ``extra-id``
    An id of the sample submission with no row; a row whose id the sample
    lacks.
"""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._errors import LabelsFileError
from rlemask.competition_table import Competition
from rlemask.competition_table import competition as get_competition
from rlemask.label_inspect import inspect_labels
from rlemask.label_rows import conflict_marker
from rlemask.labels import large_fields

__all__ = ["check_submission"]

_BOM = b"\xef\xbb\xbf"
# inspect_labels' kinds that a checker rejects (the others are advice), and those of the file
_REJECTED = frozenset({"bom", "merge-conflict", "wrong-columns", "odd-count", "bad-token",
                       "unsorted-runs", "overlapping-runs", "outside-image"})
_FILE_KINDS = frozenset({"bom", "merge-conflict"})


def _lines(path: str | os.PathLike) -> tuple[bytes, list[str]]:
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = raw[len(_BOM):] if raw.startswith(_BOM) else raw
    return raw, text.decode("utf-8", errors="replace").splitlines()


def _problem(line: int | None, image_id: Any, kind: str, message: str) -> dict[str, Any]:
    return {"line": line, "id": image_id, "kind": kind, "message": message}


def _bad_token(tokens: list[str]) -> int | None:
    for i, t in enumerate(tokens):
        if not t.isdigit() or not t.isascii():
            return i
    return None


def check_rle(text: str, fmt: str, npix: int | None) -> tuple[str, str] | tuple[np.ndarray, ...]:
    """``(kind, message)`` of the first problem of one RLE text, or its 0-based ``(starts, ends)``.

    Examples
    --------
    >>> check_rle("3 2 1 1", "kaggle", None)
    ('unsorted-runs', 'run 1 starts at 1, before run 0 (3): starts must increase')
    >>> [a.tolist() for a in check_rle("1 2 5 1", "kaggle", 16)]
    [[0, 4], [2, 5]]
    """
    tokens = text.split()
    bad = _bad_token(tokens)
    if bad is not None:
        return "bad-token", f"token {bad} ({tokens[bad]!r}) is not a non-negative integer"
    if len(tokens) % 2:
        return "odd-count", f"{len(tokens)} tokens: the last start has no length"
    vals = np.array(tokens, dtype=np.int64).reshape(-1, 2)
    first, lengths = vals[:, 0], vals[:, 1]
    if (lengths <= 0).any():
        i = int(np.flatnonzero(lengths <= 0)[0])
        return "zero-length", f"run {i} has length {int(lengths[i])}: lengths must be positive"
    if fmt == "siim":  # offsets from the previous run's end
        ends = np.cumsum(first + lengths)
        starts = ends - lengths
    else:
        if (first < 1).any():
            i = int(np.flatnonzero(first < 1)[0])
            return "bad-start", f"run {i} starts at {int(first[i])}: starts are 1-based (>= 1)"
        starts = first - 1
        ends = starts + lengths
        back = np.flatnonzero(starts[1:] <= starts[:-1])
        if back.size:
            i = int(back[0]) + 1
            return "unsorted-runs", (
                f"run {i} starts at {int(first[i])}, before run {i - 1} ({int(first[i - 1])}): "
                "starts must increase"
            )
        inside = np.flatnonzero(starts[1:] < ends[:-1])
        if inside.size:
            i = int(inside[0]) + 1
            return "overlapping-runs", f"run {i} begins inside run {i - 1}"
    if npix is not None and ends.size and int(ends[-1]) > npix:
        return "outside-image", (
            f"the row reaches pixel {int(ends[-1])}, past the image's {npix} pixels"
        )
    return starts, ends


def _overlaps(image_id: str, rows: list[tuple[int, np.ndarray, np.ndarray]]) -> list[dict]:
    """One problem per row that shares pixels with an earlier row of the same image."""
    line = np.concatenate([np.full(s.size, ln) for ln, s, _ in rows])
    starts = np.concatenate([s for _, s, _ in rows])
    ends = np.concatenate([e for _, _, e in rows])
    order = np.argsort(starts, kind="stable")
    starts, ends, line = starts[order], ends[order], line[order]
    reach = np.maximum.accumulate(ends)
    hit = np.flatnonzero(starts[1:] < reach[:-1]) + 1
    out, seen = [], set()
    for i in hit:
        # every earlier run still open at this start: a run may cross several objects
        for j in np.flatnonzero(ends[:i] > starts[i]).tolist():
            pair = tuple(sorted((int(line[j]), int(line[i]))))
            if pair in seen or pair[0] == pair[1]:
                continue
            seen.add(pair)
            out.append(_problem(pair[1], image_id, "overlapping-objects",
                                f"shares pixels with the object on line {pair[0]}"))
    return out


def _sample_keys(sample: str | os.PathLike, n_key: int) -> dict[tuple[str, ...], int]:
    _, lines = _lines(sample)
    keys: dict[tuple[str, ...], int] = {}
    with large_fields():
        for number, fields in enumerate(csv.reader(lines[1:]), start=2):
            if len(fields) >= n_key:
                keys.setdefault(tuple(f.strip() for f in fields[:n_key]), number)
    return keys


def check_submission(
    path: str | os.PathLike,
    *,
    competition: str | Competition | None = None,
    sample: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """The problems a Kaggle checker would reject in a submission CSV (empty list: none).

    Parameters
    ----------
    path : str or os.PathLike
        The submission (``.csv`` or ``.csv.gz``).
    competition : str, optional
        A name of :func:`rlemask.competitions`: its header, RLE format, image
        size, one row per (id, class) or per object (objects must then not
        overlap).  Without one: the file's own conventions, as
        :func:`rlemask.inspect_labels` decides them, and what it finds that
        a checker rejects (at most 20 problems of a kind listed).
    sample : str or os.PathLike, optional
        The competition's sample submission: every one of its ids must have
        a row, and no other id may.

    Returns
    -------
    list of dict
        ``{"line", "id", "kind", "message"}`` in line order (the kinds: this
        module's docstring).

    Raises
    ------
    OSError
        A file that cannot be read.
    ValueError
        An unknown competition.

    Examples
    --------
    >>> import pathlib, tempfile, rlemask
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sub.csv"
    >>> _ = p.write_text("ImageId,EncodedPixels\\na.jpg,1 3\\na.jpg,2 2\\nb.jpg,5\\n")
    >>> [(q["line"], q["id"], q["kind"])
    ...  for q in rlemask.check_submission(p, competition="airbus-ship-detection")]
    [(3, 'a.jpg', 'overlapping-objects'), (4, 'b.jpg', 'odd-count')]
    """
    comp = get_competition(competition) if competition is not None else None
    raw, lines = _lines(path)
    problems: list[dict[str, Any]] = []
    if raw.startswith(_BOM):
        problems.append(_problem(1, None, "bom", "the file starts with a UTF-8 byte-order mark"))
    data: list[tuple[int, str]] = []
    for number, text in enumerate(lines, start=1):
        marker = conflict_marker(text.encode("utf-8"), 0)
        if marker:  # inspect_labels' words for it
            problems.append(_problem(number, None, "merge-conflict",
                                     f"{text.strip()!r}: {marker}"))
        elif text.strip():
            data.append((number, text))
    if not data:
        return problems + [_problem(None, None, "header", "the file has no header")]
    if comp is None:  # the file's own conventions, as inspect_labels decides them
        problems = _inspected(path, data)
    else:
        problems += _check_rows(data, comp)
    if sample is not None:
        problems += _check_sample(data, comp, sample)
    return sorted(problems, key=lambda q: (q["line"] is None, q["line"] or 0))


def _inspected(path: str | os.PathLike, data: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """The rejections among :func:`rlemask.inspect_labels`' problems, each with its row's id.

    Without a competition the RLE convention is the file's own (SIIM's
    relative offsets are not Kaggle's unsorted starts), which
    ``inspect_labels`` decides from the rows; its advice (placeholders,
    repeated rows, overlapping rows of a file that may OR them) is left out.
    """
    try:
        report = inspect_labels(path)
    except LabelsFileError as err:
        return [_problem(1, None, "header", str(err))]
    with large_fields():
        ids = {number: (fields[0].strip() if fields else None)
               for (number, _), fields in zip(data, csv.reader([t for _, t in data]),
                                              strict=True)}
    return [
        _problem(p["line"], None if p["kind"] in _FILE_KINDS else ids.get(p["line"]),
                 p["kind"], p["message"])
        for p in report.problems if p["kind"] in _REJECTED
    ]


def _check_rows(data: list[tuple[int, str]], comp: Competition | None) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    with large_fields():
        rows = list(csv.reader([text for _, text in data]))
    header = [f.strip() for f in rows[0]]
    n_fields = len(header)
    if comp is not None and tuple(header) != comp.header:
        problems.append(_problem(data[0][0], None, "header",
                                 f"header {','.join(header)!r}, expected "
                                 f"{','.join(comp.header)!r}"))
        n_fields = len(comp.header)
    fmt = comp.format if comp is not None else "kaggle"
    npix = None if comp is None or comp.shape is None else comp.shape[0] * comp.shape[1]
    empty = {"", "-1", "-"} | ({comp.empty} if comp is not None else set())
    n_key = n_fields - 1
    seen: dict[tuple[str, ...], int] = {}
    objects: dict[str, list] = {}
    for (number, _), fields in zip(data[1:], rows[1:], strict=True):
        image_id = fields[0].strip() if fields else ""
        if len(fields) != n_fields:
            problems.append(_problem(number, image_id or None, "wrong-columns",
                                     f"{len(fields)} fields, the header has {n_fields}"))
            continue
        key = tuple(f.strip() for f in fields[:n_key])
        if comp is not None and comp.one_row and key in seen:
            problems.append(_problem(number, image_id, "duplicate-row",
                                     f"a second row for {','.join(key)!r} (first on line "
                                     f"{seen[key]}); one row is expected"))
        seen.setdefault(key, number)
        text = fields[-1].strip()
        if text in empty:
            continue
        checked = check_rle(text, fmt, npix)
        if isinstance(checked[0], str):
            problems.append(_problem(number, image_id, checked[0], checked[1]))
        elif comp is not None and comp.objects:
            objects.setdefault(image_id, []).append((number, *checked))
    for image_id, obj_rows in objects.items():
        if len(obj_rows) > 1:
            problems += _overlaps(image_id, obj_rows)
    return problems


def _check_sample(
    data: list[tuple[int, str]], comp: Competition | None, sample: str | os.PathLike
) -> list[dict[str, Any]]:
    n_key = len(comp.header) - 1 if comp is not None else 1
    expected = _sample_keys(sample, n_key)
    with large_fields():
        got: dict[tuple[str, ...], int] = {}
        for (number, _), fields in zip(data[1:], csv.reader([t for _, t in data[1:]]),
                                       strict=True):
            got.setdefault(tuple(f.strip() for f in fields[:n_key]), number)
    problems = [
        _problem(None, ",".join(key), "missing-id",
                 f"in the sample submission (line {line}) but has no row")
        for key, line in expected.items() if key not in got
    ]
    problems += [
        _problem(line, ",".join(key), "extra-id", "not in the sample submission")
        for key, line in got.items() if key not in expected
    ]
    return problems
