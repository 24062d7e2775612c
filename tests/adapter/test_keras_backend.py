"""Backend neutrality: JAX and PyTorch runs leave TensorFlow unimported; encoders get their
full depth."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from rlemask_keras import TrainConfig

# in every `-m keras` run (make test-jax / test-torch select the adapter's tests by it)
pytestmark = [pytest.mark.keras]

_RUN = textwrap.dedent(
    """
    import sys
    from rlemask_keras.cli import main

    out = sys.argv[-1]
    status = main(sys.argv[1:-1])  # train
    status += main(["predict", out + "/run/model.keras", out, "--out", out + "/sub.csv",
                    "--resolution", "model", "--quiet"])  # fmt: skip
    print("status", status, "tensorflow imported", "tensorflow" in sys.modules)
    """
)

# a process that never trained: the model, its loss and metrics come back from the file
_LOAD = textwrap.dedent(
    """
    import sys
    import keras, numpy as np, rlemask_keras
    model = keras.models.load_model(sys.argv[1])
    assert model.loss.__name__ == "bce_dice_loss", model.loss
    x = np.random.default_rng(0).random((2, 64, 64, 1), dtype=np.float32)
    prob = model.predict(x, verbose=0)
    assert prob.shape == (2, 64, 64, 1) and np.isfinite(prob).all(), prob.shape
    history = model.fit(x, (x > 0.7).astype("float32"), epochs=1, verbose=0)
    assert {"loss", "dice", "dice_positive"} <= set(history.history), history.history
    print("backend", keras.config.backend(), "tensorflow imported", "tensorflow" in sys.modules)
    """
)


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("jax", marks=pytest.mark.skipif(not _installed("jax"), reason="needs jax")),
        # PyTorch is optional (its wheels are large): tested where it is installed
        pytest.param(
            "torch", marks=pytest.mark.skipif(not _installed("torch"), reason="needs torch")
        ),
    ],
)
def test_train_and_predict_never_import_tensorflow(tmp_path, backend):
    # the command's code path, mixed precision and --threads included (both used to
    # import TensorFlow to find a GPU / set its thread pools); then the saved model
    # loads and keeps training in a fresh process on the same backend
    args = [
        "train", "--synthetic-root", str(tmp_path), "--n-images", "12",
        "--synthetic-size", "64", "--img-size", "64", "--filters", "8", "--depth", "2",
        "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "run"), "--quiet",
        "--threads", "1", "--mixed-precision",
    ]  # fmt: skip
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *args, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "status 0 tensorflow imported False" in done.stdout, done.stdout[-2000:]
    assert (tmp_path / "run" / "model.keras").is_file()
    assert len((tmp_path / "sub.csv").read_text().splitlines()) == 13  # header + 12 images
    loaded = subprocess.run(
        [sys.executable, "-c", _LOAD, str(tmp_path / "run" / "model.keras")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert f"backend {backend} tensorflow imported False" in loaded.stdout, loaded.stdout


def test_builders_get_their_own_default_depth():
    assert TrainConfig().model_depth == 4
    assert TrainConfig(encoder="efficientnetv2b0").model_depth == 5
    assert TrainConfig(encoder="efficientnetv2b0", depth=3).model_depth == 3
    # config.json records the depth built, so runs saved with depth 4 still resume
    assert TrainConfig().to_dict()["depth"] == 4
    saved = json.loads(json.dumps(TrainConfig().to_dict()))  # as config.json holds it
    assert TrainConfig(depth=4).differences(saved) == []
    assert TrainConfig(depth=3).differences(saved) == ["`depth` 3 (the run has 4)"]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"encoder": "resnet50", "depth": 6}, "`depth` must be at most 5 with `encoder`"),
        ({"depth": 9}, "`depth` must be at most 8"),
        ({"depth": 0}, "`depth` must be a positive integer"),
        ({"encoder": "resnet50", "img_size": 48}, r"2\*\*depth = 32 \(depth=5\)"),
        ({"img_size": 40}, r"2\*\*depth = 16 \(depth=4\)"),
    ],
)
def test_depth_checks_use_the_depth_built(tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(out=tmp_path, **settings).check()


def test_encoder_model_uses_every_encoder_stage():
    from rlemask_keras.fit import build_model

    common = dict(img_size=64, filters=2, encoder="efficientnetv2b0")
    full = build_model(TrainConfig(**common))
    four = build_model(TrainConfig(depth=4, **common))
    # depth 5 has a decoder level more, fed by the encoder's last (stride 32) stage
    assert full.count_params() > four.count_params()
    assert full.output_shape == four.output_shape == (None, 64, 64, 1)


def test_threads_asks_only_the_backend_in_use(monkeypatch):
    from rlemask_keras import _backend

    monkeypatch.setattr(_backend, "_backend", lambda: "jax")
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    _backend.set_threads(1)  # XLA: single-threaded CPU kernels, other flags kept
    assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false"
    _backend.set_threads(1)  # not added twice
    assert os.environ["XLA_FLAGS"].count("multi_thread_eigen") == 1
    with pytest.warns(UserWarning, match="--threads 4: JAX has no thread-count setting"):
        _backend.set_threads(4)


def test_threads_on_torch_sets_its_intra_op_pool(monkeypatch):
    # PyTorch is optional (its wheels are large): tested where it is installed
    torch = pytest.importorskip("torch")
    from rlemask_keras import _backend

    monkeypatch.setattr(_backend, "_backend", lambda: "torch")
    before = torch.get_num_threads()
    want = 1 if before != 1 else 2
    try:
        _backend.set_threads(want)
        assert torch.get_num_threads() == want
        _backend.set_threads(0)  # 0 leaves the backend's choice
        assert torch.get_num_threads() == want
    finally:
        torch.set_num_threads(before)
