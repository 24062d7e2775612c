"""Per-image (and per-class) Dice as a Keras metric, the competition's way.

The SIIM-ACR score is the mean over images of Dice = 2|X & Y| / (|X| + |Y|),
where an image whose prediction and truth are both empty scores ``empty``
(1 in the competition).  A Dice pooled over a whole batch (one big
intersection over one big union, often with a smoothing term) is a different,
much more flattering number; :class:`DiceCoefficient` never pools.  It keeps
two metric variables, the sum of the per-image scores and the number of
images, so that its result after an epoch is the mean over every image seen
in that epoch, whatever the batch size or the number of replicas.

With ``C`` classes, ``(batch, H, W, C)``, the unit is the (image, class)
pair, as in the multi-class competitions (Severstal, UW-Madison): each pair
is scored alone and the result is the mean over the pairs.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["DiceCoefficient", "per_image_dice", "per_class_dice"]


def _pairs(y):
    """float32 ``(batch, C, pixels)`` of a ``(batch, H, W, C)`` tensor; other ranks: ``C = 1``."""
    y = ops.cast(y, "float32")
    batch = ops.shape(y)[0]
    if len(y.shape) == 4:
        return ops.reshape(ops.transpose(y, (0, 3, 1, 2)), (batch, ops.shape(y)[3], -1))
    return ops.reshape(y, (batch, 1, -1))


def per_class_dice(y_true, y_pred, *, threshold: float = 0.5, empty: float = 1.0):
    """Dice of each (image, class) pair of a batch, after binarising ``y_pred > threshold``.

    Mirrors :func:`rlemask.dice_scores` on each class: the prediction is
    foreground where it is strictly greater than ``threshold``, the target
    where it is non-zero; a pair with both empty scores ``empty``.

    Parameters
    ----------
    y_true, y_pred : tensor
        ``(batch, H, W, C)``, or any other rank for one class; any real dtype.
    threshold : float
        Binarisation threshold of the predictions.
    empty : float
        Score of a pair whose prediction and target are both empty.

    Returns
    -------
    tensor
        ``(batch, C)`` float32.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.zeros((1, 4, 4, 2), "float32"); y_true[0, :2, :, 0] = 1
    >>> y_pred = np.zeros((1, 4, 4, 2), "float32"); y_pred[0, :1, :, 0] = 0.9
    >>> np.round(keras.ops.convert_to_numpy(per_class_dice(y_true, y_pred)), 4)
    array([[0.6667, 1.    ]], dtype=float32)
    """
    pred = ops.cast(ops.greater(_pairs(y_pred), threshold), "float32")
    true = ops.cast(ops.not_equal(_pairs(y_true), 0.0), "float32")
    intersection = ops.sum(pred * true, axis=-1)
    denominator = ops.sum(pred, axis=-1) + ops.sum(true, axis=-1)
    # maximum(...) keeps the unused branch finite: where() evaluates both sides
    score = 2.0 * intersection / ops.maximum(denominator, 1.0)
    return ops.where(denominator > 0, score, ops.cast(empty, "float32"))


def per_image_dice(y_true, y_pred, *, threshold: float = 0.5, empty: float = 1.0):
    """Dice of each image of a batch (the mean over its classes), after ``y_pred > threshold``.

    Mirrors :func:`rlemask.dice_scores`: the prediction is foreground where it
    is strictly greater than ``threshold``, the target where it is non-zero;
    an image with both empty scores ``empty``.  With ``C`` classes, the mean
    of :func:`per_class_dice` over them.

    Parameters
    ----------
    y_true, y_pred : tensor
        ``(batch, ...)``; any trailing shape, any real dtype.
    threshold : float
        Binarisation threshold of the predictions.
    empty : float
        Score of an image whose prediction and target are both empty.

    Returns
    -------
    tensor
        ``(batch,)`` float32.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.zeros((2, 4, 4, 1), "float32"); y_true[0, :2] = 1
    >>> y_pred = np.zeros((2, 4, 4, 1), "float32"); y_pred[0, :1] = 0.9
    >>> np.round(keras.ops.convert_to_numpy(per_image_dice(y_true, y_pred)), 4)
    array([0.6667, 1.    ], dtype=float32)
    """
    return ops.mean(per_class_dice(y_true, y_pred, threshold=threshold, empty=empty), axis=1)


@keras.saving.register_keras_serializable(package="rlemask")
class DiceCoefficient(keras.metrics.Metric):
    """Mean per-image Dice over all images (with ``C`` classes: all (image, class) pairs) seen.

    The mean runs over every image since the last reset; for a
    ``(batch, H, W, C)`` target over every (image, class) pair, each pair
    counting once (the multi-class competitions' score).

    Parameters
    ----------
    threshold : float
        Predictions strictly greater than ``threshold`` are foreground (the
        convention of :func:`rlemask.dice_scores`).
    empty : float
        Score of an image whose prediction and truth are both empty (the
        competition uses 1).
    positive_only : bool
        Count only the images (pairs) whose truth has a region: the Dice on
        positive images, the segmentation quality without the empty-or-not
        decision.
        Early in training a model that predicts nothing anywhere scores the
        all-empty baseline on the plain metric and can beat a model that
        segments but still leaves specks on empty images, so this is the
        better number to pick a checkpoint by when the empty decision is made
        afterwards by post-processing (:func:`rlemask.triplet_threshold`).
    name : str
        Metric name; with the default, Keras logs ``dice`` and ``val_dice``.
    dtype : str, optional
        Dtype of the result.

    Notes
    -----
    ``sample_weight``, when given, weights whole images: it is reduced to one
    weight per image (its mean over the non-batch axes), given to each of its
    classes.  The result over an empty epoch is 0.

    Examples
    --------
    >>> import numpy as np
    >>> metric = DiceCoefficient()
    >>> y_true = np.zeros((2, 4, 4, 1), "float32"); y_true[0, :2] = 1
    >>> y_pred = np.zeros((2, 4, 4, 1), "float32"); y_pred[0, :1] = 0.9
    >>> metric.update_state(y_true, y_pred)
    >>> round(float(metric.result()), 4)  # (2/3 + 1) / 2
    0.8333
    >>> metric.update_state(y_true[:1], y_pred[:1] * 0)  # one more image, Dice 0
    >>> round(float(metric.result()), 4)  # (2/3 + 1 + 0) / 3
    0.5556
    >>> positives = DiceCoefficient(positive_only=True, name="dice_positive")
    >>> positives.update_state(y_true, y_pred)  # image 1 has no region: not counted
    >>> round(float(positives.result()), 4)
    0.6667

    Two classes: four (image, class) pairs, each counting once.

    >>> two = DiceCoefficient()
    >>> two.update_state(np.concatenate([y_true, y_true * 0], -1),
    ...                  np.concatenate([y_pred, y_pred * 0], -1))
    >>> round(float(two.result()), 4)  # (2/3 + 1 + 1 + 1) / 4
    0.9167
    """

    def __init__(
        self,
        threshold: float = 0.5,
        empty: float = 1.0,
        name: str = "dice",
        dtype: Any = None,
        *,
        positive_only: bool = False,
    ):
        super().__init__(name=name, dtype=dtype)
        self.positive_only = bool(positive_only)
        try:
            self.threshold = float(threshold)
        except (TypeError, ValueError):
            raise ValueError(
                f"`threshold` must be a number. Received: threshold={threshold!r}"
            ) from None
        try:
            self.empty = float(empty)
        except (TypeError, ValueError):
            raise ValueError(f"`empty` must be a number. Received: empty={empty!r}") from None
        # float32 sums: exact for counts below 2**24 images, and distribution-safe
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        scores = per_class_dice(y_true, y_pred, threshold=self.threshold, empty=self.empty)
        if sample_weight is None:
            weights = ops.ones_like(scores)
        else:
            weights = ops.cast(sample_weight, "float32")
            weights = ops.reshape(weights, (ops.shape(weights)[0], -1))
            weights = ops.mean(weights, axis=1, keepdims=True) * ops.ones_like(scores)
        if self.positive_only:
            truth = _pairs(ops.reshape(y_true, ops.shape(y_pred)))
            weights = weights * ops.cast(ops.max(ops.abs(truth), axis=-1) > 0, "float32")
        self.total.assign_add(ops.sum(scores * weights))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        value = ops.where(self.count > 0, self.total / ops.maximum(self.count, 1e-12), 0.0)
        return ops.cast(value, self.dtype)

    def reset_state(self) -> None:
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "threshold": self.threshold,
            "empty": self.empty,
            "positive_only": self.positive_only,
        }
