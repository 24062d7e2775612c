"""Scoring an instance competition: rows of ``benchmarks/compare.py`` (issue 21).

On the synthetic set of :mod:`benchmarks.instance_set` (2,000 images of
768 x 768, 0-50 objects each, a perturbed submission), the IoU-sweep score
(DSB 2018 / Sartorius) three ways, from the same RLE texts in memory:

* ``rlemask.score(sub, truth, metric="iou-sweep")``: runs parsed in blocks,
  only pairs whose boxes overlap compared, IoU on the runs (the report's
  all-empty baseline and positive-only score included);
* decode both sides densely with numpy (a label image per side, as the
  public graders do) and count the intersections of every pair with
  ``np.bincount``;
* ``pycocotools.mask.iou`` on RLEs built with ``frPyObjects`` from the same
  texts.

All three must give the same score before they are timed.  Ratios are
baseline time / rlemask time.  ``python -m benchmarks.compare_scoring``
prints the rows and the peak memory of ``score`` for 500 and 2,000 images.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rlemask
from benchmarks.instance_set import SIZE, make_instance_set

N_IMAGES = 2000
THRESHOLDS = np.arange(50, 100, 5) / 100


def _sweep(iou: np.ndarray, n_true: int, n_pred: int) -> float:
    """Mean over thresholds of TP / (TP + FP + FN) from an (n_true, n_pred) IoU matrix."""
    if n_true == 0 and n_pred == 0:
        return 1.0
    scores = []
    for t in THRESHOLDS:
        # the 1e-12 keeps an IoU of exactly t from matching through float rounding
        tp = int((iou > t + 1e-12).sum()) if iou.size else 0
        scores.append(tp / (n_true + n_pred - tp))
    return float(np.mean(scores))


def _paint(texts: list[str], npix: int) -> np.ndarray:
    label = np.zeros(npix, np.int32)
    for k, text in enumerate(texts, start=1):
        values = np.asarray(text.split(), dtype=np.int64)
        for s, n in zip(values[0::2] - 1, values[1::2], strict=True):
            label[s : s + n] = k
    return label


def dense_numpy(truth: dict, sub: dict) -> float:
    """Decode each side to a label image, intersect every pair with one bincount."""
    npix = SIZE * SIZE
    scores = []
    for image_id, t_texts in truth.items():
        p_texts = sub.get(image_id, [])
        nt, npred = len(t_texts), len(p_texts)
        t_lab, p_lab = _paint(t_texts, npix), _paint(p_texts, npix)
        table = np.bincount(t_lab * (npred + 1) + p_lab, minlength=(nt + 1) * (npred + 1))
        table = table.reshape(nt + 1, npred + 1)
        inter = table[1:, 1:]
        union = table[1:].sum(1)[:, None] + table[:, 1:].sum(0)[None, :] - inter
        scores.append(_sweep(inter / np.maximum(union, 1), nt, npred))
    return float(np.mean(scores))


def _coco(texts: list[str]) -> list:
    from pycocotools import mask as mask_util

    objs = []
    for text in texts:
        values = np.asarray(text.split(), dtype=np.int64)
        starts, lengths = values[0::2] - 1, values[1::2]
        counts = np.empty(2 * starts.size + 1, np.int64)
        counts[0:-1:2] = np.diff(starts, prepend=0) - np.concatenate(([0], lengths[:-1]))
        counts[1::2] = lengths
        # COCO counts cover every pixel: pycocotools' iou loops forever on a short list
        counts[-1] = SIZE * SIZE - (starts[-1] + lengths[-1])
        objs.append({"counts": counts.tolist(), "size": [SIZE, SIZE]})
    return mask_util.frPyObjects(objs, SIZE, SIZE) if objs else []


def pycocotools_iou(truth: dict, sub: dict) -> float:
    """``pycocotools.mask.iou`` per image on RLEs of the same texts."""
    from pycocotools import mask as mask_util

    scores = []
    for image_id, t_texts in truth.items():
        p_texts = sub.get(image_id, [])
        t, p = _coco(t_texts), _coco(p_texts)
        iou = np.asarray(mask_util.iou(t, p, [0] * len(p))) if t and p else np.zeros((0, 0))
        scores.append(_sweep(iou, len(t_texts), len(p_texts)))
    return float(np.mean(scores))


def ours(truth: dict, sub: dict) -> float:
    return rlemask.score(sub, truth, metric="iou-sweep", format="kaggle",
                         shape=(SIZE, SIZE)).score


def _best(fn, *args, repeat: int = 3) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, value


def peak_memory_mb(n_images: int) -> float:
    """Peak memory traced while ``score`` runs (inputs excluded), in MB."""
    truth, sub = make_instance_set(n_images)
    ours(truth, sub)  # compiled and warm
    tracemalloc.start()
    ours(truth, sub)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def rows() -> list[dict[str, Any]]:
    truth, sub = make_instance_set(N_IMAGES)
    n_obj = sum(map(len, truth.values())) + sum(map(len, sub.values()))
    ours(truth, sub)  # compile / load the kernels outside the timing
    t_ours, s_ours = _best(ours, truth, sub)
    t_dense, s_dense = _best(dense_numpy, truth, sub, repeat=1)
    t_coco, s_coco = _best(pycocotools_iou, truth, sub)
    for name, value in (("dense numpy", s_dense), ("pycocotools", s_coco)):
        if abs(value - s_ours) > 1e-9:
            raise AssertionError(f"{name} scores {value}, rlemask {s_ours}")
    what = f"score iou-sweep, {N_IMAGES:,} images 768x768, {n_obj:,} objects"
    return [
        {"operation": what, "rlemask_s": t_ours, "baseline": "decode both + numpy matching",
         "baseline_s": t_dense, "target": 20.0},
        {"operation": what, "rlemask_s": t_ours, "baseline": "pycocotools.mask.iou",
         "baseline_s": t_coco, "target": 3.0},
    ]


def main() -> int:
    for row in rows():
        ratio = row["baseline_s"] / row["rlemask_s"]
        print(f"{row['operation']}: rlemask {row['rlemask_s']:.3f} s, {row['baseline']} "
              f"{row['baseline_s']:.3f} s, ratio {ratio:.1f}x (target {row['target']:.0f}x)")
    for n in (500, 2000):
        print(f"peak memory traced in score, {n:,} images: {peak_memory_mb(n):.1f} MB")
    return 0


if __name__ == "__main__":  # python -m benchmarks.compare_scoring
    raise SystemExit(main())
