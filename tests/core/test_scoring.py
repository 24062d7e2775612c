"""``rlemask.score``'s metrics against slow references written from FORMATS.md's definitions.

The references decode every object to a dense mask and compare pixel sets
pair by pair, with IoU thresholds as exact fractions; the library computes
the same on runs, with boxes pruning the pairs.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import directed_hausdorff

import rlemask
from rlemask.field_metrics import MetricResult

H, W = 6, 5
SWEEP = [Fraction(50 + 5 * i, 100) for i in range(10)]


def enc(mask: np.ndarray) -> str:
    return rlemask.encode(mask, format="kaggle")


def instances(label: np.ndarray) -> list[np.ndarray]:
    """One mask per label value > 0 of a label image: objects that never overlap."""
    return [(label == v).astype(np.uint8) for v in np.unique(label) if v > 0]


# ---------------------------------------------------------------- references
def ref_dice(truth: list[np.ndarray], pred: list[np.ndarray], empty: float) -> float:
    t = np.any(truth, axis=0) if truth else np.zeros((H, W), bool)
    p = np.any(pred, axis=0) if pred else np.zeros((H, W), bool)
    if not t.any() and not p.any():
        return empty
    return 2 * (t & p).sum() / (t.sum() + p.sum())


def ref_sweep(truth, pred, value, empty=1.0, thresholds=SWEEP) -> float:
    """Per image: objects matched when IoU > t (unique: objects of a side do not overlap)."""
    if not truth and not pred:
        return empty
    scores = []
    for t in thresholds:
        tp = sum(
            1
            for a in truth
            for b in pred
            if (a & b).sum() and Fraction(int((a & b).sum()), int((a | b).sum())) > t
        )
        scores.append(value(tp, len(pred) - tp, len(truth) - tp))
    return float(np.mean(scores))


def precision(tp, fp, fn):
    return tp / (tp + fp + fn)


def f2(tp, fp, fn):
    return 5 * tp / (5 * tp + 4 * fn + fp)


def label_images(n: int):
    return st.lists(
        st.lists(st.integers(0, 3), min_size=H * W, max_size=H * W).map(
            lambda v: np.array(v).reshape(H, W)
        ),
        min_size=n,
        max_size=n,
    )


# ---------------------------------------------------------------- object sweeps
@settings(max_examples=40, deadline=None)
@given(label_images(3), label_images(3), st.booleans())
def test_iou_and_f2_sweeps_equal_the_reference(truth_labels, pred_labels, geometry):
    truth = {f"i{k}": [enc(m) for m in instances(lab)] for k, lab in enumerate(truth_labels)}
    pred = {f"i{k}": [enc(m) for m in instances(lab)] for k, lab in enumerate(pred_labels)}
    shape = (H, W) if geometry else None  # None: IoU on the linear runs, spans as boxes
    for metric, value in (("iou-sweep", precision), ("f2-sweep", f2)):
        report = rlemask.score(pred, truth, metric=metric, format="kaggle", shape=shape)
        expected = [
            ref_sweep(instances(t), instances(p), value)
            for t, p in zip(truth_labels, pred_labels, strict=True)
        ]
        assert [r["score"] for r in report.per_image] == pytest.approx(expected)
        assert report.score == pytest.approx(np.mean(expected))


@settings(max_examples=25, deadline=None)
@given(label_images(1), st.integers(0, 2**32 - 1))
def test_sweep_of_perturbed_objects_equals_the_reference(labels, seed):
    """A submission whose objects grow or shrink by a pixel: IoUs near every threshold."""
    rng = np.random.default_rng(seed)
    truth_objs = instances(labels[0])
    pred_objs = []
    for m in truth_objs:
        p = m.copy()
        flat = p.reshape(-1)
        flat[rng.integers(0, flat.size)] = rng.integers(0, 2)
        pred_objs.append(p)
    # keep the submission's objects disjoint, as the instance competitions require
    seen = np.zeros((H, W), bool)
    for p in pred_objs:
        p &= ~seen
        seen |= p.astype(bool)
    pred_objs = [p for p in pred_objs if p.any()]
    truth = {"a": [enc(m) for m in truth_objs]}
    pred = {"a": [enc(m) for m in pred_objs]}
    report = rlemask.score(pred, truth, metric="iou-sweep", format="kaggle", shape=(H, W))
    assert report.score == pytest.approx(ref_sweep(truth_objs, pred_objs, precision))


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        ("1 2", 0.0),  # IoU exactly 1/2: no match at 0.5 (IoU must exceed the threshold)
        ("1 3", 0.5),  # IoU 3/4: matched at 0.50 ... 0.70, not at 0.75
        ("1 4", 1.0),
    ],
)
def test_threshold_edges_are_exact(pred, expected):
    report = rlemask.score({"a": [pred]}, {"a": ["1 4"]}, metric="iou-sweep", format="kaggle")
    assert report.score == expected


def test_iou_of_exactly_0_55_is_matched_only_at_0_5():
    # 11 of 20 pixels: IoU 11/20, which the nearest double of 0.55 would blur
    report = rlemask.score({"a": ["1 11"]}, {"a": ["1 20"]}, metric="iou-sweep",
                           format="kaggle")
    assert report.score == pytest.approx(0.1)
    assert report.per_image[0]["tp"] == 1


def test_f2_counts_false_positives_once_and_false_negatives_four_times():
    truth = {"a": ["1 4", "20 4"]}
    pred = {"a": ["1 4", "40 2"]}  # one hit, one miss, one false alarm
    r = rlemask.score(pred, truth, metric="f2-sweep", format="kaggle")
    assert r.score == pytest.approx(5 / (5 + 4 + 1))
    row = r.per_image[0]
    assert (row["tp"], row["fp"], row["fn"]) == (1, 1, 1)


@pytest.mark.parametrize("metric", ["iou-sweep", "f2-sweep"])
@pytest.mark.parametrize(("empty", "both_empty"), [(1.0, 1.0), (0.0, 0.0), ("skip", None)])
def test_sweep_empty_rules(metric, empty, both_empty):
    truth = {"both": [], "fp": [], "fn": ["1 3"]}
    pred = {"both": [], "fp": ["1 3"], "fn": []}
    r = rlemask.score(pred, truth, metric=metric, format="kaggle", empty=empty)
    rows = {row["image_id"]: row["score"] for row in r.per_image}
    assert rows["fp"] == 0.0 and rows["fn"] == 0.0  # truth empty + prediction = 0
    if both_empty is None:
        assert math.isnan(rows["both"]) and r.score == 0.0
    else:
        assert rows["both"] == both_empty
    assert r.options["empty"] == empty


def test_matching_skips_pairs_whose_boxes_do_not_overlap():
    # two objects side by side in one column-major line range, far apart as boxes
    truth = {"a": ["1 2"]}  # column 0, rows 0-1 of a 4 x 4 image
    pred = {"a": ["15 2"]}  # column 3, rows 2-3
    from rlemask.score_pairs import ScorePairs

    pairs = ScorePairs([("a", None)], [truth["a"]], [pred["a"]], shapes=[(4, 4)])
    assert pairs.match([(1, 2)])["compared"] == 0
    overlapping = ScorePairs([("a", None)], [["1 2"]], [["2 2"]], shapes=[(4, 4)])
    assert overlapping.match([(1, 2)])["compared"] == 1


# ---------------------------------------------------------------- Dice family
masks_of_image = st.lists(
    st.lists(st.booleans(), min_size=H * W, max_size=H * W).map(
        lambda v: np.array(v, np.uint8).reshape(H, W)
    ),
    max_size=3,
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(masks_of_image, masks_of_image), min_size=1, max_size=4),
       st.sampled_from([1.0, 0.0, "skip"]))
def test_dice_and_global_dice_equal_the_reference(images, empty):
    """Rows of one image may overlap (SIIM regions): they are OR-ed."""
    truth = {f"i{k}": [enc(m) for m in t if m.any()] for k, (t, _) in enumerate(images)}
    pred = {f"i{k}": [enc(m) for m in p if m.any()] for k, (_, p) in enumerate(images)}
    rule = math.nan if empty == "skip" else empty
    expected = [ref_dice(t, p, rule) for t, p in images]
    r = rlemask.score(pred, truth, metric="dice", format="kaggle", empty=empty)
    assert [row["score"] for row in r.per_image] == pytest.approx(expected, nan_ok=True)
    kept = [e for e in expected if not math.isnan(e)]
    assert r.score == pytest.approx(np.mean(kept) if kept else math.nan, nan_ok=True)

    t_all = np.array([np.any(t, axis=0) if t else np.zeros((H, W), bool) for t, _ in images])
    p_all = np.array([np.any(p, axis=0) if p else np.zeros((H, W), bool) for _, p in images])
    total = t_all.sum() + p_all.sum()
    pooled = 2 * (t_all & p_all).sum() / total if total else rule
    g = rlemask.score(pred, truth, metric="global-dice", format="kaggle", empty=empty)
    assert g.score == pytest.approx(pooled, nan_ok=True)


def _long_frame(rows):
    return pd.DataFrame(rows, columns=["id", "class", "predicted"])


@pytest.mark.parametrize("empty", [1.0, 0.0, "skip"])
def test_class_dice_is_the_mean_over_image_class_pairs(empty):
    rng = np.random.default_rng(7)
    classes = ["x", "y"]
    t_rows, p_rows, expected = [], [], []
    rule = math.nan if empty == "skip" else empty
    for i in range(6):
        for c in classes:
            t = (rng.random((H, W)) < rng.choice([0, 0.3])).astype(np.uint8)
            p = (rng.random((H, W)) < rng.choice([0, 0.3])).astype(np.uint8)
            t_rows.append((f"im{i}", c, enc(t)))
            p_rows.append((f"im{i}", c, enc(p)))
            expected.append(ref_dice([t], [p], rule))
    r = rlemask.score(_long_frame(p_rows), _long_frame(t_rows), metric="class-dice",
                      format="kaggle", empty=empty)
    assert [row["score"] for row in r.per_image] == pytest.approx(expected, nan_ok=True)
    assert [(row["image_id"], row["class"]) for row in r.per_image][:2] == [
        ("im0", "x"), ("im0", "y")
    ]
    kept = [e for e in expected if not math.isnan(e)]
    assert r.score == pytest.approx(np.mean(kept))
    assert set(r.per_class) == {"x", "y"}
    assert r.per_class["x"]["score"] == pytest.approx(
        np.nanmean(expected[0::2]) if empty == "skip" else np.mean(expected[0::2])
    )


# ---------------------------------------------------------------- Dice + Hausdorff
def ref_hausdorff(a: np.ndarray, b: np.ndarray) -> float:
    """The grader's definition: normalised coordinates, symmetric, over sqrt(3)."""
    if not a.any() and not b.any():
        return math.nan
    if not a.any() or not b.any():
        return 1.0
    scale = np.array(a.shape, float)
    pa, pb = np.argwhere(a) / scale, np.argwhere(b) / scale
    d = max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])
    return d / math.sqrt(3)


@pytest.mark.parametrize("classes", ["each", "union"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dice_hausdorff_equals_the_reference(classes, seed):
    rng = np.random.default_rng(seed)
    names = ["stomach", "small_bowel"]
    t_rows, p_rows, dices = [], [], []
    vol = {side: {} for side in ("t", "p")}
    for case in ("case1_day1", "case2_day3"):
        for z in range(3):
            sid = f"{case}_slice_{z + 1:04d}"
            for c in names:
                t = (rng.random((H, W)) < rng.choice([0, 0.2, 0.5])).astype(np.uint8)
                p = (rng.random((H, W)) < rng.choice([0, 0.2, 0.5])).astype(np.uint8)
                t_rows.append((sid, c, enc(t)))
                p_rows.append((sid, c, enc(p)))
                dices.append(ref_dice([t], [p], math.nan))
                key = (case, c if classes == "each" else None)
                for side, m in (("t", t), ("p", p)):
                    vol[side].setdefault(key, np.zeros((3, H, W), bool))[z] |= m.astype(bool)
    hd = [ref_hausdorff(vol["t"][k], vol["p"][k]) for k in vol["t"]]
    expected = 0.4 * np.nanmean(dices) + 0.6 * (1 - np.nanmean(hd))
    r = rlemask.score(_long_frame(p_rows), _long_frame(t_rows), metric="dice-hausdorff",
                      format="kaggle", shape=(H, W), classes=classes)
    assert r.score == pytest.approx(expected)
    assert r.options["empty"] == "skip" and r.options["classes"] == classes
    assert r.extra["hausdorff"] == pytest.approx(np.nanmean(hd))


def test_dice_hausdorff_needs_a_shape_and_a_volume_pattern():
    truth = _long_frame([("case1_day1_slice_0001", "a", "1 2")])
    with pytest.raises(ValueError, match="needs each image's shape"):
        rlemask.score(truth, truth, metric="dice-hausdorff", format="kaggle")
    odd = _long_frame([("scan7", "a", "1 2")])
    with pytest.raises(ValueError, match="caseN_dayM_slice_K"):
        rlemask.score(odd, odd, metric="dice-hausdorff", format="kaggle", shape=(H, W))
    r = rlemask.score(odd, odd, metric="dice-hausdorff", format="kaggle", shape=(H, W),
                      volume=lambda image_id: image_id)
    assert r.score == 1.0


# ---------------------------------------------------------------- report, registry
def test_report_follows_the_contract():
    truth = {"a": ["1 4"], "b": [], "c": ["10 2"]}
    pred = {"a": ["1 2"], "b": ["5 1"], "x": ["1 1"]}
    r = rlemask.score(pred, truth, format="kaggle")
    assert r.metric == "dice" and r.options == {"empty": 1.0} and r.n_images == 3
    assert r.all_empty_baseline == pytest.approx(1 / 3)
    assert r.positive_only == pytest.approx((2 * 2 / 6 + 0) / 2)
    assert r.per_class == {}
    assert set(r.per_image[0]) == {
        "image_id", "class", "score", "truth_area", "pred_area", "tp", "fp", "fn"
    }
    assert r.missing_in_submission == ["c"] and r.extra_in_submission == ["x"]
    data = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert data["per_image"][1] == {
        "image_id": "b", "class": None, "score": 0.0, "truth_area": 0, "pred_area": 1,
        "tp": None, "fp": None, "fn": None,
    }
    text = str(r)
    assert "all-empty baseline" in text and "0.3333" in text and "empty=1.0" in text


def test_shape_is_checked_when_given_and_errors_name_the_image():
    with pytest.raises(rlemask.RLEError, match="truth, image 'a'.*past the last pixel"):
        rlemask.score({"a": ["1 2"]}, {"a": ["1 40"]}, format="kaggle", shape=(4, 4))
    with pytest.raises(rlemask.RLEError, match="submission, image 'a'.*'x'"):
        rlemask.score({"a": ["1 x"]}, {"a": ["1 4"]}, format="kaggle")


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="available metrics: class-dice, dice"):
        rlemask.score({"a": []}, {"a": []}, metric="nope")
    with pytest.raises(ValueError, match="known: airbus-ship-detection"):
        rlemask.score({"a": []}, {"a": []}, competition="nope")
    with pytest.raises(TypeError):
        rlemask.score({"a": []}, {"a": []}, metric="iou-sweep", tresholds=[0.5])
    with pytest.raises(ValueError, match="share no image id"):
        rlemask.score({"b": []}, {"a": []})


def test_register_metric_and_entry_points(monkeypatch):
    from rlemask import metric_registry

    def truth_objects(pairs):
        return MetricResult(float(pairs.n_objects(0)), [], {})

    rlemask.register_metric("test-truth-objects", truth_objects, replace=True)
    assert "test-truth-objects" in rlemask.metrics()
    assert rlemask.score({"a": []}, {"a": ["1 1", "3 1"]}, metric="test-truth-objects",
                         format="kaggle").score == 2.0
    with pytest.raises(ValueError, match="already registered"):
        rlemask.register_metric("dice", truth_objects)
    with pytest.raises(TypeError, match="must be callable"):
        rlemask.register_metric("test-bad", 3)

    class EntryPoint:
        name = "test-from-plugin"

        def load(self):
            return truth_objects

    monkeypatch.setattr(metric_registry._METRICS, "_entry_points",
                        {"test-from-plugin": EntryPoint()})
    assert "test-from-plugin" in rlemask.metrics()
    assert metric_registry.get_metric("test-from-plugin") is truth_objects


def test_metrics_survives_the_import_of_the_metrics_module():
    import rlemask.metrics  # noqa: F401  (the module of dice/iou)

    assert rlemask.dice(np.ones((2, 2)), np.ones((2, 2))) == 1.0
    assert "dice" in rlemask.metrics()


def test_the_nine_competitions():
    names = rlemask.competitions()
    assert len(names) == 9
    for name in names:
        c = rlemask.competition(name)
        assert c.name == name and c.metric in rlemask.metrics()
        assert c.layout in ("single", "long", "wide") and c.format in ("siim", "kaggle")
        assert "empty" in c.options and c.empty_rule
    contrails = "google-research-identify-contrails-reduce-global-warming"
    assert rlemask.competition(contrails).empty == "-"
    assert rlemask.competition("severstal-steel-defect-detection").classes == ("1", "2", "3", "4")


def test_competition_fixes_metric_options_and_shape():
    truth = {"a": ["1 4"], "b": []}
    pred = {"a": ["1 3"], "b": []}
    r = rlemask.score(pred, truth, competition="tgs-salt-identification-challenge")
    assert r.metric == "iou-sweep" and r.shape == (101, 101)
    assert r.score == pytest.approx((0.5 + 1.0) / 2)
    assert r.competition == "tgs-salt-identification-challenge"
    contrails = "google-research-identify-contrails-reduce-global-warming"
    g = rlemask.score({"a": ["-"]}, {"a": ["-"]}, competition=contrails)
    assert g.metric == "global-dice" and g.score == 1.0


def test_each_side_in_its_own_layout():
    """Severstal: the re-release truth (long, defect rows only) against a v1 submission (wide)."""
    truth = pd.DataFrame({"ImageId": ["a.jpg", "a.jpg", "b.jpg"], "ClassId": [1, 3, 2],
                          "EncodedPixels": ["1 10", "20 5", "5 5"]})
    sub = pd.DataFrame({
        "ImageId_ClassId": [f"{i}_{c}" for i in ("a.jpg", "b.jpg") for c in range(1, 5)],
        "EncodedPixels": ["1 10", "", "20 4", "", "", "5 5", "", "7 1"],
    })
    r = rlemask.score(sub, truth, competition="severstal-steel-defect-detection")
    scores = {(row["image_id"], row["class"]): row["score"] for row in r.per_image}
    assert len(scores) == 8  # every image x the competition's four classes
    assert scores[("a.jpg", "3")] == pytest.approx(2 * 4 / 9)
    assert scores[("b.jpg", "4")] == 0.0 and scores[("a.jpg", "2")] == 1.0
    assert r.score == pytest.approx((1 + 1 + 8 / 9 + 1 + 1 + 1 + 1 + 0) / 8)


def test_sides_of_two_scan_orders_are_refused():
    frame = pd.DataFrame({"ImageId": ["a"], "EncodedPixels": ["1 2"]})
    row_major = rlemask.read_labels(frame, format="kaggle", order="C")
    col_major = rlemask.read_labels(frame, format="kaggle")
    with pytest.raises(ValueError, match="order 'C' .* in 'F'"):
        rlemask.score(col_major, row_major)
    assert rlemask.score(row_major, row_major).score == 1.0


def test_an_undecided_format_is_an_error_not_a_guess():
    # "1 2" is pixels 1-2 as siim, 0-1 as kaggle: nothing in the text decides
    with pytest.raises(ValueError, match="format of the truth is undecided.*truth_format="):
        rlemask.score({"a": ["1 2"]}, {"a": ["1 2"]})
    frame = pd.DataFrame({"ImageId": ["a"], "EncodedPixels": ["1 2"]})
    with pytest.raises(ValueError, match="undecided"):
        rlemask.score(frame, frame)
    assert rlemask.score(frame, frame, format="siim").score == 1.0
    assert rlemask.score({"a": []}, {"a": []}).score == 1.0  # nothing to read


def test_the_scoring_page_examples_run():
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "scoring.md"
    result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.ELLIPSIS,
                              raise_on_error=False, verbose=False)
    assert result.attempted > 10 and result.failed == 0
