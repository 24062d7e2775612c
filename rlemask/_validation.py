"""One place for argument validation (the model: scikit-image's ``_shared/utils.py``).

Every public function of the core checks its arguments through these helpers,
so that every message has the same shape::

    `name` must be <what is expected>; received name=<repr of the value>

Each helper returns the value normalised (ints as ``int``, arrays in native
byte order, bool arrays viewed as ``uint8``), so a caller can hand the result
straight to a numba kernel: kernels never see unvalidated input.

Limits
------
:data:`MAX_PIXELS` (``2**40``, one tebipixel: a 1 TiB ``uint8`` mask) bounds
``height * width`` of every shape and size.  Run arithmetic is done in
``int64``; keeping the pixel count this far below ``2**63`` means that no
``start + length``, no 1-based offset and no ``height * width`` product can
overflow, so an absurd shape such as ``(2**62, 8)`` is rejected here with a
clear :class:`rlemask.RLEError` instead of a numba ``TypingError`` or an
``OverflowError`` from deep inside a kernel.

Examples
--------
>>> from rlemask._validation import check_shape, check_size, is_empty_rle
>>> check_shape((1024, 1024))
(1024, 1024)
>>> check_size(256)
(256, 256)
>>> is_empty_rle(" -1"), is_empty_rle("1 2")
(True, False)
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from rlemask._errors import RLEError

__all__ = [
    "MAX_PIXELS",
    "check_area",
    "check_array",
    "check_array_2d",
    "check_choice",
    "check_connectivity",
    "check_mask",
    "check_order",
    "check_probability",
    "check_probability_map",
    "check_shape",
    "check_size",
    "check_threshold",
    "is_empty_rle",
]

#: Largest ``height * width`` accepted anywhere (see the module docstring).
MAX_PIXELS = 2**40

# the text values that mean "no mask" in labels files and submissions
_EMPTY_TEXT = ("", "-1")


def _is_int(value: Any) -> bool:
    """A Python or numpy integer, but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _received(name: str, value: Any) -> str:
    text = repr(value)
    if len(text) > 80:  # a whole array or a 1 MB string helps nobody
        text = text[:77] + "..."
    return f"received {name}={text}"


def _pair(value: Any) -> tuple[int, int] | None:
    """``(h, w)`` as ints when ``value`` is a pair of positive ints, else None."""
    if type(value) is tuple and len(value) == 2:  # fast path for the common case
        h, w = value
        if type(h) is int and type(w) is int and h > 0 and w > 0:
            return value
    if isinstance(value, (str, bytes)):
        return None
    try:
        items = tuple(value)
    except TypeError:
        return None
    if len(items) != 2 or not all(_is_int(v) and v > 0 for v in items):
        return None
    return int(items[0]), int(items[1])


def _check_pixels(hw: tuple[int, int], name: str, value: Any, error: type) -> tuple[int, int]:
    if hw[0] * hw[1] > MAX_PIXELS:
        raise error(
            f"`{name}` must have at most 2**40 pixels (height * width = {hw[0] * hw[1]}); "
            + _received(name, value)
        )
    return hw


def check_shape(shape: Any, name: str = "shape") -> tuple[int, int]:
    """A mask shape: two positive ints whose product is at most :data:`MAX_PIXELS`.

    Parameters
    ----------
    shape : sequence of two ints
        ``(height, width)``; numpy integers are accepted, bools are not.
    name : str
        The parameter's name, used in the message.

    Returns
    -------
    tuple of int
        ``(height, width)`` as Python ints.

    Raises
    ------
    RLEError
        Not two positive ints, or more than ``2**40`` pixels.  (A
        ``ValueError`` subclass.)

    Examples
    --------
    >>> import numpy as np
    >>> check_shape([np.int64(6), 5])
    (6, 5)
    >>> check_shape((2**62, 8))
    Traceback (most recent call last):
    ...
    rlemask._errors.RLEError: `shape` must have at most 2**40 pixels (height * width = 36893488147419103232); received shape=(4611686018427387904, 8)
    """  # noqa: E501
    hw = _pair(shape)
    if hw is None:
        raise RLEError(
            f"`{name}` must be (height, width), two positive ints; " + _received(name, shape)
        )
    return _check_pixels(hw, name, shape, RLEError)


def check_size(size: Any, name: str = "size") -> tuple[int, int]:
    """An output size: one positive int (square) or a ``(height, width)`` pair.

    Parameters
    ----------
    size : int or sequence of two ints
    name : str
        The parameter's name, used in the message (e.g. ``"img_size"``).

    Returns
    -------
    tuple of int
        ``(height, width)``.

    Raises
    ------
    ValueError
        Not a positive int or pair of positive ints, or more than ``2**40``
        pixels.

    Examples
    --------
    >>> check_size(256), check_size((128, 64))
    ((256, 256), (128, 64))
    >>> check_size(0, "img_size")
    Traceback (most recent call last):
    ...
    ValueError: `img_size` must be a positive int or a (height, width) pair of positive ints; received img_size=0
    """  # noqa: E501
    if type(size) is int and 0 < size <= 2**20:  # the common case, checked first
        return size, size
    hw = (int(size), int(size)) if _is_int(size) and size > 0 else _pair(size)
    if hw is None:
        raise ValueError(
            f"`{name}` must be a positive int or a (height, width) pair of positive ints; "
            + _received(name, size)
        )
    return _check_pixels(hw, name, size, ValueError)


def check_probability(value: Any, name: str) -> float:
    """A number in ``0..1`` (a probability or a threshold); NaN and bools rejected.

    Examples
    --------
    >>> check_probability(0.75, "top")
    0.75
    >>> check_probability(float("nan"), "top")
    Traceback (most recent call last):
    ...
    ValueError: `top` must be a number in 0..1; received top=nan
    """
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value <= 1.0  # also false for NaN
    ):
        raise ValueError(f"`{name}` must be a number in 0..1; " + _received(name, value))
    return float(value)


#: A threshold is validated exactly like a probability.
check_threshold = check_probability


def check_area(value: Any, name: str) -> int:
    """A pixel count: an int ``>= 0`` (bools rejected).

    Examples
    --------
    >>> check_area(2000, "min_area")
    2000
    >>> check_area(-1, "min_area")
    Traceback (most recent call last):
    ...
    ValueError: `min_area` must be an int >= 0 (pixels); received min_area=-1
    """
    if not _is_int(value) or value < 0:
        raise ValueError(f"`{name}` must be an int >= 0 (pixels); " + _received(name, value))
    return int(value)


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """One of ``choices``.

    Examples
    --------
    >>> check_choice("area", "method", ("nearest", "area"))
    'area'
    >>> check_choice("bilinear", "method", ("nearest", "area"))
    Traceback (most recent call last):
    ...
    ValueError: `method` must be one of 'nearest', 'area'; received method='bilinear'
    """
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {listed}; " + _received(name, value))
    return value


def check_path(path: Any, name: str = "path") -> str:
    """A file name: ``str`` or ``os.PathLike`` (bytes decoded), as ``str``.

    Examples
    --------
    >>> import pathlib
    >>> check_path(pathlib.Path("a") / "b.png") == str(pathlib.Path("a/b.png"))
    True
    >>> check_path(3)
    Traceback (most recent call last):
    ...
    TypeError: `path` must be a str or os.PathLike; received path of type int
    """
    try:
        value = os.fspath(path)
    except TypeError:
        raise TypeError(
            f"`{name}` must be a str or os.PathLike; received {name} of type {type(path).__name__}"
        ) from None
    return os.fsdecode(value) if isinstance(value, bytes) else value


def check_connectivity(connectivity: Any, name: str = "connectivity") -> bool:
    """A pixel neighbourhood, 4 or 8; returns True for 8 (corners connect).

    Examples
    --------
    >>> check_connectivity(8)
    True
    >>> check_connectivity(6)
    Traceback (most recent call last):
    ...
    ValueError: `connectivity` must be 4 or 8; received connectivity=6
    """
    if isinstance(connectivity, (bool, np.bool_)) or connectivity not in (4, 8):
        raise ValueError(f"`{name}` must be 4 or 8; " + _received(name, connectivity))
    return connectivity == 8


def check_order(order: Any, name: str = "order") -> str:
    """A scan order: ``"F"`` (column-major) or ``"C"`` (row-major).

    Examples
    --------
    >>> check_order("C")
    'C'
    >>> check_order("X")
    Traceback (most recent call last):
    ...
    ValueError: `order` must be 'F' (column-major) or 'C' (row-major); received order='X'
    """
    if not isinstance(order, str) or order not in ("F", "C"):
        raise ValueError(
            f"`{name}` must be 'F' (column-major) or 'C' (row-major); " + _received(name, order)
        )
    return order


def _native(arr: np.ndarray) -> np.ndarray:
    # numba compiles only for native byte order: a big-endian array is converted once
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def check_array(
    array: Any, name: str, *, ndim: tuple[int, ...] = (2,), allow_empty: bool = False
) -> np.ndarray:
    """An array of numbers or booleans with one of the dimensions ``ndim``, native byte order.

    Bool arrays are returned as a ``uint8`` view and ``float16`` as
    ``float32`` (numba has neither); the layout is kept.

    Raises
    ------
    ValueError
        Another number of dimensions, empty (unless ``allow_empty``), or not
        numeric.

    Examples
    --------
    >>> import numpy as np
    >>> check_array(np.eye(2, dtype=">f8"), "image").dtype
    dtype('float64')
    >>> check_array(np.zeros(3), "image")
    Traceback (most recent call last):
    ...
    ValueError: `image` must be a 2-D array (H, W); received image.shape=(3,)
    >>> check_array(np.zeros(3), "preds", ndim=(3, 4))
    Traceback (most recent call last):
    ...
    ValueError: `preds` must be a 3-D or 4-D array; received preds.shape=(3,)
    """
    arr = np.asarray(array)
    if arr.ndim not in ndim:
        dims = " or ".join(f"{n}-D" for n in ndim)
        want = "a 2-D array (H, W)" if ndim == (2,) else f"a {dims} array"
        raise ValueError(f"`{name}` must be {want}; received {name}.shape={arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(
            f"`{name}` must have a positive height and width; received {name}.shape={arr.shape}"
        )
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"`{name}` must hold numbers or booleans; received {name}.dtype={arr.dtype}"
        )
    if arr.dtype == np.bool_:
        return arr.view(np.uint8)
    if arr.dtype.kind == "f" and arr.dtype.itemsize == 2:  # either byte order
        return arr.astype(np.float32)
    return _native(arr)


def check_array_2d(array: Any, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """A 2-D array of numbers or booleans, in native byte order (see :func:`check_array`).

    Examples
    --------
    >>> import numpy as np
    >>> check_array_2d(np.ones((2, 2), bool), "mask").dtype
    dtype('uint8')
    """
    return check_array(array, name, allow_empty=allow_empty)


def check_mask(mask: Any, name: str = "mask") -> np.ndarray:
    """A 2-D bool or integer mask (non-zero = foreground), any layout or byte order.

    Returns
    -------
    numpy.ndarray
        The same data, as a ``uint8`` view for bool, in native byte order
        (a big-endian array is converted), layout kept.

    Raises
    ------
    ValueError
        Not 2-D, or a zero height or width (:class:`rlemask.RLEError`).
    TypeError
        A float or other non-integer dtype: threshold probabilities first.

    Examples
    --------
    >>> import numpy as np
    >>> check_mask(np.eye(2, dtype=">i4")).dtype
    dtype('int32')
    >>> check_mask(np.eye(2))
    Traceback (most recent call last):
    ...
    TypeError: `mask` must be a bool or integer array (non-zero = foreground); threshold probabilities first; received mask.dtype=float64
    """  # noqa: E501
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D array (H, W); received {name}.shape={arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise RLEError(
            f"`{name}` must have a positive height and width; received {name}.shape={arr.shape}"
        )
    if arr.dtype == np.bool_:
        return arr.view(np.uint8)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"`{name}` must be a bool or integer array (non-zero = foreground); threshold "
            f"probabilities first; received {name}.dtype={arr.dtype}"
        )
    return _native(arr)


def check_probability_map(prob: Any, name: str = "prob") -> np.ndarray:
    """A 2-D map of probabilities (float) or a mask (bool/int), without NaN.

    Returns the array as :func:`check_array_2d` does.

    Raises
    ------
    ValueError
        Not 2-D, not numeric, or holding NaN.

    Examples
    --------
    >>> import numpy as np
    >>> check_probability_map(np.full((2, 2), 0.5, np.float16)).dtype
    dtype('float32')
    >>> check_probability_map(np.full((2, 2), np.nan))
    Traceback (most recent call last):
    ...
    ValueError: `prob` must not contain NaN; received prob with 4 NaN values
    """
    arr = check_array_2d(prob, name, allow_empty=True)
    if arr.dtype.kind == "f":
        nan = int(np.isnan(arr).sum())
        if nan:
            raise ValueError(
                f"`{name}` must not contain NaN; received {name} with {nan} NaN values"
            )
    return arr


def is_empty_rle(value: Any) -> bool:
    """Whether ``value`` is one of the markers of an empty mask.

    The markers: ``None``, a float NaN of any type (``float("nan")``,
    ``np.float32("nan")``: pandas' empty cell), and the texts ``""``,
    ``"-1"`` with any surrounding whitespace (``" -1"`` of SIIM stage 1), as
    ``str`` or ``bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> [is_empty_rle(v) for v in (None, np.float32("nan"), "", " -1", b"-1", "0 1", 3)]
    [True, True, True, True, True, False, False]
    """
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in _EMPTY_TEXT
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).strip() in (b"", b"-1")
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return math.isnan(value)
    return False
