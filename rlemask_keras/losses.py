"""Segmentation losses computed per image and class (never pooled over the batch).

Every loss returns one value per image, shape ``(batch,)``; Keras then takes
the mean over the batch (and applies any sample weights), so the training
objective is the mean over images, like the competition's score.  A
``(batch, H, W, C)`` target of ``C`` classes is scored per (image, class)
pair and the image's value is the mean over its classes, so a large class
does not drown a small one (the Severstal and UW-Madison scores are means
over such pairs); with ``C = 1`` this is the per-image loss.  Tensors of any
other rank are one channel per image.

The soft Dice of one image is ``(2 sum(p t) + s) / (sum(p) + sum(t) + s)``
with probabilities ``p``, targets ``t`` and smoothing ``s = 1``.  The
smoothing makes an empty image with an empty prediction score 1 (loss 0)
and turns the loss on an empty image into ``sum(p) / (sum(p) + 1)``, a push
towards predicting nothing where there is nothing.

Besides the Dice losses: :func:`bce_loss`, :func:`focal_loss` and
:func:`lovasz_hinge_loss`, the losses of the strong SIIM solutions, and
:class:`CombinedLoss` for a weighted sum of any of them
(``combined_loss("focal+dice")``).  :data:`LOSSES` is the one table of loss
names: :func:`get` (Keras' ``get()`` convention), the ``"2*focal+dice"``
parser, :func:`names` (the ``--loss`` help) and the documentation all read it.
All losses are registered with Keras, so a saved model loads back with
``keras.models.load_model``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import ops

__all__ = [
    "dice_loss",
    "bce_dice_loss",
    "bce_loss",
    "focal_loss",
    "lovasz_hinge_loss",
    "CombinedLoss",
    "combined_loss",
    "get",
    "names",
    "LOSSES",
    "SMOOTH",
]

#: smoothing term of the soft Dice (in pixels)
SMOOTH = 1.0


def _pairs(y_true, y_pred):
    """float32 ``(batch, C, pixels)``: one row per (image, class) pair.

    A rank-4 tensor is ``(batch, H, W, C)``; any other rank is one channel
    per image.  float32 even under mixed precision: sums over 10**6 pixels
    overflow float16.
    """
    pred = ops.cast(y_pred, "float32")
    true = ops.reshape(ops.cast(y_true, "float32"), ops.shape(pred))
    batch = ops.shape(pred)[0]
    if len(pred.shape) == 4:
        true = ops.transpose(true, (0, 3, 1, 2))
        pred = ops.transpose(pred, (0, 3, 1, 2))
        channels = ops.shape(pred)[1]
        return ops.reshape(true, (batch, channels, -1)), ops.reshape(pred, (batch, channels, -1))
    return ops.reshape(true, (batch, 1, -1)), ops.reshape(pred, (batch, 1, -1))


def _soft_dice_loss(true, pred):
    """``1 - soft Dice`` of each pair of :func:`_pairs`' rows: ``(batch, C)``."""
    intersection = ops.sum(true * pred, axis=-1)
    total = ops.sum(true, axis=-1) + ops.sum(pred, axis=-1)
    return 1.0 - (2.0 * intersection + SMOOTH) / (total + SMOOTH)


def _bce_pairs(true, pred):
    """Binary cross-entropy, mean over the pixels of each pair: ``(batch, C)``."""
    return ops.mean(ops.binary_crossentropy(true, pred), axis=-1)


@keras.saving.register_keras_serializable(package="rlemask")
def dice_loss(y_true, y_pred):
    """Soft Dice loss, ``1 - soft Dice``, for each image of the batch (mean over its classes).

    Parameters
    ----------
    y_true : tensor
        Targets of 0/1, ``(batch, H, W, C)`` (any other rank: one channel).
    y_pred : tensor
        Probabilities in 0..1, same shape.

    Returns
    -------
    tensor
        ``(batch,)`` float32 in ``[0, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((2, 4, 4, 1), "float32"); y[0, :2] = 1
    >>> np.round(keras.ops.convert_to_numpy(dice_loss(y, y)), 4)  # perfect: 0 each
    array([0., 0.], dtype=float32)
    >>> np.round(keras.ops.convert_to_numpy(dice_loss(y, 1 - y)), 4)
    array([0.9412, 0.9412], dtype=float32)

    Two classes: the image's loss is the mean of its two pairs' losses.

    >>> y2 = np.concatenate([y, np.zeros_like(y)], axis=-1)  # class 2 empty: loss 0
    >>> np.round(keras.ops.convert_to_numpy(dice_loss(y2, y2 * 0 + y2)), 4)
    array([0., 0.], dtype=float32)
    >>> np.round(keras.ops.convert_to_numpy(dice_loss(y2, np.concatenate([1 - y, y * 0], -1))), 4)
    array([0.4706, 0.4706], dtype=float32)
    """
    return ops.mean(_soft_dice_loss(*_pairs(y_true, y_pred)), axis=1)


@keras.saving.register_keras_serializable(package="rlemask")
def bce_dice_loss(y_true, y_pred):
    """Binary cross-entropy (mean over pixels) plus, where the class has a region, soft Dice loss.

    Cross-entropy gives every pixel a gradient from the first step and keeps
    empty images calibrated; the Dice term keeps small regions from drowning
    in the background.  The Dice term is left out where the target is empty:
    there, ``1 - soft Dice = sum(p) / (sum(p) + 1)`` is only small once every
    probability of the image is below about ``1e-4``, which drives the logits
    deep into the sigmoid's flat tail, where the positives' gradient vanishes
    too.  On the synthetic SIIM set (128 px, 8 filters) a SELU U-Net trained
    with the Dice term on every image reached a validation Dice of 0.46-0.62
    on positives, then fell to predicting nothing on any image and never
    recovered (2 runs of 2: Adam 1e-3, and 5e-4 with clipping; a
    batch-normalised ReLU U-Net recovered after 5-8 empty epochs); with this
    loss the same SELU U-Net reached 0.67 without collapsing.  Whether an
    image is empty is decided after training, by the triplet rule
    (:func:`rlemask.triplet_threshold`) with thresholds chosen on validation.
    With ``C`` classes both terms are taken per (image, class) pair, the
    Dice term only on the pairs whose class has a region, and averaged over
    the classes.

    Returns
    -------
    tensor
        ``(batch,)`` float32.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((2, 4, 4, 1), "float32"); y[0, :2] = 1  # image 1 is empty
    >>> p = np.full_like(y, 0.5)
    >>> np.round(keras.ops.convert_to_numpy(bce_dice_loss(y, p)), 4)
    array([1.1637, 0.6931], dtype=float32)

    Image 0: ``ln 2 + 1 - (2 * 4 + 1) / (8 + 8 + 1)``; image 1: ``ln 2`` alone.
    """
    true, pred = _pairs(y_true, y_pred)
    has_region = ops.cast(ops.max(true, axis=-1) > 0, "float32")
    return ops.mean(_bce_pairs(true, pred) + has_region * _soft_dice_loss(true, pred), axis=1)


@keras.saving.register_keras_serializable(package="rlemask")
def bce_loss(y_true, y_pred):
    """Binary cross-entropy, mean over the pixels (and classes) of each image.

    Returns
    -------
    tensor
        ``(batch,)`` float32.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((1, 2, 2, 1), "float32"); y[0, 0] = 1
    >>> np.round(keras.ops.convert_to_numpy(bce_loss(y, np.full_like(y, 0.5))), 4)  # ln 2
    array([0.6931], dtype=float32)
    """
    return ops.mean(_bce_pairs(*_pairs(y_true, y_pred)), axis=1)


#: clipping of probabilities before a logarithm (as keras.losses.binary_crossentropy)
EPSILON = 1e-7


@keras.saving.register_keras_serializable(package="rlemask")
def focal_loss(y_true, y_pred, gamma: float = 2.0, alpha: float | None = None):
    """Binary focal loss (Lin et al., 2017), mean over the pixels of each image.

    Per pixel, ``-alpha_t (1 - p_t)**gamma log(p_t)`` where ``p_t`` is the
    probability given to the true class: easy pixels (``p_t`` near 1) count
    little, so the many trivial background pixels of a chest X-ray do not
    drown the few hard ones.  ``gamma = 0`` and ``alpha = None`` give the
    binary cross-entropy.

    Parameters
    ----------
    y_true : tensor
        Targets of 0/1, ``(batch, H, W, C)`` (any other rank: one channel).
    y_pred : tensor
        Probabilities in 0..1, same shape (clipped to ``[1e-7, 1 - 1e-7]``).
    gamma : float
        Focusing exponent, ``>= 0``.
    alpha : float, optional
        Weight of the foreground class (``1 - alpha`` for the background);
        ``None`` weights both 1.

    Returns
    -------
    tensor
        ``(batch,)`` float32.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((1, 2, 2, 1), "float32"); y[0, 0] = 1
    >>> p = np.full_like(y, 0.5)
    >>> np.round(keras.ops.convert_to_numpy(focal_loss(y, p)), 4)  # 0.25 ln 2
    array([0.1733], dtype=float32)
    >>> np.round(keras.ops.convert_to_numpy(focal_loss(y, p, gamma=0.0)), 4)  # BCE
    array([0.6931], dtype=float32)
    """
    true, pred = _pairs(y_true, y_pred)
    pred = ops.clip(pred, EPSILON, 1.0 - EPSILON)
    p_t = true * pred + (1.0 - true) * (1.0 - pred)
    loss = -ops.power(1.0 - p_t, gamma) * ops.log(p_t)
    if alpha is not None:
        loss = loss * (true * alpha + (1.0 - true) * (1.0 - alpha))
    return ops.mean(ops.mean(loss, axis=-1), axis=1)


@keras.saving.register_keras_serializable(package="rlemask")
def lovasz_hinge_loss(y_true, y_pred):
    """Lovász hinge loss (Berman et al., 2018), per (image, class): a convex surrogate of 1 - IoU.

    The sigmoid's probabilities are mapped back to logits ``s``; the hinge
    errors ``1 - s (2 y - 1)`` are sorted in decreasing order and weighted by
    the gradient of the Lovász extension of the Jaccard loss, so the loss
    optimises the IoU of each image directly (the per-image variant the SIIM
    solutions fine-tuned with).  An image without foreground costs its
    largest hinge error, a push towards an empty prediction.  With ``C``
    classes each (image, class) pair is one such loss; the image's value is
    their mean.

    Parameters
    ----------
    y_true : tensor
        Targets of 0/1, ``(batch, H, W, C)`` (any other rank: one channel).
    y_pred : tensor
        Probabilities in 0..1, same shape (clipped to ``[1e-7, 1 - 1e-7]``).

    Returns
    -------
    tensor
        ``(batch,)`` float32, ``>= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1.0, 0.0]], "float32")
    >>> p = np.array([[0.5, 0.5]], "float32")  # logits 0: every hinge error is 1
    >>> keras.ops.convert_to_numpy(lovasz_hinge_loss(y, p))
    array([1.], dtype=float32)
    """
    true, pred = _pairs(y_true, y_pred)
    pred = ops.clip(pred, EPSILON, 1.0 - EPSILON)
    logits = ops.log(pred) - ops.log(1.0 - pred)
    errors = 1.0 - logits * (2.0 * true - 1.0)
    order = ops.argsort(-errors, axis=-1)
    errors = ops.take_along_axis(errors, order, axis=-1)
    truth = ops.stop_gradient(ops.take_along_axis(true, order, axis=-1))
    positives = ops.sum(truth, axis=-1, keepdims=True)
    # Jaccard loss of the set of the k largest errors, for every k
    intersection = positives - ops.cumsum(truth, axis=-1)
    union = positives + ops.cumsum(1.0 - truth, axis=-1)
    jaccard = 1.0 - intersection / union
    steps = ops.concatenate([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], axis=-1)
    return ops.mean(ops.sum(ops.relu(errors) * ops.stop_gradient(steps), axis=-1), axis=1)


# The one table of loss names: name -> (per-image loss function, what it is).
# get(), CombinedLoss's parser, names() (the --loss help), LOSSES (the docs'
# list) and the tests all read it; a new loss is one row here.
_TABLE: dict[str, tuple[Callable, str]] = {
    "bce_dice": (bce_dice_loss, "BCE plus soft Dice on the (image, class) pairs with a region"),
    "dice": (dice_loss, "soft Dice loss"),
    "bce": (bce_loss, "binary cross-entropy, mean over pixels"),
    "focal": (focal_loss, "focal loss, gamma 2"),
    "lovasz": (lovasz_hinge_loss, "Lovász hinge loss"),
}

#: Loss names and what each is: the terms of :class:`CombinedLoss`, the names
#: :func:`get` takes, in the order ``--loss``'s help lists them (the first is
#: the default of ``rlemask-keras train``).
LOSSES: dict[str, str] = {name: row[1] for name, row in _TABLE.items()}


def names() -> list[str]:
    """The loss names of :data:`LOSSES`, the default (``bce_dice``) first.

    Examples
    --------
    >>> names()
    ['bce_dice', 'dice', 'bce', 'focal', 'lovasz']
    """
    return list(_TABLE)


def _parse_terms(terms) -> dict[str, float]:
    """``{"bce": 1, "dice": 2}``, ``"bce+dice"`` or ``"bce+2*dice"`` -> ``{name: weight}``."""
    received = terms
    if isinstance(terms, str):
        parsed: dict[str, float] = {}
        for part in terms.replace(" ", "").split("+"):
            weight, _, name = part.rpartition("*")
            try:
                parsed[name] = parsed.get(name, 0.0) + (float(weight) if weight else 1.0)
            except ValueError:
                raise ValueError(
                    f"A loss term is NAME or WEIGHT*NAME. Received: {part!r} in {terms!r}"
                ) from None
        terms = parsed
    if not isinstance(terms, dict) or not terms:
        raise TypeError(
            "`terms` must be a non-empty dict {name: weight} or a string such as 'bce+dice'. "
            f"Received: terms={terms!r}"
        )
    out = {}
    for name, weight in terms.items():
        if name not in _TABLE:
            raise ValueError(
                f"Unknown loss term {name!r}: use one of {', '.join(names())}. "
                f"Received: terms={received!r}"
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f"Loss weights must be numbers >= 0. Received: {name}={weight!r}")
        out[name] = float(weight)
    return out


@keras.saving.register_keras_serializable(package="rlemask")
class CombinedLoss(keras.losses.Loss):
    """A weighted sum of per-image losses, e.g. BCE + Dice or focal + Dice.

    Parameters
    ----------
    terms : dict or str
        ``{name: weight}`` with names of :data:`LOSSES`, or a string:
        ``"bce+dice"`` (weights 1), ``"focal+0.5*dice"``.
    name : str
        Loss name (letters, digits, ``_.-/>`` only: TensorFlow uses it as a scope).
    **kwargs
        Passed to ``keras.losses.Loss`` (``reduction``, ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> loss = CombinedLoss("bce+2*dice")
    >>> loss.terms, loss.spec
    ({'bce': 1.0, 'dice': 2.0}, 'bce+2*dice')
    >>> y = np.zeros((2, 4, 4, 1), "float32"); y[0, :2] = 1
    >>> p = np.full_like(y, 0.5)
    >>> expected = bce_loss(y, p) + 2 * dice_loss(y, p)  # per image, then the batch mean
    >>> bool(np.isclose(float(loss(y, p)), float(keras.ops.mean(expected))))
    True
    """

    def __init__(self, terms="bce+dice", name: str = "combined_loss", **kwargs):
        self.terms = _parse_terms(terms)
        super().__init__(name=name, **kwargs)

    @property
    def spec(self) -> str:
        """The terms as text, ``"focal+0.5*dice"``: what ``CombinedLoss(spec)`` reads back."""
        return "+".join(n if w == 1 else f"{w:g}*{n}" for n, w in self.terms.items())

    def call(self, y_true, y_pred):
        total = 0.0
        for term, weight in self.terms.items():
            total = total + weight * _TABLE[term][0](y_true, y_pred)
        return total

    def get_config(self):
        return {**super().get_config(), "terms": dict(self.terms)}


def combined_loss(terms="bce+dice") -> CombinedLoss:
    """The :class:`CombinedLoss` of ``terms``: ``{"bce": 1, "dice": 1}``, ``"focal+dice"``.

    Examples
    --------
    >>> combined_loss({"focal": 1, "lovasz": 0.5}).spec
    'focal+0.5*lovasz'
    """
    return CombinedLoss(terms)


def get(identifier: Any):
    """The loss of a name, a ``"2*focal+dice"`` text, terms or a callable (Keras' ``get()``).

    A single name of :data:`LOSSES` with weight 1 gives the function itself
    (what models saved by earlier versions hold: ``"bce_dice"`` is
    :func:`bce_dice_loss`); a sum of terms, as text or a ``{name: weight}``
    dict, gives a :class:`CombinedLoss`; a callable (a function or a
    ``keras.losses.Loss``) and ``None`` come back as they are.

    Raises
    ------
    ValueError
        An unknown name or a malformed term, naming it.
    TypeError
        Anything else.

    Examples
    --------
    >>> get("bce_dice") is bce_dice_loss
    True
    >>> get("2*focal + dice").spec
    '2*focal+dice'
    >>> get("hinge")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown loss term 'hinge': use one of bce_dice, dice, bce, focal, lovasz. ...
    """
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier.strip() in _TABLE:
        return _TABLE[identifier.strip()][0]
    if isinstance(identifier, (str, dict)):
        return CombinedLoss(identifier)
    raise TypeError(
        "A loss is a name of rlemask_keras.losses.LOSSES, a text such as '2*focal+dice', a "
        f"dict of terms or a callable. Received: identifier={identifier!r}"
    )
