"""rlemask-keras train / predict end to end on a tiny synthetic set, and its user errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import rlemask  # noqa: E402
from rlemask_keras.cli import main  # noqa: E402
from rlemask_keras.training import OUTPUT_FILES  # noqa: E402

pytestmark = [
    pytest.mark.keras,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

N_IMAGES = 24
TINY = [
    "--img-size", "64", "--filters", "8", "--depth", "2", "--epochs", "2",
    "--batch-size", "8", "--quiet", "--learning-rate", "0.003",
]  # fmt: skip


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    return tmp_path_factory.mktemp("synthetic")


@pytest.fixture(scope="module")
def trained(synthetic_root, tmp_path_factory):
    """One tiny training run on 24 synthetic 1024 x 1024 images (the CLI's default source)."""
    out = tmp_path_factory.mktemp("run") / "out"
    argv = ["train", "--out", str(out), "--synthetic-root", str(synthetic_root)]
    argv += ["--n-images", str(N_IMAGES), "--seed", "1", *TINY]
    assert main(argv) == 0
    return out


def _data_root(synthetic_root):
    from rlemask.synthetic import GENERATOR_VERSION

    return synthetic_root / f"synthetic-v{GENERATOR_VERSION}-1-{N_IMAGES}"


@pytest.mark.slow
def test_train_writes_every_output(trained, synthetic_root):
    for name in OUTPUT_FILES:
        assert (trained / name).is_file(), name
    assert not (trained / ".best.keras").exists()
    for name in ("curves.png", "overlays.png"):
        assert (trained / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(trained / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and {"loss", "dice", "val_loss", "val_dice"} <= set(rows[0])
    report = json.loads((trained / "report.json").read_text())
    ev = report["evaluation"]
    n_val = report["data"]["n_validation"]
    assert ev["n_images"] == n_val and n_val + report["data"]["n_train"] == N_IMAGES
    for key in ("mean_dice", "dice_positive", "empty_accuracy", "all_empty_baseline"):
        assert 0.0 <= ev[key] <= 1.0, key
    assert set(report["thresholds"]) >= {"top", "min_area", "bottom"}
    assert report["training"]["images_per_second"] > 0
    assert report["target"]["dice_positive_min"] == 0.6
    text = (trained / "report.md").read_text()
    assert "all-empty" in text.lower() or "baseline" in text.lower()
    assert ("met" in text) and "images/s" in text
    # the saved model is the checkpoint of the best validation Dice, and loads back
    model = keras.models.load_model(trained / "model.keras")
    assert model.input_shape == (None, 64, 64, 1)
    # the synthetic set was made once, where it is reused from
    assert (_data_root(synthetic_root) / "train-rle.csv").is_file()


@pytest.mark.slow
def test_report_scores_agree_with_rlemask_evaluate_of_the_chosen_thresholds(trained):
    report = json.loads((trained / "report.json").read_text())
    # the competition score of the report is the grid score of the chosen triplet
    assert report["evaluation"]["mean_dice"] == pytest.approx(
        report["thresholds"]["grid_score"], abs=1e-9
    )


@pytest.mark.slow
def test_predict_writes_one_row_per_image_at_original_resolution(trained, synthetic_root, tmp_path):
    data = _data_root(synthetic_root)
    out = tmp_path / "submission.csv"
    argv = ["predict", str(trained / "model.keras"), str(data), "--out", str(out)]
    assert main([*argv, "--tta", "flip", "--quiet"]) == 0
    rows = rlemask.read_rle_csv(out)
    ids = {p.stem for p in data.rglob("*.dcm")}
    assert set(rows) == ids
    lines = out.read_text().splitlines()
    assert len(lines) == N_IMAGES + 1  # header + one row per image
    for rles in rows.values():
        assert len(rles) <= 1
        mask = rlemask.merge(rles, shape=(1024, 1024))
        assert mask.shape == (1024, 1024) and mask.dtype == np.uint8
    # a fixed triplet that empties everything: every row is -1
    assert main([*argv, "--triplet", "1.0,1,0.5", "--quiet"]) == 0
    assert all(line.split(",")[1].strip() == "-1" for line in out.read_text().splitlines()[1:])


@pytest.mark.slow
def test_predict_uses_training_thresholds_and_matches_validation_masks(trained, tmp_path):
    """predict's masks for the validation images score what train reported."""
    report = json.loads((trained / "report.json").read_text())
    data = Path(report["data"]["root"])
    out = tmp_path / "sub.csv"
    argv = ["predict", str(trained / "model.keras"), str(data), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    predicted = rlemask.read_rle_csv(out)
    labels = rlemask.read_rle_csv(data / "train-rle.csv")
    val_ids = [row["id"] for row in report["evaluation"]["per_image"]]
    assert len(val_ids) == report["data"]["n_validation"]
    result = rlemask.evaluate({i: predicted[i] for i in val_ids}, {i: labels[i] for i in val_ids})
    # same model, same pixels (load_sample = the cache), same thresholds from report.json
    assert result.mean_dice == pytest.approx(report["evaluation"]["mean_dice"], abs=1e-3)


@pytest.mark.slow
def test_existing_output_folder_is_not_overwritten(trained, synthetic_root, capsys):
    before = (trained / "report.json").read_bytes()
    argv = ["train", "--out", str(trained), "--synthetic-root", str(synthetic_root)]
    argv += ["--n-images", str(N_IMAGES), "--seed", "1", *TINY]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overwrite" in err[0] and "Traceback" not in err[0]
    assert (trained / "report.json").read_bytes() == before


def _one_line_error(capsys, argv, *fragments):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for fragment in fragments:
        assert fragment in err[0], err[0]
    return err[0]


def test_user_errors_are_one_line_exit_2(tmp_path, capsys):
    out = str(tmp_path / "out")
    # a folder with a labels CSV but no DICOM
    no_dicoms = tmp_path / "no_dicoms"
    no_dicoms.mkdir()
    (no_dicoms / "train-rle.csv").write_text("ImageId, EncodedPixels\n")
    _one_line_error(capsys, ["train", "--data", str(no_dicoms), "--out", out], "no DICOM")
    # DICOMs but no labels CSV
    no_csv = tmp_path / "no_csv"
    no_csv.mkdir()
    (no_csv / "a.dcm").write_bytes(b"")
    _one_line_error(capsys, ["train", "--data", str(no_csv), "--out", out], "labels CSV")
    # a data folder that does not exist
    _one_line_error(
        capsys, ["train", "--data", str(tmp_path / "nope"), "--out", out], "not a folder"
    )
    # image size not divisible by 2**depth, batch size below 1
    _one_line_error(
        capsys, ["train", "--img-size", "100", "--depth", "3", "--out", out], "2**depth = 8"
    )
    _one_line_error(capsys, ["train", "--batch-size", "0", "--out", out], "batch_size=0")
    _one_line_error(capsys, ["train", "--depth", "9", "--out", out], "depth=9")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_predict_user_errors(tmp_path, capsys):
    fake = tmp_path / "model.keras"
    fake.write_text("not a model")
    data = tmp_path / "data"
    data.mkdir()
    _one_line_error(capsys, ["predict", str(fake), str(data)], "no DICOM")
    (data / "a.dcm").write_bytes(b"")
    _one_line_error(capsys, ["predict", str(fake), str(data)], "not a Keras model")
    _one_line_error(capsys, ["predict", str(tmp_path / "missing.keras"), str(data)], "no such file")
    _one_line_error(capsys, ["predict", str(fake), str(data), "--batch-size", "0"], "batch_size=0")


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(synthetic_root, tmp_path):
    data = _data_root(synthetic_root)
    if not data.is_dir():  # the module's run makes it; alone, make it here
        from rlemask.synthetic import make_dataset

        make_dataset(data, N_IMAGES, size=1024, seed=1)
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--strategy", "mirrored"]
    argv += [*TINY, "--epochs", "1"]
    script = textwrap.dedent(
        """
        import os, sys
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
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


@pytest.mark.slow
def test_mixed_precision_trains_and_restores_the_policy(synthetic_root, trained, tmp_path):
    data = _data_root(synthetic_root)
    out = tmp_path / "mp"
    argv = ["train", "--data", str(data), "--out", str(out), "--mixed-precision"]
    assert main([*argv, *TINY, "--epochs", "1"]) == 0
    assert (out / "model.keras").is_file()
    model = keras.models.load_model(out / "model.keras")
    assert model.get_layer("enc1_conv1").compute_dtype == "bfloat16"  # CPU: bfloat16
    assert model.get_layer("output").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the run did not leak its policy
