"""``DATA`` of any kind for the commands: ``--labels``, ``--pattern``, ``--image-id``.

A SIIM folder (``train-rle.csv`` or ``stage_2_train.csv`` under DATA, or
``--csv``) keeps the SIIM path (:func:`rlemask.cli.load_data`, i.e.
:func:`rlemask.load_siim`).  Anything else is opened with
:func:`rlemask.load_dataset`: the labels file is ``--labels``, or the one
CSV at DATA's top level (Severstal's and UW-Madison's ``train.csv``,
Airbus's ``train_ship_segmentations_v2.csv``, HuBMAP's ``train.csv``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rlemask.cli import CommandError

__all__ = ["add_dataset_options", "open_dataset", "dataset_format"]


def dataset_format(text: str) -> str:
    """argparse ``type`` of ``--format``: ``auto`` or a registered format."""
    from rlemask import formats

    known = formats()
    if text != "auto" and text not in known:
        raise argparse.ArgumentTypeError(
            f"unknown RLE format {text!r}; available: auto, {', '.join(known)}"
        )
    return text


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """``--labels``, ``--pattern``, ``--image-id`` and ``--format`` (data sets of any kind)."""
    parser.add_argument(
        "--labels", metavar="CSV",
        help="labels file of any layout of the field (Severstal, Airbus, UW-Madison, HuBMAP, "
        "...), joined to the images under DATA (default: a SIIM train-rle.csv / "
        "stage_2_train.csv under DATA, else the one CSV at DATA's top level)",
    )
    parser.add_argument(
        "--pattern", metavar="GLOB",
        help="the images, as a glob relative to DATA, e.g. 'train_images/*.jpg' or "
        "'train/**/*.png' (default: every DICOM, PNG, JPEG and TIFF file under DATA)",
    )
    parser.add_argument(
        "--image-id", choices=("stem", "name", "uw-madison"), default=None, dest="id_rule",
        help="how a file is named: stem (SIIM, HuBMAP), name (Severstal, Airbus: ids keep "
        ".jpg), uw-madison (caseN_dayM_slice_XXXX) (default: the rule that matches more "
        "labels rows)",
    )
    parser.add_argument(
        "--format", type=dataset_format, default=None, metavar="NAME",
        help="RLE format of the labels: siim, kaggle, ... or auto (default: siim for a SIIM "
        "folder, else auto: decided from the rows)",
    )


def _only_csv(data: Path) -> Path | None:
    found = sorted(p for p in data.iterdir()
                   if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz")))
    if len(found) > 1:
        raise CommandError(
            f"DATA {str(data)!r} holds several CSV files ({', '.join(p.name for p in found)}); "
            "name the labels with --labels CSV"
        )
    return found[0] if found else None


def open_dataset(args: argparse.Namespace) -> Any:
    """The :class:`rlemask.Dataset` of ``DATA``, or None for a SIIM folder (use ``load_data``)."""
    from rlemask import load_dataset
    from rlemask.datasets import CSV_NAMES, find_labels_csv

    data = Path(args.data)
    if not data.is_dir():
        raise CommandError(f"DATA {args.data!r} is not a folder")
    general = args.labels is not None or args.pattern is not None or args.id_rule is not None
    if args.labels is not None and args.csv is not None:
        raise CommandError("give --labels or --csv, not both")
    labels = args.labels
    if not general:
        if args.csv is not None:
            return None
        try:
            find_labels_csv(data)
            return None
        except FileNotFoundError:
            pass
    if labels is None:
        labels = args.csv or _only_csv(data)
        if labels is None:
            raise CommandError(
                f"no labels CSV under DATA {args.data!r} (no {' or '.join(CSV_NAMES)}, no CSV "
                "at its top level); name it with --labels CSV"
            )
    if not Path(labels).is_file():
        raise CommandError(f"--labels {str(labels)!r} is not a file")
    return load_dataset(data, labels, pattern=args.pattern, image_id=args.id_rule,
                        format=args.format or "auto")
