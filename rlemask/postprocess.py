"""Turning probability maps into masks: the SIIM winners' post-processing.

* :func:`triplet_threshold` — the 1st-place "triplet" binarisation: an image
  is declared empty unless enough pixels are confidently foreground.
* :func:`remove_small_regions` — drop connected regions below a pixel count.

Pixel counts (``min_area``) are in pixels of the array you pass.  The
published values were tuned on 1024 x 1024 probability maps; for a map of
``S x S`` pixels scale them by the pixel area:
``min_area_S = round(min_area_1024 * (S / 1024) ** 2)`` (2000 at 1024 is 500
at 512 and 125 at 256).
"""

from __future__ import annotations

import numbers

import numpy as np

from rlemask._metric_kernels import _prob_scan

__all__ = ["remove_small_regions", "triplet_threshold"]


def _check_2d(array, name: str) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D array (H, W); received shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"`{name}` must hold numbers or booleans; received dtype {arr.dtype}")
    return arr


def _check_area(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"`{name}` must be an int >= 0 (pixels); received {name}={value!r}")
    return int(value)


def _check_probability(value, name: str) -> float:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value <= 1.0  # also false for NaN
    ):
        raise ValueError(f"`{name}` must be a number in 0..1; received {name}={value!r}")
    return float(value)


def remove_small_regions(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Remove the connected regions of fewer than ``min_area`` pixels.

    Regions are 8-connected: pixels touching by an edge or a corner belong
    to the same region.

    Parameters
    ----------
    mask : array_like, shape (H, W)
        Any numeric or boolean dtype; non-zero = foreground.
    min_area : int
        Smallest region kept, in pixels at the resolution of ``mask`` (see the
        module docstring for scaling).  0 or 1 keeps everything.

    Returns
    -------
    numpy.ndarray
        ``uint8`` (H, W) of 0 and 1, a new array.

    Raises
    ------
    ValueError
        ``mask`` not 2-D or holding NaN; ``min_area`` not an int >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> mask = np.zeros((4, 6), np.uint8)
    >>> mask[0, 0] = 1                 # 1 pixel
    >>> mask[1:3, 3:5] = 1             # 4 pixels
    >>> rlemask.remove_small_regions(mask, 2)
    array([[0, 0, 0, 0, 0, 0],
           [0, 0, 0, 1, 1, 0],
           [0, 0, 0, 1, 1, 0],
           [0, 0, 0, 0, 0, 0]], dtype=uint8)
    """
    arr = _check_2d(mask, "mask")
    min_area = _check_area(min_area, "min_area")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError("`mask` must not contain NaN")
    foreground = arr != 0
    if min_area <= 1:
        return np.ascontiguousarray(foreground, dtype=np.uint8)
    from skimage.measure import label  # heavy import, kept out of `import rlemask`

    labels = label(foreground, connectivity=2)
    keep = np.bincount(labels.ravel()) >= min_area
    keep[0] = False  # background
    return np.ascontiguousarray(keep[labels]).view(np.uint8)


def triplet_threshold(
    prob: np.ndarray, top: float = 0.75, min_area: int = 2000, bottom: float = 0.3
) -> np.ndarray:
    """Binarise a probability map with the 1st-place SIIM "triplet" rule.

    The image is declared empty when fewer than ``min_area`` pixels exceed
    ``top``; otherwise the mask is ``prob > bottom``.  The defaults
    (0.75, 2000, 0.3) are the winner's validation values at 1024 x 1024;
    (0.7, 600, 0.3) did best on the public board.

    Parameters
    ----------
    prob : array_like, shape (H, W)
        Probabilities in 0..1 (any real dtype).  Not logits: values outside
        0..1 are rejected.
    top : float
        Confidence level in 0..1 that decides whether the image has a region.
    min_area : int
        Pixels that must exceed ``top``, counted at the resolution of
        ``prob``.  Scale it with the pixel area for other sizes:
        ``round(min_area * (S / 1024) ** 2)`` for an ``S x S`` map.
    bottom : float
        Threshold in 0..1 of the mask kept for non-empty images.

    Returns
    -------
    numpy.ndarray
        ``uint8`` (H, W) of 0 and 1.

    Raises
    ------
    ValueError
        ``prob`` not 2-D, not real, holding NaN or values outside 0..1;
        ``top``/``bottom`` outside 0..1; ``min_area`` not an int >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> prob = np.zeros((4, 4), np.float32)
    >>> prob[0, :3] = [0.9, 0.8, 0.4]
    >>> rlemask.triplet_threshold(prob, top=0.75, min_area=2, bottom=0.3)[0]
    array([1, 1, 1, 0], dtype=uint8)
    >>> int(rlemask.triplet_threshold(prob, top=0.75, min_area=3, bottom=0.3).sum())
    0
    """
    arr = _check_2d(prob, "prob")
    if arr.dtype.kind == "b":
        raise ValueError("`prob` must hold probabilities (real numbers); received dtype bool")
    top = _check_probability(top, "top")
    bottom = _check_probability(bottom, "bottom")
    min_area = _check_area(min_area, "min_area")
    if arr.dtype == np.float16 or not arr.dtype.isnative:
        arr = arr.astype(np.float32)
    arr = np.ascontiguousarray(arr)
    if arr.size == 0:
        return np.zeros(arr.shape, np.uint8)
    if arr.dtype.kind == "f":
        # compare in the map's precision (as numpy does): float32 0.3 is not above 0.3
        top, bottom = arr.dtype.type(top), arr.dtype.type(bottom)
    above, nan, lo, hi = _prob_scan(arr.reshape(-1), top)
    if nan:
        raise ValueError(f"`prob` must not contain NaN; found {nan} NaN values")
    if lo < 0 or hi > 1:
        raise ValueError(
            f"`prob` must hold probabilities in 0..1; received values from {lo} to {hi}"
        )
    if above < min_area:
        return np.zeros(arr.shape, np.uint8)
    return (arr > bottom).view(np.uint8)
