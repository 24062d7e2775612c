"""rlemask check SUB: what Kaggle's checker would reject, before the upload.

Prints ``ok`` and exits 0, or one line per problem (line, id, kind, what is
wrong) and exits 1: byte-order marks, git merge-conflict lines, the header,
malformed RLE, pixels beyond the image, overlapping objects, duplicate rows,
ids missing from or extra to the sample submission.
"""

from __future__ import annotations

import argparse

from rlemask.cli import CommandError
from rlemask.cli.score import competition_name


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a submission CSV before the upload (exit 0: ok, 1: problems)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("submission", metavar="SUB", help="submission CSV (.csv or .csv.gz)")
    parser.add_argument("--competition", type=competition_name, metavar="NAME",
                        help="the competition's rules: header, format, image size, one row "
                        "per id or per object (default: the header as written, kaggle RLE)")
    parser.add_argument("--sample", metavar="CSV",
                        help="the sample submission: every id of it must have a row "
                        "(default: ids not checked)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rlemask import check_submission

    for flag, path in (("SUB", args.submission), ("--sample", args.sample)):
        if path is not None and not Path(path).is_file():
            raise CommandError(f"{flag} {path!r} is not a file")
    problems = check_submission(args.submission, competition=args.competition,
                                sample=args.sample)
    if not problems:
        print("ok")
        return 0
    for p in problems:
        where = "-" if p["line"] is None else f"line {p['line']}"
        who = "" if p["id"] is None else f" id {p['id']}"
        print(f"{where}:{who} {p['kind']}: {p['message']}")
    return 1
