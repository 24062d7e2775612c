"""The synthetic kinds and their file layouts, as plain data.

Kept apart from :mod:`rlemask.synthetic_kinds` (which draws the images and
needs the codecs' numba kernels) so that ``rlemask synth --help`` and every
other command's parser can list the kinds without loading them.

Examples
--------
>>> KINDS
('siim', 'severstal', 'airbus', 'uw-madison', 'hubmap')
>>> LAYOUTS["severstal"]["size"]
(256, 1600)
"""

from __future__ import annotations

from typing import Any

__all__ = ["KINDS", "LAYOUTS"]

KINDS = ("siim", "severstal", "airbus", "uw-madison", "hubmap")

#: per kind: image folder, labels file, default image count and size (h, w)
LAYOUTS: dict[str, dict[str, Any]] = {
    "siim": {"images": "dicom-images-train", "labels": "train-rle.csv", "n": 64, "size": 1024},
    "severstal": {"images": "train_images", "labels": "train.csv", "n": 8, "size": (256, 1600)},
    "airbus": {"images": "train_v2", "labels": "train_ship_segmentations_v2.csv", "n": 8,
               "size": (768, 768)},
    "uw-madison": {"images": "train", "labels": "train.csv", "n": 2, "size": None},
    "hubmap": {"images": "train", "labels": "train.csv", "n": 1, "size": (8192, 8192)},
}
