"""``rlemask plot DATA IMAGE_ID -o out.png``: one image with its mask and boxes.

``rlemask plot DATA --overview -o overview.png`` draws the data-set overview
instead (sample images with masks, positive share, regions, areas).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="plot an image with its mask and boxes, or a data-set overview (PNG)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("data", metavar="DATA", help="data-set folder (DICOMs + labels CSV)")
    parser.add_argument("image_id", metavar="IMAGE_ID", nargs="?",
                        help="image id (the DICOM file stem, = SOPInstanceUID)")
    parser.add_argument("-o", "--out", required=True, metavar="PNG", help="output image file")
    parser.add_argument("--overview", action="store_true",
                        help="plot a data-set overview instead of one image")
    parser.add_argument("--csv", metavar="PATH", help="labels CSV (default: found under DATA)")
    parser.add_argument("--format", default="siim", help="RLE format of the CSV (default siim)")
    parser.add_argument("--samples", type=int, default=8, metavar="N",
                        help="thumbnails in the overview (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the overview's sample")
    parser.add_argument("--dpi", type=float, default=80, help="resolution (default 80)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import warnings

    from rlemask import load_siim, plot_dataset_overview, plot_with_mask_and_bbox, save_figure

    if args.overview == (args.image_id is not None):
        raise ValueError("give either IMAGE_ID or --overview (exactly one)")
    with warnings.catch_warnings():
        # load_siim warns about unlabelled images; the plot does not need all labels
        warnings.simplefilter("ignore", UserWarning)
        files, labels = load_siim(args.data, csv=args.csv, format=args.format)
    if args.overview:
        fig = plot_dataset_overview(files, labels, n=args.samples, seed=args.seed,
                                    format=args.format)
        what = f"overview of {len(files)} images"
    else:
        by_id = {path.stem: path for path in files}
        image_id = args.image_id.strip()
        if image_id.endswith(".dcm"):
            image_id = image_id[:-4]
        if image_id not in by_id:
            raise ValueError(f"no image with id {image_id!r} under {args.data} "
                             f"({len(files)} DICOM files found)")
        rles = labels.get(image_id, [])
        fig = plot_with_mask_and_bbox(by_id[image_id], rles, format=args.format)
        what = f"{image_id}: {len(rles)} RLE row{'s' if len(rles) != 1 else ''}" + (
            "" if image_id in labels else " (no labels row)"
        )
    out = save_figure(fig, args.out, dpi=args.dpi)
    print(f"wrote {out} ({what})")
    return 0
