"""The training callbacks: the epoch timer waits for the steps, the checkpoints commit.

(FreezeEncoder is tested with the encoders, tests/adapter/test_keras_encoders.py.)
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from rlemask_keras.callbacks import Checkpoints, EpochTimer  # noqa: E402
from rlemask_keras.run_folder import resume_state  # noqa: E402

pytestmark = [pytest.mark.keras]


class _Queued:
    """A variable whose value is still being computed: reading it waits ``seconds``.

    What a JAX array of a queued training step does; a timer that never reads a
    value measured the time to queue the steps (JAX's speed was ~80x too high).
    """

    def __init__(self, seconds):
        self.seconds, self.read = seconds, 0

    def __array__(self, dtype=None, copy=None):
        time.sleep(self.seconds)
        self.read += 1
        return np.zeros(1, dtype or np.float32)


class _Model:
    def __init__(self, variable):
        self.trainable_variables = [variable]
        self.optimizer = None


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a NumPy-convertible fake")
def test_the_epoch_timer_stops_when_the_steps_are_done_not_queued():
    """Issue 19.16: the clock stops after a value that forces completion is read."""
    queued = _Queued(0.3)
    timer = EpochTimer()
    timer.set_model(_Model(queued))
    timer.on_epoch_begin(0)
    timer.on_test_begin()  # validation starts: the epoch's training is over
    timer.on_test_end()
    timer.on_epoch_end(0)
    assert queued.read == 1 and len(timer.train_times) == 1
    assert timer.train_times[0] >= 0.3


def test_the_epoch_timer_times_a_real_model_once_per_epoch():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    timer = EpochTimer()
    x = np.zeros((8, 2), "float32")
    model.fit(x, x[:, :1], epochs=2, batch_size=4, verbose=0, validation_data=(x, x[:, :1]),
              callbacks=[timer])  # fmt: skip
    assert len(timer.train_times) == 2 and all(t > 0 for t in timer.train_times)


def test_checkpoints_record_each_epoch_s_time_and_images(tmp_path):
    """The state keeps what a resumed final phase needs to report the speed."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    timer = EpochTimer()
    checkpoints = Checkpoints(tmp_path, "val_score", None, timer, images_per_epoch=8)
    for callback in (timer, checkpoints):
        callback.set_model(model)
    for epoch, score in enumerate([0.5, 0.25]):
        timer.on_epoch_begin(epoch)
        timer.on_epoch_end(epoch)
        checkpoints.on_epoch_end(epoch, {"val_score": score})
    state = json.loads((tmp_path / ".state.json").read_text())
    assert state["train_images"] == [8, 8] and len(state["train_seconds"]) == 2
    assert resume_state(tmp_path)["best_model"] == ".best-1.keras"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".best-1.keras", ".last-2.keras",
                                                          ".state.json"]  # fmt: skip
