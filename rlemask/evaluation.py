"""Scoring a submission against the truth, the way the SIIM-ACR leaderboard did.

:func:`evaluate` works on the runs of each image (parse, union of an image's
rows, intersection area): no mask is ever decoded, so 10,000 images score in
well under a second, most of it parsing text.

The competition score is the mean over images of the per-image Dice, where an
image whose truth and prediction are both empty scores 1.  On SIIM about 78 %
of images are empty, so predicting nothing anywhere already scores about
0.78; :class:`EvalReport` always shows that all-empty baseline and the Dice
on the positive images alone next to the score.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlemask._errors import RLEError
from rlemask._metric_kernels import _runs_counts
from rlemask.runs import Runs

__all__ = ["EvalReport", "ImageScore", "evaluate"]

_EMPTY_TEXT = ("", "-1")


@dataclass(frozen=True)
class ImageScore:
    """One row of the per-image table of an :class:`EvalReport`.

    Areas are in pixels of the evaluated mask shape.
    """

    id: str
    dice: float
    truth_area: int
    pred_area: int

    @property
    def truth_empty(self) -> bool:
        return self.truth_area == 0

    @property
    def pred_empty(self) -> bool:
        return self.pred_area == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dice": self.dice,
            "truth_area": self.truth_area,
            "pred_area": self.pred_area,
            "truth_empty": self.truth_empty,
            "pred_empty": self.pred_empty,
        }


@dataclass(frozen=True)
class EvalReport:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    mean_dice : float
        The competition score: mean over the truth's images of the per-image
        Dice (both empty = 1; a prediction on an empty truth = 0).
    dice_positive : float
        Mean Dice over the images whose truth has a region (NaN if none).
    empty_accuracy : float
        Share of the empty-truth images predicted empty (NaN if none).
    positive_detected : float
        Share of the positive images given a non-empty prediction (NaN if none).
    all_empty_baseline : float
        What predicting nothing on every image would score on this truth:
        the share of empty-truth images.
    n_images, n_positive, n_empty : int
        Images scored (the truth's ids), with and without a region.
    missing_in_predictions : list of str
        Truth ids without a prediction; each was scored as an empty prediction.
    extra_in_predictions : list of str
        Prediction ids absent from the truth; not scored.
    per_image : list of ImageScore
        One row per scored image, in the truth's order.
    shape : (int, int)
        Mask shape the RLEs were read with.
    format : str
        RLE format name.

    Examples
    --------
    >>> import rlemask
    >>> truth = {"a": ["1 2"], "b": [], "c": []}
    >>> report = rlemask.evaluate({"a": ["1 2"], "b": ["5 1"]}, truth, shape=(4, 4))
    >>> round(report.mean_dice, 4), report.all_empty_baseline, report.missing_in_predictions
    (0.6667, 0.6666666666666666, ['c'])
    >>> report.to_dict()["n_positive"]
    1
    """

    mean_dice: float
    dice_positive: float
    empty_accuracy: float
    positive_detected: float
    all_empty_baseline: float
    n_images: int
    n_positive: int
    n_empty: int
    missing_in_predictions: list[str]
    extra_in_predictions: list[str]
    per_image: list[ImageScore] = field(repr=False)
    shape: tuple[int, int] = (1024, 1024)
    format: str = "siim"

    # ------------------------------------------------------------------ exports
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: summary fields, id lists and the per-image table.

        NaN (an undefined mean, e.g. ``dice_positive`` without positive
        images) becomes ``None``.
        """

        def clean(value: float) -> float | None:
            return None if math.isnan(value) else value

        return {
            "mean_dice": clean(self.mean_dice),
            "dice_positive": clean(self.dice_positive),
            "empty_accuracy": clean(self.empty_accuracy),
            "positive_detected": clean(self.positive_detected),
            "all_empty_baseline": clean(self.all_empty_baseline),
            "n_images": self.n_images,
            "n_positive": self.n_positive,
            "n_empty": self.n_empty,
            "missing_in_predictions": list(self.missing_in_predictions),
            "extra_in_predictions": list(self.extra_in_predictions),
            "shape": list(self.shape),
            "format": self.format,
            "per_image": [row.to_dict() for row in self.per_image],
        }

    def _summary_rows(self) -> list[tuple[str, float, str]]:
        return [
            (
                "competition score (mean Dice)",
                self.mean_dice,
                "mean over all images of per-image Dice; both empty counts 1",
            ),
            (
                "all-empty baseline",
                self.all_empty_baseline,
                "score of predicting nothing on every image",
            ),
            (
                "Dice on positive images",
                self.dice_positive,
                f"mean Dice over the {self.n_positive:,} images with a region",
            ),
            (
                "empty images predicted empty",
                self.empty_accuracy,
                f"share of the {self.n_empty:,} images without a region",
            ),
            (
                "positive images detected",
                self.positive_detected,
                "share of images with a region given a non-empty prediction",
            ),
        ]

    def worst(self, n: int = 5) -> list[ImageScore]:
        """The ``n`` images with the lowest Dice (largest truth first among ties)."""
        rows = sorted(self.per_image, key=lambda r: (r.dice, -r.truth_area, r.pred_area))
        return [r for r in rows if r.dice < 1.0][:n]

    @staticmethod
    def _ids(ids: list[str], limit: int = 5) -> str:
        shown = ", ".join(ids[:limit])
        return shown + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")

    def _title(self) -> str:
        h, w = self.shape
        return (
            f"{self.n_images:,} images ({self.n_positive:,} with a region, "
            f"{self.n_empty:,} empty), masks {h} x {w}, format {self.format}"
        )

    def __str__(self) -> str:
        lines = [f"Evaluation of {self._title()}", ""]
        width = max(len(name) for name, _, _ in self._summary_rows())
        for name, value, meaning in self._summary_rows():
            lines.append(f"  {name:<{width}}  {value:6.4f}   {meaning}")
        lines += [
            "",
            "  Predicting nothing already scores the all-empty baseline; the Dice on positive",
            "  images measures the segmentation itself.",
        ]
        if self.missing_in_predictions or self.extra_in_predictions:
            lines.append("")
        if self.missing_in_predictions:
            lines.append(
                f"  missing in predictions (scored as empty): {len(self.missing_in_predictions)}: "
                + self._ids(self.missing_in_predictions)
            )
        if self.extra_in_predictions:
            lines.append(
                f"  extra in predictions (not scored): {len(self.extra_in_predictions)}: "
                + self._ids(self.extra_in_predictions)
            )
        worst = self.worst(5)
        if worst:
            id_width = max(8, *(len(r.id) for r in worst))
            lines += [
                "",
                "  lowest Dice:",
                f"    {'id':<{id_width}}  {'dice':>6}  truth px   pred px",
            ]
            for r in worst:
                lines.append(
                    f"    {r.id:<{id_width}}  {r.dice:6.4f}  {r.truth_area:8d}  {r.pred_area:8d}"
                )
        return "\n".join(lines)

    def to_markdown(self, *, worst: int = 10) -> str:
        """A Markdown section for a report: the summary table, id lists and the worst images.

        Parameters
        ----------
        worst : int
            How many lowest-Dice images to list (0 for none).
        """
        lines = [
            f"Evaluation of {self._title()}.",
            "",
            "| metric | value | meaning |",
            "|---|---:|---|",
        ]
        for name, value, meaning in self._summary_rows():
            shown = "n/a" if math.isnan(value) else f"{value:.4f}"
            lines.append(f"| {name} | {shown} | {meaning} |")
        lines += [
            "",
            "Predicting nothing already scores the all-empty baseline; the Dice on positive "
            "images measures the segmentation itself.",
        ]
        if self.missing_in_predictions:
            lines += [
                "",
                f"Missing in predictions (scored as empty): {len(self.missing_in_predictions)}: "
                + self._ids(self.missing_in_predictions, 20),
            ]
        if self.extra_in_predictions:
            lines += [
                "",
                f"Extra in predictions (not scored): {len(self.extra_in_predictions)}: "
                + self._ids(self.extra_in_predictions, 20),
            ]
        rows = self.worst(worst) if worst > 0 else []
        if rows:
            lines += ["", "| image | Dice | truth px | predicted px |", "|---|---:|---:|---:|"]
            lines += [f"| {r.id} | {r.dice:.4f} | {r.truth_area} | {r.pred_area} |" for r in rows]
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- inputs
def _labels(side: Any, name: str, format: str) -> tuple[dict[str, Any], str]:
    """``side`` as ``{id: rles}`` and the label used in error messages."""
    if isinstance(side, (str, os.PathLike)):
        from rlemask.labels import read_rle_csv

        return read_rle_csv(side, format=format), str(os.fspath(side))
    if isinstance(side, Mapping):
        return {str(k): v for k, v in side.items()}, name
    raise TypeError(
        f"`{name}` must be a mapping id -> list of RLE strings, or a CSV path; "
        f"received {type(side).__name__}"
    )


def _is_empty_item(item: Any) -> bool:
    if item is None:
        return True
    if isinstance(item, float):
        return math.isnan(item)  # pandas' empty cell
    if isinstance(item, (str, bytes)):
        text = item.decode("ascii", "replace") if isinstance(item, bytes) else item
        return text.strip() in _EMPTY_TEXT
    return False


def _image_runs(value: Any, shape, format: str, where: str, image_id: str):
    """Union of one image's RLEs as Runs (``None`` when it has none)."""
    items: Iterable[Any]
    if isinstance(value, (str, bytes, Runs)) or value is None or isinstance(value, float):
        items = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, Mapping):
        items = value
    else:
        items = (value,)  # e.g. a coco dict
    union = None
    for item in items:
        if _is_empty_item(item):
            continue
        if isinstance(item, Runs):
            if tuple(item.shape) != tuple(shape):
                raise ValueError(
                    f"{where}, image {image_id!r}: Runs of shape {item.shape}, "
                    f"expected {tuple(shape)}"
                )
            runs = item
        else:
            try:
                runs = Runs.from_text(item, shape, format=format)
            except RLEError as err:
                raise RLEError(f"{where}, image {image_id!r}: {err}") from None
        union = runs if union is None else union | runs
    return union


def _shape(shape: Any) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in shape)
        ok = h > 0 and w > 0 and all(float(v) == int(v) for v in shape)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"`shape` must be a (height, width) pair of positive ints; received shape={shape!r}"
        )
    return h, w


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


# ---------------------------------------------------------------------- public
def evaluate(
    predictions: Mapping[str, Any] | str | os.PathLike,
    truth: Mapping[str, Any] | str | os.PathLike,
    *,
    shape: tuple[int, int] = (1024, 1024),
    format: str = "siim",
) -> EvalReport:
    """Score predictions against the truth with the per-image Dice of SIIM-ACR.

    Parameters
    ----------
    predictions, truth : mapping or path
        Each a mapping image id -> list of RLE strings (several strings are
        unioned; ``[]``, ``"-1"``, ``""`` and ``None`` are empty; a single
        string or :class:`rlemask.Runs` is accepted too), or the path of a
        labels CSV (``str`` or ``os.PathLike``) read with
        :func:`rlemask.read_rle_csv` (both header spellings; repeated rows
        of an id are unioned).
    shape : (int, int)
        Mask shape ``(H, W)`` of every image (1024 x 1024 for SIIM).
    format : str
        RLE format of both sides (``"siim"`` by default, ``"kaggle"``, ...).

    Returns
    -------
    EvalReport
        Scored over the truth's ids, in the truth's order.  A truth id
        without a prediction counts as an empty prediction and is listed in
        ``missing_in_predictions``; prediction ids absent from the truth are
        listed in ``extra_in_predictions`` and not scored.

    Raises
    ------
    ValueError
        The truth has no images, the two sides share no id at all, or
        ``shape`` is not two positive ints.
    rlemask.RLEError
        A malformed RLE or one that does not fit ``shape``; the message names
        the side (or file) and the image id.
    rlemask.LabelsFileError, OSError
        A CSV that cannot be read.

    Examples
    --------
    >>> import rlemask
    >>> truth = {"a": ["1 2 7 1 7 2 9 1"], "b": [], "c": ["0 4"]}
    >>> pred = {"a": ["1 2 7 1"], "b": ["-1"], "x": ["0 1"]}
    >>> report = rlemask.evaluate(pred, truth, shape=(6, 5))
    >>> round(report.mean_dice, 4), report.all_empty_baseline
    (0.5556, 0.3333333333333333)
    >>> report.missing_in_predictions, report.extra_in_predictions
    (['c'], ['x'])
    >>> [(row.id, round(row.dice, 4)) for row in report.per_image]
    [('a', 0.6667), ('b', 1.0), ('c', 0.0)]
    """
    from rlemask._formats import get_format

    hw = _shape(shape)
    get_format(format)  # an unknown name fails here, listing the known ones
    truth_map, truth_where = _labels(truth, "truth", format)
    pred_map, pred_where = _labels(predictions, "predictions", format)
    if not truth_map:
        raise ValueError(f"{truth_where}: the truth holds no images")
    common = sum(1 for image_id in truth_map if image_id in pred_map)
    if common == 0:
        raise ValueError(
            f"{pred_where} and {truth_where} share no image id: the truth has "
            f"{len(truth_map)} ids (e.g. {next(iter(truth_map))!r}), the predictions "
            f"{len(pred_map)}"
            + (f" (e.g. {next(iter(pred_map))!r})" if pred_map else "")
            + "; are both files from the same data set?"
        )

    rows: list[ImageScore] = []
    missing: list[str] = []
    for image_id, truth_value in truth_map.items():
        t = _image_runs(truth_value, hw, format, truth_where, image_id)
        if image_id in pred_map:
            p = _image_runs(pred_map[image_id], hw, format, pred_where, image_id)
        else:
            missing.append(image_id)
            p = None
        ta = 0 if t is None else t.area
        pa = 0 if p is None else p.area
        if ta == 0 and pa == 0:
            score = 1.0
        elif ta == 0 or pa == 0:
            score = 0.0
        else:
            if t.order != p.order:  # a format whose text can carry either scan order
                p = p.as_order(t.order)
            shared = _runs_counts(t.starts, t.lengths, p.starts, p.lengths)[2]
            score = 2.0 * int(shared) / (ta + pa)  # intersection on the runs
        rows.append(ImageScore(image_id, score, ta, pa))
    extra = [image_id for image_id in pred_map if image_id not in truth_map]

    positives = [r for r in rows if r.truth_area > 0]
    negatives = [r for r in rows if r.truth_area == 0]
    return EvalReport(
        mean_dice=_mean([r.dice for r in rows]),
        dice_positive=_mean([r.dice for r in positives]),
        empty_accuracy=_mean([float(r.pred_area == 0) for r in negatives]),
        positive_detected=_mean([float(r.pred_area > 0) for r in positives]),
        all_empty_baseline=len(negatives) / len(rows),
        n_images=len(rows),
        n_positive=len(positives),
        n_empty=len(negatives),
        missing_in_predictions=missing,
        extra_in_predictions=extra,
        per_image=rows,
        shape=hw,
        format=format,
    )
