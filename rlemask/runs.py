"""``Runs``: the in-memory run-length form that every format parses to and prints from.

A mask of shape ``(H, W)`` is scanned in one of two orders:

* ``"F"`` (column-major, the default and the order of the SIIM, Kaggle and
  COCO formats): pixel ``p`` is row ``p % H``, column ``p // H``;
* ``"C"`` (row-major): pixel ``p`` is row ``p // W``, column ``p % W``.

A run is a 0-based absolute ``start`` and a ``length`` (both ``int64``).
Canonical runs -- the only kind a :class:`Runs` holds -- are sorted, have
positive lengths, do not overlap and do not touch (touching runs are merged
when the object is built), and end inside the ``H * W`` pixels.  Two masks are
equal exactly when their canonical runs (in the same order) are equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlemask._errors import RLEError
from rlemask._validation import check_mask, check_shape

_ORDERS = ("F", "C")


def _check_shape(shape: Any, name: str = "shape") -> tuple[int, int]:
    """Return ``shape`` as a tuple of two positive ints or raise :class:`RLEError`."""
    return check_shape(shape, name)


def _check_order(order: Any) -> str:
    if order not in _ORDERS:
        raise ValueError(f"`order` must be 'F' (column-major) or 'C'. Received: order={order!r}")
    return order


def _as_mask(mask: Any, name: str = "mask") -> np.ndarray:
    """A 2-D bool/integer array (uint8 view for bool, native byte order), any layout."""
    return check_mask(mask, name)


def _colmajor(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column-major runs of a C-contiguous 2-D array (word kernel for uint8 when it fits)."""
    from rlemask import _kernels as k

    # the word kernel sums bytes in 8-bit lanes: at most 255 words (2040 pixels) per row
    if arr.dtype == np.uint8 and arr.shape[1] % 8 == 0 and arr.shape[1] <= 2040:
        return k._runs_colmajor_words(arr, arr.view(np.uint64))
    return k._runs_colmajor(arr)


class Runs:
    """Canonical runs of a binary mask: 0-based absolute starts and lengths.

    Parameters
    ----------
    starts, lengths : array-like of int
        0-based absolute start pixel and length of each run, in scan order.
        Runs must be sorted, positive and non-overlapping; touching runs are
        merged.
    shape : (int, int)
        Mask shape ``(H, W)``.
    order : {"F", "C"}
        Scan order: ``"F"`` column-major (default, as the SIIM, Kaggle and COCO
        formats), ``"C"`` row-major.

    Raises
    ------
    RLEError
        Unsorted, overlapping, empty or out-of-range runs, or a bad shape.

    Examples
    --------
    >>> import numpy as np
    >>> from rlemask import Runs
    >>> mask = np.array([[0, 1], [1, 1]], dtype=np.uint8)
    >>> runs = Runs.from_mask(mask)
    >>> runs
    Runs(starts=[1], lengths=[3], shape=(2, 2), order='F')
    >>> runs.area, runs.bbox()
    (3, (0, 0, 2, 2))
    >>> runs.to_text()
    '1 3'
    >>> (runs & Runs([0], [2], (2, 2))).to_mask()
    array([[0, 0],
           [1, 0]], dtype=uint8)
    """

    __slots__ = ("starts", "lengths", "shape", "order")
    __hash__ = None  # mutable-looking container of arrays; compare with ==

    def __init__(self, starts: Any, lengths: Any, shape: tuple[int, int], order: str = "F"):
        from rlemask import _kernels as k

        shape = _check_shape(shape)
        order = _check_order(order)
        for name, values in (("starts", starts), ("lengths", lengths)):
            kind = np.asarray(values).dtype.kind
            if kind not in "iu" and np.asarray(values).size:
                raise RLEError(f"`{name}` must hold integers. Received: dtype {kind!r}")
        s = np.ascontiguousarray(starts, dtype=np.int64).reshape(-1)
        ln = np.ascontiguousarray(lengths, dtype=np.int64).reshape(-1)
        if s.shape != ln.shape:
            raise RLEError(
                f"`starts` and `lengths` must have the same size. "
                f"Received: {s.size} starts and {ln.size} lengths"
            )
        npix = shape[0] * shape[1]
        err, i = k._check_runs(s, ln, npix)
        if err:
            i = int(i)
            what = {
                k.ERR_BAD_LENGTH: "has a length <= 0",
                k.ERR_BAD_START: "starts before pixel 0",
                k.ERR_OVERLAP: "overlaps the previous run or goes backwards",
                k.ERR_PAST_END: f"runs past the last pixel (H*W = {npix})",
            }[int(err)]
            raise RLEError(f"run {i} (start={s[i]}, length={ln[i]}) {what}")
        if s.size > 1 and np.any(s[1:] == s[:-1] + ln[:-1]):
            s, ln = k._merge_sorted(s, ln)
        self._set(s, ln, shape, order)

    def _set(self, starts, lengths, shape, order):
        starts.flags.writeable = False
        lengths.flags.writeable = False
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "order", order)

    @classmethod
    def _trusted(cls, starts: np.ndarray, lengths: np.ndarray, shape, order: str) -> Runs:
        """Wrap runs a kernel produced (already canonical): no validation."""
        self = object.__new__(cls)
        self._set(starts, lengths, shape, order)
        return self

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_mask(cls, mask: Any, order: str = "F") -> Runs:
        """Runs of the non-zero pixels of a 2-D bool or integer mask, any layout.

        Parameters
        ----------
        mask : array-like, shape (H, W)
            bool or integer; non-zero is foreground.  C, Fortran or strided
            layouts are all accepted; nothing is transposed.
        order : {"F", "C"}
            Scan order of the runs.

        Examples
        --------
        >>> import numpy as np
        >>> Runs.from_mask(np.eye(3, dtype=bool)).starts
        array([0, 4, 8])
        """
        from rlemask import _kernels as k

        order = _check_order(order)
        arr = _as_mask(mask)
        shape = (int(arr.shape[0]), int(arr.shape[1]))
        # never transpose: pick the kernel that reads the layout in memory order.
        # A strided view is copied first (measured: a copy plus the contiguous
        # kernel beats the strided-read kernel 3x).
        if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
            arr = np.ascontiguousarray(arr)
        if order == "F":
            if arr.flags.f_contiguous:
                s, ln = k._runs_linear(arr.ravel(order="F"))
            else:
                s, ln = _colmajor(arr)
        else:
            if arr.flags.c_contiguous:
                s, ln = k._runs_linear(arr.ravel())
            else:  # F-contiguous: arr.T is C-contiguous and its column-major scan is
                s, ln = _colmajor(arr.T)  # arr's row-major scan
        return cls._trusted(s, ln, shape, order)

    @classmethod
    def from_text(cls, text: Any, shape: tuple[int, int], format: str = "siim", **options) -> Runs:
        """Parse ``text`` in the named format (see :func:`rlemask.formats`).

        Examples
        --------
        >>> Runs.from_text("1 2 7 1", (6, 5)).starts
        array([ 1, 10])
        """
        from rlemask._formats import get_format

        return get_format(format).parse(text, _check_shape(shape), **options)

    def to_text(self, format: str = "siim", **options) -> Any:
        """Print the runs in the named format (a ``str``; a ``dict`` for ``coco``).

        Examples
        --------
        >>> Runs([0, 5], [2, 1], (3, 3)).to_text(format="kaggle")
        '1 2 6 1'
        """
        from rlemask._formats import get_format

        return get_format(format).format(self, **options)

    def as_order(self, order: str) -> Runs:
        """The same mask scanned in ``order`` (``self`` if it already is)."""
        if _check_order(order) == self.order:
            return self
        return Runs.from_mask(self.to_mask(), order=order)

    # ------------------------------------------------------------------ queries
    def to_mask(self) -> np.ndarray:
        """Decode into a C-contiguous ``(H, W)`` uint8 array of 0/1.

        Examples
        --------
        >>> Runs([1], [2], (2, 2)).to_mask()
        array([[0, 1],
               [1, 0]], dtype=uint8)
        """
        from rlemask import _kernels as k

        out = np.zeros(self.shape, np.uint8)
        if self.starts.size:
            if self.order == "F":
                k._fill_colmajor(out.view(np.int8), self.starts, self.lengths)
            else:
                k._fill_linear(out.reshape(-1), self.starts, self.lengths, np.uint8(1))
        return out

    @property
    def area(self) -> int:
        """Number of foreground pixels."""
        return int(self.lengths.sum())

    @property
    def ends(self) -> np.ndarray:
        """Exclusive end pixel of each run (``starts + lengths``)."""
        return self.starts + self.lengths

    def bbox(self) -> tuple[int, int, int, int] | None:
        """Bounding box ``(x, y, w, h)`` (0-based, COCO convention), from the runs alone.

        Returns ``None`` for an empty mask.

        Examples
        --------
        >>> Runs.from_text("1 2 7 1 7 2 9 1", (6, 5)).bbox()
        (0, 0, 5, 6)
        >>> Runs([], [], (4, 4)).bbox() is None
        True
        """
        if self.starts.size == 0:
            return None
        H, W = self.shape
        # in the scan order, "major" is the column (F) or the row (C)
        minor_n = H if self.order == "F" else W
        s = self.starts
        last = s + self.lengths - 1
        maj0 = s // minor_n
        maj1 = last // minor_n
        mi0 = s - maj0 * minor_n
        mi1 = last - maj1 * minor_n
        if np.any(maj1 > maj0):  # a run wrapping into the next column spans every row
            mi_lo, mi_hi = 0, minor_n - 1
        else:
            mi_lo, mi_hi = int(mi0.min()), int(mi1.max())
        maj_lo, maj_hi = int(maj0[0]), int(maj1[-1])
        if self.order == "F":
            return (maj_lo, mi_lo, maj_hi - maj_lo + 1, mi_hi - mi_lo + 1)
        return (mi_lo, maj_lo, mi_hi - mi_lo + 1, maj_hi - maj_lo + 1)

    # ------------------------------------------------------------------ algebra
    def _check_other(self, other: Any, op: str) -> None:
        if not isinstance(other, Runs):
            raise TypeError(f"`{op}` needs two Runs. Received: {type(other).__name__}")
        if other.shape != self.shape or other.order != self.order:
            raise ValueError(
                f"`{op}` needs runs of the same shape and order. Received: "
                f"shape={self.shape}, order={self.order!r} and "
                f"shape={other.shape}, order={other.order!r}"
            )

    def __or__(self, other: Runs) -> Runs:
        """Union, computed on the runs (no decoding)."""
        from rlemask import _kernels as k

        self._check_other(other, "|")
        s, ln = k._union(self.starts, self.lengths, other.starts, other.lengths)
        return Runs._trusted(s, ln, self.shape, self.order)

    def __and__(self, other: Runs) -> Runs:
        """Intersection, computed on the runs (no decoding)."""
        from rlemask import _kernels as k

        self._check_other(other, "&")
        s, ln = k._intersection(self.starts, self.lengths, other.starts, other.lengths)
        return Runs._trusted(s, ln, self.shape, self.order)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Runs):
            return NotImplemented
        return (
            self.shape == other.shape
            and self.order == other.order
            and np.array_equal(self.starts, other.starts)
            and np.array_equal(self.lengths, other.lengths)
        )

    def __len__(self) -> int:
        return int(self.starts.size)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Runs are immutable")

    def __repr__(self) -> str:
        def short(a: np.ndarray) -> str:
            if a.size <= 6:
                return "[" + ", ".join(str(int(v)) for v in a) + "]"
            head = ", ".join(str(int(v)) for v in a[:3])
            tail = ", ".join(str(int(v)) for v in a[-2:])
            return f"[{head}, ..., {tail}]"

        return (
            f"Runs(starts={short(self.starts)}, lengths={short(self.lengths)}, "
            f"shape={self.shape}, order={self.order!r})"
        )

    def __reduce__(self):
        return (Runs, (np.array(self.starts), np.array(self.lengths), self.shape, self.order))


def _union_many(runs_list: list[Runs], shape: tuple[int, int], order: str) -> Runs:
    """Union of many runs in one sort + merge (cheaper than folding ``|``)."""
    from rlemask import _kernels as k

    parts = [r for r in runs_list if len(r)]
    if not parts:
        return Runs._trusted(np.empty(0, np.int64), np.empty(0, np.int64), shape, order)
    if len(parts) == 1:
        return parts[0]
    s = np.concatenate([r.starts for r in parts])
    ln = np.concatenate([r.lengths for r in parts])
    idx = np.argsort(s, kind="stable")
    s, ln = k._merge_sorted(s[idx], ln[idx])
    return Runs._trusted(s, ln, shape, order)
