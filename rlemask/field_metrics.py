"""The metrics of the field, computed on runs (definitions: FORMATS.md, "Metrics of the field").

Each metric is a function ``metric(pairs, **options) -> MetricResult`` of a
:class:`rlemask.score_pairs.ScorePairs`, with two attributes that tell
:func:`rlemask.score` how to build the pairs:

``keys``
    ``"image"``: one key per image, the rows of all its classes together
    (OR-ed for Dice, objects for matching); ``"class"``: one key per
    (image, class) pair.
``needs_shape``
    Whether the image geometry is needed (only ``"dice-hausdorff"``: the
    others compare texts of one scan order on their linear runs).
``mean_over_keys`` (optional)
    The score is the mean of the rows' scores (NaN rows left out), so the
    score over any subset of keys is the mean of those rows.

Every empty rule is an explicit option and is returned in
``MetricResult.options``, so a report always states it.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from rlemask.hausdorff import hausdorff_3d
from rlemask.score_pairs import ScorePairs

__all__ = [
    "BUILTIN_METRICS",
    "MetricResult",
    "class_dice",
    "dice",
    "dice_hausdorff",
    "f2_sweep",
    "global_dice",
    "iou_sweep",
    "sweep_thresholds",
]

#: 0.50, 0.55, ..., 0.95 as exact fractions
SWEEP = tuple(Fraction(50 + 5 * i, 100) for i in range(10))
_VOLUME_ID = re.compile(r"^(?P<volume>.+?)_slice_(?P<slice>\d+)$")


@dataclass
class MetricResult:
    """What a metric returns.

    Attributes
    ----------
    score : float
        The metric over every key (NaN when every key was skipped).
    rows : list of dict
        One per key, in the pairs' order: ``score`` (NaN where skipped),
        ``truth_area``, ``pred_area``, ``tp``, ``fp``, ``fn`` (``None`` where
        objects are not matched).
    options : dict
        The options used, the empty rule included.
    extra : dict
        Anything else the metric reports (e.g. per-volume Hausdorff rows).
    """

    score: float
    rows: list[dict[str, Any]]
    options: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


def _declare(keys: str, *, needs_shape: bool = False, mean_over_keys: bool = False):
    """Set a metric's attributes (see the module docstring)."""

    def mark(fn: Callable[..., MetricResult]) -> Callable[..., MetricResult]:
        fn.keys = keys
        fn.needs_shape = needs_shape
        fn.mean_over_keys = mean_over_keys
        return fn

    return mark


def _check_empty(empty: Any) -> float:
    """The empty rule as a float (NaN for ``"skip"``)."""
    if isinstance(empty, str) and empty == "skip":
        return math.nan
    if isinstance(empty, (bool, np.bool_)) or not isinstance(empty, numbers.Real):
        raise TypeError(f'`empty` must be a number or "skip"; received empty={empty!r}')
    if not 0.0 <= float(empty) <= 1.0:
        raise ValueError(f'`empty` must be in [0, 1] or "skip"; received empty={empty!r}')
    return float(empty)


def _nanmean(values: Any) -> float:
    arr = np.asarray(values, np.float64)
    kept = arr[~np.isnan(arr)]
    return float(kept.mean()) if kept.size else math.nan


def _dice_rows(counts: np.ndarray, empty: float) -> tuple[np.ndarray, list[dict[str, Any]]]:
    ta, pa, inter = counts[:, 0], counts[:, 1], counts[:, 2]
    total = ta + pa
    scores = np.full(len(counts), empty, np.float64)
    np.divide(2.0 * inter, total, out=scores, where=total > 0)
    rows = [
        {"score": float(s), "truth_area": int(a), "pred_area": int(b),
         "tp": None, "fp": None, "fn": None}
        for s, a, b in zip(scores, ta, pa, strict=True)
    ]
    return scores, rows


@_declare("image", mean_over_keys=True)
def dice(pairs: ScorePairs, *, empty: float | str = 1.0) -> MetricResult:
    """Per-image Dice (SIIM, HuBMAP kidney): the mean over images of ``2|X & Y| / (|X| + |Y|)``.

    The rows of an image (its regions, and its classes) are OR-ed first.

    Options
    -------
    empty : 1.0, 0.0 or "skip"
        Score of an image where truth and submission are both empty
        (``"skip"``: left out of the mean).  A submission on an empty truth,
        or an empty submission on a non-empty truth, scores 0.
    """
    return _mean_dice(pairs, empty)


def _mean_dice(pairs: ScorePairs, empty: Any) -> MetricResult:
    """The mean over keys of each key's Dice (the body of ``dice`` and ``class-dice``)."""
    scores, rows = _dice_rows(pairs.dice_counts(), _check_empty(empty))
    return MetricResult(_nanmean(scores), rows, {"empty": empty})


@_declare("class", mean_over_keys=True)
def class_dice(pairs: ScorePairs, *, empty: float | str = 1.0) -> MetricResult:
    """Per-(image, class) Dice (Severstal, Clouds): the mean over every pair of Dice.

    Options
    -------
    empty : 1.0, 0.0 or "skip"
        Score of a pair where both are empty (``"skip"``: left out).
    """
    return _mean_dice(pairs, empty)


@_declare("image")
def global_dice(pairs: ScorePairs, *, empty: float | str = 1.0) -> MetricResult:
    """Dice pooled over every pixel of every image (contrails): ``2 S|X & Y| / (S|X| + S|Y|)``.

    The rows' ``score`` is each image's own Dice (NaN where both are empty),
    for reading only: the score is the pooled one.

    Options
    -------
    empty : 1.0, 0.0 or "skip"
        The score when truth and submission are empty on every image
        (``"skip"``: NaN).
    """
    rule = _check_empty(empty)
    counts = pairs.dice_counts()
    _, rows = _dice_rows(counts, math.nan)
    total = int(counts[:, 0].sum() + counts[:, 1].sum())
    score = 2.0 * int(counts[:, 2].sum()) / total if total else rule
    return MetricResult(score, rows, {"empty": empty})


def sweep_thresholds(thresholds: Any) -> tuple[Fraction, ...]:
    """IoU thresholds as exact fractions (``0.55`` is 11/20, not the nearest double).

    Examples
    --------
    >>> sweep_thresholds([0.5, 0.55])
    (Fraction(1, 2), Fraction(11, 20))
    """
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Sequence):
        raise TypeError(
            f"`thresholds` must be a sequence of numbers; received thresholds={thresholds!r}"
        )
    out = []
    for t in thresholds:
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Real):
            raise TypeError(f"`thresholds` must hold numbers; received {t!r}")
        frac = t if isinstance(t, Fraction) else Fraction(repr(float(t)))
        if not 0 <= frac < 1:
            raise ValueError(f"`thresholds` must lie in [0, 1); received {t!r}")
        out.append(frac.limit_denominator(10**6))
    if not out:
        raise ValueError("`thresholds` must hold at least one threshold; received []")
    return tuple(out)


def _sweep(
    pairs: ScorePairs, thresholds: Any, empty: Any, value: Callable[..., np.ndarray]
) -> MetricResult:
    """Match objects at every threshold, then ``value(tp, fp, fn)`` per threshold."""
    rule = _check_empty(empty)
    thr = sweep_thresholds(thresholds)
    m = pairs.match([(t.numerator, t.denominator) for t in thr])
    tp = m["tp"]
    fp = m["n_pred"][:, None] - tp
    fn = m["n_true"][:, None] - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        per_t = value(tp.astype(np.float64), fp.astype(np.float64), fn.astype(np.float64))
    both_empty = (m["n_true"] == 0) & (m["n_pred"] == 0)
    scores = np.where(both_empty, rule, per_t.mean(axis=1) if tp.size else rule)
    rows = [
        {"score": float(scores[k]), "truth_area": int(m["truth_area"][k]),
         "pred_area": int(m["pred_area"][k]), "tp": int(tp[k, 0]), "fp": int(fp[k, 0]),
         "fn": int(fn[k, 0])}
        for k in range(len(pairs))
    ]
    options = {
        "thresholds": [float(t) for t in thr],
        "empty": empty,
        "counts_at": float(thr[0]),  # the rows' tp/fp/fn are those of the first threshold
    }
    return MetricResult(_nanmean(scores), rows, options, {"pairs_compared": int(m["compared"])})


@_declare("image", mean_over_keys=True)
def iou_sweep(
    pairs: ScorePairs, *, thresholds: Sequence[float] = SWEEP, empty: float | str = 1.0
) -> MetricResult:
    """IoU-sweep precision (DSB 2018, Sartorius, TGS): mean over thresholds of TP / (TP + FP + FN).

    Per image and threshold ``t``, objects (rows) are matched one to one when
    their IoU exceeds ``t`` (strictly: an IoU of exactly 0.5 is no match at
    0.5; compared exactly, as fractions); the image scores the mean over the
    thresholds, the set the mean over images.  A truth with no object and any
    submitted object scores 0.

    Options
    -------
    thresholds : sequence of float
        Default 0.50, 0.55, ..., 0.95.
    empty : 1.0, 0.0 or "skip"
        Score of an image where both sides have no object.
    """
    return _sweep(pairs, thresholds, empty, lambda tp, fp, fn: tp / (tp + fp + fn))


@_declare("image", mean_over_keys=True)
def f2_sweep(
    pairs: ScorePairs, *, thresholds: Sequence[float] = SWEEP, empty: float | str = 1.0
) -> MetricResult:
    """F2 sweep (Airbus): mean over thresholds of 5 TP / (5 TP + 4 FN + FP), then over images.

    The matching is :func:`iou_sweep`'s.

    Options
    -------
    thresholds : sequence of float
        Default 0.50, 0.55, ..., 0.95.
    empty : 1.0, 0.0 or "skip"
        Score of an image where both sides have no object.
    """
    return _sweep(pairs, thresholds, empty, lambda tp, fp, fn: 5 * tp / (5 * tp + 4 * fn + fp))


def case_day(image_id: str) -> str:
    """The volume of a UW-Madison slice id: ``case123_day20_slice_0001`` -> ``case123_day20``.

    Examples
    --------
    >>> case_day("case123_day20_slice_0001")
    'case123_day20'
    """
    match = _VOLUME_ID.match(image_id)
    if match is None:
        raise ValueError(
            f"slice id {image_id!r} does not follow the pattern 'caseN_dayM_slice_K'; "
            "pass volume=callable(image_id) -> volume id"
        )
    return match.group("volume")


def _volumes(pairs: ScorePairs, volume: Callable[[str], str], classes: str) -> dict:
    """Volume key -> the pair indices of its slices, sorted by slice id."""
    groups: dict[tuple[str, Any], list[int]] = {}
    for k, (image_id, cls) in enumerate(pairs.keys):
        key = (volume(image_id), cls if classes == "each" else None)
        groups.setdefault(key, []).append(k)
    for ks in groups.values():
        ks.sort(key=lambda k: pairs.keys[k][0])
    return groups


def _volume_shape(pairs: ScorePairs, slices: list[int], ids: list[str]) -> tuple[int, int]:
    shapes = {pairs.shapes[k] for k in slices}
    if len(shapes) != 1 or None in shapes:
        raise ValueError(
            f"the slices of a volume must share one known shape; volume of {ids[0]!r} has "
            f"{sorted(map(str, shapes))}"
        )
    return shapes.pop()


def _volume_hausdorff(pairs: ScorePairs, slices: list[int], ids: list[str]) -> float:
    """One volume's Hausdorff; the volumes are stacked only when the answer needs them."""
    _volume_shape(pairs, slices, ids)
    truth = any(pairs.sides[0][k] for k in slices)
    pred = any(pairs.sides[1][k] for k in slices)
    if not truth or not pred:
        return math.nan if not truth and not pred else 1.0
    same_rows = all(pairs.sides[0][k] == pairs.sides[1][k] for k in slices)
    if same_rows and pairs.formats[0] == pairs.formats[1]:
        return 0.0  # the same rows in the same format: the same volume
    return hausdorff_3d(_stack(pairs, 0, slices, ids), _stack(pairs, 1, slices, ids))


def _stack(pairs: ScorePairs, side: int, slices: list[int], ids: list[str]) -> np.ndarray:
    """The volume (depth, H, W) of one side: each slice's rows OR-ed (classes too)."""
    by_slice: dict[str, list[int]] = {}
    for k in slices:
        by_slice.setdefault(pairs.keys[k][0], []).append(k)
    h, w = _volume_shape(pairs, slices, ids)
    out = np.zeros((len(by_slice), h, w), np.uint8)
    for z, sid in enumerate(sorted(by_slice)):
        for k in by_slice[sid]:
            out[z] |= pairs.union(side, k).to_mask()
    return out


@_declare("class", needs_shape=True)
def dice_hausdorff(
    pairs: ScorePairs,
    *,
    empty: float | str = "skip",
    classes: str = "each",
    volume: Callable[[str], str] | None = None,
    dice_weight: float = 0.4,
    hausdorff_weight: float = 0.6,
) -> MetricResult:
    """UW-Madison: ``0.4 * Dice + 0.6 * (1 - Hausdorff)``.

    Dice is the mean over (slice, class) pairs; Hausdorff the mean over
    volumes of :func:`rlemask.hausdorff.hausdorff_3d` (coordinates divided by
    the volume's shape, the distance by sqrt(3); one side empty = 1), the
    slices of a volume stacked in id order.

    Options
    -------
    empty : "skip", 1.0 or 0.0
        Both empty: ``"skip"`` (default, as the ``openai/mle-bench`` grader:
        left out of both means); a number ``e``: Dice ``e`` and Hausdorff
        ``1 - e``.  The competition's description says Dice is 0 there; a
        MONAI issue (#4160) quotes it as 1.
    classes : "each" or "union"
        Hausdorff per (volume, class), or of the classes OR-ed into one
        volume (as the mle-bench grader does).
    volume : callable or None
        ``volume(slice_id) -> volume id``; default: the ``caseN_dayM`` of
        ``caseN_dayM_slice_K``.
    dice_weight, hausdorff_weight : float
        The weights of the two terms.
    """
    rule = _check_empty(empty)
    if classes not in ("each", "union"):
        raise ValueError(f'`classes` must be "each" or "union"; received classes={classes!r}')
    volume = case_day if volume is None else volume
    scores, rows = _dice_rows(pairs.dice_counts(), rule)
    per_volume = []
    for (vol, cls), ks in _volumes(pairs, volume, classes).items():
        ids = [pairs.keys[k][0] for k in ks]
        d = _volume_hausdorff(pairs, ks, ids)
        if math.isnan(d) and not math.isnan(rule):
            d = 1.0 - rule
        per_volume.append({"volume": vol, "class": cls, "hausdorff": d})
    dice_mean = _nanmean(scores)
    hd_mean = _nanmean([v["hausdorff"] for v in per_volume])
    score = dice_weight * dice_mean + hausdorff_weight * (1.0 - hd_mean)
    options = {
        "empty": empty, "classes": classes,
        "volume": "caseN_dayM" if volume is case_day else getattr(volume, "__name__", "custom"),
        "dice_weight": dice_weight, "hausdorff_weight": hausdorff_weight,
    }
    extra = {"dice": dice_mean, "hausdorff": hd_mean, "per_volume": per_volume}
    return MetricResult(score, rows, options, extra)


#: name -> metric, the built-ins
BUILTIN_METRICS: dict[str, Callable[..., MetricResult]] = {
    "dice": dice,
    "class-dice": class_dice,
    "global-dice": global_dice,
    "iou-sweep": iou_sweep,
    "f2-sweep": f2_sweep,
    "dice-hausdorff": dice_hausdorff,
}
