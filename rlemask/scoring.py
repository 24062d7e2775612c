"""``score``: a submission scored against the truth with any metric of the field, on runs.

:func:`score` reads both sides (anything :func:`rlemask.read_labels` takes,
a :class:`rlemask.Labels`, or a mapping id -> RLE texts), aligns them key by
key over the truth's ids (a truth id without rows in the submission counts as
empty; submission ids absent from the truth are listed, not scored), runs the
metric (:mod:`rlemask.field_metrics`, or any registered one) and returns a
:class:`rlemask.ScoreReport` with the all-empty baseline, the score over keys
whose truth is non-empty, and per class.  A ``competition=`` fixes layout,
format, image size, metric and options as the competition graded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from rlemask._validation import check_shape
from rlemask.competition_table import Competition
from rlemask.competition_table import competition as get_competition
from rlemask.label_reader import is_frame, read_labels
from rlemask.label_table import Labels
from rlemask.metric_registry import get_metric
from rlemask.runs import Runs
from rlemask.score_pairs import ScorePairs
from rlemask.score_report import ScoreReport

__all__ = ["score"]


class _MappingLabels:
    """A mapping ``id -> RLE text(s) or Runs`` seen through the part of ``Labels`` scoring uses."""

    classes: tuple[str, ...] = ()
    layout = "single"

    def __init__(self, mapping: Mapping[Any, Any], format: str | None, name: str):
        self._rows: dict[str, list[Any]] = {}
        for key, value in mapping.items():
            if isinstance(value, (str, bytes, Runs)) or value is None:
                value = [value]
            elif not isinstance(value, Iterable):
                raise TypeError(
                    f"{name}[{key!r}] must be an RLE text, Runs or a list of them; "
                    f"received {type(value).__name__}"
                )
            image_id = str(key)
            if image_id in self._rows:
                raise ValueError(f"{name}: two keys print as the id {image_id!r}")
            self._rows[image_id] = list(value)
        self.ids = tuple(self._rows)
        self.format = format
        self.source = name

    def iter_rows(self):
        for image_id, values in self._rows.items():
            if not values:
                yield image_id, None, None
            for v in values:
                yield image_id, None, v

    def shape_of(self, image_id: str) -> None:
        return None


def _side(source: Any, name: str, comp: Competition | None, fmt: str | None, shape) -> Any:
    """``source`` as a Labels-like table."""
    if isinstance(source, (Labels, _MappingLabels)):
        return source
    if isinstance(source, Mapping):
        return _MappingLabels(source, fmt, name)
    if isinstance(source, (str, os.PathLike)) or is_frame(source):
        # the layout is decided from each file's header (a truth file may be laid out
        # unlike the submission); the format is the competition's unless named
        fmt = fmt or (comp.format if comp is not None else "auto")
        return read_labels(source, format=fmt, shape=shape)
    raise TypeError(
        f"`{name}` must be a CSV path, a pandas DataFrame, rlemask.Labels or a mapping "
        f"id -> RLE texts; received {type(source).__name__}"
    )


def _rows(labels: Any, per_class: bool) -> dict[tuple[str, Any], list[Any]]:
    """``(id, class or None) -> [texts]`` of the non-empty rows (classes OR-ed unless per_class)."""
    out: dict[tuple[str, Any], list[Any]] = {}
    for image_id, cls, text in labels.iter_rows():
        key = (image_id, cls if per_class else None)
        rows = out.setdefault(key, [])
        if text is not None:
            rows.append(text)
    return out


def _format_of(side: Any, fmt: str | None, comp: Competition | None, name: str) -> str:
    """The format ``side``'s texts are read in: named, the file's own, the competition's.

    A side whose texts cannot tell (``read_labels`` left the format undecided,
    or a mapping given without ``format=``) is an error, never a guess -- unless
    it holds no text to read.
    """
    if fmt is not None:
        return fmt
    if getattr(side, "format", None):
        return side.format
    if comp is not None:
        return comp.format
    if not any(isinstance(text, (str, bytes)) for _, _, text in side.iter_rows()):
        return "kaggle"  # nothing to parse: any format reads it
    evidence = getattr(side, "format_evidence", "")
    raise ValueError(
        f"{side.source}: the RLE format of the {name} is undecided"
        + (f" ({evidence})" if evidence else "")
        + f"; name it with format= or {name}_format= (siim, kaggle, ...), or competition="
    )


def _classes(truth: Any, sub: Any, comp: Competition | None) -> tuple[str, ...]:
    names = list(comp.classes) if comp is not None else []
    for c in (*truth.classes, *sub.classes):
        if c not in names:
            names.append(c)
    return tuple(names)


def _build(truth, sub, metric, shape, formats, comp, only_class=None) -> ScorePairs:
    """The pairs the metric scores: keys over the truth's ids, texts of both sides."""
    per_class = getattr(metric, "keys", "image") == "class"
    classes = _classes(truth, sub, comp)
    t_rows = _rows(truth, per_class or only_class is not None)
    s_rows = _rows(sub, per_class or only_class is not None)
    keys: list[tuple[str, Any]] = []
    for image_id in truth.ids:
        if only_class is not None:
            keys.append((image_id, only_class if per_class else None))
        elif per_class and classes:
            keys += [(image_id, c) for c in classes]
        else:
            keys.append((image_id, None))

    def texts(rows, key):
        lookup = key if only_class is None or per_class else (key[0], only_class)
        return rows.get(lookup, [])

    shapes = [shape or truth.shape_of(k[0]) for k in keys]
    if getattr(metric, "needs_shape", False) and any(s is None for s in shapes):
        missing = next(k[0] for k, s in zip(keys, shapes, strict=True) if s is None)
        raise ValueError(
            f"the metric needs each image's shape and image {missing!r} has none: pass "
            "shape=(height, width), or a truth file with height/width columns"
        )
    return ScorePairs(
        keys, [texts(t_rows, k) for k in keys], [texts(s_rows, k) for k in keys],
        formats[0], formats[1], shapes, names=(truth.source, sub.source),
    )


def _summary(metric: Callable[..., Any], pairs: ScorePairs, options: dict) -> tuple:
    """``(result, all-empty baseline, positive-only score)`` of one set of pairs."""
    result = metric(pairs, **options)
    baseline = metric(pairs.with_empty_submission(), **options).score
    positive = np.flatnonzero(~pairs.truth_empty())
    if not positive.size:
        positive_only = np.nan
    elif getattr(metric, "mean_over_keys", False):  # the mean of its rows: no second match
        kept = np.array([result.rows[k]["score"] for k in positive], np.float64)
        kept = kept[~np.isnan(kept)]
        positive_only = kept.mean() if kept.size else np.nan
    else:
        positive_only = metric(pairs.subset(positive), **options).score
    return result, float(baseline), float(positive_only)


def score(
    submission: Any,
    truth: Any,
    *,
    metric: str = "dice",
    competition: str | None = None,
    shape: tuple[int, int] | None = None,
    format: str | None = None,
    truth_format: str | None = None,
    submission_format: str | None = None,
    **options: Any,
) -> ScoreReport:
    """Score ``submission`` against ``truth`` as a competition of the field graded it.

    Parameters
    ----------
    submission, truth : path, pandas.DataFrame, rlemask.Labels or mapping
        Label files (read with :func:`rlemask.read_labels`, each in its own
        convention), tables, or mappings image id -> RLE text(s) or
        :class:`rlemask.Runs` (single class).
    metric : str
        A name of :func:`rlemask.metrics`: ``"dice"`` (per image, rows OR-ed),
        ``"class-dice"`` (per image and class), ``"global-dice"`` (pooled),
        ``"iou-sweep"``, ``"f2-sweep"`` (objects matched at IoU 0.50 ...
        0.95), ``"dice-hausdorff"`` (UW-Madison).  Each metric's options are
        in its docstring (:mod:`rlemask.field_metrics`).
    competition : str, optional
        A name of :func:`rlemask.competitions`: its metric, options, layout,
        format and image size (``metric=`` and ``shape=`` may still override).
    shape : (int, int), optional
        Image ``(height, width)``.  Only ``"dice-hausdorff"`` needs one (or
        per-image height/width columns); the others compare texts of one
        scan order on their runs, and check that they fit when given.
    format, truth_format, submission_format : str, optional
        RLE format of both sides, or of each; default: the competition's,
        else each file's own (decided by ``read_labels``).  A side whose
        format nothing decides is an error, never a guess.
    **options
        The metric's options (e.g. ``empty="skip"``, ``thresholds=``).

    Returns
    -------
    ScoreReport

    Raises
    ------
    ValueError
        An unknown metric or competition (the message lists the known ones),
        a truth without images, no id in common, a missing shape.
    rlemask.RLEError
        A malformed row or one that does not fit ``shape``; the message names
        the side, the image and the class.

    Examples
    --------
    >>> import rlemask
    >>> truth = {"a": ["1 4", "9 4"], "b": []}
    >>> sub = {"a": ["1 4", "10 3"], "b": ["3 1"]}
    >>> r = rlemask.score(sub, truth, metric="iou-sweep", format="kaggle")
    >>> round(r.score, 4), r.all_empty_baseline  # IoU 3/4 is no match at 0.75
    (0.3333, 0.5)
    >>> [(row["image_id"], round(row["score"], 4), row["tp"]) for row in r.per_image]
    [('a', 0.6667, 2), ('b', 0.0, 0)]
    """
    comp = get_competition(competition) if competition is not None else None
    if comp is not None:
        if metric == "dice" and comp.metric != "dice":  # the default, not a choice
            metric = comp.metric
        options = {**comp.options, **options} if metric == comp.metric else options
        shape = shape if shape is not None else comp.shape
    if shape is not None:
        shape = check_shape(shape)
    fn = get_metric(metric)
    fmts = (truth_format or format, submission_format or format)
    t = _side(truth, "truth", comp, fmts[0], shape)
    s = _side(submission, "submission", comp, fmts[1], shape)
    if not t.ids:
        raise ValueError(f"{t.source}: the truth holds no images")
    sub_ids = set(s.ids)
    if not any(i in sub_ids for i in t.ids):
        raise ValueError(
            f"{s.source} and {t.source} share no image id (truth e.g. {t.ids[0]!r}"
            + (f", submission e.g. {s.ids[0]!r}" if s.ids else "")
            + "); are both files from the same data set?"
        )
    formats = (_format_of(t, fmts[0], comp, "truth"),
               _format_of(s, fmts[1], comp, "submission"))
    orders = [getattr(side, "format_options", {}).get("order", "F") for side in (t, s)]
    if orders[0] != orders[1]:  # runs are compared as they are scanned: one order for both
        raise ValueError(
            f"{t.source} is scanned in order {orders[0]!r} and {s.source} in {orders[1]!r}: "
            "read both in one scan order (read_labels(..., order=))"
        )
    for side, fmt in zip((t, s), formats, strict=True):
        if isinstance(side, _MappingLabels):  # the report's readers need it (report page)
            side.format = fmt
    pairs = _build(t, s, fn, shape, formats, comp)
    result, baseline, positive_only = _summary(fn, pairs, options)
    per_class = {}
    if t.classes or s.classes:
        for cls in _classes(t, s, comp):
            c_pairs = _build(t, s, fn, shape, formats, comp, only_class=cls)
            c_res, c_base, c_pos = _summary(fn, c_pairs, options)
            per_class[cls] = {
                "score": c_res.score, "all_empty_baseline": c_base, "positive_only": c_pos
            }
    rows = [
        {"image_id": k[0], "class": k[1], **row}
        for k, row in zip(pairs.keys, result.rows, strict=True)
    ] if result.rows else []
    truth_ids = set(t.ids)
    return ScoreReport(
        score=float(result.score), metric=metric, options=result.options,
        n_images=len(t.ids), all_empty_baseline=baseline, positive_only=positive_only,
        per_class=per_class, per_image=rows, truth=t, submission=s, shape=shape,
        competition=None if comp is None else comp.name,
        missing_in_submission=[i for i in t.ids if i not in sub_ids],
        extra_in_submission=[i for i in s.ids if i not in truth_ids],
        extra=result.extra,
    )
