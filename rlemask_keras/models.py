"""U-Net and U-Net++ builders for segmentation (Keras 3, backend-agnostic).

Both builders are plain functions returning a ``keras.Model`` whose last layer
is a 1x1 convolution with a sigmoid, so the output is a probability map of
shape ``(batch, height, width, classes)`` in float32 (also under mixed
precision): one independent sigmoid per class, as the multi-label
competitions score them (a pixel may carry several classes).
Layers are named so that a summary, a checkpoint or a debugger reads like the
architecture: ``enc1_conv1``, ``enc1_pool``, ``bottleneck_conv2``,
``dec2_up``, ``dec2_concat``, ``output``; U-Net++ nodes are ``x{i}_{j}``
(depth level ``i``, skip-pathway position ``j``), as in Zhou et al. (2018).

With ``encoder=NAME`` the encoder is a ``keras.applications`` network
(:mod:`rlemask_keras.encoders`), nested as the layer ``"encoder"``, and the
decoder is the same as the reference one; ``encoder=None`` builds the
reference networks.  ``unet_plus_plus(deep_supervision=True)`` returns a
:class:`DeepSupervisionModel`, which trains on plain ``(x, y)`` batches.

``classifier=True`` adds a classification head on the bottleneck (global
average pooling, a dense layer, one sigmoid per class: "this class is
present in the image"), the empty-image branch of the strong SIIM
solutions.  The model (a :class:`SegmentationModel`) then has two named
outputs, ``"mask"`` and ``"presence"``; ``compile(loss=fn)`` trains the
mask with ``fn`` and the head with binary cross-entropy at weight
``presence_weight``, and a plain mask target ``y`` is enough: the presence
target is derived from it unless given (``{"mask": y, "presence": p}``).

Any input size works: when a side is not a multiple of ``2**depth`` (or is
``None``), the input is zero-padded at the bottom and right to the next
multiple inside the model (layer ``"input_pad"``, :class:`PadToMultiple`)
and every mask output is cropped back to the input's size
(``"{output}_crop"``, :class:`CropToInput`), so a 101 x 101 or a
256 x 1600 image goes in and comes out as it is.  Inputs whose sides are
already multiples build exactly the networks of before.

Activation and initialisation go together: ``activation="selu"`` selects the
``lecun_normal`` initialiser and ``AlphaDropout`` (so that the self-normalising
property survives dropout); ReLU-like activations get ``he_normal`` and plain
``Dropout``; any other Keras activation name gets ``glorot_uniform``.

Examples
--------
>>> import rlemask_keras
>>> model = rlemask_keras.unet((64, 64, 1), filters=4, depth=2)
>>> model.output_shape
(None, 64, 64, 1)
>>> model.get_layer("enc1_conv1").kernel_initializer.__class__.__name__
'LecunNormal'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

# a module, not its names: importing keras may import this module while encoders is half-done
from rlemask_keras import encoders

__all__ = [
    "unet",
    "unet_plus_plus",
    "SegmentationModel",
    "DeepSupervisionModel",
    "PadToMultiple",
    "CropToInput",
    "deep_supervision_loss_weights",
    "MAX_DEPTH",
    "DEFAULT_DEPTH",
    "PRESENCE",
    "PRESENCE_WEIGHT",
]

#: deepest supported reference network (2**8 = 256 fold down-sampling)
MAX_DEPTH = 8
#: depth of the reference networks when none is given
DEFAULT_DEPTH = 4
#: name of the classification head's output (``classifier=True``)
PRESENCE = "presence"
#: name of the mask output of a model with a classification head
MASK = "mask"
#: default loss weight of the classification head (the mask loss weighs 1); a
#: starting point, not a value tuned here
PRESENCE_WEIGHT = 0.5

_UPSAMPLING = ("transpose", "bilinear")
_HE_ACTIVATIONS = {"relu", "elu", "gelu", "leaky_relu", "relu6", "silu", "swish", "mish"}


def _check_arguments(
    input_shape: Sequence[int | None],
    filters: int,
    dropout: float,
    upsampling: str,
    activation: str,
) -> tuple[int | None, int | None, int]:
    """Validate the common builder arguments; returns ``(height, width, channels)``."""
    if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
        raise ValueError(f"`filters` must be a positive integer. Received: filters={filters!r}")
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = ()
    if len(shape) != 3:
        raise ValueError(
            "`input_shape` must be (height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    height, width, channels = shape
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(
            f"`input_shape` needs a positive channel count. Received: input_shape={input_shape!r}"
        )
    for side in (height, width):
        if side is not None and (isinstance(side, bool) or not isinstance(side, int) or side < 1):
            raise ValueError(
                "`input_shape` height and width must be positive integers or None (any size). "
                f"Received: input_shape={input_shape!r}"
            )
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    if upsampling not in _UPSAMPLING:
        raise ValueError(
            f"`upsampling` must be one of {_UPSAMPLING}. Received: upsampling={upsampling!r}"
        )
    if not isinstance(activation, str):
        raise ValueError(
            f"`activation` must be a Keras activation name. Received: activation={activation!r}"
        )
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError) as err:
        raise ValueError(
            "`activation` must be a Keras activation name such as 'selu', 'relu' or 'elu'. "
            f"Received: activation={activation!r}"
        ) from err
    return height, width, channels


def _initializer(activation: str) -> str:
    if activation == "selu":
        return "lecun_normal"
    if activation in _HE_ACTIVATIONS:
        return "he_normal"
    return "glorot_uniform"


class _Blocks:
    """Layer factory shared by both builders: same block, same naming rules."""

    def __init__(self, activation: str, batch_norm: bool, dropout: float, upsampling: str):
        self.activation = activation
        self.initializer = _initializer(activation)
        self.batch_norm = batch_norm
        self.dropout = float(dropout)
        self.upsampling = upsampling

    def conv_block(self, x, filters: int, prefix: str):
        """Two 3x3 convolutions, each followed by [batch norm] and the activation."""
        for k in (1, 2):
            x = keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                use_bias=not self.batch_norm,  # the norm's offset replaces the bias
                kernel_initializer=self.initializer,
                name=f"{prefix}_conv{k}",
            )(x)
            if self.batch_norm:
                x = keras.layers.BatchNormalization(name=f"{prefix}_bn{k}")(x)
            x = keras.layers.Activation(self.activation, name=f"{prefix}_act{k}")(x)
        if self.dropout > 0:
            if self.activation == "selu":
                # plain dropout breaks SELU's fixed point (mean 0, variance 1)
                x = keras.layers.AlphaDropout(self.dropout, name=f"{prefix}_dropout")(x)
            else:
                x = keras.layers.Dropout(self.dropout, name=f"{prefix}_dropout")(x)
        return x

    def pool(self, x, prefix: str):
        return keras.layers.MaxPooling2D(2, name=f"{prefix}_pool")(x)

    def up(self, x, filters: int, prefix: str):
        """Double the spatial size: a learned 2x2 transposed convolution, or bilinear."""
        if self.upsampling == "transpose":
            return keras.layers.Conv2DTranspose(
                filters,
                2,
                strides=2,
                padding="same",
                kernel_initializer=self.initializer,
                name=f"{prefix}_up",
            )(x)
        return keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"{prefix}_up")(x)

    def head(self, x, name: str, classes: int = 1):
        """1x1 convolution to one channel per class + sigmoid, float32 under mixed precision."""
        x = keras.layers.Conv2D(
            classes, 1, kernel_initializer="glorot_uniform", name=f"{name}_logits"
        )(x)
        return keras.layers.Activation("sigmoid", dtype="float32", name=name)(x)

    def presence_head(self, bottleneck, classes: int):
        """Global average pooling, a dense layer, a sigmoid per class: "this class is present"."""
        x = keras.layers.GlobalAveragePooling2D(name=f"{PRESENCE}_pool")(bottleneck)
        x = keras.layers.Dense(classes, name=f"{PRESENCE}_logits")(x)
        return keras.layers.Activation("sigmoid", dtype="float32", name=PRESENCE)(x)


@keras.saving.register_keras_serializable(package="rlemask")
class PadToMultiple(keras.layers.Layer):
    """Zero-pad the bottom and right of ``(batch, H, W, C)`` to multiples of ``multiple``.

    Sides that are already multiples are left alone; works on sides unknown
    when the model is built (``None``).

    Examples
    --------
    >>> import numpy as np
    >>> keras.ops.convert_to_numpy(PadToMultiple(4)(np.ones((1, 5, 3, 1), "float32"))).shape
    (1, 8, 4, 1)
    """

    def __init__(self, multiple: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(multiple, bool) or not isinstance(multiple, int) or multiple < 1:
            raise ValueError(
                f"`multiple` must be a positive integer. Received: multiple={multiple!r}"
            )
        self.multiple = multiple

    def call(self, inputs):
        shape = ops.shape(inputs)
        pad_h = (-shape[1]) % self.multiple
        pad_w = (-shape[2]) % self.multiple
        return ops.pad(inputs, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])

    def compute_output_shape(self, input_shape):
        def up(side):
            return None if side is None else -(-side // self.multiple) * self.multiple

        return (input_shape[0], up(input_shape[1]), up(input_shape[2]), input_shape[3])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="rlemask")
class CropToInput(keras.layers.Layer):
    """Crop ``x`` (batch, H', W', C) to the top-left ``H x W`` of ``reference`` (the input).

    Called on ``[x, reference]``: undoes :class:`PadToMultiple`.

    Examples
    --------
    >>> import numpy as np
    >>> x, image = np.ones((1, 8, 4, 2), "float32"), np.ones((1, 5, 3, 1), "float32")
    >>> keras.ops.convert_to_numpy(CropToInput()([x, image])).shape
    (1, 5, 3, 2)
    """

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shape):
        x, reference = input_shape
        return (x[0], reference[1], reference[2], x[3])


def _resolve(
    input_shape: Sequence[int | None],
    filters: int,
    depth: int | None,
    dropout: float,
    upsampling: str,
    activation: str,
    encoder: str | None,
) -> int:
    """Validate the builders' arguments (encoder name first); returns the depth to build."""
    if encoder is not None:
        encoders._spec(encoder)
        depth = encoders.ENCODER_DEPTH if depth is None else depth
        encoders._check_depth(depth, encoders.ENCODER_DEPTH, " with an encoder")
    else:
        depth = DEFAULT_DEPTH if depth is None else depth
        encoders._check_depth(depth, MAX_DEPTH)
    _check_arguments(input_shape, filters, dropout, upsampling, activation)
    if encoder is not None and input_shape[-1] not in (1, 3):
        raise ValueError(
            "An ImageNet encoder takes 1 (grey) or 3 (RGB) input channels. "
            f"Received: input_shape={tuple(input_shape)!r}"
        )
    return depth


def _reference_encoder(blocks: _Blocks, inputs, filters: int, depth: int, names) -> list:
    """The SELU reference encoder: a conv block per level, max-pooling between levels.

    ``names(i)`` gives the layer prefix of level ``i``; returns the feature of
    each level ``0 .. depth`` (``depth``: the bottleneck).
    """
    features = []
    x = inputs
    for i in range(depth + 1):
        if i > 0:
            x = blocks.pool(features[-1], names(i - 1))
        features.append(blocks.conv_block(x, filters * 2**i, names(i)))
    return features


def _features(blocks, inputs, filters, depth, encoder, encoder_weights, names) -> list:
    if encoder is None:
        return _reference_encoder(blocks, inputs, filters, depth, names)
    return encoders.encoder_features(inputs, encoder, encoder_weights, depth)


def _network_input(input_shape: Sequence[int | None], depth: int):
    """``(inputs, x)``: the model's input and what the network sees, padded where needed."""
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    step = 2**depth
    if all(side is not None and side % step == 0 for side in tuple(input_shape)[:2]):
        return inputs, inputs  # the networks of before, layer for layer
    return inputs, PadToMultiple(step, name="input_pad")(inputs)


def _check_head(classes: Any, classifier: Any) -> None:
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer. Received: classes={classes!r}")
    if not isinstance(classifier, bool):
        raise ValueError(f"`classifier` must be True or False. Received: classifier={classifier!r}")


def _outputs(blocks, inputs, padded, masks: dict, bottleneck, classes: int, classifier: bool):
    """The heads: one mask output per entry of ``masks`` (cropped back), and the presence head."""
    outputs = {}
    for key, features in masks.items():
        if padded is not inputs:
            features = CropToInput(name=f"{key}_crop")([features, inputs])
        outputs[key] = blocks.head(features, key, classes)
    if classifier:
        outputs[PRESENCE] = blocks.presence_head(bottleneck, classes)
    return outputs


def unet(
    input_shape: Sequence[int | None] = (256, 256, 1),
    *,
    filters: int = 16,
    depth: int | None = None,
    activation: str = "selu",
    batch_norm: bool = False,
    dropout: float = 0.0,
    upsampling: str = "transpose",
    encoder: str | None = None,
    encoder_weights: str | os.PathLike | None = None,
    classes: int = 1,
    classifier: bool = False,
    name: str = "unet",
) -> keras.Model:
    """Build a U-Net (Ronneberger et al., 2015) for binary or multi-label segmentation.

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)``; any height and width (``None``: any
        size at run time).  Sides that are not multiples of ``2**depth`` are
        padded inside the model and the output cropped back.
    filters : int
        Filters of the first level; each level down doubles them.  With an
        encoder these are the decoder's widths (16 gives 16, 32, ..., 256 as
        in segmentation_models).
    depth : int, optional
        Number of down-sampling steps: 1 to :data:`MAX_DEPTH`, default
        :data:`DEFAULT_DEPTH`; with an encoder 1 to 5, default 5 (the whole
        encoder, output stride 32; a smaller depth uses only its first stages).
    activation : str
        ``"selu"`` (default, with ``lecun_normal`` and ``AlphaDropout``),
        ``"relu"``, ``"elu"`` or any Keras activation name (the decoder's,
        with an encoder).
    batch_norm : bool
        Batch normalisation after each convolution.
    dropout : float
        Dropout rate after each block (0 disables it).
    upsampling : {"transpose", "bilinear"}
        Learned 2x2 transposed convolution, or fixed bilinear up-sampling.
    encoder : str, optional
        ``None``: the reference encoder (convolution blocks and max-pooling).
        A name of :func:`rlemask_keras.encoders.encoders` (``"resnet50"``,
        ``"efficientnetv2b0"``, ``"convnext_tiny"``, ...): that
        ``keras.applications`` network, nested as the layer ``"encoder"``,
        with a skip connection at each stride it has a feature at.  Grey input
        is repeated to the three channels the encoder expects, inside the model.
    encoder_weights : None, "imagenet" or path
        Initial encoder weights: random, ImageNet (downloaded by Keras, see
        :mod:`rlemask_keras.encoders`), or a weights file of the encoder
        without its top.
    classes : int
        Sigmoid channels of the mask output, one per class.
    classifier : bool
        Add the classification head on the bottleneck: a
        :class:`SegmentationModel` with outputs ``"mask"`` and
        ``"presence"`` (``(batch, classes)``, the probability that each class
        is present).
    name : str
        Name of the model.

    Returns
    -------
    keras.Model
        Input ``(batch, H, W, C)`` in 0..1, output ``"output"``: probabilities
        ``(batch, H, W, classes)`` in float32; with ``classifier=True`` a
        dict ``{"mask": ..., "presence": ...}``.

    Raises
    ------
    ValueError
        For an unsupported depth, filter count, shape, dropout rate,
        up-sampling mode, activation or encoder; the message ends with the
        value received, e.g. ``Received: depth=9``.
    FileNotFoundError
        For an ``encoder_weights`` path that does not exist.

    Examples
    --------
    >>> model = unet((32, 32, 1), filters=4, depth=2, activation="relu")
    >>> [layer.name for layer in model.layers][:4]
    ['input', 'enc1_conv1', 'enc1_act1', 'enc1_conv2']
    >>> unet((32, 32, 1), depth=9)
    Traceback (most recent call last):
    ...
    ValueError: `depth` must be an integer between 1 and 8. Received: depth=9
    >>> model = unet((64, 64, 1), encoder="efficientnetv2b0", depth=3)
    >>> model.get_layer("encoder").name, model.output_shape
    ('encoder', (None, 64, 64, 1))
    >>> model = unet((101, 101, 1), filters=4, depth=2, classes=4, classifier=True)
    >>> model.output_names, model.output_shape
    (['mask', 'presence'], [(None, 101, 101, 4), (None, 4)])
    """
    depth = _resolve(input_shape, filters, depth, dropout, upsampling, activation, encoder)
    _check_head(classes, classifier)
    filters = encoders.decoder_filters(encoder, filters)
    blocks = _Blocks(activation, batch_norm, dropout, upsampling)
    inputs, padded = _network_input(input_shape, depth)
    features = _features(
        blocks,
        padded,
        filters,
        depth,
        encoder,
        encoder_weights,
        lambda i: "bottleneck" if i == depth else f"enc{i + 1}",
    )
    x = features[depth]
    for level in range(depth, 0, -1):
        width = filters * 2 ** (level - 1)
        x = blocks.up(x, width, f"dec{level}")
        skip = features[level - 1]  # stride 2**(level - 1); None: the encoder has none
        if skip is not None:
            x = keras.layers.Concatenate(name=f"dec{level}_concat")([x, skip])
        x = blocks.conv_block(x, width, f"dec{level}")
    key = MASK if classifier else "output"
    outputs = _outputs(blocks, inputs, padded, {key: x}, features[depth], classes, classifier)
    if classifier:
        return SegmentationModel(inputs, outputs, name=name)
    return keras.Model(inputs, outputs[key], name=name)


def unet_plus_plus(
    input_shape: Sequence[int | None] = (256, 256, 1),
    *,
    filters: int = 16,
    depth: int | None = None,
    activation: str = "selu",
    batch_norm: bool = False,
    dropout: float = 0.0,
    upsampling: str = "transpose",
    deep_supervision: bool = False,
    encoder: str | None = None,
    encoder_weights: str | os.PathLike | None = None,
    classes: int = 1,
    classifier: bool = False,
    name: str = "unet_plus_plus",
) -> keras.Model:
    """Build a U-Net++ (Zhou et al., 2018): a U-Net with nested dense skip pathways.

    Node ``x{i}_{j}`` sits at depth level ``i`` (0 = full resolution) and
    position ``j`` along its skip pathway.  ``x{i}_0`` is the encoder; every
    other node convolves the concatenation of all earlier nodes of its level,
    ``x{i}_0 ... x{i}_{j-1}``, with the up-sampled ``x{i+1}_{j-1}``.  With an
    encoder, ``x0_0`` (and any level the encoder has no feature at) is
    missing: its row starts one node later.

    Parameters
    ----------
    input_shape, filters, depth, activation, batch_norm, dropout, upsampling
        As for :func:`unet`.
    encoder, encoder_weights, classes, classifier, name
        As for :func:`unet`.  With ``classifier=True`` and deep supervision
        the outputs are ``"out1" ... "out{depth}"`` and ``"presence"``.
    deep_supervision : bool
        ``False``: one output named ``"output"`` on top of ``x0_{depth}``.
        ``True``: a :class:`DeepSupervisionModel` with outputs ``"out1" ...
        "out{depth}"``, one on each of ``x0_1 ... x0_{depth}`` (the last,
        ``"out{depth}"``, is the full-depth one, the one to use for
        prediction).  It trains on the same ``(x, y)`` batches as any other
        model, e.g. from a :class:`rlemask_keras.DataGenerator`: the target is
        broadcast to every output, the loss applied to each with equal weights
        summing to 1 (as in the paper, :func:`deep_supervision_loss_weights`)
        and the metrics measured on the last output.

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> model = unet_plus_plus((32, 32, 1), filters=4, depth=2, deep_supervision=True)
    >>> model.output_names
    ['out1', 'out2']
    >>> deep_supervision_loss_weights(2)
    {'out1': 0.5, 'out2': 0.5}
    """
    depth = _resolve(input_shape, filters, depth, dropout, upsampling, activation, encoder)
    _check_head(classes, classifier)
    filters = encoders.decoder_filters(encoder, filters)
    blocks = _Blocks(activation, batch_norm, dropout, upsampling)
    inputs, padded = _network_input(input_shape, depth)
    features = _features(
        blocks, padded, filters, depth, encoder, encoder_weights, lambda i: f"x{i}_0"
    )
    nodes = {(i, 0): feature for i, feature in enumerate(features)}
    for j in range(1, depth + 1):  # skip pathways, column by column
        for i in range(depth - j + 1):
            below = nodes[(i + 1, j - 1)]
            if below is None:  # nothing to up-sample: the row starts later
                nodes[(i, j)] = None
                continue
            width = filters * 2**i
            parts = [nodes[(i, k)] for k in range(j) if nodes[(i, k)] is not None]
            parts.append(blocks.up(below, width, f"x{i}_{j}"))
            x = (
                keras.layers.Concatenate(name=f"x{i}_{j}_concat")(parts)
                if len(parts) > 1
                else parts[0]
            )
            nodes[(i, j)] = blocks.conv_block(x, width, f"x{i}_{j}")
    if deep_supervision:
        masks = {f"out{j}": nodes[(0, j)] for j in range(1, depth + 1) if nodes[(0, j)] is not None}
    else:
        masks = {MASK if classifier else "output": nodes[(0, depth)]}
    outputs = _outputs(blocks, inputs, padded, masks, features[depth], classes, classifier)
    if deep_supervision:
        return DeepSupervisionModel(inputs, outputs, name=name)
    if classifier:
        return SegmentationModel(inputs, outputs, name=name)
    return keras.Model(inputs, outputs["output"], name=name)


@keras.saving.register_keras_serializable(package="rlemask")
class SegmentationModel(keras.Model):
    """A functional model with several outputs trained from one mask target.

    Its outputs are one or more mask outputs (``"mask"``, or ``"out1" ...
    "out{depth}"`` under deep supervision) and optionally the classification
    head ``"presence"``.  Built by the builders with ``classifier=True`` or
    ``deep_supervision=True``; not meant to be instantiated directly.  Keras
    alone would need a target and a loss per output; this model takes the
    ``(x, y)`` batches of any single-output model (a
    :class:`rlemask_keras.DataGenerator`, arrays):

    - ``y`` is broadcast to every mask output, and the presence target is
      derived from it (``y.max()`` over each image's pixels, per class) unless
      given: ``{"mask": y, "presence": p}`` (a dict keyed by the output names
      is used as given);
    - ``compile(loss=fn)`` applies ``fn`` to every mask output with equal
      weights summing to 1, and binary cross-entropy to ``"presence"`` at
      weight ``presence_weight`` (default :data:`PRESENCE_WEIGHT`), unless
      ``loss_weights`` says otherwise (a dict of losses is used as given);
    - metrics given as a list are measured on the final mask output (the
      full-depth one, used for prediction), under their plain names
      (``dice``, ``val_dice``), as for a single-output model; a dict of
      metrics per output is used as given.

    ``predict`` returns a dict of every output; :attr:`mask_output` names the
    one to segment with.

    Examples
    --------
    >>> import numpy as np
    >>> model = unet((16, 16, 1), filters=2, depth=2, classes=2, classifier=True)
    >>> model.compile("adam", loss="binary_crossentropy", metrics=["mae"])
    >>> x = np.zeros((2, 16, 16, 1), "float32")
    >>> y = np.zeros((2, 16, 16, 2), "float32")
    >>> sorted(model.evaluate(x, y, verbose=0, return_dict=True))
    ['loss', 'mae', 'mask_loss', 'presence_loss']
    >>> model.mask_output, sorted(model.predict(x, verbose=0))
    ('mask', ['mask', 'presence'])
    """

    @property
    def mask_outputs(self) -> list[str]:
        """Names of the mask outputs, the final (full-depth) one last."""
        names = [n for n in self.output_names if n != PRESENCE]
        return sorted(names, key=lambda n: int(n[3:]) if n[3:].isdigit() else 0)

    @property
    def mask_output(self) -> str:
        """Name of the output to segment with: the final mask output."""
        return self.mask_outputs[-1]

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        *,
        presence_weight: float = PRESENCE_WEIGHT,
        **kwargs,
    ):
        masks = self.mask_outputs
        head = PRESENCE in self.output_names
        if loss is not None and not isinstance(loss, (dict, list, tuple)):
            loss = {name: loss for name in masks}
            if head:
                loss[PRESENCE] = "binary_crossentropy"
            if loss_weights is None:
                loss_weights = {name: 1.0 / len(masks) for name in masks}
                if head:
                    loss_weights[PRESENCE] = float(presence_weight)
        weighted = kwargs.get("weighted_metrics")
        self._metrics_on_final = not isinstance(metrics, dict) and not isinstance(weighted, dict)
        super().compile(
            optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics, **kwargs
        )

    def compile_from_config(self, config):
        # Keras skips a custom compile() when loading; this one only fills in defaults
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built and getattr(self, "optimizer", None) is not None:
            self.optimizer.build(self.trainable_variables)  # so its saved state loads

    def _targets(self, y):
        """A target per output from ``y``, ``{"mask": y[, "presence": p]}`` or a full dict."""
        if y is None or isinstance(y, (list, tuple)):
            return y
        names = list(self.output_names)
        if isinstance(y, dict):
            if set(names) <= set(y):
                return y
            if MASK not in y:
                raise ValueError(
                    f"A target of this model is a mask, or a dict with the keys {names} or "
                    f"'mask' (and 'presence'). Received: keys {sorted(y)}"
                )
            mask, presence = y[MASK], y.get(PRESENCE)
        else:
            mask, presence = y, None
        targets = {name: mask for name in self.mask_outputs}
        if PRESENCE in names:
            if presence is None:
                presence = ops.max(ops.cast(mask, "float32"), axis=(1, 2))
            targets[PRESENCE] = presence
        return targets

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, self._targets(y), y_pred, sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        targets = self._targets(y)
        if getattr(self, "_metrics_on_final", False):
            final = self.mask_output
            if isinstance(targets, dict):
                targets = targets[final]
            return super().compute_metrics(x, targets, y_pred[final], sample_weight)
        return super().compute_metrics(x, targets, y_pred, sample_weight)


@keras.saving.register_keras_serializable(package="rlemask")
class DeepSupervisionModel(SegmentationModel):
    """The :class:`SegmentationModel` of ``unet_plus_plus(deep_supervision=True)``.

    Outputs ``"out1" ... "out{depth}"`` (and ``"presence"`` with
    ``classifier=True``); ``mask_output`` is ``"out{depth}"``, the
    full-depth one.  A separate class so that models saved before the
    classification head load as they were.

    Examples
    --------
    >>> import numpy as np
    >>> model = unet_plus_plus((16, 16, 1), filters=2, depth=2, deep_supervision=True)
    >>> model.compile("adam", loss="binary_crossentropy", metrics=["mae"])
    >>> x = np.zeros((2, 16, 16, 1), "float32")
    >>> sorted(model.evaluate(x, x, verbose=0, return_dict=True))
    ['loss', 'mae', 'out1_loss', 'out2_loss']
    """


def deep_supervision_loss_weights(depth: int) -> dict[str, float]:
    """Loss weights for a deep-supervised U-Net++: ``1/depth`` for each output.

    Examples
    --------
    >>> deep_supervision_loss_weights(4)
    {'out1': 0.25, 'out2': 0.25, 'out3': 0.25, 'out4': 0.25}
    """
    encoders._check_depth(depth, MAX_DEPTH)
    return {f"out{j}": 1.0 / depth for j in range(1, depth + 1)}
