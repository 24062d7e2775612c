"""The ``rlemask-keras`` command: ``train`` and ``predict``.

``rlemask-keras train`` with no ``--data`` makes (or reuses) a synthetic
SIIM-like data set and trains on it: the README's main job.  The work is
done by :mod:`rlemask_keras.training`; this module only parses arguments.
User errors (bad files, bad values, an existing output folder) print one
line on stderr and exit with status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

#: exit status for errors in the user's input (argparse uses 2 as well)
USER_ERROR = 2


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number in (0, 1), received {text!r}"
        ) from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), received {text!r}")
    return value


def _schedule(text: str) -> tuple[float, float | None] | None:
    """``0.8,natural`` / ``0.8,0.4`` / ``0.5`` / ``none``."""
    if text.strip().lower() == "none":
        return None
    parts = [p.strip().lower() for p in text.split(",")]
    try:
        values = [None if p == "natural" else float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START[,END] with numbers in 0..1 or 'natural', received {text!r}"
        ) from None
    if len(values) not in (1, 2) or any(v is not None and not 0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected START[,END] with numbers in 0..1 or 'natural', received {text!r}"
        )
    if values[0] is None:
        raise argparse.ArgumentTypeError(f"START must be a number, received {text!r}")
    return (values[0], values[-1])


def _triplet(text: str) -> tuple[float, float, float]:
    parts = text.split(",")
    try:
        top, area, bottom = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected TOP,AREA,BOTTOM such as 0.75,2000,0.3, received {text!r}"
        ) from None
    if not (0 <= top <= 1 and 0 <= bottom <= 1 and area >= 0):
        raise argparse.ArgumentTypeError(
            f"TOP and BOTTOM must be in 0..1 and AREA >= 0, received {text!r}"
        )
    return top, area, bottom


def build_parser() -> argparse.ArgumentParser:
    from rlemask_keras.training import TrainConfig

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="rlemask-keras",
        description="Train and apply U-Net / U-Net++ models on SIIM-style RLE data sets.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tr = sub.add_parser(
        "train",
        help="train, evaluate on validation, write model + report + figures",
        description=(
            "Train a U-Net on a SIIM-style folder (DICOMs + train-rle.csv), or on a synthetic "
            "set when --data is not given; evaluate the best model on the validation split at "
            "the original resolution; write model.keras, history.csv, report.md, report.json, "
            "curves.png and overlays.png into --out."
        ),
    )
    tr.add_argument("--data", type=Path, help="data set folder (default: the synthetic set)")
    tr.add_argument("--model", choices=("unet", "unet++"), default=defaults.model)
    tr.add_argument(
        "--activation",
        default=defaults.activation,
        help="selu (default), relu, elu or any Keras activation name",
    )
    tr.add_argument("--epochs", type=int, default=defaults.epochs)
    tr.add_argument(
        "--img-size",
        type=int,
        default=defaults.img_size,
        help="model input size S (S x S); divisible by 2**depth",
    )
    tr.add_argument("--batch-size", type=int, default=defaults.batch_size)
    tr.add_argument("--filters", type=int, default=defaults.filters)
    tr.add_argument("--depth", type=int, default=defaults.depth)
    tr.add_argument("--batch-norm", action="store_true", help="batch norm after each convolution")
    tr.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    tr.add_argument("--val-fraction", type=_fraction, default=defaults.val_fraction)
    tr.add_argument("--seed", type=int, default=defaults.seed)
    tr.add_argument("--out", type=Path, default=defaults.out, help="output folder")
    tr.add_argument(
        "--overwrite", action="store_true", help="replace the results in an existing --out folder"
    )
    tr.add_argument(
        "--strategy",
        choices=("default", "mirrored"),
        default=defaults.strategy,
        help="mirrored: tf.distribute.MirroredStrategy over the GPUs (or CPUs)",
    )
    tr.add_argument(
        "--mixed-precision",
        action="store_true",
        help="float16 on GPU, bfloat16 on CPU (outputs stay float32)",
    )
    tr.add_argument(
        "--n-images",
        type=int,
        default=defaults.n_images,
        help="size of the synthetic set (without --data)",
    )
    tr.add_argument(
        "--synthetic-size",
        type=int,
        default=defaults.synthetic_size,
        help="side of the synthetic images in pixels",
    )
    tr.add_argument(
        "--synthetic-root",
        type=Path,
        default=defaults.synthetic_root,
        help="where the synthetic set is made or reused",
    )
    tr.add_argument(
        "--positive-fraction",
        type=_schedule,
        default=defaults.positive_fraction,
        metavar="START[,END]",
        help="share of positive images per epoch, going from START to END "
        "('natural': the data's share); 'none' = every image once "
        "(default: 0.8,natural)",
    )
    tr.add_argument("--no-augment", dest="augment", action="store_false")
    tr.add_argument(
        "--cache",
        type=Path,
        dest="cache_dir",
        help="sample cache folder (default: beside the synthetic set, or OUT/cache)",
    )
    tr.add_argument(
        "--workers", type=int, default=defaults.workers, help="PyDataset worker threads"
    )
    tr.add_argument(
        "--threads",
        type=int,
        default=0,
        help="TensorFlow intra-op threads (0: TensorFlow's choice)",
    )
    tr.add_argument("--quiet", action="store_true", help="no progress bars")
    tr.set_defaults(func=_run_train)

    pr = sub.add_parser(
        "predict",
        help="write a submission CSV for a folder of DICOMs",
        description=(
            "Predict every DICOM under DATA with MODEL and write the competition's CSV at each "
            "image's original resolution (one row per image, -1 for empty, SIIM relative RLE)."
        ),
    )
    pr.add_argument("model_path", metavar="MODEL", type=Path, help="a .keras model file")
    pr.add_argument("data", metavar="DATA", type=Path, help="folder searched for *.dcm")
    pr.add_argument(
        "--out", type=Path, default=Path("submission.csv"), help="CSV to write (atomically)"
    )
    pr.add_argument(
        "--tta",
        choices=("none", "flip"),
        default="none",
        help="flip: average with the horizontally flipped prediction",
    )
    pr.add_argument(
        "--triplet",
        type=_triplet,
        metavar="TOP,AREA,BOTTOM",
        help="post-processing; AREA in pixels at 1024 x 1024 (default: the values "
        "in report.json beside MODEL, else 0.75,2000,0.3)",
    )
    pr.add_argument("--img-size", type=int, help="model input size (default: the model's)")
    pr.add_argument("--batch-size", type=int, default=16, help="images per model call")
    pr.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=_run_predict)
    return parser


def _set_threads(n: int) -> None:
    if n <= 0:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    except RuntimeError:  # TensorFlow already running (e.g. called twice in one process)
        pass


def _run_train(args: argparse.Namespace) -> int:
    from rlemask_keras.training import TrainConfig, train

    _set_threads(args.threads)
    config = TrainConfig(
        data=args.data,
        model=args.model,
        activation=args.activation,
        epochs=args.epochs,
        img_size=args.img_size,
        batch_size=args.batch_size,
        filters=args.filters,
        depth=args.depth,
        batch_norm=args.batch_norm,
        learning_rate=args.learning_rate,
        val_fraction=args.val_fraction,
        seed=args.seed,
        out=args.out,
        overwrite=args.overwrite,
        strategy=args.strategy,
        mixed_precision=args.mixed_precision,
        n_images=args.n_images,
        synthetic_size=args.synthetic_size,
        synthetic_root=args.synthetic_root,
        positive_fraction=args.positive_fraction,
        augment=args.augment,
        cache_dir=args.cache_dir,
        workers=args.workers,
        verbose=0 if args.quiet else 1,
    )
    report = train(config)
    ev = report["evaluation"]
    out = Path(config.out)
    verdict = "met" if report["target"]["met"] else "NOT met"
    print()
    print(f"results in {out}/:")
    for name in (
        "report.md",
        "report.json",
        "curves.png",
        "overlays.png",
        "model.keras",
        "history.csv",
    ):
        print(f"  {out / name}")
    print(
        f"competition score {_num(ev['mean_dice'])} (all-empty baseline "
        f"{_num(ev['all_empty_baseline'])}), Dice on positive images "
        f"{_num(ev['dice_positive'])}, empty accuracy {_num(ev['empty_accuracy'])}; "
        f"target (positive Dice >= 0.6, above baseline) {verdict}; "
        f"{report['training']['images_per_second']:.1f} training images/s, "
        f"{report['wall_seconds']:.0f} s in all"
    )
    return 0


def _num(value: float | None) -> str:
    """A report number; ``None`` (NaN in the report: nothing to average) shows as n/a."""
    return "n/a" if value is None else f"{value:.4f}"


def _run_predict(args: argparse.Namespace) -> int:
    from rlemask_keras.training import predict

    _set_threads(args.threads)
    predict(
        args.model_path,
        args.data,
        args.out,
        tta=args.tta,
        triplet=args.triplet,
        img_size=args.img_size,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as err:  # RLEError, DicomError, FileExistsError, ...
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"rlemask-keras {args.command}: error: {message}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print(f"rlemask-keras {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
