"""Resizing images and masks without losing what they mean.

Images are resampled to ``float32`` (values keep their units: a 0..255 image
stays 0..255).  Masks stay masks: :func:`resize_mask` always returns a
``uint8`` array of 0 and 1, never interpolated values, whatever the input
dtype (non-zero = foreground).

Geometry shared by every method: pixel ``i`` covers ``[i, i + 1)`` and its
centre is ``i + 0.5``; resizing an axis from ``n_in`` to ``n_out`` pixels maps
the output pixel ``i`` onto the input interval
``[i * n_in / n_out, (i + 1) * n_in / n_out)`` (its footprint).  Nearest
sampling takes the input pixel under the footprint's centre, computed in
integers (``((2 * i + 1) * n_in) // (2 * n_out)``), so that scaling a mask up
by an integer factor and back down gives the same mask.
"""

from __future__ import annotations

import sys

import numpy as np

from rlemask import _resize_kernels as _k
from rlemask._axis_maps import any_ranges, nearest_index
from rlemask._validation import check_array_2d, check_choice, check_size

__all__ = ["resize_image", "resize_mask"]

IMAGE_METHODS = ("area", "bilinear", "nearest")
MASK_METHODS = ("nearest", "any", "area")

_LITTLE_ENDIAN = sys.byteorder == "little"
_WORD = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _orient(arr: np.ndarray, oh: int, ow: int):
    """C-contiguous working array; a Fortran-ordered input is used transposed.

    Every method treats the two axes alike, so resizing ``arr.T`` to
    ``(ow, oh)`` and transposing the (small) result back equals resizing
    ``arr``, without paying for a transposed copy of the input.
    """
    if arr.flags.c_contiguous:
        return arr, oh, ow, False
    if arr.flags.f_contiguous:
        return arr.T, ow, oh, True
    return np.ascontiguousarray(arr), oh, ow, False


def _finish(out: np.ndarray, transposed: bool) -> np.ndarray:
    return np.ascontiguousarray(out.T) if transposed else out


# --------------------------------------------------------------------------
# axis maps (nearest and "any" come from rlemask._axis_maps, shared with Runs.resize)


def _linear_axis(n_in: int, n_out: int):
    """Neighbours and weight for half-pixel-centred linear interpolation."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0.0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, src - lo


def _integer_factors(ih: int, iw: int, oh: int, ow: int) -> tuple[int, int] | None:
    if ih % oh == 0 and iw % ow == 0:
        return ih // oh, iw // ow
    return None


def _words(arr: np.ndarray, nbytes: int) -> np.ndarray | None:
    """``arr`` (C-contiguous uint8) viewed as native words of ``nbytes``, if possible.

    A view at an odd address is fine: numba compiles unaligned loads for it.
    The byte masks assume little-endian words.
    """
    if not _LITTLE_ENDIAN or arr.shape[1] % nbytes:
        return None
    return arr.view(_WORD[nbytes])


# --------------------------------------------------------------------------
# public API


def resize_image(
    image: np.ndarray, size: int | tuple[int, int], *, method: str = "area"
) -> np.ndarray:
    """Resize a 2-D image; the result is ``float32``.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Grey-level image of any real or boolean dtype and any memory layout.
        Values keep their units (no rescaling to 0..1).
    size : int or (int, int)
        Output size: an int for a square ``(size, size)`` or ``(height, width)``.
    method : {"area", "bilinear", "nearest"}
        ``"area"`` (for shrinking): each output pixel is the mean of the input
        over its footprint, weighted by exact overlap areas.  For integer
        factors (1024 -> 256) that is the exact block mean; non-integer
        factors and enlarging also work (enlarging by an integer factor
        repeats pixels; otherwise edges are blended by area).
        ``"bilinear"`` (for enlarging): half-pixel-centred linear
        interpolation (as OpenCV ``INTER_LINEAR``, PyTorch
        ``align_corners=False``), clamped at the borders; it does not
        anti-alias, so do not use it to shrink.
        ``"nearest"``: the input pixel under each output pixel's centre.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``size``, C-contiguous.

    Raises
    ------
    ValueError
        ``image`` not 2-D, empty or not numeric; ``size`` not positive;
        unknown ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    >>> rlemask.resize_image(image, 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    >>> rlemask.resize_image(np.eye(2), 4, method="bilinear")[0]
    array([1.  , 0.75, 0.25, 0.  ], dtype=float32)
    """
    # native byte order, bool as uint8, float16 as float32: what the kernels take
    arr = check_array_2d(image, "image")
    oh, ow = check_size(size)
    check_choice(method, "method", IMAGE_METHODS)
    arr, oh, ow, transposed = _orient(arr, oh, ow)
    ih, iw = arr.shape
    out = np.empty((oh, ow), np.float32)
    if method == "area":
        factors = _integer_factors(ih, iw, oh, ow)
        if factors is not None:
            fy, fx = factors
            # 8-bit block sums stay below 2**24, so float32 adds them exactly (and faster)
            exact32 = arr.dtype.itemsize == 1 and 255 * fy * fx < 2**24
            acc = np.empty(iw, np.float32 if exact32 else np.float64)
            _k._block_mean(arr, fy, fx, acc, out)
        else:
            rs, rn, rw = _k._area_axis(ih, oh)
            cs, cn, cw = _k._area_axis(iw, ow)
            sums = np.empty((oh, ow), np.float64)
            _k._area_sums(arr, rs, rn, rw, cs, cn, cw, sums)
            np.multiply(sums, 1.0 / (ih * iw), out=out, casting="same_kind")
    elif method == "bilinear":
        _k._bilinear(arr, *_linear_axis(ih, oh), *_linear_axis(iw, ow), out)
    else:
        _k._gather_values(arr, nearest_index(ih, oh), nearest_index(iw, ow), out)
    return _finish(out, transposed)


def resize_mask(
    mask: np.ndarray, size: int | tuple[int, int], *, method: str = "nearest"
) -> np.ndarray:
    """Resize a 2-D mask; the result is always ``uint8`` of 0 and 1.

    Parameters
    ----------
    mask : array_like, shape (H, W)
        Any dtype and memory layout; non-zero = foreground (so 0/255 masks
        work).  A float array is read the same way: threshold probabilities
        first (``prob > 0.5`` or :func:`rlemask.triplet_threshold`), because
        0.01 counts as foreground here.  NaN is rejected.
    size : int or (int, int)
        Output size: an int for a square ``(size, size)`` or ``(height, width)``.
    method : {"nearest", "any", "area"}
        ``"nearest"``: the input pixel under each output pixel's centre.
        Enlarging by an integer factor and shrinking back by the same
        factor returns the original mask exactly.
        ``"any"`` (max-pool): an output pixel is foreground when any input
        pixel under its footprint is, so a region never disappears when
        shrunk (it may grow by up to one output pixel).  Along an axis that
        is enlarged, ``"any"`` is ``"nearest"``.
        ``"area"``: foreground when at least half of the footprint's area is
        foreground (exact overlap areas, integer arithmetic: a tie at exactly
        one half is foreground).  Small regions may vanish.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of 0 and 1, shape ``size``, C-contiguous.

    Raises
    ------
    ValueError
        ``mask`` not 2-D, empty, not numeric or holding NaN; ``size`` not
        positive; unknown ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> import rlemask
    >>> mask = np.zeros((4, 4), np.uint8)
    >>> mask[0, 0] = 255
    >>> rlemask.resize_mask(mask, 2, method="any")
    array([[1, 0],
           [0, 0]], dtype=uint8)
    >>> rlemask.resize_mask(mask, 2, method="nearest")
    array([[0, 0],
           [0, 0]], dtype=uint8)
    >>> small = np.array([[1, 0], [0, 1]], dtype=bool)
    >>> big = rlemask.resize_mask(small, 4)
    >>> bool((rlemask.resize_mask(big, 2) == small).all())
    True
    """
    arr = check_array_2d(mask, "mask")  # bool comes back as a uint8 view
    oh, ow = check_size(size)
    check_choice(method, "method", MASK_METHODS)
    if arr.dtype != np.uint8:
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError("`mask` must not contain NaN; threshold probabilities first")
        arr = (arr != 0).view(np.uint8)
    arr, oh, ow, transposed = _orient(arr, oh, ow)
    ih, iw = arr.shape
    out = np.empty((oh, ow), np.uint8)
    factors = _integer_factors(ih, iw, oh, ow)
    if method == "nearest":
        fx = factors[1] if factors else 0
        words = _words(arr, fx) if fx in (2, 4, 8) else None
        if words is not None:
            # the sampled column of each block is byte fx // 2 of its word
            byte_mask = _WORD[fx](0xFF << (8 * (fx // 2)))
            _k._gather_word_byte(words, factors[0], factors[0] // 2, byte_mask, out)
        else:
            _k._gather_nonzero(arr, nearest_index(ih, oh), nearest_index(iw, ow), out)
    elif method == "any":
        fx = factors[1] if factors else 0
        words64 = _words(arr, 8) if fx in (1, 2, 4, 8) else None
        if words64 is not None:
            rows = np.empty((oh, iw // 8), np.uint64)
            _k._rows_or_words(words64, factors[0], rows)
            _k._nonzero(rows.view(_WORD[fx]), out)
        elif factors is not None:
            _k._block_any(arr, factors[0], factors[1], out)
        else:
            _k._range_any(arr, *any_ranges(ih, oh), *any_ranges(iw, ow), out)
    else:
        if factors is not None:
            _k._block_majority(arr, factors[0], factors[1], out)
        else:
            binary = (arr != 0).view(np.uint8)  # weights multiply values: need 0/1
            rs, rn, rw = _k._area_axis(ih, oh)
            cs, cn, cw = _k._area_axis(iw, ow)
            sums = np.empty((oh, ow), np.float64)
            _k._area_sums(binary, rs, rn, rw, cs, cn, cw, sums)
            # sums are integer-valued floats (exact below 2**53): the test is exact
            np.greater_equal(2.0 * sums, float(ih * iw), out=out, casting="unsafe")
    return _finish(out, transposed)
