"""Scoring a model on validation images at their original resolution.

:func:`evaluate_model` runs the model once per image through
:func:`rlemask_keras.predict.predict_probabilities` -- the path
``rlemask-keras predict`` takes -- chooses the post-processing triplet on
those maps with :class:`rlemask.TripletSearch`, and scores the masks of the
chosen triplet with :func:`rlemask.evaluate` (the competition score next to
the all-empty baseline).

The triplet rule has one empty mask and ``len(bottom)`` non-empty ones per
image, so a single pass keeps, per image, the count of pixels above each
``top`` and the RLE of each ``prob > bottom``: the chosen triplet's masks
are then known without a second pass over the model or the maps.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import rlemask
from rlemask_keras.predict import load_images, model_input_size, predict_probabilities

__all__ = ["evaluate_model", "score_probabilities"]


def score_probabilities(
    probabilities: Iterable[tuple[str, np.ndarray]],
    labels: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """Choose the triplet on ``(image_id, probability map)`` pairs and score its masks.

    One pass over the maps (each at the resolution it is scored at).
    Returns ``report`` (:class:`rlemask.EvalReport` of the chosen triplet),
    ``thresholds`` (``top``, ``min_area`` at the images' size,
    ``min_area_1024``, ``bottom``, ``grid_score``, ``grid_size``),
    ``plain_threshold_score`` (every map binarised at 0.5), ``predictions``
    (id -> RLE list) and ``seconds``.
    """
    search = rlemask.TripletSearch()
    tops = sorted({t for t, _, _ in search.grid})
    bottoms = sorted({b for _, _, b in search.grid})
    above: dict[str, dict[float, int]] = {}
    rles: dict[str, dict[float, str]] = {}
    plain: list[float] = []
    shapes: dict[str, tuple[int, int]] = {}

    t0 = time.perf_counter()
    for image_id, prob in probabilities:
        shapes[image_id] = prob.shape
        truth = rlemask.merge(labels[image_id], shape=prob.shape)
        search.add(prob, truth)
        plain.append(rlemask.dice(prob > 0.5, truth))
        above[image_id] = {t: int(np.count_nonzero(prob > np.float32(t))) for t in tops}
        rles[image_id] = {b: rlemask.encode(prob > np.float32(b)) for b in bottoms}
    seconds = time.perf_counter() - t0
    if len(set(shapes.values())) != 1:
        raise ValueError(
            f"validation images have {len(set(shapes.values()))} different sizes; "
            "rlemask.evaluate scores one size at a time"
        )
    shape = next(iter(shapes.values()))

    (top, area, bottom), grid_score = search.best()
    predictions: dict[str, list[str]] = {}
    for image_id, counts in above.items():
        empty = counts[top] < rlemask.scale_min_area(area, shape)
        mask = rles[image_id][bottom]
        predictions[image_id] = [] if empty or mask == "-1" else [mask]
    truth = {image_id: list(labels[image_id]) for image_id in shapes}
    return {
        "report": rlemask.evaluate(predictions, truth, shape=shape),
        "thresholds": {
            "top": top,
            "min_area": rlemask.scale_min_area(area, shape),
            "min_area_1024": area,
            "bottom": bottom,
            "grid_score": grid_score,
            "grid_size": len(search.grid),
        },
        "plain_threshold_score": float(np.mean(plain)),
        "predictions": predictions,
        "shape": shape,
        "seconds": seconds,
    }


def evaluate_model(
    model,
    val_paths: Sequence[Path],
    labels: Mapping[str, Sequence[str]],
    *,
    cache=None,
    batch_size: int = 16,
    tta: str | None = None,
    n_overlays: int = 8,
    log=print,
) -> dict[str, Any]:
    """Score ``model`` on ``val_paths`` at each image's original resolution.

    Returns what :func:`score_probabilities` does, plus
    ``predict_images_per_second``, ``overlays`` (images, truths, masks and
    ids at the model's size for the figure) and ``page`` (an
    :class:`rlemask.ScoreReport` of the same predictions, for ``report.html``).
    """
    probabilities = predict_probabilities(
        model, val_paths, tta=tta, batch_size=batch_size, cache=cache
    )
    result = score_probabilities(probabilities, labels)
    report, shape = result["report"], result["shape"]
    log(
        f"validation ({len(val_paths)} images at {shape[0]} px): competition score "
        f"{report.mean_dice:.4f} vs all-empty {report.all_empty_baseline:.4f}, "
        f"Dice on positives {report.dice_positive:.4f}"
    )
    result["predict_images_per_second"] = len(val_paths) / result["seconds"]
    truth = {path.stem: list(labels[path.stem]) for path in val_paths}
    result["page"] = rlemask.score(result["predictions"], truth, metric="dice", shape=shape,
                                   format="siim")  # the same Dice as report, for the page
    result["overlays"] = _overlays(
        _overlay_picks(val_paths, labels, n_overlays),
        result.pop("predictions"),
        labels,
        shape,
        model_input_size(model),
        cache,
    )
    return result


def _overlay_picks(val_paths, labels, n: int) -> list[Path]:
    """A few validation ids for the figure: positives first, then negatives."""
    pos = [p for p in val_paths if labels[p.stem]]
    neg = [p for p in val_paths if not labels[p.stem]]
    n_pos = min(len(pos), max(n - min(len(neg), n // 4), 0))
    return pos[:n_pos] + neg[: n - n_pos]


def _overlays(paths, predictions, labels, shape, size: int, cache):
    """(images, truths, masks, ids) at the model's size, for the overlay figure."""
    images, truths, masks, ids = [], [], [], []
    for path in paths:
        image = load_images([path], size, cache)[0]
        for store, rle_list in ((truths, labels[path.stem]), (masks, predictions[path.stem])):
            full = rlemask.merge(rle_list, shape=shape)
            store.append(rlemask.resize_mask(full, size, method="area"))
        images.append(image)
        ids.append(path.stem)
    return images, truths, masks, ids
