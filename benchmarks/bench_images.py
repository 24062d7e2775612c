"""asv: ``rlemask.read_image`` at full and reduced size, and ``image_shape`` (issue 22).

Files written in ``setup``: a 1600 x 256 Severstal JPEG, a 768 x 768 Airbus
JPEG (from :mod:`rlemask.synthetic_kinds`) and a 1024 x 1024 JPEG-Baseline
DICOM.  Side-by-side ratios against ``skimage.io.imread`` (+ resize) are in
``benchmarks/compare_images.py``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import rlemask
from benchmarks.compare_images import image_files


class ReadImageSuite:
    params = (["severstal", "airbus", "siim"], [1, 4])
    param_names = ["file", "reduce"]

    def setup(self, file, reduce):
        self.folder = Path(tempfile.mkdtemp(prefix="rlemask-asv-images-"))
        self.path = image_files(self.folder)[file]
        rlemask.read_image(self.path, reduce=reduce)  # imports and first calls off the clock

    def teardown(self, file, reduce):
        shutil.rmtree(self.folder, ignore_errors=True)

    def time_read_image(self, file, reduce):
        rlemask.read_image(self.path, reduce=reduce)

    def time_image_shape(self, file, reduce):
        rlemask.image_shape(self.path)
