"""``rlemask score PRED.csv TRUTH.csv``: the competition score of a submission.

Prints the mean per-image Dice (the SIIM-ACR leaderboard metric) next to the
all-empty baseline and the Dice on positive images, lists ids missing from the
predictions (scored as empty) or extra, and the lowest-Dice images.  Computed
on the runs: no mask is decoded.
"""

from __future__ import annotations

import argparse
import json

from rlemask.cli import add_shape_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a submission CSV against the truth (per-image Dice, SIIM rules)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("predictions", metavar="PRED.csv", help="submission / predictions CSV")
    parser.add_argument("truth", metavar="TRUTH.csv", help="ground-truth labels CSV")
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="print the report as JSON, per-image table included"
    )
    output.add_argument("--markdown", action="store_true", help="print a Markdown section")
    add_shape_option(parser)
    parser.add_argument("--format", default="siim", help="RLE format of both files (default siim)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rlemask.evaluation import evaluate

    report = evaluate(args.predictions, args.truth, shape=tuple(args.shape), format=args.format)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    elif args.markdown:
        print(report.to_markdown(), end="")
    else:
        print(report)
    return 0
