"""U-Net and U-Net++ builders for binary segmentation (Keras 3, backend-agnostic).

Both builders are plain functions returning a ``keras.Model`` whose last layer
is a 1x1 convolution with a sigmoid, so the output is a probability map of
shape ``(batch, height, width, 1)`` in float32 (also under mixed precision).
Layers are named so that a summary, a checkpoint or a debugger reads like the
architecture: ``enc1_conv1``, ``enc1_pool``, ``bottleneck_conv2``,
``dec2_up``, ``dec2_concat``, ``output``; U-Net++ nodes are ``x{i}_{j}``
(depth level ``i``, skip-pathway position ``j``), as in Zhou et al. (2018).

With ``encoder=NAME`` the encoder is a ``keras.applications`` network
(:mod:`rlemask_keras.encoders`), nested as the layer ``"encoder"``, and the
decoder is the same as the reference one; ``encoder=None`` builds the
reference networks.  ``unet_plus_plus(deep_supervision=True)`` returns a
:class:`DeepSupervisionModel`, which trains on plain ``(x, y)`` batches.

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

import keras

# a module, not its names: importing keras may import this module while encoders is half-done
from rlemask_keras import encoders

__all__ = [
    "unet",
    "unet_plus_plus",
    "DeepSupervisionModel",
    "deep_supervision_loss_weights",
    "MAX_DEPTH",
    "DEFAULT_DEPTH",
]

#: deepest supported reference network (2**8 = 256 fold down-sampling)
MAX_DEPTH = 8
#: depth of the reference networks when none is given
DEFAULT_DEPTH = 4

_UPSAMPLING = ("transpose", "bilinear")
_HE_ACTIVATIONS = {"relu", "elu", "gelu", "leaky_relu", "relu6", "silu", "swish", "mish"}


def _check_arguments(
    input_shape: Sequence[int | None],
    filters: int,
    depth: int,
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
    step = 2**depth
    for side in (height, width):
        if side is None:
            continue  # fully convolutional: checked by the caller's data
        if not isinstance(side, int) or side < step or side % step:
            raise ValueError(
                f"`input_shape` height and width must be multiples of 2**depth = {step} "
                f"(each max-pooling halves them). Received: input_shape={input_shape!r}, "
                f"depth={depth}"
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

    def head(self, x, name: str):
        """1x1 convolution to one channel + sigmoid, kept in float32 under mixed precision."""
        x = keras.layers.Conv2D(1, 1, kernel_initializer="glorot_uniform", name=f"{name}_logits")(x)
        return keras.layers.Activation("sigmoid", dtype="float32", name=name)(x)


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
    _check_arguments(input_shape, filters, depth, dropout, upsampling, activation)
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
    name: str = "unet",
) -> keras.Model:
    """Build a U-Net (Ronneberger et al., 2015) for binary segmentation.

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)``; height and width must be multiples of
        ``2**depth`` (``None`` allowed for a fully convolutional model).
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
    name : str
        Name of the model.

    Returns
    -------
    keras.Model
        Input ``(batch, H, W, C)`` in 0..1, output ``"output"``: probabilities
        ``(batch, H, W, 1)`` in float32.

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
    """
    depth = _resolve(input_shape, filters, depth, dropout, upsampling, activation, encoder)
    blocks = _Blocks(activation, batch_norm, dropout, upsampling)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    features = _features(
        blocks,
        inputs,
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
    outputs = blocks.head(x, "output")
    return keras.Model(inputs, outputs, name=name)


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
    encoder, encoder_weights, name
        As for :func:`unet`.
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
    blocks = _Blocks(activation, batch_norm, dropout, upsampling)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    features = _features(
        blocks, inputs, filters, depth, encoder, encoder_weights, lambda i: f"x{i}_0"
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
    if not deep_supervision:
        return keras.Model(inputs, blocks.head(nodes[(0, depth)], "output"), name=name)
    outputs = {
        f"out{j}": blocks.head(nodes[(0, j)], f"out{j}")
        for j in range(1, depth + 1)
        if nodes[(0, j)] is not None
    }
    return DeepSupervisionModel(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="rlemask")
class DeepSupervisionModel(keras.Model):
    """A functional model with several outputs, all trained on one target.

    Built by ``unet_plus_plus(deep_supervision=True)``; not meant to be
    instantiated directly.  Keras alone would need the target as a dict with
    one entry per output; this model takes the ``(x, y)`` batches of any
    single-output model (a :class:`rlemask_keras.DataGenerator`, arrays):

    - ``y`` is broadcast to every output (a dict of targets is used as given);
    - ``compile(loss=fn)`` applies ``fn`` to every output with equal weights
      summing to 1 unless ``loss_weights`` says otherwise (a dict of losses
      is used as given);
    - metrics given as a list are measured on the last output (the
      full-depth one, used for prediction), under their plain names
      (``dice``, ``val_dice``), as for a single-output model; a dict of
      metrics per output is used as given.

    ``predict`` returns a dict of every output; ``output_names[-1]`` is the
    final one.

    Examples
    --------
    >>> import numpy as np
    >>> model = unet_plus_plus((16, 16, 1), filters=2, depth=2, deep_supervision=True)
    >>> model.compile("adam", loss="binary_crossentropy", metrics=["mae"])
    >>> x = np.zeros((2, 16, 16, 1), "float32")
    >>> sorted(model.evaluate(x, x, verbose=0, return_dict=True))
    ['loss', 'mae', 'out1_loss', 'out2_loss']
    """

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, **kwargs):
        names = list(self.output_names)
        if loss is not None and not isinstance(loss, (dict, list, tuple)):
            loss = {name: loss for name in names}
            if loss_weights is None:
                loss_weights = {name: 1.0 / len(names) for name in names}
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

    def _broadcast(self, y):
        if y is None or keras.tree.is_nested(y):
            return y
        return {name: y for name in self.output_names}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, self._broadcast(y), y_pred, sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if getattr(self, "_metrics_on_final", False):
            final = self.output_names[-1]
            if isinstance(y, dict):
                y = y[final]
            return super().compute_metrics(x, y, y_pred[final], sample_weight)
        return super().compute_metrics(x, self._broadcast(y), y_pred, sample_weight)


def deep_supervision_loss_weights(depth: int) -> dict[str, float]:
    """Loss weights for a deep-supervised U-Net++: ``1/depth`` for each output.

    Examples
    --------
    >>> deep_supervision_loss_weights(4)
    {'out1': 0.25, 'out2': 0.25, 'out3': 0.25, 'out4': 0.25}
    """
    encoders._check_depth(depth, MAX_DEPTH)
    return {f"out{j}": 1.0 / depth for j in range(1, depth + 1)}
