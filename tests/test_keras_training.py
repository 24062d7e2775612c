"""rlemask_keras.train with the options that change the model and the loss, in-process.

A tiny U-Net++ with deep supervision, a combined focal + Dice loss and
TensorBoard logs: the run must train, evaluate the final output, save a
model that loads back, and record the settings.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import rlemask  # noqa: E402
import rlemask_keras  # noqa: E402
from rlemask_keras import TrainConfig, train  # noqa: E402

pytestmark = [pytest.mark.keras]


HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def test_unet_plus_plus_deep_supervision_focal_dice_tensorboard(tmp_path):
    config = TrainConfig(
        out=tmp_path / "run",
        synthetic_root=tmp_path,
        n_images=8,
        synthetic_size=64,
        img_size=32,
        depth=2,
        filters=2,
        epochs=1,
        batch_size=4,
        model="unet++",
        deep_supervision=True,
        loss="2*focal+dice",
        tensorboard=HAS_TENSORBOARD,
        progress=False,
    )
    report = train(config, log=lambda *args: None)
    out = tmp_path / "run"
    assert report["config"]["loss"] == "2*focal+dice"
    assert report["evaluation"]["n_images"] == report["data"]["n_validation"]
    assert any((out / "logs").rglob("*tfevents*")) == HAS_TENSORBOARD
    model = keras.models.load_model(out / "model.keras")
    assert len(model.outputs) == 2  # out1 (shallow) and out2 (full depth)
    compiled = json.dumps(model.get_compile_config(), default=str)
    assert "CombinedLoss" in compiled and '"focal": 2.0' in compiled
    # prediction uses the full-depth output, one map per image at its own size
    paths, _ = rlemask.load_siim(json.loads((out / "report.json").read_text())["data"]["root"])
    maps = dict(rlemask_keras.predict_probabilities(model, paths[:2], batch_size=2))
    assert all(m.shape == (64, 64) and m.dtype == np.float32 for m in maps.values())
    final = model.predict_on_batch(rlemask_keras.predict.load_images(paths[:1], 32)[..., None])
    direct = rlemask.resize_image(np.asarray(final[model.output_names[-1]])[0, ..., 0], 64,
                                  method="bilinear")  # fmt: skip
    np.testing.assert_allclose(maps[paths[0].stem], np.clip(direct, 0, 1), atol=1e-6)


def test_tensorboard_without_the_package_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    with pytest.raises(ValueError, match="--tensorboard needs the tensorboard package: pip"):
        TrainConfig(out=tmp_path, tensorboard=True).check()


def test_multiworker_non_chief_writes_into_a_scratch_folder(tmp_path, monkeypatch):
    from rlemask_keras.training import _worker_scratch

    cluster = {"worker": ["localhost:1", "localhost:2"]}
    config = TrainConfig(out=tmp_path / "run", strategy="multiworker")
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})
    )
    with _worker_scratch(config) as scratch:
        assert scratch.out != config.out and scratch.cache_dir.parent == scratch.out.parent
        scratch.out.mkdir()
    assert not scratch.out.parent.exists()  # removed at the end
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}})
    )
    with _worker_scratch(config) as chief:
        assert chief is config  # the chief writes the run


def test_mixed_precision_trains_and_restores_the_policy(tmp_path):
    config = TrainConfig(
        out=tmp_path / "mp", synthetic_root=tmp_path, n_images=8, synthetic_size=64,
        img_size=32, depth=1, filters=2, epochs=1, batch_size=4, progress=False,
        mixed_precision=True,
    )  # fmt: skip
    train(config, log=lambda *args: None)
    model = keras.models.load_model(tmp_path / "mp" / "model.keras")
    assert model.get_layer("enc1_conv1").compute_dtype == "bfloat16"  # CPU: bfloat16
    assert model.get_layer("output").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the run did not leak its policy


def test_encoder_with_frozen_first_epoch(tmp_path):
    config = TrainConfig(
        out=tmp_path / "enc", synthetic_root=tmp_path, n_images=8, synthetic_size=64,
        img_size=32, depth=1, filters=2, epochs=1, batch_size=4, progress=False,
        encoder="efficientnetv2b0", freeze_encoder_epochs=1,
    )  # fmt: skip
    report = train(config, log=lambda *args: None)
    assert report["config"]["encoder"] == "efficientnetv2b0"
    model = keras.models.load_model(tmp_path / "enc" / "model.keras")
    assert model.get_layer("encoder") is not None


@pytest.mark.parametrize(
    "settings, flag",
    [
        ({"encoder": "vgg1"}, "--encoder"),
        ({"encoder_weights": "imagenet"}, "--encoder-weights"),
        ({"freeze_encoder_epochs": 2}, "--freeze-encoder-epochs"),
    ],
)
def test_encoder_settings_are_checked_naming_the_flag(tmp_path, settings, flag):
    with pytest.raises(ValueError, match=flag):
        TrainConfig(out=tmp_path, **settings).check()
