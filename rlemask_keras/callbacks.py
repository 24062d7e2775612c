"""Training callbacks of the adapter.

:class:`FreezeEncoder` keeps a pretrained encoder fixed for the first epochs,
so that the randomly initialised decoder does not send large gradients into
ImageNet weights, then trains the whole network.  :class:`EpochTimer` times
each epoch's training; :class:`Checkpoints` saves the run's checkpoints and
commits its state after each epoch (:mod:`rlemask_keras.run_folder`);
:class:`ValidationScore` adds the competition's score on validation to the
epoch's logs, for the checkpoint to keep the best epoch of.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from rlemask_keras import run_folder
from rlemask_keras.class_evaluation import score_masks
from rlemask_keras.encoders import GATE_LAYER

__all__ = ["FreezeEncoder", "EpochTimer", "Checkpoints", "ValidationScore"]


def wait_for_model(model) -> None:
    """Block until the model's queued training steps have run.

    JAX (and accelerators on every backend) dispatch steps asynchronously:
    ``fit`` reaches the end of an epoch while its last steps still run, and a
    clock read then stops early (JAX's reported speed was ~80x the real one).
    Reading a trained variable's value back to NumPy waits for the step
    that wrote it, on every backend.
    """
    variables = list(getattr(model, "trainable_variables", None) or [])[-1:]
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "iterations", None) is not None:
        variables.append(optimizer.iterations)
    for variable in variables:
        with contextlib.suppress(Exception):  # timing must never fail the run
            keras.ops.convert_to_numpy(variable)


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch's training (validation excluded), in ``train_times``.

    The clock stops once the epoch's steps have completed
    (:func:`wait_for_model`), not when they are queued.

    Examples
    --------
    >>> timer = EpochTimer()
    >>> timer.on_epoch_begin(0); timer.on_epoch_end(0)
    >>> len(timer.train_times)
    1
    """

    def __init__(self):
        super().__init__()
        self.train_times: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def _stop(self) -> None:
        if self._start:
            if self._model is not None:
                wait_for_model(self.model)
            self.train_times.append(time.perf_counter() - self._start)
            self._start = 0.0

    def on_test_begin(self, logs=None):
        self._stop()

    def on_epoch_end(self, epoch, logs=None):
        self._stop()  # no validation this epoch


class Checkpoints(keras.callbacks.Callback):
    """After each epoch: the checkpoints, then the run's state that names them.

    The best model (on ``monitor``) is kept as Keras' ``ModelCheckpoint(monitor,
    mode="max", save_best_only=True, initial_value_threshold=best)`` keeps it,
    but every file is complete before the state (``.state.json``, written
    last and atomically) names it: see :mod:`rlemask_keras.run_folder`.  The
    state also records each epoch's training time (from ``timer``) and
    ``images_per_epoch``, so a resumed final phase can report the speed.

    Parameters
    ----------
    out : path-like
        The run folder.
    monitor : str
        The log key of the score to maximise.
    state : dict, optional
        The state to continue (a resumed run: its best score and checkpoint
        stay the ones to beat).
    timer : EpochTimer, optional
        Placed before this callback in the list.
    images_per_epoch : int, optional
        Training images of one epoch.
    """

    def __init__(self, out, monitor, state=None, timer=None, images_per_epoch=None):
        super().__init__()
        self.out, self.monitor = Path(out), monitor
        self.state = dict(state or {})
        self.timer, self.images_per_epoch = timer, images_per_epoch

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.timer.train_times[-1] if self.timer and self.timer.train_times else None
        previous = {**self.state, "seconds": seconds, "images": self.images_per_epoch}
        value = (logs or {}).get(self.monitor)
        self.state = run_folder.commit_epoch(self.out, self.model, epoch + 1, value, previous)


class FreezeEncoder(keras.callbacks.Callback):
    """Freeze the encoder of a U-Net for the first ``epochs`` epochs of ``fit``.

    Closes the model's :class:`rlemask_keras.encoders.EncoderGate` for epochs
    ``0 .. epochs - 1`` (0-based, so ``initial_epoch >= epochs`` trains the
    encoder from the start) and opens it afterwards and when training ends.
    A closed gate passes no gradient to the encoder: with Adam, SGD or
    RMSprop its weights stay exactly as they were (a decoupled weight decay,
    as in AdamW, would still shrink them), while its batch normalisation keeps
    following the training data.  The same on every Keras backend, with no
    recompilation.

    Parameters
    ----------
    epochs : int
        Number of epochs with the encoder frozen; 0 does nothing.

    Raises
    ------
    ValueError
        For a negative ``epochs``, or at the start of ``fit`` when the model
        was not built with an encoder.

    Examples
    --------
    >>> import numpy as np
    >>> from rlemask_keras import unet
    >>> model = unet((32, 32, 1), filters=2, encoder="efficientnetv2b0", depth=1)
    >>> model.compile("adam", loss="binary_crossentropy")
    >>> before = model.get_layer("encoder").get_weights()[0].copy()
    >>> x = np.zeros((2, 32, 32, 1), "float32")
    >>> _ = model.fit(x, x, epochs=1, verbose=0, callbacks=[FreezeEncoder(1)])
    >>> bool(np.array_equal(model.get_layer("encoder").get_weights()[0], before))
    True
    """

    def __init__(self, epochs: int):
        super().__init__()
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(
                f"`epochs` must be an integer >= 0. Received: freeze_encoder_epochs={epochs!r}"
            )
        self.epochs = epochs

    def _gate(self):
        try:
            return self.model.get_layer(GATE_LAYER)
        except ValueError:
            raise ValueError(
                f"FreezeEncoder: the model {self.model.name!r} has no encoder (no layer "
                f"{GATE_LAYER!r}); build it with unet(..., encoder=NAME) or "
                "unet_plus_plus(..., encoder=NAME)."
            ) from None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.epochs > 0:
            self._gate()  # fail before the first epoch on a model without encoder

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.epochs > 0:
            self._gate().open.assign(0.0 if epoch < self.epochs else 1.0)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.epochs > 0:  # a model leaves fit() trainable, whenever fit stopped
            self._gate().open.assign(1.0)


class ValidationScore(keras.callbacks.Callback):
    """The competition's metric on the validation batches, as ``logs["val_score"]``.

    At the end of each epoch the model predicts every batch of ``val_gen``;
    each map is binarised at ``threshold`` (no post-processing: the same
    fixed rule every epoch), the masks and the batches' targets are written
    in the competition's layout and scored with :func:`rlemask.score`
    (:func:`rlemask_keras.class_evaluation.score_masks`), at the model's
    size.  Without ``competition``: Dice per image (and class), an empty
    truth and prediction scoring 1 -- the competition score of SIIM and
    Severstal, not the Dice on positive images.  Place it before the
    callbacks that read the score (the history, the checkpoint).

    Examples
    --------
    >>> import numpy as np
    >>> from rlemask_keras import unet
    >>> model = unet((16, 16, 1), filters=2, depth=2)
    >>> model.compile("adam", loss="binary_crossentropy")
    >>> x = np.zeros((4, 16, 16, 1), "float32"); y = np.zeros((4, 16, 16, 1), "float32")
    >>> score = ValidationScore([(x, y)])
    >>> _ = model.fit(x, y, epochs=1, verbose=0, callbacks=[score])
    >>> 0 <= score.history[-1] <= 1
    True
    """

    def __init__(self, val_gen, competition=None, threshold: float = 0.5, key: str = "val_score"):
        super().__init__()
        self.val_gen, self.competition = val_gen, competition
        self.threshold, self.key = float(threshold), key
        dataset = getattr(val_gen, "dataset", None)
        self.classes = tuple(getattr(dataset, "classes", ()) or ())
        self.history: list[float] = []

    def _ids(self, k: int, n: int) -> list[str]:
        """The image ids of batch ``k`` (a metric may read them: UW-Madison's slices)."""
        gen = self.val_gen
        ids, batch = getattr(gen, "ids", None), getattr(gen, "batch_size", None)
        if ids is None or batch is None or not hasattr(gen, "_order_of"):
            return [f"{k}-{j}" for j in range(n)]
        order = gen._order_of(getattr(gen, "epoch", 0))[k * batch: k * batch + n]
        return [str(ids[int(i)]) for i in order]

    def on_epoch_end(self, epoch, logs=None):
        pred, truth = {}, {}
        for k in range(len(self.val_gen)):
            x, y = self.val_gen[k]
            names = self._ids(k, len(x))
            y = y["mask"] if isinstance(y, dict) else y
            out = self.model.predict_on_batch(x)
            if isinstance(out, dict):
                out = out[getattr(self.model, "mask_output", "mask")]
            for j, (p, t) in enumerate(zip(np.asarray(out), np.asarray(y), strict=True)):
                pred[names[j]] = np.moveaxis(p > self.threshold, -1, 0)
                truth[names[j]] = np.moveaxis(t > 0.5, -1, 0)
        shapes = {v.shape[1:] for v in pred.values()}
        value = score_masks(pred, truth, classes=self.classes, competition=self.competition,
                            shape=next(iter(shapes)) if len(shapes) == 1 else None).score
        self.history.append(float(value))
        if logs is not None:
            logs[self.key] = float(value)
