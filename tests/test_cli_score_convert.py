"""``rlemask score`` and ``rlemask convert`` through a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rlemask

EXAMPLE = "1 2 7 1 7 2 9 1"  # FORMATS.md, H=6, W=5
EXAMPLE_KAGGLE = "2 2 11 1 19 2 30 1"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rlemask", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text(f"ImageId, EncodedPixels\na, {EXAMPLE}\nb, -1\nc, 0 4\n")
    pred = tmp_path / "pred.csv"
    pred.write_text("ImageId,EncodedPixels\na,1 2\nb,-1\nx,0 1\n")
    return pred, truth


def test_score_prints_the_table(files, tmp_path):
    pred, truth = files
    result = cli("score", str(pred), str(truth), "--shape", "6", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = rlemask.evaluate(pred, truth, shape=(6, 5))
    assert f"competition score (mean Dice)  {expected.mean_dice:.4f}" in result.stdout
    assert "all-empty baseline" in result.stdout
    assert "missing in predictions (scored as empty): 1: c" in result.stdout


def test_score_json(files, tmp_path):
    pred, truth = files
    result = cli("score", str(pred), str(truth), "--shape", "6", "5", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data == json.loads(
        json.dumps(rlemask.evaluate(pred, truth, shape=(6, 5)).to_dict(), allow_nan=False)
    )
    assert data["mean_dice"] == pytest.approx((2 * 2 / 8 + 1 + 0) / 3)
    assert data["extra_in_predictions"] == ["x"]


def test_score_markdown(files, tmp_path):
    pred, truth = files
    result = cli("score", str(pred), str(truth), "--shape", "6", "5", "--markdown", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Evaluation of 3 images")
    assert "| metric | value | meaning |" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shape", "4", "4"], "image 'a'"),  # runs past a 4 x 4 mask
        (["--shape", "6", "5", "--format", "nope"], "unknown RLE format 'nope'"),
        (["--shape", "0", "5"], "`shape` must be"),
    ],
)
def test_score_bad_input_exits_2_with_one_line(files, tmp_path, args, message):
    pred, truth = files
    result = cli("score", str(pred), str(truth), *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert result.stderr.startswith("rlemask score: error:")


def test_score_missing_file_and_no_overlap(files, tmp_path):
    pred, truth = files
    result = cli("score", str(tmp_path / "nope.csv"), str(truth), cwd=tmp_path)
    assert result.returncode == 2 and "nope.csv" in result.stderr
    other = tmp_path / "other.csv"
    other.write_text("ImageId,EncodedPixels\nzz,-1\n")
    result = cli("score", str(other), str(truth), "--shape", "6", "5", cwd=tmp_path)
    assert result.returncode == 2 and "share no image id" in result.stderr


def test_convert_siim_to_kaggle_and_back(tmp_path):
    source = tmp_path / "train-rle.csv"
    # stage-1 spelling, repeated id, interleaved ids, -1 rows
    source.write_text(f"ImageId, EncodedPixels\na, {EXAMPLE}\nb, -1\na, 20 2\nc, 0 4\nb, -1\n")
    kaggle = tmp_path / "kaggle.csv"
    result = cli(
        "convert", str(source), str(kaggle), "--from", "siim", "--to", "kaggle",
        "--shape", "6", "5", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert kaggle.read_text() == (
        f"ImageId,EncodedPixels\na,{EXAMPLE_KAGGLE}\nb,\na,21 2\nc,1 4\nb,\n"
    )
    back = tmp_path / "back.csv"
    result = cli(
        "convert", str(kaggle), str(back), "--from", "kaggle", "--to", "siim",
        "--shape", "6", "5", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert back.read_text() == (f"ImageId,EncodedPixels\na,{EXAMPLE}\nb,-1\na,20 2\nc,0 4\nb,-1\n")
    # the converted file scores perfectly against the original
    assert rlemask.evaluate(back, source, shape=(6, 5)).mean_dice == 1.0


def test_convert_in_place(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(f"ImageId,EncodedPixels\na,{EXAMPLE}\n")
    result = cli(
        "convert", str(path), str(path), "--to", "kaggle", "--shape", "6", "5", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert path.read_text() == f"ImageId,EncodedPixels\na,{EXAMPLE_KAGGLE}\n"


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("ImageId,EncodedPixels\na,1 2 3\n", [], "line 2"),
        ("ImageId,EncodedPixels\na,1 2\nb,29 5\n", [], "line 3"),
        ("Id,Pixels\na,1 2\n", [], "header must name"),
        ("ImageId,EncodedPixels\na,1 2\n", ["--to", "coco"], "does not print text"),
        ("ImageId,EncodedPixels\na,1 2\n", ["--from", "nope"], "unknown RLE format"),
    ],
)
def test_convert_bad_input_leaves_no_output(tmp_path, content, args, message):
    source = tmp_path / "in.csv"
    source.write_text(content)
    target = tmp_path / "out.csv"
    extra = args if "--to" in args else ["--to", "kaggle", *args]
    result = cli("convert", str(source), str(target), "--shape", "6", "5", *extra, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [source]  # no temporary file left behind
