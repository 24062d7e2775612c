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

__all__ = ["build_model", "make_optimizer", "schedule_callback", "configure_precision", "fit"]


def build_model(config, classes: int = 1):
    """A compiled U-Net / U-Net++ as ``config`` describes (its optimizer, the loss, two Dice
    metrics); ``classes`` sigmoid channels, and the presence head with ``config.classifier``.

    The input is ``config.input_size``; with ``config.policy="pad"`` or
    ``config.tile`` it is ``(None, None, 1)``: padded samples have several
    sizes, and a model trained on tiles predicts whole images.
    """
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
    if classes != 1 or config.classifier:  # keep the reference models' exact arguments
        options.update(classes=classes, classifier=config.classifier)
    any_size = getattr(config, "policy", "resize") == "pad" or getattr(config, "tile", None)
    shape = (None, None, 1) if any_size else (*config.input_size, 1)
    if config.model == "unet":
        model = unet(shape, **options)
    else:
        model = unet_plus_plus(shape, deep_supervision=config.deep_supervision, **options)
    extra = {"presence_weight": config.presence_weight} if config.classifier else {}
    model.compile(
        optimizer=make_optimizer(config),
        loss=losses.get(config.loss),
        metrics=[
            DiceCoefficient(name="dice"),
            DiceCoefficient(name="dice_positive", positive_only=True),
        ],
        **extra,
    )
    return model


def make_optimizer(config):
    """``config.optimizer`` at ``config.learning_rate`` (SGD with momentum 0.9)."""
    import keras

    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(config.learning_rate)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=0.9)
    return keras.optimizers.Adam(config.learning_rate)


def schedule_callback(config, monitor: str):
    """The learning-rate schedule's callback (None for ``schedule="none"``).

    Epoch-based, so ``--resume`` continues the same curve (``step``: halved
    every third of the epochs; ``cosine``: to 0 at the last epoch).

    Examples
    --------
    >>> from rlemask_keras.config import TrainConfig
    >>> cb = schedule_callback(TrainConfig(schedule="step", epochs=6), "val_score")
    >>> [cb.schedule(e, 0.0) for e in range(6)]
    [0.001, 0.001, 0.0005, 0.0005, 0.00025, 0.00025]
    """
    import math

    import keras

    rate, epochs = config.learning_rate, config.epochs
    if config.schedule == "cosine":
        return keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        )
    if config.schedule == "step":
        every = max(1, math.ceil(epochs / 3))
        return keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: rate * 0.5 ** (epoch // every)
        )
    if config.schedule == "plateau":
        return keras.callbacks.ReduceLROnPlateau(monitor, factor=0.5, patience=2, mode="max")
    return None


def configure_precision(enabled: bool):
    """Set the mixed-precision policy when ``enabled``; returns the previous policy."""
    import keras

    previous = keras.config.dtype_policy()
    if enabled:
        keras.config.set_dtype_policy("mixed_float16" if has_gpu() else "mixed_bfloat16")
    return previous


def _callbacks(config, state, resuming: bool, images_per_epoch: int, val_gen=None) -> list:
    """The callbacks of a run: the per-epoch score, history, timer, checkpoints, the others.

    The score of ``config.monitor_key`` ``val_score`` is computed first, so
    that the history, the checkpoint, the schedule and early stopping see it.
    """
    import keras

    from rlemask_keras.callbacks import (  # Keras
        Checkpoints,
        EpochTimer,
        FreezeEncoder,
        ValidationScore,
    )

    out = Path(config.out)
    monitor = config.monitor_key
    timer = EpochTimer()
    callbacks = []
    if monitor == "val_score":
        callbacks.append(ValidationScore(val_gen, competition=config.competition))
    callbacks += [
        keras.callbacks.CSVLogger(str(out / run_folder.HISTORY), append=resuming),
        timer,  # before the checkpoints: they record the epoch's time
        Checkpoints(out, monitor, state, timer, images_per_epoch),
    ]
    scheduled = schedule_callback(config, monitor)
    if scheduled is not None:
        callbacks.append(scheduled)
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor, patience=config.early_stopping, mode="max"))  # fmt: skip
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
    callbacks = _callbacks(config, state if resuming else None, resuming, len(train_gen.order),
                           val_gen)  # fmt: skip
    timer = next(c for c in callbacks if type(c).__name__ == "EpochTimer")
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
    return timer.train_times
