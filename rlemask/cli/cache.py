"""``rlemask cache DATA OUT --size 256``: preprocess a data set once into an on-disk cache.

Every labelled image of DATA goes through :func:`rlemask.load_sample` and is
stored in OUT (``images.npy``, ``masks.npy``, ``index.json``); see
:mod:`rlemask.cache`.  Interrupted builds resume when run again.
"""

from __future__ import annotations

import argparse
import os


def _size(text: str) -> int | tuple[int, int]:
    """``256`` or ``512x256`` (height x width)."""
    try:
        if "x" in text.lower():
            h, w = text.lower().split("x")
            size: int | tuple[int, int] = (int(h), int(w))
        else:
            size = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--size must be N or HxW (e.g. 256 or 512x256); received {text!r}"
        ) from None
    values = size if isinstance(size, tuple) else (size,)
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"--size must be positive; received {text!r}")
    return size


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="preprocess a data set into an on-disk sample cache (resumable)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("data", metavar="DATA", help="data-set folder (DICOMs + labels CSV)")
    parser.add_argument("out", metavar="OUT", help="cache folder to write")
    parser.add_argument("--size", type=_size, default=256, help="sample size: N or HxW (256)")
    parser.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1),
        help="worker processes (default: 2 or the CPU count if smaller)",
    )
    parser.add_argument("--csv", metavar="PATH", help="labels CSV (default: found under DATA)")
    parser.add_argument("--format", default="siim", help="RLE format of the CSV (default siim)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a cache built from other inputs"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rlemask import build_cache, load_siim

    paths, labels = load_siim(args.data, csv=args.csv, format=args.format)
    labelled = [p for p in paths if p.stem in labels]
    cache = build_cache(
        labelled,
        labels,
        args.out,
        img_size=args.size,
        workers=args.workers,
        progress=not args.no_progress,
        format=args.format,
        overwrite=args.overwrite,
    )
    h, w = cache.img_size
    print(
        f"{args.out}: {len(cache)} samples at {h}x{w} "
        f"({int(cache.positive.sum())} positive)"
    )
    return 0
