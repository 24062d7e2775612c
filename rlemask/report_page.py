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

The overlays are drawn by :mod:`rlemask.report_overlays` (three Okabe-Ito
colours over the grey image, a box per region).  Without image data
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
import html
import math
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
from rlemask.report_overlays import ImageSource, LabelMasks, draw_overlay, row_pixels

__all__ = ["write_report_page", "OUTCOMES"]

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


@dataclass(frozen=True)
class _Drawn:
    size: tuple[int, int]  # the thumbnail's (width, height)
    full: bool  # a full-size overlay was written


def _write_overlays(
    report: Any, sides: tuple[LabelMasks, LabelMasks], images: ImageSource,
    selection: _Selection, folder: Path, *,
    size: int, full_size: bool,
) -> tuple[dict[int, _Drawn], int, int]:
    """Draw the selected rows into ``folder``.

    Returns {row index: drawn}, and the counts of rows without a size and drawn on grey.
    """
    drawn: dict[int, _Drawn] = {}
    n_unsized = n_neutral = 0
    shape = getattr(report, "shape", None)
    for row in sorted(selection.rows, key=lambda r: (r.image_id, r.cls or "")):
        pixels = row_pixels(shape, sides, images, row.image_id, row.cls)
        if pixels is None:
            n_unsized += 1
            continue
        grey, truth, pred, has_image = pixels
        n_neutral += not has_image
        full, thumb = draw_overlay(grey, truth, pred, size)
        thumb.save(folder / f"t{row.index:06d}.png", "PNG", optimize=False)
        if full_size:
            full.save(folder / f"f{row.index:06d}.png", "PNG", compress_level=1)
        drawn[row.index] = _Drawn(size=thumb.size, full=full_size)
    return drawn, n_unsized, n_neutral


# -- the page ------------------------------------------------------------------
def _asset(name: str) -> str:
    return resources.files("rlemask").joinpath(name).read_text(encoding="utf-8")


def _fmt(value: Any, nan: str = "n/a") -> str:
    """Four decimals; NaN as ``nan``: "skipped" for a row the empty rule skipped, "n/a"
    for a summary with nothing to average (no non-empty truth)."""
    if value is None:
        return "—"
    value = float(value)
    return nan if math.isnan(value) else f"{value:.4f}"


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

    def shown(value: Any) -> str:  # a function by its name, never its address
        return getattr(value, "__name__", repr(value)) if callable(value) else repr(value)

    return ", ".join(f"{k}={shown(v)}" for k, v in options.items()) or "none"


def _scored_html(report: Any) -> str:
    """What was scored: the metric, its options, the competition, ids missing or extra."""
    competition = getattr(report, "competition", None)
    text = (f"Metric <strong>{html.escape(str(report.metric))}</strong>"
            + (f" ({html.escape(str(competition))})" if competition else "")
            + f"; options: {html.escape(_options_text(report))}; "
            f"{int(report.n_images):,} images scored.")
    for name, side, what in (
        ("missing_in_submission", "truth", "without a submission row, scored as empty"),
        ("extra_in_submission", "submission", "not in the truth, not scored"),
    ):
        ids = list(getattr(report, name, None) or [])
        if ids:
            few = ", ".join(html.escape(str(i)) for i in ids[:5])
            text += (f" {len(ids):,} {side} id{'s' if len(ids) != 1 else ''} {what}: "
                     f"{few}{', ...' if len(ids) > 5 else ''}.")
    return f"<p>{text}</p>"


def _thumbnail_note(selection: _Selection | None, drawn: dict, n_rows: int, why_none: str,
                    n_unsized: int, n_neutral: int) -> str:
    """What the page says about its thumbnails: how many, which rows, what is missing."""
    if selection is None:
        return f"No thumbnails: {why_none}."
    s = selection
    if len(s.rows) == n_rows:
        text = f"{len(drawn):,} thumbnails (at most {s.limit:,}): one for every row."
    else:
        parts = [f"the {s.n_worst:,} lowest-scoring"]
        if s.all_errors and s.n_errors_total:
            parts.append(f"every false positive and false negative ({s.n_errors_total:,})")
        elif s.n_errors_total:  # the limit cut them: say how many are missing
            parts.append(f"{s.n_errors_drawn:,} of the {s.n_errors_total:,} false positives "
                         "and false negatives")
        if s.n_sample:
            parts.append(f"a random sample of {s.n_sample:,} of the others")
        listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        text = (f"{len(drawn):,} thumbnails (at most {s.limit:,}), for the rows looked at "
                f"first: {listed}.")
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
            out.append(f'<td class="num" data-v="{value}">{_fmt(row.score, "skipped")}</td>')
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
        # ('self' where the page is served; file: where it is opened from disk, since
        # browsers differ on what 'self' means there)
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "img-src 'self' file: data:; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'\">",
        '<link rel="icon" href="data:,">',
        f"<title>{html.escape(title)}</title>",
        f"<style>\n{_asset('report_page.css')}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _scored_html(report),
        _summary_html(report, rows),
        "<h2>Every row</h2>",
        f'<p id="counts">The table holds all {counted}, worst first. {html.escape(note)}</p>',
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
    data : str, os.PathLike, Dataset, mapping or list of paths, optional
        The images: a folder (read with :func:`rlemask.load_dataset` against
        ``report.truth``), a Dataset, a mapping image id -> path, or a list of
        paths whose stems are the ids (a validation split).  None: no images.
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
    # a page written inside its data folder: its earlier overlays are not images of the set
    images = ImageSource(data, getattr(report, "truth", None), skip=(f"{html_path.stem}_files",))
    if limit is None:
        limit = DEFAULT_MAX_THUMBNAILS if images.dataset is not None else 0
    files = f"{html_path.stem}_files"
    folder = html_path.parent / files
    drawn: dict[int, _Drawn] = {}
    selection, n_unsized, n_neutral = None, 0, 0
    sides = (LabelMasks(getattr(report, "truth", None)),
             LabelMasks(getattr(report, "submission", None)))
    undrawable = [name for name, side in zip(("truth", "submission"), sides, strict=True)
                  if not side.drawable]
    if undrawable:
        limit = 0  # nothing to draw the masks from
        verb = "hold" if len(undrawable) == 2 else "holds"
        why_none = (f"the report's {' and '.join(undrawable)} {verb} no masks "
                    "(neither mask() nor rows with a format)")
    elif images.dataset is None:
        why_none = "no image data was given (data=, or --data on the command line)"
    else:
        why_none = "max_thumbnails=0"
    if limit > 0 and rows:
        selection = _select(rows, limit, seed)
        with _new_folder(folder) as tmp:
            drawn, n_unsized, n_neutral = _write_overlays(
                report, sides, images, selection, tmp, size=size, full_size=full_size)
    note = _thumbnail_note(selection, drawn, len(rows), why_none, n_unsized, n_neutral)
    title = title or f"{report.metric}: {int(report.n_images):,} images"
    with atomic_write(html_path, "w", encoding="utf-8") as handle:
        handle.write(_page_html(report, rows, drawn, files, note, title))
    if selection is None and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)  # the overlays of an earlier page
    return html_path, len(drawn)
