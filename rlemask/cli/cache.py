"""rlemask cache DATA OUT --size 256: preprocess a data set once into an on-disk cache.

Every labelled image of DATA goes through :func:`rlemask.load_sample` and is
stored in OUT (``images.npy``, ``masks.npy``, ``index.json``); see
:mod:`rlemask.cache`.  Interrupted builds resume when run again.
``--scheduler`` makes the samples on a Dask cluster; ``--verify OUT`` checks
an existing cache against the checksums recorded when it was built.
DATA is a data set of any kind (``--labels``, ``--pattern``, ``--image-id``;
masks then carry one channel per class); ``--policy pad`` keeps every pixel;
``--on-error skip`` leaves corrupt images out and lists them.
"""

from __future__ import annotations

import argparse
import logging
import os
import warnings
from typing import Any

from rlemask.cli import CommandError, add_data_options, load_data
from rlemask.cli._dataset import add_dataset_options, open_dataset


def _size(text: str) -> int | tuple[int, int]:
    """``256`` or ``512x256`` (height x width)."""
    from rlemask._validation import check_size

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
    try:
        check_size(size)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--size must be positive and at most 2**40 pixels; received {text!r}"
        ) from None
    return size


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="preprocess a data set into an on-disk sample cache (resumable)",
        description=(
            "Preprocess every labelled image of DATA once into OUT (uint8 images, "
            "masks, an index with checksums). An interrupted build resumes when run "
            "again. rlemask cache --verify OUT checks an existing cache."
        ),
    )
    add_data_options(parser, optional=True)
    parser.add_argument("out", metavar="OUT", nargs="?", help="cache folder to write")
    parser.add_argument(
        "--verify", action="store_true",
        help="rlemask cache --verify OUT: check every array of the cache OUT against the "
        "checksums recorded when it was built; builds nothing (default: build)",
    )
    parser.add_argument(
        "--size", type=_size, default=256,
        help="sample size: N (square) or HxW; with --policy pad the multiple each side is "
        "padded to (default: 256)",
    )
    parser.add_argument(
        "--policy", choices=("resize", "pad"), default="resize",
        help="resize every image to --size, or pad it (centred, every pixel kept) to a "
        "multiple of --size on one canvas (default: resize)",
    )
    parser.add_argument(
        "--on-error", choices=("raise", "skip"), default="raise",
        help="an image that cannot be read: stop (raise), or leave it out and list it in "
        "the summary and the cache's index (skip) (default: raise)",
    )
    parser.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
        help="worker processes, or Dask workers with --scheduler local "
        "(default: 2, or the CPU count if smaller)",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="make the samples on a Dask cluster: a scheduler address "
        "(tcp://host:8786) or 'local' for a local cluster of --workers processes "
        '(default: no Dask; needs pip install "rlemask[dask]")',
    )
    add_dataset_options(parser)
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace a cache built from other inputs or by an older rlemask (default: refuse)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: shown)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rlemask import SampleCache

    if args.verify:
        # ``rlemask cache --verify OUT``: the one positional is the cache
        if args.data is None or args.out is not None:
            raise CommandError("--verify takes one folder: rlemask cache --verify OUT")
        target = args.data
        cache = SampleCache(target)
        cache.verify()
        print(f"{target}: {len(cache)} samples, every array matches its checksum")
        return 0
    if args.out is None:
        raise CommandError("give DATA and OUT (or --verify OUT to check a cache)")
    if args.workers < 1:
        raise CommandError(f"--workers must be >= 1; received {args.workers}")
    with warnings.catch_warnings():
        # the summary lists every skipped file; the library's warning would repeat it
        warnings.filterwarnings("ignore", message=r"build_cache: \d+ of \d+ images could not")
        dataset = open_dataset(args)
        with _dask_client(args.scheduler, args.workers) as client:
            if dataset is not None:
                cache = _build(args, dataset, None, client)
            else:
                args.format = "siim" if args.format in (None, "auto") else args.format
                paths, labels, _ = load_data(args)
                labelled = [p for p in paths if p.stem in labels]
                cache = _build(args, labelled, labels, client)
    h, w = cache.img_size
    per_class = "".join(
        f", {c}: {int(n)}" for c, n in zip(cache.classes, cache.positive_classes.sum(0),
                                            strict=True)) if cache.classes else ""
    print(
        f"{args.out}: {len(cache)} samples at {h}x{w} "
        f"({int(cache.positive.sum())} positive{per_class})"
        + (f"; {len(cache.skipped)} skipped (unreadable):" if cache.skipped else "")
    )
    for skipped in cache.skipped:
        print(f"  skipped {skipped['id']}: {skipped['path']}: {skipped['error']}")
    return 0


def _build(args: argparse.Namespace, paths: Any, labels: Any, client: object):
    from rlemask import build_cache
    from rlemask.cache import CacheExistsError

    common = dict(workers=args.workers, progress=not args.no_progress,
                  overwrite=args.overwrite, client=client, policy=args.policy,
                  on_error=args.on_error)
    try:
        if labels is None:  # a data set of any kind
            return paths.build_cache(args.out, args.size, **common)
        return build_cache(paths, labels, args.out, img_size=args.size, format=args.format,
                           **common)
    except CacheExistsError as err:
        raise CommandError(
            f"OUT {args.out!r} {err.reason}; add --overwrite to replace it"
        ) from None


class _dask_client:
    """``with _dask_client(scheduler, workers) as client``: None without ``--scheduler``."""

    def __init__(self, scheduler: str | None, workers: int) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self.client = None
        self.cluster = None

    def __enter__(self):
        if self.scheduler is None:
            return None
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            from rlemask._optional import install_hint

            raise CommandError(
                f"--scheduler needs Dask, which is not installed: {install_hint('dask')}"
            ) from None
        if self.scheduler == "local":
            # worker processes, one thread each: decoding holds the GIL.  Dask's own
            # log lines (and its shutdown chatter) are not the user's business here
            self.cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.CRITICAL,
            )
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as err:
                raise CommandError(
                    f"--scheduler {self.scheduler}: cannot reach the Dask scheduler ({err})"
                ) from None
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
