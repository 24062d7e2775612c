"""rlemask plot DATA IMAGE_ID -o out.png: one image with its mask and boxes.

rlemask plot DATA --overview -o overview.png draws the data-set overview
instead (sample images with masks, positive share, connected regions, areas).
DATA is a data set of any kind (``--labels``, ``--pattern``, ``--image-id``):
each class is drawn in its own colour.
"""

from __future__ import annotations

import argparse

from rlemask.cli import CommandError, add_data_options, load_data
from rlemask.cli._dataset import add_dataset_options, open_dataset


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="plot an image with its mask and boxes, or a data-set overview (PNG)",
        description=__doc__.split("\n\n")[0],
    )
    add_data_options(parser)
    parser.add_argument("image_id", metavar="IMAGE_ID", nargs="?",
                        help="image id: the DICOM file stem (SOPInstanceUID in SIIM); for "
                        "other kinds as --image-id names it (0002cc93b.jpg for Severstal)")
    parser.add_argument("-o", "--out", required=True, metavar="PNG",
                        help="image file to write (required; PNG, or .pdf/.svg by suffix)")
    parser.add_argument("--overview", action="store_true",
                        help="plot a data-set overview instead of one image (default: off)")
    add_dataset_options(parser)
    parser.add_argument("--samples", type=int, default=8, metavar="N",
                        help="thumbnails in the overview (default: 8)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the overview's choice of thumbnails (default: 0)")
    parser.add_argument("--dpi", type=float, default=80,
                        help="resolution in dots per inch (default: 80)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import warnings

    from rlemask import plot_dataset_overview, plot_with_mask_and_bbox, save_figure

    if args.overview == (args.image_id is not None):
        raise CommandError("give either IMAGE_ID or --overview (exactly one)")
    if args.samples < 0:
        raise CommandError(f"--samples must be >= 0; received {args.samples}")
    with warnings.catch_warnings():
        # load_siim warns about unlabelled images; the plot does not need all labels
        warnings.simplefilter("ignore", UserWarning)
        dataset = open_dataset(args)
        if dataset is None:
            args.format = "siim" if args.format in (None, "auto") else args.format
            files, labels, _ = load_data(args)
    if dataset is not None:
        fig, what = _plot_dataset(args, dataset)
    elif args.overview:
        fig = plot_dataset_overview(files, labels, n=args.samples, seed=args.seed,
                                    format=args.format)
        what = f"overview of {len(files)} images"
    else:
        by_id = {path.stem: path for path in files}
        image_id = args.image_id.strip()
        if image_id.endswith(".dcm"):
            image_id = image_id[:-4]
        if image_id not in by_id:
            raise CommandError(f"no image with id {image_id!r} under DATA {args.data!r} "
                               f"({len(files)} DICOM files found)")
        rles = labels.get(image_id, [])
        fig = plot_with_mask_and_bbox(by_id[image_id], rles, format=args.format)
        what = f"{image_id}: {_rows_and_regions(by_id[image_id], rles, args.format)}" + (
            "" if image_id in labels else " (no labels row)"
        )
    out = save_figure(fig, args.out, dpi=args.dpi)
    print(f"wrote {out} ({what})")
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _rows_and_regions(path, rles: list[str], fmt: str) -> str:
    """``"2 RLE rows, 3 regions"``: rows as in the CSV, connected regions of their union."""
    from rlemask import bboxes, merge, read_dicom_meta
    from rlemask.datasets import n_rle_rows

    rows = n_rle_rows(rles)
    if rows == 0:
        return "no RLE row, empty mask"
    meta = read_dicom_meta(path)
    mask = merge(rles, shape=(meta["rows"], meta["columns"]), format=fmt)
    return f"{_plural(rows, 'RLE row')}, {_plural(len(bboxes(mask)), 'connected region')}"


def _plot_dataset(args: argparse.Namespace, dataset) -> tuple:
    """The figure and the summary of a data set of any kind (one colour per class)."""
    from rlemask import plot_dataset_overview
    from rlemask.plotting import plot_sample

    if args.overview:
        fig = plot_dataset_overview(dataset, n=args.samples, seed=args.seed)
        return fig, f"overview of {len(dataset)} images"
    image_id = args.image_id.strip()
    if image_id not in dataset:
        raise CommandError(f"no image with id {image_id!r} under DATA {args.data!r} "
                           f"({len(dataset)} images found, e.g. {list(dataset.ids[:2])})")
    rows = dataset.rows(image_id)
    n_rows = sum(len(r) for r in rows.values())
    classes = [c for c, r in rows.items() if r] if dataset.classes else []
    what = f"{image_id}: {_plural(n_rows, 'RLE row')}" + (
        f" (classes {', '.join(classes)})" if classes else "") + (
        "" if dataset.is_labelled(image_id) else " (no labels row)")
    return plot_sample(dataset, image_id), what
