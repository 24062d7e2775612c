"""rlemask: run-length encoded segmentation masks for medical imaging.

Decode and encode the SIIM, Kaggle and COCO run-length formats, merge and
resize masks without losing their binary nature, score predictions per image,
and read DICOM data sets such as SIIM-ACR Pneumothorax.

The public names are loaded lazily (PEP 562): ``import rlemask`` imports no
numba kernels, pydicom, matplotlib or TensorFlow, and compiles nothing.

Examples
--------
>>> import rlemask
>>> mask = rlemask.decode("1 2 7 1 7 2 9 1", shape=(6, 5))
>>> int(mask.sum())
6
>>> rlemask.encode(mask)
'1 2 7 1 7 2 9 1'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> private module that defines it.  One table, one place.
_EXPORTS: dict[str, str] = {
    # errors
    "RLEError": "rlemask._errors",
    "DicomError": "rlemask._errors",
    "LabelsFileError": "rlemask._errors",
    # runs, formats, codecs
    "Runs": "rlemask.runs",
    "formats": "rlemask._formats",
    "register_format": "rlemask._formats",
    "get_format": "rlemask._formats",
    "decode": "rlemask.codec",
    "encode": "rlemask.codec",
    "merge": "rlemask.codec",
    "warmup": "rlemask.codec",
    # labels files
    "read_rle_csv": "rlemask.labels",
    "write_rle_csv": "rlemask.labels",
    "labels_from_frame": "rlemask.labels",
    # geometry and metrics
    "resize_image": "rlemask.resize",
    "resize_mask": "rlemask.resize",
    "bbox": "rlemask.boxes",
    "bboxes": "rlemask.boxes",
    "dice": "rlemask.metrics",
    "dice_scores": "rlemask.metrics",
    "iou": "rlemask.metrics",
    "iou_matrix": "rlemask.pairwise",
    "dice_matrix": "rlemask.pairwise",
    "evaluate": "rlemask.evaluation",
    "EvalReport": "rlemask.evaluation",
    "remove_small_regions": "rlemask.postprocess",
    "triplet_threshold": "rlemask.postprocess",
    "TripletSearch": "rlemask.postprocess",
    "scale_min_area": "rlemask.postprocess",
    # images and data sets
    "read_dicom": "rlemask.dicom",
    "read_dicom_meta": "rlemask.dicom",
    "load_siim": "rlemask.datasets",
    "split_dataset": "rlemask.datasets",
    "load_sample": "rlemask.sample",
    "build_cache": "rlemask.cache",
    "SampleCache": "rlemask.cache",
    "plot_with_mask_and_bbox": "rlemask.plotting",
    "plot_prediction_overlay": "rlemask.plotting",
    "plot_dataset_overview": "rlemask.plotting",
    "plot_prediction_grid": "rlemask.plotting",
    "save_figure": "rlemask.plotting",
}

# submodules reachable as attributes, e.g. ``rlemask.synthetic.make_dataset``
_SUBMODULES = {"synthetic", "augment"}

__all__ = sorted(_EXPORTS) + sorted(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"rlemask.{name}")
    raise AttributeError(f"module 'rlemask' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static tools see the real names
    from rlemask._errors import DicomError, LabelsFileError, RLEError  # noqa: F401
