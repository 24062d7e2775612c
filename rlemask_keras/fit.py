"""The model and ``model.fit``: builder, loss, strategy, callbacks, resuming.

:func:`fit` trains a compiled model on the generators and leaves in the
output folder ``.best.keras`` (the checkpoint of the best validation Dice
on positive images), ``history.csv``, and the state ``--resume`` needs:
``.last.keras`` (model and optimizer after the last completed epoch) and
``.state.json`` (that epoch and the best score so far).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

__all__ = ["build_model", "make_loss", "configure_precision", "fit", "resume_state"]

#: files of an unfinished run, kept for ``--resume``
STATE_FILES = (".best.keras", ".last.keras", ".state.json", "config.json")


def make_loss(text: str):
    """The loss of a ``--loss`` text: ``bce_dice`` (the default), ``dice``, ``2*focal+dice``...

    The two single losses are the functions themselves (what models saved by
    earlier versions hold); anything else is a
    :func:`rlemask_keras.losses.combined_loss`.
    """
    from rlemask_keras import losses

    spec = str(text).replace(" ", "")
    if spec == "bce_dice":
        return losses.bce_dice_loss
    if spec == "dice":
        return losses.dice_loss
    combine = getattr(losses, "combined_loss", None)
    if combine is None:
        raise ValueError("this version knows bce_dice and dice only")
    return combine(spec)


def build_model(config):
    """A compiled U-Net / U-Net++ as ``config`` describes (Adam, the loss, two Dice metrics)."""
    import keras

    from rlemask_keras.metrics import DiceCoefficient
    from rlemask_keras.models import unet, unet_plus_plus

    options = dict(
        filters=config.filters,
        depth=config.model_depth,
        activation=config.activation,
        batch_norm=config.batch_norm,
    )
    if config.encoder is not None:
        options.update(encoder=config.encoder, encoder_weights=config.encoder_weights)
    if config.model == "unet":
        model = unet((config.img_size, config.img_size, 1), **options)
    else:
        model = unet_plus_plus(
            (config.img_size, config.img_size, 1),
            deep_supervision=config.deep_supervision,
            **options,
        )
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=make_loss(config.loss),
        metrics=[
            DiceCoefficient(name="dice"),
            DiceCoefficient(name="dice_positive", positive_only=True),
        ],
    )
    return model


def configure_precision(enabled: bool):
    """Set the mixed-precision policy when ``enabled``; returns the previous policy."""
    import keras

    previous = keras.config.dtype_policy()
    if enabled:
        from rlemask_keras._backend import has_gpu

        keras.config.set_dtype_policy("mixed_float16" if has_gpu() else "mixed_bfloat16")
    return previous


def resume_state(out: Path) -> dict[str, Any] | None:
    """The state of the run in ``out`` (``epoch``, ``best``), or None when it has none."""
    try:
        state = json.loads((out / ".state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (out / ".last.keras").is_file() or not isinstance(state.get("epoch"), int):
        return None
    return state


def _callbacks(
    out: Path,
    monitor: str,
    best: float | None,
    tensorboard: bool,
    resuming: bool,
    freeze_encoder_epochs: int = 0,
):
    import keras

    from rlemask._atomic import atomic_write

    class EpochTimer(keras.callbacks.Callback):
        """Wall time of each epoch's training (validation excluded)."""

        def __init__(self):
            super().__init__()
            self.train_times: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_test_begin(self, logs=None):
            if self._start:
                self.train_times.append(time.perf_counter() - self._start)
                self._start = 0.0

        def on_epoch_end(self, epoch, logs=None):
            if self._start:  # no validation this epoch
                self.train_times.append(time.perf_counter() - self._start)
                self._start = 0.0

    class SaveState(keras.callbacks.Callback):
        """After each epoch: model + optimizer, then the epoch number (what --resume reads)."""

        def __init__(self, best):
            super().__init__()
            self.best = best

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is not None and value == value and (self.best is None or value > self.best):
                self.best = float(value)
            tmp = out / ".last.tmp.keras"
            self.model.save(tmp)
            os.replace(tmp, out / ".last.keras")
            with atomic_write(out / ".state.json", "w", encoding="utf-8") as handle:
                json.dump({"epoch": epoch + 1, "best": self.best}, handle)

    timer = EpochTimer()
    checkpoint = keras.callbacks.ModelCheckpoint(
        out / ".best.keras",
        monitor=monitor,
        mode="max",
        save_best_only=True,
        initial_value_threshold=best,
        verbose=0,
    )
    callbacks = [
        checkpoint,
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=resuming),
        timer,
        SaveState(best),
    ]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out / "logs")))
    if freeze_encoder_epochs:
        from rlemask_keras.callbacks import FreezeEncoder

        callbacks.append(FreezeEncoder(freeze_encoder_epochs))
    return callbacks, timer


def _keep_history_rows(path: Path, n: int) -> None:
    """Drop rows past epoch ``n`` (a run stopped between the CSV row and its state)."""
    from rlemask._atomic import atomic_write

    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return
    if len(lines) > n + 1:
        with atomic_write(path, "w", encoding="utf-8") as handle:
            handle.writelines(lines[: n + 1])


def read_history(path: Path) -> dict[str, list[float]]:
    """``history.csv`` as ``{metric: [value per epoch]}`` (all epochs, resumed ones included)."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(row[k]) for row in rows] for k in keys}


def fit(
    model,
    train_gen,
    val_gen,
    config,
    *,
    initial_epoch: int = 0,
    best=None,
    distribution=None,
):
    """``model.fit`` from ``initial_epoch`` to ``config.epochs``; returns each epoch's time."""
    from rlemask_keras.report import CHECKPOINT_MONITOR

    out = Path(config.out)
    if initial_epoch:
        _keep_history_rows(out / "history.csv", initial_epoch)
        train_gen.set_epoch(initial_epoch)  # the sampler's schedule continues too
        best_so_far = out / ".best.keras"
        if not best_so_far.is_file() and (out / "model.keras").is_file():
            # a finished run renamed its checkpoint: it stays the one to beat
            shutil.copyfile(out / "model.keras", best_so_far)
    resuming = initial_epoch > 0
    callbacks, timer = _callbacks(
        out,
        CHECKPOINT_MONITOR,
        best if resuming else None,
        config.tensorboard,
        resuming,
        config.freeze_encoder_epochs,
    )
    data, steps = train_gen, None
    if distribution is not None and distribution.num_workers > 1:
        # given the generator itself, Keras would feed each worker only
        # 1 / num_workers of its shard (rlemask_keras.distribute.distribute_dataset)
        from rlemask_keras.distribute import distribute_dataset
        from rlemask_keras.tfdata import as_tf_dataset

        stream = as_tf_dataset(
            train_gen, epochs=config.epochs - initial_epoch, first_epoch=initial_epoch
        )
        data = distribute_dataset(distribution, stream, train_gen.batch_size)
        steps = len(train_gen)
    model.fit(
        data,
        validation_data=val_gen,
        steps_per_epoch=steps,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=1 if config.progress else 0,
    )
    return timer.train_times
