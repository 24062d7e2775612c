"""rlemask stats DATA: what a SIIM-style data set holds (or a labels CSV alone).

Counts (images, labelled, positive share), RLE rows and connected regions
per image (two different things: one row can hold several regions, and rows
can overlap or touch), mask areas (pixels and % of the image) and a metadata
summary (sex, view, age, transfer syntaxes, image sizes) read with
:func:`rlemask.read_dicom_meta` -- header only, no pixel decoding, so a
12k-image set takes seconds.  DATA may also be a labels CSV alone: masks are
then read at ``--shape`` (default 1024 x 1024, SIIM's size), and images
without a readable header fall back to it too; the output says which.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rlemask.cli import CommandError, add_data_options, add_format_option, load_data
from rlemask.progress import progress as progress_line

PERCENTILES = (0, 5, 25, 50, 75, 95, 100)
#: masks without an image header to size them are read at SIIM's size unless --shape says
DEFAULT_SHAPE = (1024, 1024)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="summarise a data set: counts, positive share, regions, areas, metadata",
        description=__doc__.split("\n\n")[0],
    )
    add_data_options(parser)
    add_format_option(parser)
    parser.add_argument(
        "--shape", nargs=2, type=int, metavar=("H", "W"), default=None,
        help="mask size for images without a readable header, and for a labels CSV given "
        "alone (default: 1024 1024, SIIM's size)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON instead of a table (default: table)"
    )
    parser.set_defaults(func=run)


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    arr = np.asarray(values, dtype=np.float64)
    out = {f"p{q}": float(np.percentile(arr, q)) for q in PERCENTILES}
    out["mean"] = float(arr.mean())
    return out


def _counts(values: list[Any]) -> dict[str, int]:
    counter = Counter("unknown" if v is None else str(v) for v in values)
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def compute_stats(
    paths: list[Path], labels: dict[str, list[str]], *, data: str | Path,
    labels_csv: str | Path, format: str = "siim", progress: bool = False,
    shape: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The summary ``rlemask stats`` prints, as a JSON-ready dict.

    ``paths`` and ``labels`` as :func:`rlemask.load_siim` returns them
    (``paths`` may be empty: the labels alone); ``data`` and ``labels_csv``
    are only reported.  Masks are read at each image's header size, else at
    ``shape`` (default 1024 x 1024); ``areas_at`` says which.
    """
    # numba kernels and pydicom load here, not when the command line is parsed
    from rlemask import DicomError, RLEError, bboxes, merge, read_dicom_meta
    from rlemask.datasets import is_positive, n_rle_rows

    fallback = tuple(shape) if shape is not None else DEFAULT_SHAPE
    metas: dict[str, dict[str, Any]] = {}
    unreadable: list[str] = []
    for path in progress_line(paths, desc="headers", unit="img", disable=not progress):
        try:
            metas[path.stem] = read_dicom_meta(path)
        except DicomError:
            unreadable.append(str(path))

    rows: list[int] = []
    regions: list[int] = []
    areas_px: list[float] = []
    areas_pct: list[float] = []
    bad_labels: list[str] = []
    at_fallback = 0
    for key, rles in labels.items():
        rows.append(n_rle_rows(rles))
        if not is_positive(rles):
            regions.append(0)
            continue
        meta = metas.get(key)
        if meta is None or not meta.get("rows") or not meta.get("columns"):
            size, at_fallback = fallback, at_fallback + 1  # no header to read the size from
        else:
            size = (meta["rows"], meta["columns"])
        try:
            mask = merge(rles, shape=size, format=format)
        except RLEError:
            bad_labels.append(key)
            continue
        area = int(mask.sum(dtype=np.int64))
        regions.append(len(bboxes(mask)))  # one box per connected region (8-connected)
        areas_px.append(area)
        areas_pct.append(100.0 * area / (size[0] * size[1]))

    n_positive = sum(1 for r in labels.values() if is_positive(r))
    return {
        "data": str(data),
        "labels_csv": str(labels_csv),
        "images": len(paths),
        "labelled": len(labels),
        "unlabelled": len(paths) - len(labels),
        "positive": n_positive,
        "negative": len(labels) - n_positive,
        "positive_share": n_positive / len(labels) if labels else None,
        # images by their number of non-empty RLE rows
        "rle_rows_per_image": {str(k): v for k, v in sorted(Counter(rows).items())},
        # images by their number of connected regions of the merged mask
        "regions_per_image": {str(k): v for k, v in sorted(Counter(regions).items())},
        # positive images whose masks were read at `shape` (no readable header)
        "areas_at": {"header_size": len(areas_px) + len(bad_labels) - at_fallback,
                     f"{fallback[0]}x{fallback[1]}": at_fallback},
        "area_px": _percentiles(areas_px),
        "area_percent": _percentiles(areas_pct),
        "invalid_labels": len(bad_labels),
        "invalid_label_ids": bad_labels[:10],
        "unreadable": len(unreadable),
        "unreadable_files": unreadable[:10],
        "metadata": _metadata_summary(list(metas.values())),
    }


def _metadata_summary(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``metadata`` part of :func:`compute_stats`: what the DICOM headers say."""
    ages = [m["age"] for m in metas if m.get("age") is not None]
    sizes = [
        f"{m['rows']}x{m['columns']}" if m.get("rows") and m.get("columns") else None
        for m in metas
    ]
    spacing = [m["pixel_spacing"][0] for m in metas if m.get("pixel_spacing")]
    return {
        "sex": _counts([m.get("sex") for m in metas]),
        "view": _counts([m.get("view") for m in metas]),
        "age": {
            "known": len(ages),
            "unknown": len(metas) - len(ages),
            **(_percentiles([float(a) for a in ages]) or {}),
        },
        "transfer_syntax": _counts([m.get("transfer_syntax") for m in metas]),
        "size": _counts(sizes),
        "modality": _counts([m.get("modality") for m in metas]),
        "body_part": _counts([m.get("body_part") for m in metas]),
        "pixel_spacing_mm": _percentiles(spacing),
    }


def _syntax_name(uid: str) -> str:
    try:
        from pydicom.uid import UID

        name = UID(uid).name
        return f"{name} ({uid})" if name != uid else uid
    except (ImportError, ValueError):
        return uid


def format_stats(stats: dict[str, Any]) -> str:
    """The human-readable table of :func:`compute_stats`' result."""
    lines = [f"data set      {stats['data']}", f"labels        {stats['labels_csv']}"]
    share = stats["positive_share"]
    lines += [
        f"images        {stats['images']}  (labelled {stats['labelled']}, "
        f"without labels {stats['unlabelled']}, unreadable {stats['unreadable']})",
        f"positive      {stats['positive']}"
        + (f"  ({100 * share:.1f} % of labelled)" if share is not None else ""),
        f"negative      {stats['negative']}",
        "RLE rows      " + ", ".join(
            f"{k}: {v}" for k, v in stats["rle_rows_per_image"].items()
        ) + "  (images by non-empty rows)",
        "regions       " + ", ".join(
            f"{k}: {v}" for k, v in stats["regions_per_image"].items()
        ) + "  (images by connected regions of the merged mask)",
    ]
    fallback = {k: v for k, v in stats["areas_at"].items() if k != "header_size" and v}
    for size, count in fallback.items():
        lines.append(f"mask size     {count} positive images read at {size} "
                     "(no image header; set it with --shape H W)")
    if stats["invalid_labels"]:
        lines.append(f"invalid RLE   {stats['invalid_labels']} images, e.g. "
                     f"{', '.join(stats['invalid_label_ids'][:3])}")
    for key, unit, fmt in (("area_px", "px", "{:.0f}"), ("area_percent", "%", "{:.2f}")):
        dist = stats[key]
        if dist:
            cells = "  ".join(f"{q} {fmt.format(v)}" for q, v in dist.items())
            lines.append(f"{f'area ({unit})':<14}{cells}")
    meta = stats["metadata"]
    lines.append("metadata")
    for key in ("sex", "view", "modality", "body_part", "size"):
        lines.append(f"  {key:<12}" + ", ".join(f"{k}: {v}" for k, v in meta[key].items()))
    age = meta["age"]
    if age.get("known"):
        lines.append(
            f"  {'age':<12}n {age['known']} (unknown {age['unknown']}), min {age['p0']:.0f}, "
            f"median {age['p50']:.0f}, mean {age['mean']:.1f}, max {age['p100']:.0f}"
        )
    else:
        lines.append(f"  {'age':<12}unknown for all {age['unknown']}")
    lines.append(
        f"  {'syntax':<12}"
        + ", ".join(f"{_syntax_name(k)}: {v}" for k, v in meta["transfer_syntax"].items())
    )
    if meta["pixel_spacing_mm"]:
        lines.append(f"  {'spacing':<12}median {meta['pixel_spacing_mm']['p50']:.3f} mm")
    return "\n".join(lines)


def _labels_alone(args: argparse.Namespace) -> tuple[list[Path], dict[str, list[str]], Path]:
    """DATA given as a labels CSV: no images, the labels only."""
    if args.csv is not None:
        raise CommandError(
            f"DATA {args.data!r} is a file: give a folder with --csv, or the CSV alone"
        )
    from rlemask import read_rle_csv

    return [], read_rle_csv(args.data, format=args.format), Path(args.data)


def run(args: argparse.Namespace) -> int:
    if args.shape is not None and min(args.shape) < 1:
        raise CommandError(f"--shape {args.shape[0]} {args.shape[1]}: must be positive")
    alone = Path(args.data).is_file()
    paths, labels, labels_csv = _labels_alone(args) if alone else load_data(args)
    stats = compute_stats(
        paths, labels, data=args.data, labels_csv=labels_csv, format=args.format,
        progress=not args.json, shape=None if args.shape is None else tuple(args.shape),
    )
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        print(format_stats(stats))
    return 0
