"""ImageNet encoder backbones from ``keras.applications`` for the U-Net builders.

An encoder is a classification network without its head
(``include_top=False``) whose intermediate activations become the skip
connections of a decoder.  For each supported name this module records the
layers taken as skips at strides 2, 4, 8 and 16 (the last activation at each
resolution, as segmentation_models does); the stride-32 feature is the
network's own output.  ``None`` marks a stride the network has no feature
at (ConvNeXt starts with a 4x4, stride-4 stem); the decoder then up-samples
without a skip there.

The encoder always sees three channels in the range its ImageNet weights
were trained on: :class:`EncoderInput`, the first layer of every encoder
model, repeats a grey channel three times and applies the network's own
preprocessing to images in 0..1 (the range :class:`rlemask_keras.DataGenerator`
yields).  So ``encoder_weights="imagenet"`` works for grey X-rays, and a
model trained from scratch sees the same input scale as a pretrained one.

``"resnet18"`` and ``"resnet34"`` are keras-hub backbones
(``keras_hub.models.ResNetBackbone``, basic blocks), available when
keras-hub is installed (``pip install keras-hub``); without it, asking for
them raises a ``ModuleNotFoundError`` saying so.  They are listed by
:func:`encoders` either way (:func:`is_available` tells).  Their ImageNet
weights are keras-hub's presets (``resnet_18_imagenet``; keras-hub has no
plain ResNet-34 preset), downloaded by keras-hub.  (keras-hub is not
installed where this adapter is tested: these two are built from
keras-hub's documented API, and only the missing-package message is tested.)

ImageNet weights are downloaded by Keras on first use into
``~/.keras/models/``.  On a machine without internet, fetch them elsewhere
(``keras.applications.ResNet50(include_top=False, weights="imagenet")``
leaves ``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`` there), then
copy the file into the same folder on the offline machine or pass its path
as ``encoder_weights``.

Examples
--------
>>> from rlemask_keras.encoders import encoders
>>> encoders()[:3]
['convnext_small', 'convnext_tiny', 'efficientnetb0']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
from keras import ops

__all__ = [
    "encoders",
    "is_available",
    "decoder_filters",
    "EncoderInput",
    "EncoderGate",
    "ENCODER_DEPTH",
    "encoder_features",
]

#: down-sampling steps of every supported encoder (output stride 2**5 = 32)
ENCODER_DEPTH = 5

#: the name of the nested encoder model inside a U-Net built with ``encoder=``
ENCODER_LAYER = "encoder"
#: the name of the :class:`EncoderGate` on the encoder's outputs
GATE_LAYER = "encoder_gate"


@dataclass(frozen=True)
class _Spec:
    application: str  # constructor in keras.applications
    preprocessing: str  # a mode of EncoderInput
    skips: tuple[str | None, str | None, str | None, str | None]  # strides 2, 4, 8, 16
    # the decoder's widths are `filters` times this (EfficientNet's width coefficient)
    width: float = 1.0
    # keras-hub ResNetBackbone: blocks per stack (None: a keras.applications network)
    hub_blocks: tuple[int, int, int, int] | None = None
    hub_preset: str | None = None  # its ImageNet preset


def _hub_resnet(blocks: tuple[int, int, int, int], preset: str | None) -> _Spec:
    """A keras-hub basic-block ResNet: skips after the stem and the last block of stacks 0-2."""
    skips = ("conv1_relu", *(f"stack{k}_block{blocks[k] - 1}_out" for k in range(3)))
    return _Spec("ResNetBackbone", "torch", skips, hub_blocks=blocks, hub_preset=preset)


# EfficientNet B0-B7 (Tan & Le, 2019) share their block names: the last layer
# at each stride is the expansion of the next stage's first block, as in
# segmentation_models; the width coefficients are keras.applications' own
_EFFICIENTNET_SKIPS = (
    "block2a_expand_activation",
    "block3a_expand_activation",
    "block4a_expand_activation",
    "block6a_expand_activation",
)
_EFFICIENTNET_WIDTHS = (1.0, 1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0)


_EFFICIENTNETV2_B123 = (
    "block1b_add",
    "block2c_add",
    "block4a_expand_activation",
    "block6a_expand_activation",
)

_SPECS: dict[str, _Spec] = {
    "resnet50": _Spec(
        "ResNet50",
        "caffe",
        ("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out"),
    ),
    "resnet101": _Spec(
        "ResNet101",
        "caffe",
        ("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block23_out"),
    ),
    # EfficientNetV2 and ConvNeXt carry their own rescaling and expect 0..255
    "efficientnetv2b0": _Spec(
        "EfficientNetV2B0",
        "0-255",
        (
            "block1a_project_activation",
            "block2b_add",
            "block4a_expand_activation",
            "block6a_expand_activation",
        ),
    ),
    "efficientnetv2b1": _Spec("EfficientNetV2B1", "0-255", _EFFICIENTNETV2_B123),
    "efficientnetv2b2": _Spec("EfficientNetV2B2", "0-255", _EFFICIENTNETV2_B123),
    "efficientnetv2b3": _Spec("EfficientNetV2B3", "0-255", _EFFICIENTNETV2_B123),
    "convnext_tiny": _Spec(
        "ConvNeXtTiny",
        "0-255",
        (
            None,
            "convnext_tiny_stage_0_block_2_identity",
            "convnext_tiny_stage_1_block_2_identity",
            "convnext_tiny_stage_2_block_8_identity",
        ),
    ),
    "convnext_small": _Spec(
        "ConvNeXtSmall",
        "0-255",
        (
            None,
            "convnext_small_stage_0_block_2_identity",
            "convnext_small_stage_1_block_2_identity",
            "convnext_small_stage_2_block_26_identity",
        ),
    ),
    # EfficientNet carries its own rescaling and normalisation and expects 0..255
    **{
        f"efficientnetb{k}": _Spec(f"EfficientNetB{k}", "0-255", _EFFICIENTNET_SKIPS, width)
        for k, width in enumerate(_EFFICIENTNET_WIDTHS)
    },
    # keras-hub backbones (need keras-hub); torch-style ImageNet normalisation
    "resnet18": _hub_resnet((2, 2, 2, 2), "resnet_18_imagenet"),
    "resnet34": _hub_resnet((3, 4, 6, 3), None),
    "mobilenetv2": _Spec(
        "MobileNetV2",
        "-1..1",
        (
            "block_1_expand_relu",
            "block_3_expand_relu",
            "block_6_expand_relu",
            "block_13_expand_relu",
        ),
    ),
}

# ImageNet channel means in BGR order, 0..255 (keras.applications.imagenet_utils, mode "caffe")
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# ImageNet channel means and deviations in RGB order, 0..1 (mode "torch", keras-hub's ResNet)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
_MODES = ("caffe", "0-255", "-1..1", "torch")
_HUB_INSTALL = "pip install keras-hub"


def _check_depth(depth: Any, maximum: int, context: str = "") -> None:
    """The builders' depth check: an int in ``1 .. maximum``, named in the message."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= maximum:
        raise ValueError(
            f"`depth` must be an integer between 1 and {maximum}{context}. "
            f"Received: depth={depth!r}"
        )


def decoder_filters(name: str | None, filters: int) -> int:
    """The decoder's first-level width for ``filters`` with encoder ``name``: scaled to it.

    EfficientNet B``k`` widens its stages by a coefficient (1.0 for B0 and
    B1 up to 2.0 for B7); the decoder is widened by the same factor (rounded,
    at least 1), so that its widths keep their ratio to the encoder's skip
    features.  Other encoders and ``None`` keep ``filters``.

    Examples
    --------
    >>> decoder_filters("efficientnetb7", 16), decoder_filters("resnet50", 16)
    (32, 16)
    >>> decoder_filters(None, 8), decoder_filters("efficientnetb3", 8)
    (8, 10)
    """
    if name is None:
        return filters
    return max(1, round(filters * _spec(name).width))


def is_available(name: str) -> bool:
    """Whether encoder ``name`` can be built here (keras-hub backbones need keras-hub).

    Examples
    --------
    >>> is_available("resnet50")
    True
    """
    import importlib.util

    return _spec(name).hub_blocks is None or importlib.util.find_spec("keras_hub") is not None


def encoders() -> list[str]:
    """Names accepted by ``unet(..., encoder=NAME)`` and ``unet_plus_plus``, sorted.

    Examples
    --------
    >>> "resnet50" in encoders() and "efficientnetv2b0" in encoders()
    True
    """
    return sorted(_SPECS)


def _spec(name: Any) -> _Spec:
    if not isinstance(name, str) or name.lower() not in _SPECS:
        raise ValueError(
            f"`encoder` must be None or one of {', '.join(encoders())}. Received: encoder={name!r}"
        )
    return _SPECS[name.lower()]


@keras.saving.register_keras_serializable(package="rlemask")
class EncoderInput(keras.layers.Layer):
    """Map images in 0..1 with 1 or 3 channels to what an ImageNet encoder expects.

    A single grey channel is repeated into three.  Then, by ``mode``:
    ``"caffe"`` (ResNet): scaled to 0..255, RGB to BGR, ImageNet channel
    means subtracted; ``"0-255"`` (networks that rescale inside, such as
    EfficientNetV2 and ConvNeXt): scaled to 0..255; ``"-1..1"`` (MobileNetV2):
    ``2 x - 1``; ``"torch"`` (keras-hub's ResNet): ImageNet means subtracted
    and divided by the deviations, in 0..1 RGB.

    Parameters
    ----------
    mode : {"caffe", "0-255", "-1..1", "torch"}
        The encoder's preprocessing convention.
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> layer = EncoderInput("caffe")
    >>> grey = np.full((1, 2, 2, 1), 0.5, "float32")
    >>> keras.ops.convert_to_numpy(layer(grey))[0, 0, 0].round(3)  # 127.5 - BGR means
    array([23.561, 10.721,  3.82 ], dtype=float32)
    >>> keras.ops.convert_to_numpy(EncoderInput("-1..1")(grey))[0, 0, 0]
    array([0., 0., 0.], dtype=float32)
    """

    def __init__(self, mode: str = "0-255", **kwargs: Any):
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ValueError(f"`mode` must be one of {_MODES}. Received: mode={mode!r}")
        self.mode = mode

    def build(self, input_shape: Sequence[int | None]) -> None:
        channels = input_shape[-1]
        if channels not in (1, 3):
            raise ValueError(
                "An ImageNet encoder takes 1 (grey) or 3 (RGB) input channels. "
                f"Received: input_shape={tuple(input_shape)!r}"
            )

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if x.shape[-1] == 1:
            x = ops.concatenate([x, x, x], axis=-1)
        if self.mode == "-1..1":
            return x * 2.0 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_TORCH_MEAN, dtype=self.compute_dtype)
            return (x - mean) / ops.convert_to_tensor(_TORCH_STD, dtype=self.compute_dtype)
        x = x * 255.0
        if self.mode == "caffe":
            x = ops.flip(x, axis=-1)  # RGB -> BGR
            x = x - ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=self.compute_dtype)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="rlemask")
class EncoderGate(keras.layers.Layer):
    """Identity on the encoder's features that lets gradients through only while open.

    The forward pass never changes; the backward pass multiplies the
    gradient by the non-trainable variable ``open`` (1 or 0).  Closing the
    gate freezes the encoder without touching ``trainable``, which Keras only
    honours after ``compile()`` and which the optimizer state of every
    backend is tied to; :class:`rlemask_keras.callbacks.FreezeEncoder` closes
    it for the first epochs.

    Examples
    --------
    >>> import numpy as np
    >>> gate = EncoderGate()
    >>> x = np.ones((1, 2), "float32")
    >>> [keras.ops.convert_to_numpy(y) for y in gate([x, 2 * x])]
    [array([[1., 1.]], dtype=float32), array([[2., 2.]], dtype=float32)]
    >>> float(gate.open.numpy())
    1.0
    """

    def build(self, input_shape) -> None:
        self.open = self.add_weight(shape=(), initializer="ones", trainable=False, name="open")

    def call(self, inputs):
        def gated(x):
            held = ops.stop_gradient(x)
            return held + ops.cast(self.open, x.dtype) * (x - held)

        if isinstance(inputs, (list, tuple)):
            return [gated(x) for x in inputs]
        return gated(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


def _load_weights(model: keras.Model, name: str, weights: Any) -> None:
    """Load ``weights`` (a path) into the bare encoder ``model``, with errors naming both."""
    path = Path(os.fspath(weights))
    if not path.is_file():
        raise FileNotFoundError(
            f"Encoder weights file not found: {str(path)!r} (encoder={name!r}). Pass None, "
            "'imagenet' or the path of a weights file for this encoder without its top."
        )
    try:
        model.load_weights(path)
    except (ValueError, KeyError, OSError) as err:
        raise ValueError(
            f"Cannot load encoder weights {str(path)!r} into encoder {name!r}: {err}"
        ) from err


def _hub_backbone(name: str, spec: _Spec, weights: Any, shape: tuple) -> keras.Model:
    """The keras-hub ResNet ``name`` on 3-channel input: random, a preset, or a weights file."""
    try:
        import keras_hub
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"Encoder {name!r} is a keras-hub backbone and keras-hub is not installed: "
            f"{_HUB_INSTALL}"
        ) from None
    image_shape = (*shape, 3)
    if isinstance(weights, str) and weights.lower() == "imagenet":
        if spec.hub_preset is None:
            raise ValueError(
                f"keras-hub has no ImageNet preset of encoder {name!r}: pass None or the path "
                f"of a weights file. Received: encoder_weights={weights!r}"
            )
        return keras_hub.models.ResNetBackbone.from_preset(
            spec.hub_preset, image_shape=image_shape
        )
    model = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=list(spec.hub_blocks),
        stackwise_num_strides=[1, 2, 2, 2],
        block_type="basic_block",
        image_shape=image_shape,
    )
    if weights is not None and not (isinstance(weights, str) and weights.lower() == "none"):
        if not isinstance(weights, (str, os.PathLike)):
            raise TypeError(
                "`encoder_weights` must be None, 'imagenet' or a path. "
                f"Received: encoder_weights={weights!r}"
            )
        _load_weights(model, name, weights)
    return model


def _backbone(name: str, weights: Any, shape: tuple[int | None, int | None]) -> keras.Model:
    """The keras.applications network ``name`` without its top, on 3-channel input."""
    spec = _spec(name)
    if spec.hub_blocks is not None:
        return _hub_backbone(name, spec, weights, shape)
    constructor = getattr(keras.applications, spec.application)
    kwargs: dict[str, Any] = {"include_top": False, "input_shape": (*shape, 3)}
    if weights is None or (isinstance(weights, str) and weights.lower() == "none"):
        return constructor(weights=None, **kwargs)
    if isinstance(weights, str) and weights.lower() == "imagenet":
        try:
            return constructor(weights="imagenet", **kwargs)
        except Exception as err:  # keras.utils.get_file raises a bare Exception offline
            raise OSError(
                f"Could not download the ImageNet weights of encoder {name!r} ({err}). On a "
                f"machine with internet run keras.applications.{spec.application}("
                "include_top=False, weights='imagenet'); copy the '*_notop.h5' file it leaves "
                "in ~/.keras/models/ into the same folder here, or pass its path as "
                "encoder_weights."
            ) from err
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(
            "`encoder_weights` must be None, 'imagenet' or a path. "
            f"Received: encoder_weights={weights!r}"
        )
    model = constructor(weights=None, **kwargs)
    _load_weights(model, name, weights)
    return model


def encoder_features(
    image, name: str, weights: Any = None, depth: int = ENCODER_DEPTH
) -> list[Any]:
    """Run ``image`` (a Keras tensor, 0..1, 1 or 3 channels) through encoder ``name``.

    Returns the feature at each stride ``2**i`` for ``i = 0 .. depth``: index
    0 (full resolution) is always ``None``, index ``depth`` the bottleneck;
    ``None`` wherever the network has no feature at that stride.  The
    backbone is wrapped in one nested model named ``"encoder"`` (whose
    outputs are the used features), followed by an :class:`EncoderGate`
    named ``"encoder_gate"`` that :class:`rlemask_keras.callbacks.FreezeEncoder`
    closes to freeze it.

    Examples
    --------
    >>> image = keras.Input((64, 64, 1))
    >>> features = encoder_features(image, "efficientnetv2b0", depth=3)
    >>> [None if f is None else tuple(f.shape[1:3]) for f in features]
    [None, (32, 32), (16, 16), (8, 8)]
    """
    spec = _spec(name)
    _check_depth(depth, ENCODER_DEPTH, " with an encoder")
    if depth < ENCODER_DEPTH and spec.skips[depth - 1] is None:
        raise ValueError(
            f"Encoder {name!r} has no feature at stride {2**depth}: use another depth. "
            f"Received: depth={depth}"
        )
    base = _backbone(name, weights, tuple(image.shape[1:3]))
    levels = [base.get_layer(layer).output if layer else None for layer in spec.skips[:depth]]
    if depth == ENCODER_DEPTH:
        levels.append(base.output)
    # the nested model holds only the layers up to the deepest feature used
    used = [f for f in levels if f is not None]
    encoder = keras.Model(base.inputs, used, name=ENCODER_LAYER)
    x = EncoderInput(spec.preprocessing, name="encoder_input")(image)
    outputs = encoder(x)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    outputs = EncoderGate(name=GATE_LAYER)(outputs)
    found = iter(outputs)
    return [None] + [None if f is None else next(found) for f in levels]
