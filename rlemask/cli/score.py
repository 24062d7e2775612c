"""rlemask score SUB TRUTH: the competition score of a submission.

Without ``--metric`` or ``--competition``: the SIIM-ACR leaderboard metric
(mean per-image Dice, :func:`rlemask.evaluate`) next to the all-empty
baseline and the Dice on positive images, the ids missing from the
predictions (scored as empty) or extra, and the lowest-Dice images.  With
``--metric NAME`` or ``--competition NAME``: any metric of the field
(:func:`rlemask.score`), each file read in its own convention unless
``--format`` / ``--sub-format`` / ``--truth-format`` say otherwise.
Computed on the runs: no mask is decoded.
"""

from __future__ import annotations

import argparse
import json
import math

from rlemask.cli import CommandError, rle_format


def metric_name(text: str) -> str:
    """argparse ``type`` of ``--metric``: a registered metric."""
    from rlemask import metrics

    if text not in metrics():
        raise argparse.ArgumentTypeError(
            f"unknown metric {text!r}; available: {', '.join(metrics())}"
        )
    return text


# the name rlemask/cli/report.py imports (until it uses metric_name)
_metric_name = metric_name


def competition_name(text: str) -> str:
    """argparse ``type`` of ``--competition``: a known competition."""
    from rlemask import competitions

    if text not in competitions():
        raise argparse.ArgumentTypeError(
            f"unknown competition {text!r}; known: {', '.join(competitions())}"
        )
    return text


def _empty_rule(text: str) -> float | str:
    if text == "skip":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number in [0, 1] or skip")
    return value


# score()'s parameters as this command's flags, for its messages
_FLAGS = (
    ("format= or truth_format=", "--format or --truth-format"),
    ("format= or submission_format=", "--format or --sub-format"),
    ("competition=", "--competition"),
    ("shape=(height, width)", "--shape H W"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a submission CSV against the truth (SIIM Dice, or any metric of the field)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("predictions", metavar="SUB", help="submission / predictions CSV")
    parser.add_argument("truth", metavar="TRUTH", help="ground-truth labels CSV")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--metric", type=metric_name, metavar="NAME",
                     help="a metric: dice, class-dice, global-dice, iou-sweep, f2-sweep, "
                     "dice-hausdorff, ... (default: SIIM's per-image Dice)")
    how.add_argument("--competition", type=competition_name, metavar="NAME",
                     help="score as NAME graded it: metric, options, format, image size "
                     "(default: none)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help="print the report as JSON, per-image rows included (default: a table)")
    output.add_argument("--markdown", action="store_true",
                        help="print a Markdown section, SIIM default only (default: a table)")
    parser.add_argument(
        "--only-predicted", action="store_true",
        help="SIIM default only: score only the truth's ids that SUB holds "
        "(default: every truth id; a missing one counts as an empty prediction)",
    )
    parser.add_argument("--shape", nargs=2, type=int, metavar=("H", "W"), default=None,
                        help="image height and width (SIIM default: 1024 1024; with "
                        "--competition: its size; --metric: none needed but dice-hausdorff's)")
    parser.add_argument("--format", type=rle_format, metavar="NAME",
                        help="RLE format of both files (SIIM default: siim; otherwise each "
                        "file's own convention)")
    parser.add_argument("--sub-format", type=rle_format, metavar="NAME",
                        help="RLE format of SUB only (default: --format's)")
    parser.add_argument("--truth-format", type=rle_format, metavar="NAME",
                        help="RLE format of TRUTH only (default: --format's)")
    parser.add_argument("--empty", type=_empty_rule, metavar="RULE",
                        help="score where both are empty: 1, 0 or skip (default: the "
                        "metric's or competition's rule)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sub_fmt = args.sub_format or args.format
    truth_fmt = args.truth_format or args.format
    if args.metric is None and args.competition is None and sub_fmt == truth_fmt:
        return _run_siim(args, sub_fmt or "siim")
    if args.markdown or args.only_predicted:
        flag = "--markdown" if args.markdown else "--only-predicted"
        raise CommandError(f"{flag} is for the SIIM default only, not with --metric, "
                           "--competition or two formats")
    from rlemask import score

    options = {} if args.empty is None else {"empty": args.empty}
    try:
        report = score(
            args.predictions, args.truth, metric=args.metric or "dice",
            competition=args.competition,
            shape=None if args.shape is None else tuple(args.shape),
            truth_format=truth_fmt, submission_format=sub_fmt, **options,
        )
    except ValueError as err:  # say it in flags: the library names its parameters
        text = str(err)
        for param, flag in _FLAGS:
            text = text.replace(param, flag)
        raise CommandError(text) from None
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        print(report)
    return 0


def _run_siim(args: argparse.Namespace, fmt: str) -> int:
    """Today's SIIM default: :func:`rlemask.evaluate` and its report."""
    import warnings

    from rlemask.evaluation import evaluate

    if args.empty is not None:
        raise CommandError("--empty needs --metric or --competition (SIIM's rule is 1)")
    shape = (1024, 1024) if args.shape is None else tuple(args.shape)
    with warnings.catch_warnings():
        # evaluate's doubts (masks that look encoded at another size) are in the
        # report itself, one line each: not printed a second time on stderr
        warnings.simplefilter("ignore", UserWarning)
        report = evaluate(
            args.predictions, args.truth, shape=shape, format=fmt,
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
