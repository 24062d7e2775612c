"""rlemask_keras.train with the options that change the model and the loss, in-process.

A tiny U-Net++ with deep supervision, a combined focal + Dice loss and
TensorBoard logs: the run must train, evaluate the final output, save a
model that loads back, and record the settings.
"""

from __future__ import annotations

import importlib.util
import json
import os
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
    with pytest.raises(ValueError, match="`tensorboard` needs the tensorboard package: pip"):
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
        ({"encoder": "vgg1"}, "`encoder`"),
        ({"encoder_weights": "imagenet"}, "`encoder_weights`"),
        ({"freeze_encoder_epochs": 2}, "`freeze_encoder_epochs`"),
    ],
)
def test_encoder_settings_are_checked_naming_the_parameter(tmp_path, settings, flag):
    with pytest.raises(ValueError, match=flag):
        TrainConfig(out=tmp_path, **settings).check()


# -- checkpoints: the state is the single commit point (a failed save loses nothing) ----------

MONITOR = "val_dice_positive"  # rlemask_keras.run_folder.CHECKPOINT_MONITOR
TINY_RUN = dict(n_images=8, synthetic_size=64, img_size=32, depth=1, filters=2, batch_size=4,
                progress=False)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_model():
    from rlemask_keras.fit import build_model

    return build_model(TrainConfig(img_size=32, depth=1, filters=2))


def _start(out, model, best=None, best_model=None):
    from rlemask_keras.callbacks import Checkpoints, EpochTimer

    timer = EpochTimer()
    state = {"best": best, "best_model": best_model}
    callbacks = [timer, Checkpoints(out, MONITOR, state, timer, 4)]
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    return callbacks


def _epoch_end(callbacks, epoch, value):
    for callback in callbacks:
        callback.on_epoch_end(epoch, {"loss": 1.0, MONITOR: value})


def _weights(path):
    return keras.models.load_model(path).get_weights()


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _hidden(out):
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def _fail_midway(monkeypatch, where, armed):
    """Make one step of checkpointing fail (after writing part of its file) while ``armed``."""
    import contextlib
    import io
    import shutil
    from pathlib import Path

    from keras.src.saving import saving_lib

    from rlemask import _atomic

    if where == "save":  # a model archive (Keras' ModelCheckpoint saved through this too)
        real_save = saving_lib.save_model

        def half_save(model, target, *args, **kwargs):
            if not armed:
                return real_save(model, target, *args, **kwargs)
            buffer = io.BytesIO()
            real_save(model, buffer)
            part = buffer.getvalue()[: len(buffer.getvalue()) // 2]
            if isinstance(target, (str, os.PathLike)):
                Path(target).write_bytes(part)
            else:
                target.write(part)
            raise OSError("No space left on device")

        monkeypatch.setattr(saving_lib, "save_model", half_save)
    elif where == "copy":  # the best checkpoint, a copy of the epoch's
        real_copy = shutil.copyfileobj

        def half_copy(source, target, *args):
            if not armed:
                return real_copy(source, target, *args)
            data = source.read()
            target.write(data[: len(data) // 2])
            raise OSError("No space left on device")

        monkeypatch.setattr(shutil, "copyfileobj", half_copy)
    else:  # the state, written after the checkpoints
        real_write = _atomic.atomic_write

        @contextlib.contextmanager
        def failing_write(path, *args, **kwargs):
            with real_write(path, *args, **kwargs) as handle:
                yield handle
                if armed and Path(path).name == ".state.json":
                    raise OSError("killed before the state was renamed into place")

        monkeypatch.setattr(_atomic, "atomic_write", failing_write)


@pytest.mark.parametrize("where", ["save", "copy", "state"])
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # never built
def test_a_failed_checkpoint_leaves_the_previous_epoch_whole(where, tmp_path, tiny_model,
                                                             monkeypatch):  # fmt: skip
    """Epoch 2 improves on epoch 1; its checkpointing fails midway: epoch 1 stays resumable.

    Keras' ModelCheckpoint wrote ``.best.keras`` in place (a half-written best
    model), and the state came after ``.last.keras`` (epoch 2's weights with
    epoch 1's state): both lost the run on ``--resume``.
    """
    from rlemask import _atomic
    from rlemask_keras.run_folder import resume_state

    armed = []
    _fail_midway(monkeypatch, where, armed)
    model = tiny_model
    callbacks = _start(tmp_path, model)
    _epoch_end(callbacks, 0, 0.5)
    first = model.get_weights()
    model.set_weights([w + 1 for w in first])  # epoch 2 trained
    armed.append(True)
    with pytest.raises(OSError):
        _epoch_end(callbacks, 1, 0.7)
    armed.clear()
    state = resume_state(tmp_path)
    assert state["epoch"] == 1 and state["best"] == 0.5
    for name in (state.get("last", ".last.keras"), state.get("best_model", ".best.keras")):
        assert _same(_weights(tmp_path / name), first), name

    # a killed writer's temporary of a checkpoint goes on the next commit; a live one stays
    dead = tmp_path / f"..last-1.keras.{2**22 + 1}@{_atomic._HOST}.00ff.tmp"
    live = tmp_path / f"..best-9.keras.{os.getpid()}@{_atomic._HOST}.00ff.tmp"
    dead.write_bytes(b"PK")
    live.write_bytes(b"PK")
    _epoch_end(callbacks, 1, 0.7)  # epoch 2 again, saved this time
    second = model.get_weights()
    state = resume_state(tmp_path)
    assert (state["epoch"], state["best"]) == (2, 0.7)
    assert _same(_weights(tmp_path / state["last"]), second)
    assert _same(_weights(tmp_path / state["best_model"]), second)
    # epoch 1's checkpoints went once the state named epoch 2's
    assert _hidden(tmp_path) == sorted([".state.json", state["last"], state["best_model"],
                                        live.name])  # fmt: skip


def test_the_best_checkpoint_keeps_modelcheckpoint_semantics(tmp_path, tiny_model):
    """mode max, only on improvement, NaN never improves, the run's best stays the bar."""
    from rlemask_keras.run_folder import resume_state

    callbacks = _start(tmp_path, tiny_model)
    _epoch_end(callbacks, 0, float("nan"))
    state = resume_state(tmp_path)
    assert (state["best"], state["best_model"]) == (None, None)
    assert not list(tmp_path.glob(".best*"))
    expected = [(0.3, 0.3, ".best-2.keras"), (float("nan"), 0.3, ".best-2.keras"),
                (0.2, 0.3, ".best-2.keras"), (0.3, 0.3, ".best-2.keras"),
                (0.4, 0.4, ".best-6.keras")]  # fmt: skip
    for epoch, (value, best, name) in enumerate(expected, start=1):
        _epoch_end(callbacks, epoch, value)
        state = resume_state(tmp_path)
        assert (state["best"], state["best_model"]) == (best, name), epoch
    # resumed: the run's best is the initial threshold
    resumed = _start(tmp_path, tiny_model, best=0.4, best_model=".best-6.keras")
    _epoch_end(resumed, 6, 0.35)
    assert resume_state(tmp_path)["best_model"] == ".best-6.keras"
    _epoch_end(resumed, 7, 0.45)
    assert resume_state(tmp_path)["best_model"] == ".best-8.keras"
    assert _hidden(tmp_path) == [".best-8.keras", ".last-8.keras", ".state.json"]


def test_resume_state_reads_the_layout_before_numbered_checkpoints(tmp_path):
    from rlemask_keras.run_folder import resume_state, state_files

    (tmp_path / ".state.json").write_text('{"epoch": 3, "best": 0.4}')
    assert resume_state(tmp_path) is None  # no model to resume
    (tmp_path / ".last.keras").write_bytes(b"PK")
    assert resume_state(tmp_path) == {
        "epoch": 3, "best": 0.4, "last": ".last.keras", "best_model": ".best.keras"
    }  # fmt: skip
    assert [p.name for p in state_files(tmp_path)] == [".last.keras", ".state.json"]
    # a state naming a file outside the run's checkpoints is no state
    for bad in ('"last": "../x.keras"', '"last": ".last-1.keras", "best_model": "model.keras"',
                '"last": ".last-0.keras"'):  # fmt: skip
        (tmp_path / ".state.json").write_text(f'{{"epoch": 3, "best": 0.4, {bad}}}')
        assert resume_state(tmp_path) is None, bad


def test_resume_after_a_failed_epoch_and_from_the_layout_before(tmp_path, monkeypatch):
    """In-process runs: epoch 2's state fails to be written, and ``--resume`` redoes epoch 2.

    Then the finished run, rewritten in the layout before the numbered
    checkpoints, resumes for a third epoch and leaves only the new layout.
    """
    import contextlib
    import csv
    import dataclasses
    from pathlib import Path

    from rlemask import _atomic
    from rlemask_keras.run_folder import resume_state

    out = tmp_path / "run"
    real_write = _atomic.atomic_write

    @contextlib.contextmanager
    def state_of_epoch_2_fails(path, *args, **kwargs):
        with real_write(path, *args, **kwargs) as handle:
            yield handle
            if Path(path).name == ".state.json" and (resume_state(out) or {}).get("epoch") == 1:
                raise OSError("killed before the state of epoch 2 was renamed into place")

    monkeypatch.setattr(_atomic, "atomic_write", state_of_epoch_2_fails)
    loaded = []
    real_load = keras.models.load_model

    def load(path, *args, **kwargs):
        loaded.append(Path(path).name)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(keras.models, "load_model", load)
    config = TrainConfig(out=out, synthetic_root=tmp_path, epochs=2, **TINY_RUN)
    with pytest.raises(OSError, match="killed"):
        train(config, log=lambda *args: None)
    monkeypatch.setattr(_atomic, "atomic_write", real_write)
    assert resume_state(out)["epoch"] == 1

    printed = []
    train(dataclasses.replace(config, resume=True), log=printed.append)
    assert "resuming after epoch 1 of 2" in printed
    assert loaded[0] == ".last-1.keras"  # epoch 1's weights, not epoch 2's
    with open(out / "history.csv", newline="") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1"]
    assert resume_state(out)["epoch"] == 2
    assert _hidden(out) == [".last-2.keras", ".state.json"]  # the best one is model.keras

    # the layout before: .last.keras, .best.keras (moved to model.keras), no names in the state
    state = resume_state(out)
    (out / state["last"]).rename(out / ".last.keras")
    (out / ".state.json").write_text(json.dumps({"epoch": 2, "best": state["best"]}))
    loaded.clear()
    report = train(dataclasses.replace(config, epochs=3, resume=True), log=lambda *a: None)
    assert loaded[0] == ".last.keras" and report["training"]["epochs"] == 3
    assert resume_state(out)["epoch"] == 3
    assert _hidden(out) == [".last-3.keras", ".state.json"]
    if state["best"] is not None:  # the run's best stayed the bar
        assert resume_state(out)["best"] >= state["best"]


def test_multiworker_figures_are_labelled_per_worker_next_to_the_cluster_s(tmp_path):
    """The chief's report gave its own shard and speed as if they were the run's."""
    from rlemask_keras import report as rep

    truth = {"a": ["-1"], "b": ["-1"]}
    thresholds = {"grid_size": 1, "top": 0.5, "min_area": 0, "min_area_1024": 0, "bottom": 0.5,
                  "grid_score": 1.0}  # fmt: skip
    evaluation = {
        "report": rlemask.evaluate(truth, truth, shape=(8, 8)),
        "thresholds": thresholds,
        "plain_threshold_score": 1.0,
        "predict_images_per_second": 3.0,
    }
    hist = {"loss": [1.0], "val_dice": [1.0], MONITOR: [float("nan")]}
    config = TrainConfig(strategy="multiworker")
    from pathlib import Path

    from rlemask_keras.training import RunData, Training

    labels = {f"i{k}": (["1 2"] if k < 5 else []) for k in range(11)}
    paths = [Path(f"d/{k}.dcm") for k in labels]
    data = RunData(Path("d"), paths, labels, paths[:9], paths[9:], "validation fraction 0.2",
                   None, Path("c"))  # fmt: skip

    def build(config, training):
        return rep.build_report(config=config, evaluation=evaluation, history=hist, data=data,
                                training=training, parameters=10, model_sha256="0" * 64,
                                wall_seconds=5.0)  # fmt: skip

    single = build(TrainConfig(), Training(12.5, 3.0, 1, None))
    assert single["data"]["n_train"] == 9 and single["data"]["n_positive"] == 5
    assert single["model"] == {"file": "model.keras", "sha256": "0" * 64, "epoch": 1}
    assert "workers" not in single["data"] and "workers" not in single["training"]
    assert "per worker" not in rep.summary(single, tmp_path)

    result = build(config, Training(12.5, 3.0, 2, 5))
    assert (result["data"] | result["training"]).items() >= {
        "workers": 2, "n_train": 5, "n_train_per_worker": 5, "n_train_all_workers": 10,
        "n_train_distinct": 9, "images_per_second": 12.5, "images_per_second_per_worker": 12.5,
        "images_per_second_all_workers_estimate": 25.0,
    }.items()  # fmt: skip
    text = rep.summary(result, tmp_path)
    assert "12.5 training images/s per worker (about 25.0 for 2 workers, an estimate" in text
    assert "training images per epoch: 5 per worker, 10 on 2 workers (9 distinct" in text
    rep.write_reports(tmp_path, result, evaluation["report"])
    md = (tmp_path / "report.md").read_text()
    assert "| training speed | 12.5 images/s per worker (about 25.0 for 2 workers, an " in md
    assert "| training images per epoch | 5 per worker, 10 on 2 workers" in md


# -- the run folder at its edges (issue 19: 1, 2, 19) ---------------------------------------


def test_a_run_stopped_in_its_final_phase_is_finished_by_resume(tmp_path, monkeypatch, capsys):
    """Issue 19.1: killed after its last epoch, the run could not be finished, and a report
    of the model before stayed beside a new model (predict applied its thresholds)."""
    import dataclasses

    from rlemask_keras import evaluate
    from rlemask_keras.cli import main
    from rlemask_keras.predict import predict
    from rlemask_keras.run_folder import model_digest

    out = tmp_path / "run"
    config = TrainConfig(out=out, synthetic_root=tmp_path, epochs=1, **TINY_RUN)
    real = evaluate.evaluate_model

    def killed(*args, **kwargs):  # the process dies in the final phase
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "evaluate_model", killed)
    with pytest.raises(KeyboardInterrupt):
        train(config, log=lambda *args: None)
    assert (out / "model.keras").is_file() and not (out / "report.json").exists()
    monkeypatch.setattr(evaluate, "evaluate_model", real)
    printed = []
    report = train(dataclasses.replace(config, resume=True), log=printed.append)
    assert "the run's 1 epoch are done: finishing its report" in printed
    assert not any(line.startswith(("resuming", "trained")) for line in printed)  # no epoch
    assert report["model"]["sha256"] == model_digest(out / "model.keras")
    assert report["training"]["images_per_second"] > 0  # from the state's records
    with open(out / "history.csv") as handle:
        assert len(handle.read().splitlines()) == 2  # the header and epoch 1
    with pytest.raises(ValueError, match="already has 1 epoch.*its report"):
        train(dataclasses.replace(config, resume=True), log=lambda *args: None)

    # a report of another model beside model.keras: refused by predict and oof, redone by resume
    stale = dict(report, model={"file": "model.keras", "sha256": "0" * 64, "epoch": 1})
    (out / "report.json").write_text(json.dumps(stale))
    data = next(tmp_path.glob("synthetic-*"))
    with pytest.raises(ValueError, match="describes another model"):
        predict(out / "model.keras", data, tmp_path / "sub.csv", progress=False)
    capsys.readouterr()
    assert main(["predict", str(out / "model.keras"), str(data), "--out", str(tmp_path / "s.csv"),
                 "--quiet"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "MODEL: the report beside" in err and "--thresholds" in err and "`" not in err
    assert main(["oof", str(out), "--out", str(tmp_path / "oof.json")]) == 2
    assert "describes another model" in capsys.readouterr().err
    assert not (tmp_path / "sub.csv").exists() and not (tmp_path / "oof.json").exists()
    train(dataclasses.replace(config, resume=True), log=lambda *args: None)
    assert json.loads((out / "report.json").read_text())["model"]["sha256"] != "0" * 64


def test_overwrite_keeps_the_user_s_logs_and_files(tmp_path):
    """Issue 19.2: --overwrite deleted OUT/logs/ whole (and a config.json of the user)."""
    out = tmp_path / "project"
    (out / "logs" / "2026-11").mkdir(parents=True)
    (out / "logs" / "2026-11" / "lab_notebook.txt").write_text("months of notes\n")
    (out / "notes.md").write_text("kept\n")
    config = TrainConfig(out=out, synthetic_root=tmp_path, epochs=1, overwrite=True, **TINY_RUN)
    train(config, log=lambda *args: None)
    assert (out / "logs" / "2026-11" / "lab_notebook.txt").read_text() == "months of notes\n"
    assert (out / "notes.md").read_text() == "kept\n"
    # a config.json that no run wrote is refused, before anything is removed
    (out / "config.json").write_text('{"my": "own config"}\n')
    with pytest.raises(FileExistsError, match="not the settings file of an rlemask-keras"):
        train(config, log=lambda *args: None)
    assert (out / "config.json").read_text() == '{"my": "own config"}\n'
    assert (out / "model.keras").is_file()


def test_on_error_skip_lists_the_unreadable_images(tmp_path, monkeypatch):
    """Issue 19.19 (train): a corrupt image stopped train whole; skipped, it is listed."""
    import dataclasses

    from rlemask.synthetic import make_dataset
    from rlemask_keras.report import summary

    data = make_dataset(tmp_path / "data", 8, size=64, seed=0)
    paths, _ = rlemask.load_siim(data)
    broken = paths[3]
    broken.write_bytes(broken.read_bytes()[:200])  # cut inside its header
    out = tmp_path / "run"
    settings = {k: v for k, v in TINY_RUN.items() if k not in ("n_images", "synthetic_size")}
    monkeypatch.chdir(tmp_path)  # the data folder given relative (issue 19.17: stored resolved)
    config = TrainConfig(data=data.relative_to(tmp_path), out=out, epochs=1, cache_workers=1,
                         **settings)  # fmt: skip
    with pytest.raises(ValueError, match=broken.stem):
        train(config, log=lambda *args: None)
    printed = []
    with pytest.warns(UserWarning, match="skipped"):
        report = train(dataclasses.replace(config, on_error="skip", overwrite=True),
                       log=printed.append)  # fmt: skip
    skipped = report["data"]["skipped"]
    assert [s["id"] for s in skipped] == [broken.stem] and skipped[0]["path"] == str(broken)
    assert report["data"]["n_images"] == 7
    assert report["data"]["root"] == str(data) == report["config"]["data"]
    assert report["data"]["cache"] == str(out / "cache")
    assert any(broken.stem in line and "skipped" in line for line in printed)
    assert f"skipped 1 unreadable image: {broken}" in summary(report, out)
    assert broken.stem in (out / "report.md").read_text()
