"""The per-class evaluation of a run on ``labels`` against slow, obvious references.

:func:`score_masks` against Dice per (image, class) computed in loops;
:func:`evaluate_dataset` with a model that sees one pixel at a time against
the same steps by hand (samples, maps back at each image's size, one
exhaustive triplet search per class, the triplet rule, class Dice); the
per-epoch :class:`ValidationScore`; the new ``train`` options' errors, named
by their flags.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import rlemask  # noqa: E402
from rlemask.synthetic_kinds import make_kind  # noqa: E402
from rlemask_keras.callbacks import ValidationScore  # noqa: E402
from rlemask_keras.class_evaluation import evaluate_dataset, rules, score_masks  # noqa: E402
from rlemask_keras.cli import main  # noqa: E402
from rlemask_keras.training import case_groups  # noqa: E402

pytestmark = [pytest.mark.keras]


def _dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of one (image, class) pair, counted pixel by pixel; both empty: 1."""
    inter = total = 0
    for p, t in zip(pred.ravel().tolist(), truth.ravel().tolist(), strict=True):
        inter += bool(p) and bool(t)
        total += bool(p) + bool(t)
    return 1.0 if total == 0 else 2 * inter / total


def _random_masks(rng, n, classes, shape):
    found = {}
    for k in range(n):
        planes = (rng.random((classes, *shape)) < rng.choice([0.0, 0.2, 0.5])).astype(np.uint8)
        found[f"img{k}"] = planes
    return found


@pytest.mark.parametrize("classes", [(), ("a", "b", "c")])
def test_score_masks_is_the_mean_dice_over_image_class_pairs(classes):
    rng = np.random.default_rng(3)
    c = max(1, len(classes))
    truth, pred = _random_masks(rng, 6, c, (5, 7)), _random_masks(rng, 6, c, (5, 7))
    report = score_masks(pred, truth, classes=classes)
    pairs = [(i, k) for i in truth for k in range(c)]
    expected = np.mean([_dice(pred[i][k], truth[i][k]) for i, k in pairs])
    baseline = np.mean([not truth[i][k].any() for i, k in pairs])
    assert report.score == pytest.approx(expected)
    assert report.all_empty_baseline == pytest.approx(baseline)
    positive = [(i, k) for i, k in pairs if truth[i][k].any()]
    assert report.positive_only == pytest.approx(
        np.mean([_dice(pred[i][k], truth[i][k]) for i, k in positive]))
    for k, name in enumerate(classes):
        assert report.per_class[name]["score"] == pytest.approx(
            np.mean([_dice(pred[i][k], truth[i][k]) for i in truth]))


def test_rules_follow_the_competition_table():
    for name in rlemask.competitions():
        comp = rlemask.competition(name)
        how = rules(name, comp.classes)
        assert (how["metric"], how["layout"], how["format"], how["objects"]) == (
            comp.metric, comp.layout, comp.format, comp.objects)
    assert rules(None, ())["metric"] == "dice" and rules(None, ("1",))["layout"] == "long"


def _pixel_model():
    """Probability > 0.5 exactly where the pixel is > 0.5, the same for every class (2)."""
    inp = keras.Input((None, None, 1))
    out = keras.layers.Conv2D(
        2, 1, activation="sigmoid", kernel_initializer=keras.initializers.Constant(20.0),
        bias_initializer=keras.initializers.Constant(-10.0))(inp)  # fmt: skip
    return keras.Model(inp, out)


def _by_hand(model, dataset, ids, size, classes):
    """The evaluation by hand: maps at each image's size, every triplet tried per class.

    ``model``: one model, or a mapping image id -> the model that predicts it (folds).
    """
    search = rlemask.TripletSearch()
    maps, truths = {}, {}
    for i in ids:
        image, _ = dataset.sample(i, size)
        net = model[i] if isinstance(model, dict) else model
        prob = net.predict(image[None, ..., None], verbose=0)[0]
        prob = dataset.layout(i, size).to_image(prob.astype(np.float32))
        maps[i] = np.clip(prob, 0, 1)
        truths[i] = dataset.labels.masks(i, dataset.shape(i))
    chosen, masks = {}, {i: [] for i in ids}
    for k, name in enumerate(classes):
        best, best_score = None, -1.0
        for top, area, bottom in search.grid:  # exhaustive, in the grid's order
            score = np.mean([_dice(rlemask.triplet_threshold(
                maps[i][..., k], top, rlemask.scale_min_area(area, maps[i].shape[:2]), bottom),
                truths[i][k]) for i in ids])  # fmt: skip
            if score > best_score + 1e-12:
                best, best_score = (top, area, bottom), score
        chosen[name] = best
        for i in ids:
            top, area, bottom = best
            masks[i].append(rlemask.triplet_threshold(
                maps[i][..., k], top, rlemask.scale_min_area(area, maps[i].shape[:2]), bottom))
    pairs = [_dice(masks[i][k], truths[i][k]) for i in ids for k in range(len(classes))]
    return chosen, float(np.mean(pairs))


def test_evaluate_dataset_chooses_each_class_and_scores_as_by_hand(tmp_path):
    root = make_kind(tmp_path / "sev", "severstal", n_images=3, size=(32, 96), seed=2)
    labels = next(p for p in root.rglob("*.csv"))
    full = rlemask.load_dataset(root, labels)
    classes = ("1", "2")  # the model's two channels: the first two classes
    keep = rlemask.read_labels(labels)
    two = {i: np.stack([keep.mask(i, c, shape=full.shape(i)) for c in classes])
           for i in full.ids}  # fmt: skip
    sub = tmp_path / "two.csv"
    rlemask.write_labels(sub, two, layout="long", classes=list(classes))
    dataset = rlemask.load_dataset(root, sub)
    assert dataset.positive().any()  # a choice to make, not all empty
    model, ids = _pixel_model(), list(dataset.ids)
    result = evaluate_dataset(model, dataset, ids, size=(16, 48), log=lambda *a: None,
                              predictions_file=tmp_path / "pred.csv")  # fmt: skip
    chosen, score = _by_hand(model, dataset, ids, (16, 48), classes)
    per_class = result["postprocess"]["per_class"]
    assert {c: (r["top"], r["min_area"], r["bottom"]) for c, r in per_class.items()} == chosen
    assert all(r["gate"] is None for r in per_class.values())
    assert result["report"].mean_dice == pytest.approx(score)
    assert rlemask.read_labels(tmp_path / "pred.csv").layout == "long"


def test_validation_score_is_the_dice_of_the_batches_at_half():
    inp = keras.Input((None, None, 1))
    model = keras.Model(inp, keras.layers.Lambda(lambda x: x)(inp))  # the map is the input
    rng = np.random.default_rng(0)
    x = rng.random((4, 8, 8, 1)).astype("float32")
    y = (rng.random((4, 8, 8, 1)) < 0.3).astype("float32")
    y[0] = 0
    score = ValidationScore([(x, y)])
    score.set_model(model)
    logs: dict = {}
    score.on_epoch_end(0, logs)
    expected = np.mean([_dice(x[j] > 0.5, y[j]) for j in range(4)])
    assert logs["val_score"] == pytest.approx(expected) == pytest.approx(score.history[-1])


def test_case_groups_name_the_patient_only_for_uw_madison_ids():
    ids = [f"case{c}_day{d}_slice_{s:04d}" for c, d, s in itertools.product((1, 22), (0, 3), (1,))]
    assert set(case_groups(ids).values()) == {"case1", "case22"}
    assert case_groups([*ids, "other"]) is None


@pytest.mark.parametrize("argv, flag", [
    (["--img-size", "64x128"], "--img-size"),
    (["--tile", "64"], "--tile"),
    (["--policy", "pad"], "--policy"),
    (["--data", ".", "--labels", "x.csv", "--competition", "nope"], "--competition"),
    (["--early-stopping", "-1"], "--early-stopping"),
    (["--labels", "x.csv"], "--labels"),
])  # fmt: skip
def test_train_options_errors_name_the_flag(argv, flag, tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "run"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and flag in err, err


def test_out_of_fold_chooses_each_class_on_every_folds_images(tmp_path):
    from rlemask_keras import TrainConfig, train
    from rlemask_keras.oof import out_of_fold

    root = make_kind(tmp_path / "sev", "severstal", n_images=6, size=(32, 96), seed=4)
    labels = root / "train.csv"
    runs, models = [], {}
    for fold in (0, 1):
        config = TrainConfig(data=root, labels=labels, img_size=(16, 48), depth=1, filters=2,
                             epochs=1, batch_size=4, folds=2, fold=fold, progress=False,
                             out=tmp_path / f"f{fold}")  # fmt: skip
        report = train(config, log=lambda *a: None)
        model = keras.models.load_model(config.out / "model.keras")
        models.update({i: model for i in report["data"]["validation_ids"]})
        runs.append(config.out)
    content = out_of_fold(runs, out=tmp_path / "oof.json", log=lambda *a: None)
    dataset = rlemask.load_dataset(root, labels)
    assert sorted(models) == sorted(dataset.ids)  # the folds cover every image once
    chosen, score = _by_hand(models, dataset, sorted(models), (16, 48), dataset.classes)
    per_class = content["postprocess"]["per_class"]
    assert {c: (r["top"], r["min_area"], r["bottom"]) for c, r in per_class.items()} == chosen
    assert content["evaluation"]["score"] == pytest.approx(score)
    assert content["evaluation"]["n_images"] == len(dataset.ids)


def test_a_validation_set_of_several_sizes_is_refused_before_training_for_hausdorff():
    from types import SimpleNamespace

    from rlemask_keras.config import TrainConfig
    from rlemask_keras.training import DatasetRun, _check_scorable

    sizes = {"case1_day0_slice_0001": (64, 64), "case1_day0_slice_0002": (80, 64)}
    data = DatasetRun(None, SimpleNamespace(shape=sizes.get), [], list(sizes), "")
    uw = TrainConfig(competition="uw-madison-gi-tract-image-segmentation")
    with pytest.raises(ValueError, match="`competition` uw-madison.*2 sizes"):
        _check_scorable(uw, data)
    _check_scorable(TrainConfig(competition="hubmap-kidney-segmentation"), data)  # Dice: fine
    sizes["case1_day0_slice_0002"] = (64, 64)
    _check_scorable(uw, data)
