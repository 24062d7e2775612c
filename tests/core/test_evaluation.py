"""evaluate / EvalReport on hand-built CSVs with known answers, and against dense Dice."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import reference_geometry as ref
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rlemask

pytestmark = pytest.mark.kernels

SHAPE = (6, 5)
# FORMATS.md example: 6 pixels, column-major 0-based pixels 1, 2, 10, 18, 19, 29
EXAMPLE = "1 2 7 1 7 2 9 1"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def csvs(tmp_path):
    # stage-1 spelling (space after the comma, " -1"), a duplicate row, two rows for "a"
    truth = write(
        tmp_path / "truth.csv",
        f"ImageId, EncodedPixels\na, {EXAMPLE}\na, 20 2\nb, -1\nc, 0 4\nc, 0 4\nd, -1\n",
    )
    # stage-2 spelling; "c" missing, "x" extra, "d" a false positive
    pred = write(
        tmp_path / "pred.csv",
        "ImageId,EncodedPixels\na,1 2 7 1\nb,-1\nd,3 1\nx,0 1\n",
    )
    return pred, truth


def test_known_answer_from_csvs(csvs):
    pred, truth = csvs
    report = rlemask.evaluate(pred, truth, shape=SHAPE)
    # a: truth {1,2,10,18,19,29} | {20,21} = 8 px, pred {1,2,10} = 3 px, all inside: 2*3/11
    # b: both empty -> 1;  c: truth 4 px, missing -> 0;  d: empty truth, 1 px predicted -> 0
    dice_a = 6 / 11
    assert [(r.id, r.truth_area, r.pred_area) for r in report.per_image] == [
        ("a", 8, 3),
        ("b", 0, 0),
        ("c", 4, 0),
        ("d", 0, 1),
    ]
    assert [r.dice for r in report.per_image] == pytest.approx([dice_a, 1.0, 0.0, 0.0])
    assert report.mean_dice == pytest.approx((dice_a + 1.0) / 4)
    assert report.dice_positive == pytest.approx(dice_a / 2)
    assert report.empty_accuracy == 0.5
    assert report.positive_detected == 0.5
    assert report.all_empty_baseline == 0.5
    assert (report.n_images, report.n_positive, report.n_empty) == (4, 2, 2)
    assert report.missing_in_predictions == ["c"]
    assert report.extra_in_predictions == ["x"]
    assert [r.truth_empty for r in report.per_image] == [False, True, False, True]
    assert [r.pred_empty for r in report.per_image] == [False, True, True, False]


def test_paths_as_str_and_pathlike_and_mappings_agree(csvs):
    pred, truth = csvs
    by_path = rlemask.evaluate(pred, truth, shape=SHAPE)
    by_str = rlemask.evaluate(str(pred), str(truth), shape=SHAPE)
    by_map = rlemask.evaluate(
        {"a": "1 2 7 1", "b": None, "d": ["3 1"], "x": ["0 1"]},
        {"a": [EXAMPLE, "20 2"], "b": [], "c": ["0 4", "0 4"], "d": ["-1"]},
        shape=SHAPE,
    )
    assert by_path.to_dict() == by_str.to_dict() == by_map.to_dict()


def test_duplicate_rows_do_not_change_the_score(tmp_path):
    once = write(tmp_path / "once.csv", f"ImageId,EncodedPixels\na,{EXAMPLE}\n")
    twice = write(tmp_path / "twice.csv", f"ImageId,EncodedPixels\na,{EXAMPLE}\na,{EXAMPLE}\n")
    pred = {"a": ["1 2"]}
    r1 = rlemask.evaluate(pred, once, shape=SHAPE)
    r2 = rlemask.evaluate(pred, twice, shape=SHAPE)
    assert r1.mean_dice == r2.mean_dice == pytest.approx(2 * 2 / (2 + 6))
    assert r2.per_image[0].truth_area == 6


def test_all_missing_but_one_and_all_empty_baseline():
    truth = {"a": [], "b": [], "c": [], "d": ["0 3"]}
    report = rlemask.evaluate({"a": []}, truth, shape=SHAPE)
    assert report.missing_in_predictions == ["b", "c", "d"]
    # nothing predicted anywhere: the score is the all-empty baseline
    assert report.mean_dice == report.all_empty_baseline == 0.75
    assert report.dice_positive == 0.0 and report.empty_accuracy == 1.0


def test_no_positive_images_gives_nan_and_json_null():
    report = rlemask.evaluate({"a": []}, {"a": []}, shape=SHAPE)
    assert report.mean_dice == 1.0
    assert math.isnan(report.dice_positive) and math.isnan(report.positive_detected)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["dice_positive"] is None
    assert "n/a" in report.to_markdown()


def test_no_overlap_is_an_error(tmp_path):
    truth = write(tmp_path / "t.csv", "ImageId,EncodedPixels\na,-1\nb,0 1\n")
    pred = write(tmp_path / "p.csv", "ImageId,EncodedPixels\nx,-1\n")
    with pytest.raises(ValueError, match=r"share no image id.*2 ids \(e.g. 'a'\).*\(e.g. 'x'\)"):
        rlemask.evaluate(pred, truth, shape=SHAPE)
    with pytest.raises(ValueError, match="share no image id"):
        rlemask.evaluate({}, {"a": []}, shape=SHAPE)
    with pytest.raises(ValueError, match="holds no images"):
        rlemask.evaluate({"a": []}, {}, shape=SHAPE)


def test_bad_input_is_named():
    with pytest.raises(rlemask.RLEError, match=r"predictions, image 'a':"):
        rlemask.evaluate({"a": ["1 2 3"]}, {"a": []}, shape=SHAPE)
    with pytest.raises(rlemask.RLEError, match=r"truth, image 'a':.*past"):
        rlemask.evaluate({"a": []}, {"a": ["25 10"]}, shape=SHAPE)
    with pytest.raises(ValueError, match=r"`shape` must be .*received shape=\(0, 5\)"):
        rlemask.evaluate({"a": []}, {"a": []}, shape=(0, 5))
    with pytest.raises(ValueError, match=r"unknown RLE format 'nope'"):
        rlemask.evaluate({"a": []}, {"a": []}, format="nope")
    with pytest.raises(TypeError, match=r"`truth` must be a mapping"):
        rlemask.evaluate({"a": []}, [("a", [])])


def test_malformed_csv_names_the_file(tmp_path):
    bad = write(tmp_path / "bad.csv", "ImageId,EncodedPixels\na,1 x\n")
    with pytest.raises(rlemask.LabelsFileError, match=r"bad.csv, line 2"):
        rlemask.evaluate({"a": []}, bad, shape=SHAPE)


def test_kaggle_format():
    truth = {"a": ["2 2 11 1 19 2 30 1"]}  # the same example, kaggle spelling
    report = rlemask.evaluate({"a": ["2 2"]}, truth, shape=SHAPE, format="kaggle")
    assert report.mean_dice == pytest.approx(2 * 2 / 8)
    assert report.format == "kaggle"


def test_runs_values_are_accepted():
    truth = rlemask.Runs.from_text(EXAMPLE, SHAPE)
    report = rlemask.evaluate({"a": [truth]}, {"a": [EXAMPLE]}, shape=SHAPE)
    assert report.mean_dice == 1.0
    row_major = rlemask.Runs.from_mask(rlemask.decode("1 2", SHAPE), order="C")
    report = rlemask.evaluate({"a": [row_major]}, {"a": [EXAMPLE]}, shape=SHAPE)
    assert report.mean_dice == pytest.approx(2 * 2 / (2 + 6))
    with pytest.raises(ValueError, match=r"Runs of shape \(6, 5\), expected \(5, 6\)"):
        rlemask.evaluate({"a": [truth]}, {"a": []}, shape=(5, 6))


def test_report_text_markdown_and_dict(csvs):
    pred, truth = csvs
    report = rlemask.evaluate(pred, truth, shape=SHAPE)
    text = str(report)
    for needle in (
        "competition score (mean Dice)  0.3864",
        "all-empty baseline             0.5000",
        "Dice on positive images        0.2727",
        "missing in predictions (scored as empty): 1: c",
        "extra in predictions (not scored): 1: x",
        "lowest Dice",
    ):
        assert needle in text
    md = report.to_markdown()
    assert "| competition score (mean Dice) | 0.3864 |" in md
    assert "| c | 0.0000 | 4 | 0 |" in md
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["per_image"][0] == {
        "id": "a",
        "dice": pytest.approx(6 / 11),
        "truth_area": 8,
        "pred_area": 3,
        "truth_empty": False,
        "pred_empty": False,
    }
    assert data["shape"] == [6, 5] and len(data["per_image"]) == 4
    assert "per_image" not in repr(report)  # the table stays out of the repr


@st.composite
def data_sets(draw):
    h = draw(st.integers(1, 8))
    w = draw(st.integers(1, 8))
    n = draw(st.integers(1, 6))
    masks = st.lists(arrays(np.uint8, (h, w), elements=st.integers(0, 1)), min_size=0, max_size=3)
    truth = {f"id{i}": draw(masks) for i in range(n)}
    pred = {f"id{i}": draw(masks) for i in range(n) if draw(st.booleans()) or i == 0}
    return (h, w), pred, truth


@given(data_sets())
def test_evaluate_matches_dense_dice(data):
    shape, pred, truth = data

    def union(masks):
        out = np.zeros(shape, np.uint8)
        for m in masks:
            out |= m
        return out

    as_text = {k: [rlemask.encode(m) for m in v] for k, v in pred.items()}
    truth_text = {k: [rlemask.encode(m) for m in v] for k, v in truth.items()}
    report = rlemask.evaluate(as_text, truth_text, shape=shape)
    expected = [ref.dice(union(pred.get(k, [])), union(v)) for k, v in truth.items()]
    assert [r.dice for r in report.per_image] == pytest.approx(expected, abs=1e-12)
    assert report.mean_dice == pytest.approx(np.mean(expected), abs=1e-12)
    assert report.missing_in_predictions == [k for k in truth if k not in pred]


def _blob_masks(n: int, size: int, seed: int) -> list[np.ndarray]:
    """``n`` masks with one rectangle each, spread over the whole image."""
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(n):
        m = np.zeros((size, size), np.uint8)
        y, x = rng.integers(0, size * 3 // 4, 2)
        h, w = rng.integers(size // 8, size // 4, 2)
        m[y : y + h, x : x + w] = 1
        masks.append(m)
    return masks


@pytest.mark.parametrize("factor", [2, 4])
def test_predictions_encoded_at_a_smaller_size_give_a_warning(factor):
    size = 64
    truths = _blob_masks(12, size, seed=factor)
    for m in truths[:6]:  # half the truths reach the right half of the image
        m[:, -4:] = 1
    truth = {f"i{k}": [rlemask.encode(m)] for k, m in enumerate(truths)}
    small = {
        f"i{k}": [rlemask.encode(rlemask.resize_mask(m, size // factor))]
        for k, m in enumerate(truths)
    }
    with pytest.warns(UserWarning, match=r"encoded at a smaller mask size than shape=\(64, 64\)"):
        report = rlemask.evaluate(small, truth, shape=(size, size))
    assert len(report.warnings) == 1 and "WARNING" in str(report)
    assert report.to_dict()["warnings"] == report.warnings
    # the same masks at the right size: no warning
    right = {f"i{k}": [rlemask.encode(m)] for k, m in enumerate(truths)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rlemask.evaluate(right, truth, shape=(size, size)).warnings == []
        # too few images to tell: silence
        few = dict(list(small.items())[:5])
        assert rlemask.evaluate(few, truth, shape=(size, size), only_predicted=True).warnings == []


def test_only_predicted_restricts_the_truth():
    truth = {"a": [EXAMPLE], "b": [], "c": ["0 4"]}
    report = rlemask.evaluate({"a": [EXAMPLE], "b": []}, truth, shape=SHAPE, only_predicted=True)
    assert report.n_images == 2 and report.mean_dice == 1.0
    assert report.missing_in_predictions == []
    full = rlemask.evaluate({"a": [EXAMPLE], "b": []}, truth, shape=SHAPE)
    assert full.n_images == 3 and full.missing_in_predictions == ["c"]
    with pytest.raises(ValueError, match="share no image id"):
        rlemask.evaluate({"x": []}, truth, shape=SHAPE, only_predicted=True)


def test_ids_that_collide_as_text_are_refused():
    with pytest.raises(ValueError, match=r"`predictions` has two ids that are both '1' as text"):
        rlemask.evaluate({1: ["0 1"], "1": []}, {"1": ["0 1"]}, shape=SHAPE)
    with pytest.raises(ValueError, match=r"`truth` has two ids"):
        rlemask.evaluate({"1": []}, {"1": ["0 1"], 1: []}, shape=SHAPE)
    # int keys that do not collide are fine and compare as text
    assert rlemask.evaluate({1: ["0 1"]}, {"1": ["0 1"]}, shape=SHAPE).mean_dice == 1.0


@pytest.mark.parametrize("nan", [float("nan"), np.float32("nan"), np.float64("nan"), None])
def test_nan_of_any_type_is_an_empty_mask(nan):
    report = rlemask.evaluate({"a": nan, "b": [nan, "0 1"]}, {"a": [], "b": ["0 1"]}, shape=SHAPE)
    assert report.mean_dice == 1.0
    np.testing.assert_array_equal(rlemask.decode(nan, SHAPE), np.zeros(SHAPE, np.uint8))
    np.testing.assert_array_equal(rlemask.merge([nan, "0 1"], SHAPE), rlemask.decode("0 1", SHAPE))


@pytest.mark.parametrize("shape", [(2**62, 8), (2**40, 2**40)])
def test_shapes_too_large_are_refused_up_front(shape):
    with pytest.raises(rlemask.RLEError, match=r"at most 2\*\*40 pixels"):
        rlemask.evaluate({"a": ["0 1"]}, {"a": ["0 1"]}, shape=shape)


def test_frames_on_both_sides():
    pd = pytest.importorskip("pandas")
    truth = pd.DataFrame({"ImageId": ["a", "a", "b"], " EncodedPixels": [EXAMPLE, "20 2", " -1"]})
    pred = pd.DataFrame({"ImageId": ["a", "b"], "EncodedPixels": ["1 2 7 1", -1]})
    report = rlemask.evaluate(pred, truth, shape=SHAPE)
    assert [(r.id, r.truth_area, r.pred_area) for r in report.per_image] == [
        ("a", 8, 3),
        ("b", 0, 0),
    ]


def _real_stage1(real_dir, n_positive):
    """The first ``n_positive`` positive images of the real SIIM labels and as many empty ones."""
    import gzip

    rows: dict[str, list[str]] = {}
    with gzip.open(real_dir / "siim" / "train-rle.stage1.csv.gz", "rt") as fh:
        next(fh)
        for line in fh:
            image_id, rle = line.rstrip("\n").split(",", 1)
            rows.setdefault(image_id, []).extend([] if rle.strip() == "-1" else [rle.strip()])
    positive = [k for k, v in rows.items() if v][:n_positive]
    empty = [k for k, v in rows.items() if not v][:n_positive]
    return {k: rows[k] for k in positive + empty}


def test_real_labels_encoded_at_256_warn_when_scored_at_1024(real_dir):
    """Issue 19.18: the old rule (half the truths past the middle) never fired on real labels."""
    truth = _real_stage1(real_dir, 400)
    ends = [rlemask.Runs.from_text(v[-1], (1024, 1024)) for v in truth.values() if v]
    past_middle = np.mean([r.starts[-1] + r.lengths[-1] > 1024 * 1024 // 2 for r in ends])
    assert past_middle < 0.5  # what made the old rule stay silent
    small = {
        k: [rlemask.encode(rlemask.resize_mask(rlemask.merge(v, (1024, 1024)), 256))] if v else []
        for k, v in truth.items()
    }
    expected = r"encoded at a smaller mask size than shape=\(1024, 1024\)"
    with pytest.warns(UserWarning, match=expected):
        report = rlemask.evaluate(small, truth)
    assert len(report.warnings) == 1


def test_transposed_predictions_warn(real_dir):
    """Issue 19.18: a mask encoded without its .T reads as the transposed mask: say so."""
    truth = _real_stage1(real_dir, 40)
    transposed = {
        k: [rlemask.encode(np.ascontiguousarray(rlemask.merge(v, (1024, 1024)).T))] if v else []
        for k, v in truth.items()
    }
    with pytest.warns(UserWarning, match=r"far better transposed \(mean Dice 1\.000"):
        rlemask.evaluate(transposed, truth)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rlemask.evaluate(truth, truth).warnings == []
