"""rlemask synth OUT: write a synthetic SIIM-like data set (DICOMs + train-rle.csv)."""

from __future__ import annotations

import argparse
import time

from rlemask.cli import CommandError


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1]; received {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1]; received {text}")
    return value


def _int_in(lo: int, hi: int):
    """argparse ``type``: an int in ``[lo, hi]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"must be an integer in [{lo}, {hi}]; received {text!r}"
            )
        return value

    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic SIIM-like data set (chest-X-ray-like DICOMs + RLE labels)",
        description=(
            "Write OUT/dicom-images-train/<study>/<series>/<id>.dcm (JPEG Baseline, 8-bit) "
            "and OUT/train-rle.csv (stage-1 spelling). Same arguments, same bytes."
        ),
    )
    parser.add_argument("out", metavar="OUT", help="folder to write the data set into")
    from rlemask.synthetic import DEFAULT_DIFFICULTY, N_IMAGES_RANGE, SIZE_RANGE

    parser.add_argument("--images", type=_int_in(*N_IMAGES_RANGE), default=64, metavar="N",
                        help="number of images (default: 64)")
    parser.add_argument("--positive", type=_fraction, default=0.25, metavar="F",
                        help="share of images with a pneumothorax, 0..1 (default: 0.25)")
    parser.add_argument("--seed", type=_int_in(0, 2**63 - 1), default=0, metavar="S",
                        help="random seed: same seed, same bytes (default: 0)")
    parser.add_argument("--size", type=_int_in(*SIZE_RANGE), default=1024, metavar="N",
                        help="image height and width in pixels (default: 1024)")
    parser.add_argument("--difficulty", type=_fraction, default=DEFAULT_DIFFICULTY, metavar="D",
                        help="0 (obvious) .. 1 (subtle) "
                        f"(default: {DEFAULT_DIFFICULTY:g}, the demo's tuned value)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing data set in OUT (default: refuse)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rlemask.synthetic import make_dataset

    difficulty = args.difficulty
    start = time.perf_counter()
    try:
        root = make_dataset(
            args.out, args.images, size=args.size, positive_fraction=args.positive,
            seed=args.seed, difficulty=difficulty, overwrite=args.overwrite,
        )
    except FileExistsError:
        raise CommandError(
            f"OUT {args.out!r} already holds a data set; add --overwrite to replace it"
        ) from None
    seconds = time.perf_counter() - start
    csv = root / "train-rle.csv"
    rows = csv.read_text().splitlines()[1:]
    positives = len({row.split(",", 1)[0] for row in rows if not row.endswith(" -1")})
    print(f"wrote {args.images} DICOMs ({args.size} x {args.size}, JPEG Baseline) under "
          f"{root / 'dicom-images-train'}")
    print(f"wrote {csv}: {len(rows)} rows, {positives} positive images "
          f"({args.images - positives} negative)")
    print(f"seed {args.seed}, difficulty {difficulty:g}, {seconds:.1f} s "
          f"({1000 * seconds / args.images:.0f} ms per image)")
    return 0
