"""Backend neutrality: JAX runs leave TensorFlow unimported; encoders get their full depth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from rlemask_keras import TrainConfig

_JAX_RUN = textwrap.dedent(
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


@pytest.mark.skipif(__import__("importlib").util.find_spec("jax") is None, reason="needs jax")
def test_jax_train_and_predict_never_import_tensorflow(tmp_path):
    # the command's code path, mixed precision and --threads included (both used to
    # import TensorFlow to find a GPU / set its thread pools)
    args = [
        "train", "--synthetic-root", str(tmp_path), "--n-images", "12",
        "--synthetic-size", "64", "--img-size", "64", "--filters", "8", "--depth", "2",
        "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "run"), "--quiet",
        "--threads", "1", "--mixed-precision",
    ]  # fmt: skip
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run(
        [sys.executable, "-c", _JAX_RUN, *args, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "status 0 tensorflow imported False" in done.stdout, done.stdout[-2000:]
    assert (tmp_path / "run" / "model.keras").is_file()
    assert len((tmp_path / "sub.csv").read_text().splitlines()) == 13  # header + 12 images


def test_builders_get_their_own_default_depth():
    assert TrainConfig().model_depth == 4
    assert TrainConfig(encoder="efficientnetv2b0").model_depth == 5
    assert TrainConfig(encoder="efficientnetv2b0", depth=3).model_depth == 3
    # config.json records the depth built, so runs saved with depth 4 still resume
    assert TrainConfig().to_dict()["depth"] == 4
    saved = json.loads(json.dumps(TrainConfig().to_dict()))  # as config.json holds it
    assert TrainConfig(depth=4).differences(saved) == []
    assert TrainConfig(depth=3).differences(saved) == ["--depth 3 (the run has 4)"]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"encoder": "resnet50", "depth": 6}, "--depth must be at most 5 with --encoder"),
        ({"depth": 9}, "--depth must be at most 8"),
        ({"depth": 0}, "--depth must be a positive integer"),
        ({"encoder": "resnet50", "img_size": 48}, r"2\*\*depth = 32 \(--depth 5\)"),
        ({"img_size": 40}, r"2\*\*depth = 16 \(--depth 4\)"),
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
