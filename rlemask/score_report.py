"""``ScoreReport``: what :func:`rlemask.score` returns.

The score never stands alone: beside it are the all-empty baseline (the same
metric for a submission with nothing in it) and the score over the keys whose
truth is non-empty, per class where the labels have classes, and the options
the metric ran with -- the empty rule always among them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ScoreReport"]


def _clean(value: Any) -> Any:
    """JSON-ready: NaN -> None, numpy scalars -> Python, containers recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _clean(value.item())
    if callable(value):
        return getattr(value, "__name__", repr(value))
    return value


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"


@dataclass
class ScoreReport:
    """The score of a submission, with its baseline, per class and per image.

    Attributes
    ----------
    score : float
        The metric over every scored key (image, or image and class).
    metric : str
        The metric's name.
    options : dict
        The options the metric ran with, the empty rule included.
    n_images : int
        Images scored (the truth's ids).
    all_empty_baseline : float
        The same metric for a submission with no object anywhere.
    positive_only : float
        The metric over the keys whose truth is non-empty (NaN if none).
    per_class : dict
        Class -> ``{"score", "all_empty_baseline", "positive_only"}``; empty
        for a single-class file.
    per_image : list of dict
        One row per key: ``image_id``, ``class`` (None for a single-class
        file), ``score`` (NaN where skipped), ``truth_area``, ``pred_area``,
        ``tp``, ``fp``, ``fn`` (None where objects are not matched).
    truth, submission : Labels or None
        The label tables scored (for a mapping given to :func:`rlemask.score`,
        a table with the same ``ids``, ``classes``, ``format``, ``source``,
        ``iter_rows()`` and ``shape_of()``).
    shape : (int, int) or None
        The image shape the texts were read with (None: linearly, or per image).
    competition : str or None
        The competition whose rules were applied.
    missing_in_submission, extra_in_submission : list of str
        Truth ids without a row in the submission (scored as empty) and
        submission ids absent from the truth (not scored).
    extra : dict
        What else the metric reported (e.g. per-volume Hausdorff).

    Examples
    --------
    >>> import rlemask
    >>> r = rlemask.score({"a": ["1 2"], "b": []}, {"a": ["1 4"], "b": []}, format="kaggle")
    >>> round(r.score, 4), r.all_empty_baseline, round(r.positive_only, 4)
    (0.8333, 0.5, 0.6667)
    >>> r.to_dict()["options"]
    {'empty': 1.0}
    """

    score: float
    metric: str
    options: dict[str, Any]
    n_images: int
    all_empty_baseline: float
    positive_only: float
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    per_image: list[dict[str, Any]] = field(default_factory=list, repr=False)
    truth: Any = field(default=None, repr=False)
    submission: Any = field(default=None, repr=False)
    shape: tuple[int, int] | None = None
    competition: str | None = None
    missing_in_submission: list[str] = field(default_factory=list, repr=False)
    extra_in_submission: list[str] = field(default_factory=list, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None); ``truth``/``submission`` as their sources."""

        def source(labels: Any) -> Any:
            return None if labels is None else str(getattr(labels, "source", type(labels).__name__))

        return _clean({
            "score": self.score,
            "metric": self.metric,
            "options": self.options,
            "competition": self.competition,
            "n_images": self.n_images,
            "all_empty_baseline": self.all_empty_baseline,
            "positive_only": self.positive_only,
            "per_class": self.per_class,
            "shape": self.shape,
            "truth": source(self.truth),
            "submission": source(self.submission),
            "missing_in_submission": self.missing_in_submission,
            "extra_in_submission": self.extra_in_submission,
            "extra": self.extra,
            "per_image": self.per_image,
        })

    def worst(self, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` rows with the lowest score (skipped rows left out)."""
        rows = [r for r in self.per_image if not math.isnan(r["score"]) and r["score"] < 1.0]
        rows.sort(key=lambda r: (r["score"], -r["truth_area"]))
        return rows[:n]

    def __str__(self) -> str:
        title = f"Score ({self.metric}"
        title += f", {self.competition})" if self.competition else ")"
        title += f" of {self.n_images:,} images"
        options = ", ".join(f"{k}={_clean(v)!r}" for k, v in self.options.items())
        lines = [title, f"  options: {options}", ""]
        rows = [
            ("score", self.score),
            ("all-empty baseline", self.all_empty_baseline),
            ("truth non-empty only", self.positive_only),
        ]
        lines += [f"  {name:<22}{_fmt(value):>8}" for name, value in rows]
        if self.per_class:
            lines += ["", f"  {'class':<22}{'score':>8}{'baseline':>10}{'positive':>10}"]
            for cls, v in self.per_class.items():
                lines.append(
                    f"  {cls:<22}{_fmt(v['score']):>8}{_fmt(v['all_empty_baseline']):>10}"
                    f"{_fmt(v['positive_only']):>10}"
                )
        if self.missing_in_submission:
            lines += ["", f"  missing in submission (scored as empty): "
                      f"{len(self.missing_in_submission)}: "
                      + ", ".join(self.missing_in_submission[:5])]
        if self.extra_in_submission:
            lines += [("" if self.missing_in_submission else "\n")
                      + f"  extra in submission (not scored): {len(self.extra_in_submission)}: "
                      + ", ".join(self.extra_in_submission[:5])]
        worst = self.worst(5)
        if worst:
            lines += ["", "  lowest scores:"]
            for r in worst:
                key = r["image_id"] + ("" if r["class"] is None else f" [{r['class']}]")
                counts = "" if r["tp"] is None else f"  tp {r['tp']} fp {r['fp']} fn {r['fn']}"
                lines.append(
                    f"    {key:<40} {r['score']:.4f}  truth px {r['truth_area']:>8}  "
                    f"pred px {r['pred_area']:>8}{counts}"
                )
        return "\n".join(lines)

    def to_html(self, path: str | os.PathLike, data: Any = None, **kw: Any) -> Any:
        """The error-analysis page (:func:`rlemask.report_page.write_report_page`).

        Parameters
        ----------
        path : str or os.PathLike
            Output folder.
        data : optional
            The images (a folder or a :class:`rlemask.Dataset`) for overlays.
        **kw
            Passed on to ``write_report_page``.
        """
        # imported here: the page module builds on this one's report
        from rlemask.report_page import write_report_page

        return write_report_page(self, path, data=data, **kw)
