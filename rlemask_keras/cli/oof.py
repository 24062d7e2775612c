"""``rlemask-keras oof RUN_DIR [RUN_DIR ...]``: thresholds chosen on the folds' validation."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlemask_keras.cli import add_prediction_options, add_runtime_options, runtime
from rlemask_keras.oof import out_of_fold


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "oof",
        help="choose the post-processing on the folds' out-of-fold predictions",
        description=(
            "Predict each run's validation images with that run's model (the runs of "
            "'train --folds K --fold k', one per fold), choose the post-processing thresholds "
            "on all of them, print the out-of-fold score next to the all-empty baseline and "
            "write the thresholds for 'predict --thresholds'."
        ),
    )
    parser.add_argument(
        "runs", metavar="RUN_DIR", type=Path, nargs="+", help="folders written by train"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("oof.json"), help="JSON to write (default: oof.json)"
    )
    add_prediction_options(parser)
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with runtime(args):
        out_of_fold(args.runs, out=args.out, tta=args.tta, batch_size=args.batch_size)
    return 0
