"""rlemask-keras train / predict as users run them: subprocesses chained through files.

``rlemask synth`` -> ``rlemask-keras train`` -> ``rlemask-keras predict`` ->
``rlemask score``, each in a fresh interpreter, so nothing registered or
cached in one step helps the next.  The data set is tiny (16 images of
256 px, a 64 px model of 8 filters, 1 epoch) so the chain stays quick; the
user errors run in-process and stop before any training.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from commands import command as _command  # noqa: E402

import rlemask  # noqa: E402
from rlemask_keras.cli import main  # noqa: E402
from rlemask_keras.training import OUTPUT_FILES  # noqa: E402

pytestmark = [pytest.mark.keras]

N_IMAGES = 16
SIZE = 256
TINY = [
    "--img-size", "64", "--filters", "8", "--depth", "2", "--epochs", "1",
    "--batch-size", "8", "--quiet", "--learning-rate", "0.003", "--seed", "1",
]  # fmt: skip
FOLD0 = ["--folds", "2", "--fold", "0"]  # the settings of the run `trained` gives
#: lines TensorFlow prints at start-up that the commands must hide
NOISE = ("oneDNN", "absl::InitializeLog", "cpu_feature_guard", "I0000")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "data"
    _command("rlemask", "synth", root, "--images", N_IMAGES, "--size", SIZE, "--seed", 1)
    return root


@pytest.fixture(scope="module")
def folds(data, tmp_path_factory):
    """Two tiny training runs, folds 0 and 1 of 2; each: (run folder, the command's result)."""
    runs = []
    for fold in (0, 1):
        out = tmp_path_factory.mktemp("run") / f"fold{fold}"
        argv = ["--data", data, "--out", out, "--folds", 2, "--fold", fold, *TINY]
        runs.append((out, _command("rlemask-keras", "train", *argv)))
    return runs


@pytest.fixture(scope="module")
def trained(folds):
    return folds[0]


def test_train_writes_every_output_and_speaks_to_users(trained):
    out, result = trained
    for name in OUTPUT_FILES:
        assert (out / name).is_file(), name
    # the best checkpoint became model.keras; the last one and the state stay for --resume
    state = json.loads((out / ".state.json").read_text())
    assert sorted(p.name for p in out.glob(".*")) == [state["last"], ".state.json"]
    for name in ("curves.png", "overlays.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(out / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and {"loss", "dice", "val_loss", "val_dice"} <= set(rows[0])
    report = json.loads((out / "report.json").read_text())
    ev = report["evaluation"]
    n_val = report["data"]["n_validation"]
    assert ev["n_images"] == n_val and n_val + report["data"]["n_train"] == N_IMAGES
    for key in ("mean_dice", "dice_positive", "empty_accuracy", "all_empty_baseline"):
        assert ev[key] is None or 0.0 <= ev[key] <= 1.0, key
    # the competition score of the report is the search's score of the chosen triplet
    assert ev["mean_dice"] == pytest.approx(report["thresholds"]["grid_score"], abs=1e-9)
    assert "target" not in report  # the demo's bar is make demo's (--target), not every run's
    # the error-analysis page of the same validation predictions (issue 24), images beside it
    page = (out / "report.html").read_text()
    assert f"{ev['mean_dice']:.4f}" in page and f"{ev['all_empty_baseline']:.4f}" in page
    assert any((out / "report_files").glob("*.png"))
    text = result.stdout
    assert "1 epoch," in text and "1 epochs" not in text
    assert "target" not in text.lower()
    assert "validation images" in text and "(all-empty baseline" in text
    # TensorFlow's native start-up lines are hidden (no --verbose)
    for noise in NOISE:
        assert noise not in result.stderr, result.stderr[-2000:]


def test_predict_and_score_in_fresh_processes(trained, data, tmp_path):
    """The saved model loads in a new process; its submission scores as validation did."""
    out, _ = trained
    sub = tmp_path / "sub.csv"
    _command("rlemask-keras", "predict", out / "model.keras", data, "--out", sub, "--quiet")
    rows = rlemask.read_rle_csv(sub)
    assert set(rows) == {p.stem for p in data.rglob("*.dcm")}
    assert len(sub.read_text().splitlines()) == N_IMAGES + 1  # header + one row per image
    for rles in rows.values():
        assert len(rles) <= 1
        assert rlemask.merge(rles, shape=(SIZE, SIZE)).shape == (SIZE, SIZE)
    score = _command(
        "rlemask", "score", sub, data / "train-rle.csv", "--shape", SIZE, SIZE, "--json"
    )
    assert json.loads(score.stdout)["n_images"] == N_IMAGES
    # on the validation images, predict's masks score what train reported
    report = json.loads((out / "report.json").read_text())
    labels = rlemask.read_rle_csv(data / "train-rle.csv")
    val_ids = [row["id"] for row in report["evaluation"]["per_image"]]
    again = rlemask.evaluate(
        {i: rows[i] for i in val_ids}, {i: labels[i] for i in val_ids}, shape=(SIZE, SIZE)
    )
    assert again.mean_dice == pytest.approx(report["evaluation"]["mean_dice"], abs=1e-6)


def _score(sub: Path, data: Path) -> float:
    result = _command(
        "rlemask", "score", sub, data / "train-rle.csv", "--shape", SIZE, SIZE, "--json"
    )
    return json.loads(result.stdout)["mean_dice"]


def test_fold_ensemble_with_flips_and_out_of_fold_thresholds(folds, data, tmp_path):
    """train --folds 2 (x2) -> oof -> predict with both models -> score, all in subprocesses."""
    (run0, _), (run1, _) = folds
    m0, m1 = run0 / "model.keras", run1 / "model.keras"
    oof = tmp_path / "oof.json"
    printed = _command("rlemask-keras", "oof", run0, run1, "--out", oof, "--tta", "flip")
    assert f"out-of-fold: {N_IMAGES} images from 2 runs" in printed.stdout
    common = [data, "--tta", "flip", "--quiet", "--thresholds", oof]
    subs = {}
    for name, models in {"0": [m0], "1": [m1], "01": [m0, m1], "00": [m0, m0]}.items():
        subs[name] = tmp_path / f"{name}.csv"
        extra = ["--weights", "1,3"] if name == "00" else []
        result = _command("rlemask-keras", "predict", *models, *common, "--out", subs[name],
                          *extra)  # fmt: skip
        assert f"{len(models)} model" in result.stdout
    # a model averaged with itself (any weights) predicts what it predicts alone
    assert subs["00"].read_text() == subs["0"].read_text()
    # the ensemble scores at least as well as the weaker of its models
    scores = {name: _score(subs[name], data) for name in ("0", "1", "01")}
    assert scores["01"] >= min(scores["0"], scores["1"]) - 1e-9, scores


def test_oof_of_one_run_finds_its_validation_choice_and_feeds_predict(trained, data, tmp_path):
    """One run's out-of-fold choice is its own validation choice (same images, same maps)."""
    out, _ = trained
    oof = tmp_path / "oof.json"
    result = _command("rlemask-keras", "oof", out, "--out", oof)
    chosen = json.loads(oof.read_text())
    report = json.loads((out / "report.json").read_text())
    assert chosen["thresholds"] == report["thresholds"]
    assert chosen["evaluation"]["mean_dice"] == report["evaluation"]["mean_dice"]
    assert "all-empty baseline" in result.stdout and "out-of-fold: " in result.stdout
    # predict takes the file for its thresholds
    sub = tmp_path / "sub.csv"
    printed = _command("rlemask-keras", "predict", out / "model.keras", data, "--out", sub,
                       "--quiet", "--thresholds", oof)  # fmt: skip
    thr = chosen["thresholds"]
    assert f"top={thr['top']}, min_area={thr['min_area_1024']:g}" in printed.stdout
    # the same run twice is not a set of folds of one split
    twice = _command("rlemask-keras", "oof", out, out, "--out", oof, check=False)
    assert twice.returncode == 2 and "overlap" in twice.stderr


def test_resume_continues_from_the_last_completed_epoch(trained, data, tmp_path):
    out, _ = trained
    run = tmp_path / "run"
    shutil.copytree(out, run)
    result = _command(
        "rlemask-keras",
        "train",
        "--data",
        data,
        "--out",
        run,
        *FOLD0,
        *TINY,
        "--epochs",
        "2",
        "--resume",
    )
    assert "resuming after epoch 1 of 2" in result.stdout
    with open(run / "history.csv", newline="") as handle:
        epochs = [row["epoch"] for row in csv.DictReader(handle)]
    assert epochs == ["0", "1"]  # the first run's row, then the new epoch
    report = json.loads((run / "report.json").read_text())
    assert report["training"]["epochs"] == 2
    # model.keras is the best epoch's checkpoint, the first run's when epoch 2 is no better
    best = keras.models.load_model(run / "model.keras").get_weights()
    state = json.loads((run / ".state.json").read_text())
    assert state["epoch"] == 2 and state["last"] == ".last-2.keras"
    last = keras.models.load_model(run / state["last"]).get_weights()
    same = all(np.array_equal(a, b) for a, b in zip(best, last, strict=True))
    assert same == (report["training"]["best_epoch"] == 2), report["training"]
    # nothing left to resume, and different settings are refused, naming the flag
    again = _command("rlemask-keras", "train", "--data", data, "--out", run, *FOLD0, *TINY,
                     "--epochs", "2", "--resume", check=False)  # fmt: skip
    assert again.returncode == 2 and "--epochs" in again.stderr
    changed = _command("rlemask-keras", "train", "--data", data, "--out", run, *FOLD0, *TINY,
                       "--epochs", "3", "--filters", "4", "--resume", check=False)  # fmt: skip
    assert changed.returncode == 2 and "--filters 4" in changed.stderr


# -- user errors: one line, exit 2, the flag named; no training starts ---------


def _one_line_error(capsys, argv, *fragments):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for fragment in fragments:
        assert fragment in err[0], err[0]
    assert "Traceback" not in err[0]
    return err[0]


def test_user_errors_name_flags(tmp_path, capsys):
    import dataclasses

    from rlemask_keras.config import TrainConfig

    out = str(tmp_path / "out")
    no_dicoms = tmp_path / "no_dicoms"
    no_dicoms.mkdir()
    (no_dicoms / "train-rle.csv").write_text("ImageId, EncodedPixels\n")
    _one_line_error(capsys, ["train", "--data", str(no_dicoms), "--out", out], "--data", "DICOM")
    _one_line_error(
        capsys, ["train", "--data", str(tmp_path / "nope"), "--out", out], "--data", "not a folder"
    )
    cases = [
        (["--img-size", "100", "--depth", "3"], "--img-size", "2**depth = 8"),
        (["--batch-size", "0"], "--batch-size", "received --batch-size 0"),
        (["--depth", "9"], "--depth", "at most"),
        (["--folds", "1"], "--folds", ">= 2"),
        (["--folds", "2", "--fold", "2"], "--fold", "0..1"),
        (["--loss", "bce+hinge"], "--loss bce+hinge", "hinge"),
        (["--deep-supervision"], "--deep-supervision", "--model unet++"),
        (["--resume"], "--resume", "no run to resume"),
    ]
    python_names = {f.name for f in dataclasses.fields(TrainConfig) if "_" in f.name}
    for argv, *fragments in cases:
        line = _one_line_error(capsys, ["train", "--out", out, *argv], *fragments)
        # flags, never Python's `img_size` or img_size=100
        assert "`" not in line and not python_names & set(re.findall(r"\w+", line)), line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_existing_output_folder_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")
    _one_line_error(capsys, ["train", "--out", str(out)], "--overwrite", "--resume")
    assert (out / "report.json").read_text() == "{}"


def test_a_cache_folder_of_the_user_with_other_inputs_is_refused_not_rebuilt(
    data, tmp_path, capsys
):
    """``--cache DIR`` holding a cache of other inputs was deleted and rebuilt, silently."""
    from rlemask_keras.config import TrainConfig
    from rlemask_keras.training import load_data

    paths, labels = load_data(data)
    mine = tmp_path / "mine"
    rlemask.build_cache(paths[:4], labels, mine, img_size=64, workers=1, progress=False)
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    out = tmp_path / "out"
    argv = ["train", "--data", str(data), "--out", str(out), "--cache", str(mine), *TINY]
    _one_line_error(capsys, argv, f"--cache: {str(mine)!r} holds a cache of other inputs",
                    "choose another --cache", "remove that one")  # fmt: skip
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before
    assert not out.exists()  # refused before --out was touched

    # a cache of the same inputs is reused as it is
    from rlemask_keras.training import sample_cache

    settings = dict(data=data, out=out, img_size=64, progress=False, cache_workers=1)
    same = tmp_path / "same"
    rlemask.build_cache(paths, labels, same, img_size=64, workers=1, progress=False)
    stamps = {p.name: p.stat().st_mtime_ns for p in same.iterdir()}
    cache, where = sample_cache(TrainConfig(cache_dir=same, **settings), data, paths, labels)
    assert where == same and len(cache) == len(paths)
    assert {p.name: p.stat().st_mtime_ns for p in same.iterdir()} == stamps
    # the default folder is the command's own: a cache of other inputs there is replaced
    rlemask.build_cache(paths[:4], labels, out / "cache", img_size=64, workers=1, progress=False)
    cache, where = sample_cache(TrainConfig(**settings), data, paths, labels)
    assert where == out / "cache" and len(cache) == len(paths)


def test_predict_user_errors(tmp_path, capsys):
    fake = tmp_path / "model.keras"
    fake.write_text("not a model")
    data = tmp_path / "data"
    data.mkdir()
    _one_line_error(capsys, ["predict", str(fake), str(data)], "DATA: no ")
    (data / "a.dcm").write_bytes(b"")
    _one_line_error(capsys, ["predict", str(fake), str(data)], "not a Keras model")
    _one_line_error(capsys, ["predict", str(tmp_path / "missing.keras"), str(data)], "no such file")
    _one_line_error(capsys, ["predict", str(fake), str(data), "--batch-size", "0"], "--batch-size")
    _one_line_error(
        capsys, ["predict", str(fake), str(fake), str(data), "--weights", "1"], "--weights"
    )
    _one_line_error(capsys, ["predict", str(data)], "MODEL")


def _help(capsys, command: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_help_shows_every_default_and_no_markup(capsys):
    import dataclasses

    from rlemask_keras.config import TrainConfig, option_flag

    text = _help(capsys, "train")
    joined = " ".join(text.split())  # argparse wraps lines
    for flag in ("--epochs", "--img-size", "--batch-size", "--filters", "--learning-rate", "--out"):
        start = joined.index(f" {flag} ", joined.index("options:"))
        assert "(default: " in joined[start : joined.index(" --", start + len(flag) + 2)], flag
    # one option per TrainConfig field: a new field is a new option
    for field in dataclasses.fields(TrainConfig):
        if field.metadata.get("cli", True):
            assert option_flag(field.name) in text, field.name
    for command in ("train", "predict"):
        text = _help(capsys, command)
        for markup in ("``", ":func:", ":class:", ":data:"):
            assert markup not in text, (command, markup)


def test_native_log_lines_are_filtered_but_the_rest_passes(tmp_path):
    """The stderr filter drops TensorFlow's absl lines and keeps everything else, in order."""
    code = textwrap.dedent(
        """
        import argparse, os, sys
        from rlemask_keras.cli import runtime
        with runtime(argparse.Namespace(verbose=VERBOSE, threads=0)):
            os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called\\n")
            os.write(2, b"I0000 00:00:1796161631.722550    5531 port.cc:153] oneDNN on\\n")
            os.write(2, b"progress 1\\rprogress 2\\r")
            print("a warning of ours", file=sys.stderr)
            os.write(2, b"E0000 00:00:17.5   12 cuda_dnn.cc:8310] Unable to register\\n")
        print("stdout untouched")
        """
    )
    quiet = subprocess.run([sys.executable, "-c", code.replace("VERBOSE", "False")],
                           capture_output=True)  # fmt: skip
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == b"progress 1\rprogress 2\ra warning of ours\n"
    assert quiet.stdout == b"stdout untouched\n"
    verbose = subprocess.run([sys.executable, "-c", code.replace("VERBOSE", "True")],
                             capture_output=True)  # fmt: skip
    assert b"oneDNN" in verbose.stderr and b"cuda_dnn" in verbose.stderr


def test_what_a_native_abort_prints_last_still_gets_out():
    """Native code that writes its reason and aborts, never returning to Python, is still heard."""
    code = textwrap.dedent(
        """
        import argparse, ctypes
        from rlemask_keras.cli import runtime
        with runtime(argparse.Namespace(verbose=False, threads=0)):
            libc = ctypes.PyDLL(None)  # keeps the GIL held, as a dying native call does
            said = b"I0000 00:00:17.5   12 port.cc:153] oneDNN on\\nF0000 check failed: why\\n"
            libc.write(2, said, len(said))
            libc.abort()
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr == b"F0000 check failed: why\n"


def test_fold_split_is_disjoint_and_covers_every_image(data):
    from rlemask_keras.config import TrainConfig
    from rlemask_keras.training import load_data, split

    paths, labels = load_data(data)
    seen = []
    for fold in range(2):
        train, val, how = split(TrainConfig(folds=2, fold=fold, seed=3), paths, labels)
        assert how == f"fold {fold} of 2"
        assert not set(train) & set(val) and len(train) + len(val) == len(paths)
        seen += val
    assert sorted(seen) == sorted(paths)


@pytest.mark.slow
# two logical CPUs are TensorFlow's device configuration; PyTorch has no "mirrored"
@pytest.mark.backends("tensorflow")
def test_mirrored_strategy_on_two_logical_cpus(data, tmp_path):
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--strategy", "mirrored"]
    argv += TINY
    script = textwrap.dedent(
        """
        import sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        from rlemask_keras.cli import main
        sys.exit(main(ARGV))
        """
    ).replace("ARGV", repr(argv))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replica(s)" in result.stdout
    assert (tmp_path / "m" / "model.keras").is_file()


def test_thresholds_that_are_not_finite_are_one_line_exit_2(tmp_path):
    """Issue 19.12: --thresholds 0.5,inf,0.3 (or 1e400) ended in an OverflowError traceback."""
    for text in ("0.5,inf,0.3", "0.5,1e400,0.3"):
        result = _command("rlemask-keras", "predict", tmp_path / "m.keras", tmp_path,
                          "--thresholds", text, check=False)  # fmt: skip
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "--thresholds" in lines[-1] and "AREA a finite number >= 0" in lines[-1]
    # the same rule for a thresholds file
    (tmp_path / "oof.json").write_text('{"thresholds": {"top": 0.5, "min_area_1024": 1e400, '
                                       '"bottom": 0.3}}')  # fmt: skip
    from rlemask_keras.predict import thresholds_from_file

    with pytest.raises(ValueError, match="finite"):
        thresholds_from_file(tmp_path / "oof.json")


def test_library_parameters_become_the_command_s_flags_in_one_table():
    import dataclasses

    from rlemask_keras.cli import FLAGS, flag_message
    from rlemask_keras.config import TrainConfig, option_flag

    assert set(FLAGS["train"]) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert FLAGS["train"]["cache_dir"] == option_flag("cache_dir") == "--cache"
    message = "`batch_size` must be a multiple of 2; received batch_size=3 (weights=1)"
    assert flag_message(message, FLAGS["predict"]) == (
        "--batch-size must be a multiple of 2; received --batch-size 3 (--weights 1)"
    )
    assert flag_message("`data`: not a folder", FLAGS["train"]) == "--data: not a folder"
    assert flag_message("`data`: not a folder", FLAGS["predict"]) == "DATA: not a folder"
    # words that are not parameters of the command stay as they are
    assert flag_message("2**depth = 8; `unknown` x=1", FLAGS["oof"]) == "2**depth = 8; unknown x=1"


def test_a_run_killed_in_its_final_phase_is_finished_by_the_command(trained, data, tmp_path):
    """Issue 19.1 as a user meets it: the epochs are done, report.json was never written."""
    out, _ = trained
    run = tmp_path / "run"
    shutil.copytree(out, run)
    (run / "report.json").unlink()  # what a kill during the final evaluation leaves
    (run / "report.md").unlink()
    done = _command("rlemask-keras", "train", "--data", data, "--out", run, *FOLD0, *TINY,
                    "--resume")  # fmt: skip
    assert "Traceback" not in done.stderr
    report = json.loads((run / "report.json").read_text())
    assert report["training"]["epochs"] == 1 and (run / "report.md").is_file()
    # the report names the model it describes: predict reads it in a fresh process
    sub = tmp_path / "sub.csv"
    _command("rlemask-keras", "predict", run / "model.keras", data, "--out", sub, "--quiet")
    assert len(rlemask.read_rle_csv(sub)) == N_IMAGES


def test_overwrite_through_the_command_keeps_what_the_run_did_not_write(trained, data, tmp_path):
    """Issue 19.2 as a user meets it: --overwrite removed OUT/logs/ and files of the user."""
    out, _ = trained
    run = tmp_path / "run"
    shutil.copytree(out, run)
    (run / "logs" / "2026-11").mkdir(parents=True)
    (run / "logs" / "2026-11" / "lab_notebook.txt").write_text("months of notes\n")
    (run / "notes.md").write_text("kept\n")
    _command("rlemask-keras", "train", "--data", data, "--out", run, *FOLD0, *TINY, "--overwrite")
    assert (run / "logs" / "2026-11" / "lab_notebook.txt").read_text() == "months of notes\n"
    assert (run / "notes.md").read_text() == "kept\n"
    assert json.loads((run / "report.json").read_text())["training"]["epochs"] == 1


def test_predict_names_a_file_it_does_not_predict(trained, data, tmp_path):
    """Issue 19.4 as a user meets it: two files of one name in two folders gave one row silently."""
    out, _ = trained
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    first = sorted(copy.rglob("*.dcm"))[0]
    (copy / "siteB").mkdir()
    twin = copy / "siteB" / first.name
    shutil.copy(sorted(copy.rglob("*.dcm"))[1], twin)
    sub = tmp_path / "sub.csv"
    result = _command("rlemask-keras", "predict", out / "model.keras", copy, "--out", sub,
                      "--quiet")
    warning = [line for line in result.stderr.splitlines() if "duplicate" in line]
    assert len(warning) == 1 and warning[0].startswith("rlemask-keras predict: warning: ")
    assert first.stem in warning[0]
    assert len(rlemask.read_rle_csv(sub)) == N_IMAGES  # one row per id, the twin named above
