"""U-Net and U-Net++ builders for binary segmentation (Keras 3, backend-agnostic).

Both builders are plain functions returning a ``keras.Model`` whose last layer
is a 1x1 convolution with a sigmoid, so the output is a probability map of
shape ``(batch, height, width, 1)`` in float32 (also under mixed precision).
Layers are named so that a summary, a checkpoint or a debugger reads like the
architecture: ``enc1_conv1``, ``enc1_pool``, ``bottleneck_conv2``,
``dec2_up``, ``dec2_concat``, ``output``; U-Net++ nodes are ``x{i}_{j}``
(depth level ``i``, skip-pathway position ``j``), as in Zhou et al. (2018).

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

from collections.abc import Sequence

import keras

__all__ = ["unet", "unet_plus_plus", "deep_supervision_loss_weights", "MAX_DEPTH"]

#: deepest supported network (2**8 = 256 fold down-sampling)
MAX_DEPTH = 8

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
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(
            f"`depth` must be an integer between 1 and {MAX_DEPTH}. Received: depth={depth!r}"
        )
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


def unet(
    input_shape: Sequence[int | None] = (256, 256, 1),
    *,
    filters: int = 16,
    depth: int = 4,
    activation: str = "selu",
    batch_norm: bool = False,
    dropout: float = 0.0,
    upsampling: str = "transpose",
    name: str = "unet",
) -> keras.Model:
    """Build a U-Net (Ronneberger et al., 2015) for binary segmentation.

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)``; height and width must be multiples of
        ``2**depth`` (``None`` allowed for a fully convolutional model).
    filters : int
        Filters of the first level; each level down doubles them.
    depth : int
        Number of down-sampling steps, 1 to :data:`MAX_DEPTH`.
    activation : str
        ``"selu"`` (default, with ``lecun_normal`` and ``AlphaDropout``),
        ``"relu"``, ``"elu"`` or any Keras activation name.
    batch_norm : bool
        Batch normalisation after each convolution.
    dropout : float
        Dropout rate after each block (0 disables it).
    upsampling : {"transpose", "bilinear"}
        Learned 2x2 transposed convolution, or fixed bilinear up-sampling.
    name : str
        Name of the model.

    Returns
    -------
    keras.Model
        Input ``(batch, H, W, C)``, output ``"output"``: probabilities
        ``(batch, H, W, 1)`` in float32.

    Raises
    ------
    ValueError
        For an unsupported depth, filter count, shape, dropout rate,
        up-sampling mode or activation; the message ends with the value
        received, e.g. ``Received: depth=9``.

    Examples
    --------
    >>> model = unet((32, 32, 1), filters=4, depth=2, activation="relu")
    >>> [layer.name for layer in model.layers][:4]
    ['input', 'enc1_conv1', 'enc1_act1', 'enc1_conv2']
    >>> unet((32, 32, 1), depth=9)
    Traceback (most recent call last):
    ...
    ValueError: `depth` must be an integer between 1 and 8. Received: depth=9
    """
    _check_arguments(input_shape, filters, depth, dropout, upsampling, activation)
    blocks = _Blocks(activation, batch_norm, dropout, upsampling)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = inputs
    skips = []
    for level in range(1, depth + 1):
        x = blocks.conv_block(x, filters * 2 ** (level - 1), f"enc{level}")
        skips.append(x)
        x = blocks.pool(x, f"enc{level}")
    x = blocks.conv_block(x, filters * 2**depth, "bottleneck")
    for level in range(depth, 0, -1):
        width = filters * 2 ** (level - 1)
        x = blocks.up(x, width, f"dec{level}")
        x = keras.layers.Concatenate(name=f"dec{level}_concat")([x, skips[level - 1]])
        x = blocks.conv_block(x, width, f"dec{level}")
    outputs = blocks.head(x, "output")
    return keras.Model(inputs, outputs, name=name)


def unet_plus_plus(
    input_shape: Sequence[int | None] = (256, 256, 1),
    *,
    filters: int = 16,
    depth: int = 4,
    activation: str = "selu",
    batch_norm: bool = False,
    dropout: float = 0.0,
    upsampling: str = "transpose",
    deep_supervision: bool = False,
    name: str = "unet_plus_plus",
) -> keras.Model:
    """Build a U-Net++ (Zhou et al., 2018): a U-Net with nested dense skip pathways.

    Node ``x{i}_{j}`` sits at depth level ``i`` (0 = full resolution) and
    position ``j`` along its skip pathway.  ``x{i}_0`` is the encoder; every
    other node convolves the concatenation of all earlier nodes of its level,
    ``x{i}_0 ... x{i}_{j-1}``, with the up-sampled ``x{i+1}_{j-1}``.

    Parameters
    ----------
    input_shape, filters, depth, activation, batch_norm, dropout, upsampling, name
        As for :func:`unet`.
    deep_supervision : bool
        ``False``: one output named ``"output"`` on top of ``x0_{depth}``.
        ``True``: ``depth`` outputs ``"out1" ... "out{depth}"``, one on each of
        ``x0_1 ... x0_{depth}`` (``"out{depth}"`` is the full-depth one, the
        one to use for prediction).  Train with the same loss on every output
        and the weights of :func:`deep_supervision_loss_weights` (equal
        weights summing to 1, as in the paper):
        ``model.compile(loss={k: loss for k in w}, loss_weights=w)`` with
        ``w = deep_supervision_loss_weights(depth)``.  The model returns a
        dict of outputs, so pass targets as ``{"out1": y, ..., "out{depth}": y}``.

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
    _check_arguments(input_shape, filters, depth, dropout, upsampling, activation)
    blocks = _Blocks(activation, batch_norm, dropout, upsampling)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    nodes: dict[tuple[int, int], object] = {}
    x = inputs
    for i in range(depth + 1):  # backbone: x{i}_0
        if i > 0:
            x = blocks.pool(nodes[(i - 1, 0)], f"x{i - 1}_0")
        nodes[(i, 0)] = blocks.conv_block(x, filters * 2**i, f"x{i}_0")
    for j in range(1, depth + 1):  # skip pathways, column by column
        for i in range(depth - j + 1):
            width = filters * 2**i
            up = blocks.up(nodes[(i + 1, j - 1)], width, f"x{i}_{j}")
            parts = [nodes[(i, k)] for k in range(j)] + [up]
            x = keras.layers.Concatenate(name=f"x{i}_{j}_concat")(parts)
            nodes[(i, j)] = blocks.conv_block(x, width, f"x{i}_{j}")
    if deep_supervision:
        outputs = {f"out{j}": blocks.head(nodes[(0, j)], f"out{j}") for j in range(1, depth + 1)}
    else:
        outputs = blocks.head(nodes[(0, depth)], "output")
    return keras.Model(inputs, outputs, name=name)


def deep_supervision_loss_weights(depth: int) -> dict[str, float]:
    """Loss weights for a deep-supervised U-Net++: ``1/depth`` for each output.

    Examples
    --------
    >>> deep_supervision_loss_weights(4)
    {'out1': 0.25, 'out2': 0.25, 'out3': 0.25, 'out4': 0.25}
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(
            f"`depth` must be an integer between 1 and {MAX_DEPTH}. Received: depth={depth!r}"
        )
    return {f"out{j}": 1.0 / depth for j in range(1, depth + 1)}
