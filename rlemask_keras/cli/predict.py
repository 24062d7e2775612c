"""``rlemask-keras predict MODEL [MODEL ...] DATA``: a submission for a folder of images.

A folder of DICOMs without layout options keeps the SIIM path
(:func:`rlemask_keras.predict.predict`); ``--competition``, ``--layout``,
``--format``, ``--pattern``, ``--image-id``, ``--tile``, or a folder of other
images, take :func:`rlemask_keras.predict_folder.predict_folder`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlemask.image_dataset import IMAGE_SUFFIXES
from rlemask_keras.cli import add_prediction_options, add_runtime_options, runtime
from rlemask_keras.predict import check_triplet, predict, thresholds_from_file
from rlemask_keras.predict_folder import predict_folder

SIIM = "siim-acr-pneumothorax-segmentation"
#: the options of the layout path (predict_folder), none of which the DICOM path takes
_LAYOUT_OPTIONS = ("layout", "format", "objects", "pattern", "image_id", "tile")


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


def _add_layout_options(parser: argparse.ArgumentParser) -> None:
    layout = parser.add_argument_group("layouts (any image folder)")
    layout.add_argument("--competition", metavar="NAME",
                        help="write NAME's layout, format, classes and header ('rlemask score "
                        "--help' lists the names)")
    layout.add_argument("--layout", choices=("single", "long", "wide"),
                        help="without --competition: the label file's layout (default single)")
    layout.add_argument("--format", help="without --competition: the RLE format (default kaggle)")
    layout.add_argument("--objects", action="store_true", default=None,
                        help="without --competition: one row per connected region (the "
                        "instance competitions' rows; --competition implies its own)")
    layout.add_argument("--pattern", metavar="GLOB",
                        help="images to predict, a glob relative to DATA (default: every "
                        "DICOM, PNG, JPEG and TIFF at any depth)")
    layout.add_argument("--image-id", choices=("stem", "name", "uw-madison"),
                        help="how an image is named: file stem, file name (Severstal, Airbus: "
                        "'0002cc93b.jpg') or UW-Madison's case_day_slice (default: the "
                        "competition's, else stem)")
    layout.add_argument("--tile", type=int, metavar="N",
                        help="predict each image in N x N tiles read lazily (gigapixel TIFFs); "
                        "a pixel is foreground above each class's BOTTOM threshold")
    layout.add_argument("--overlap", type=int, default=64, metavar="M",
                        help="pixels tiles overlap by, blended (default: 64)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        # argparse would print a "+" positional with a compound metavar twice
        usage="rlemask-keras predict [options] MODEL [MODEL ...] DATA",
        help="write a submission for a folder of images, in any competition's layout",
        description=(
            "Predict every image under DATA with MODEL (several: their probabilities are "
            "averaged per image) and write the submission at each image's own size. A folder "
            "of DICOMs without layout options: SIIM's CSV (one row per image, -1 for empty, "
            "SIIM relative RLE). --competition NAME: that competition's layout, format, "
            "classes and header, one row per region for instance competitions; --layout and "
            "--format for others. Multi-class models apply each class's post-processing "
            "from the report.json beside them (and the presence head's gate)."
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
    _add_layout_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_prediction_options(parser)
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def _dicom_path(args: argparse.Namespace, data: Path) -> bool:
    """Whether the SIIM path predicts: no layout option, and DICOMs under DATA.

    A folder of other images takes the layout path; one without any image
    stays on the SIIM path, which says it holds no DICOM.
    """
    if args.competition not in (None, SIIM) or any(
        getattr(args, name) is not None for name in _LAYOUT_OPTIONS
    ):
        return False
    if not data.is_dir() or next(data.rglob("*.dcm"), None) is not None:
        return True
    return not any(p.suffix.lower() in IMAGE_SUFFIXES for p in data.rglob("*"))


def run(args: argparse.Namespace) -> int:
    if len(args.paths) < 2:
        raise ValueError("expected MODEL [MODEL ...] DATA: at least one model and a folder")
    *models, data = args.paths
    if not _dicom_path(args, data):
        if args.resolution != "image":
            raise ValueError("`resolution`='model' is the DICOM path's; the layouts "
                             "post-process at each image's size")
        with runtime(args):
            predict_folder(
                models, data, args.out, competition=args.competition, layout=args.layout,
                format=args.format, objects=bool(args.objects), pattern=args.pattern,
                image_id=args.image_id,
                tta=args.tta, weights=args.weights, triplet=args.triplet,
                batch_size=args.batch_size, tile=args.tile, overlap=args.overlap,
                progress=not args.quiet,
            )
        return 0
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
