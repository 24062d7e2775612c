"""The ``rlemask-keras`` jobs as functions: train + evaluate, and predict.

:func:`train` is the whole main job: data (a folder, or the synthetic set),
a stratified split, the sample cache, ``model.fit`` with a checkpoint on the
validation Dice, then an evaluation of the best model on the validation
images at their ORIGINAL resolution, with post-processing thresholds chosen
on those images, and the report files.  :func:`predict` writes a submission.
The command line (:mod:`rlemask_keras.cli`) only parses arguments.

Outputs of :func:`train` (in ``config.out``)::

    model.keras    best model on validation Dice (keras.models.load_model)
    history.csv    one row per epoch (Keras CSVLogger)
    report.json    rlemask.evaluate report + thresholds, speed, settings
    report.md      the same for people
    curves.png     loss and Dice per epoch, train and validation
    overlays.png   validation images: truth vs prediction

The probability map of the model is brought back to the image's own size
with :func:`rlemask.resize_image` (``"bilinear"``) and binarised there with
:func:`rlemask.triplet_threshold`, so that the mask is drawn at the pixel
grid it is scored and submitted on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TrainConfig",
    "train",
    "predict",
    "synthetic_dataset",
    "choose_thresholds",
    "OUTPUT_FILES",
    "THRESHOLD_GRID",
]

OUTPUT_FILES = (
    "model.keras",
    "history.csv",
    "report.json",
    "report.md",
    "curves.png",
    "overlays.png",
)

#: post-processing grid searched on validation.  ``min_area`` is given in
#: pixels of a 1024 x 1024 image and scaled to each image's pixel count.
THRESHOLD_GRID = {
    "top": (0.5, 0.6, 0.7, 0.8, 0.9),
    "min_area": (0, 250, 500, 1000, 2000, 4000, 6000, 8000),
    "bottom": (0.3, 0.4, 0.5),
}
#: the SIIM winner's validation triplet, used when nothing better is known
DEFAULT_TRIPLET = (0.75, 2000, 0.3)
_REFERENCE_PIXELS = 1024 * 1024

#: the issue's bar for the demo: Dice on positive images
TARGET_DICE_POSITIVE = 0.6

#: the checkpoint keeps the epoch with the best validation Dice on positive
#: images.  The plain per-image Dice rewards predicting nothing (it scores the
#: all-empty baseline, 0.75 here), so early "all empty" epochs beat later ones
#: that segment well but leave specks on empty images -- specks the triplet
#: rule, tuned after training, removes.  Seen on the synthetic set (seed 1):
#: epoch 1, all empty, 0.750 vs epoch 40, 0.736, and a final report at the
#: baseline.
CHECKPOINT_MONITOR = "val_dice_positive"


@dataclasses.dataclass
class TrainConfig:
    """Settings of one training run (the ``rlemask-keras train`` options).

    ``data=None`` trains on the synthetic set of ``n_images`` images of
    ``synthetic_size`` pixels, made (or reused) under ``synthetic_root``.
    ``positive_fraction`` is the sampler's schedule ``(start, end)`` over the
    epochs (``end=None``: the natural share), or ``None`` to see every image
    once per epoch.

    The defaults are the demo's (``make demo``): 300 synthetic 1024 px images,
    a SELU U-Net of 8 filters and depth 4 at 128 px, batch 8, 40 epochs, Adam
    1e-3, sampler 0.8 -> natural share; it fits in ten minutes on 2 CPU
    cores.  For SIIM itself use more capacity and resolution, e.g.
    ``--img-size 256 --filters 16 --batch-size 16`` on a GPU.
    """

    data: Path | None = None
    model: str = "unet"
    activation: str = "selu"
    epochs: int = 40
    img_size: int = 128
    batch_size: int = 8
    filters: int = 8
    depth: int = 4
    batch_norm: bool = False
    learning_rate: float = 1e-3
    val_fraction: float = 0.2
    seed: int = 0
    out: Path = Path("runs/train")
    overwrite: bool = False
    strategy: str = "default"
    mixed_precision: bool = False
    n_images: int = 300
    synthetic_size: int = 1024
    synthetic_root: Path = Path("runs")
    positive_fraction: tuple[float, float | None] | float | None = (0.8, None)
    augment: bool = True
    cache_dir: Path | None = None
    workers: int = 1
    cache_workers: int = 2
    verbose: int = 1
    n_overlays: int = 8

    def check(self) -> None:
        """Raise ``ValueError`` (naming the option and value) for bad settings."""
        for name in (
            "epochs",
            "img_size",
            "batch_size",
            "filters",
            "depth",
            "n_images",
            "synthetic_size",
            "workers",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        from rlemask_keras.models import MAX_DEPTH

        if self.depth > MAX_DEPTH:
            raise ValueError(f"`depth` must be at most {MAX_DEPTH}. Received: depth={self.depth}")
        if self.img_size % 2**self.depth:
            raise ValueError(
                f"`img_size` must be divisible by 2**depth = {2**self.depth} (depth={self.depth}). "
                f"Received: img_size={self.img_size}"
            )
        if self.model not in ("unet", "unet++"):
            raise ValueError(f"`model` must be 'unet' or 'unet++'. Received: model={self.model!r}")
        if self.strategy not in ("default", "mirrored"):
            raise ValueError(
                f"`strategy` must be 'default' or 'mirrored'. Received: strategy={self.strategy!r}"
            )
        if not 0 < self.val_fraction < 1:
            raise ValueError(
                f"`val_fraction` must be in (0, 1). Received: val_fraction={self.val_fraction!r}"
            )
        if not self.learning_rate > 0:
            raise ValueError(
                f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()
        }


# -- data ------------------------------------------------------------------


def synthetic_dataset(
    root: str | os.PathLike, n_images: int, *, size: int = 1024, seed: int = 0
) -> Path:
    """The synthetic data set ``root/synthetic-v<version>-<seed>-<n>[-<size>]``: reused or made.

    Made in a temporary folder and renamed into place, so that an interrupted
    run never leaves a half-written set that a later run would reuse.  The
    generator's version is part of the name, so a changed generator never
    reuses an old set.
    """
    import shutil

    from rlemask.synthetic import GENERATOR_VERSION, make_dataset

    root = Path(root)
    name = f"synthetic-v{GENERATOR_VERSION}-{seed}-{n_images}" + (
        "" if size == 1024 else f"-{size}"
    )
    target = root / name
    if (target / "train-rle.csv").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    made = Path(make_dataset(tmp, n_images, size=size, seed=seed))
    if made != tmp:  # make_dataset returned a sub-folder: move that one
        made.rename(target)
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(target)
    return target


def _load_data(root: Path) -> tuple[list[Path], dict[str, list[str]]]:
    import rlemask

    if not root.is_dir():
        raise FileNotFoundError(f"--data: not a folder: {str(root)!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unlabelled images are dropped below
        paths, labels = rlemask.load_siim(root)
    if not paths:
        raise ValueError(f"--data: no DICOM files (*.dcm) under {str(root)!r}")
    paths = [p for p in paths if p.stem in labels]
    if not paths:
        raise ValueError(f"--data: none of the DICOM files under {str(root)!r} has a label row")
    return paths, labels


def _prepare_out(out: Path, overwrite: bool) -> None:
    """Refuse to reuse a folder unless told to; with ``overwrite`` remove only our files."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out: {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"--out: {str(out)!r} already exists and is not empty; pass --overwrite "
                "to replace its results, or choose another folder"
            )
        for name in OUTPUT_FILES:
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
    out.mkdir(parents=True, exist_ok=True)


# -- model -------------------------------------------------------------------


def _threads_note() -> None:
    """Silence TensorFlow's C++ logs unless the user asked for them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _strategy(kind: str):
    import tensorflow as tf

    if kind == "default":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


def _replica_batch(batch_size: int, n_samples: int, replicas: int) -> int:
    """The batch size to use with ``replicas`` replicas.

    Keras 3 (``_maybe_symbolic_build`` in its TensorFlow trainer) averages
    the FIRST batch of every ``fit`` iterator over the replicas, which fails
    unless that batch splits evenly; so the batch size must be a multiple of
    the replica count, and a data split smaller than one batch gets a batch
    of the largest multiple that fits.  (The generators also cut each epoch
    to a multiple of the replica count: a replica with an empty share of the
    last batch fails too.)  The final evaluation does not go through
    ``fit`` and scores every validation image.
    """
    if replicas <= 1:
        return batch_size
    if batch_size % replicas:
        raise ValueError(
            f"--batch-size {batch_size} must be a multiple of the {replicas} replicas of "
            "--strategy mirrored"
        )
    if n_samples < replicas:
        raise ValueError(
            f"{n_samples} image(s) in a split cannot be spread over {replicas} replicas"
        )
    return min(batch_size, n_samples // replicas * replicas)


def _build_model(config: TrainConfig):
    import keras

    from rlemask_keras import bce_dice_loss
    from rlemask_keras.metrics import DiceCoefficient
    from rlemask_keras.models import unet, unet_plus_plus

    builder = unet if config.model == "unet" else unet_plus_plus
    model = builder(
        (config.img_size, config.img_size, 1),
        filters=config.filters,
        depth=config.depth,
        activation=config.activation,
        batch_norm=config.batch_norm,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=bce_dice_loss,
        metrics=[
            DiceCoefficient(name="dice"),
            DiceCoefficient(name="dice_positive", positive_only=True),
        ],
    )
    return model


class _EpochTimer:
    """Keras callback factory recording each epoch's wall time (training + validation)."""

    @staticmethod
    def make():
        import keras

        class EpochTimer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.train_times: list[float] = []
                self._start = 0.0

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_test_begin(self, logs=None):
                # validation runs inside the epoch; time training alone
                if self._start:
                    self.train_times.append(time.perf_counter() - self._start)
                    self._start = 0.0

            def on_epoch_end(self, epoch, logs=None):
                if self._start:  # no validation this epoch
                    self.train_times.append(time.perf_counter() - self._start)
                    self._start = 0.0

        return EpochTimer()


# -- prediction --------------------------------------------------------------


def _model_input_size(model) -> int | None:
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    return shape[1]


def _final_output(outputs):
    """The prediction of a model with one or several (deep-supervision) outputs."""
    if isinstance(outputs, Mapping):
        return outputs[sorted(outputs)[-1]]
    if isinstance(outputs, (list, tuple)):
        return outputs[-1]
    return outputs


def predict_probabilities(model, images: np.ndarray, *, tta: str | None = None) -> np.ndarray:
    """Probabilities (B, S, S) float32 of ``images`` (B, S, S) in 0..1.

    ``tta="flip"`` averages with the horizontally flipped image's prediction,
    flipped back.
    """
    x = np.ascontiguousarray(images[..., None], dtype=np.float32)
    channels = model.input_shape[-1] if not isinstance(model.input_shape, list) else 1
    if channels == 3:
        x = np.repeat(x, 3, axis=-1)
    prob = np.asarray(_final_output(model.predict_on_batch(x)), dtype=np.float32)[..., 0]
    if tta == "flip":
        flipped = np.asarray(
            _final_output(model.predict_on_batch(np.ascontiguousarray(x[:, :, ::-1]))),
            dtype=np.float32,
        )[..., 0]
        prob = 0.5 * (prob + flipped[:, :, ::-1])
    return np.clip(prob, 0.0, 1.0)


def _to_original(prob: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import rlemask

    if prob.shape == tuple(shape):
        return prob
    full = rlemask.resize_image(prob, shape, method="bilinear")
    return np.clip(full, 0.0, 1.0, out=np.asarray(full, dtype=np.float32))


def _scaled_area(min_area_1024: float, shape: tuple[int, int]) -> int:
    return int(round(min_area_1024 * shape[0] * shape[1] / _REFERENCE_PIXELS))


# -- thresholds ------------------------------------------------------------


def _grid() -> list[tuple[float, int, float]]:
    return [
        (top, area, bottom)
        for top in THRESHOLD_GRID["top"]
        for area in THRESHOLD_GRID["min_area"]
        for bottom in THRESHOLD_GRID["bottom"]
    ]


def _image_grid_scores(prob: np.ndarray, truth: np.ndarray, grid) -> np.ndarray:
    """Dice of one image for every triplet of ``grid``, without binarising 90 times.

    Same rule as :func:`rlemask.triplet_threshold`: empty when fewer than
    ``min_area`` pixels are ``> top``, else ``prob > bottom``.
    """
    import rlemask

    shape = prob.shape
    truth_empty = not truth.any()
    above = {top: int(np.count_nonzero(prob > top)) for top in THRESHOLD_GRID["top"]}
    dice_at = {b: rlemask.dice(prob > b, truth) for b in THRESHOLD_GRID["bottom"]}
    empty_score = 1.0 if truth_empty else 0.0
    return np.array(
        [
            empty_score if above[top] < _scaled_area(area, shape) else dice_at[bottom]
            for top, area, bottom in grid
        ]
    )


def choose_thresholds(scores: np.ndarray, grid) -> tuple[tuple[float, int, float], float]:
    """The triplet with the best mean Dice (``scores``: images x grid); first on ties."""
    means = scores.mean(axis=0)
    best = int(np.argmax(means))
    return grid[best], float(means[best])


# -- figures -----------------------------------------------------------------


def _save_curves(history: Mapping[str, Sequence[float]], best_epoch: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from rlemask.plotting import save_figure

    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, key, title in (
        (fig.add_subplot(1, 2, 1), "loss", "Loss (BCE + soft Dice on positives)"),
        (fig.add_subplot(1, 2, 2), "dice", "Dice per image (threshold 0.5, model size)"),
    ):
        if key in history:
            ax.plot(epochs, history[key], "o-", label="train", ms=3)
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s-", label="validation", ms=3)
        if key == "dice" and f"val_{CHECKPOINT_MONITOR[4:]}" in history:
            ax.plot(
                epochs,
                history[CHECKPOINT_MONITOR],
                "^-",
                label="validation, positive images",
                ms=3,
            )
        if best_epoch:
            ax.axvline(best_epoch, color="grey", ls=":", label=f"checkpoint (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, path)


def _save_overlays(images, truths, preds, ids, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from rlemask.plotting import plot_prediction_grid, save_figure

    fig = plot_prediction_grid(
        images, truths, preds, ids=ids, ncols=4, title="Validation, shown at the model's size"
    )
    save_figure(fig, path)


# -- the main job ------------------------------------------------------------


def _configure_precision(enabled: bool):
    import keras
    import tensorflow as tf

    previous = keras.config.dtype_policy()
    if enabled:
        policy = "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"
        keras.config.set_dtype_policy(policy)
    return previous


def train(config: TrainConfig, *, log=print) -> dict[str, Any]:
    """Train, evaluate and write the run's files into ``config.out``.

    Returns the ``report.json`` content as a dict.

    Raises
    ------
    ValueError, OSError
        User errors (bad settings, no data, an existing output folder): the
        command line prints them on one line.
    """
    _threads_note()
    config.check()
    out = Path(config.out)
    _prepare_out(out, config.overwrite)
    started = time.perf_counter()

    import keras

    import rlemask
    from rlemask_keras.data import DataGenerator

    # data
    if config.data is None:
        log(
            f"data: synthetic set, {config.n_images} images of {config.synthetic_size} px "
            f"(seed {config.seed}) under {config.synthetic_root}"
        )
        t0 = time.perf_counter()
        data_root = synthetic_dataset(
            config.synthetic_root, config.n_images, size=config.synthetic_size, seed=config.seed
        )
        log(f"      ready in {time.perf_counter() - t0:.1f} s: {data_root}")
    else:
        data_root = Path(config.data)
    paths, labels = _load_data(data_root)
    train_paths, val_paths = rlemask.split_dataset(
        paths, labels, val_fraction=config.val_fraction, seed=config.seed
    )
    if not train_paths or not val_paths:
        raise ValueError(
            f"--val-fraction {config.val_fraction}: {len(paths)} images give "
            f"{len(train_paths)} for training and {len(val_paths)} for validation; "
            "both need at least one"
        )
    n_pos = sum(bool(labels[p.stem]) for p in paths)
    log(
        f"split: {len(train_paths)} train / {len(val_paths)} validation images "
        f"({n_pos} of {len(paths)} positive)"
    )

    cache_dir = config.cache_dir or (
        data_root / f"cache-{config.img_size}" if config.data is None else out / "cache"
    )
    t0 = time.perf_counter()
    # every image, in load_siim's order: the cache does not depend on the split
    cache = rlemask.build_cache(
        paths,
        labels,
        cache_dir,
        img_size=config.img_size,
        workers=config.cache_workers,
        progress=config.verbose > 0,
        overwrite=True,
    )
    log(f"cache: {cache_dir} ({time.perf_counter() - t0:.1f} s)")

    previous_policy = _configure_precision(config.mixed_precision)
    try:
        strategy = _strategy(config.strategy)
        replicas = strategy.num_replicas_in_sync
        train_batch = _replica_batch(config.batch_size, len(train_paths), replicas)
        val_batch = _replica_batch(config.batch_size, len(val_paths), replicas)
        train_gen = DataGenerator(
            train_paths,
            labels,
            batch_size=train_batch,
            img_size=config.img_size,
            cache=cache,
            seed=config.seed,
            augment=config.augment,
            positive_fraction=config.positive_fraction,
            epochs=config.epochs,
            workers=config.workers,
            replicas=replicas,
        )
        val_gen = DataGenerator(
            val_paths,
            labels,
            batch_size=val_batch,
            img_size=config.img_size,
            shuffle=False,
            cache=cache,
            workers=config.workers,
            replicas=replicas,
        )
        keras.utils.set_random_seed(config.seed)  # same seed, same initial weights
        with strategy.scope():
            model = _build_model(config)
        log(
            f"model: {config.model}, {config.activation}, {config.filters} filters, depth "
            f"{config.depth}, {model.count_params():,} parameters, input {config.img_size} px, "
            f"{strategy.num_replicas_in_sync} replica(s)"
        )
        checkpoint = out / ".best.keras"
        timer = _EpochTimer.make()
        callbacks = [
            keras.callbacks.ModelCheckpoint(
                checkpoint, monitor=CHECKPOINT_MONITOR, mode="max", save_best_only=True, verbose=0
            ),
            keras.callbacks.CSVLogger(str(out / "history.csv")),
            timer,
        ]
        t0 = time.perf_counter()
        history = model.fit(
            train_gen,
            validation_data=val_gen,
            epochs=config.epochs,
            callbacks=callbacks,
            verbose=config.verbose,
        )
        fit_seconds = time.perf_counter() - t0
    finally:
        keras.config.set_dtype_policy(previous_policy)

    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    monitored = hist.get(CHECKPOINT_MONITOR, [])
    best_epoch = int(np.argmax(monitored)) + 1 if monitored else config.epochs
    if not checkpoint.is_file():  # the monitored Dice never a number: keep the last weights
        model.save(checkpoint)
    os.replace(checkpoint, out / "model.keras")
    # the epochs after the first exclude compilation and tracing
    times = timer.train_times[1:] or timer.train_times
    images_per_epoch = len(train_gen.order)
    train_ips = images_per_epoch / float(np.median(times)) if times else float("nan")
    log(
        f"trained {config.epochs} epochs in {fit_seconds:.0f} s ({train_ips:.1f} images/s); "
        f"best validation Dice on positives {max(monitored, default=float('nan')):.3f} "
        f"at epoch {best_epoch}"
    )

    best = keras.models.load_model(out / "model.keras")
    evaluation = evaluate_model(
        best, val_paths, labels, cache=cache, batch_size=config.batch_size, log=log
    )
    wall = time.perf_counter() - started
    report = _report(config, evaluation, hist, best_epoch, train_ips, fit_seconds, wall)
    report["data"] = {
        "root": str(data_root),
        "n_images": len(paths),
        "n_positive": n_pos,
        "n_train": len(train_paths),
        "n_validation": len(val_paths),
        "cache": str(cache_dir),
    }
    report["parameters"] = int(best.count_params())

    _save_curves(hist, best_epoch, out / "curves.png")
    _save_overlays(*evaluation.pop("overlays"), out / "overlays.png")
    _write_reports(out, report, evaluation["report"])
    return report


def _iter_validation(
    val_paths: Sequence[Path], labels, cache, batch_size: int, img_size: int
) -> Iterator[tuple[list[Path], np.ndarray]]:
    """Batches of (paths, images at the model's size), from the cache when it has them."""
    for start in range(0, len(val_paths), batch_size):
        chunk = list(val_paths[start : start + batch_size])
        if cache is not None:
            images, _ = cache.get_batch([cache.index_of(p.stem) for p in chunk])
        else:
            import rlemask

            images = np.stack([rlemask.load_sample(p, None, img_size=img_size)[0] for p in chunk])
        yield chunk, images


def evaluate_model(
    model,
    val_paths: Sequence[Path],
    labels: Mapping[str, Sequence[str]],
    *,
    cache=None,
    batch_size: int = 16,
    tta: str | None = None,
    n_overlays: int = 8,
    log=print,
) -> dict[str, Any]:
    """Score ``model`` on ``val_paths`` at each image's original resolution.

    Two passes over the validation images: the first records, per image, the
    Dice of every post-processing triplet of :data:`THRESHOLD_GRID` and picks
    the best mean; the second binarises with it, encodes the masks and scores
    them with :func:`rlemask.evaluate` (the competition score, next to the
    all-empty baseline).  The plain 0.5 threshold's score is kept too.
    """
    import rlemask

    img_size = _model_input_size(model)
    grid = _grid()
    shapes: dict[str, tuple[int, int]] = {}

    def full_resolution() -> Iterator[tuple[Path, np.ndarray, np.ndarray, np.ndarray]]:
        for chunk, images in _iter_validation(val_paths, labels, cache, batch_size, img_size):
            probs = predict_probabilities(model, images, tta=tta)
            for path, image, prob in zip(chunk, images, probs, strict=True):
                if path.stem not in shapes:
                    meta = rlemask.read_dicom_meta(path)
                    shapes[path.stem] = (int(meta["rows"]), int(meta["columns"]))
                yield path, image, prob, _to_original(prob, shapes[path.stem])

    t0 = time.perf_counter()
    scores, plain = [], []
    for path, _, _, prob in full_resolution():
        truth = rlemask.merge(labels[path.stem], shape=prob.shape)
        scores.append(_image_grid_scores(prob, truth, grid))
        plain.append(rlemask.dice(prob > 0.5, truth))
    predict_seconds = time.perf_counter() - t0
    (top, area, bottom), grid_score = choose_thresholds(np.array(scores), grid)

    predictions: dict[str, list[str]] = {}
    picks = _overlay_picks(val_paths, labels, n_overlays)
    overlays: tuple[list, list, list, list] = ([], [], [], [])
    for path, image, _, prob in full_resolution():
        mask = rlemask.triplet_threshold(prob, top, _scaled_area(area, prob.shape), bottom)
        rle = rlemask.encode(mask)
        predictions[path.stem] = [] if rle == "-1" else [rle]
        if path.stem in picks:
            small = rlemask.resize_mask(mask, image.shape, method="area")
            truth = rlemask.resize_mask(
                rlemask.merge(labels[path.stem], shape=prob.shape), image.shape, method="area"
            )
            for store, value in zip(overlays, (image, truth, small, path.stem), strict=True):
                store.append(value)
    truth = {p.stem: list(labels[p.stem]) for p in val_paths}
    shape_set = set(shapes.values())
    if len(shape_set) != 1:
        raise ValueError(
            f"validation images have {len(shape_set)} different sizes; rlemask.evaluate "
            "scores one size at a time"
        )
    report = rlemask.evaluate(predictions, truth, shape=shape_set.pop())
    log(
        f"validation ({len(val_paths)} images at {shapes[val_paths[0].stem][0]} px): "
        f"competition score {report.mean_dice:.4f} vs all-empty {report.all_empty_baseline:.4f}, "
        f"Dice on positives {report.dice_positive:.4f}"
    )
    return {
        "report": report,
        "thresholds": {
            "top": top,
            "min_area": _scaled_area(area, next(iter(shapes.values()))),
            "min_area_1024": area,
            "bottom": bottom,
            "grid_score": grid_score,
        },
        "plain_threshold_score": float(np.mean(plain)),
        "predict_images_per_second": len(val_paths) / predict_seconds,
        "overlays": overlays,
    }


def _overlay_picks(val_paths, labels, n: int) -> set[str]:
    """A few validation ids for the figure: positives first, then negatives."""
    pos = [p.stem for p in val_paths if labels[p.stem]]
    neg = [p.stem for p in val_paths if not labels[p.stem]]
    n_pos = min(len(pos), max(n - min(len(neg), n // 4), 0))
    return set(pos[:n_pos] + neg[: n - n_pos])


def _report(config, evaluation, hist, best_epoch, train_ips, fit_seconds, wall) -> dict[str, Any]:
    rep = evaluation["report"]
    metrics = rep.to_dict()
    beats = rep.mean_dice > rep.all_empty_baseline
    return {
        "evaluation": metrics,
        "thresholds": evaluation["thresholds"],
        "plain_threshold_score": evaluation["plain_threshold_score"],
        "target": {
            "dice_positive_min": TARGET_DICE_POSITIVE,
            "dice_positive": rep.dice_positive,
            "met": bool(rep.dice_positive >= TARGET_DICE_POSITIVE and beats),
            "beats_all_empty_baseline": bool(beats),
        },
        "training": {
            "epochs": config.epochs,
            "best_epoch": best_epoch,
            "checkpoint_monitor": CHECKPOINT_MONITOR,
            "best_val_dice_positive": _at(hist, CHECKPOINT_MONITOR, best_epoch),
            "val_dice_at_best": _at(hist, "val_dice", best_epoch),
            "images_per_second": train_ips,
            "fit_seconds": fit_seconds,
        },
        "predict_images_per_second": evaluation["predict_images_per_second"],
        "wall_seconds": wall,
        "config": config.to_dict(),
    }


def _at(hist: Mapping[str, Sequence[float]], key: str, epoch: int) -> float:
    values = hist.get(key, [])
    return float(values[epoch - 1]) if 0 < epoch <= len(values) else float("nan")


def _write_reports(out: Path, report: dict[str, Any], eval_report) -> None:
    from rlemask._atomic import atomic_write

    with atomic_write(out / "report.json", "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, default=_json_default)
        handle.write("\n")
    thr = report["thresholds"]
    target = report["target"]
    training = report["training"]
    cfg = report["config"]
    verdict = (
        "**met**" if target["met"] else "**NOT met** (the numbers above are what this run reached)"
    )
    lines = [
        f"# rlemask-keras training report: {cfg['model']} / {cfg['activation']}",
        "",
        f"Validation split: {report['data']['n_validation']} images, scored at their "
        "original resolution (probabilities resized back, then binarised).",
        "",
        eval_report.to_markdown(),
        "",
        "## Post-processing",
        "",
        f"Triplet rule chosen on the validation split (grid of {len(_grid())}): "
        f"top={thr['top']}, min_area={thr['min_area']} px "
        f"({thr['min_area_1024']} at 1024x1024), bottom={thr['bottom']}.  "
        "Chosen and scored on the same images, so the score is optimistic by the "
        "choice; with a plain 0.5 threshold it is "
        f"{report['plain_threshold_score']:.4f}.",
        "",
        "## Target",
        "",
        f"Dice on positive images >= {target['dice_positive_min']} and a competition score "
        f"above the all-empty baseline: {verdict}.",
        "",
        "## Training",
        "",
        "| item | value |",
        "|---|---|",
        f"| model | {cfg['model']}, {cfg['activation']}, {cfg['filters']} filters, "
        f"depth {cfg['depth']}, {report['parameters']:,} parameters |",
        f"| input size | {cfg['img_size']} px, batch {cfg['batch_size']} |",
        f"| epochs | {training['epochs']}; checkpoint: epoch {training['best_epoch']}, best "
        f"validation Dice on positives {training['best_val_dice_positive']:.4f} (all images "
        f"{training['val_dice_at_best']:.4f}; threshold 0.5, model size) |",
        f"| training speed | {training['images_per_second']:.1f} images/s |",
        f"| prediction + post-processing | {report['predict_images_per_second']:.1f} images/s |",
        f"| fit time | {training['fit_seconds']:.0f} s; whole run {report['wall_seconds']:.0f} s |",
        f"| data | {report['data']['root']} ({report['data']['n_images']} images, "
        f"{report['data']['n_positive']} positive) |",
        "",
    ]
    text = "\n".join(lines)
    with atomic_write(out / "report.md", "w", encoding="utf-8") as handle:
        handle.write(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# -- predict -------------------------------------------------------------------


def load_keras_model(path: str | os.PathLike):
    """``keras.models.load_model`` with a one-line error for a file that is not a model."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MODEL: no such file: {str(path)!r}")
    try:
        return keras.models.load_model(path)
    except Exception as err:  # Keras raises ValueError, OSError, zipfile errors, KeyError...
        raise ValueError(
            f"MODEL: {str(path)!r} is not a Keras model file (.keras) that this version "
            f"can load ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
        ) from err


def _triplet_from_report(model_path: Path) -> tuple[float, float, float] | None:
    report = model_path.parent / "report.json"
    try:
        thr = json.loads(report.read_text(encoding="utf-8"))["thresholds"]
        return float(thr["top"]), float(thr["min_area_1024"]), float(thr["bottom"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def predict(
    model_path: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    tta: str | None = None,
    triplet: tuple[float, float, float] | None = None,
    img_size: int | None = None,
    batch_size: int = 16,
    progress: bool = True,
    log=print,
) -> dict[str, Any]:
    """Write a submission CSV for every DICOM under ``data``.

    Each image is predicted at the model's size, its probabilities are
    resized back to the image's own ``Rows x Columns`` (bilinear) and
    binarised there with the triplet rule; one row per image, ``-1`` for an
    empty mask, SIIM relative RLE, written atomically.

    ``triplet`` is ``(top, min_area, bottom)`` with ``min_area`` in pixels of
    a 1024 x 1024 image (scaled to each image's pixel count).  Without it, the
    thresholds chosen in training are read from ``report.json`` beside the
    model, else the SIIM winner's (0.75, 2000, 0.3).
    """
    import rlemask
    from rlemask.datasets import find_dicoms

    _threads_note()
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
        )
    if tta not in (None, "none", "flip"):
        raise ValueError(f"`tta` must be 'flip' or None. Received: tta={tta!r}")
    tta = None if tta == "none" else tta
    model_path = Path(model_path)
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"DATA: not a folder: {str(data)!r}")
    paths, _ = find_dicoms(data, exclude=())
    if not paths:
        raise ValueError(f"DATA: no DICOM files (*.dcm) under {str(data)!r}")
    model = load_keras_model(model_path)
    size = _model_input_size(model)
    n_pool = sum(1 for layer in model.layers if "MaxPooling" in type(layer).__name__)
    if img_size is None:
        if size is None:
            raise ValueError("--img-size is needed: the model accepts any input size")
        img_size = int(size)
    elif size is not None and img_size != size:
        raise ValueError(f"--img-size {img_size}: the model takes {size} x {size} inputs")
    if img_size % 2**n_pool:
        raise ValueError(
            f"--img-size {img_size} is not divisible by 2**depth = {2**n_pool} for this model"
        )
    if triplet is None:
        triplet = _triplet_from_report(model_path) or DEFAULT_TRIPLET
    top, area_1024, bottom = triplet

    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    rows: dict[str, str] = {}
    n_empty = 0
    bar = tqdm(total=len(paths), unit="img", desc="predict", disable=not progress)
    try:
        for start in range(0, len(paths), batch_size):
            chunk = paths[start : start + batch_size]
            images = np.stack([rlemask.load_sample(p, None, img_size=img_size)[0] for p in chunk])
            probs = predict_probabilities(model, images, tta=tta)
            for path, prob in zip(chunk, probs, strict=True):
                meta = rlemask.read_dicom_meta(path)
                shape = (int(meta["rows"]), int(meta["columns"]))
                full = _to_original(prob, shape)
                mask = rlemask.triplet_threshold(full, top, _scaled_area(area_1024, shape), bottom)
                rows[path.stem] = rlemask.encode(mask)
                n_empty += rows[path.stem] == "-1"
            bar.update(len(chunk))
    finally:
        bar.close()
    rlemask.write_rle_csv(out, rows)
    seconds = time.perf_counter() - t0
    log(
        f"wrote {out}: {len(rows)} images, {len(rows) - n_empty} with a region "
        f"(thresholds top={top}, min_area={area_1024} at 1024 px, bottom={bottom}; "
        f"{len(rows) / seconds:.1f} images/s)"
    )
    return {"n_images": len(rows), "n_positive": len(rows) - n_empty, "seconds": seconds}
