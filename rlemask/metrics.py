"""Per-image Dice and IoU, the way the SIIM-ACR competition scored them.

For one image with predicted foreground ``X`` and true foreground ``Y``:

* Dice ``= 2 |X ∩ Y| / (|X| + |Y|)``; IoU ``= |X ∩ Y| / |X ∪ Y|``.
* Both empty: the score is ``empty`` (1.0 in the competition).  Pass
  ``empty=float("nan")`` to leave such images out of a ``np.nanmean``.
* A non-empty prediction on an empty truth scores 0, and so does an empty
  prediction on a non-empty truth.

Scores are always per image; a data set's score is the mean of the per-image
scores, never a Dice pooled over a batch (that number is not comparable with
the leaderboard).

Foreground conventions:

* :func:`dice` and :func:`iou` take masks: any non-zero value is foreground
  (bool, 0/1, 0/255 all work).  Threshold probabilities first, or use
  :func:`dice_scores`.
* :func:`dice_scores` takes a batch of predictions that may be
  probabilities: a prediction pixel is foreground when ``pred > threshold``
  (strictly greater; 0.5 by default), a target pixel when it is non-zero.
  ``rlemask_keras.DiceCoefficient`` applies the same rule.
"""

from __future__ import annotations

import numpy as np

from rlemask._metric_kernels import _count_batch, _count_pair, _runs_counts
from rlemask._validation import check_array, check_threshold
from rlemask.runs import Runs

__all__ = ["dice", "dice_scores", "iou"]


def _is_runs(value) -> bool:
    return not isinstance(value, np.ndarray) and isinstance(value, Runs)


def _as_numeric(array, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    # empty arrays are fine here: nothing predicted and nothing true scores ``empty``
    return check_array(array, name, ndim=ndim, allow_empty=True)


def _same_order_flat(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays flattened in one common element order, copying only if needed."""
    if a.flags.c_contiguous and b.flags.c_contiguous:
        return a.reshape(-1), b.reshape(-1)
    if a.flags.f_contiguous and b.flags.f_contiguous:
        return a.T.reshape(-1), b.T.reshape(-1)
    return np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)


def _counts(pred, target) -> tuple[int, int, int]:
    """``(|pred|, |target|, |pred ∩ target|)`` of two masks or two Runs."""
    pred_runs, target_runs = _is_runs(pred), _is_runs(target)
    if pred_runs and target_runs:
        if tuple(pred.shape) != tuple(target.shape):
            raise ValueError(
                "`pred` and `target` must have the same shape; "
                f"received pred.shape={tuple(pred.shape)}, target.shape={tuple(target.shape)}"
            )
        if pred.order != target.order:
            raise ValueError(
                "`pred` and `target` must be runs of the same scan order; "
                f"received pred.order={pred.order!r}, target.order={target.order!r}"
            )
        # intersection area on the runs: no 1024 x 1024 array is ever built
        na, nb, nab = _runs_counts(pred.starts, pred.lengths, target.starts, target.lengths)
        return int(na), int(nb), int(nab)
    if pred_runs or target_runs:
        raise TypeError(
            "`pred` and `target` must both be arrays or both be rlemask.Runs; received "
            f"{type(pred).__name__} and {type(target).__name__}"
        )
    a = _as_numeric(pred, "pred", (2,))
    b = _as_numeric(target, "target", (2,))
    if a.shape != b.shape:
        raise ValueError(
            "`pred` and `target` must have the same shape; "
            f"received pred.shape={a.shape}, target.shape={b.shape}"
        )
    for arr, name in ((a, "pred"), (b, "target")):
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError(f"`{name}` must not contain NaN")
    na, nb, nab = _count_pair(*_same_order_flat(a, b))
    return int(na), int(nb), int(nab)


def dice(pred, target, *, empty: float = 1.0) -> float:
    """Dice coefficient of one predicted mask against its truth.

    Parameters
    ----------
    pred, target : array_like of shape (H, W), or rlemask.Runs
        Two masks of the same shape (any numeric or bool dtype, any layout,
        non-zero = foreground), or two :class:`rlemask.Runs` of the same
        shape, scored on their runs without decoding.
    empty : float
        The score when both are empty (1.0, as in the competition).

    Returns
    -------
    float
        ``2 |X ∩ Y| / (|X| + |Y|)``; ``empty`` when both are empty; 0.0 when
        exactly one is empty.

    Raises
    ------
    ValueError
        Shapes differ, an array is not 2-D, not numeric, or holds NaN.
    TypeError
        One argument is a ``Runs`` and the other an array.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> truth = np.zeros((4, 4), np.uint8)
    >>> truth[:2, :2] = 1
    >>> pred = np.zeros((4, 4), np.uint8)
    >>> pred[:2, :1] = 255
    >>> round(rlemask.dice(pred, truth), 4)
    0.6667
    >>> rlemask.dice(np.zeros((4, 4)), np.zeros((4, 4)))
    1.0
    >>> rlemask.dice(pred, np.zeros((4, 4)))
    0.0
    """
    na, nb, nab = _counts(pred, target)
    if na + nb == 0:
        return float(empty)
    return 2.0 * nab / (na + nb)


def iou(pred, target, *, empty: float = 1.0) -> float:
    """Intersection over union (Jaccard index) of one mask against its truth.

    Parameters and conventions as :func:`dice`.

    Returns
    -------
    float
        ``|X ∩ Y| / |X ∪ Y|``; ``empty`` when both are empty; 0.0 when
        exactly one is empty.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> truth = np.zeros((4, 4), np.uint8)
    >>> truth[:2, :2] = 1
    >>> pred = np.zeros((4, 4), bool)
    >>> pred[:2, :1] = True
    >>> rlemask.iou(pred, truth)
    0.5
    """
    na, nb, nab = _counts(pred, target)
    union = na + nb - nab
    if union == 0:
        return float(empty)
    return nab / union


def dice_scores(preds, targets, *, threshold: float = 0.5, empty: float = 1.0) -> np.ndarray:
    """Dice of every image of a batch, one score per image.

    Parameters
    ----------
    preds : array_like, shape (N, H, W) or (N, H, W, 1)
        Predictions: probabilities or masks, any numeric or bool dtype.  A
        pixel is predicted foreground when ``pred > threshold`` (strictly).
        A trailing channel axis of length 1 (Keras layout) is accepted.
    targets : array_like, same shape as ``preds``
        True masks; non-zero = foreground.
    threshold : float
        In 0..1.  0.5 by default; 0/1 and 0/255 masks pass unchanged.
    empty : float
        Score of an image whose prediction and truth are both empty.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape (N,).  Its mean is the competition score.

    Raises
    ------
    ValueError
        Shapes differ or are not (N, H, W[, 1]); NaN in either array;
        ``threshold`` outside 0..1.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> targets = np.zeros((3, 2, 2), np.uint8)
    >>> targets[0, 0, 0] = targets[1, 0, 0] = 1
    >>> preds = np.zeros((3, 2, 2), np.float32)
    >>> preds[0, 0, 0] = 0.9        # right
    >>> preds[1, 0, 0] = 0.5        # not > 0.5: predicted empty
    >>> rlemask.dice_scores(preds, targets)
    array([1., 0., 1.])
    """
    thr = check_threshold(threshold, "threshold")
    p = _as_numeric(preds, "preds", (3, 4))
    t = _as_numeric(targets, "targets", (3, 4))
    if p.shape != t.shape:
        raise ValueError(
            "`preds` and `targets` must have the same shape; "
            f"received preds.shape={p.shape}, targets.shape={t.shape}"
        )
    if p.ndim == 4 and p.shape[3] != 1:
        raise ValueError(
            f"`preds` must be (N, H, W) or (N, H, W, 1); received preds.shape={p.shape}"
        )
    n = p.shape[0]
    if n == 0:
        return np.empty(0, np.float64)
    counts = np.empty((n, 3), np.int64)
    flat_p = np.ascontiguousarray(p).reshape(n, -1)
    flat_t = np.ascontiguousarray(t).reshape(n, -1)
    if p.dtype.kind == "f":
        # compare in the predictions' precision, as numpy and Keras do: a float32
        # probability 0.2 is not above a threshold of 0.2
        thr = p.dtype.type(thr)
    if _count_batch(flat_p, flat_t, thr, counts):
        raise ValueError("`preds` and `targets` must not contain NaN")
    total = counts[:, 0] + counts[:, 1]
    scores = np.full(n, float(empty), np.float64)
    np.divide(2.0 * counts[:, 2], total, out=scores, where=total > 0)
    return scores
