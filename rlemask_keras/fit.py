"""The model and ``model.fit``: builder, loss, precision, callbacks, resuming.

:func:`fit` trains a compiled model on the generators from a run's epoch to
``config.epochs``; the run folder's files (``history.csv``, the checkpoints
and the state ``--resume`` needs) are :mod:`rlemask_keras.run_folder`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlemask.progress import keras_verbose
from rlemask_keras import run_folder
from rlemask_keras._backend import has_gpu
from rlemask_keras.distribute import distribute_dataset
from rlemask_keras.tfdata import as_tf_dataset

__all__ = ["build_model", "configure_precision", "fit"]


def build_model(config):
    """A compiled U-Net / U-Net++ as ``config`` describes (Adam, the loss, two Dice metrics)."""
    import keras

    from rlemask_keras import losses
    from rlemask_keras.metrics import DiceCoefficient
    from rlemask_keras.models import unet, unet_plus_plus  # (these import Keras)

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
        loss=losses.get(config.loss),
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
        keras.config.set_dtype_policy("mixed_float16" if has_gpu() else "mixed_bfloat16")
    return previous


def _callbacks(config, state, resuming: bool, images_per_epoch: int) -> list:
    """The callbacks of a run: history, timer, checkpoints, and the optional ones."""
    import keras

    from rlemask_keras.callbacks import Checkpoints, EpochTimer, FreezeEncoder  # Keras

    out = Path(config.out)
    timer = EpochTimer()
    callbacks = [
        keras.callbacks.CSVLogger(str(out / run_folder.HISTORY), append=resuming),
        timer,  # before the checkpoints: they record the epoch's time
        Checkpoints(out, run_folder.CHECKPOINT_MONITOR, state, timer, images_per_epoch),
    ]
    if config.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out / run_folder.LOGS)))
    if config.freeze_encoder_epochs:
        callbacks.append(FreezeEncoder(config.freeze_encoder_epochs))
    return callbacks


def fit(
    model,
    train_gen,
    val_gen,
    config,
    *,
    initial_epoch: int = 0,
    state: dict[str, Any] | None = None,
    distribution=None,
    verbose: int | None = None,
) -> list[float]:
    """``model.fit`` from ``initial_epoch`` to ``config.epochs``; returns each epoch's time.

    ``state``: the run's :func:`rlemask_keras.run_folder.resume_state` when
    resuming (its best score and checkpoint stay the ones to beat).
    ``verbose``: Keras' (default with ``config.progress``: a bar on a terminal,
    a plain line per epoch elsewhere, :func:`rlemask.progress.keras_verbose`;
    without: 0).
    """
    out = Path(config.out)
    resuming = initial_epoch > 0
    if resuming:
        run_folder.keep_history_rows(out, initial_epoch)
        train_gen.set_epoch(initial_epoch)  # the sampler's schedule continues too
        state = run_folder.best_to_beat(out, state)
    callbacks = _callbacks(config, state if resuming else None, resuming, len(train_gen.order))
    data, steps = train_gen, None
    if distribution is not None and distribution.num_workers > 1:
        # given the generator itself, Keras would feed each worker only
        # 1 / num_workers of its shard (rlemask_keras.distribute.distribute_dataset)
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
        verbose=keras_verbose(config.progress) if verbose is None else verbose,
    )
    return callbacks[1].train_times
