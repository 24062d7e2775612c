"""The error-analysis page of a score report: every image, sortable, filterable, with overlays.

:func:`write_report_page` turns a :class:`rlemask.ScoreReport` into a static
page that opens from the file system: ``index.html`` (everything inlined:
styles, a little plain JavaScript, the table) and a folder
``index_files/`` of PNG overlays beside it.  Nothing is fetched from the
network; there is no framework.

The page shows

* the score next to the all-empty baseline and the score over images whose
  truth is non-empty (positive-only), per class where the labels have classes;
* how many rows have each outcome: **true positive** (truth and prediction
  non-empty), **false positive** (empty truth, non-empty prediction), **false
  negative** (non-empty truth, empty prediction), **true negative** (both
  empty) -- decided per row of the report, that is per image or per
  (image, class) pair;
* a table of every row: id, class, score, truth and predicted areas, matched
  objects (TP / FP / FN, where the metric matches objects), outcome, in
  worst-first order.  With JavaScript, every column sorts and the rows filter
  by outcome and class; without it the page is the same table, readable.
* an overlay thumbnail for the rows a user looks at first -- the worst rows,
  every false positive and false negative, and a seeded random sample of the
  rest -- each linking to its full-size overlay, loaded lazily.  The page
  states how many rows it shows and how many thumbnails it has, and why.

Overlays paint truth only, prediction only and their overlap in three
colours of the Okabe-Ito palette (distinguishable with the common colour
vision deficiencies), half transparent over the image, with a box around
each connected region of truth and of prediction.  Without image data
(``data=None``) no thumbnails are made unless asked for with
``max_thumbnails``; they are then drawn on a neutral grey.

Examples
--------
>>> import pathlib, tempfile
>>> from types import SimpleNamespace
>>> report = SimpleNamespace(
...     score=0.5, metric="dice", options={"empty": 1.0}, n_images=2,
...     all_empty_baseline=0.5, positive_only=0.0, per_class={}, shape=None,
...     truth=None, submission=None,
...     per_image=[
...         {"image_id": "a", "class": None, "score": 1.0, "truth_area": 0,
...          "pred_area": 0, "tp": None, "fp": None, "fn": None},
...         {"image_id": "b", "class": None, "score": 0.0, "truth_area": 40,
...          "pred_area": 0, "tp": None, "fp": None, "fn": None}])
>>> page = write_report_page(report, tempfile.mkdtemp())
>>> page.name
'index.html'
>>> "false negative" in page.read_text()
True
"""

from __future__ import annotations

import contextlib
import functools
import html
import math
import operator
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._atomic import atomic_write

__all__ = ["write_report_page", "overlay_image", "COLOURS", "OUTCOMES"]

#: Okabe-Ito colours (RGB) of the overlays: truth only, prediction only, both.
COLOURS = {
    "truth": (0x56, 0xB4, 0xE9),  # sky blue: missed
    "prediction": (0xE6, 0x9F, 0x00),  # orange: false alarm
    "both": (0x00, 0x9E, 0x73),  # bluish green: found
}
#: outcome code -> what the page calls it, in the order the filters list them
OUTCOMES = {
    "fn": "false negative",
    "fp": "false positive",
    "tp": "true positive",
    "tn": "true negative",
}
#: thumbnails made at most when image data is given (``max_thumbnails=None``)
DEFAULT_MAX_THUMBNAILS = 200
#: the worst rows always get a thumbnail, then every FP and FN, then a sample
N_WORST = 50
N_SAMPLE = 50
_ALPHA = 0.5  # opacity of the mask colours over the image
_LEVELS = 60  # grey levels per overlay state: 4 states x 60 + 2 box colours <= 256
_NEUTRAL = 128  # the grey of overlays drawn without image data
#: overlays of larger images are drawn reduced (HuBMAP's are 30,000 px a side)
MAX_OVERLAY_SIDE = 4096


@dataclass(frozen=True)
class _Row:
    """One row of the report's per-image table, as the page shows it."""

    index: int  # position in report.per_image: names the row's files
    image_id: str
    cls: str | None
    score: float
    truth_area: int
    pred_area: int
    tp: int | None
    fp: int | None
    fn: int | None

    @property
    def outcome(self) -> str:
        if self.truth_area > 0:
            return "tp" if self.pred_area > 0 else "fn"
        return "fp" if self.pred_area > 0 else "tn"


def _number(value: Any, name: str, *, integer: bool) -> Any:
    if value is None:
        return None
    try:
        return int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"report.per_image: `{name}` must be a number; received {value!r}"
        ) from None


def _rows(report: Any) -> list[_Row]:
    """The report's rows in worst-first order: lowest score first, skipped (NaN) last."""
    rows = []
    for i, entry in enumerate(report.per_image):
        cls = entry.get("class")
        rows.append(_Row(
            index=i,
            image_id=str(entry["image_id"]),
            cls=None if cls is None else str(cls),
            score=_number(entry.get("score"), "score", integer=False),
            truth_area=_number(entry.get("truth_area", 0), "truth_area", integer=True) or 0,
            pred_area=_number(entry.get("pred_area", 0), "pred_area", integer=True) or 0,
            tp=_number(entry.get("tp"), "tp", integer=True),
            fp=_number(entry.get("fp"), "fp", integer=True),
            fn=_number(entry.get("fn"), "fn", integer=True),
        ))

    def worst_first(row: _Row) -> tuple:
        skipped = row.score is None or math.isnan(row.score)
        return (skipped, 0.0 if skipped else row.score, row.image_id, row.cls or "")

    return sorted(rows, key=worst_first)


_REPORT_ATTRIBUTES = ("score", "metric", "options", "n_images", "all_empty_baseline",
                      "positive_only", "per_class", "per_image")


def _check_report(report: Any) -> None:
    missing = [name for name in _REPORT_ATTRIBUTES if not hasattr(report, name)]
    if missing:
        raise TypeError(
            f"`report` must be a rlemask.ScoreReport (from rlemask.score); received "
            f"{type(report).__name__} without {', '.join(missing)}"
        )


# -- which rows get a thumbnail -----------------------------------------------
@dataclass(frozen=True)
class _Selection:
    rows: list[_Row]  # in page order
    n_worst: int
    n_errors_drawn: int  # false positives and false negatives drawn (among the worst or not)
    n_sample: int
    n_errors_total: int
    all_errors: bool  # every false positive and false negative is drawn
    limit: int


def _select(rows: Sequence[_Row], limit: int, seed: int) -> _Selection:
    """The rows to draw: the worst, every FP and FN, a seeded sample of the rest; ``limit`` at most.

    ``rows`` is in worst-first order.  Priority when ``limit`` cuts: the worst
    rows first, then the errors (worst first), then the sample.
    """
    scored = [i for i, r in enumerate(rows) if r.score is not None and not math.isnan(r.score)]
    worst = scored[: min(N_WORST, limit)]
    chosen = set(worst)
    errors_all = [i for i, r in enumerate(rows) if r.outcome in ("fp", "fn")]
    errors_left = [i for i in errors_all if i not in chosen]
    errors = errors_left[: max(0, limit - len(chosen))]
    chosen.update(errors)
    rest = [i for i in range(len(rows)) if i not in chosen]
    n_sample = min(N_SAMPLE, len(rest), max(0, limit - len(chosen)))
    sample = np.random.default_rng(seed).choice(len(rest), size=n_sample, replace=False)
    chosen.update(rest[int(k)] for k in sample)
    return _Selection(
        rows=[rows[i] for i in sorted(chosen)], n_worst=len(worst),
        n_errors_drawn=len(errors_all) - len(errors_left) + len(errors),
        n_sample=n_sample, n_errors_total=len(errors_all),
        all_errors=len(errors) == len(errors_left), limit=limit,
    )


# -- images and masks ------------------------------------------------------------
class _Images:
    """Grey images by id from ``data``: None, a folder (``rlemask.load_dataset``) or a Dataset."""

    def __init__(self, data: Any, truth: Any):
        import rlemask

        self.dataset = None
        self._last: tuple[Any, Any] = (None, None)
        if data is None:
            return
        if isinstance(data, (str, os.PathLike)):
            if not Path(data).is_dir():
                raise ValueError(f"`data` must be a folder of images or a Dataset; "
                                 f"received data={str(data)!r}, which is not a folder")
            data = rlemask.load_dataset(data, truth)
        if not callable(getattr(data, "path", None)):
            raise TypeError(f"`data` must be a folder or a rlemask Dataset; received "
                            f"{type(data).__name__}")
        self.dataset = data
        self._ids = set(data.ids)

    def has(self, image_id: str) -> bool:
        return self.dataset is not None and image_id in self._ids

    def shape(self, image_id: str) -> tuple[int, int]:
        """The image's (h, w): the Dataset's, else the file header's."""
        import rlemask

        if callable(getattr(self.dataset, "shape", None)):
            return tuple(self.dataset.shape(image_id))
        return tuple(rlemask.image_shape(self.dataset.path(image_id)))

    def read(self, image_id: str, reduce: int) -> np.ndarray:
        """The image as uint8 (H, W), read ``reduce`` times smaller.

        The last image is kept: the rows of its classes come one after another.
        """
        import rlemask

        if self._last[0] != (image_id, reduce):
            self._last = ((image_id, reduce), rlemask.read_image(self.dataset.path(image_id),
                                                                  reduce=reduce))
        return self._last[1]


class _Side:
    """One side's labels (the truth or the submission) as the overlays read them."""

    def __init__(self, labels: Any):
        self.labels = labels
        self.ids = set() if labels is None else set(labels.ids)
        # a single-class side of a per-class score: its one mask serves every class
        self.single = not getattr(labels, "classes", ())

    def shape_of(self, image_id: str) -> tuple[int, int] | None:
        """The image size the labels know (shape columns, ``read_labels(shape=)``), or None."""
        shape_of = getattr(self.labels, "shape_of", None)
        if shape_of is None or image_id not in self.ids:
            return None
        with contextlib.suppress(KeyError, ValueError):
            shape = shape_of(image_id)
            return None if shape is None else tuple(shape)
        return None

    def mask(self, image_id: str, cls: str | None, shape: tuple[int, int], k: int) -> np.ndarray:
        """The row's mask (all classes OR-ed for ``cls=None``), reduced ``k`` times.

        Empty where the labels have no such image.  A reduced mask keeps every
        region (``method="any"``) and is made on the runs: the full-size mask of
        a gigapixel image is never decoded.
        """
        reduced = (-(-shape[0] // k), -(-shape[1] // k))
        if image_id not in self.ids:
            return np.zeros(reduced, np.uint8)
        cls = None if self.single else cls
        if k == 1:
            return np.asarray(self.labels.mask(image_id, cls, shape))
        objects = self.labels.objects(image_id, cls, shape)
        if not objects:
            return np.zeros(reduced, np.uint8)
        return functools.reduce(operator.or_, objects).resize(reduced, method="any").to_mask()


def _pixels(report: Any, sides: tuple[_Side, _Side], images: _Images, row: _Row) -> tuple | None:
    """The row's grey image and masks, at most :data:`MAX_OVERLAY_SIDE` a side; None: no size.

    The masks are read at the labels' size (the report's, the labels' own, or
    the image file's); an image of another size is resized to them, since the
    labels are what was scored.  No image file: a neutral grey.
    """
    has_image = images.has(row.image_id)
    shape = getattr(report, "shape", None) or sides[0].shape_of(row.image_id) or \
        sides[1].shape_of(row.image_id)
    if shape is None and has_image:
        shape = images.shape(row.image_id)
    if shape is None:
        return None
    k = -(-max(shape) // MAX_OVERLAY_SIDE)
    truth, pred = (side.mask(row.image_id, row.cls, tuple(shape), k) for side in sides)
    if not has_image:
        return np.full(truth.shape, _NEUTRAL, np.uint8), truth, pred, False
    grey = images.read(row.image_id, k)
    if grey.shape != truth.shape:
        from PIL import Image

        grey = np.asarray(Image.fromarray(grey).resize(truth.shape[::-1], Image.Resampling.BOX))
    return grey, truth, pred, True


# -- drawing ---------------------------------------------------------------------
def _palette() -> list[int]:
    """256 RGB entries: 4 overlay states x _LEVELS greys, then the two box colours."""
    grey = np.linspace(0, 255, _LEVELS)[:, None] * np.ones(3)
    states = [grey]
    for colour in (COLOURS["truth"], COLOURS["prediction"], COLOURS["both"]):
        states.append((1 - _ALPHA) * grey + _ALPHA * np.asarray(colour, float))
    entries = np.concatenate(states + [np.asarray([COLOURS["truth"], COLOURS["prediction"]])])
    entries = np.vstack([entries, np.zeros((256 - len(entries), 3))])
    return np.round(entries).astype(np.uint8).ravel().tolist()


_PALETTE = _palette()
_TRUTH_BOX, _PRED_BOX = 4 * _LEVELS, 4 * _LEVELS + 1  # palette entries of the box colours
_GREY_TO_LEVEL = (np.arange(256) * _LEVELS // 256).astype(np.uint8)


def _boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    import rlemask

    return rlemask.bboxes(mask) if mask.any() else []


def _draw_boxes(draw: Any, boxes: Sequence, colour: Any, scale: float, width: int) -> None:
    for x, y, w, h in boxes:
        x0, y0 = int(x * scale), int(y * scale)
        x1, y1 = max(x0, int((x + w) * scale) - 1), max(y0, int((y + h) * scale) - 1)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)


def overlay_image(image: Any, truth: Any, prediction: Any, *, boxes: bool = True) -> Any:
    """The overlay of a prediction on its image: a palette ``PIL.Image`` of the image's size.

    Truth only, prediction only and both are painted half transparent in
    :data:`COLOURS` over the grey image (kept at 60 grey levels, which is what
    makes the palette PNG small), with a box around each connected region of
    the truth and of the prediction.

    Parameters
    ----------
    image : array_like, shape (H, W), uint8
        The grey image.
    truth, prediction : array_like, shape (H, W)
        Masks, non-zero = foreground.
    boxes : bool, default True
        Draw a box per region.

    Returns
    -------
    PIL.Image.Image
        Mode ``"P"``; ``.convert("RGB")`` for pixels.

    Raises
    ------
    ValueError
        Shapes that differ, or an image that is not 2-D uint8.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((8, 8), np.uint8)
    >>> truth = np.zeros((8, 8), np.uint8); truth[2:5, 2:5] = 1
    >>> overlay_image(image, truth, np.zeros((8, 8)), boxes=False).convert("RGB").getpixel((3, 3))
    (43, 90, 116)
    """
    from PIL import Image, ImageDraw

    grey = np.asarray(image)
    if grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError(f"`image` must be a 2-D uint8 array; received shape {grey.shape}, "
                         f"dtype {grey.dtype}")
    t, p = np.asarray(truth) != 0, np.asarray(prediction) != 0
    if t.shape != grey.shape or p.shape != grey.shape:
        raise ValueError(f"`truth` {t.shape} and `prediction` {p.shape} must have the image's "
                         f"shape {grey.shape}")
    state = t.view(np.uint8) + 2 * p.view(np.uint8)  # 0 none, 1 truth, 2 prediction, 3 both
    index = _GREY_TO_LEVEL[grey] + state * np.uint8(_LEVELS)
    out = Image.fromarray(index)
    out.putpalette(_PALETTE)
    if boxes:
        width = max(1, round(max(grey.shape) / 512))
        draw = ImageDraw.Draw(out)
        _draw_boxes(draw, _boxes(t), _TRUTH_BOX, 1.0, width)
        _draw_boxes(draw, _boxes(p), _PRED_BOX, 1.0, width)
    return out


def _thumbnail(full: Any, truth_boxes: Sequence, pred_boxes: Sequence, size: int) -> Any:
    """A small RGB copy of an overlay (without boxes), with its boxes redrawn 1 px wide."""
    from PIL import Image, ImageDraw

    w, h = full.size
    scale = min(2 * size / w, size / h, 1.0)  # fits 2*size x size: wide strips stay legible
    small = full.convert("RGB").resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    draw = ImageDraw.Draw(small)
    _draw_boxes(draw, truth_boxes, COLOURS["truth"], scale, 1)
    _draw_boxes(draw, pred_boxes, COLOURS["prediction"], scale, 1)
    return small


def _draw_row(grey: np.ndarray, truth: np.ndarray, pred: np.ndarray, size: int) -> tuple:
    """The full-size overlay (boxes drawn at the image's scale) and its thumbnail."""
    from PIL import ImageDraw

    full = overlay_image(grey, truth, pred, boxes=False)
    truth_boxes, pred_boxes = _boxes(truth != 0), _boxes(pred != 0)
    thumb = _thumbnail(full, truth_boxes, pred_boxes, size)
    width = max(1, round(max(grey.shape) / 512))
    draw = ImageDraw.Draw(full)
    _draw_boxes(draw, truth_boxes, _TRUTH_BOX, 1.0, width)
    _draw_boxes(draw, pred_boxes, _PRED_BOX, 1.0, width)
    return full, thumb


@dataclass(frozen=True)
class _Drawn:
    size: tuple[int, int]  # the thumbnail's (width, height)
    full: bool  # a full-size overlay was written


def _write_overlays(
    report: Any, images: _Images, selection: _Selection, folder: Path, *,
    size: int, full_size: bool,
) -> tuple[dict[int, _Drawn], int, int]:
    """Draw the selected rows into ``folder``.

    Returns {row index: drawn}, and the counts of rows without a size and drawn on grey.
    """
    drawn: dict[int, _Drawn] = {}
    n_unsized = n_neutral = 0
    sides = (_Side(getattr(report, "truth", None)), _Side(getattr(report, "submission", None)))
    for row in sorted(selection.rows, key=lambda r: (r.image_id, r.cls or "")):
        pixels = _pixels(report, sides, images, row)
        if pixels is None:
            n_unsized += 1
            continue
        grey, truth, pred, has_image = pixels
        n_neutral += not has_image
        full, thumb = _draw_row(grey, truth, pred, size)
        thumb.save(folder / f"t{row.index:06d}.png", "PNG", optimize=False)
        if full_size:
            full.save(folder / f"f{row.index:06d}.png", "PNG", compress_level=1)
        drawn[row.index] = _Drawn(size=thumb.size, full=full_size)
    return drawn, n_unsized, n_neutral


# -- the page ------------------------------------------------------------------
def _asset(name: str) -> str:
    return resources.files("rlemask").joinpath(name).read_text(encoding="utf-8")


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    value = float(value)
    return "skipped" if math.isnan(value) else f"{value:.{digits}f}"


def _classes(report: Any, rows: Sequence[_Row]) -> list[str]:
    """The classes of the rows, in the report's order (else sorted, numbers as numbers)."""
    present = {r.cls for r in rows if r.cls is not None}
    ordered = [str(c) for c in (report.per_class or {}) if str(c) in present]
    rest = sorted(present - set(ordered), key=lambda c: (len(c), c))
    return ordered + rest


def _summary_html(report: Any, rows: Sequence[_Row]) -> str:
    """The scores beside the all-empty baseline and positive-only, and the outcome counts."""
    lines = [
        '<table class="summary"><caption>Scores</caption><thead><tr><th></th>'
        '<th class="num">score</th><th class="num">all-empty baseline</th>'
        '<th class="num">positive-only</th></tr></thead><tbody>',
        f'<tr><th scope="row">all</th><td class="num"><strong>{_fmt(report.score)}</strong></td>'
        f'<td class="num">{_fmt(report.all_empty_baseline)}</td>'
        f'<td class="num">{_fmt(report.positive_only)}</td></tr>',
    ]
    for cls, scores in (report.per_class or {}).items():
        lines.append(
            f'<tr><th scope="row">class {html.escape(str(cls))}</th>'
            f'<td class="num">{_fmt(scores.get("score"))}</td>'
            f'<td class="num">{_fmt(scores.get("all_empty_baseline"))}</td>'
            f'<td class="num">{_fmt(scores.get("positive_only"))}</td></tr>'
        )
    lines.append("</tbody></table>")
    groups: dict[str | None, dict[str, int]] = {None: dict.fromkeys(OUTCOMES, 0)}
    for cls in _classes(report, rows):
        groups[cls] = dict.fromkeys(OUTCOMES, 0)
    for row in rows:
        groups[None][row.outcome] += 1
        if row.cls is not None:
            groups[row.cls][row.outcome] += 1
    lines.append('<table class="summary"><caption>Rows by outcome</caption>'
                 "<thead><tr><th></th>"
                 + "".join(f'<th class="num">{name}</th>' for name in OUTCOMES.values())
                 + "</tr></thead><tbody>")
    for cls, counts in groups.items():
        label = "all" if cls is None else f"class {html.escape(cls)}"
        lines.append(f'<tr><th scope="row">{label}</th>'
                     + "".join(f'<td class="num">{counts[o]:,}</td>' for o in OUTCOMES)
                     + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _options_text(report: Any) -> str:
    options = getattr(report, "options", None) or {}
    return ", ".join(f"{k}={v!r}" for k, v in options.items()) or "none"


def _thumbnail_note(selection: _Selection | None, drawn: dict, n_rows: int, why_none: str,
                    n_unsized: int, n_neutral: int) -> str:
    """What the page says about its thumbnails: how many, which rows, what is missing."""
    if selection is None:
        return f"No thumbnails: {why_none}."
    s = selection
    if s.all_errors:
        errors = f"every false positive and false negative ({s.n_errors_total:,})"
    else:  # the limit cut them: say how many are missing
        errors = (f"{s.n_errors_drawn:,} of the {s.n_errors_total:,} false positives and false "
                  f"negatives")
    if len(s.rows) == n_rows:
        text = f"{len(drawn):,} thumbnails (at most {s.limit:,}): one for every row."
    else:
        text = (f"{len(drawn):,} thumbnails (at most {s.limit:,}), for the rows looked at "
                f"first: the {s.n_worst:,} lowest-scoring, {errors} and a random sample of "
                f"{s.n_sample:,} of the others.")
    if n_neutral:
        text += f" {n_neutral:,} drawn on a neutral grey: no image for them."
    if n_unsized:
        text += f" {n_unsized:,} left out: neither an image nor a mask size for them."
    return text


def _columns(rows: Sequence[_Row], with_thumbnails: bool) -> list[tuple[str, str, str]]:
    """(key, heading, kind) of the table's columns; kind "num", "text" or "" (not sortable)."""
    columns = [("thumb", "overlay", "")] if with_thumbnails else []
    columns.append(("id", "image id", "text"))
    if any(r.cls is not None for r in rows):
        columns.append(("class", "class", "text"))
    columns += [("score", "score", "num"), ("truth_area", "truth area", "num"),
                ("pred_area", "predicted area", "num")]
    if any(r.tp is not None for r in rows):
        columns += [("tp", "TP objects", "num"), ("fp", "FP objects", "num"),
                    ("fn", "FN objects", "num")]
    columns.append(("outcome", "outcome", "text"))
    return columns


def _thumb_cell(row: _Row, drawn: dict[int, _Drawn], files: str) -> str:
    item = drawn.get(row.index)
    if item is None:
        return '<td class="thumb muted">—</td>'
    w, h = item.size
    img = (f'<img src="{files}/t{row.index:06d}.png" width="{w}" height="{h}" loading="lazy" '
           f'alt="overlay of {html.escape(row.image_id)}">')
    if item.full:
        img = f'<a href="{files}/f{row.index:06d}.png">{img}</a>'
    return f'<td class="thumb">{img}</td>'


def _cells(row: _Row, columns: Sequence[tuple[str, str, str]], drawn: dict, files: str) -> str:
    out = []
    for key, _, _ in columns:
        if key == "thumb":
            out.append(_thumb_cell(row, drawn, files))
        elif key == "id":
            out.append(f'<td class="id">{html.escape(row.image_id)}</td>')
        elif key == "class":
            out.append(f"<td>{html.escape(row.cls or '')}</td>")
        elif key == "score":
            skipped = row.score is None or math.isnan(row.score)
            value = "" if skipped else repr(row.score)
            out.append(f'<td class="num" data-v="{value}">{_fmt(row.score)}</td>')
        elif key == "outcome":
            out.append(f'<td class="outcome o-{row.outcome}">{OUTCOMES[row.outcome]}</td>')
        else:
            value = getattr(row, key)
            out.append(f'<td class="num">{"" if value is None else value}</td>')
    return "".join(out)


def _table_html(rows: Sequence[_Row], drawn: dict[int, _Drawn], files: str) -> str:
    columns = _columns(rows, bool(drawn))
    head = "".join(
        f'<th{" class=num" if kind == "num" else ""}'
        f'{f" data-kind={kind}" if kind else ""}'
        f'{" aria-sort=ascending" if key == "score" else ""}>{heading}</th>'
        for key, heading, kind in columns
    )
    body = "\n".join(
        f'<tr data-outcome="{r.outcome}" data-class="{html.escape(r.cls or "")}">'
        f"{_cells(r, columns, drawn, files)}</tr>"
        for r in rows
    )
    return (f'<table id="rows"><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>'
            "</table>")


def _filters_html(report: Any, rows: Sequence[_Row]) -> str:
    """The outcome and class filters: hidden until the script shows them."""
    boxes = "".join(
        f'<label><input type="checkbox" name="outcome" value="{code}" checked> {name}</label>'
        for code, name in OUTCOMES.items()
    )
    classes = _classes(report, rows)
    select = ""
    if classes:
        options = "".join(f'<option value="{html.escape(c)}">{html.escape(c)}</option>'
                          for c in classes)
        select = (f'<label>class <select name="class"><option value="">all</option>'
                  f"{options}</select></label>")
    return (f'<form id="filters" hidden><fieldset><legend>outcome</legend>{boxes}</fieldset>'
            f'{select}</form>')


def _legend_html() -> str:
    names = (("truth", "truth only (missed)"), ("pred", "prediction only (false alarm)"),
             ("both", "truth and prediction"))
    items = "".join(f'<span><span class="swatch sw-{key}"></span>{text}</span>'
                    for key, text in names)
    return f'<p class="legend">{items}<span class="muted">boxes: one per region</span></p>'


def _page_html(report: Any, rows: Sequence[_Row], drawn: dict, files: str,
               note: str, title: str) -> str:
    n_rows = len(rows)
    n_images = len({r.image_id for r in rows})
    classes = any(r.cls is not None for r in rows)
    per = ", one row per image and class" if classes else ""
    counted = f"{n_rows:,} rows ({n_images:,} images{per})"
    return "\n".join([
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # nothing may come from the network: only this file, its images and inline code
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
        '<link rel="icon" href="data:,">',
        f"<title>{html.escape(title)}</title>",
        f"<style>\n{_asset('report_page.css')}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p>Metric <strong>{html.escape(str(report.metric))}</strong>; options: '
        f"{html.escape(_options_text(report))}; {int(report.n_images):,} images scored.</p>",
        _summary_html(report, rows),
        "<h2>Every row</h2>",
        f'<p id="counts">The table shows all {counted}, worst first. {html.escape(note)}</p>',
        _legend_html() if drawn else "",
        "<noscript><p class=\"note\">Sorting and filtering need JavaScript; "
        "the table below is in worst-first order.</p></noscript>",
        _filters_html(report, rows),
        f'<p id="shown">Showing {n_rows:,} of {n_rows:,} rows</p>',
        _table_html(rows, drawn, files),
        f"<script>\n{_asset('report_page.js')}</script>",
        "</body></html>",
        "",
    ])


@contextlib.contextmanager
def _new_folder(final: Path) -> Iterator[Path]:
    """A temporary folder beside ``final`` that replaces it when the block succeeds.

    The old folder is moved aside before the new one is renamed in, so a
    reader sees either the old overlays or the new ones, never a mixture.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    # mkdtemp's folder is private (0700); the page's is as readable as the folder it is in
    os.chmod(tmp, stat.S_IMODE(os.stat(final.parent).st_mode))
    try:
        yield tmp
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
            os.replace(final, old / final.name)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}; received {name}={value!r}")
    return int(value)


def _html_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() in (".html", ".htm"):
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    if path.exists() and not path.is_dir():
        raise ValueError(f"`path` must be a folder or an .html file; received {str(path)!r}, "
                         "an existing file")
    path.mkdir(parents=True, exist_ok=True)
    return path / "index.html"


def write_report_page(
    report: Any,
    path: str | os.PathLike,
    *,
    data: Any = None,
    max_thumbnails: int | None = None,
    thumbnail_size: int = 160,
    full_size: bool = True,
    title: str | None = None,
    seed: int = 0,
) -> Path:
    """Write the error-analysis page of ``report``; returns the HTML file's path.

    Parameters
    ----------
    report : rlemask.ScoreReport
        What :func:`rlemask.score` returned.  Its ``truth`` and
        ``submission`` labels give the overlays' masks.
    path : str or os.PathLike
        A folder (created if missing) that receives ``index.html``, or the
        ``.html`` file itself (``run/report.html``).  The overlays go to a
        folder beside the HTML file named after it (``index_files/``),
        replaced whole on every write; the HTML file is written atomically.
    data : str, os.PathLike or Dataset, optional
        The images: a folder (read with :func:`rlemask.load_dataset` against
        ``report.truth``) or a Dataset.  None: no images.
    max_thumbnails : int, optional
        Most rows drawn.  Default: 200 with ``data``, none without it; a
        number without ``data`` draws the masks on a neutral grey (sized by
        ``report.shape`` or the labels' own sizes).
    thumbnail_size : int, default 160
        Thumbnails fit in ``2 * thumbnail_size`` wide by ``thumbnail_size``
        high pixels.
    full_size : bool, default True
        Also write each drawn row's overlay at the image's size (a palette
        PNG), linked from its thumbnail.
    title : str, optional
        The page's heading (default: the metric and the number of images).
    seed : int, default 0
        Seed of the random sample of rows drawn besides the worst and the errors.

    Returns
    -------
    pathlib.Path
        The HTML file.

    Raises
    ------
    TypeError
        ``report`` is not a score report, ``data`` neither a folder nor a Dataset.
    ValueError
        A bad ``max_thumbnails``, ``thumbnail_size``, ``path`` or ``data``.

    Examples
    --------
    See the module docstring.
    """
    return _write_page(report, path, data=data, max_thumbnails=max_thumbnails,
                       thumbnail_size=thumbnail_size, full_size=full_size, title=title,
                       seed=seed)[0]


def _write_page(
    report: Any, path: str | os.PathLike, *, data: Any, max_thumbnails: int | None,
    thumbnail_size: int, full_size: bool, title: str | None, seed: int,
) -> tuple[Path, int]:
    """:func:`write_report_page`, also returning the number of thumbnails drawn."""
    _check_report(report)
    limit = None if max_thumbnails is None else _count(max_thumbnails, "max_thumbnails", 0)
    size = _count(thumbnail_size, "thumbnail_size", 16)
    html_path = _html_path(path)
    rows = _rows(report)
    images = _Images(data, getattr(report, "truth", None))
    if limit is None:
        limit = DEFAULT_MAX_THUMBNAILS if images.dataset is not None else 0
    files = f"{html_path.stem}_files"
    folder = html_path.parent / files
    drawn: dict[int, _Drawn] = {}
    selection, n_unsized, n_neutral = None, 0, 0
    undrawable = [name for name in ("truth", "submission")
                  if not callable(getattr(getattr(report, name, None), "mask", None))]
    if undrawable:
        limit = 0  # nothing to draw the masks from
        verb = "hold" if len(undrawable) == 2 else "holds"
        why_none = (f"the report's {' and '.join(undrawable)} {verb} no masks "
                    "(report.truth / report.submission have no mask())")
    elif images.dataset is None:
        why_none = "no image data was given (data=, or --data on the command line)"
    else:
        why_none = "max_thumbnails=0"
    if limit > 0 and rows:
        selection = _select(rows, limit, seed)
        with _new_folder(folder) as tmp:
            drawn, n_unsized, n_neutral = _write_overlays(
                report, images, selection, tmp, size=size, full_size=full_size)
    note = _thumbnail_note(selection, drawn, len(rows), why_none, n_unsized, n_neutral)
    title = title or f"{report.metric}: {int(report.n_images):,} images"
    with atomic_write(html_path, "w", encoding="utf-8") as handle:
        handle.write(_page_html(report, rows, drawn, files, note, title))
    if selection is None and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)  # the overlays of an earlier page
    return html_path, len(drawn)
