"""rlemask score PRED.csv TRUTH.csv: the competition score of a submission.

Prints the mean per-image Dice (the SIIM-ACR leaderboard metric) next to the
all-empty baseline and the Dice on positive images, lists ids missing from the
predictions (scored as empty) or extra, and the lowest-Dice images.  Computed
on the runs: no mask is decoded.  ``--only-predicted`` scores a submission for
a subset: the truth is restricted to the ids the submission holds.
"""

from __future__ import annotations

import argparse
import json

from rlemask.cli import add_format_option, add_shape_option


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
        "--json", action="store_true",
        help="print the report as JSON, per-image table included (default: a table)",
    )
    output.add_argument(
        "--markdown", action="store_true", help="print a Markdown section (default: a table)"
    )
    parser.add_argument(
        "--only-predicted", action="store_true",
        help="score only the truth's ids that PRED.csv holds, e.g. a submission for a subset "
        "(default: every truth id; a missing one counts as an empty prediction)",
    )
    add_shape_option(parser)
    add_format_option(parser, "both files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import warnings

    from rlemask.evaluation import evaluate

    with warnings.catch_warnings():
        # evaluate's doubts (masks that look encoded at another size) are in the
        # report itself, one line each: not printed a second time on stderr
        warnings.simplefilter("ignore", UserWarning)
        report = evaluate(
            args.predictions, args.truth, shape=tuple(args.shape), format=args.format,
            only_predicted=args.only_predicted,
        )
    if args.json:
        for text in report.warnings:  # JSON is for programs: tell the person too
            warnings.warn(text, UserWarning, stacklevel=1)
        print(json.dumps(report.to_dict(), indent=2))
    elif args.markdown:
        print(report.to_markdown(), end="")
    else:
        print(report)
    return 0
