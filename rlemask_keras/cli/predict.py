"""``rlemask-keras predict MODEL [MODEL ...] DATA``: a submission CSV for a folder of DICOMs."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlemask_keras.cli import add_prediction_options, add_runtime_options, runtime
from rlemask_keras.predict import check_triplet, predict, thresholds_from_file


def _triplet(text: str) -> tuple[float, float, float]:
    """``TOP,AREA,BOTTOM``, or a JSON file written by ``oof`` (or a run's report.json)."""
    if "," not in text:
        try:
            return thresholds_from_file(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err).removeprefix("`triplet`: ")) from None
    try:
        top, area, bottom = (float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected TOP,AREA,BOTTOM such as 0.75,2000,0.3, or oof.json, received {text!r}"
        ) from None
    try:
        return check_triplet(top, area, bottom)
    except ValueError:  # inf, nan, out of range: one line, exit 2 (argparse's)
        raise argparse.ArgumentTypeError(
            f"TOP and BOTTOM must be in 0..1 and AREA a finite number >= 0, received {text!r}"
        ) from None


def _weights(text: str) -> list[float]:
    try:
        values = [float(p) for p in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(v >= 0 for v in values) or not sum(values) > 0:
        raise argparse.ArgumentTypeError(
            f"expected numbers >= 0 such as 1,1,0.5 (not all 0), received {text!r}"
        )
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        # argparse would print a "+" positional with a compound metavar twice
        usage="rlemask-keras predict [options] MODEL [MODEL ...] DATA",
        help="write a submission CSV for a folder of DICOMs",
        description=(
            "Predict every DICOM under DATA with MODEL (several: their probabilities are "
            "averaged per image) and write the competition's CSV at each image's original "
            "resolution (one row per image, -1 for empty, SIIM relative RLE)."
        ),
    )
    parser.add_argument(
        "paths",
        metavar="MODEL [MODEL ...] DATA",
        type=Path,
        nargs="+",
        help=".keras model files, then the folder searched for *.dcm",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("submission.csv"),
        help="CSV to write, atomically (default: submission.csv)",
    )
    parser.add_argument(
        "--weights",
        type=_weights,
        metavar="W1,W2,...",
        help="one weight per model for the average (default: equal)",
    )
    parser.add_argument(
        "--thresholds",
        "--triplet",
        dest="triplet",
        type=_triplet,
        metavar="TOP,AREA,BOTTOM|JSON",
        help="post-processing; AREA in pixels at 1024 x 1024, or the JSON written by "
        "'rlemask-keras oof' (default: the thresholds in report.json beside the models "
        "when they agree, else 0.75,2000,0.3)",
    )
    parser.add_argument(
        "--resolution",
        choices=("image", "model"),
        default="image",
        help="where to threshold: image (the map resized bilinearly to each image, the "
        "default) or model (at the model's size, then the runs scaled up: no full-size "
        "arrays, blockier edges, and near the thresholds an image can keep or lose its "
        "whole region: a peak narrower than a model pixel is lowered by the bilinear map)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_prediction_options(parser)
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if len(args.paths) < 2:
        raise ValueError("expected MODEL [MODEL ...] DATA: at least one model and a folder")
    *models, data = args.paths
    with runtime(args):
        predict(
            models,
            data,
            args.out,
            tta=args.tta,
            weights=args.weights,
            triplet=args.triplet,
            batch_size=args.batch_size,
            resolution=args.resolution,
            progress=not args.quiet,
        )
    return 0
