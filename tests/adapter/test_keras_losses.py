"""focal_loss, lovasz_hinge_loss, CombinedLoss: slow numpy references, gradients, serialisation."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import textwrap  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

keras = pytest.importorskip("keras")

from rlemask_keras import dice_loss, losses, unet  # noqa: E402
from rlemask_keras.losses import (  # noqa: E402
    LOSSES,
    CombinedLoss,
    combined_loss,
    focal_loss,
    lovasz_hinge_loss,
)

pytestmark = [
    pytest.mark.keras,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

EPS = 1e-7


def _clip(p):
    """Clip as the losses do, in float32 (1 - 1e-7 rounds to 1 - 1.19e-7), then go to float64."""
    return np.clip(np.float32(p), np.float32(EPS), np.float32(1 - EPS)).astype(np.float64)


# --- slow, obvious references (float64, one pixel at a time) -----------------------------------


def reference_focal(y_true, y_pred, gamma=2.0, alpha=None):
    out = []
    for t_img, p_img in zip(y_true, y_pred, strict=True):
        total, n = 0.0, 0
        for t, p in zip(t_img.ravel(), p_img.ravel(), strict=True):
            p = float(_clip(p))
            p_t = p if t == 1 else 1 - p
            a = 1.0 if alpha is None else (alpha if t == 1 else 1 - alpha)
            total += -a * (1 - p_t) ** gamma * np.log(p_t)
            n += 1
        out.append(total / n)
    return np.array(out)


def _jaccard_loss_of_errors(wrong: set[int], truth: set[int]) -> float:
    """The Jaccard loss when the pixels in ``wrong`` are mispredicted: |M| / |truth | M|."""
    if not wrong:
        return 0.0
    return len(wrong) / len(truth | wrong)


def reference_lovasz_hinge(y_true, y_pred):
    """Lovász extension of the Jaccard loss at the hinge errors, straight from its definition."""
    out = []
    for t_img, p_img in zip(y_true, y_pred, strict=True):
        t = t_img.ravel().astype(int)
        p = _clip(p_img.ravel())
        logits = np.log(p) - np.log(1 - p)
        errors = 1 - logits * (2 * t - 1)
        order = sorted(range(len(t)), key=lambda i: -errors[i])
        truth = {i for i in range(len(t)) if t[i] == 1}
        total, previous, wrong = 0.0, 0.0, set()
        for i in order:
            wrong.add(i)
            current = _jaccard_loss_of_errors(wrong, truth)
            total += max(errors[i], 0.0) * (current - previous)
            previous = current
        out.append(total)
    return np.array(out)


def reference_bce(y_true, y_pred):
    out = []
    for t_img, p_img in zip(y_true, y_pred, strict=True):
        terms = [
            -np.log(float(_clip(p))) if t == 1 else -np.log(1 - float(_clip(p)))
            for t, p in zip(t_img.ravel(), p_img.ravel(), strict=True)
        ]
        out.append(sum(terms) / len(terms))
    return np.array(out)


def reference_dice(y_true, y_pred, smooth=1.0):
    out = []
    for t_img, p_img in zip(y_true, y_pred, strict=True):
        t, p = t_img.ravel().astype(np.float64), p_img.ravel().astype(np.float64)
        out.append(1 - (2 * sum(t * p) + smooth) / (sum(t) + sum(p) + smooth))
    return np.array(out)


def reference_bce_dice(y_true, y_pred):
    has_region = np.array([t.any() for t in y_true], dtype=np.float64)
    return reference_bce(y_true, y_pred) + has_region * reference_dice(y_true, y_pred)


#: the single-channel reference of each loss of the table (the test below fails
#: when the table gains a loss without one)
REFERENCES = {
    "bce": reference_bce,
    "dice": reference_dice,
    "bce_dice": reference_bce_dice,
    "focal": reference_focal,
    "lovasz": reference_lovasz_hinge,
}


def reference_per_class(reference, y_true, y_pred):
    """Mean over the classes of the per-(image, class) reference: ``(batch,)``."""
    per_class = [
        reference(y_true[..., c : c + 1], y_pred[..., c : c + 1])
        for c in range(y_true.shape[-1])
    ]
    return np.mean(per_class, axis=0)


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


# JAX and PyTorch compile each op again for every new input shape, and nearly every example
# has a new one (a second or more each on JAX); the math is checked in full on TensorFlow,
# the other backends' kernels on fewer examples (make test-jax / test-torch).
EXAMPLES = 60 if keras.config.backend() == "tensorflow" else 20


def gradient(fn, x):
    """d sum(fn(x)) / dx on whichever Keras backend runs the tests."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        v = tf.Variable(x)
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(fn(v))
        return tape.gradient(total, v).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: fn(v).sum())(x))
    if backend == "torch":
        import torch

        v = torch.tensor(x, requires_grad=True)
        fn(v).sum().backward()
        return v.grad.numpy()
    pytest.skip(f"no gradient on the {backend} backend")


@st.composite
def batches(draw, max_side=5, max_classes=1, shapes=None):
    if shapes is None:
        n = draw(st.integers(1, 3))
        h = draw(st.integers(1, max_side))
        w = draw(st.integers(1, max_side))
        shape = (n, h, w, draw(st.integers(1, max_classes)))
    else:
        shape = draw(st.sampled_from(shapes))
    y_true = draw(hnp.arrays(np.float32, shape, elements=st.sampled_from([0.0, 1.0])))
    # probabilities from a small grid: ties between pixels are common, and so are 0 and 1
    y_pred = draw(
        hnp.arrays(np.float32, shape, elements=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
        | hnp.arrays(np.float32, shape, elements=st.floats(0.0, 1.0, width=32))
    )
    return y_true, y_pred


def test_every_loss_of_the_table_has_a_reference():
    assert set(REFERENCES) == set(losses.names()) == set(LOSSES)


# a few shapes, so that JAX and PyTorch compile each loss once per shape, not per example
CLASS_SHAPES = [(1, 3, 4, 1), (2, 4, 3, 2), (3, 2, 5, 3)]


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(batches(shapes=CLASS_SHAPES), st.sampled_from(losses.names()))
def test_every_loss_is_the_mean_over_classes_of_its_per_pair_reference(batch, name):
    y_true, y_pred = batch
    got = _numpy(losses.get(name)(y_true, y_pred))
    assert got.shape == (len(y_true),)
    expected = reference_per_class(REFERENCES[name], y_true, y_pred)
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-4)


def test_combined_loss_of_every_term_on_several_classes():
    rng = np.random.default_rng(3)
    y = (rng.random((2, 5, 4, 3)) < 0.3).astype(np.float32)
    y[0, ..., 1] = 0  # a class without a region in one image
    p = rng.random(y.shape).astype(np.float32)
    loss = combined_loss("+".join(f"{k + 1}*{name}" for k, name in enumerate(losses.names())))
    expected = sum(
        (k + 1) * reference_per_class(REFERENCES[name], y, p)
        for k, name in enumerate(losses.names())
    ).mean()
    assert float(loss(y, p)) == pytest.approx(expected, rel=1e-4)


def test_get_follows_the_keras_convention():
    for name in losses.names():
        fn = losses.get(name)
        assert callable(fn) and keras.saving.get_registered_name(fn) == f"rlemask>{fn.__name__}"
        assert losses.get(f" {name} ") is fn
    assert losses.get(None) is None
    assert losses.get(dice_loss) is dice_loss
    combined = losses.get({"focal": 2, "dice": 1})
    assert isinstance(combined, CombinedLoss) and combined.spec == "2*focal+dice"
    assert losses.get("2*focal+dice").terms == combined.terms
    assert losses.get("bce_dice+0*dice").terms == {"bce_dice": 1.0, "dice": 0.0}
    with pytest.raises(ValueError, match=r"Unknown loss term 'hinge': use one of "
                       + ", ".join(losses.names())):
        losses.get("hinge")
    with pytest.raises(TypeError, match=r"Received: identifier=3"):
        losses.get(3)


@settings(max_examples=EXAMPLES)
@given(batches(), st.sampled_from([0.0, 1.0, 2.0, 3.5]), st.sampled_from([None, 0.25, 0.8]))
def test_focal_loss_matches_reference(batch, gamma, alpha):
    y_true, y_pred = batch
    got = _numpy(focal_loss(y_true, y_pred, gamma=gamma, alpha=alpha))
    assert got.shape == (len(y_true),)
    np.testing.assert_allclose(
        got, reference_focal(y_true, y_pred, gamma, alpha), rtol=2e-4, atol=1e-6
    )


@settings(max_examples=EXAMPLES)
@given(batches())
def test_lovasz_hinge_loss_matches_definition(batch):
    y_true, y_pred = batch
    got = _numpy(lovasz_hinge_loss(y_true, y_pred))
    assert got.shape == (len(y_true),)
    np.testing.assert_allclose(got, reference_lovasz_hinge(y_true, y_pred), rtol=2e-4, atol=1e-4)


def test_focal_loss_special_cases():
    y = np.zeros((2, 4, 4, 1), np.float32)
    y[0, 1:3] = 1
    p = np.random.default_rng(0).uniform(0.05, 0.95, y.shape).astype(np.float32)
    bce = _numpy(
        keras.ops.mean(keras.ops.reshape(keras.losses.binary_crossentropy(y, p), (2, -1)), axis=1)
    )
    # gamma 0 without alpha is the cross-entropy; focusing lowers every pixel's loss
    np.testing.assert_allclose(_numpy(focal_loss(y, p, gamma=0.0)), bce, rtol=1e-5)
    assert np.all(_numpy(focal_loss(y, p)) < bce)
    # a perfect prediction costs (almost) nothing
    assert np.all(_numpy(focal_loss(y, y)) < 1e-6)


def test_lovasz_hinge_loss_orders_predictions_by_iou():
    y = np.zeros((1, 8, 8, 1), np.float32)
    y[0, 2:6, 2:6] = 1
    perfect = np.where(y > 0, 0.99, 0.01).astype(np.float32)
    half = perfect.copy()
    half[0, 2:4, 2:6] = 0.01  # half of the region missed
    assert _numpy(lovasz_hinge_loss(y, perfect))[0] == pytest.approx(0.0, abs=1e-6)
    assert _numpy(lovasz_hinge_loss(y, half))[0] > _numpy(lovasz_hinge_loss(y, perfect))[0]


@pytest.mark.parametrize("loss", [*losses.names(), "bce+lovasz"])
def test_losses_have_finite_gradients_at_saturated_predictions(loss):
    loss = losses.get(loss)
    y_true = np.zeros((2, 8, 8, 1), np.float32)
    y_true[0, 2:5, 2:5] = 1
    y_pred = np.stack([np.zeros((8, 8, 1)), np.ones((8, 8, 1))]).astype(np.float32)
    y_pred[0, 3, 3] = 0.5  # one pixel of the region not saturated: some gradient must flow
    grad = gradient(lambda v: loss(y_true, v), y_pred)
    assert grad.shape == y_pred.shape
    assert np.all(np.isfinite(grad))
    assert np.any(grad != 0)


def test_combined_loss_is_the_weighted_sum_of_its_terms():
    rng = np.random.default_rng(1)
    y = (rng.random((3, 6, 6, 1)) < 0.4).astype(np.float32)
    y[2] = 0
    p = rng.random(y.shape).astype(np.float32)
    loss = combined_loss({"focal": 1.0, "dice": 0.5, "lovasz": 2})
    expected = (
        reference_focal(y, p) + 0.5 * _numpy(dice_loss(y, p)) + 2 * reference_lovasz_hinge(y, p)
    ).mean()
    assert float(loss(y, p)) == pytest.approx(expected, rel=1e-4)
    assert loss.spec == "focal+0.5*dice+2*lovasz"
    assert CombinedLoss(loss.spec).terms == loss.terms
    assert CombinedLoss("focal + 0.5*dice + 2*lovasz").terms == loss.terms
    assert list(CombinedLoss("+".join(losses.names())).terms) == list(LOSSES)


@pytest.mark.parametrize(
    ("terms", "error", "match"),
    [
        ("bce+nonsense", ValueError, r"Unknown loss term 'nonsense'"),
        ("x*dice", ValueError, r"WEIGHT\*NAME. Received: 'x\*dice'"),
        ({"dice": -1}, ValueError, r"Received: dice=-1"),
        ({}, TypeError, r"Received: terms=\{\}"),
        (3, TypeError, r"Received: terms=3"),
    ],
)
def test_combined_loss_bad_terms(terms, error, match):
    with pytest.raises(error, match=match):
        CombinedLoss(terms)


def test_losses_round_trip_through_keras_serialization():
    for fn in (focal_loss, lovasz_hinge_loss):
        name = keras.saving.get_registered_name(fn)
        assert name == f"rlemask>{fn.__name__}"
        assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(fn)) is fn
    loss = CombinedLoss("focal+0.5*dice")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(clone, CombinedLoss)
    assert (
        (clone.terms, clone.name)
        == (loss.terms, loss.name)
        == ({"focal": 1.0, "dice": 0.5}, "combined_loss")
    )


def test_saved_model_with_new_losses_loads_in_a_fresh_process(tmp_path, fresh_python):
    model = unet((16, 16, 1), filters=2, depth=1)
    model.compile(
        optimizer="adam",
        loss=CombinedLoss("focal+0.5*lovasz"),
        metrics=[focal_loss, lovasz_hinge_loss],
    )
    rng = np.random.default_rng(2)
    x = rng.random((4, 16, 16, 1), dtype=np.float32)
    y = (x > 0.6).astype(np.float32)
    model.fit(x, y, epochs=1, verbose=0)
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    model.save(tmp_path / "model.keras")
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import keras
        import rlemask_keras  # registers the adapter's losses and metrics with Keras
        model = keras.models.load_model(sys.argv[1] + "/model.keras")
        x, y = np.load(sys.argv[1] + "/x.npy"), np.load(sys.argv[1] + "/y.npy")
        result = model.evaluate(x, y, verbose=0, return_dict=True)
        print(json.dumps({"terms": model.loss.terms, **result}))
        """
    )
    stdout = fresh_python(script, tmp_path)
    got = json.loads(stdout.strip().splitlines()[-1])
    assert got["terms"] == {"focal": 1.0, "lovasz": 0.5}
    for key in ("loss", "focal_loss", "lovasz_hinge_loss"):
        assert got[key] == pytest.approx(expected[key], rel=1e-5), key
