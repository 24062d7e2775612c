"""rlemask report SUB TRUTH --out DIR: the error-analysis page of a submission.

Scores SUB against TRUTH (``rlemask.score``, as ``rlemask score`` does) and
writes a static page into DIR: ``index.html`` and ``index_files/`` (overlay
thumbnails of the rows looked at first, and their full-size overlays).  The
page opens from the file system, sorts by any column and filters by outcome
and class.  Without ``--data`` it holds no thumbnails, and says so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlemask.cli import CommandError
from rlemask.cli.score import _metric_name, competition_name


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write an error-analysis page (every image, sortable, with overlays)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("submission", metavar="SUB", help="submission / predictions CSV")
    parser.add_argument("truth", metavar="TRUTH", help="ground-truth labels CSV")
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="folder the page is written into (created if missing)")
    parser.add_argument("--data", metavar="DIR",
                        help="folder of the images, for overlay thumbnails (default: none)")
    rules = parser.add_mutually_exclusive_group()
    rules.add_argument("--competition", metavar="NAME", type=competition_name,
                       help="score as this competition graded it (default: none, the --metric)")
    rules.add_argument("--metric", metavar="NAME", type=_metric_name,
                       help="metric to score with (default: dice, per image; rlemask score --help "
                       "lists them)")
    parser.add_argument("--shape", nargs=2, type=int, metavar=("H", "W"),
                        help="image height and width (default: the competition's, or the labels' "
                        "own sizes)")
    parser.add_argument("--thumbnails", type=int, metavar="N",
                        help="most rows drawn (default: 200 with --data, 0 without)")
    parser.add_argument("--no-full-size", action="store_true",
                        help="thumbnails only, no full-size overlays (default: both; a "
                        "1024 x 1024 overlay is about 0.5 MB)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import rlemask
    from rlemask.report_page import _write_page

    for flag, value in (("SUB", args.submission), ("TRUTH", args.truth)):
        if not Path(value).is_file():
            raise CommandError(f"{flag} {value!r} is not a file")
    if args.data is not None and not Path(args.data).is_dir():
        raise CommandError(f"--data {args.data!r} is not a folder")
    if args.thumbnails is not None and args.thumbnails < 0:
        raise CommandError(f"--thumbnails {args.thumbnails}: must be 0 or more")
    kwargs = {} if args.shape is None else {"shape": tuple(args.shape)}
    if args.competition:
        kwargs["competition"] = args.competition
    elif args.metric:
        kwargs["metric"] = args.metric
    report = rlemask.score(args.submission, args.truth, **kwargs)
    page, n_thumbnails = _write_page(
        report, args.out, data=args.data, max_thumbnails=args.thumbnails,
        thumbnail_size=160, full_size=not args.no_full_size, title=None, seed=0,
    )
    print(f"{page}: {len(report.per_image):,} rows, {n_thumbnails:,} thumbnails")
    print(report)
    return 0
