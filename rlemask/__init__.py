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
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> private module that defines it.  One table, one place.
_EXPORTS: dict[str, str] = {
    # errors
    "RLEError": "rlemask._errors",
    "DicomError": "rlemask._errors",
    "ImageError": "rlemask._errors",
    "LabelsFileError": "rlemask._errors",
    # runs, formats, codecs
    "Runs": "rlemask.runs",
    "formats": "rlemask._formats",
    "register_format": "rlemask._formats",
    "get_format": "rlemask._formats",
    "PairsCodec": "rlemask._formats.pairs",
    "decode": "rlemask.codec",
    "encode": "rlemask.codec",
    "merge": "rlemask.codec",
    "warmup": "rlemask.codec",
    # labels files
    "read_rle_csv": "rlemask.labels",
    "write_rle_csv": "rlemask.labels",
    "labels_from_frame": "rlemask.labels",
    "read_labels": "rlemask.label_reader",
    "Labels": "rlemask.label_table",
    "write_labels": "rlemask.label_writer",
    "inspect_labels": "rlemask.label_inspect",
    "LabelsReport": "rlemask.label_inspect",
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
    "score": "rlemask.scoring",
    "ScoreReport": "rlemask.score_report",
    "metrics": "rlemask.metric_registry",
    "register_metric": "rlemask.metric_registry",
    "competitions": "rlemask.competition_table",
    "competition": "rlemask.competition_table",
    "Competition": "rlemask.competition_table",
    "check_submission": "rlemask.submission",
    "remove_small_regions": "rlemask.postprocess",
    "triplet_threshold": "rlemask.postprocess",
    "TripletSearch": "rlemask.postprocess",
    "ClassTripletSearch": "rlemask.postprocess",
    "scale_min_area": "rlemask.postprocess",
    # images and data sets
    "read_dicom": "rlemask.dicom",
    "read_dicom_meta": "rlemask.dicom",
    "read_image": "rlemask.images",
    "image_shape": "rlemask.images",
    "read_region": "rlemask.images",
    "tiles": "rlemask.tiles",
    "TileWriter": "rlemask.tiles",
    "predict_tiled": "rlemask.tiled",
    "predict_tiled_classes": "rlemask.tiled",
    "TileDataset": "rlemask.tile_dataset",
    "load_siim": "rlemask.datasets",
    "split_dataset": "rlemask.datasets",
    "load_dataset": "rlemask.image_dataset",
    "Dataset": "rlemask.image_dataset",
    "load_sample": "rlemask.sample",
    "build_cache": "rlemask.cache",
    "SampleCache": "rlemask.cache",
    "plot_with_mask_and_bbox": "rlemask.plotting",
    "plot_prediction_overlay": "rlemask.plotting",
    "plot_dataset_overview": "rlemask.plotting",
    "plot_sample": "rlemask.plotting",
    "plot_prediction_grid": "rlemask.plotting",
    "save_figure": "rlemask.plotting",
}

# submodules reachable as attributes, e.g. ``rlemask.synthetic.make_dataset``
_SUBMODULES = {"synthetic", "synthetic_kinds", "augment"}

__all__ = sorted(_EXPORTS) + sorted(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"rlemask.{name}")
    raise AttributeError(f"module 'rlemask' has no attribute {name!r}")


class _Package(types.ModuleType):
    """The package object: importing a submodule must not hide a public name it shares.

    ``rlemask.metrics`` is both the function that lists the scoring metrics
    and the module of ``dice``/``iou``; the import system sets the package
    attribute of a freshly imported submodule, which would replace the
    function with the module (``from rlemask.metrics import dice`` still
    works: it reads ``sys.modules``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    # the public names and the module's dunders, not the helpers this file imports
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__")})


# Static tools (type checkers, IDEs) do not run __getattr__: they see the lazy
# names here, as explicit re-exports (``X as X``, PEP 484, so also under
# mypy --strict).  tests/core/test_exports.py checks that this block and _EXPORTS agree.
if TYPE_CHECKING:
    from rlemask import augment as augment
    from rlemask import synthetic as synthetic
    from rlemask import synthetic_kinds as synthetic_kinds
    from rlemask._errors import DicomError as DicomError
    from rlemask._errors import ImageError as ImageError
    from rlemask._errors import LabelsFileError as LabelsFileError
    from rlemask._errors import RLEError as RLEError
    from rlemask._formats import formats as formats
    from rlemask._formats import get_format as get_format
    from rlemask._formats import register_format as register_format
    from rlemask._formats.pairs import PairsCodec as PairsCodec
    from rlemask.boxes import bbox as bbox
    from rlemask.boxes import bboxes as bboxes
    from rlemask.cache import SampleCache as SampleCache
    from rlemask.cache import build_cache as build_cache
    from rlemask.codec import decode as decode
    from rlemask.codec import encode as encode
    from rlemask.codec import merge as merge
    from rlemask.codec import warmup as warmup
    from rlemask.competition_table import Competition as Competition
    from rlemask.competition_table import competition as competition
    from rlemask.competition_table import competitions as competitions
    from rlemask.datasets import load_siim as load_siim
    from rlemask.datasets import split_dataset as split_dataset
    from rlemask.dicom import read_dicom as read_dicom
    from rlemask.dicom import read_dicom_meta as read_dicom_meta
    from rlemask.evaluation import EvalReport as EvalReport
    from rlemask.evaluation import evaluate as evaluate
    from rlemask.image_dataset import Dataset as Dataset
    from rlemask.image_dataset import load_dataset as load_dataset
    from rlemask.images import image_shape as image_shape
    from rlemask.images import read_image as read_image
    from rlemask.images import read_region as read_region
    from rlemask.label_inspect import LabelsReport as LabelsReport
    from rlemask.label_inspect import inspect_labels as inspect_labels
    from rlemask.label_reader import read_labels as read_labels
    from rlemask.label_table import Labels as Labels
    from rlemask.label_writer import write_labels as write_labels
    from rlemask.labels import labels_from_frame as labels_from_frame
    from rlemask.labels import read_rle_csv as read_rle_csv
    from rlemask.labels import write_rle_csv as write_rle_csv
    from rlemask.metric_registry import metrics as metrics
    from rlemask.metric_registry import register_metric as register_metric
    from rlemask.metrics import dice as dice
    from rlemask.metrics import dice_scores as dice_scores
    from rlemask.metrics import iou as iou
    from rlemask.pairwise import dice_matrix as dice_matrix
    from rlemask.pairwise import iou_matrix as iou_matrix
    from rlemask.plotting import plot_dataset_overview as plot_dataset_overview
    from rlemask.plotting import plot_prediction_grid as plot_prediction_grid
    from rlemask.plotting import plot_prediction_overlay as plot_prediction_overlay
    from rlemask.plotting import plot_sample as plot_sample
    from rlemask.plotting import plot_with_mask_and_bbox as plot_with_mask_and_bbox
    from rlemask.plotting import save_figure as save_figure
    from rlemask.postprocess import ClassTripletSearch as ClassTripletSearch
    from rlemask.postprocess import TripletSearch as TripletSearch
    from rlemask.postprocess import remove_small_regions as remove_small_regions
    from rlemask.postprocess import scale_min_area as scale_min_area
    from rlemask.postprocess import triplet_threshold as triplet_threshold
    from rlemask.resize import resize_image as resize_image
    from rlemask.resize import resize_mask as resize_mask
    from rlemask.runs import Runs as Runs
    from rlemask.sample import load_sample as load_sample
    from rlemask.score_report import ScoreReport as ScoreReport
    from rlemask.scoring import score as score
    from rlemask.submission import check_submission as check_submission
    from rlemask.tile_dataset import TileDataset as TileDataset
    from rlemask.tiled import predict_tiled as predict_tiled
    from rlemask.tiled import predict_tiled_classes as predict_tiled_classes
    from rlemask.tiles import TileWriter as TileWriter
    from rlemask.tiles import tiles as tiles
