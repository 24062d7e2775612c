"""U-Net / U-Net++ builders: shapes, naming, initialisation, argument checks."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from rlemask_keras import unet, unet_plus_plus  # noqa: E402
from rlemask_keras.models import deep_supervision_loss_weights  # noqa: E402

pytestmark = [
    pytest.mark.keras,
    # Keras 3.15 converts tensors with np.array(x, copy=False) under numpy 2
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("activation", ["selu", "relu", "elu"])
def test_unet_output_shape_and_range(depth, activation):
    model = unet((32, 32, 1), filters=4, depth=depth, activation=activation)
    x = np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)
    y = keras.ops.convert_to_numpy(model(x))
    assert y.shape == (2, 32, 32, 1)
    assert y.dtype == np.float32
    assert np.all((y >= 0) & (y <= 1))
    # one pooling per level, one up-sampling per level
    names = [layer.name for layer in model.layers]
    assert [n for n in names if n.endswith("_pool")] == [
        f"enc{i}_pool" for i in range(1, depth + 1)
    ]
    assert [n for n in names if n.endswith("_up")] == [f"dec{i}_up" for i in range(depth, 0, -1)]


def test_unet_layer_names_and_filters_double_per_level():
    model = unet((64, 64, 1), filters=8, depth=3, name="my_unet")
    assert model.name == "my_unet"
    assert model.get_layer("enc1_conv1").filters == 8
    assert model.get_layer("enc3_conv2").filters == 32
    assert model.get_layer("bottleneck_conv1").filters == 64
    assert model.get_layer("dec1_conv2").filters == 8
    assert model.get_layer("bottleneck_conv1").output.shape[1:3] == (8, 8)
    assert model.get_layer("output").output.shape[-1] == 1


def test_selu_uses_lecun_normal_and_alpha_dropout():
    model = unet((32, 32, 1), filters=4, depth=2, activation="selu", dropout=0.1)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    hidden = [c for c in convs if not c.name.endswith("_logits")]
    assert hidden
    for conv in hidden:
        assert isinstance(conv.kernel_initializer, keras.initializers.LecunNormal), conv.name
    dropouts = [layer for layer in model.layers if "dropout" in layer.name]
    assert dropouts and all(isinstance(d, keras.layers.AlphaDropout) for d in dropouts)
    # lecun_normal: weight variance 1 / fan_in (truncated normal, so a bit below)
    kernel = keras.ops.convert_to_numpy(model.get_layer("enc2_conv2").kernel)
    fan_in = 3 * 3 * 8
    assert 0.6 / fan_in < kernel.var() < 1.2 / fan_in


def test_relu_uses_he_normal_and_plain_dropout():
    model = unet((32, 32, 1), filters=4, depth=2, activation="relu", dropout=0.2)
    assert isinstance(model.get_layer("enc1_conv1").kernel_initializer, keras.initializers.HeNormal)
    drop = model.get_layer("enc1_dropout")
    assert type(drop) is keras.layers.Dropout
    assert model.get_layer("enc1_act1").activation.__name__ == "relu"


def test_batch_norm_and_bilinear_options():
    model = unet((32, 32, 3), filters=4, depth=2, batch_norm=True, upsampling="bilinear")
    assert isinstance(model.get_layer("enc1_bn1"), keras.layers.BatchNormalization)
    assert isinstance(model.get_layer("dec1_up"), keras.layers.UpSampling2D)
    assert model.get_layer("enc1_conv1").use_bias is False
    assert model.output_shape == (None, 32, 32, 1)


def test_unet_plus_plus_nested_nodes_and_shape():
    model = unet_plus_plus((32, 32, 1), filters=4, depth=3)
    names = {layer.name for layer in model.layers}
    for i in range(4):
        for j in range(4 - i):
            assert f"x{i}_{j}_conv1" in names
    # x0_2 sees x0_0, x0_1 and the up-sampled x1_1: 4 + 4 + 4 channels
    assert model.get_layer("x0_2_concat").output.shape[-1] == 12
    y = model(np.zeros((1, 32, 32, 1), np.float32))
    assert tuple(y.shape) == (1, 32, 32, 1)
    assert model.output_names == ["output"]


def test_unet_plus_plus_deep_supervision_outputs_train():
    depth = 2
    model = unet_plus_plus((16, 16, 1), filters=4, depth=depth, deep_supervision=True)
    assert model.output_names == ["out1", "out2"]
    weights = deep_supervision_loss_weights(depth)
    assert sum(weights.values()) == pytest.approx(1.0)
    loss = {name: "binary_crossentropy" for name in weights}
    model.compile(optimizer="adam", loss=loss, loss_weights=weights)
    x = np.random.default_rng(0).random((4, 16, 16, 1), dtype=np.float32)
    y = (x > 0.5).astype(np.float32)
    history = model.fit(x, {"out1": y, "out2": y}, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    outputs = model.predict(x, verbose=0)
    assert set(outputs) == {"out1", "out2"}
    assert outputs["out2"].shape == (4, 16, 16, 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 9}, r"Received: depth=9"),
        ({"depth": 0}, r"Received: depth=0"),
        ({"filters": 0}, r"Received: filters=0"),
        ({"input_shape": (0, 64, 1)}, r"positive integers or None"),
        ({"input_shape": (64, 64.0, 1)}, r"Received: input_shape=\(64, 64.0, 1\)"),
        ({"classes": 0}, r"Received: classes=0"),
        ({"classifier": "yes"}, r"Received: classifier='yes'"),
        ({"input_shape": (64, 64)}, r"Received: input_shape=\(64, 64\)"),
        ({"activation": "nonsense"}, r"Received: activation='nonsense'"),
        ({"upsampling": "nearest"}, r"Received: upsampling='nearest'"),
        ({"dropout": 1.0}, r"Received: dropout=1.0"),
    ],
)
@pytest.mark.parametrize("builder", [unet, unet_plus_plus])
def test_bad_arguments_raise_value_error(builder, kwargs, match):
    kwargs = {"input_shape": (64, 64, 1), **kwargs}
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)


def test_mixed_precision_output_stays_float32():
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = unet((16, 16, 1), filters=4, depth=2)
        assert model.get_layer("enc1_conv1").compute_dtype == "bfloat16"
        y = model(np.zeros((1, 16, 16, 1), np.float32))
        assert keras.backend.standardize_dtype(y.dtype) == "float32"
    finally:
        keras.config.set_dtype_policy(policy)


def test_deep_supervision_fits_directly_on_a_data_generator(
    synthetic_siim_small, tmp_path, fresh_python
):
    """Issue 10: the (x, y) batches of a DataGenerator train every output, no target dict."""
    import rlemask
    from rlemask_keras import DataGenerator, DiceCoefficient, bce_dice_loss
    from rlemask_keras.models import DeepSupervisionModel

    paths, labels = rlemask.load_siim(synthetic_siim_small)
    gen = DataGenerator(paths[:8], labels, batch_size=4, img_size=32, seed=0)
    model = unet_plus_plus((32, 32, 1), filters=2, depth=2, deep_supervision=True)
    assert isinstance(model, DeepSupervisionModel)
    model.compile(optimizer="adam", loss=bce_dice_loss, metrics=[DiceCoefficient()])
    history = model.fit(gen, validation_data=gen, epochs=1, verbose=0).history
    # the loss per output, the metric once, on the last output, under its plain name
    assert {"loss", "out1_loss", "out2_loss", "dice", "val_dice", "val_loss"} <= set(history)
    assert history["loss"][0] == pytest.approx(
        0.5 * history["out1_loss"][0] + 0.5 * history["out2_loss"][0], rel=1e-4
    )
    x, y = gen[0]
    outputs = model.predict(x, verbose=0)
    assert set(outputs) == {"out1", "out2"}
    metric = DiceCoefficient()
    metric.update_state(y, outputs["out2"])
    assert model.evaluate(x, y, verbose=0, return_dict=True)["dice"] == pytest.approx(
        float(metric.result()), abs=1e-6
    )
    # dict targets and per-output metrics are still taken as Keras takes them
    model.compile(optimizer="adam", loss=bce_dice_loss, metrics={"out1": [DiceCoefficient()]})
    logs = model.evaluate(x, {"out1": y, "out2": y}, verbose=0, return_dict=True)
    assert "out1_dice" in logs
    # saved and loaded in a fresh process: the class and its compile settings come back
    model.compile(optimizer="adam", loss=bce_dice_loss, metrics=[DiceCoefficient()])
    model.save(tmp_path / "ds.keras")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    script = (
        "import json, sys, numpy as np, keras, rlemask_keras\n"
        "m = keras.models.load_model(sys.argv[1] + '/ds.keras')\n"
        "x, y = np.load(sys.argv[1] + '/x.npy'), np.load(sys.argv[1] + '/y.npy')\n"
        "print(json.dumps({'cls': type(m).__name__,"
        " **m.evaluate(x, y, verbose=0, return_dict=True)}))\n"
    )
    stdout = fresh_python(script, tmp_path)
    got = json.loads(stdout.strip().splitlines()[-1])
    assert got["cls"] == "DeepSupervisionModel"
    for key in ("loss", "dice", "out1_loss", "out2_loss"):
        assert got[key] == pytest.approx(expected[key], rel=1e-5), key


def test_deep_supervision_loss_weights_can_be_overridden():
    model = unet_plus_plus((16, 16, 1), filters=2, depth=2, deep_supervision=True)
    model.compile(optimizer="adam", loss="mse", loss_weights={"out1": 0.0, "out2": 1.0})
    x = np.random.default_rng(1).random((2, 16, 16, 1), dtype=np.float32)
    logs = model.evaluate(x, x, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["out2_loss"], rel=1e-5)


def test_default_depth_is_four_without_encoder():
    assert (
        len([layer for layer in unet((32, 32, 1), filters=2).layers if "_pool" in layer.name]) == 4
    )
    with pytest.raises(ValueError, match="Received: depth='x'"):
        unet((32, 32, 1), depth="x")


# --- classes, the classification head, any input size (issue 23) ------------------------------

#: the layers of a tiny U-Net, as every version since the first named them: a model whose
#: sides are multiples of 2**depth is built exactly as before (saved models, the demo)
TINY_UNET_LAYERS = [
    "input",
    *[f"enc1_{n}" for n in ("conv1", "act1", "conv2", "act2", "pool")],
    *[f"bottleneck_{n}" for n in ("conv1", "act1", "conv2", "act2")],
    *[f"dec1_{n}" for n in ("up", "concat", "conv1", "act1", "conv2", "act2")],
    "output_logits",
    "output",
]


def test_default_models_keep_their_layers_and_single_output():
    model = unet((16, 16, 1), filters=2, depth=1)
    assert [layer.name for layer in model.layers] == TINY_UNET_LAYERS
    from rlemask_keras.models import SegmentationModel

    assert model.output_names == ["output"]
    for plain in (model, unet_plus_plus((16, 16, 1), filters=2, depth=1)):
        assert not isinstance(plain, SegmentationModel)


@pytest.mark.parametrize("builder", [unet, unet_plus_plus])
def test_any_input_size_is_padded_inside_and_cropped_back(builder):
    model = builder((101, 101, 1), filters=8, depth=3, classes=2)
    assert model.get_layer("input_pad").output.shape[1:3] == (104, 104)
    assert model.get_layer("output_crop").output.shape[1:3] == (101, 101)
    x = np.random.default_rng(0).random((1, 101, 101, 1), dtype=np.float32)
    y = model.predict(x, verbose=0)
    assert y.shape == (1, 101, 101, 2) and y.dtype == np.float32
    # the competitions' sizes, by shape inference (a forward pass there would be slow)
    for shape in ((256, 1600, 1), (520, 704, 1)):
        big = builder(shape, filters=8, depth=3, classes=4, classifier=True)
        assert big.output_shape == [(None, *shape[:2], 4), (None, 4)]


def test_padding_is_zeros_at_the_bottom_and_right():
    """The padded model's output is the output of a model at the padded size, cropped."""
    model = unet((None, None, 1), filters=4, depth=2, activation="relu")
    padded = unet((24, 28, 1), filters=4, depth=2, activation="relu")
    padded.set_weights(model.get_weights())
    x = np.random.default_rng(1).random((2, 21, 25, 1), dtype=np.float32)
    big = np.zeros((2, 24, 28, 1), np.float32)
    big[:, :21, :25] = x
    got = keras.ops.convert_to_numpy(model(x))
    assert got.shape == (2, 21, 25, 1)
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(padded(big))[:, :21, :25], atol=1e-5)


def test_classifier_head_outputs_and_trains_on_a_plain_mask_target():
    from rlemask_keras import DiceCoefficient, bce_dice_loss
    from rlemask_keras.models import PRESENCE_WEIGHT, SegmentationModel

    model = unet((16, 16, 1), filters=8, depth=2, classes=3, classifier=True)
    assert isinstance(model, SegmentationModel) and model.output_names == ["mask", "presence"]
    assert model.get_layer("presence_pool").input.shape == model.get_layer(
        "bottleneck_act2"
    ).output.shape
    rng = np.random.default_rng(2)
    x = rng.random((4, 16, 16, 1), dtype=np.float32)
    y = np.zeros((4, 16, 16, 3), np.float32)
    y[0, 4:9, 4:9, 0] = 1
    y[1, :, :5, 2] = 1
    model.compile("adam", loss=bce_dice_loss, metrics=[DiceCoefficient()])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert {"loss", "mask_loss", "presence_loss", "dice"} <= set(logs)
    # the derived presence target is "the class has a pixel": the BCE of the head against it
    out = model.predict(x, verbose=0)
    presence = y.max(axis=(1, 2))
    p = np.clip(out["presence"], 1e-7, 1 - 1e-7)
    bce = -(presence * np.log(p) + (1 - presence) * np.log(1 - p)).mean()
    assert logs["presence_loss"] == pytest.approx(bce, rel=1e-4)
    assert logs["loss"] == pytest.approx(
        logs["mask_loss"] + PRESENCE_WEIGHT * logs["presence_loss"], rel=1e-4
    )
    metric = DiceCoefficient()
    metric.update_state(y, out["mask"])
    assert logs["dice"] == pytest.approx(float(metric.result()), abs=1e-6)
    # given as a dict, with another weight for the head
    model.compile("adam", loss=bce_dice_loss, presence_weight=2.0)
    given = model.evaluate(x, {"mask": y, "presence": presence}, verbose=0, return_dict=True)
    assert given["presence_loss"] == pytest.approx(logs["presence_loss"], rel=1e-5)
    assert given["loss"] == pytest.approx(logs["mask_loss"] + 2 * logs["presence_loss"], rel=1e-4)
    with pytest.raises(ValueError, match=r"'mask' \(and 'presence'\). Received: keys \['y'\]"):
        model.evaluate(x, {"y": y}, verbose=0)


def test_deep_supervision_with_a_head():
    model = unet_plus_plus(
        (None, None, 1), filters=4, depth=2, classes=2, deep_supervision=True, classifier=True
    )
    assert model.output_names == ["out1", "out2", "presence"]
    assert model.mask_outputs == ["out1", "out2"] and model.mask_output == "out2"
    model.compile("adam", loss="binary_crossentropy", metrics=["mae"])
    x = np.zeros((2, 20, 20, 1), np.float32)
    y = np.zeros((2, 20, 20, 2), np.float32)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(
        0.5 * logs["out1_loss"] + 0.5 * logs["out2_loss"] + 0.5 * logs["presence_loss"], rel=1e-4
    )
    assert model.predict(x, verbose=0)["out2"].shape == (2, 20, 20, 2)


@pytest.mark.parametrize(("height", "width"), [(1, 1), (5, 7), (8, 8), (9, 16)])
def test_pad_and_crop_layers_against_numpy(height, width):
    from rlemask_keras.models import CropToInput, PadToMultiple

    x = np.random.default_rng(height * 31 + width).random((2, height, width, 3), np.float32)
    padded = keras.ops.convert_to_numpy(PadToMultiple(4)(x))
    expected = np.pad(x, [(0, 0), (0, -height % 4), (0, -width % 4), (0, 0)])
    np.testing.assert_array_equal(padded, expected)
    shape = PadToMultiple(4).compute_output_shape((None, height, width, 3))
    assert shape == (None, *expected.shape[1:])
    cropped = keras.ops.convert_to_numpy(CropToInput()([padded, x[..., :1]]))
    np.testing.assert_array_equal(cropped, x)
    with pytest.raises(ValueError, match="Received: multiple=0"):
        PadToMultiple(0)
