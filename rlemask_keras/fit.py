"""The model and ``model.fit``: builder, loss, strategy, callbacks, resuming.

:func:`fit` trains a compiled model on the generators and leaves in the
output folder ``history.csv`` and the state ``--resume`` needs::

    .state.json      {"epoch": n, "best": score, "last": ".last-n.keras",
                      "best_model": ".best-m.keras"}
    .last-n.keras    model and optimizer after epoch n, the last completed one
    .best-m.keras    the checkpoint of the best validation Dice on positive
                     images so far (epoch m; none while no score is a number)

``.state.json`` is the run's single commit point.  After each epoch the new
checkpoints are written (each to a temporary file renamed into place), then
the state naming them is replaced atomically, and only then are the files of
the previous state removed.  A run killed at any moment therefore resumes
from a state whose files are complete and of its epoch: never the weights of
epoch n + 1 with the state of epoch n, never a truncated best model.
Runs written before the numbered checkpoints (``.last.keras``,
``.best.keras``, a state without ``last``) are resumed as they are.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

__all__ = [
    "build_model",
    "make_loss",
    "configure_precision",
    "fit",
    "resume_state",
    "save_model",
    "state_files",
    "keep_best",
]

STATE = ".state.json"
#: fixed names of an unfinished run's files, kept for ``--resume`` (besides the
#: numbered checkpoints, see :func:`state_files`); ``.best.keras`` and
#: ``.last.keras`` are the checkpoints of runs written before they were numbered
STATE_FILES = (STATE, "config.json", ".best.keras", ".last.keras")
# a checkpoint of the run: numbered, or of the layout before (and its fixed temporary)
_CHECKPOINT = re.compile(r"\.(last|best)(-[1-9][0-9]*|\.tmp)?\.keras")
# what a state may name (a resumed run of the layout before keeps its ``.best.keras``)
_NAMES = {"last": re.compile(r"\.last(-[1-9][0-9]*)?\.keras"),
          "best_model": re.compile(r"\.best(-[1-9][0-9]*)?\.keras")}  # fmt: skip
# a temporary of rlemask._atomic's writes of a checkpoint: "..last-3.keras.<owner>.tmp"
_CHECKPOINT_TMP = re.compile(r"\.(?P<target>\.(last|best)-[1-9][0-9]*\.keras)\..+\.tmp")


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
    """The state of the run in ``out``, or None when it has none.

    A dict with ``epoch`` (the last completed one), ``best`` (the best
    monitored score so far, or None), ``last`` and ``best_model`` (names of
    the checkpoints in ``out``; ``best_model`` is None before any score).
    A state that names a missing or foreign file is no state.
    """
    try:
        state = json.loads((out / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    epoch = state.get("epoch") if isinstance(state, dict) else None
    if type(epoch) is not int or epoch < 1:
        return None
    if "last" not in state:  # written before the numbered checkpoints
        state.update(last=".last.keras", best_model=".best.keras")
    else:
        for key, name in _NAMES.items():
            value = state.get(key)
            if not (isinstance(value, str) and name.fullmatch(value)):
                if key == "last" or value is not None:
                    return None
    if not (out / state["last"]).is_file():
        return None
    return state


def state_files(out: Path) -> list[Path]:
    """The files of ``out`` that make a run's state: what ``--overwrite`` removes.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> for name in (".state.json", ".last-2.keras", ".best-1.keras", "model.keras"):
    ...     _ = (out / name).write_text("")
    >>> [p.name for p in state_files(out)]
    ['.best-1.keras', '.last-2.keras', '.state.json']
    """
    try:
        names = {n for n in os.listdir(out) if n in STATE_FILES or _CHECKPOINT.fullmatch(n)}
    except OSError:
        return []
    return [out / name for name in sorted(names) if (out / name).is_file()]


def save_model(model, path: Path) -> None:
    """``model.save(path)``, written atomically: a kill mid-save leaves ``path`` as it was.

    The archive goes to a temporary file next to ``path`` (named and cleaned
    up as :mod:`rlemask._atomic` does), renamed over ``path`` once complete.
    """
    # model.save takes a path ending in ".keras" only; the library function it
    # calls for such a path also writes to an open file (the same archive)
    from keras.src.saving import saving_lib

    from rlemask._atomic import atomic_write

    with atomic_write(path, "wb") as handle:
        saving_lib.save_model(model, handle)


def _copy(source: Path, target: Path) -> None:
    """Copy a checkpoint atomically (the same archive as saving the model again, faster)."""
    from rlemask._atomic import atomic_write

    with open(source, "rb") as src, atomic_write(target, "wb") as handle:
        shutil.copyfileobj(src, handle)


def _tidy(out: Path, keep: set[str]) -> None:
    """Remove the checkpoints no state names any more, and stale temporaries of checkpoints."""
    from rlemask._atomic import remove_stale_temporaries

    for path in state_files(out):
        if _CHECKPOINT.fullmatch(path.name) and path.name not in keep:
            with contextlib.suppress(OSError):  # tidying must never fail the run
                path.unlink()
    with contextlib.suppress(OSError):
        targets = {m["target"] for n in os.listdir(out) if (m := _CHECKPOINT_TMP.fullmatch(n))}
        for target in targets:  # the rule of rlemask._atomic: only a dead writer's
            remove_stale_temporaries(out / target)


def _improves(value, best: float | None) -> bool:
    """Mode "max": a number above ``best`` (any number when there is none); NaN never."""
    if value is None:
        return False
    value = float(value)
    return value == value and (best is None or value > best)


def _callbacks(
    out: Path,
    monitor: str,
    best: float | None,
    tensorboard: bool,
    resuming: bool,
    freeze_encoder_epochs: int = 0,
    best_model: str | None = None,
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

    class Checkpoints(keras.callbacks.Callback):
        """After each epoch: the model, the best model when ``monitor`` improved, then the state.

        The best model is kept as Keras' ``ModelCheckpoint(monitor, mode="max",
        save_best_only=True, initial_value_threshold=best)`` keeps it, but
        every file is complete before the state (``.state.json``, written
        last and atomically) names it: see the module's docstring.
        """

        def __init__(self, best, best_model):
            super().__init__()
            self.best, self.best_model = best, best_model

        def on_epoch_end(self, epoch, logs=None):
            n = epoch + 1
            last = f".last-{n}.keras"
            save_model(self.model, out / last)
            value = (logs or {}).get(monitor)
            best, best_model = self.best, self.best_model
            if _improves(value, best):
                best, best_model = float(value), f".best-{n}.keras"
                _copy(out / last, out / best_model)
            state = {"epoch": n, "best": best, "last": last, "best_model": best_model}
            with atomic_write(out / STATE, "w", encoding="utf-8") as handle:
                json.dump(state, handle)
            # committed: only now is the previous state's checkpoint dispensable
            self.best, self.best_model = best, best_model
            _tidy(out, {last, best_model})

    timer = EpochTimer()
    callbacks = [
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=resuming),
        timer,
        Checkpoints(best, best_model),
    ]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out / "logs")))
    if freeze_encoder_epochs:
        from rlemask_keras.callbacks import FreezeEncoder

        callbacks.append(FreezeEncoder(freeze_encoder_epochs))
    return callbacks, timer


def keep_best(out: Path, model) -> None:
    """Make the best checkpoint the run's ``model.keras`` (``model`` when there is none).

    There is none when the monitored score was never a number.  The state
    still names the checkpoint moved: :func:`fit` copies ``model.keras``
    back when the run is resumed.
    """
    state = resume_state(out)
    best = state.get("best_model") if state else None
    if best and (out / best).is_file():
        os.replace(out / best, out / "model.keras")
    else:
        save_model(model, out / "model.keras")


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
    state: dict[str, Any] | None = None,
    distribution=None,
):
    """``model.fit`` from ``initial_epoch`` to ``config.epochs``; returns each epoch's time.

    ``state``: the run's :func:`resume_state` when resuming (its best score
    and checkpoint stay the ones to beat).
    """
    from rlemask_keras.report import CHECKPOINT_MONITOR

    out = Path(config.out)
    resuming = initial_epoch > 0
    best, best_model = None, None
    if resuming:
        _keep_history_rows(out / "history.csv", initial_epoch)
        train_gen.set_epoch(initial_epoch)  # the sampler's schedule continues too
        best, best_model = (state or {}).get("best"), (state or {}).get("best_model")
        if best is None:  # no score was ever a number: nothing to beat yet
            best_model = None
        elif best_model and not (out / best_model).is_file():
            if (out / "model.keras").is_file():
                # a finished run renamed its checkpoint: it stays the one to beat
                _copy(out / "model.keras", out / best_model)
            else:
                best_model = None
    callbacks, timer = _callbacks(
        out,
        CHECKPOINT_MONITOR,
        best,
        config.tensorboard,
        resuming,
        config.freeze_encoder_epochs,
        best_model,
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
