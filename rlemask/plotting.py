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
from typing import Any, NamedTuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

from rlemask._validation import check_array_2d, check_mask
from rlemask.codec import runs_from_text
from rlemask.image_dataset import Dataset
from rlemask.images import read_image
from rlemask.sample import read_shape

__all__ = [
    "CLASS_COLOURS",
    "class_colour",
    "plot_dataset_overview",
    "plot_sample",
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
#: one colour per class: orange first (the single-class colour), then the
#: Okabe-Ito colours, distinguishable with the common colour-vision deficiencies
CLASS_COLOURS = (
    MASK_COLOUR,
    (0.34, 0.71, 0.91),  # sky blue
    (0.0, 0.62, 0.45),  # bluish green
    (0.94, 0.89, 0.26),  # yellow
    (0.0, 0.45, 0.70),  # blue
    (0.84, 0.37, 0.0),  # vermillion
    (0.8, 0.47, 0.65),  # reddish purple
)


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


def _read_display_image(path: Path) -> np.ndarray:
    """uint8 grey of any image file (``.dcm`` through :func:`rlemask.read_dicom`)."""
    from rlemask import read_dicom

    if path.suffix.lower() in (".dcm", ".dicom"):
        return read_dicom(path)
    return read_image(path)


def _class_groups(mask_encoded_list: Any) -> list[tuple[str | None, list]]:
    """``[(class or None, rows)]``: a mapping gives one group per class, anything else one."""
    from rlemask import Runs

    def rows_of(value: Any) -> list:
        if value is None:
            return []
        if isinstance(value, (str, bytes, Runs)):
            return [value]
        return list(value)

    if isinstance(mask_encoded_list, Mapping):
        return [(str(name), rows_of(value)) for name, value in mask_encoded_list.items()]
    return [(None, rows_of(mask_encoded_list))]


def _union_runs(rows: list, shape: tuple[int, int], format: str, options: Mapping) -> Any:
    from rlemask import Runs

    runs = Runs([], [], shape)
    for row in rows:
        part = row if isinstance(row, Runs) else runs_from_text(row, shape, format=format,
                                                                **options)
        if part.shape != shape:
            raise ValueError(f"a mask of shape {part.shape} does not fit the image {shape}")
        runs = runs | part.as_order("F")
    return runs


def class_colour(k: int) -> tuple[float, float, float]:
    """The overlay colour of the ``k``-th class (cycling through :data:`CLASS_COLOURS`).

    Examples
    --------
    >>> class_colour(0) == MASK_COLOUR, class_colour(len(CLASS_COLOURS)) == MASK_COLOUR
    (True, True)
    """
    return CLASS_COLOURS[k % len(CLASS_COLOURS)]


def _display(image: np.ndarray, masks: list[np.ndarray], max_side: int | None):
    """Image and masks shrunk for display when a side is over ``max_side``, and the scale."""
    from rlemask import resize_image, resize_mask

    if max_side is None or max(image.shape) <= max_side:
        return image, masks, 1.0
    scale = max_side / max(image.shape)
    small = (max(round(image.shape[0] * scale), 1), max(round(image.shape[1] * scale), 1))
    # "any": a thin region stays visible in the smaller picture
    return (resize_image(image, small), [resize_mask(m, small, method="any") for m in masks],
            small[0] / image.shape[0])


def plot_with_mask_and_bbox(
    file_path: str | os.PathLike,
    mask_encoded_list: str | Sequence[str] | Mapping[str, Sequence[str]] | None,
    figsize: tuple[float, float] = (20, 10),
    *,
    format: str = "siim",
    options: Mapping[str, Any] | None = None,
    image_id: str | None = None,
    max_side: int | None = 2048,
) -> Figure:
    """Two panels: an image, and the same with its merged masks and one box per region.

    Parameters
    ----------
    file_path : str or os.PathLike
        An image file: DICOM (:func:`rlemask.read_dicom`), PNG, JPEG or TIFF
        (:func:`rlemask.read_image`), shown as 8-bit grey.
    mask_encoded_list : str, rlemask.Runs, sequence of them, mapping, or None
        The image's RLE rows (``-1`` / empty rows allowed) or runs, merged
        (union) at the image's shape.  A mapping ``class -> rows`` draws each
        class in its own colour (:func:`class_colour`), with a legend.  A row
        is not a region: boxes and counts are of the connected regions of the
        merged mask, found on the runs (:meth:`rlemask.Runs.components`).
    figsize : (float, float)
        Figure size in inches.
    format : str
        RLE format of the rows (see :func:`rlemask.formats`).
    options : mapping, optional
        Options of the format (``{"order": "C"}``).
    image_id : str, optional
        Title of the first panel (default: the file stem).
    max_side : int or None
        Images with a longer side are shown reduced to it (boxes and counts
        stay those of the full-size masks); None: always at full size.

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
    rlemask.DicomError, rlemask.ImageError
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
    from rlemask import bboxes

    path = Path(file_path)
    image = _read_display_image(path)
    groups = _class_groups(mask_encoded_list)
    # regions and boxes come from the runs; each mask is decoded once, for display
    runs = [_union_runs(rows, image.shape, format, options or {}) for _, rows in groups]
    boxes = [bboxes(r) for r in runs]
    shown, masks, scale = _display(image, [r.to_mask() for r in runs], max_side)

    fig = Figure(figsize=figsize, layout="constrained")
    ax0, ax1 = fig.subplots(1, 2)
    font = max(9.0, 1.5 * min(figsize[0] / 2, figsize[1]))  # readable at any figsize
    _imshow_grey(ax0, shown)
    ax0.set_title(f"{image_id or path.stem}\n{image.shape[1]} x {image.shape[0]}", fontsize=font)
    _imshow_grey(ax1, shown)
    colours = [class_colour(k) for k in range(len(groups))]
    ax1.imshow(_overlay([(m != 0, c) for m, c in zip(masks, colours, strict=True)], shown.shape),
               interpolation="nearest")
    lw = max(1.0, figsize[0] / 10)
    for found, colour in zip(boxes, colours, strict=True):
        edge = BOX_COLOUR if len(groups) == 1 else colour
        for x, y, w, h in found:
            # pixel centres are integers: a box edge lies half a pixel outside
            ax1.add_patch(Rectangle(((x - 0.5) * scale - 0.5 * (1 - scale), (y - 0.5) * scale
                                     - 0.5 * (1 - scale)), w * scale, h * scale, fill=False,
                                    edgecolor=edge, linewidth=lw))
    n_rows = sum(len(rows) for _, rows in groups)
    ax1.set_title(f"{n_rows} RLE row{'s' if n_rows != 1 else ''}\n"
                  + _regions_label(groups, runs, boxes, image.size), fontsize=font)
    if groups[0][0] is not None:
        ax1.legend(handles=[Patch(facecolor=c, edgecolor="none", alpha=0.8,
                                  label=f"{name}: {r.area} px")
                            for (name, _), r, c in zip(groups, runs, colours, strict=True)],
                   loc="lower right", fontsize="small", framealpha=0.7)
    return fig


def _regions_label(groups: list, runs: list, boxes: list, n_pixels: int) -> str:
    n = sum(len(b) for b in boxes)
    area = sum(r.area for r in runs)
    if n == 0:
        return "no pneumothorax (empty mask)" if groups[0][0] is None else "no region (empty)"
    share = 100.0 * area / n_pixels
    text = f"{n} connected region{'s' if n != 1 else ''}, {area} px ({share:.2f} % of the image)"
    if groups[0][0] is not None:
        per = ", ".join(f"{name}: {len(b)}" for (name, _), b in zip(groups, boxes, strict=True)
                        if b)
        text += f"\n{per}"
    return text


def plot_sample(
    dataset: Any, image_id: str, *, size: int | None = 2048,
    figsize: tuple[float, float] = (20, 10),
) -> Figure:
    """:func:`plot_with_mask_and_bbox` of one image of a :class:`rlemask.Dataset`.

    Each class in its own colour; ``size`` is the longest side shown (larger
    images, such as HuBMAP's, are shown reduced).

    Examples
    --------
    >>> import tempfile, rlemask
    >>> root = rlemask.synthetic.make_dataset(tempfile.mkdtemp(), 2, size=64,
    ...                                       positive_fraction=1.0)
    >>> data = rlemask.load_dataset(root, root / "train-rle.csv")
    >>> plot_sample(data, data.ids[0]).axes[0].get_title().split("\\n")[1]
    '64 x 64'
    """
    rows = dataset.rows(image_id)
    groups: Any = rows if dataset.classes else rows[""]
    return plot_with_mask_and_bbox(
        dataset.path(image_id), groups, figsize, format=dataset.format or "kaggle",
        options=getattr(dataset.labels, "format_options", None), image_id=image_id,
        max_side=size,
    )


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


class _Item(NamedTuple):
    """One image of an overview: id, file, rows (a list, or class -> list), labelled."""

    image_id: str
    path: Path
    rows: Any
    labelled: bool


def _overview_items(file_path_list: Any, labels: Any) -> tuple[list[_Item], tuple, Any, Any]:
    """Items, classes, format options and a shape function of either input form."""
    if isinstance(file_path_list, Dataset):
        data = file_path_list
        items = []
        for image_id in data.ids:
            rows = data.rows(image_id)
            items.append(_Item(image_id, data.path(image_id),
                               rows if data.classes else rows[""], data.is_labelled(image_id)))
        return items, data.classes, getattr(data.labels, "format_options", None), data.shape
    if labels is None:
        raise TypeError("`labels` is required unless `file_path_list` is a rlemask.Dataset")
    paths = [Path(p) for p in file_path_list]
    items = [_Item(p.stem, p, list(labels.get(p.stem, [])), p.stem in labels) for p in paths]
    by_id = {item.image_id: item.path for item in items}
    return items, (), None, lambda image_id: read_shape(by_id[image_id])


def _has_region(item: _Item) -> bool:
    rows = item.rows.values() if isinstance(item.rows, Mapping) else [item.rows]
    return any(len(r) > 0 for r in rows)


def plot_dataset_overview(
    file_path_list: Any,
    labels: Mapping[str, Sequence[str]] | None = None,
    *,
    n: int = 8,
    seed: int = 0,
    format: str = "siim",
    thumb_size: int = 256,
) -> Figure:
    """Sample images with masks, plus the positive share, connected regions and areas.

    Parameters
    ----------
    file_path_list : sequence of path, or rlemask.Dataset
        Image files (the image id is the file stem), or a data set of any
        kind (:func:`rlemask.load_dataset`; then ``labels`` and ``format``
        come from it, and each class has its colour).
    labels : mapping, optional
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
        ``n`` thumbnail axes (masks in orange, or one colour per class;
        titles give RLE rows and connected regions), then three statistics
        axes: positive share (per class with classes), connected regions per
        positive image, mask area histogram (% of each image's own area, log
        scale).

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
    from rlemask import bboxes

    items, classes, options, shape_of = _overview_items(file_path_list, labels)
    if hasattr(file_path_list, "format"):
        format = file_path_list.format or "kaggle"
    if not items:
        raise ValueError("`file_path_list` is empty: nothing to plot")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"`n` must be an int >= 0; received n={n!r}")
    positives = [it for it in items if it.labelled and _has_region(it)]
    negatives = [it for it in items if it.labelled and not _has_region(it)]
    unlabelled = [it for it in items if not it.labelled]

    rng = np.random.default_rng(seed)
    n = min(int(n), len(items))
    n_pos = min(len(positives), max(n // 2, n - len(negatives) - len(unlabelled)))
    pick = [positives[i] for i in sorted(rng.choice(len(positives), n_pos, replace=False))]
    others = negatives + unlabelled
    pick += [others[i] for i in sorted(rng.choice(len(others), n - n_pos, replace=False))]

    # "region" is a connected region of the merged mask, not an RLE row
    region_counts, shares = [], []
    for it in positives:
        shape = tuple(shape_of(it.image_id))
        merged = _union_runs([r for _, rows in _class_groups(it.rows) for r in rows], shape,
                             format, options or {})
        region_counts.append(len(bboxes(merged)))
        shares.append(100.0 * merged.area / (shape[0] * shape[1]))

    ncols = 4
    thumb_rows = -(-n // ncols) if n else 0
    fig = Figure(figsize=(4 * ncols, 4 * thumb_rows + 3.6), layout="constrained")
    grid = fig.add_gridspec(thumb_rows + 1, 3 * ncols,
                            height_ratios=[4] * thumb_rows + [3.2])
    for i, item in enumerate(pick):
        ax = fig.add_subplot(grid[i // ncols, 3 * (i % ncols):3 * (i % ncols) + 3])
        _thumbnail(ax, item, format, options or {}, thumb_size)
    _share_axes(fig.add_subplot(grid[thumb_rows, 0:4]), items, positives, negatives,
                unlabelled, classes)
    _regions_axes(fig.add_subplot(grid[thumb_rows, 4:8]), region_counts)
    _area_axes(fig.add_subplot(grid[thumb_rows, 8:12]), np.array(shares, dtype=np.float64))
    for ax in fig.axes[len(pick):]:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of images
    return fig


def _thumbnail(ax: Any, item: _Item, format: str, options: Mapping, thumb_size: int) -> None:
    from rlemask import bboxes

    image = _read_display_image(item.path)
    groups = _class_groups(item.rows)
    runs = [_union_runs(rows, image.shape, format, options) for _, rows in groups]
    n_rows = sum(len(rows) for _, rows in groups)
    merged = runs[0]
    for r in runs[1:]:
        merged = merged | r
    n_regions = len(bboxes(merged)) if n_rows else 0  # before the thumbnail
    image, masks, _ = _display(image, [r.to_mask() for r in runs], thumb_size)
    _imshow_grey(ax, image)
    if n_rows:
        ax.imshow(_overlay([(m != 0, class_colour(k)) for k, m in enumerate(masks)],
                           image.shape), interpolation="nearest")
    state = ("unlabelled" if not item.labelled
             else _rows_and_regions(n_rows, n_regions) if n_rows
             else "negative")
    ax.set_title(f"{_short_id(item.image_id)}\n{state}", fontsize="small")


def _share_axes(ax: Any, items: list, positives: list, negatives: list, unlabelled: list,
                classes: tuple) -> None:
    if classes:
        per_class = [sum(bool(it.rows[c]) for it in positives) for c in classes]
        names = ["negative", *classes]
        counts = [len(negatives), *per_class]
        colours = ["0.6", *(class_colour(k) for k in range(len(classes)))]
    else:
        names, counts, colours = ["negative", "positive"], [len(negatives), len(positives)], \
            ["0.6", MASK_COLOUR]
    if unlabelled:
        names, counts, colours = names + ["unlabelled"], counts + [len(unlabelled)], \
            colours + ["0.85"]
    bars = ax.bar(names, counts, color=colours)
    ax.bar_label(bars, labels=[f"{c}\n({100 * c / len(items):.0f} %)" for c in counts],
                 fontsize="small")
    ax.set_ylabel("images")
    ax.set_ylim(0, max(counts) * 1.3 + 1)
    ax.set_title(f"{len(items)} images, {len(positives)} positive"
                 + (" (per class)" if classes else ""))


def _regions_axes(ax: Any, region_counts: list[int]) -> None:
    if region_counts:
        values, freq = np.unique(region_counts, return_counts=True)
        bars = ax.bar([str(v) for v in values], freq, color=MASK_COLOUR)
        ax.bar_label(bars, fontsize="small")
        ax.set_ylim(0, freq.max() * 1.2 + 1)
    ax.set_xlabel("connected regions of the mask")
    ax.set_ylabel("positive images")
    ax.set_title("connected regions per positive image")


def _area_axes(ax: Any, share: np.ndarray) -> None:
    if share.size:
        lo, hi = max(share.min(), 1e-4), max(share.max(), 1e-4)
        bins = np.geomspace(lo / 1.2, hi * 1.2, 16)
        ax.hist(share, bins=bins, color=MASK_COLOUR, edgecolor="0.3")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator([0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"mask area (median {np.median(share):.2f} %)")
    else:
        ax.set_title("mask area (no positive image)")
    ax.set_xlabel("% of the image")
    ax.set_ylabel("positive images")


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
