"""fit.py: the model a config describes, and what ``model.fit`` is given."""

from __future__ import annotations

import io

import pytest

keras = pytest.importorskip("keras")

from rlemask_keras import fit, losses  # noqa: E402
from rlemask_keras.config import TrainConfig  # noqa: E402

pytestmark = [pytest.mark.keras]


def test_build_model_compiles_the_loss_of_the_table():
    model = fit.build_model(TrainConfig(img_size=32, depth=1, filters=2, loss="2*focal+dice"))
    assert model.loss.spec == losses.get("2*focal+dice").spec
    assert fit.build_model(TrainConfig(img_size=32, depth=1, filters=2)).loss is (
        losses.bce_dice_loss
    )


class _Recorder:
    """A stand-in for a model and a generator: records what ``fit`` is called with."""

    order = list(range(4))
    batch_size = 2

    def fit(self, data, **kwargs):
        self.kwargs = kwargs


@pytest.mark.parametrize("progress, terminal, verbose", [(True, False, 2), (True, True, 1),
                                                         (False, False, 0)])  # fmt: skip
def test_progress_is_a_line_per_epoch_when_not_a_terminal(tmp_path, monkeypatch, progress,
                                                          terminal, verbose):  # fmt: skip
    """Issue 19.20 (adapter): Keras' bar redraws filled redirected logs."""

    class Stdout(io.StringIO):
        def isatty(self):
            return terminal

    monkeypatch.setattr("sys.stdout", Stdout())
    model = _Recorder()
    config = TrainConfig(out=tmp_path, epochs=1, progress=progress)
    fit.fit(model, _Recorder(), None, config)
    assert model.kwargs["verbose"] == verbose
    names = [type(c).__name__ for c in model.kwargs["callbacks"]]
    assert names == ["CSVLogger", "EpochTimer", "Checkpoints"]


def test_configure_precision_returns_the_policy_before(tmp_path):
    before = keras.config.dtype_policy()
    assert fit.configure_precision(False) == before
    assert keras.config.dtype_policy() == before
