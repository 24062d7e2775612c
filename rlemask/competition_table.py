"""The RLE competitions of the field, each as it was graded.

A :class:`Competition` fixes what a submission must look like (layout,
header, RLE format, empty marker, image size where the competition fixed
one, one row per object or per image) and how it was scored (metric and
options, the empty rule included).  Sources: FORMATS.md, "Layouts of the
field" and "Metrics of the field".

Examples
--------
>>> import rlemask
>>> c = rlemask.competition("airbus-ship-detection")
>>> c.metric, c.shape, c.objects
('f2-sweep', (768, 768), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Competition", "competition", "competitions"]


@dataclass(frozen=True)
class Competition:
    """One competition's submission rules and metric.

    Attributes
    ----------
    name : str
        Kaggle's slug, e.g. ``"siim-acr-pneumothorax-segmentation"``.
    layout : {"single", "long", "wide"}
        Label-file layout (:func:`rlemask.read_labels`): ``"single"`` (id,
        rle), ``"long"`` (id, class, rle), ``"wide"`` (``<id>_<class>``, rle).
    format : str
        RLE format of the submission (``"siim"`` or ``"kaggle"``).
    empty : str
        The marker written for an empty mask.
    shape : (int, int) or None
        Image ``(height, width)`` where the competition fixed one.
    metric : str
        Name of the metric (:func:`rlemask.metrics`).
    options : dict
        The metric's options as graded, the empty rule included.
    objects : bool
        One row per object (instance competitions: objects of one image
        must not overlap).
    classes : tuple of str
        Class names (``()``: single class).
    header : tuple of str
        The submission's header.
    one_row : bool
        Exactly one row per id (and class) is expected.
    empty_rule : str
        The empty rule in words, for reports and the docs.
    """

    name: str
    layout: str
    format: str
    empty: str
    shape: tuple[int, int] | None
    metric: str
    options: dict[str, Any] = field(default_factory=dict)
    objects: bool = False
    classes: tuple[str, ...] = ()
    header: tuple[str, ...] = ("ImageId", "EncodedPixels")
    one_row: bool = True
    empty_rule: str = ""


_TABLE = (
    Competition(
        "siim-acr-pneumothorax-segmentation", "single", "siim", "-1", (1024, 1024), "dice",
        {"empty": 1.0}, one_row=False,
        empty_rule="both empty = 1; rows of an image (regions) are OR-ed",
    ),
    Competition(
        "severstal-steel-defect-detection", "wide", "kaggle", "", (256, 1600), "class-dice",
        {"empty": 1.0}, classes=("1", "2", "3", "4"),
        header=("ImageId_ClassId", "EncodedPixels"),
        empty_rule="per (image, class) pair; both empty = 1",
    ),
    Competition(
        "airbus-ship-detection", "single", "kaggle", "", (768, 768), "f2-sweep",
        {"empty": 1.0}, objects=True, one_row=False,
        empty_rule="both empty = 1; any ship on an empty image = 0",
    ),
    Competition(
        "uw-madison-gi-tract-image-segmentation", "long", "kaggle", "", None, "dice-hausdorff",
        {"empty": "skip", "classes": "union"},
        classes=("large_bowel", "small_bowel", "stomach"), header=("id", "class", "predicted"),
        empty_rule="both empty skipped (the mle-bench grader's nanmean); Hausdorff of the "
        "classes OR-ed per case-day; the description's 'Dice 0 when both empty' is "
        "empty=0.0",
    ),
    Competition(
        "hubmap-kidney-segmentation", "single", "kaggle", "", None, "dice",
        {"empty": 1.0}, header=("id", "predicted"),
        empty_rule="both empty = 1 (the test images all hold glomeruli)",
    ),
    Competition(
        "data-science-bowl-2018", "single", "kaggle", "", None, "iou-sweep",
        {"empty": 1.0}, objects=True, one_row=False,
        empty_rule="both empty = 1; every test image holds nuclei",
    ),
    Competition(
        "sartorius-cell-instance-segmentation", "single", "kaggle", "", (520, 704),
        "iou-sweep", {"empty": 1.0}, objects=True, header=("id", "predicted"), one_row=False,
        empty_rule="both empty = 1; every test image holds cells",
    ),
    Competition(
        "tgs-salt-identification-challenge", "single", "kaggle", "", (101, 101), "iou-sweep",
        {"empty": 1.0}, header=("id", "rle_mask"),
        empty_rule="the mask is one object; both empty = 1, salt predicted on an empty "
        "truth = 0",
    ),
    Competition(
        "google-research-identify-contrails-reduce-global-warming", "single", "kaggle", "-",
        (256, 256), "global-dice", {"empty": 1.0}, header=("record_id", "encoded_pixels"),
        empty_rule="Dice pooled over every pixel of the set; empty marker '-'",
    ),
)
_BY_NAME = {c.name: c for c in _TABLE}


def competitions() -> list[str]:
    """Names of the competitions known here, in alphabetical order.

    Examples
    --------
    >>> import rlemask
    >>> len(rlemask.competitions())
    9
    """
    return sorted(_BY_NAME)


def competition(name: str) -> Competition:
    """The :class:`Competition` called ``name``.

    Raises
    ------
    ValueError
        Unknown name; the message lists the known ones.

    Examples
    --------
    >>> import rlemask
    >>> rlemask.competition("tgs-salt-identification-challenge").shape
    (101, 101)
    """
    if isinstance(name, Competition):
        return name
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown competition {name!r}; known: {', '.join(competitions())}"
        ) from None
