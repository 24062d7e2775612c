"""DiceCoefficient, dice_loss, bce_dice_loss: agree with rlemask and numpy; serialisable."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import rlemask  # noqa: E402
from rlemask_keras import DiceCoefficient, bce_dice_loss, dice_loss, unet  # noqa: E402

pytestmark = [
    pytest.mark.keras,
    # Keras 3.15 converts tensors with np.array(x, copy=False) under numpy 2
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


def _random_batch(rng, n=8, size=16):
    """Targets with some empty images, probabilities incl. values exactly at 0.5."""
    y_true = (rng.random((n, size, size, 1)) < 0.3).astype(np.float32)
    y_true[0] = 0  # empty truth ...
    y_true[1] = 0  # ... twice
    y_pred = rng.random((n, size, size, 1)).astype(np.float32)
    y_pred[0] = 0.2  # empty truth, empty prediction -> `empty`
    y_pred[2] = 0.1  # non-empty truth, empty prediction -> 0
    y_pred[3, :4] = 0.5  # exactly at the threshold: the convention must match
    return y_true, y_pred


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("threshold", "empty"), [(0.5, 1.0), (0.3, 0.0), (0.7, 0.5)])
def test_metric_equals_rlemask_dice_scores(seed, threshold, empty):
    y_true, y_pred = _random_batch(np.random.default_rng(seed))
    expected = rlemask.dice_scores(
        y_pred[..., 0], y_true[..., 0], threshold=threshold, empty=empty
    ).mean()
    metric = DiceCoefficient(threshold=threshold, empty=empty)
    metric.update_state(y_true, y_pred)
    assert float(metric.result()) == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_metric_threshold_convention_matches_rlemask_exactly_at_threshold():
    y_true = np.zeros((1, 4, 4, 1), np.float32)
    y_true[0, 0, 0] = 1
    y_pred = np.zeros((1, 4, 4, 1), np.float32)
    y_pred[0, 0, 0] = 0.5  # exactly at the threshold
    expected = rlemask.dice_scores(y_pred[..., 0], y_true[..., 0], threshold=0.5)[0]
    metric = DiceCoefficient(threshold=0.5)
    metric.update_state(y_true, y_pred)
    assert float(metric.result()) == pytest.approx(expected)


def test_metric_is_mean_over_all_images_not_over_batches_nor_pooled():
    rng = np.random.default_rng(3)
    y_true, y_pred = _random_batch(rng, n=7)
    scores = rlemask.dice_scores(y_pred[..., 0], y_true[..., 0])
    metric = DiceCoefficient()
    # batches of unequal size: a mean of batch means would differ
    metric.update_state(y_true[:5], y_pred[:5])
    metric.update_state(y_true[5:], y_pred[5:])
    assert float(metric.result()) == pytest.approx(scores.mean(), rel=1e-6)
    assert scores[:5].mean() / 2 + scores[5:].mean() / 2 != pytest.approx(scores.mean())
    # pooled over the batch would be another number
    pred = y_pred > 0.5
    pooled = 2 * (pred & (y_true > 0)).sum() / (pred.sum() + (y_true > 0).sum())
    assert float(metric.result()) != pytest.approx(pooled, abs=1e-3)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_metric_sample_weight_weights_whole_images():
    y_true, y_pred = _random_batch(np.random.default_rng(4), n=4)
    scores = rlemask.dice_scores(y_pred[..., 0], y_true[..., 0])
    weights = np.array([1.0, 0.0, 2.0, 1.0], np.float32)
    metric = DiceCoefficient()
    metric.update_state(y_true, y_pred, sample_weight=weights)
    expected = (scores * weights).sum() / weights.sum()
    assert float(metric.result()) == pytest.approx(expected, rel=1e-6)


def test_positive_only_metric_is_dice_on_images_with_a_region():
    y_true, y_pred = _random_batch(np.random.default_rng(8))
    scores = rlemask.dice_scores(y_pred[..., 0], y_true[..., 0])
    positive = y_true.reshape(len(y_true), -1).any(1)
    assert 0 < positive.sum() < len(positive)
    metric = DiceCoefficient(positive_only=True)
    metric.update_state(y_true[:3], y_pred[:3])
    metric.update_state(y_true[3:], y_pred[3:])
    assert float(metric.result()) == pytest.approx(scores[positive].mean(), rel=1e-6)
    clone = DiceCoefficient.from_config(metric.get_config())
    assert clone.positive_only is True


def test_metric_bad_arguments():
    with pytest.raises(ValueError, match="Received: threshold='x'"):
        DiceCoefficient(threshold="x")
    with pytest.raises(ValueError, match="Received: empty=None"):
        DiceCoefficient(empty=None)


def _reference_soft_dice_loss(y_true, y_pred, smooth=1.0):
    t = y_true.reshape(len(y_true), -1).astype(np.float64)
    p = y_pred.reshape(len(y_pred), -1).astype(np.float64)
    return 1 - (2 * (t * p).sum(1) + smooth) / (t.sum(1) + p.sum(1) + smooth)


def test_dice_loss_per_image_matches_numpy():
    y_true, y_pred = _random_batch(np.random.default_rng(5))
    got = _numpy(dice_loss(y_true, y_pred))
    assert got.shape == (len(y_true),)
    np.testing.assert_allclose(got, _reference_soft_dice_loss(y_true, y_pred), rtol=1e-5)
    # perfect prediction of an empty image costs nothing
    empty = np.zeros((1, 8, 8, 1), np.float32)
    assert float(dice_loss(empty, empty)[0]) == 0.0


def test_bce_dice_loss_matches_numpy_dice_only_where_there_is_a_region():
    y_true, y_pred = _random_batch(np.random.default_rng(6))
    p = np.clip(y_pred.astype(np.float64), 1e-7, 1 - 1e-7)
    bce = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
    has_region = y_true.reshape(len(p), -1).any(1)
    assert has_region.sum() not in (0, len(p))  # both kinds in the batch
    expected = bce.reshape(len(p), -1).mean(1) + has_region * _reference_soft_dice_loss(
        y_true, y_pred
    )
    got = _numpy(bce_dice_loss(y_true, y_pred))
    np.testing.assert_allclose(got, expected, rtol=1e-4)


# finite gradients at saturated predictions: tests/adapter/test_keras_losses.py, on every backend


def test_compiled_model_saves_and_loads(tmp_path):
    model = unet((16, 16, 1), filters=4, depth=2)
    model.compile(
        optimizer="adam",
        loss=bce_dice_loss,
        metrics=[DiceCoefficient(threshold=0.4, empty=0.5, name="dice")],
    )
    rng = np.random.default_rng(7)
    x = rng.random((4, 16, 16, 1), dtype=np.float32)
    y = (x > 0.6).astype(np.float32)
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7
    )
    assert loaded.loss is bce_dice_loss or loaded.loss.__name__ == "bce_dice_loss"
    # evaluate() builds the restored metric: threshold 0.4 and empty 0.5 must survive
    results = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert "dice" in results
    expected = rlemask.dice_scores(
        model.predict(x, verbose=0)[..., 0], y[..., 0], threshold=0.4, empty=0.5
    ).mean()
    assert results["dice"] == pytest.approx(expected, rel=1e-5)


def test_metric_and_losses_round_trip_through_keras_serialization():
    metric = DiceCoefficient(threshold=0.25, empty=0.0, name="d")
    config = keras.saving.serialize_keras_object(metric)
    assert config["registered_name"] == "rlemask>DiceCoefficient"
    clone = keras.saving.deserialize_keras_object(config)
    assert isinstance(clone, DiceCoefficient)
    assert (clone.threshold, clone.empty, clone.name) == (0.25, 0.0, "d")
    for loss in (dice_loss, bce_dice_loss):
        name = keras.saving.get_registered_name(loss)
        assert name == f"rlemask>{loss.__name__}"
        assert keras.saving.get_registered_object(name) is loss


def reference_pair_dice(truth, pred, threshold=0.5, empty=1.0):
    """Dice of one (image, class) pair, pixel by pixel (float64)."""
    t = [v != 0 for v in truth.ravel()]
    p = [v > threshold for v in pred.ravel()]
    both = sum(a and b for a, b in zip(t, p, strict=True))
    total = sum(t) + sum(p)
    return empty if total == 0 else 2 * both / total


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("positive_only", [False, True])
def test_metric_on_several_classes_is_the_mean_over_image_class_pairs(seed, positive_only):
    rng = np.random.default_rng(seed)
    y_true = (rng.random((5, 6, 7, 3)) < 0.3).astype(np.float32)
    y_true[0] = 0  # an image empty in every class
    y_true[1, ..., 2] = 0  # one class empty in one image
    y_pred = rng.random(y_true.shape).astype(np.float32)
    y_pred[1, ..., 2] = 0.1  # ... and predicted empty: `empty`
    weights = np.array([1.0, 2.0, 0.5, 1.0, 3.0], np.float32)
    pairs = [
        (i, c) for i in range(5) for c in range(3) if not positive_only or y_true[i, ..., c].any()
    ]
    scores = [reference_pair_dice(y_true[i, ..., c], y_pred[i, ..., c], 0.5, 0.5) for i, c in pairs]
    pair_weights = [weights[i] for i, _ in pairs]
    metric = DiceCoefficient(empty=0.5, positive_only=positive_only)
    metric.update_state(y_true[:2], y_pred[:2], sample_weight=weights[:2])
    metric.update_state(y_true[2:], y_pred[2:], sample_weight=weights[2:])
    expected = np.average(scores, weights=pair_weights)
    assert float(metric.result()) == pytest.approx(expected, rel=1e-6)
    # per_image_dice: the mean over each image's classes
    from rlemask_keras.metrics import per_class_dice, per_image_dice

    got = _numpy(per_class_dice(y_true, y_pred, empty=0.5))
    assert got.shape == (5, 3)
    np.testing.assert_allclose(
        _numpy(per_image_dice(y_true, y_pred, empty=0.5)), got.mean(axis=1), rtol=1e-6
    )
    # one class is the per-image metric of before: the same as rlemask.dice_scores
    np.testing.assert_allclose(
        got[:, 1],
        rlemask.dice_scores(y_pred[..., 1], y_true[..., 1], empty=0.5),
        rtol=1e-6,
    )
