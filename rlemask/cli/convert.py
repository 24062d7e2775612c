"""``rlemask convert IN.csv OUT.csv --from siim --to kaggle``: rewrite a labels file.

One output row per input row, ids and row order kept; each RLE is parsed in
the source format (checked against ``--shape``) and printed in the target
format, whose own empty marker replaces empty rows (``-1`` for siim, an
empty field for kaggle).  The output has the header ``ImageId,EncodedPixels``
and is written atomically (``IN`` and ``OUT`` may be the same file).
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

from rlemask.cli import add_shape_option

_ID = "ImageId"
_RLE = "EncodedPixels"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="rewrite a labels CSV from one RLE format to another (rows kept)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("source", metavar="IN.csv", help="labels CSV to read")
    parser.add_argument("target", metavar="OUT.csv", help="labels CSV to write")
    parser.add_argument("--from", dest="from_format", default="siim", help="format of IN")
    parser.add_argument("--to", dest="to_format", required=True, help="format of OUT")
    add_shape_option(parser)
    parser.set_defaults(func=run)


def convert_rows(
    source: str | os.PathLike,
    *,
    from_format: str,
    to_format: str,
    shape: tuple[int, int] = (1024, 1024),
) -> list[tuple[str, str]]:
    """``(image_id, rle)`` per data row of ``source``, the RLE printed in ``to_format``.

    Raises
    ------
    LabelsFileError
        Bad header, short row, empty id or malformed RLE; names file and line.
    ValueError
        Unknown format, or one that does not print text (``coco``).
    """
    import numpy as np

    from rlemask._errors import LabelsFileError, RLEError
    from rlemask._formats import get_format
    from rlemask._validation import check_shape as _shape
    from rlemask.runs import Runs

    shape = _shape(shape)
    get_format(from_format)
    empty_runs = Runs(np.empty(0, np.int64), np.empty(0, np.int64), shape)
    empty = get_format(to_format).format(empty_runs)
    if not isinstance(empty, str):
        raise ValueError(f"--to {to_format}: the format does not print text for a CSV")
    path = Path(source)
    rows: list[tuple[str, str]] = []
    line = 1
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, skipinitialspace=True)
            header = next(reader, None)
            if header is None:
                raise LabelsFileError(f"{path}, line 1: empty file, expected a header")
            names = [h.strip() for h in header]
            if _ID not in names or _RLE not in names:
                raise LabelsFileError(
                    f"{path}, line 1: header must name the columns {_ID} and {_RLE}. "
                    f"Received: {header}"
                )
            i_id, i_rle = names.index(_ID), names.index(_RLE)
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) <= max(i_id, i_rle):
                    raise LabelsFileError(f"{path}, line {line}: too few columns: {row}")
                image_id, value = row[i_id].strip(), row[i_rle].strip()
                if not image_id:
                    raise LabelsFileError(f"{path}, line {line}: empty {_ID}")
                if value in ("", "-1"):
                    rows.append((image_id, empty))
                    continue
                try:
                    runs = Runs.from_text(value, shape, format=from_format)
                    text = runs.to_text(format=to_format)
                except RLEError as err:
                    raise LabelsFileError(f"{path}, line {line}: {err}") from None
                rows.append((image_id, text))
    except csv.Error as err:
        raise LabelsFileError(f"{path}, line {line + 1}: unreadable row: {err}") from None
    except UnicodeDecodeError as err:
        raise LabelsFileError(f"{path}: not UTF-8 text near line {line + 1}: {err}") from None
    return rows


def run(args: argparse.Namespace) -> int:
    from rlemask._atomic import atomic_write

    rows = convert_rows(
        args.source,
        from_format=args.from_format,
        to_format=args.to_format,
        shape=tuple(args.shape),
    )
    with atomic_write(args.target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([_ID, _RLE])
        writer.writerows(rows)
    return 0
