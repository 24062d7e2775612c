"""From images to probability maps and masks at each image's own resolution.

One path serves validation and ``rlemask-keras predict``:
:func:`predict_probabilities` runs every model once per image (batched),
averages the models (and their flipped passes) and brings the map back to
the image's ``Rows x Columns`` with :func:`rlemask.resize_image`
(bilinear), one image at a time, so memory stays flat whatever the number
of images.  :func:`predict_masks` binarises those maps with
:func:`rlemask.triplet_threshold`; :func:`predict` writes a submission.

``predict(..., resolution="model")`` post-processes at the model's size
instead (:func:`predict_runs`): the averaged map is thresholded there and
its runs are scaled up with :meth:`rlemask.Runs.resize` (nearest), so no
dense full-resolution array is built.  The masks are then exactly
``resize_mask(triplet_threshold(model-size map), shape)``, and the exact
rule of the difference from the default (bilinear map, thresholded at full
size) is:

* region edges: blockier, by up to half a model pixel;
* whole masks, near the thresholds: the triplet's "has this image a region"
  decision counts the pixels above ``top`` on different maps -- at the
  model's size against ``min_area`` scaled down, or on the bilinear map
  against ``min_area`` at the image's size.  Bilinear upsampling lowers a
  peak narrower than a model pixel (a 0.9 pixel among 0.35 ones reaches
  0.66 at twice the size), and ``scale_min_area`` rounds, so an image whose
  pixels above ``top`` are few can keep a region on one path and none on
  the other (``tests/adapter/test_keras_predict.py`` pins such a case).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import rlemask
from rlemask.datasets import find_dicoms, warn_duplicates
from rlemask.progress import progress as progress_bar
from rlemask_keras import run_folder
from rlemask_keras.report import plural

__all__ = [
    "DEFAULT_TRIPLET",
    "load_keras_model",
    "model_input_size",
    "model_probabilities",
    "predict_probabilities",
    "predict_masks",
    "predict_runs",
    "predict",
]

#: the SIIM winner's validation triplet (top, min_area at 1024 x 1024, bottom)
DEFAULT_TRIPLET = (0.75, 2000, 0.3)


def load_keras_model(path: str | os.PathLike, *, single_class: bool = True):
    """``keras.models.load_model`` with a one-line error for a file that is not a model.

    The model's output is checked: one sigmoid channel (:func:`check_model_output`,
    the DICOM path), or with ``single_class=False`` one per class
    (:func:`mask_channels`).
    """
    import keras

    import rlemask_keras  # noqa: F401  (registers the adapter's losses and metrics)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    try:
        model = keras.models.load_model(path)
    except Exception as err:  # Keras raises ValueError, OSError, zipfile errors, KeyError...
        first = str(err).splitlines()[0] if str(err) else ""
        raise ValueError(
            f"{str(path)!r} is not a Keras model file (.keras) that this version "
            f"can load ({type(err).__name__}: {first})"
        ) from err
    if single_class:
        check_model_output(model, str(path))
    else:
        mask_channels(model, str(path))
    return model


def check_model_output(model, name: str | None = None) -> None:
    """Refuse a model whose mask output is not one map of probabilities, (B, S, S, 1).

    The DICOM path (SIIM) predicts one class: one output channel of
    probabilities (a sigmoid).  Several channels (a multi-class model: see
    :func:`rlemask_keras.predict_folder`), a softmax over channels (channel 0
    of a 2-class softmax is the background: an inverted map) or an output
    that is not a map would be read wrongly, so they are refused, naming the
    model (:func:`mask_channels` gives the checks every path shares).

    Raises
    ------
    ValueError
        The model's mask output is not ``(batch, S, S, 1)``, or it ends in a
        softmax.

    Examples
    --------
    >>> import keras
    >>> inp = keras.Input((8, 8, 1))
    >>> check_model_output(keras.Model(inp, keras.layers.Conv2D(1, 1, activation="sigmoid")(inp)))
    >>> try:
    ...     check_model_output(keras.Model(inp, keras.layers.Conv2D(2, 1)(inp)), "two.keras")
    ... except ValueError as err:
    ...     print(str(err)[:58])
    the model 'two.keras' outputs 2 channels; prediction under
    """
    label = f"the model {name!r}" if name else "the model"
    shape = _final_output_shape(model)
    if len(shape) == 4 and shape[-1] != 1:
        raise ValueError(
            f"{label} outputs {shape[-1]} channels; prediction understands one channel of "
            "probabilities on the DICOM path (a 1-channel sigmoid output): predict a "
            "multi-class model with a layout (`competition` or `layout`)"
        )
    mask_channels(model, name)


def mask_channels(model, name: str | None = None) -> int:
    """The number ``C`` of classes of a segmentation model; refuses what prediction misreads.

    Understood: a mask output ``(batch, H, W, C)`` of probabilities (one
    sigmoid per class), alone, or beside deep-supervision outputs
    (``out1 .. outN``, the last one predicted) and a presence head
    ``"presence"`` of shape ``(batch, C)``.  Refused, naming the model: an
    output that is not a map, a softmax (its channels are exclusive classes
    with a background, not independent masks), outputs of other names.

    Examples
    --------
    >>> import rlemask_keras
    >>> mask_channels(rlemask_keras.unet((16, 16, 1), filters=2, depth=1, classes=4,
    ...                                  classifier=True))
    4
    """
    label = f"the model {name!r}" if name else "the model"
    output = model.output
    if isinstance(output, Mapping):
        mask_name = _mask_name(model, dict(output))
        others = sorted(set(output) - {mask_name, PRESENCE} - set(_deep_names(output)))
        if others:
            raise ValueError(
                f"{label} has outputs {sorted(output)}; prediction understands a mask output "
                f"({mask_name!r}, deep-supervision outputs out1..outN) and a presence head "
                f"{PRESENCE!r}, not {others}"
            )
    shape = _final_output_shape(model)
    if len(shape) != 4:
        raise ValueError(
            f"{label} outputs shape {tuple(shape)}, not a map (batch, height, width, classes); "
            "prediction understands segmentation models with one sigmoid channel per class"
        )
    if _ends_in_softmax(model):
        raise ValueError(
            f"{label} ends in a softmax over its {shape[-1]} channel(s); prediction understands "
            "one sigmoid channel per class (a softmax's channels are exclusive, with a "
            "background channel)"
        )
    if isinstance(output, Mapping) and PRESENCE in output:
        presence = tuple(output[PRESENCE].shape)
        if presence[1:] != (shape[-1],):
            raise ValueError(
                f"{label}'s presence head has shape {presence}, not (batch, {shape[-1]}): one "
                "probability per class of its mask"
            )
    return int(shape[-1])


#: the output name of the presence head (``rlemask_keras.models``)
PRESENCE = "presence"


def _deep_names(outputs) -> list[str]:
    return [n for n in outputs if n.startswith("out") and n[3:].isdigit()]


def _mask_name(model, outputs: Mapping) -> str:
    """The output to segment with: ``model.mask_output``, ``mask``, else the deepest ``outN``."""
    named = getattr(model, "mask_output", None)
    if isinstance(named, str) and named in outputs:
        return named
    if "mask" in outputs:
        return "mask"
    deep = sorted(_deep_names(outputs), key=lambda n: int(n[3:]))
    if deep:
        return deep[-1]
    names = [n for n in getattr(model, "output_names", []) if n in outputs and n != PRESENCE]
    return names[-1] if names else sorted(n for n in outputs if n != PRESENCE)[-1]


def _ends_in_softmax(model) -> bool:
    """Whether the layer that makes the mask output is (or ends in) a softmax."""
    output = model.output
    if isinstance(output, Mapping):
        tensor = output[_mask_name(model, dict(output))]
    elif isinstance(output, (list, tuple)):
        tensor = output[-1]
    else:
        tensor = output
    history = getattr(tensor, "_keras_history", None)
    layer = history[0] if history else (model.layers[-1] if model.layers else None)
    activation = getattr(getattr(layer, "activation", None), "__name__", "")
    return activation == "softmax" or type(layer).__name__ == "Softmax"


def _final_output_shape(model) -> tuple:
    """The shape of the output :func:`_final_output` picks (the full-depth mask)."""
    output = model.output
    if isinstance(output, Mapping):
        return tuple(_final_output(model, dict(output)).shape)
    if isinstance(output, (list, tuple)):
        return tuple(output[-1].shape)
    return tuple(output.shape)


def model_input_size(model) -> int | None:
    """The side S of the model's (S, S, C) input, or None for any size."""
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    return shape[1]


def _final_output(model, outputs):
    """The mask prediction of a model with one or several outputs.

    A deep-supervision U-Net++ returns a dict of every output (``out1 ..
    outN``, the last the full-depth one); a model with a presence head names
    its mask ``model.mask_output`` (``"mask"``): the head is never the map.
    """
    if isinstance(outputs, Mapping):
        return outputs[_mask_name(model, outputs)]
    if isinstance(outputs, (list, tuple)):
        return outputs[-1]
    return outputs


#: test-time augmentation: the name -> the (rotations k of 90 degrees, horizontal flip)
#: passes averaged; ``flip`` is the older name of ``hflip``
TTA_PASSES: dict[str, tuple[tuple[int, bool], ...]] = {
    "none": ((0, False),),
    "hflip": ((0, False), (0, True)),
    "flips": ((0, False), (0, True), (2, True), (2, False)),
    "d4": tuple((k, f) for k in range(4) for f in (False, True)),
}
TTA_PASSES["flip"] = TTA_PASSES["hflip"]


def _forward(x: np.ndarray, k: int, flip: bool) -> np.ndarray:
    """``x`` (B, H, W, ...) flipped left-right (when ``flip``), then turned ``k`` x 90 degrees."""
    if flip:
        x = x[:, :, ::-1]
    return np.ascontiguousarray(np.rot90(x, k, axes=(1, 2)) if k else x)


def _backward(y: np.ndarray, k: int, flip: bool) -> np.ndarray:
    """The inverse of :func:`_forward` on a prediction map."""
    if k:
        y = np.rot90(y, -k, axes=(1, 2))
    return y[:, :, ::-1] if flip else y


def model_outputs(
    model, x: np.ndarray, *, tta: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(masks (B, h, w, C), presence (B, C) or None)`` of ``x`` (B, h, w, channels).

    ``tta`` averages the probabilities of the passes of :data:`TTA_PASSES`
    (``"hflip"``: and the left-right mirror; ``"flips"``: the four mirrors;
    ``"d4"``: the eight symmetries of the square), each map brought back
    before averaging; the presence head's probabilities are averaged over
    the same passes.  Quarter turns need a square input or a model of any size.
    """
    passes = TTA_PASSES[_check_tta(tta) or "none"]
    fixed = model_input_size(model)
    if fixed is not None and x.shape[1] != x.shape[2] and any(k % 2 for k, _ in passes):
        raise ValueError(
            f"`tta`={tta!r} turns images by 90 degrees, which a model of input "
            f"{tuple(x.shape[1:3])} cannot take; use tta='flips'"
        )
    masks, presence = 0.0, None
    for k, flip in passes:
        out = model.predict_on_batch(_forward(x, k, flip))
        mask = np.asarray(_final_output(model, out), np.float32)
        masks = masks + _backward(mask, k, flip)
        if isinstance(out, Mapping) and PRESENCE in out:
            presence = (0.0 if presence is None else presence) + np.asarray(out[PRESENCE])
    n = len(passes)
    masks = np.clip(masks / n, 0.0, 1.0).astype(np.float32)
    if presence is not None:
        presence = np.clip(presence / n, 0.0, 1.0).astype(np.float32)
    return masks, presence


def model_probabilities(model, images: np.ndarray, *, tta: str | None = None) -> np.ndarray:
    """Probabilities (B, S, S) float32 of ``images`` (B, S, S) in 0..1, at the model's size.

    ``tta="flip"`` (or ``"hflip"``) averages with the prediction of the
    horizontally flipped images, flipped back; ``"flips"`` and ``"d4"`` with
    more symmetries (:func:`model_outputs`).
    """
    x = np.ascontiguousarray(images[..., None], dtype=np.float32)
    shape = model.input_shape[0] if isinstance(model.input_shape, list) else model.input_shape
    if shape[-1] == 3:
        x = np.repeat(x, 3, axis=-1)
    check_model_output(model)
    return model_outputs(model, x, tta=tta)[0][..., 0]


def _check_batch_size(batch_size) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"`batch_size` must be a positive integer; received batch_size={batch_size!r}"
        )


def _check_tta(tta: str | None) -> str | None:
    if tta is not None and tta not in TTA_PASSES:
        raise ValueError(
            f"`tta` must be one of {sorted(TTA_PASSES)}; received tta={tta!r}"
        )
    return None if tta == "none" else tta


def predict_probabilities(
    models,
    paths: Sequence[str | os.PathLike],
    *,
    tta: str | None = None,
    batch_size: int = 16,
    weights: Sequence[float] | None = None,
    cache=None,
) -> Iterator[tuple[str, np.ndarray]]:
    """``(image_id, probability map)`` for each DICOM of ``paths``, in order.

    Each model sees each image once (per ``tta`` pass) at its own input
    size; the maps are averaged with ``weights`` at the image's original
    resolution (``Rows x Columns``), float32 in 0..1.  A generator: one
    batch of images is in memory at a time.

    Parameters
    ----------
    models : keras.Model or sequence of them
        Models taking ``(S, S, 1)`` or ``(S, S, 3)`` inputs in 0..1.
    paths : sequence of path-like
        DICOM files; the id is the file stem.
    tta : {None, "none", "flip", "hflip", "flips", "d4"}
        ``"flip"`` (``"hflip"``): average with the horizontally flipped pass;
        ``"flips"``, ``"d4"``: the four mirrors, the eight symmetries
        (:func:`model_outputs`).
    batch_size : int
        Images per model call.
    weights : sequence of float, optional
        One weight per model (default: equal).
    cache : rlemask.SampleCache, optional
        Serves the images of its size (the pixels :func:`rlemask.load_sample` gives).

    Examples
    --------
    >>> import rlemask, rlemask_keras, tempfile
    >>> from rlemask.synthetic import make_dataset
    >>> root = make_dataset(tempfile.mkdtemp(), 2, size=64, seed=0)
    >>> paths, _ = rlemask.load_siim(root)
    >>> model = rlemask_keras.unet((32, 32, 1), filters=2, depth=1)
    >>> [(i, p.shape) for i, p in predict_probabilities(model, paths)] == [
    ...     (p.stem, (64, 64)) for p in paths]
    True
    """
    for chunk, probs, shares in _model_size_batches(
        models, paths, tta, batch_size, weights, cache
    ):
        for i, path in enumerate(chunk):
            meta = rlemask.read_dicom_meta(path)
            shape = (int(meta["rows"]), int(meta["columns"]))
            full = np.zeros(shape, np.float32)
            for prob, share in zip(probs, shares, strict=True):
                full += share * _to_shape(prob[i], shape)
            yield path.stem, np.clip(full, 0.0, 1.0, out=full)


def _model_size_batches(models, paths, tta, batch_size, weights, cache):
    """``(paths, [each model's (B, S, S) maps], [each model's weight / total])`` per batch."""
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    if not models:
        raise ValueError("`models` must hold at least one model")
    shares = model_shares(weights, len(models))
    _check_batch_size(batch_size)
    tta = _check_tta(tta)
    sizes = [model_input_size(m) for m in models]
    if any(s is None for s in sizes):
        raise ValueError("every model needs a fixed input size (S, S, C)")
    paths = [Path(p) for p in paths]
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        images = {size: load_images(chunk, size, cache) for size in set(sizes)}
        probs = [
            model_probabilities(m, images[s], tta=tta) for m, s in zip(models, sizes, strict=True)
        ]
        yield chunk, probs, shares


def model_shares(weights: Sequence[float] | None, n: int) -> list[float]:
    """Each model's share of the average: ``weights`` (default equal) over their sum.

    Examples
    --------
    >>> model_shares([1, 3], 2)
    [0.25, 0.75]
    """
    values = [1.0] * n if weights is None else [float(w) for w in weights]
    if len(values) != n or not all(w >= 0 for w in values) or sum(values) <= 0:
        raise ValueError(
            f"`weights` must give one number >= 0 per model ({n}), not all 0; "
            f"received weights={values}"
        )
    total = sum(values)
    return [w / total for w in values]


def predict_runs(
    models,
    paths: Sequence[str | os.PathLike],
    thresholds: tuple[float, float, float] = DEFAULT_TRIPLET,
    *,
    tta: str | None = None,
    batch_size: int = 16,
    weights: Sequence[float] | None = None,
    cache=None,
) -> Iterator[tuple[str, Any]]:
    """``(image_id, rlemask.Runs)`` at each image's resolution, post-processed at model size.

    The models' maps are averaged (with ``weights``, ``tta`` passes
    included) at the model's input size, binarised there by
    :func:`rlemask.triplet_threshold` (``min_area``, given at 1024 x 1024,
    scaled to the model's size) and the runs scaled up to the image's
    ``Rows x Columns`` with :meth:`rlemask.Runs.resize`: exactly
    ``resize_mask(mask, shape)`` of the model-size mask, without a dense
    full-resolution array.  All models need the same input size.

    Examples
    --------
    One 64 px image through a 32 px model; the runs are at the image's size:

    >>> import tempfile
    >>> from rlemask import load_siim, synthetic
    >>> from rlemask_keras import unet
    >>> paths = load_siim(synthetic.make_dataset(tempfile.mkdtemp(), 1, size=64))[0]
    >>> [runs.shape for _, runs in predict_runs(unet((32, 32, 1), filters=2, depth=1), paths)]
    [(64, 64)]
    """
    listed = list(models) if isinstance(models, (list, tuple)) else [models]
    sizes = {model_input_size(m) for m in listed}
    if len(sizes) > 1:
        raise ValueError(
            "post-processing at the model's size needs models of one input size; "
            f"received sizes {sorted(sizes, key=str)}"
        )
    for chunk, probs, shares in _model_size_batches(models, paths, tta, batch_size, weights, cache):
        for i, path in enumerate(chunk):
            meta = rlemask.read_dicom_meta(path)
            shape = (int(meta["rows"]), int(meta["columns"]))
            small = np.zeros(probs[0].shape[1:], np.float32)
            for prob, share in zip(probs, shares, strict=True):
                small += share * prob[i]
            yield path.stem, upscaled_runs(np.clip(small, 0.0, 1.0, out=small), shape, thresholds)


def upscaled_runs(prob: np.ndarray, shape: tuple[int, int], thresholds) -> Any:
    """The triplet mask of ``prob`` at its size, as :class:`rlemask.Runs` resized to ``shape``.

    ``thresholds`` is ``(top, min_area at 1024 x 1024, bottom)``; ``min_area``
    is scaled to ``prob``'s size.  Equal to
    ``Runs.from_mask(resize_mask(triplet_threshold(prob, ...), shape))``.

    Examples
    --------
    >>> import numpy as np
    >>> prob = np.zeros((4, 4), np.float32); prob[:2, :2] = 0.9
    >>> upscaled_runs(prob, (8, 8), (0.75, 0, 0.3)).area
    16
    """
    top, area, bottom = thresholds
    mask = rlemask.triplet_threshold(prob, top, rlemask.scale_min_area(area, prob.shape), bottom)
    return rlemask.Runs.from_mask(mask).resize(shape)


def load_images(paths: Sequence[Path], size: int, cache=None) -> np.ndarray:
    """Images (B, size, size) float32 in 0..1: from ``cache`` when it holds that size.

    The cache holds exactly what :func:`rlemask.load_sample` returns.
    """
    if cache is not None and tuple(cache.img_size) == (size, size):
        return cache.get_batch([cache.index_of(Path(p).stem) for p in paths])[0]
    return np.stack([rlemask.load_sample(p, None, img_size=size)[0] for p in paths])


def _to_shape(prob: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if prob.shape == tuple(shape):
        return prob
    return np.asarray(rlemask.resize_image(prob, shape, method="bilinear"), np.float32)


def predict_masks(
    probabilities: Iterable[tuple[str, np.ndarray]],
    thresholds: tuple[float, float, float] = DEFAULT_TRIPLET,
) -> Iterator[tuple[str, np.ndarray]]:
    """``(image_id, mask)``: each map binarised by :func:`rlemask.triplet_threshold`.

    ``thresholds`` is ``(top, min_area, bottom)`` with ``min_area`` in pixels
    of a 1024 x 1024 map, scaled to each map (:func:`rlemask.scale_min_area`).

    Examples
    --------
    >>> import numpy as np
    >>> prob = np.zeros((8, 8), np.float32); prob[:4, :4] = 0.9
    >>> [(i, int(m.sum())) for i, m in predict_masks([("a", prob)], (0.75, 0, 0.3))]
    [('a', 16)]
    """
    top, area, bottom = thresholds
    for image_id, prob in probabilities:
        min_area = rlemask.scale_min_area(area, prob.shape)
        yield image_id, rlemask.triplet_threshold(prob, top, min_area, bottom)


def check_triplet(top: float, area: float, bottom: float) -> tuple[float, float, float]:
    """``(top, min_area at 1024 px, bottom)`` checked: finite, 0..1, 0..1 and >= 0.

    Examples
    --------
    >>> check_triplet(0.75, 2000, 0.3)
    (0.75, 2000.0, 0.3)
    >>> try:
    ...     check_triplet(0.5, float("inf"), 0.3)
    ... except ValueError as err:
    ...     print(err)
    `triplet`: TOP and BOTTOM must be in 0..1 and AREA a finite number >= 0; received triplet=(0.5, inf, 0.3)
    """  # noqa: E501
    values = (float(top), float(area), float(bottom))
    top, area, bottom = values
    if not (0 <= top <= 1 and 0 <= bottom <= 1 and 0 <= area < float("inf")):
        raise ValueError(
            "`triplet`: TOP and BOTTOM must be in 0..1 and AREA a finite number >= 0; "
            f"received triplet={values}"
        )
    return values


def thresholds_from_file(path: str | os.PathLike) -> tuple[float, float, float]:
    """``(top, min_area at 1024 px, bottom)`` from an ``oof`` JSON or a run's ``report.json``."""
    try:
        thr = json.loads(Path(path).read_text(encoding="utf-8"))["thresholds"]
        triplet = float(thr["top"]), float(thr["min_area_1024"]), float(thr["bottom"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"`triplet`: {str(path)!r} is not an oof or report JSON with thresholds "
            f"({type(err).__name__})"
        ) from None
    return check_triplet(*triplet)


def model_report(model_path: Path) -> dict | None:
    """The training report beside ``model_path`` (None if absent), refused if of another model.

    A report that describes another model (a run stopped in its final phase
    after a resumed training replaced ``model.keras``) is refused: its
    thresholds were chosen for other weights.
    """
    path = model_path.parent / run_folder.REPORT_JSON
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict):
        return None
    if not run_folder.report_matches_model(report, model_path):
        raise ValueError(
            f"`models`: the report beside {str(model_path)!r} ({str(path)!r}) describes "
            "another model, so its thresholds are not this model's (a run stopped before its "
            "report was rewritten): finish the run with 'rlemask-keras train --resume', or "
            "pass `triplet`"
        )
    return report


def _triplet_from_report(model_path: Path) -> tuple[float, float, float] | None:
    """The thresholds of the training report beside ``model_path`` (:func:`model_report`)."""
    report = model_report(model_path)
    if report is None or "thresholds" not in report:
        return None
    try:
        return thresholds_from_file(model_path.parent / run_folder.REPORT_JSON)
    except ValueError:
        return None


def _thresholds_of(model_paths: Sequence[Path]) -> tuple[float, float, float]:
    """The triplet in the training reports beside the models, when they agree."""
    found = {_triplet_from_report(p) for p in model_paths}
    if len(found) > 1:
        found.discard(None)
    if len(found) > 1:
        raise ValueError(
            f"the models' training reports chose different thresholds {sorted(found)}; "
            "pass `triplet` (TOP, AREA, BOTTOM)"
        )
    return found.pop() or DEFAULT_TRIPLET


def images_to_predict(data: str | os.PathLike) -> list[Path]:
    """The DICOMs under ``data``, one per image id (file stem), sorted by id.

    Files of one name in several folders are one id: the shallowest is kept
    and a warning names the others -- :func:`rlemask.load_siim`'s rule and
    message (:func:`rlemask.datasets.find_dicoms`).

    Raises
    ------
    FileNotFoundError, ValueError
        ``data`` is not a folder, or holds no DICOM file.
    """
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"`data`: not a folder: {str(data)!r}")
    paths, duplicates = find_dicoms(data, exclude=())
    if not paths:
        raise ValueError(f"`data`: no DICOM files (*.dcm) under {str(data)!r}")
    warn_duplicates(data, duplicates, stacklevel=2, name_dropped="not predicted")
    return paths


def predict(
    models: str | os.PathLike | Sequence[str | os.PathLike],
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    tta: str | None = None,
    weights: Sequence[float] | None = None,
    triplet: tuple[float, float, float] | None = None,
    batch_size: int = 16,
    resolution: str = "image",
    progress: bool = True,
    log=print,
) -> dict[str, Any]:
    """Write a submission CSV for every DICOM under ``data``.

    ``models`` is one ``.keras`` file or several, whose probabilities are
    averaged per image (with ``weights``).  One row per image at its own
    ``Rows x Columns``, ``-1`` for an empty mask, SIIM relative RLE, written
    atomically.  ``triplet`` is ``(top, min_area, bottom)``, ``min_area`` at
    1024 x 1024; without it, the thresholds chosen in training are read from
    the ``report.json`` beside the models (when they agree), else
    :data:`DEFAULT_TRIPLET`.

    ``resolution="image"`` (the default) thresholds each averaged map
    brought to the image's size (bilinear); ``"model"`` thresholds at the
    model's size and scales the runs up (:func:`predict_runs`): no dense
    full-size array, masks blockier along their edges, and near the
    thresholds whole masks can differ (the module's docstring gives the rule).

    Two files of one name in different folders are one image id: the
    shallowest is predicted, with a warning naming the others (the rule and
    message of :func:`rlemask.load_siim`), never silently.

    Returns ``{"n_images", "n_positive", "seconds"}``.
    """
    _check_batch_size(batch_size)
    tta = _check_tta(tta)
    if resolution not in ("image", "model"):
        raise ValueError(
            f"`resolution` must be 'image' or 'model'; received resolution={resolution!r}"
        )
    if isinstance(models, (str, os.PathLike)):
        models = [models]
    model_paths = [Path(m) for m in models]
    if weights is not None and len(weights) != len(model_paths):
        raise ValueError(
            f"`weights` gives {len(weights)} numbers for {len(model_paths)} model(s)"
        )
    paths = images_to_predict(data)
    loaded = [load_keras_model(p) for p in model_paths]
    triplet = _thresholds_of(model_paths) if triplet is None else check_triplet(*triplet)

    t0 = time.perf_counter()
    rows: dict[str, str] = {}
    options = dict(tta=tta, batch_size=batch_size, weights=weights)
    if resolution == "model":
        results = (
            (image_id, runs.to_text("siim"))
            for image_id, runs in predict_runs(loaded, paths, triplet, **options)
        )
    else:
        masks = predict_masks(predict_probabilities(loaded, paths, **options), triplet)
        results = ((image_id, rlemask.encode(mask)) for image_id, mask in masks)
    with progress_bar(total=len(paths), unit="img", desc="predict", disable=not progress) as bar:
        for image_id, rle in results:
            rows[image_id] = rle
            bar.update(1)
    rlemask.write_rle_csv(out, rows)
    seconds = time.perf_counter() - t0
    n_positive = sum(rle != "-1" for rle in rows.values())
    top, area, bottom = triplet
    log(
        f"wrote {out}: {plural(len(rows), 'image')}, {n_positive} with a region "
        f"({plural(len(loaded), 'model')}; thresholds top={top}, min_area={area:g} at 1024 px, "
        f"bottom={bottom}; {len(rows) / seconds:.1f} images/s)"
    )
    return {"n_images": len(rows), "n_positive": n_positive, "seconds": seconds}
