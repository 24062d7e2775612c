"""rlemask synth OUT [--kind K]: write a synthetic data set in a competition's real layout.

``--kind siim`` (the default) writes the SIIM-like DICOMs and train-rle.csv;
``severstal``, ``airbus``, ``uw-madison`` and ``hubmap`` write those
competitions' layouts (see :mod:`rlemask.synthetic_kinds`).
"""

from __future__ import annotations

import argparse
import time

from rlemask.cli import CommandError
from rlemask.synthetic_layouts import KINDS


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


def _size(text: str) -> tuple[int, int]:
    """argparse ``type`` of ``--size``: ``N`` (square) or ``HxW``."""
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(16 <= v <= 200_000 for v in values):
        raise argparse.ArgumentTypeError(
            f"must be N or HxW with integers in [16, 200000]; received {text!r}"
        )
    return (values[0], values[-1])


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic data set in a competition's layout (default: SIIM DICOMs)",
        description=(
            "Write a synthetic data set in a competition's real layout. --kind siim (default): "
            "OUT/dicom-images-train/<study>/<series>/<id>.dcm (JPEG Baseline, 8-bit) and "
            "OUT/train-rle.csv (stage-1 spelling). severstal: train_images/*.jpg 256x1600 + "
            "train.csv (ImageId_ClassId, 4 rows per image). airbus: train_v2/*.jpg 768x768 + "
            "train_ship_segmentations_v2.csv (one row per ship). uw-madison: "
            "train/caseN/caseN_dayM/scans/slice_*.png (16-bit) + train.csv (id,class,"
            "segmentation). hubmap: train/*.tiff (8192x8192 RGB) + train.csv (id,encoding). "
            "Same arguments, same bytes."
        ),
    )
    parser.add_argument("out", metavar="OUT", help="folder to write the data set into")
    from rlemask.synthetic import DEFAULT_DIFFICULTY, N_IMAGES_RANGE

    parser.add_argument("--kind", choices=KINDS, default="siim",
                        help="the competition whose layout is written (default: siim)")
    parser.add_argument("--images", type=_int_in(*N_IMAGES_RANGE), default=None, metavar="N",
                        help="number of images; uw-madison: volumes (default: siim 64, "
                        "severstal 8, airbus 8, uw-madison 2, hubmap 1)")
    parser.add_argument("--positive", type=_fraction, default=None, metavar="F",
                        help="share of images with objects, 0..1, for siim and airbus "
                        "(default: siim 0.25, airbus 0.5)")
    parser.add_argument("--seed", type=_int_in(0, 2**63 - 1), default=0, metavar="S",
                        help="random seed: same seed, same bytes (default: 0)")
    parser.add_argument("--size", type=_size, default=None, metavar="N|HxW",
                        help="image size (default: the competition's; siim 1024, "
                        "64..4096 and square)")
    parser.add_argument("--depth", type=_int_in(1, 1000), default=10, metavar="D",
                        help="slices per uw-madison volume (default: 10)")
    parser.add_argument("--difficulty", type=_fraction, default=None, metavar="D",
                        help="siim only: 0 (obvious) .. 1 (subtle) "
                        f"(default: {DEFAULT_DIFFICULTY:g}, the demo's tuned value)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing data set in OUT (default: refuse)")
    parser.set_defaults(func=run)


def _check_kind_flags(args: argparse.Namespace) -> None:
    from rlemask.synthetic import SIZE_RANGE

    if args.kind == "siim" and args.size is not None:
        h, w = args.size
        if h != w or not SIZE_RANGE[0] <= h <= SIZE_RANGE[1]:
            raise CommandError(
                f"argument --size: siim images are square, {SIZE_RANGE[0]}..{SIZE_RANGE[1]}; "
                f"received {h}x{w}"
            )
    if args.kind != "siim" and args.difficulty is not None:
        raise CommandError("argument --difficulty: only for --kind siim")
    if args.kind not in ("siim", "airbus") and args.positive is not None:
        raise CommandError("argument --positive: only for --kind siim and airbus")


def run(args: argparse.Namespace) -> int:
    _check_kind_flags(args)
    if args.kind != "siim":
        return _run_kind(args)
    from rlemask.synthetic import DEFAULT_DIFFICULTY, make_dataset

    difficulty = DEFAULT_DIFFICULTY if args.difficulty is None else args.difficulty
    n_images = 64 if args.images is None else args.images
    size = 1024 if args.size is None else args.size[0]
    positive = 0.25 if args.positive is None else args.positive
    start = time.perf_counter()
    try:
        root = make_dataset(
            args.out, n_images, size=size, positive_fraction=positive,
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
    print(f"wrote {n_images} DICOMs ({size} x {size}, JPEG Baseline) under "
          f"{root / 'dicom-images-train'}")
    print(f"wrote {csv}: {len(rows)} rows, {positives} positive images "
          f"({n_images - positives} negative)")
    print(f"seed {args.seed}, difficulty {difficulty:g}, {seconds:.1f} s "
          f"({1000 * seconds / n_images:.0f} ms per image)")
    return 0


def _run_kind(args: argparse.Namespace) -> int:
    from rlemask.synthetic_kinds import LAYOUTS, make_kind

    start = time.perf_counter()
    try:
        root = make_kind(
            args.out, args.kind, n_images=args.images, size=args.size, seed=args.seed,
            positive_fraction=args.positive, depth=args.depth, overwrite=args.overwrite,
        )
    except FileExistsError:
        raise CommandError(
            f"OUT {args.out!r} already holds a data set; add --overwrite to replace it"
        ) from None
    seconds = time.perf_counter() - start
    layout = LAYOUTS[args.kind]
    images = sum(1 for p in (root / layout["images"]).rglob("*") if p.is_file())
    labels = root / layout["labels"]
    with open(labels, encoding="utf-8") as handle:
        header = handle.readline().strip()
        rows = sum(1 for _ in handle)
    print(f"wrote {images} {args.kind} images under {root / layout['images']}")
    print(f"wrote {labels}: header {header!r}, {rows} rows")
    print(f"seed {args.seed}, {seconds:.1f} s")
    return 0
