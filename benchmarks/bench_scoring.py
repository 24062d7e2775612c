"""asv suites for scoring (issue 21): the IoU sweep on an instance set, and per-image Dice.

Inputs: the synthetic instance set of :mod:`benchmarks.instance_set` (768 x
768 images, 0-50 objects, a perturbed submission), built once per parameter
in ``setup``; ``setup`` also scores once so that numba's compile time is
never measured.  ``peakmem_*`` over 500 and 2,000 images shows the memory
of scoring staying flat in the number of images beyond the inputs.
"""

from __future__ import annotations

import rlemask
from benchmarks.compare_scoring import dense_numpy, pycocotools_iou
from benchmarks.instance_set import SIZE, make_instance_set


class ScoringSuite:
    params = [500, 2000]
    param_names = ["n_images"]
    timeout = 300

    def setup(self, n_images):
        self.truth, self.sub = make_instance_set(n_images)
        self.score("iou-sweep")

    def score(self, metric):
        return rlemask.score(self.sub, self.truth, metric=metric, format="kaggle",
                             shape=(SIZE, SIZE))

    def time_iou_sweep(self, n_images):
        self.score("iou-sweep")

    def time_f2_sweep(self, n_images):
        self.score("f2-sweep")

    def time_dice(self, n_images):
        self.score("dice")

    def time_pycocotools_iou(self, n_images):
        pycocotools_iou(self.truth, self.sub)

    def peakmem_iou_sweep(self, n_images):
        self.score("iou-sweep")


class DenseBaselineSuite:
    """Decode both sides and match with numpy: slow, so on 200 images only."""

    timeout = 300

    def setup(self):
        self.truth, self.sub = make_instance_set(200)

    def time_dense_numpy(self):
        dense_numpy(self.truth, self.sub)
