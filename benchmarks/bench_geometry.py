"""asv: resizing, Dice and evaluation (issue 3).

Targets, measured side by side in ``benchmarks/compare_geometry.py``:
``resize_image`` 1024 -> 256 (uint8 in, float32 out) at most 2x a numpy
two-step 4x4 block mean and at least 20x faster than skimage's anti-aliased
resize; ``resize_mask`` nearest under 3x a copy of the output, ``any`` at
least 10x faster than ``reshape(...).max((1, 3))``; ``dice`` at most 3x one
``np.count_nonzero`` pass over both masks; Dice on runs at least 10x faster
than decoding both; ``evaluate`` over 10,000 images in SIIM proportions
(78 % empty) under 2 s on one core.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path

import numpy as np

SIZE = 1024
N_IMAGES = 10_000
POSITIVE_SHARE = 0.22


def _masks():
    from benchmarks.masks import MASKS, make_mask

    return {name: make_mask(name) for name in MASKS}


def make_eval_csvs(folder: str | Path, n: int = N_IMAGES, seed: int = 1234) -> tuple[Path, Path]:
    """Write ``truth.csv`` (stage-1 spelling) and ``pred.csv`` in SIIM proportions.

    22 % of the images have a region (a third of them in two rows); the
    prediction of a positive is the truth shifted by a few pixels (80 %) or
    empty; 5 % of the empty images get a false positive.  Returns the paths
    ``(pred, truth)``.
    """
    import rlemask

    rng = np.random.default_rng(seed)
    base = list(_masks().values())
    variants = [np.roll(m, (dy, dx), (0, 1)) for m in base for dy, dx in ((0, 0), (40, -30))]
    texts = [rlemask.encode(m) for m in variants]
    shifted = [rlemask.encode(np.roll(m, (3, 4), (0, 1))) for m in variants]
    folder = Path(folder)
    truth_path, pred_path = folder / "truth.csv", folder / "pred.csv"
    with open(truth_path, "w", newline="") as tf, open(pred_path, "w", newline="") as pf:
        pred = csv.writer(pf, lineterminator="\n")
        tf.write("ImageId, EncodedPixels\n")
        pred.writerow(["ImageId", "EncodedPixels"])
        for i in range(n):
            image_id = f"1.2.276.0.7230010.3.1.4.8323329.{1000 + i}.1517875{i:06d}"
            if rng.random() < POSITIVE_SHARE:
                k = int(rng.integers(len(texts)))
                tf.write(f"{image_id}, {texts[k]}\n")
                if rng.random() < 1 / 3:  # a second region row
                    tf.write(f"{image_id}, {texts[(k + 1) % len(texts)]}\n")
                pred.writerow([image_id, shifted[k] if rng.random() < 0.8 else "-1"])
            else:
                tf.write(f"{image_id}, -1\n")
                pred.writerow([image_id, texts[0] if rng.random() < 0.05 else "-1"])
    return pred_path, truth_path


class ResizeSuite:
    """1024 x 1024 -> 256 x 256."""

    params = (["nearest", "any", "area"],)
    param_names = ["method"]

    def setup(self, method):
        import rlemask

        rng = np.random.default_rng(1234)
        self.image = rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
        self.mask = _masks()["three"]
        rlemask.resize_mask(self.mask, 256, method=method)  # compile / load the cache
        rlemask.resize_image(self.image, 256)

    def time_resize_mask(self, method):
        import rlemask

        rlemask.resize_mask(self.mask, 256, method=method)

    def time_resize_image_area(self, method):
        import rlemask

        rlemask.resize_image(self.image, 256, method="area")

    def time_resize_mask_non_integer(self, method):
        import rlemask

        rlemask.resize_mask(self.mask, (300, 300), method=method)


class DiceSuite:
    def setup(self):
        import rlemask

        masks = _masks()
        self.a, self.b = masks["three"], np.roll(masks["three"], (3, 4), (0, 1))
        self.ra, self.rb = rlemask.Runs.from_mask(self.a), rlemask.Runs.from_mask(self.b)
        self.probs = np.stack([self.a, self.b]).astype(np.float32) * 0.9
        self.targets = np.stack([self.b, self.a])
        rlemask.dice(self.a, self.b)
        rlemask.dice(self.ra, self.rb)
        rlemask.dice_scores(self.probs, self.targets)

    def time_dice_dense(self):
        import rlemask

        rlemask.dice(self.a, self.b)

    def time_dice_runs(self):
        import rlemask

        rlemask.dice(self.ra, self.rb)

    def time_dice_scores_batch_of_2(self):
        import rlemask

        rlemask.dice_scores(self.probs, self.targets)


class EvaluateSuite:
    timeout = 120

    def setup(self):
        import rlemask

        self.folder = tempfile.mkdtemp(prefix="rlemask-eval-")
        self.pred, self.truth = make_eval_csvs(self.folder)
        rlemask.evaluate(self.pred, self.truth)  # warm the kernels

    def teardown(self):
        shutil.rmtree(self.folder, ignore_errors=True)

    def time_evaluate_10k_csv(self):
        import rlemask

        rlemask.evaluate(self.pred, self.truth)

    def peakmem_evaluate_10k_csv(self):
        import rlemask

        rlemask.evaluate(self.pred, self.truth)
