"""U-Net / U-Net++ builders: shapes, naming, initialisation, argument checks."""

from __future__ import annotations

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
