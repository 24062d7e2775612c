"""``rlemask score`` and ``rlemask convert`` through a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import run_rlemask

import rlemask

EXAMPLE = "1 2 7 1 7 2 9 1"  # FORMATS.md, H=6, W=5
EXAMPLE_KAGGLE = "2 2 11 1 19 2 30 1"


@pytest.fixture
def files(tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text(f"ImageId, EncodedPixels\na, {EXAMPLE}\nb, -1\nc, 0 4\n")
    pred = tmp_path / "pred.csv"
    pred.write_text("ImageId,EncodedPixels\na,1 2\nb,-1\nx,0 1\n")
    return pred, truth


def test_score_prints_the_table(files, tmp_path):
    pred, truth = files
    result = run_rlemask("score", str(pred), str(truth), "--shape", "6", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = rlemask.evaluate(pred, truth, shape=(6, 5))
    assert f"competition score (mean Dice)  {expected.mean_dice:.4f}" in result.stdout
    assert "all-empty baseline" in result.stdout
    assert "missing in predictions (scored as empty): 1: c" in result.stdout


def test_score_json(files, tmp_path):
    pred, truth = files
    result = run_rlemask("score", pred, truth, "--shape", "6", "5", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data == json.loads(
        json.dumps(rlemask.evaluate(pred, truth, shape=(6, 5)).to_dict(), allow_nan=False)
    )
    assert data["mean_dice"] == pytest.approx((2 * 2 / 8 + 1 + 0) / 3)
    assert data["extra_in_predictions"] == ["x"]


def test_score_markdown(files, tmp_path):
    pred, truth = files
    result = run_rlemask("score", pred, truth, "--shape", "6", "5", "--markdown", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Evaluation of 3 images")
    assert "| metric | value | meaning |" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shape", "4", "4"], "image 'a'"),  # runs past a 4 x 4 mask
        (["--shape", "6", "5", "--format", "nope"], "unknown RLE format 'nope'"),
        (["--shape", "0", "5"], "--shape 0 5: height and width must be positive"),
        # before: numba TypingError / OverflowError tracebacks (issue 9)
        (["--shape", str(2**62), "8"], f"--shape {2**62} 8: "),
        (["--shape", str(2**40), str(2**40)], "more than the 2**40 a mask may have"),
    ],
)
def test_score_bad_input_exits_2_with_one_line(files, tmp_path, args, message):
    pred, truth = files
    result = run_rlemask("score", str(pred), str(truth), *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert result.stderr.startswith("rlemask score: error:")


def test_score_missing_file_and_no_overlap(files, tmp_path):
    pred, truth = files
    result = run_rlemask("score", str(tmp_path / "nope.csv"), str(truth), cwd=tmp_path)
    assert result.returncode == 2 and "nope.csv" in result.stderr
    other = tmp_path / "other.csv"
    other.write_text("ImageId,EncodedPixels\nzz,-1\n")
    result = run_rlemask("score", str(other), str(truth), "--shape", "6", "5", cwd=tmp_path)
    assert result.returncode == 2 and "share no image id" in result.stderr


def test_convert_siim_to_kaggle_and_back(tmp_path):
    source = tmp_path / "train-rle.csv"
    # stage-1 spelling, repeated id, interleaved ids, -1 rows
    source.write_text(f"ImageId, EncodedPixels\na, {EXAMPLE}\nb, -1\na, 20 2\nc, 0 4\nb, -1\n")
    kaggle = tmp_path / "kaggle.csv"
    result = run_rlemask(
        "convert", str(source), str(kaggle), "--from", "siim", "--to", "kaggle",
        "--shape", "6", "5", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert kaggle.read_text() == (
        f"ImageId,EncodedPixels\na,{EXAMPLE_KAGGLE}\nb,\na,21 2\nc,1 4\nb,\n"
    )
    back = tmp_path / "back.csv"
    result = run_rlemask(
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
    result = run_rlemask(
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
        ("ImageId,EncodedPixels\na,1 2\n", ["--to", "coco", "--shape", str(2**62), "8"],
         "--shape"),
        ("ImageId,EncodedPixels\na,1 2\n", ["--from", "nope"], "unknown RLE format"),
    ],
)
def test_convert_bad_input_leaves_no_output(tmp_path, content, args, message):
    source = tmp_path / "in.csv"
    source.write_text(content)
    target = tmp_path / "out.csv"
    extra = args if "--to" in args else ["--to", "kaggle", *args]
    result = run_rlemask("convert", source, target, "--shape", "6", "5", *extra, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [source]  # no temporary file left behind


def test_score_only_predicted_and_a_size_warning(tmp_path):
    # a submission for a subset of the truth, its masks encoded at 4 x 4 instead of 8 x 8
    import numpy as np

    from rlemask.evaluation import _MISMATCH_MIN_IMAGES

    n = _MISMATCH_MIN_IMAGES
    truth_mask = np.zeros((8, 8), np.uint8)
    truth_mask[4:, 4:] = 1
    small = np.zeros((4, 4), np.uint8)
    small[2:, 2:] = 1
    ids = [f"i{k}" for k in range(n)]
    truth = tmp_path / "truth.csv"
    rlemask.write_rle_csv(truth, {**{k: truth_mask for k in ids}, "not_predicted": truth_mask})
    pred = tmp_path / "pred.csv"
    rlemask.write_rle_csv(pred, {k: small for k in ids})
    args = ("score", str(pred), str(truth), "--shape", "8", "8")
    full = run_rlemask(*args, "--json", cwd=tmp_path)
    subset = run_rlemask(*args, "--json", "--only-predicted", cwd=tmp_path)
    assert full.returncode == 0 and subset.returncode == 0, subset.stderr
    full_report, subset_report = json.loads(full.stdout), json.loads(subset.stdout)
    assert full_report["n_images"] == n + 1
    assert full_report["missing_in_predictions"] == ["not_predicted"]
    assert subset_report["n_images"] == n and subset_report["missing_in_predictions"] == []
    expected = rlemask.evaluate(pred, truth, shape=(8, 8), only_predicted=True)
    assert subset_report["mean_dice"] == pytest.approx(expected.mean_dice)
    # the size doubt: one readable line on stderr for JSON (no source path, no class name)
    assert len(subset_report["warnings"]) == 1
    lines = subset.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlemask score: warning: every one of the")
    assert "UserWarning" not in subset.stderr and ".py:" not in subset.stderr
    # ... and once, in the table itself, for people
    table = run_rlemask(*args, "--only-predicted", cwd=tmp_path)
    assert table.stderr == "" and table.stdout.count("WARNING: every one of the") == 1


def test_convert_to_coco_json_matches_pycocotools(tmp_path):
    mask_utils = pytest.importorskip("pycocotools.mask")
    import numpy as np

    source = tmp_path / "train-rle.csv"
    source.write_text(f"ImageId, EncodedPixels\na, {EXAMPLE}\nb, -1\na, 20 2\nc, 0 4\n")
    target = tmp_path / "masks.json"
    result = run_rlemask("convert", str(source), str(target), "--to", "coco", "--shape", "6", "5",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(target.read_text())
    assert list(data) == ["a", "b", "c"]
    labels = rlemask.read_rle_csv(source)
    for key, value in data.items():
        assert value["size"] == [6, 5]
        mask = rlemask.merge(labels[key], shape=(6, 5)) if labels[key] else np.zeros((6, 5))
        expected = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert value["counts"] == expected["counts"].decode("ascii")
        decoded = mask_utils.decode({"size": [6, 5], "counts": value["counts"].encode()})
        np.testing.assert_array_equal(decoded, mask)

    listed = tmp_path / "annotations.json"
    result = run_rlemask("convert", source, listed, "--to", "coco", "--coco-layout", "list",
                         "--shape", "6", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    annotations = json.loads(listed.read_text())
    assert [(a["id"], a["image_id"]) for a in annotations] == [(1, "a"), (2, "a"), (3, "c")]
    for ann, rle in zip(annotations, [EXAMPLE, "20 2", "0 4"], strict=True):
        mask = rlemask.decode(rle, shape=(6, 5))
        segmentation = ann["segmentation"]
        seg = {"size": segmentation["size"], "counts": segmentation["counts"].encode()}
        np.testing.assert_array_equal(mask_utils.decode(seg), mask)
        assert ann["area"] == int(mask.sum()) == int(mask_utils.area(seg))
        assert ann["bbox"] == list(rlemask.bbox(mask)) == mask_utils.toBbox(seg).tolist()
        assert ann["category_id"] == 1 and ann["iscrowd"] == 0


def test_convert_reads_any_row_write_rle_csv_writes(tmp_path):
    # a noisy 1024^2 prediction is a ~1 MB field, past csv's default 131,072 limit
    import numpy as np

    noisy = (np.random.default_rng(1234).random((1024, 1024)) < 0.5).astype(np.uint8)
    source = tmp_path / "noisy.csv"
    rlemask.write_rle_csv(source, {"n": noisy})
    assert source.stat().st_size > 131_072
    target = tmp_path / "kaggle.csv"
    result = run_rlemask("convert", str(source), str(target), "--to", "kaggle", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    back = rlemask.read_rle_csv(target, format="kaggle")
    np.testing.assert_array_equal(rlemask.merge(back["n"], format="kaggle"), noisy)


def test_convert_after_a_killed_convert_leaves_no_temporary(tmp_path):
    # a writer killed mid-write (os._exit: no cleanup) leaves its hidden temporary
    source = tmp_path / "in.csv"
    source.write_text(f"ImageId,EncodedPixels\na,{EXAMPLE}\n")
    target = tmp_path / "out.csv"
    killed = subprocess.run(
        [sys.executable, "-c",
         "import os, sys; from rlemask._atomic import atomic_write\n"
         "with atomic_write(sys.argv[1]) as f:\n"
         "    f.write('ImageId,EncodedPixels\\na,half'); f.flush(); os._exit(9)",
         str(target)],
        capture_output=True, text=True, timeout=120,
    )
    assert killed.returncode == 9
    assert [p.name.endswith(".tmp") for p in tmp_path.iterdir()].count(True) == 1
    result = run_rlemask("convert", str(source), str(target), "--to", "kaggle", "--shape", "6", "5",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]
    assert target.read_text() == f"ImageId,EncodedPixels\na,{EXAMPLE_KAGGLE}\n"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not 0600


# ---------------------------------------------------------------- convert's empty rows, in-process


@pytest.fixture
def formats_restored():
    from rlemask._formats import _FORMATS

    state = _FORMATS.snapshot()
    yield
    _FORMATS.restore(state)


def test_convert_empty_rows_are_the_source_formats_markers(tmp_path):
    from rlemask.cli.convert import convert_rows, convert_to_coco

    source = tmp_path / "kaggle.csv"
    # kaggle reads "", "-" and "-1" as empty; "-" used to crash --coco-layout list (bbox of None)
    source.write_text(f"ImageId,EncodedPixels\na,{EXAMPLE_KAGGLE}\nb,-\nc,\nd,-1\n")
    rows = convert_rows(source, from_format="kaggle", to_format="siim", shape=(6, 5))
    assert rows == [("a", EXAMPLE), ("b", "-1"), ("c", "-1"), ("d", "-1")]
    annotations = convert_to_coco(source, from_format="kaggle", shape=(6, 5), layout="list")
    assert [a["image_id"] for a in annotations] == ["a"]


def test_convert_writes_the_target_codecs_declared_marker(tmp_path, formats_restored):
    from rlemask.cli.convert import convert_rows

    rlemask.register_format(
        "h3-none", rlemask.PairsCodec("h3-none", relative=True, base=0, empty="NONE")
    )

    class NoMarker:  # a plugin codec need not declare `empty`: its empty mask's text is used
        name = "h3-nomarker"

        def parse(self, rle, shape, **options):
            return rlemask.get_format("siim").parse(rle, shape)

        def format(self, runs, **options):
            return rlemask.get_format("siim").format(runs) if runs.area else "EMPTY"

    rlemask.register_format("h3-nomarker", NoMarker)
    source = tmp_path / "in.csv"
    source.write_text(f"ImageId,EncodedPixels\na,{EXAMPLE}\nb,-1\n")
    assert convert_rows(source, from_format="siim", to_format="h3-none", shape=(6, 5)) == [
        ("a", EXAMPLE), ("b", "NONE")
    ]
    assert convert_rows(source, from_format="siim", to_format="h3-nomarker", shape=(6, 5)) == [
        ("a", EXAMPLE), ("b", "EMPTY")
    ]
    with pytest.raises(ValueError, match="does not print text"):
        convert_rows(source, from_format="siim", to_format="coco", shape=(6, 5))
