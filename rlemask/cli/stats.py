"""rlemask stats DATA: what a data set of any kind holds (or a labels file alone).

Counts (images, their formats and sizes, labelled, positive share, per
class), RLE rows and connected regions per image (two different things: one
row can hold several regions, and rows can overlap or touch; in a layout of
one row per object the rows are the objects), mask areas (pixels and % of
each image's own size, per class), the labels' layout and RLE format with the
evidence they were read on, and, where the images are DICOMs, a metadata
summary (sex, view, age, transfer syntaxes) -- headers only, no pixel
decoding, and masks are measured on their runs, so a 12k-image set takes
seconds.  DATA may also be a labels file alone (any layout): masks are then
read at the file's height/width columns or ``--shape`` (default 1024 x 1024,
SIIM's size), and images without a readable header fall back to it too; the
output says which.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlemask.cli import CommandError, add_data_options, load_data
from rlemask.cli._dataset import add_dataset_options, open_dataset
from rlemask.datasets import n_rle_rows
from rlemask.progress import progress as progress_line

PERCENTILES = (0, 5, 25, 50, 75, 95, 100)
#: masks without an image header to size them are read at SIIM's size unless --shape says
DEFAULT_SHAPE = (1024, 1024)
#: what each layout of :func:`rlemask.read_labels` means, for the evidence line
LAYOUTS = {
    "single": "one column of ids: one row per image, or per object",
    "long": "an id and a class column: one row per (image, class), or per object",
    "wide": "image and class joined in one column (ImageId_ClassId)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="summarise a data set: counts, classes, regions, areas, layout, metadata",
        description=__doc__.split("\n\n")[0],
    )
    add_data_options(parser)
    add_dataset_options(parser)
    parser.add_argument(
        "--shape", nargs=2, type=int, metavar=("H", "W"), default=None,
        help="mask size for images without a readable header, and for a labels file given "
        "alone without height/width columns (default: 1024 1024, SIIM's size)",
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


def _counts(values: Iterable[Any]) -> dict[str, int]:
    counter = Counter("unknown" if v is None else str(v) for v in values)
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _histogram(values: list[int]) -> dict[str, int]:
    """Images by a count (rows, regions), smallest count first."""
    return {str(k): v for k, v in sorted(Counter(values).items())}


# -- where the images and rows come from -----------------------------------------------
@dataclass
class _Entry:
    """One image (or labels id) as the summary sees it.

    ``header``: ``(h, w)`` read from the image file's header (None: no file, or
    unreadable); ``listed``: from the labels' height/width columns.
    """

    image_id: str
    labelled: bool
    header: tuple[int, int] | None = None
    listed: tuple[int, int] | None = None


@dataclass
class _RowSource:
    """The labels, as the summary reads them: rows counted, then decoded to runs.

    ``count(image_id)`` gives the non-empty rows per class (one number for a
    single-class file); ``runs(image_id, shape)`` the rows as
    :class:`rlemask.Runs`, per class (raises ``RLEError`` for a bad row).
    """

    classes: tuple[str, ...]
    count: Callable[[str], list[int]]
    runs: Callable[[str, tuple[int, int]], list[list[Any]]]


def _mapping_rows(labels: Mapping[str, Sequence[str]], format: str) -> _RowSource:
    """Rows of ``{id: [rle, ...]}`` (:func:`rlemask.load_siim`'s labels) in ``format``."""
    from rlemask import Runs  # numba kernels load here, not when the command line is parsed

    def non_empty(image_id: str) -> list[str]:
        return [r for r in labels.get(image_id, ()) if n_rle_rows([r])]

    return _RowSource(
        classes=(),
        count=lambda i: [len(non_empty(i))],
        runs=lambda i, shape: [[Runs.from_text(r, shape, format=format) for r in non_empty(i)]],
    )


def _labels_rows(labels: Any) -> _RowSource:
    """Rows of a :class:`rlemask.Labels`, per class (ids without rows: none)."""
    per_class: tuple[Any, ...] = labels.classes or (None,)

    def count(image_id: str) -> list[int]:
        if image_id not in labels:
            return [0] * len(per_class)
        return [len(labels.rles(image_id, c)) for c in per_class]

    def runs(image_id: str, shape: tuple[int, int]) -> list[list[Any]]:
        if image_id not in labels:
            return [[] for _ in per_class]
        return [labels.objects(image_id, c, shape=shape) for c in per_class]

    return _RowSource(classes=tuple(labels.classes), count=count, runs=runs)


def _read_headers(
    paths: Mapping[str, Path], *, progress: bool = False
) -> tuple[dict[str, tuple[int, int]], dict[str, Any]]:
    """Each image's size and kind from its header (no pixel decoding), and the DICOM metadata.

    Returns ``(sizes, found)``: ``sizes`` maps an id to ``(h, w)``; ``found``
    holds ``kinds`` (id -> ``"dicom"``, ``"png"``, ...), ``metas`` (DICOM id
    -> :func:`rlemask.read_dicom_meta`) and ``unreadable`` (paths).
    """
    # pydicom and Pillow load here, not when the command line is parsed (rlemask.images
    # imports pydicom)
    from rlemask import DicomError, ImageError, image_shape, read_dicom_meta
    from rlemask.images import source_of

    sizes: dict[str, tuple[int, int]] = {}
    kinds: dict[str, str] = {}
    metas: dict[str, dict[str, Any]] = {}
    unreadable: list[str] = []
    for image_id, path in progress_line(paths.items(), desc="headers", unit="img",
                                        disable=not progress, total=len(paths)):
        try:
            kind = source_of(path)
            if kind == "dicom":
                meta = metas[image_id] = read_dicom_meta(path)
                if meta.get("rows") and meta.get("columns"):
                    sizes[image_id] = (int(meta["rows"]), int(meta["columns"]))
            else:
                sizes[image_id] = image_shape(path)
            kinds[image_id] = kind
        except (DicomError, ImageError):
            unreadable.append(str(path))
    return sizes, {"kinds": kinds, "metas": metas, "unreadable": unreadable}


# -- the counts ---------------------------------------------------------------------------
@dataclass
class _Tally:
    """Rows, regions and areas of one class (or of every class together) over the images."""

    positive: int = 0
    rows: list[int] = field(default_factory=list)
    regions: list[int] = field(default_factory=list)
    area_px: list[float] = field(default_factory=list)
    area_percent: list[float] = field(default_factory=list)

    def add(self, rows: int, runs: Any | None, n_pixels: int) -> None:
        """One labelled image: its row count and the union of its rows (None: not decoded)."""
        from rlemask import bboxes

        self.rows.append(rows)
        self.positive += rows > 0
        if runs is None or rows == 0:
            if rows == 0:
                self.regions.append(0)
            return
        self.regions.append(len(bboxes(runs)))  # one box per connected region (8-connected)
        self.area_px.append(float(runs.area))
        self.area_percent.append(100.0 * runs.area / n_pixels)

    def summary(self, labelled: int) -> dict[str, Any]:
        return {
            "positive": self.positive,
            "positive_share": self.positive / labelled if labelled else None,
            # images by their number of non-empty RLE rows
            "rle_rows_per_image": _histogram(self.rows),
            # images by their number of connected regions of the merged mask
            "regions_per_image": _histogram(self.regions),
            "area_px": _percentiles(self.area_px),
            "area_percent": _percentiles(self.area_percent),
        }


def _union(runs: list[Any], shape: tuple[int, int]) -> Any:
    from rlemask import Runs

    runs = [r for r in runs if r.starts.size]  # empty ones add nothing (of any scan order)
    if not runs:
        return Runs([], [], shape)
    out = runs[0]
    for more in runs[1:]:
        out = out | more
    return out


def _size_of(entry: _Entry, fallback: tuple[int, int]) -> tuple[tuple[int, int], str]:
    """The shape the masks of ``entry`` are read at, and where it came from."""
    if entry.header is not None:
        return entry.header, "header_size"
    if entry.listed is not None:
        return entry.listed, "labels_size"
    return fallback, f"{fallback[0]}x{fallback[1]}"


def _count_rows(
    entries: Sequence[_Entry], source: _RowSource, *, fallback: tuple[int, int],
    progress: bool = False,
) -> dict[str, Any]:
    """The label part of the summary: every labelled entry's rows, regions and areas.

    Masks are read at each image's header size, else its labels' height/width,
    else ``fallback``; ``areas_at`` counts the positive images by which.
    """
    from rlemask import RLEError

    total, per_class = _Tally(), [_Tally() for _ in source.classes]
    areas_at: Counter[str] = Counter({"header_size": 0, f"{fallback[0]}x{fallback[1]}": 0})
    bad_labels: list[str] = []
    labelled = [e for e in entries if e.labelled]
    for entry in progress_line(labelled, desc="masks", unit="img", disable=not progress):
        counts = source.count(entry.image_id)
        shape, where = _size_of(entry, fallback)
        unions: list[Any] | None = None
        if sum(counts):
            areas_at[where] += 1
            try:
                unions = [_union(r, shape) for r in source.runs(entry.image_id, shape)]
            except RLEError:
                bad_labels.append(entry.image_id)
        n_pixels = shape[0] * shape[1]
        total.add(sum(counts), None if unions is None else _union(unions, shape), n_pixels)
        for c, tally in enumerate(per_class):
            tally.add(counts[c], None if unions is None else unions[c], n_pixels)
    n = len(labelled)
    summary = total.summary(n)
    return {
        "labelled": n,
        "positive": summary["positive"],
        "negative": n - summary["positive"],
        **summary,
        "rows_are_objects": any(k > 1 for t in per_class or [total] for k in t.rows),
        "per_class": {c: t.summary(n) for c, t in zip(source.classes, per_class, strict=True)},
        "areas_at": {k: v for k, v in areas_at.items() if v or k != "labels_size"},
        "invalid_labels": len(bad_labels),
        "invalid_label_ids": bad_labels[:10],
    }


# -- the three kinds of DATA ------------------------------------------------------------
def _images_part(paths: Mapping[str, Path], found: dict[str, Any],
                 sizes: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    metas = list(found["metas"].values())
    return {
        "images": len(paths),
        "image_formats": _counts(found["kinds"].values()),
        "image_sizes": _counts(f"{h}x{w}" for h, w in sizes.values()),
        "unreadable": len(found["unreadable"]),
        "unreadable_files": found["unreadable"][:10],
        # only where the images are DICOMs: what their headers say
        "metadata": _metadata_summary(metas) if metas else None,
    }


def compute_stats(
    paths: list[Path], labels: dict[str, list[str]], *, data: str | Path,
    labels_csv: str | Path, format: str = "siim", progress: bool = False,
    shape: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The summary ``rlemask stats`` prints for a SIIM folder, as a JSON-ready dict.

    ``paths`` and ``labels`` as :func:`rlemask.load_siim` returns them
    (``paths`` may be empty: the labels alone); ``data`` and ``labels_csv``
    are only reported.  Masks are read at each image's header size, else at
    ``shape`` (default 1024 x 1024); ``areas_at`` says which.
    """
    by_id = {p.stem: p for p in paths}
    sizes, found = _read_headers(by_id, progress=progress)
    entries = [_Entry(key, True, sizes.get(key)) for key in labels]
    fallback = tuple(shape) if shape is not None else DEFAULT_SHAPE
    return {
        "data": str(data),
        "labels_csv": str(labels_csv),
        "layout": "single",
        "format": format,
        "format_evidence": "a SIIM folder is read as siim unless --format names another",
        **_images_part(by_id, found, sizes),
        "unlabelled": len(paths) - len(labels),
        **_count_rows(entries, _mapping_rows(labels, format), fallback=fallback,
                     progress=progress),
    }


def _labels_part(labels: Any) -> dict[str, Any]:
    return {
        "labels_csv": str(labels.source),
        "layout": labels.layout,
        "format": labels.format,
        "format_evidence": labels.format_evidence,
        "classes": list(labels.classes),
        "label_rows": labels.n_rows,
    }


def dataset_stats(
    dataset: Any, *, data: str | Path, progress: bool = False,
    shape: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The summary of a :class:`rlemask.Dataset` (any kind), as :func:`compute_stats`.

    Image sizes are read from the headers; where the labels' height/width
    columns disagree, the header wins and ``shape_conflicts`` names the ids.
    """
    paths = {i: dataset.path(i) for i in dataset.ids}
    sizes, found = _read_headers(paths, progress=progress)
    labels = dataset.labels
    entries = [_Entry(i, i in labels, sizes.get(i), labels.shape_of(i) if i in labels else None)
               for i in dataset.ids]
    conflicts = [e.image_id for e in entries
                 if e.header is not None and e.listed is not None and e.header != e.listed]
    fallback = tuple(shape) if shape is not None else DEFAULT_SHAPE
    return {
        "data": str(data),
        **_labels_part(labels),
        **_images_part(paths, found, sizes),
        "unlabelled": sum(not e.labelled for e in entries),
        "shape_conflicts": len(conflicts),
        "shape_conflict_ids": conflicts[:10],
        **_count_rows(entries, _labels_rows(labels), fallback=fallback, progress=progress),
    }


def labels_stats(
    labels: Any, *, progress: bool = False, shape: tuple[int, int] | None = None
) -> dict[str, Any]:
    """The summary of a :class:`rlemask.Labels` alone (no images), as :func:`compute_stats`.

    Masks are read at the labels' height/width columns, else ``shape``
    (default 1024 x 1024); ``areas_at`` counts the positive images read at it.

    Examples
    --------
    >>> import pathlib, tempfile, rlemask
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "steel.csv"
    >>> _ = p.write_text("ImageId_ClassId,EncodedPixels\\n"
    ...                  "a.jpg_1,1 2 9 2\\na.jpg_2,\\nb.jpg_1,\\nb.jpg_2,3 2 7 2\\n")
    >>> stats = labels_stats(rlemask.read_labels(p), shape=(4, 3))
    >>> stats["layout"], stats["positive"], stats["per_class"]["2"]["area_px"]["p50"]
    ('wide', 2, 4.0)
    >>> stats["regions_per_image"], stats["areas_at"]
    ({'1': 1, '2': 1}, {'header_size': 0, '4x3': 2})
    """
    entries = [_Entry(i, True, None, labels.shape_of(i)) for i in labels.ids]
    fallback = tuple(shape) if shape is not None else DEFAULT_SHAPE
    return {
        "data": str(labels.source),
        **_labels_part(labels),
        **_images_part({}, {"kinds": {}, "metas": {}, "unreadable": []}, {}),
        "unlabelled": 0,
        **_count_rows(entries, _labels_rows(labels), fallback=fallback, progress=progress),
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


# -- the table ----------------------------------------------------------------------------
def _syntax_name(uid: str) -> str:
    try:
        from pydicom.uid import UID

        name = UID(uid).name
        return f"{name} ({uid})" if name != uid else uid
    except (ImportError, ValueError):
        return uid


def _pairs(counts: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items())


#: a histogram line of the table shows this many counts; the rest are summed in one range
SHOWN_COUNTS = 10


def _histogram_cells(hist: Mapping[str, int]) -> str:
    """``0: 3, 1: 1, 2: 1``; past :data:`SHOWN_COUNTS` counts the tail as ``10-232: 190``
    (the JSON keeps every count)."""
    items = list(hist.items())
    if len(items) <= SHOWN_COUNTS:
        return _pairs(hist)
    head, tail = items[: SHOWN_COUNTS - 1], items[SHOWN_COUNTS - 1 :]
    lumped = f"{tail[0][0]}-{tail[-1][0]}: {sum(v for _, v in tail)}"
    return _pairs(dict(head)) + ", " + lumped


def _distribution_lines(part: Mapping[str, Any], indent: str = "") -> list[str]:
    """Rows, regions and areas of one class (or of all) as table lines."""
    width = 14 - len(indent)
    lines = [
        f"{indent}{'RLE rows':<{width}}{_histogram_cells(part['rle_rows_per_image'])}"
        "  (images by non-empty rows)",
        f"{indent}{'regions':<{width}}{_histogram_cells(part['regions_per_image'])}"
        "  (images by connected regions of the merged mask)",
    ]
    for key, unit, fmt in (("area_px", "px", "{:.0f}"), ("area_percent", "%", "{:.2f}")):
        dist = part[key]
        if dist:
            cells = "  ".join(f"{q} {fmt.format(v)}" for q, v in dist.items())
            lines.append(f"{indent}{f'area ({unit})':<{width}}{cells}")
    return lines


def _share(part: Mapping[str, Any]) -> str:
    share = part["positive_share"]
    return f"{part['positive']}" + (f"  ({100 * share:.1f} % of labelled)"
                                    if share is not None else "")


def _metadata_lines(meta: Mapping[str, Any]) -> list[str]:
    lines = ["metadata"]
    for key in ("sex", "view", "modality", "body_part", "size"):
        lines.append(f"  {key:<12}" + _pairs(meta[key]))
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
    return lines


def format_stats(stats: dict[str, Any]) -> str:
    """The human-readable table of :func:`compute_stats`' result (any kind of DATA)."""
    lines = [f"data set      {stats['data']}", f"labels        {stats['labels_csv']}"]
    layout = stats["layout"]
    lines += [
        f"layout        {layout} ({LAYOUTS.get(layout, layout)})"
        + (f", classes {', '.join(stats['classes'])}" if stats.get("classes") else ""),
        f"format        {stats['format'] or 'undecided'} ({stats['format_evidence']})",
        f"images        {stats['images']}  (labelled {stats['labelled']}, "
        f"without labels {stats['unlabelled']}, unreadable {stats['unreadable']})",
    ]
    if stats["images"]:
        lines += [f"formats       {_pairs(stats['image_formats'])}",
                  f"sizes         {_pairs(stats['image_sizes'])}"]
    if stats.get("shape_conflicts"):
        lines.append(f"shape         {stats['shape_conflicts']} images whose labels give another "
                     f"height/width than the header (header used), e.g. "
                     f"{', '.join(stats['shape_conflict_ids'][:3])}")
    lines += [f"positive      {_share(stats)}", f"negative      {stats['negative']}"]
    lines += _distribution_lines(stats)
    if stats["rows_are_objects"]:
        lines.append("objects       one row per object: RLE rows per image are objects per image")
    fallback = {k: v for k, v in stats["areas_at"].items()
                if k not in ("header_size", "labels_size") and v}
    for size, count in fallback.items():
        lines.append(f"mask size     {count} positive images read at {size} "
                     "(no image header; set it with --shape H W)")
    if stats["invalid_labels"]:
        lines.append(f"invalid RLE   {stats['invalid_labels']} images, e.g. "
                     f"{', '.join(stats['invalid_label_ids'][:3])}")
    for name, part in stats["per_class"].items():
        lines.append(f"{'class ' + name:<13} positive {_share(part)}")
        lines += _distribution_lines(part, indent="  ")
    if stats["metadata"] is not None:
        lines += _metadata_lines(stats["metadata"])
    return "\n".join(lines)


# -- the command --------------------------------------------------------------------------
def _check_format(labels: Any, flag: str) -> None:
    """A command error when the RLE format is undecided and a row would need it."""
    if labels.format is None and any(labels.rles(i) for i in labels.ids):
        raise CommandError(
            f"the RLE format of {labels.source} is undecided ({labels.format_evidence}); "
            f"name it with {flag} siim or {flag} kaggle"
        )


def _labels_alone(args: argparse.Namespace) -> Any:
    """DATA given as a labels file: no images, the labels only, in any layout."""
    for flag, value in (("--csv", args.csv), ("--labels", args.labels),
                        ("--pattern", args.pattern), ("--image-id", args.id_rule)):
        if value is not None:
            raise CommandError(f"DATA {args.data!r} is a file: give a folder with {flag}, "
                               "or the labels file alone")
    from rlemask import read_labels

    labels = read_labels(args.data, format=args.format or "auto")
    _check_format(labels, "--format")
    return labels


def run(args: argparse.Namespace) -> int:
    shape = None if args.shape is None else (int(args.shape[0]), int(args.shape[1]))
    progress = not args.json
    if Path(args.data).is_file():
        stats = labels_stats(_labels_alone(args), progress=progress, shape=shape)
    elif (dataset := open_dataset(args)) is not None:
        _check_format(dataset.labels, "--format")
        stats = dataset_stats(dataset, data=args.data, progress=progress, shape=shape)
    else:  # a SIIM folder: load_siim, siim unless --format says otherwise
        args.format = "siim" if args.format in (None, "auto") else args.format
        paths, labels, labels_csv = load_data(args)
        stats = compute_stats(paths, labels, data=args.data, labels_csv=labels_csv,
                              format=args.format, progress=progress, shape=shape)
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    return 0
