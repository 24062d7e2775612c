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
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlemask._errors import RLEError
from rlemask._metric_kernels import _runs_counts
from rlemask._validation import check_shape, is_empty_rle
from rlemask.labels import as_labels
from rlemask.runs import Runs

__all__ = ["EvalReport", "ImageScore", "evaluate"]

# the size-mismatch detector (see _size_mismatch) needs this many non-empty
# images on each side before it speaks: with fewer, chance explains anything
_MISMATCH_MIN_IMAGES = 8
# the transposition check compares at most this many images (both sides non-empty)
_TRANSPOSE_SAMPLE = 64


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
    warnings : list of str
        Doubts about the input found while scoring (e.g. predictions that
        look encoded at another mask size); each was also issued as a
        :class:`UserWarning`.

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
    warnings: list[str] = field(default_factory=list)

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
            "warnings": list(self.warnings),
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
        lines += [f"  WARNING: {text}" for text in self.warnings]
        if self.warnings:
            lines.append("")
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
        if self.warnings:
            lines[1:1] = ["", *(f"**Warning:** {text}" for text in self.warnings)]
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
    where = str(os.fspath(side)) if isinstance(side, (str, os.PathLike)) else name
    return as_labels(side, name, format=format), where


def _image_runs(value: Any, shape, format: str, where: str, image_id: str):
    """Union of one image's RLEs as Runs (``None`` when it has none)."""
    items: Iterable[Any]
    if isinstance(value, (str, bytes, Runs)) or is_empty_rle(value):
        items = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, Mapping):
        items = value
    else:
        items = (value,)  # e.g. a coco dict
    union = None
    for item in items:
        if is_empty_rle(item):
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


def _size_mismatch(pred_end: list[int], truth_end: list[int], hw: tuple[int, int]) -> str:
    """A warning when the predictions look encoded at a smaller mask size, else ``""``.

    ``pred_end`` / ``truth_end`` hold, per non-empty image, the pixel just
    past its last run.  A mask of ``h/k x w/k`` pixels encoded and then read
    as ``h x w`` (256 px predictions scored as 1024) has all its runs in the
    first ``h*w/k**2`` pixels (for ``k >= 2``: the first quarter).  The rule
    looks at the pixel extent of each side, the largest index any row covers:
    warn when at least :data:`_MISMATCH_MIN_IMAGES` images on each side are
    non-empty, the predictions' extent is within the first quarter of the
    pixels and the truth's extent reaches past the middle.  (A share of the
    truths past the middle does not work: on the real SIIM stage-1 labels it
    is 49.5 %.  Masks encoded at a LARGER size run past ``h*w`` and are an
    error already.)
    """
    npix = hw[0] * hw[1]
    if len(pred_end) < _MISMATCH_MIN_IMAGES or len(truth_end) < _MISMATCH_MIN_IMAGES:
        return ""
    pred_extent, truth_extent = max(pred_end), max(truth_end)
    if pred_extent > npix // 4 or truth_extent <= npix // 2:
        return ""
    return (
        f"every one of the {len(pred_end)} non-empty predictions lies in the first "
        f"{pred_extent / npix:.1%} of the pixels while the truth reaches pixel "
        f"{truth_extent:,} of {npix:,}: were the predictions encoded at a smaller mask size "
        f"than shape={hw} (e.g. the model's 256 x 256 output instead of {hw[0]} x {hw[1]})?"
    )


def _dice_of_runs(t: Runs, p: Runs) -> float:
    shared = _runs_counts(t.starts, t.lengths, p.starts, p.lengths)[2]
    return 2.0 * int(shared) / (int(t.area) + int(p.area))


def _transposed(pairs: list[tuple[Runs, Runs]], hw: tuple[int, int]) -> str:
    """A warning when the predictions fit the truth far better transposed, else ``""``.

    A mask encoded row by row (or with the ``.T`` forgotten) and read in
    column-major order is the transposed mask on a square image.  ``pairs``
    are (truth, prediction) runs of images where both are non-empty; when at
    least :data:`_MISMATCH_MIN_IMAGES` of them agree at least twice as well
    transposed (mean Dice >= 0.5), say so.  Non-square images are skipped.
    """
    if hw[0] != hw[1] or len(pairs) < _MISMATCH_MIN_IMAGES:
        return ""
    pairs = pairs[:_TRANSPOSE_SAMPLE]
    as_is = _mean([_dice_of_runs(t, p) for t, p in pairs])
    flipped = _mean([_dice_of_runs(t, p.transpose().as_order(t.order)) for t, p in pairs])
    if flipped < 0.5 or flipped < 2.0 * as_is:
        return ""
    return (
        f"the predictions match the truth far better transposed (mean Dice {flipped:.3f} "
        f"against {as_is:.3f} as read, on {len(pairs)} images): were they encoded row by row "
        "(or the mask's .T forgotten) while the format is column-major?"
    )


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


# ---------------------------------------------------------------------- public
def evaluate(
    predictions: Mapping[str, Any] | str | os.PathLike,
    truth: Mapping[str, Any] | str | os.PathLike,
    *,
    shape: tuple[int, int] = (1024, 1024),
    format: str = "siim",
    only_predicted: bool = False,
) -> EvalReport:
    """Score predictions against the truth with the per-image Dice of SIIM-ACR.

    Parameters
    ----------
    predictions, truth : mapping, pandas.DataFrame or path
        Each a mapping image id -> list of RLE strings (several strings are
        unioned; ``[]``, ``"-1"``, ``""``, ``None`` and NaN are empty; a single
        string or :class:`rlemask.Runs` is accepted too), a DataFrame with the
        columns ``ImageId`` and ``EncodedPixels`` (see
        :func:`rlemask.labels_from_frame`), or the path of a labels CSV
        (``str`` or ``os.PathLike``) read with :func:`rlemask.read_rle_csv`
        (both header spellings; repeated rows of an id are unioned).  Ids are
        compared as ``str``; two keys that differ but print the same (``1``
        and ``"1"``) are an error.
    shape : (int, int)
        Mask shape ``(H, W)`` of every image (1024 x 1024 for SIIM).
    format : str
        RLE format of both sides (``"siim"`` by default, ``"kaggle"``, ...).
    only_predicted : bool
        Score only the truth's ids that the predictions hold (a submission
        for a subset); ``missing_in_predictions`` is then empty.

    Returns
    -------
    EvalReport
        Scored over the truth's ids, in the truth's order.  A truth id
        without a prediction counts as an empty prediction and is listed in
        ``missing_in_predictions``; prediction ids absent from the truth are
        listed in ``extra_in_predictions`` and not scored.

    Warns
    -----
    UserWarning
        The predictions look encoded at a smaller mask size than ``shape``
        (e.g. 256 px masks scored as 1024): the predictions' pixel extent is
        within the first quarter of the pixels while the truth's reaches past
        the middle; or they look transposed (on square images they match the
        truth at least twice as well transposed).  The text is also kept in
        ``report.warnings``.

    Raises
    ------
    ValueError
        The truth has no images, the two sides share no id at all, two ids
        print the same, or ``shape`` is not two positive ints (at most
        ``2**40`` pixels).
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

    hw = check_shape(shape)
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
    if only_predicted:
        truth_map = {k: v for k, v in truth_map.items() if k in pred_map}

    rows: list[ImageScore] = []
    missing: list[str] = []
    pred_end: list[int] = []  # per non-empty image, the pixel past its last run
    truth_end: list[int] = []
    both: list[tuple[Runs, Runs]] = []  # a sample for the transposition check
    for image_id, truth_value in truth_map.items():
        t = _image_runs(truth_value, hw, format, truth_where, image_id)
        if image_id in pred_map:
            p = _image_runs(pred_map[image_id], hw, format, pred_where, image_id)
        else:
            missing.append(image_id)
            p = None
        ta = 0 if t is None else int(t.area)
        pa = 0 if p is None else int(p.area)
        if ta:
            truth_end.append(int(t.starts[-1] + t.lengths[-1]))
        if pa:
            pred_end.append(int(p.starts[-1] + p.lengths[-1]))
        if ta == 0 and pa == 0:
            score = 1.0
        elif ta == 0 or pa == 0:
            score = 0.0
        else:
            if t.order != p.order:  # a format whose text can carry either scan order
                p = p.as_order(t.order)
            score = _dice_of_runs(t, p)  # intersection on the runs
            if len(both) < _TRANSPOSE_SAMPLE:
                both.append((t, p))
        rows.append(ImageScore(image_id, score, ta, pa))
    extra = [image_id for image_id in pred_map if image_id not in truth_map]
    checks = (_size_mismatch(pred_end, truth_end, hw), _transposed(both, hw))
    doubts = [text for text in checks if text]
    for text in doubts:
        warnings.warn(text, UserWarning, stacklevel=2)

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
        warnings=doubts,
    )
