"""Encoder backbones: skips at every stride, grey input, weights files, freezing, save/load."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import importlib.util  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from rlemask_keras import unet, unet_plus_plus  # noqa: E402
from rlemask_keras.callbacks import FreezeEncoder  # noqa: E402
from rlemask_keras.encoders import (  # noqa: E402
    _SPECS,
    EncoderGate,
    EncoderInput,
    decoder_filters,
    encoder_features,
    encoders,
    is_available,
)
from rlemask_keras.losses import bce_dice_loss  # noqa: E402
from rlemask_keras.metrics import DiceCoefficient  # noqa: E402

pytestmark = [
    pytest.mark.keras,
    # Keras 3.15 loading a backbone's weights: containers without weights have no group in the
    # file; the tests compare every weight after loading, so nothing is left uninitialised
    pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning"),
]

TESTED = ["resnet50", "efficientnetv2b0"]
# EfficientNet B1-B7 share B0's layer names (checked below); building B7 alone takes 4 s.
# keras-hub backbones are tested apart (keras-hub is optional)
BUILT = [
    name
    for name, spec in sorted(_SPECS.items())
    if spec.hub_blocks is None and (not name.startswith("efficientnetb") or name[-1] == "0")
]
HAS_KERAS_HUB = importlib.util.find_spec("keras_hub") is not None


def _batch(channels, n=2, size=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size, channels), dtype=np.float32)
    y = (x[..., :1] > 0.7).astype(np.float32)
    return x, y


@pytest.mark.parametrize("name", BUILT)
def test_skip_layers_sit_at_their_strides_and_are_the_last_there(name):
    """The table names, for each stride, the last layer at that resolution of the backbone."""
    spec = _SPECS[name]
    backbone = getattr(keras.applications, spec.application)(
        include_top=False, weights=None, input_shape=(64, 64, 3)
    )
    last = {}
    for layer in backbone.layers:
        shape = layer.output.shape
        if len(shape) == 4 and 64 % shape[1] == 0:
            last[64 // shape[1]] = layer.name
    for stride, skip in zip((2, 4, 8, 16), spec.skips, strict=True):
        if skip is None:
            assert stride not in last, (name, stride)
            continue
        assert backbone.get_layer(skip).output.shape[1:3] == (64 // stride, 64 // stride)
        assert skip == last[stride], (name, stride)
    assert backbone.output.shape[1:3] == (2, 2)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", TESTED)
@pytest.mark.parametrize("builder", [unet, unet_plus_plus])
def test_builders_with_encoder_restore_the_input_size(builder, name, channels):
    model = builder((64, 64, channels), encoder=name)
    assert model.output_shape == (None, 64, 64, 1)
    assert model.get_layer("encoder").name == "encoder"
    assert isinstance(model.get_layer("encoder_input"), EncoderInput)
    y = keras.ops.convert_to_numpy(model(_batch(channels)[0]))
    assert y.shape == (2, 64, 64, 1) and y.dtype == np.float32
    assert np.all((y >= 0) & (y <= 1))
    if builder is unet:
        # skips at strides 1/2 ... 1/16: one concatenation per level but the last (no feature at 1)
        concats = [layer.name for layer in model.layers if layer.name.endswith("_concat")]
        assert concats == ["dec5_concat", "dec4_concat", "dec3_concat", "dec2_concat"]
        assert model.get_layer("dec2_concat").output.shape[1:3] == (32, 32)


def test_encoder_features_follow_strides_and_depth():
    image = keras.Input((64, 64, 1))
    features = encoder_features(image, "resnet50", depth=3)
    assert features[0] is None
    assert [tuple(f.shape[1:3]) for f in features[1:]] == [(32, 32), (16, 16), (8, 8)]
    # convnext has no stride-2 feature: a depth-1 network is impossible, the rest works
    with pytest.raises(ValueError, match=r"no feature at stride 2.*Received: depth=1"):
        encoder_features(keras.Input((64, 64, 1)), "convnext_tiny", depth=1)
    model = unet_plus_plus((64, 64, 1), encoder="convnext_tiny", depth=3, deep_supervision=True)
    assert model.output_names == ["out2", "out3"]  # x0_1 would need the stride-2 feature


def test_shallower_encoder_and_odd_input_size():
    # depth 3 uses the first stages only; any input divisible by 2**depth works
    model = unet((40, 56, 1), filters=4, encoder="efficientnetv2b0", depth=3)
    assert model.output_shape == (None, 40, 56, 1)
    full = unet((64, 64, 1), filters=4, encoder="efficientnetv2b0")
    assert model.count_params() < full.count_params() / 5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"encoder": "vgg99"}, ValueError, r"one of convnext_small, .*Received: encoder='vgg99'"),
        ({"encoder": "resnet50", "depth": 6}, ValueError, r"1 and 5 with an encoder"),
        ({"encoder": "resnet50", "input_shape": (64, 64, 2)}, ValueError, r"1 \(grey\) or 3"),
        ({"encoder": "resnet50", "encoder_weights": 3}, TypeError, r"encoder_weights=3"),
        ({"encoder": "resnet50", "encoder_weights": "/no/such.h5"}, FileNotFoundError, "such.h5"),
    ],
)
def test_bad_encoder_arguments(kwargs, error, match):
    kwargs = {"input_shape": (64, 64, 1), **kwargs}
    with pytest.raises(error, match=match):
        unet(**kwargs)


def test_encoder_input_preprocessing_matches_keras_applications():
    rng = np.random.default_rng(1)
    rgb = rng.random((2, 4, 4, 3), dtype=np.float32)
    got = keras.ops.convert_to_numpy(EncoderInput("caffe")(rgb))
    expected = keras.applications.resnet50.preprocess_input(rgb * 255.0)
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(expected), rtol=1e-5, atol=1e-4)
    got = keras.ops.convert_to_numpy(EncoderInput("-1..1")(rgb))
    expected = keras.applications.mobilenet_v2.preprocess_input(rgb * 255.0)
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(expected), rtol=1e-5, atol=1e-5)
    grey = rgb[..., :1]
    out = keras.ops.convert_to_numpy(EncoderInput("0-255")(grey))
    assert out.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(out, np.repeat(grey, 3, -1) * 255, rtol=1e-6)
    # torch: keras-hub's ResNet normalisation, (x - mean) / std per RGB channel in 0..1
    got = keras.ops.convert_to_numpy(EncoderInput("torch")(rgb))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(got, (rgb - mean) / std, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="Received: mode='bgr'"):
        EncoderInput("bgr")


@pytest.mark.skipif(HAS_KERAS_HUB, reason="keras-hub is installed")
def test_keras_hub_backbones_say_what_to_install_when_it_is_missing():
    assert {"resnet18", "resnet34"} <= set(encoders())
    assert not is_available("resnet18") and is_available("resnet50")
    for builder in (unet, unet_plus_plus):
        with pytest.raises(ModuleNotFoundError, match=r"'resnet18' is a keras-hub backbone and "
                           r"keras-hub is not installed: pip install keras-hub"):
            builder((64, 64, 1), encoder="resnet18")


@pytest.mark.skipif(not HAS_KERAS_HUB, reason="needs keras-hub")
@pytest.mark.parametrize("name", ["resnet18", "resnet34"])
def test_keras_hub_backbones_build_with_skips_at_their_strides(name):
    model = unet((64, 64, 1), filters=4, encoder=name)
    assert model.output_shape == (None, 64, 64, 1)
    assert model.get_layer("dec2_concat").output.shape[1:3] == (32, 32)
    y = model.predict(np.zeros((1, 64, 64, 1), np.float32), verbose=0)
    assert y.shape == (1, 64, 64, 1)


def test_weights_file_is_loaded_into_the_encoder(tmp_path):
    # a weights file written here stands in for the ImageNet one (no internet)
    backbone = keras.applications.EfficientNetV2B0(
        include_top=False, weights=None, input_shape=(64, 64, 3)
    )
    rng = np.random.default_rng(2)
    backbone.set_weights(
        [rng.standard_normal(w.shape).astype(w.dtype) for w in backbone.get_weights()]
    )
    path = tmp_path / "effv2b0_notop.weights.h5"
    backbone.save_weights(path)
    model = unet((64, 64, 1), filters=4, encoder="efficientnetv2b0", encoder_weights=str(path))
    got = model.get_layer("encoder").get_weights()  # the whole backbone: same layers, same order
    expected = backbone.get_weights()
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    other = tmp_path / "resnet.weights.h5"
    keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(64, 64, 3)
    ).save_weights(other)
    with pytest.raises(ValueError, match=r"Cannot load encoder weights .*resnet.weights.h5"):
        unet((64, 64, 1), encoder="efficientnetv2b0", encoder_weights=other)


@pytest.mark.parametrize(
    ("builder", "name", "channels"),
    [
        (unet, "resnet50", 1),
        (unet, "efficientnetv2b0", 3),
        (unet_plus_plus, "resnet50", 3),
        (unet_plus_plus, "efficientnetv2b0", 1),
    ],
)
def test_train_a_step_then_save_and_load(builder, name, channels, tmp_path):
    model = builder((64, 64, channels), filters=4, encoder=name)
    # eager: one step of a 300-layer network, without the minutes of graph compilation
    model.compile(
        optimizer="adam", loss=bce_dice_loss, metrics=[DiceCoefficient()], run_eagerly=True
    )
    x, y = _batch(channels)
    history = model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)),
        keras.ops.convert_to_numpy(model(x)),
        rtol=1e-5,
        atol=1e-6,
    )
    assert isinstance(loaded.get_layer("encoder_gate"), EncoderGate)


def test_freeze_encoder_keeps_the_encoder_then_trains_it():
    model = unet((32, 32, 1), filters=2, encoder="mobilenetv2", depth=2)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", run_eagerly=True
    )
    x, y = _batch(1, n=4, size=32)
    snapshots = []

    def encoder_kernel():
        return keras.ops.convert_to_numpy(model.get_layer("encoder").trainable_weights[0])

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            decoder = keras.ops.convert_to_numpy(model.get_layer("dec1_conv1").kernel)
            gate = float(keras.ops.convert_to_numpy(model.get_layer("encoder_gate").open))
            snapshots.append((encoder_kernel(), decoder, gate))

    start = encoder_kernel()
    model.fit(x, y, epochs=3, batch_size=2, verbose=0, callbacks=[FreezeEncoder(2), Snapshot()])
    (enc0, dec0, gate0), (enc1, dec1, gate1), (enc2, _, _) = snapshots
    np.testing.assert_array_equal(enc0, start)
    np.testing.assert_array_equal(enc1, start)
    assert not np.array_equal(dec0, dec1)  # the decoder trains meanwhile
    assert (gate0, gate1) == (0.0, 0.0)
    assert not np.array_equal(enc2, start)  # epoch 3 trains the encoder
    assert float(keras.ops.convert_to_numpy(model.get_layer("encoder_gate").open)) == 1.0


def test_freeze_encoder_bad_arguments():
    with pytest.raises(ValueError, match="Received: freeze_encoder_epochs=-1"):
        FreezeEncoder(-1)
    model = unet((16, 16, 1), filters=2, depth=1)
    model.compile("adam", loss="binary_crossentropy")
    x, y = _batch(1, n=2, size=16)
    with pytest.raises(ValueError, match="has no encoder"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[FreezeEncoder(1)])


def test_encoders_lists_the_table():
    assert encoders() == sorted(_SPECS)
    assert {"resnet50", "efficientnetv2b0", "convnext_tiny"} <= set(encoders())
    assert {f"efficientnetb{k}" for k in range(8)} <= set(encoders())


def test_efficientnets_share_b0s_skips_and_scale_the_decoder():
    b0 = _SPECS["efficientnetb0"]
    # keras.applications' width coefficients of B0 ... B7
    widths = [1.0, 1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0]
    for k, width in enumerate(widths):
        spec = _SPECS[f"efficientnetb{k}"]
        assert (spec.application, spec.skips, spec.width) == (f"EfficientNetB{k}", b0.skips, width)
        assert decoder_filters(f"efficientnetb{k}", 16) == round(16 * width)
    for name in ("resnet50", "convnext_tiny", "efficientnetv2b0"):
        assert decoder_filters(name, 16) == 16
    assert decoder_filters(None, 5) == 5 and decoder_filters("efficientnetb7", 1) == 2


def test_efficientnet_b0_any_input_size_and_the_scaled_decoder():
    # 101 x 101: padded to 104 (a multiple of 2**3) inside the model, cropped back
    model = unet((101, 101, 1), filters=4, encoder="efficientnetb0", depth=3)
    y = model.predict(np.zeros((1, 101, 101, 1), np.float32), verbose=0)
    assert y.shape == (1, 101, 101, 1)
    assert model.get_layer("dec1_conv1").filters == 4
    wide = unet_plus_plus((None, None, 1), filters=8, encoder="efficientnetb2", depth=2)
    assert wide.get_layer("x1_1_conv1").filters == round(8 * 1.1) * 2
    for shape in ((1, 101, 101, 1), (1, 256, 1600, 1), (1, 520, 704, 1)):
        assert wide.compute_output_shape(shape) == shape
