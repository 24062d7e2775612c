"""Figures for masks, predictions and data sets (matplotlib, no display needed).

Every function builds a :class:`matplotlib.figure.Figure` directly, never
through ``pyplot``: no global state, no GUI backend, safe in threads and on
headless machines.  Save a figure with :func:`save_figure` (atomic PNG) or
``fig.savefig``.  This module imports matplotlib; ``import rlemask`` does not
import this module until one of its names is used.

Colours used throughout: the ground truth / region overlay is orange; in
prediction overlays a true positive is green, a false positive magenta and a
false negative cyan (distinguishable with the common colour-vision
deficiencies, and on a grey radiograph).

Examples
--------
>>> import numpy as np
>>> from rlemask.plotting import plot_prediction_overlay
>>> image = np.zeros((32, 32), dtype=np.uint8)
>>> truth = np.zeros((32, 32), dtype=np.uint8); truth[8:16, 8:16] = 1
>>> pred = np.zeros((32, 32), dtype=np.uint8); pred[10:18, 8:16] = 1
>>> fig = plot_prediction_overlay(image, truth, pred, title="case 1")
>>> fig.axes[0].get_title()
'case 1\\nDice 0.750'
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

from rlemask._validation import check_array_2d, check_mask

__all__ = [
    "plot_dataset_overview",
    "plot_prediction_grid",
    "plot_prediction_overlay",
    "plot_with_mask_and_bbox",
    "save_figure",
]

MASK_COLOUR = (1.0, 0.55, 0.0)  # orange
BOX_COLOUR = (1.0, 0.85, 0.0)  # yellow
TP_COLOUR = (0.15, 0.85, 0.25)  # green
FP_COLOUR = (0.95, 0.2, 0.85)  # magenta
FN_COLOUR = (0.1, 0.85, 0.95)  # cyan
ALPHA = 0.45


def _grey(image: Any, name: str = "image") -> np.ndarray:
    """A 2-D image for ``imshow``: (H, W) or (H, W, 1); any real dtype."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return check_array_2d(arr, name, allow_empty=True)


def _binary(mask: Any, name: str, shape: tuple[int, int], threshold: float) -> np.ndarray:
    """Bool (H, W) of ``mask``; floats (probabilities) are cut at ``threshold``."""
    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.shape != shape:
        raise ValueError(f"`{name}` must have the image's shape {shape}; received "
                         f"{name}.shape={np.shape(mask)}")
    if arr.dtype.kind == "f":  # probabilities: cut here, not in check_mask (ints only)
        return arr >= threshold
    return check_mask(arr, name) != 0


def _imshow_grey(ax, image: np.ndarray) -> None:
    # a fixed range for 8-bit and 0..1 images: never a per-panel stretch
    if image.dtype == np.uint8:
        vmin, vmax = 0, 255
    elif image.dtype.kind == "f" and image.size and 0.0 <= float(image.min()) and float(
        image.max()
    ) <= 1.0:
        vmin, vmax = 0.0, 1.0
    else:
        vmin = vmax = None
    ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax, interpolation="antialiased")
    ax.set_axis_off()


def _overlay(layers: Sequence[tuple[np.ndarray, tuple[float, float, float]]],
             shape: tuple[int, int], alpha: float = ALPHA) -> np.ndarray:
    """RGBA image: each boolean layer painted in its colour, transparent elsewhere."""
    rgba = np.zeros((*shape, 4), dtype=np.float32)
    for mask, colour in layers:
        rgba[mask, :3] = colour
        rgba[mask, 3] = alpha
    return rgba


def _rows_and_regions(rows: int, regions: int) -> str:
    """``"2 RLE rows, 1 region"``: both counts, named (a row is not a region)."""
    return (f"{rows} RLE row{'s' if rows != 1 else ''}, "
            f"{regions} region{'s' if regions != 1 else ''}")


def _short_id(image_id: str, n: int = 18) -> str:
    # SIIM ids are 50-60 character UIDs: keep the distinctive tail
    return image_id if len(image_id) <= n else "…" + image_id[-(n - 1):]


def plot_with_mask_and_bbox(
    file_path: str | os.PathLike,
    mask_encoded_list: str | Sequence[str] | None,
    figsize: tuple[float, float] = (20, 10),
    *,
    format: str = "siim",
) -> Figure:
    """Two panels: a DICOM image, and the same with its merged mask and one box per region.

    Parameters
    ----------
    file_path : str or os.PathLike
        A DICOM file, read with :func:`rlemask.read_dicom` (uint8).
    mask_encoded_list : str, rlemask.Runs, sequence of them, or None
        The image's RLE rows (``-1`` / empty rows allowed) or runs, merged
        (union) at the image's shape.  A row is not a region: boxes and
        counts are of the connected regions of the merged mask, found on the
        runs (:meth:`rlemask.Runs.components`).
    figsize : (float, float)
        Figure size in inches.
    format : str
        RLE format of the rows (see :func:`rlemask.formats`).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0]`` shows the image, ``fig.axes[1]`` the overlay with one
        :class:`~matplotlib.patches.Rectangle` per connected region
        (:func:`rlemask.bboxes`, 8-connectivity).  Titles give the image id,
        the number of RLE rows, the number of connected regions and the mask
        area.

    Raises
    ------
    rlemask.DicomError
        The file cannot be read.
    rlemask.RLEError
        A row is malformed or does not fit the image.

    Examples
    --------
    >>> import tempfile
    >>> import rlemask
    >>> from rlemask.synthetic import make_dataset
    >>> root = make_dataset(tempfile.mkdtemp(), n_images=2, size=128, positive_fraction=1.0)
    >>> files, labels = rlemask.load_siim(root)
    >>> fig = plot_with_mask_and_bbox(files[0], labels[files[0].stem])
    >>> len(fig.axes)
    2
    """
    from rlemask import Runs, bboxes, read_dicom
    from rlemask.codec import runs_from_text

    path = Path(file_path)
    image = read_dicom(path)
    if mask_encoded_list is None:
        rows: list = []
    elif isinstance(mask_encoded_list, (str, bytes, Runs)):
        rows = [mask_encoded_list]
    else:
        rows = list(mask_encoded_list)
    # regions and boxes come from the runs; the mask is decoded once, for display
    runs = Runs([], [], image.shape)
    for row in rows:
        part = row if isinstance(row, Runs) else runs_from_text(row, image.shape, format=format)
        if part.shape != image.shape:
            raise ValueError(f"a mask of shape {part.shape} does not fit the image {image.shape}")
        runs = runs | part.as_order("F")
    boxes = bboxes(runs)
    area = runs.area
    mask = runs.to_mask()

    fig = Figure(figsize=figsize, layout="constrained")
    ax0, ax1 = fig.subplots(1, 2)
    font = max(9.0, 1.5 * min(figsize[0] / 2, figsize[1]))  # readable at any figsize
    _imshow_grey(ax0, image)
    ax0.set_title(f"{path.stem}\n{image.shape[1]} x {image.shape[0]}", fontsize=font)
    _imshow_grey(ax1, image)
    ax1.imshow(_overlay([(mask != 0, MASK_COLOUR)], image.shape), interpolation="nearest")
    lw = max(1.0, figsize[0] / 10)
    for x, y, w, h in boxes:
        # pixel centres are integers: a box edge lies half a pixel outside
        ax1.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor=BOX_COLOUR,
                                linewidth=lw))
    share = 100.0 * area / mask.size
    if boxes:
        label = f"{len(boxes)} connected region{'s' if len(boxes) != 1 else ''}, " \
                f"{area} px ({share:.2f} % of the image)"
    else:
        label = "no pneumothorax (empty mask)"
    ax1.set_title(f"{len(rows)} RLE row{'s' if len(rows) != 1 else ''}\n{label}",
                  fontsize=font)
    return fig


def plot_prediction_overlay(
    image: np.ndarray,
    truth: np.ndarray,
    pred: np.ndarray,
    *,
    ax: Any = None,
    figsize: tuple[float, float] = (6, 6.4),
    title: str | None = None,
    threshold: float = 0.5,
    legend: bool = True,
) -> Figure:
    """Truth versus prediction on an image: true positive, false positive, false negative.

    Parameters
    ----------
    image : np.ndarray
        (H, W) or (H, W, 1); uint8 shown as 0..255, floats in 0..1 as 0..1.
    truth, pred : np.ndarray
        Masks of the image's shape (bool, integer: non-zero is foreground;
        float: probabilities, foreground where ``>= threshold``).
    ax : matplotlib Axes, optional
        Draw into this axes; otherwise a new figure of ``figsize`` is made.
    figsize : (float, float)
        Size of the new figure, in inches.
    title : str, optional
        Prefix of the axes title; the per-image Dice (:func:`rlemask.dice`,
        1.0 when both masks are empty) is always appended.
    threshold : float
        Cut for float masks.
    legend : bool
        Add the three-entry legend (pixel counts included) to the axes.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes.

    Examples
    --------
    >>> import numpy as np
    >>> empty = np.zeros((8, 8), dtype=np.uint8)
    >>> fig = plot_prediction_overlay(empty, empty, empty)
    >>> fig.axes[0].get_title()
    'Dice 1.000 (both empty)'
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['true positive (0 px)', 'false positive (0 px)', 'false negative (0 px)']
    """
    from rlemask import dice

    img = _grey(image)
    t = _binary(truth, "truth", img.shape, threshold)
    p = _binary(pred, "pred", img.shape, threshold)
    tp, fp, fn = t & p, p & ~t, t & ~p
    score = dice(p, t)
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    _imshow_grey(ax, img)
    ax.imshow(_overlay([(tp, TP_COLOUR), (fp, FP_COLOUR), (fn, FN_COLOUR)], img.shape,
                       alpha=0.6), interpolation="nearest")
    text = f"Dice {score:.3f}" + (" (both empty)" if not (t.any() or p.any()) else "")
    ax.set_title(f"{title}\n{text}" if title else text, fontsize="medium")
    if legend:
        ax.legend(handles=_legend_handles(tp, fp, fn), loc="lower center", fontsize="small",
                  framealpha=0.7)
    return fig


def _legend_handles(tp=None, fp=None, fn=None) -> list[Patch]:
    entries = [("true positive", TP_COLOUR, tp), ("false positive", FP_COLOUR, fp),
               ("false negative", FN_COLOUR, fn)]
    return [
        Patch(facecolor=c, edgecolor="none", alpha=0.8,
              label=name if m is None else f"{name} ({int(m.sum())} px)")
        for name, c, m in entries
    ]


def plot_prediction_grid(
    images: Sequence[np.ndarray] | np.ndarray,
    truths: Sequence[np.ndarray] | np.ndarray,
    preds: Sequence[np.ndarray] | np.ndarray,
    ids: Sequence[str] | None = None,
    *,
    ncols: int = 4,
    panel_size: float = 3.2,
    threshold: float = 0.5,
    title: str | None = None,
) -> Figure:
    """A grid of prediction overlays (e.g. validation images), one legend for all.

    Parameters
    ----------
    images, truths, preds : sequences or arrays of N images / masks
        As for :func:`plot_prediction_overlay`; batches shaped
        (N, H, W) or (N, H, W, 1) work as they are.
    ids : sequence of str, optional
        Panel titles (shortened to their tail); the per-image Dice is appended.
    ncols : int
        Panels per row (>= 1).
    panel_size : float
        Width and height of one panel, inches.
    threshold : float
        Cut for float masks (probabilities).
    title : str, optional
        Figure title; the mean per-image Dice over the panels is appended.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per image (``fig.axes[:N]``) plus hidden spare cells; a
        figure legend with the three colours.

    Examples
    --------
    >>> import numpy as np
    >>> masks = np.zeros((5, 16, 16), dtype=np.uint8); masks[:, 4:8, 4:8] = 1
    >>> fig = plot_prediction_grid(masks * 200, masks, masks, ncols=3)
    >>> sum(ax.get_visible() for ax in fig.axes)
    5
    """
    from rlemask import dice

    n = len(images)
    if len(truths) != n or len(preds) != n:
        raise ValueError(f"`images`, `truths` and `preds` must have the same length; received "
                         f"{n}, {len(truths)} and {len(preds)}")
    if ids is not None and len(ids) != n:
        raise ValueError(f"`ids` must have one entry per image ({n}); received {len(ids)}")
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"`ncols` must be an int >= 1; received ncols={ncols!r}")
    if n == 0:
        raise ValueError("`images` is empty: nothing to plot")
    ncols = min(int(ncols), n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(panel_size * ncols, panel_size * nrows + 0.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    scores = []
    for i in range(n):
        img = _grey(images[i], f"images[{i}]")
        label = _short_id(str(ids[i])) if ids is not None else None
        plot_prediction_overlay(img, truths[i], preds[i], ax=axes[i], title=label,
                                threshold=threshold, legend=False)
        axes[i].title.set_fontsize("small")
        scores.append(dice(_binary(preds[i], f"preds[{i}]", img.shape, threshold),
                           _binary(truths[i], f"truths[{i}]", img.shape, threshold)))
    for ax in axes[n:]:
        ax.set_visible(False)
    head = f"mean per-image Dice {np.mean(scores):.3f} over {n} image{'s' if n != 1 else ''}"
    fig.suptitle(f"{title} · {head}" if title else head)
    fig.legend(handles=_legend_handles(), loc="outside lower center", ncols=3, fontsize="small")
    return fig


def plot_dataset_overview(
    file_path_list: Sequence[str | os.PathLike],
    labels: Mapping[str, Sequence[str]],
    *,
    n: int = 8,
    seed: int = 0,
    format: str = "siim",
    thumb_size: int = 256,
) -> Figure:
    """Sample images with masks, plus the positive share, connected regions and areas.

    Parameters
    ----------
    file_path_list : sequence of path
        DICOM files; the image id is the file stem.
    labels : mapping
        Image id -> list of RLE strings (empty list: negative), as returned
        by :func:`rlemask.load_siim`.  Images without an entry count as
        unlabelled and are left out of the statistics.
    n : int
        Number of sample thumbnails (half positives where there are enough),
        chosen with ``seed``; 0 shows statistics only.
    seed : int
        Seed of the sample choice.
    format : str
        RLE format of the labels.
    thumb_size : int
        Thumbnails are area-resized to at most this size (speed and file size).

    Returns
    -------
    matplotlib.figure.Figure
        ``n`` thumbnail axes (masks in orange; titles give RLE rows and
        connected regions), then three statistics axes: positive share,
        connected regions per positive image, mask area histogram (% of
        the image, log scale).  Mask shapes come from each sampled file, and
        for the statistics from the first file (SIIM images are all 1024 x 1024).

    Examples
    --------
    >>> import tempfile
    >>> import rlemask
    >>> from rlemask.synthetic import make_dataset
    >>> files, labels = rlemask.load_siim(make_dataset(tempfile.mkdtemp(), 6, size=128))
    >>> fig = plot_dataset_overview(files, labels, n=4)
    >>> len(fig.axes)
    7
    """
    from rlemask import bboxes, merge, read_dicom, read_dicom_meta, resize_image, resize_mask

    paths = [Path(p) for p in file_path_list]
    if not paths:
        raise ValueError("`file_path_list` is empty: nothing to plot")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"`n` must be an int >= 0; received n={n!r}")
    labelled = [p for p in paths if p.stem in labels]
    positives = [p for p in labelled if len(labels[p.stem]) > 0]
    negatives = [p for p in labelled if len(labels[p.stem]) == 0]
    unlabelled = len(paths) - len(labelled)

    rng = np.random.default_rng(seed)
    n = min(int(n), len(paths))
    n_pos = min(len(positives), max(n // 2, n - len(negatives) - unlabelled))
    pick = [positives[i] for i in sorted(rng.choice(len(positives), n_pos, replace=False))]
    others = negatives + [p for p in paths if p.stem not in labels]
    pick += [others[i] for i in sorted(rng.choice(len(others), n - n_pos, replace=False))]

    meta = read_dicom_meta(paths[0])
    shape = (int(meta["rows"]), int(meta["columns"]))
    # "region" is a connected region of the merged mask, not an RLE row
    merged = [merge(labels[p.stem], shape=shape, format=format) for p in positives]
    region_counts = [len(bboxes(mask)) for mask in merged]
    areas = np.array([int(mask.sum()) for mask in merged], dtype=np.float64)
    del merged

    ncols = 4
    thumb_rows = -(-n // ncols) if n else 0
    fig = Figure(figsize=(4 * ncols, 4 * thumb_rows + 3.6), layout="constrained")
    grid = fig.add_gridspec(thumb_rows + 1, 3 * ncols,
                            height_ratios=[4] * thumb_rows + [3.2])
    for i, path in enumerate(pick):
        ax = fig.add_subplot(grid[i // ncols, 3 * (i % ncols):3 * (i % ncols) + 3])
        image = read_dicom(path)
        rows = list(labels.get(path.stem, []))
        mask = merge(rows, shape=image.shape, format=format) if rows else None
        n_regions = len(bboxes(mask)) if mask is not None else 0  # before the thumbnail
        if max(image.shape) > thumb_size:
            scale = thumb_size / max(image.shape)
            small = (max(round(image.shape[0] * scale), 1), max(round(image.shape[1] * scale), 1))
            image = resize_image(image, small)
            # "any": a thin region stays visible in the thumbnail
            mask = resize_mask(mask, small, method="any") if mask is not None else None
        _imshow_grey(ax, image)
        if mask is not None:
            ax.imshow(_overlay([(mask != 0, MASK_COLOUR)], mask.shape), interpolation="nearest")
        state = ("unlabelled" if path.stem not in labels
                 else _rows_and_regions(len(rows), n_regions) if rows
                 else "negative")
        ax.set_title(f"{_short_id(path.stem)}\n{state}", fontsize="small")

    ax_share = fig.add_subplot(grid[thumb_rows, 0:4])
    names = ["negative", "positive"] + (["unlabelled"] if unlabelled else [])
    counts = [len(negatives), len(positives)] + ([unlabelled] if unlabelled else [])
    bars = ax_share.bar(names, counts, color=["0.6", MASK_COLOUR, "0.85"][: len(names)])
    ax_share.bar_label(bars, labels=[f"{c}\n({100 * c / len(paths):.0f} %)" for c in counts],
                       fontsize="small")
    ax_share.set_ylabel("images")
    ax_share.set_ylim(0, max(counts) * 1.3 + 1)
    ax_share.set_title(f"{len(paths)} images, {len(positives)} positive")

    ax_regions = fig.add_subplot(grid[thumb_rows, 4:8])
    if region_counts:
        values, freq = np.unique(region_counts, return_counts=True)
        bars = ax_regions.bar([str(v) for v in values], freq, color=MASK_COLOUR)
        ax_regions.bar_label(bars, fontsize="small")
        ax_regions.set_ylim(0, freq.max() * 1.2 + 1)
    ax_regions.set_xlabel("connected regions of the mask")
    ax_regions.set_ylabel("positive images")
    ax_regions.set_title("connected regions per positive image")

    ax_area = fig.add_subplot(grid[thumb_rows, 8:12])
    if areas.size:
        share = 100.0 * areas / (shape[0] * shape[1])
        lo, hi = max(share.min(), 1e-4), max(share.max(), 1e-4)
        bins = np.geomspace(lo / 1.2, hi * 1.2, 16)
        ax_area.hist(share, bins=bins, color=MASK_COLOUR, edgecolor="0.3")
        ax_area.set_xscale("log")
        ax_area.xaxis.set_major_locator(FixedLocator([0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30]))
        ax_area.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax_area.xaxis.set_minor_formatter(NullFormatter())
        ax_area.set_title(f"mask area (median {np.median(share):.2f} %)")
    else:
        ax_area.set_title("mask area (no positive image)")
    ax_area.set_xlabel(f"% of the {shape[1]} x {shape[0]} image")
    ax_area.set_ylabel("positive images")
    for ax in (ax_share, ax_regions, ax_area):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of images
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: float = 100, **savefig_kwargs) -> Path:
    """Write ``fig`` to ``path`` atomically (temporary file, then rename); returns the Path.

    The format comes from the suffix (``.png``, ``.pdf``, ``.svg``...), PNG
    if there is none.  A crash never leaves a half-written image behind.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(2, 2)); _ = fig.add_subplot().plot([0, 1])
    >>> out = save_figure(fig, pathlib.Path(tempfile.mkdtemp()) / "line.png")
    >>> out.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    from rlemask._atomic import atomic_write

    path = Path(path)
    fmt = savefig_kwargs.pop("format", None) or (path.suffix[1:].lower() or "png")
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format=fmt, dpi=dpi, **savefig_kwargs)
    return path
