"""``rlemask.check_submission`` and ``rlemask check``: each kind of problem, and the real files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rlemask
from rlemask.submission import check_rle

AIRBUS = "airbus-ship-detection"
TGS = "tgs-salt-identification-challenge"


def found(tmp_path, text, competition=None, sample=None, name="sub.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return [(p["line"], p["id"], p["kind"])
            for p in rlemask.check_submission(path, competition=competition, sample=sample)]


@pytest.mark.parametrize(
    ("row", "kind"),
    [
        ("a.jpg,1 x", "bad-token"),
        ("a.jpg,1 -2", "bad-token"),
        ("a.jpg,1 2 5", "odd-count"),
        ("a.jpg,0 2", "bad-start"),
        ("a.jpg,1 0", "zero-length"),
        ("a.jpg,9 2 3 1", "unsorted-runs"),
        ("a.jpg,1 5 3 1", "overlapping-runs"),
        (f"a.jpg,{768 * 768} 2", "outside-image"),
        ("a.jpg,1 2,3", "wrong-columns"),
    ],
)
def test_each_rle_problem_names_line_and_id(tmp_path, row, kind):
    assert found(tmp_path, f"ImageId,EncodedPixels\nb.jpg,1 2\n{row}\n", AIRBUS) == [
        (3, "a.jpg", kind)
    ]


def test_a_run_ending_on_the_last_pixel_fits(tmp_path):
    assert found(tmp_path, f"ImageId,EncodedPixels\na.jpg,{768 * 768 - 1} 2\n", AIRBUS) == []


def test_overlapping_objects_of_one_image(tmp_path):
    text = "ImageId,EncodedPixels\na.jpg,1 4\nb.jpg,3 3\na.jpg,10 2\na.jpg,4 2\n"
    assert found(tmp_path, text, AIRBUS) == [(5, "a.jpg", "overlapping-objects")]
    # one row per image (TGS): rows of other images never overlap each other
    assert found(tmp_path, "id,rle_mask\na,1 4\nb,3 3\n", TGS) == []


def test_duplicate_rows_where_one_is_expected(tmp_path):
    text = "id,rle_mask\na,1 4\nb,\na,\n"
    assert found(tmp_path, text, TGS) == [(4, "a", "duplicate-row")]
    # SIIM: several rows per image are regions, not duplicates
    siim = "ImageId,EncodedPixels\na,1 4\na,-1\n"
    assert found(tmp_path, siim, "siim-acr-pneumothorax-segmentation") == []


def test_header_bom_and_merge_markers(tmp_path):
    text = b"\xef\xbb\xbfImageId,Pixels\n<<<<<<< HEAD\na.jpg,1 2\n=======\n>>>>>>> 1f2e\n"
    assert found(tmp_path, text, AIRBUS) == [
        (1, None, "bom"), (1, None, "header"), (2, None, "merge-conflict"),
        (4, None, "merge-conflict"), (5, None, "merge-conflict"),
    ]


def test_ids_missing_from_or_extra_to_the_sample(tmp_path):
    sample = tmp_path / "sample.csv"
    sample.write_text("id,rle_mask\na,1 1\nb,1 1\nc,1 1\n")
    text = "id,rle_mask\na,1 4\nc,\nz,\n"
    assert found(tmp_path, text, TGS, sample) == [(4, "z", "extra-id"), (None, "b", "missing-id")]


def test_a_siim_submission_without_a_competition_is_read_in_its_own_convention(tmp_path):
    # relative offsets that a Kaggle reading would call unsorted starts
    text = "ImageId,EncodedPixels\na,10 5 2 3 1 1\nb,-1\nc,5 1 3 2\n"
    assert found(tmp_path, text) == []
    assert [k for _, _, k in found(tmp_path, text + "d,1 2 3\n")] == ["odd-count"]
    assert found(tmp_path, text, "siim-acr-pneumothorax-segmentation") == []


def test_real_merge_conflict_copy_of_dsb(real_dir):
    path = real_dir / "dsb2018" / "stage1_submission_jessecambon.merge-conflict.csv"
    problems = rlemask.check_submission(path)
    assert [(p["line"], p["kind"]) for p in problems] == [
        (2, "merge-conflict"), (1312, "merge-conflict"), (3327, "merge-conflict")
    ]
    # as the DSB's grader sees it: both sides of the conflict hold the same nuclei
    strict = rlemask.check_submission(path, competition="data-science-bowl-2018")
    assert {p["kind"] for p in strict} == {"merge-conflict", "overlapping-objects"}


@pytest.mark.parametrize(
    ("name", "competition", "sample"),
    [
        ("siim/stage1_sample_submission.csv", "siim-acr-pneumothorax-segmentation", None),
        ("siim/stage2_sample_submission.csv", "siim-acr-pneumothorax-segmentation", None),
        ("dsb2018/stage1_sample_submission.csv", "data-science-bowl-2018",
         "dsb2018/stage1_sample_submission.csv"),
        ("dsb2018/stage1_submission_jessecambon.csv", "data-science-bowl-2018",
         "dsb2018/stage1_sample_submission.csv"),
        ("hubmap-kidney/submission_empty_optimox.csv", "hubmap-kidney-segmentation", None),
        ("airbus/train_ship_segmentations_v2.sample.csv", AIRBUS, None),
        ("severstal/test_pseudo_labels_khornlund.csv", "severstal-steel-defect-detection", None),
        ("uw-madison/submission_predicted_azkalot1.csv",
         "uw-madison-gi-tract-image-segmentation", None),
    ],
)
def test_real_files_pass(real_dir, name, competition, sample):
    sample_path = None if sample is None else real_dir / sample
    assert rlemask.check_submission(real_dir / name, competition=competition,
                                    sample=sample_path) == []


def test_check_command(real_dir):
    path = real_dir / "dsb2018" / "stage1_submission_jessecambon.merge-conflict.csv"
    bad = subprocess.run([sys.executable, "-m", "rlemask", "check", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1, bad.stderr
    lines = bad.stdout.splitlines()
    assert [line.split(":")[:2] for line in lines] == [
        ["line 2", " merge-conflict"], ["line 1312", " merge-conflict"],
        ["line 3327", " merge-conflict"],
    ]
    assert "'<<<<<<< HEAD': a git merge-conflict marker" in lines[0]
    good = subprocess.run(
        [sys.executable, "-m", "rlemask", "check",
         str(real_dir / "dsb2018" / "stage1_submission_jessecambon.csv"),
         "--competition", "data-science-bowl-2018",
         "--sample", str(real_dir / "dsb2018" / "stage1_sample_submission.csv")],
        capture_output=True, text=True, timeout=120,
    )
    assert (good.returncode, good.stdout) == (0, "ok\n"), good.stderr


tokens = st.lists(st.one_of(st.integers(-2, 30), st.sampled_from(["x", "1.5"])), max_size=8)


@settings(max_examples=200, deadline=None)
@given(tokens, st.sampled_from(["kaggle", "siim"]))
def test_check_rle_flags_exactly_what_the_codec_refuses(values, fmt):
    """The reference: rlemask's own parser, which raises RLEError on every defect."""
    text = " ".join(map(str, values))
    if not text:
        return
    problem = check_rle(text, fmt, 30)
    try:
        rlemask.decode(text, (6, 5), format=fmt)
        refused = False
    except rlemask.RLEError:
        refused = True
    if text.strip() == "-1":  # an empty marker, read as empty by the codec
        return
    assert isinstance(problem[0], str) == refused, (text, problem)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=30, max_size=30), min_size=2, max_size=4))
def test_overlapping_objects_equal_a_dense_reference(objects):
    masks = [np.array(m, bool).reshape(6, 5) for m in objects if any(m)]
    rows = "".join(f"a.jpg,{rlemask.encode(m, format='kaggle')}\n" for m in masks)
    path_rows = "ImageId,EncodedPixels\n" + rows
    expected = {
        j + 2  # the later row's line
        for j in range(len(masks))
        if any((masks[i] & masks[j]).any() for i in range(j))
    }
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "sub.csv"
        path.write_text(path_rows)
        got = {p["line"] for p in rlemask.check_submission(path, competition=AIRBUS)}
    assert got == expected
