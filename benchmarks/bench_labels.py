"""asv suites for label files (issue 20): read_labels beside pandas.read_csv, masks(), inspect.

Files: the synthetic long-layout and Severstal files of
:mod:`benchmarks.label_files` (seeded, written once per size).  ``setup``
reads a small file first, so that numba's compile (or cache load) is never
measured.
"""

from __future__ import annotations

import rlemask
from benchmarks.label_files import long_file, severstal_file


class ReadLongLayoutSuite:
    """``read_labels`` and ``pandas.read_csv`` on the same long-layout file."""

    params = [[5, 50]]
    param_names = ["megabytes"]
    timeout = 300

    def setup(self, megabytes):
        self.path = long_file(megabytes)
        rlemask.read_labels(severstal_file())

    def time_read_labels(self, megabytes):
        rlemask.read_labels(self.path, format="kaggle")

    def time_read_labels_auto(self, megabytes):
        rlemask.read_labels(self.path)

    def time_pandas_read_csv(self, megabytes):
        import pandas as pd

        pd.read_csv(self.path)

    def peakmem_read_labels(self, megabytes):
        rlemask.read_labels(self.path)

    def peakmem_pandas_read_csv(self, megabytes):
        import pandas as pd

        pd.read_csv(self.path)


class SeverstalMasksSuite:
    """``Labels.masks`` of one Severstal image (4 x 256 x 1600)."""

    def setup(self):
        self.labels = rlemask.read_labels(severstal_file(), shape=(256, 1600))
        self.image_id = self.labels.ids[0]
        self.labels.masks(self.image_id)

    def time_masks(self):
        self.labels.masks(self.image_id)

    def time_inspect(self):
        rlemask.inspect_labels(severstal_file())
