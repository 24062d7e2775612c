"""rlemask inspect FILE: which layout, RLE convention and empty marker a label file uses.

Prints the file's layout and columns, the RLE format decided from its rows
(with the evidence), the rows and images, the classes, the empty markers,
the largest pixel any row covers (and the image sizes that hold it), every
problem with its line (git merge-conflict markers, odd token counts, bad
tokens, unsorted or overlapping runs, overlapping objects, duplicate rows,
``1 1`` placeholders, a byte-order mark), and the ``read_labels(...)`` call
that reads it.  Exits 0 with the report, problems or not; 2 only for a file
that cannot be read at all.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="name a label file's layout, RLE format and problems; say how to read it",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("file", metavar="FILE", help="label CSV (.csv or .csv.gz)")
    parser.add_argument(
        "--shape", nargs=2, type=int, metavar=("H", "W"), default=None,
        help="the images' size, when known: rows past it are listed (default: unknown; the "
        "report says which sizes the rows fit)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON instead of the page (default: page)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rlemask import inspect_labels
    from rlemask.cli import CommandError

    if not Path(args.file).is_file():
        raise CommandError(f"FILE {args.file!r} is not a file")
    shape = tuple(args.shape) if args.shape is not None else None
    report = inspect_labels(args.file, shape=shape)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return 0
