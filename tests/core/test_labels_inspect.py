"""inspect_labels / rlemask inspect: layout, format and every problem kind with its line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import rlemask
from rlemask.label_inspect import PROBLEM_KINDS


def write(tmp_path, text, name="labels.csv"):
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return p


KAGGLE = "a,5 2 9 1 14 3\nb,2 2 8 1 12 2\n"  # two rows only absolute starts read


def kinds(report):
    return [(p["line"], p["kind"]) for p in report.problems]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("a,1 2\n<<<<<<< HEAD\nb,3 1\n=======\n>>>>>>> 1234abc\n",
         [(3, "merge-conflict"), (5, "merge-conflict"), (6, "merge-conflict")]),
        ("a,1 2\nb,1 2,3\n", [(3, "wrong-columns")]),
        ("a,1 2 3\n", [(2, "odd-count")]),
        ("a,1 x\nb,-3 1\nc,1 0\n", [(2, "bad-token"), (3, "bad-token"), (4, "bad-token")]),
        (KAGGLE + "c,10 2 3 1 20 1\n", [(4, "unsorted-runs")]),
        (KAGGLE + "c,10 5 12 2 20 1\n", [(4, "overlapping-runs")]),
        ("a,10 5 20 1 30 1\na,12 2 40 1 50 1\n", [(3, "overlapping-objects")]),
        ("a,10 5 20 1 30 1\nb,\na,10 5 20 1 30 1\n",
         [(4, "duplicate-row"), (4, "overlapping-objects")]),
        ("a,1 1\nb,5 2 9 1 14 3\n", [(2, "placeholder")]),
        ("a,10 5 20 1 30 1\na,40 5 50 1\n", []),
    ],
)
def test_each_problem_kind_with_its_line(tmp_path, rows, expected):
    report = rlemask.inspect_labels(write(tmp_path, "ImageId,EncodedPixels\n" + rows))
    assert kinds(report) == expected
    assert {k for _, k in expected} <= set(PROBLEM_KINDS)
    assert report.problem_counts == {k: sum(1 for _, x in expected if x == k)
                                     for _, k in expected}


def test_bom_and_outside_image(tmp_path):
    p = write(tmp_path, "\ufeffImageId,EncodedPixels\na,5 2 9 1 14 3\n")
    report = rlemask.inspect_labels(p, shape=(3, 4))
    assert kinds(report) == [(1, "bom"), (2, "outside-image")] and report.bom
    assert report.suggestion.startswith("(fix the rows listed first) rlemask.read_labels(")
    assert "shape=(3, 4)" in report.suggestion


def test_report_fields_page_and_json(tmp_path):
    p = write(tmp_path, "id,class,predicted\ns1,stomach,5 2 9 1 14 3\ns1,bowel,\ns2,stomach,-\n")
    report = rlemask.inspect_labels(p)
    d = report.to_dict()
    for key in ("layout", "columns", "header", "bom", "format", "n_rows", "n_images", "classes",
                "empty_tokens", "max_pixel", "problems", "suggestion", "consistent_sizes"):
        assert key in d
    assert json.loads(json.dumps(d)) == d
    assert (d["layout"], d["format"], d["n_rows"], d["n_images"]) == ("long", "kaggle", 3, 2)
    assert d["columns"] == {"id": "id", "rle": "predicted", "class": "class"}
    assert d["classes"] == ["stomach", "bowel"] and sorted(d["empty_tokens"]) == ["", "-"]
    assert d["max_pixel"] == 16 and "at least 4x4 if square" in d["consistent_sizes"]
    page = str(report)
    assert "layout       long" in page and "problems     none" in page
    # the suggested call reads the file
    assert report.suggestion == f"rlemask.read_labels({str(p)!r}, shape=(H, W))"
    assert rlemask.read_labels(p, shape=(4, 4)).format == "kaggle"


def test_undecided_and_placeholder_suggestions(tmp_path):
    placeholders = rlemask.inspect_labels(write(tmp_path, "ImageId,EncodedPixels\na,1 1\n"))
    assert placeholders.format is None and "empty='1 1'" in placeholders.suggestion
    single = rlemask.inspect_labels(write(tmp_path, "ImageId,EncodedPixels\na,7 3\n", "b.csv"))
    assert "format='kaggle'" in single.suggestion and "or format='siim'" in single.suggestion


def test_unreadable_files_raise(tmp_path):
    with pytest.raises(rlemask.LabelsFileError, match="empty file"):
        rlemask.inspect_labels(write(tmp_path, ""))
    with pytest.raises(rlemask.LabelsFileError, match="no rle column"):
        rlemask.inspect_labels(write(tmp_path, "fname,fold\na,1\n"))


# file -> (layout, format, problem kinds); the real files' problems were checked by hand
REAL = {
    "siim/train-rle-sample.asuiu.csv": ("single", "siim", {"bom"}),
    "siim/train-rle-sample.jonnoftw.csv": ("single", "siim", {"bom"}),
    "siim/stage1_sample_submission.csv": ("single", None, {"duplicate-row"}),
    "siim/stage1_submission_asuiu_kaggle1.csv.gz": ("single", "siim",
                                                    {"duplicate-row", "overlapping-objects"}),
    "siim/stage2_sample_submission.csv": ("single", None, set()),
    "siim/train-rle.stage1.csv.gz": ("single", "siim", {"overlapping-objects"}),
    "severstal/test_pseudo_labels_khornlund.csv": ("wide", "kaggle", set()),
    "airbus/train_ship_segmentations_v2.sample.csv": ("single", "kaggle", set()),
    "uw-madison/submission_predicted_azkalot1.csv": ("long", "kaggle", set()),
    "dsb2018/stage1_sample_submission.csv": ("single", None, {"placeholder"}),
    "dsb2018/stage1_submission_jessecambon.csv": ("single", "kaggle", set()),
    "hubmap-kidney/submission_empty_optimox.csv": ("single", None, set()),
    "dsb2018/stage1_submission_jessecambon.merge-conflict.csv": (
        "single", "kaggle", {"merge-conflict", "overlapping-objects"}),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_files_layout_format_problems(real_dir, name):
    layout, fmt, problems = REAL[name]
    report = rlemask.inspect_labels(real_dir / name)
    assert (report.layout, report.format, set(report.problem_counts)) == (layout, fmt, problems)


def test_real_merge_conflict_names_its_three_marker_lines(real_dir):
    name = "dsb2018/stage1_submission_jessecambon.merge-conflict.csv"
    report = rlemask.inspect_labels(real_dir / name)
    markers = [p["line"] for p in report.problems if p["kind"] == "merge-conflict"]
    assert markers == [2, 1312, 3327]
    assert report.suggestion.startswith("(resolve the git merge conflict first)")


def test_real_siim_sample_suggests_its_size(real_dir):
    report = rlemask.inspect_labels(real_dir / "siim/train-rle-sample.asuiu.csv")
    assert not report.header and report.bom
    assert report.suggestion.endswith("shape=(1024, 1024))")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rlemask", "inspect", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_cli_inspect(tmp_path):
    p = write(tmp_path, "ImageId,EncodedPixels\na,5 2 9 1 14 3\n<<<<<<< HEAD\n")
    page = _cli(p)
    assert page.returncode == 0, page.stderr
    assert "line 3: merge-conflict" in page.stdout and "format       kaggle" in page.stdout
    as_json = _cli(p, "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["problems"][0]["line"] == 3
    bad = _cli(write(tmp_path, "", "empty.csv"))
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("rlemask inspect: error: ") and "empty file" in bad.stderr
