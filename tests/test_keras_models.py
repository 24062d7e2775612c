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
        ({"input_shape": (100, 100, 1), "depth": 3}, r"multiples of 2\*\*depth = 8"),
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
