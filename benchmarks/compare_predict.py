"""Prediction post-processing rows of ``benchmarks/compare.py`` (the model's time excluded).

From a 128 x 128 probability map (what the model gives) to the 1024 x 1024
submission row (SIIM RLE text), in this one process, alternately:

- ``predict --resolution model`` (:func:`rlemask_keras.predict.upscaled_runs`):
  the triplet rule at 128 px, the runs scaled up with ``Runs.resize``, the text
  written from the runs;
- against the same result computed densely: the triplet at 128 px,
  ``resize_mask`` to a dense 1024 x 1024 mask, ``encode`` (identical rows,
  tested in tests/adapter/test_keras_predict.py);
- against ``predict``'s default path (``--resolution image``): the map resized
  bilinearly to 1024 x 1024, the triplet there, ``encode``.  Not the same rows
  (edges differ by up to half a model pixel): the cost of full-size
  thresholding.

Maps: a few smooth blobs (a positive image) and a low flat map (an empty
one).  Run alone: ``python benchmarks/compare_predict.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.compare import interleaved_best  # noqa: E402

MODEL = 128
FULL = (1024, 1024)
TRIPLET = (0.75, 2000, 0.3)


def probability_maps() -> dict[str, np.ndarray]:
    """``{"positive": blobs, "empty": low noise}`` at the model's size, float32."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:MODEL, 0:MODEL].astype(np.float32)
    blobs = np.zeros((MODEL, MODEL), np.float32)
    for cy, cx, r in ((40, 30, 12), (70, 90, 18), (100, 40, 8)):
        blobs += np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r**2))
    positive = np.clip(blobs + rng.normal(0, 0.02, blobs.shape), 0, 1).astype(np.float32)
    empty = np.clip(rng.normal(0.05, 0.02, (MODEL, MODEL)), 0, 1).astype(np.float32)
    return {"positive": positive, "empty": empty}


def rows() -> list[dict[str, Any]]:
    import rlemask
    from rlemask_keras.predict import upscaled_runs

    top, area, bottom = TRIPLET

    def runs_path(prob):
        return upscaled_runs(prob, FULL, TRIPLET).to_text("siim")

    def dense_same(prob):
        small = rlemask.triplet_threshold(
            prob, top, rlemask.scale_min_area(area, prob.shape), bottom
        )
        return rlemask.encode(rlemask.resize_mask(small, FULL))

    def dense_image(prob):
        full = np.asarray(rlemask.resize_image(prob, FULL, method="bilinear"), np.float32)
        return rlemask.encode(
            rlemask.triplet_threshold(full, top, rlemask.scale_min_area(area, FULL), bottom)
        )

    out = []
    for name, prob in probability_maps().items():
        assert runs_path(prob) == dense_same(prob)  # the comparison is of equal results
        fns = [lambda p=prob: runs_path(p), lambda p=prob: dense_same(p),
               lambda p=prob: dense_image(p)]  # fmt: skip
        runs_s, same_s, image_s = interleaved_best(fns, rounds=200, budget_s=2.0)
        what = f"predict post-processing, {MODEL} px map -> 1024 px row, {name}"
        out.append(dict(operation=what, note="--resolution model vs the same result dense",
                        rlemask_s=runs_s, baseline="threshold + resize_mask + encode",
                        baseline_s=same_s))  # fmt: skip
        out.append(dict(operation=what, note="--resolution model vs image",
                        rlemask_s=runs_s, baseline="bilinear 1024 px + threshold + encode",
                        baseline_s=image_s))  # fmt: skip
    return out


if __name__ == "__main__":  # python -m benchmarks.compare_predict
    from benchmarks.compare import table

    print(table(rows()))
