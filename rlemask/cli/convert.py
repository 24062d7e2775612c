"""rlemask convert IN.csv OUT.csv --from siim --to kaggle: rewrite a labels file.

One output row per input row, ids and row order kept; each RLE is parsed in
the source format (checked against ``--shape``) and printed in the target
format, whose own empty marker replaces empty rows (``-1`` for siim, an
empty field for kaggle).  The output has the header ``ImageId,EncodedPixels``
and is written atomically (``IN`` and ``OUT`` may be the same file).

``--to coco`` writes JSON instead of CSV (pycocotools' compressed ``counts``
strings, column-major), in one of two layouts (``--coco-layout``):

- ``dict`` (default): ``{"ImageId": {"size": [h, w], "counts": "..."}}``, one
  mask per image, its rows OR-ed (an image whose rows are all ``-1`` gets
  the empty mask's counts);
- ``list``: COCO annotations, one per non-empty row --
  ``[{"id": 1, "image_id": "...", "category_id": 1, "segmentation": {"size":
  [h, w], "counts": "..."}, "area": n, "bbox": [x, y, w, h], "iscrowd": 0}]``
  (bbox 0-based, COCO convention; empty rows have no annotation).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._atomic import atomic_write
from rlemask._errors import LabelsFileError, RLEError
from rlemask._formats import get_format, is_empty
from rlemask._validation import check_shape
from rlemask.cli import CommandError, add_shape_option, rle_format

# rlemask.labels and rlemask.runs are imported where they are used: both load the
# numba kernels, which `rlemask --help` (every command's parser built) must not pay for

_ID = "ImageId"
_RLE = "EncodedPixels"
_LAYOUTS = ("dict", "list")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="rewrite a labels CSV from one RLE format to another (rows kept), or to COCO JSON",
        description=(
            "Rewrite a labels CSV from one RLE format to another: one output row per input "
            "row, ids and order kept, written atomically. --to coco writes COCO RLE JSON."
        ),
    )
    parser.add_argument("source", metavar="IN.csv", help="labels CSV to read")
    parser.add_argument(
        "target", metavar="OUT", help="file to write: a labels CSV, or JSON with --to coco"
    )
    parser.add_argument(
        "--from", dest="from_format", type=rle_format, default="siim", metavar="NAME",
        help="RLE format of IN.csv: siim, kaggle, ... (default: siim)",
    )
    parser.add_argument(
        "--to", dest="to_format", type=rle_format, required=True, metavar="NAME",
        help="format of OUT: siim, kaggle, ... (CSV) or coco (JSON); required",
    )
    parser.add_argument(
        "--coco-layout", choices=_LAYOUTS, default="dict",
        help="with --to coco: dict (one mask per image id) or list (COCO annotations, "
        "one per row) (default: dict)",
    )
    add_shape_option(parser)
    parser.set_defaults(func=run)


def _parsed_rows(
    source: str | os.PathLike, from_format: str, shape: tuple[int, int]
) -> Iterator[tuple[str, Any]]:
    """``(image_id, Runs or None)`` per data row; None where the source format reads it
    as an empty mask (its own markers: ``-1`` for siim, ``""`` and ``-`` for kaggle)."""
    from rlemask.labels import rle_rows
    from rlemask.runs import Runs

    shape = check_shape(shape)
    codec = get_format(from_format)
    path = Path(source)
    for line, image_id, value in rle_rows(path):
        if is_empty(codec, value):
            yield image_id, None
            continue
        try:
            yield image_id, Runs.from_text(value, shape, format=from_format)
        except RLEError as err:
            raise LabelsFileError(f"{path}, line {line}: {err}") from None


def _empty_runs(shape: tuple[int, int]) -> Any:
    from rlemask.runs import Runs

    return Runs(np.empty(0, np.int64), np.empty(0, np.int64), shape)


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
        Unknown format, or one that does not print text (``coco``: see
        :func:`convert_to_coco`).
    """
    shape = check_shape(shape)
    codec = get_format(to_format)
    # the marker the codec declares for label files; a plugin codec need not declare
    # one (the plugin contract), and then prints its empty mask
    empty = getattr(codec, "empty", None)
    if empty is None:
        empty = codec.format(_empty_runs(shape))
    if not isinstance(empty, str):
        raise ValueError(f"--to {to_format}: the format does not print text for a CSV")
    return [
        (image_id, empty if runs is None else runs.to_text(format=to_format))
        for image_id, runs in _parsed_rows(source, from_format, shape)
    ]


def convert_to_coco(
    source: str | os.PathLike,
    *,
    from_format: str,
    shape: tuple[int, int] = (1024, 1024),
    layout: str = "dict",
) -> Any:
    """The rows of ``source`` as COCO RLE, JSON-ready (see the module docstring).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "in.csv"
    >>> _ = path.write_text("ImageId,EncodedPixels\\na,1 2 7 1\\na,20 1\\nb,-1\\n")
    >>> convert_to_coco(path, from_format="siim", shape=(6, 5))
    {'a': {'size': [6, 5], 'counts': '127O200'}, 'b': {'size': [6, 5], 'counts': 'n0'}}
    >>> [a["bbox"] for a in convert_to_coco(path, from_format="siim", shape=(6, 5),
    ...                                     layout="list")]
    [[0, 1, 2, 4], [3, 2, 1, 1]]
    """
    shape = check_shape(shape)
    if layout not in _LAYOUTS:
        raise ValueError(f"`layout` must be one of {', '.join(_LAYOUTS)}; received {layout!r}")
    rows = _parsed_rows(source, from_format, shape)
    if layout == "list":
        annotations = []
        for image_id, runs in rows:
            if runs is None:
                continue
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": 1,
                "segmentation": runs.to_text(format="coco", counts="str"),
                "area": int(runs.area),
                "bbox": [int(v) for v in runs.bbox()],
                # COCO's loaders read RLE segmentations whatever iscrowd says; 0 keeps
                # each region a separate instance in evaluation
                "iscrowd": 0,
            })
        return annotations
    merged: dict[str, Any] = {}
    for image_id, runs in rows:
        runs = _empty_runs(shape) if runs is None else runs
        merged[image_id] = merged[image_id] | runs if image_id in merged else runs
    return {key: runs.to_text(format="coco", counts="str") for key, runs in merged.items()}


def run(args: argparse.Namespace) -> int:
    shape = tuple(args.shape)
    if args.to_format == "coco":
        data = convert_to_coco(
            args.source, from_format=args.from_format, shape=shape, layout=args.coco_layout
        )
        with atomic_write(args.target, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.write("\n")
        return 0
    if args.coco_layout != "dict":
        raise CommandError("--coco-layout applies to --to coco only")
    rows = convert_rows(
        args.source, from_format=args.from_format, to_format=args.to_format, shape=shape
    )
    with atomic_write(args.target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([_ID, _RLE])
        writer.writerows(rows)
    return 0
