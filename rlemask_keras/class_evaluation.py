"""Scoring a model on the validation images of a data set of any layout, class by class.

The ``--labels`` path of ``rlemask-keras train`` (a :class:`rlemask.Dataset`,
``C`` classes): :func:`evaluate_dataset` predicts each validation image at
its own resolution (:func:`predict_dataset`), chooses the post-processing
triplet of each class -- and, with a presence head, each class's gate -- with
:class:`rlemask.ClassTripletSearch`, writes the chosen masks in the
competition's layout (:func:`rlemask.write_labels`, one row per object for
instance competitions) and scores that file with :func:`rlemask.score`, the
way Kaggle would.  :func:`score_masks` does the same for masks already
binarised: the per-epoch score the checkpoint monitors
(:class:`rlemask_keras.callbacks.ValidationScore`).

Per image and class only the counts above each ``top`` and the masks above
each ``bottom`` are kept (as RLE text), so the maps are never all in memory.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import rlemask

__all__ = ["rules", "score_masks", "predict_dataset", "evaluate_dataset", "choose_and_score",
           "ScoreSummary"]

#: ``min_area`` of the triplet grid is counted on a map of this side (SIIM's 1024 px)
REFERENCE = 1024


def rules(competition: str | None, classes: Sequence[str]) -> dict[str, Any]:
    """How validation predictions are written and scored: the competition's, or Dice.

    Without a competition: Dice per image (``"dice"``) or per image and class
    (``"class-dice"``), a single or long layout in Kaggle's RLE.

    Examples
    --------
    >>> rules(None, ("a", "b"))["metric"], rules("airbus-ship-detection", ())["objects"]
    ('class-dice', True)
    """
    if competition is None:
        return {"competition": None, "metric": "class-dice" if classes else "dice",
                "layout": "long" if classes else "single", "format": "kaggle",
                "objects": False, "columns": None}  # fmt: skip
    comp = rlemask.competition(competition)
    roles = {"single": ("id", "rle"), "long": ("id", "class", "rle")}.get(comp.layout)
    columns = dict(zip(roles, comp.header, strict=True)) if roles and len(
        comp.header) == len(roles) else None  # fmt: skip
    return {"competition": comp.name, "metric": comp.metric, "layout": comp.layout,
            "format": comp.format, "objects": comp.objects, "columns": columns}  # fmt: skip


def score_masks(
    predictions: Mapping[str, np.ndarray],
    truth: Mapping[str, Any],
    *,
    classes: Sequence[str],
    competition: str | None = None,
    shape: tuple[int, int] | None = None,
    truth_format: str | None = None,
    path: str | Path | None = None,
):
    """Write ``predictions`` in the competition's layout and score the file against ``truth``.

    Parameters
    ----------
    predictions : mapping
        Image id -> ``(C, H, W)`` binary masks (one plane per class).
    truth : mapping
        Image id -> ``(C, H, W)`` masks, or (single class) the image's RLE
        rows in ``truth_format`` (objects stay apart, as in the labels file).
    classes : sequence of str
        The class names (``()``: one class).
    competition : str, optional
        A name of :func:`rlemask.competitions` (default: Dice, see :func:`rules`).
    shape : (int, int), optional
        The images' size when they share one (the metric's, e.g. Hausdorff's).
    path : path-like, optional
        Where the predictions file is kept (default: a temporary file).

    Returns
    -------
    rlemask.ScoreReport

    Examples
    --------
    >>> import numpy as np
    >>> truth = {"a": np.ones((1, 4, 4), np.uint8), "b": np.zeros((1, 4, 4), np.uint8)}
    >>> pred = {"a": np.ones((1, 4, 4), np.uint8), "b": np.ones((1, 4, 4), np.uint8)}
    >>> report = score_masks(pred, truth, classes=())
    >>> report.score, report.all_empty_baseline
    (0.5, 0.5)
    """
    how = rules(competition, classes)
    write = dict(layout=how["layout"], format=how["format"], objects=how["objects"],
                 columns=how["columns"], classes=list(classes) or None)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="rlemask-score-") as tmp:
        sub = Path(path) if path is not None else Path(tmp) / "predictions.csv"
        rlemask.write_labels(sub, {k: _planes(v, classes) for k, v in predictions.items()},
                             **write)  # fmt: skip
        if all(isinstance(v, np.ndarray) for v in truth.values()):
            truth_file = Path(tmp) / "truth.csv"
            rlemask.write_labels(truth_file, {k: _planes(v, classes) for k, v in truth.items()},
                                 **{**write, "objects": False})  # fmt: skip
            truth, truth_format = truth_file, how["format"]
        options: dict[str, Any] = {"shape": shape, "truth_format": truth_format}
        if how["competition"] is None:
            options["metric"] = how["metric"]
        else:
            options["competition"] = how["competition"]
        return rlemask.score(sub, truth, submission_format=how["format"], **options)


def _planes(masks: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """``(C, H, W)`` uint8 for ``write_labels``: one plane, or a class per plane."""
    arr = np.asarray(masks, dtype=np.uint8)
    return arr[0] if not classes else arr


def predict_dataset(
    model, dataset, ids: Sequence[str], *, size, policy: str = "resize", batch_size: int = 8,
) -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
    """``(image id, probabilities (H, W, C) at the image's size, presence (C,) or None)``.

    Samples are made as in training (``size``, ``policy``: see
    :meth:`rlemask.Dataset.sample`; ``size=None`` gives each image at its own
    size, for a model built for any size) and mapped back with
    :meth:`rlemask.Dataset.layout`.  Batches of ``batch_size`` when the
    samples share a size, one image at a time otherwise.
    """
    pending: list[tuple[str, np.ndarray]] = []

    def flush():
        batch = np.stack([image for _, image in pending])[..., None]
        masks, presence = _outputs(model, batch)
        for k, (image_id, _) in enumerate(pending):
            layout = dataset.layout(image_id, size, policy=policy)
            prob = layout.to_image(masks[k].astype(np.float32))
            yield image_id, np.clip(prob, 0, 1), None if presence is None else presence[k]
        pending.clear()

    for image_id in ids:
        image, _ = dataset.sample(image_id, size, policy=policy)
        if pending and (len(pending) >= batch_size or pending[0][1].shape != image.shape):
            yield from flush()
        pending.append((image_id, image))
    if pending:
        yield from flush()


def _outputs(model, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The mask output ``(B, H, W, C)`` and the presence head's ``(B, C)`` (or None)."""
    out = model.predict_on_batch(batch)
    if isinstance(out, dict):
        masks = np.asarray(out[getattr(model, "mask_output", "mask")])
        presence = out.get("presence")
        return masks, None if presence is None else np.asarray(presence)
    return np.asarray(out), None


class ScoreSummary:
    """A :class:`rlemask.ScoreReport` in the words the run's report files use.

    ``mean_dice`` is the competition's score, ``dice_positive`` its score on
    the images with a region (``positive_only``); ``to_dict`` adds them to
    the report's own keys, so ``report.json`` reads the same on every path.
    """

    def __init__(self, report, how: Mapping[str, Any]):
        self.report, self.how = report, dict(how)
        self.mean_dice = float(report.score)
        self.all_empty_baseline = float(report.all_empty_baseline)
        self.dice_positive = float(report.positive_only)

    def to_dict(self) -> dict[str, Any]:
        found = self.report.to_dict()
        for key in ("truth", "submission", "per_image"):
            found.pop(key, None)
        return {**found, "competition": self.how["competition"], "metric": self.how["metric"],
                "mean_dice": self.mean_dice, "dice_positive": self.dice_positive,
                "all_empty_baseline": self.all_empty_baseline, "empty_accuracy": None,
                "n_images": int(self.report.n_images)}  # fmt: skip

    def to_markdown(self) -> str:
        name = self.how["competition"] or "Dice per image" + (" and class" if self.report.per_class
                                                              else "")  # fmt: skip
        lines = [f"Scored as {name} (metric `{self.how['metric']}`), from the predictions "
                 "file written in its layout.", "",
                 "| class | score | all-empty baseline | positive images only |",
                 "|---|---|---|---|",
                 f"| all | {self.mean_dice:.4f} | {self.all_empty_baseline:.4f} | "
                 f"{self.dice_positive:.4f} |"]  # fmt: skip
        for cls, row in self.report.per_class.items():
            lines.append(f"| {cls} | {_num(row['score'])} | {_num(row['all_empty_baseline'])} | "
                         f"{_num(row['positive_only'])} |")  # fmt: skip
        return "\n".join(lines)


def _num(value) -> str:
    return "n/a" if value is None or value != value else f"{value:.4f}"


def evaluate_dataset(
    model, dataset, ids: Sequence[str], *, size, policy: str = "resize", batch_size: int = 8,
    competition: str | None = None, predictions_file: Path | None = None, log=print,
) -> dict[str, Any]:  # fmt: skip
    """Choose each class's post-processing on ``ids`` of ``dataset`` and score it.

    Returns ``report`` (a :class:`ScoreSummary`), ``postprocess`` (what
    ``predict`` applies: ``classes``, ``per_class`` ``{cls: {"top",
    "min_area" (at REFERENCE px), "bottom", "gate"}}``, ``competition``,
    ``reference``), ``thresholds`` (the first class's, in the single-class
    keys), ``plain_threshold_score`` (every map at 0.5, no gate),
    ``predict_images_per_second`` and ``predictions_file`` (where the
    validation predictions were written in the competition's layout, if asked).
    """
    maps = predict_dataset(model, dataset, ids, size=size, policy=policy, batch_size=batch_size)
    return choose_and_score(maps, dataset, competition=competition,
                            predictions_file=predictions_file, log=log)  # fmt: skip


def choose_and_score(
    maps, dataset, *, competition: str | None = None, predictions_file: Path | None = None,
    log=print,
) -> dict[str, Any]:  # fmt: skip
    """:func:`evaluate_dataset` on maps already made: ``(image id, probabilities (H, W, C) at
    the image's size, presence (C,) or None)`` of images of ``dataset`` (from one model, or
    each fold's images from its own: ``rlemask-keras oof``)."""
    classes = tuple(dataset.classes)
    names = list(classes) or [""]
    search = rlemask.ClassTripletSearch(names, reference=REFERENCE)
    grid = search.searches[names[0]].grid
    tops, bottoms = sorted({t for t, _, _ in grid}), sorted({b for _, _, b in grid})
    kept: dict[str, dict[str, Any]] = {}
    plain, truth, shapes, gated = {}, {}, {}, True
    t0 = time.perf_counter()
    for image_id, prob, presence in maps:
        shape = prob.shape[:2]
        shapes[image_id] = shape
        masks = np.asarray(dataset.labels.masks(image_id, shape) if image_id in dataset.labels
                           else np.zeros((len(names), *shape), np.uint8))  # fmt: skip
        search.add(prob, np.moveaxis(masks, 0, -1), presence=presence)
        gated = gated and presence is not None
        kept[image_id] = _candidates(prob, tops, bottoms, presence)
        plain[image_id] = np.moveaxis(prob > 0.5, -1, 0)
        truth[image_id] = (list(dataset.labels.rles(image_id)) if image_id in dataset.labels
                           else []) if not classes else masks  # fmt: skip
    seconds = time.perf_counter() - t0
    chosen = search.best_gates() if gated else ({k: (v, None) for k, v in search.best()[0].items()},
                                                search.best()[1])  # fmt: skip
    predictions = {i: _apply(kept[i], chosen[0], names, shapes[i]) for i in kept}
    same = set(shapes.values())
    shape = next(iter(same)) if len(same) == 1 else None
    common = dict(classes=classes, competition=competition, shape=shape,
                  truth_format=dataset.format)  # fmt: skip
    path = None if predictions_file is None else Path(predictions_file)
    how = rules(competition, classes)
    summary = ScoreSummary(score_masks(predictions, truth, path=path, **common), how)
    plain_score = score_masks(plain, truth, **common).score
    log(f"validation ({len(kept)} images): {how['competition'] or how['metric']} "
        f"{summary.mean_dice:.4f} vs all-empty {summary.all_empty_baseline:.4f}, on positive "
        f"images {summary.dice_positive:.4f}")  # fmt: skip
    result = _result(summary, chosen, names, classes, competition, shape, plain_score,
                     len(kept) / max(seconds, 1e-9), path)  # fmt: skip
    result["thresholds"]["grid_size"] = len(grid)
    return result


def _candidates(prob, tops, bottoms, presence) -> dict[str, Any]:
    """Per class: pixels above each ``top``, the RLE of each ``prob > bottom``, the presence."""
    found = []
    for c in range(prob.shape[-1]):
        channel = prob[..., c]
        found.append({
            "above": {t: int(np.count_nonzero(channel > np.float32(t))) for t in tops},
            "masks": {b: rlemask.encode(channel > np.float32(b)) for b in bottoms},
            "presence": None if presence is None else float(np.ravel(presence)[c]),
        })  # fmt: skip
    return {"classes": found}


def _apply(kept, chosen, names, shape) -> np.ndarray:
    """The ``(C, H, W)`` masks of the chosen triplet (and gate) of each class."""
    planes = []
    for c, name in enumerate(names):
        (top, area, bottom), gate = chosen[name]
        cls = kept["classes"][c]
        empty = cls["above"][top] < rlemask.scale_min_area(area, shape, reference=REFERENCE)
        if gate is not None and cls["presence"] is not None and cls["presence"] < gate:
            empty = True
        text = cls["masks"][bottom]
        planes.append(np.zeros(shape, np.uint8) if empty or text in ("", "-1")
                      else rlemask.decode(text, shape))  # fmt: skip
    return np.stack(planes)


def _result(summary, chosen, names, classes, competition, shape, plain_score, speed, path):
    """The dict :func:`evaluate_dataset` returns."""
    per_class = {name: {"top": t, "min_area": a, "bottom": b, "gate": gate}
                 for name, ((t, a, b), gate) in chosen[0].items()}  # fmt: skip
    first = per_class[names[0]]
    return {
        "report": summary,
        "postprocess": {"classes": list(classes), "per_class": per_class,
                        "competition": competition, "reference": REFERENCE},  # fmt: skip
        "thresholds": {
            "top": first["top"],
            "min_area": rlemask.scale_min_area(first["min_area"], shape or (REFERENCE,) * 2,
                                               reference=REFERENCE),  # fmt: skip
            "min_area_1024": first["min_area"],
            "bottom": first["bottom"],
            "grid_score": chosen[1],
            "grid_size": None,
        },
        "plain_threshold_score": float(plain_score),
        "predict_images_per_second": speed,
        "predictions_file": None if path is None else str(path),
    }
