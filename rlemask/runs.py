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

from rlemask import _kernels as k
from rlemask import _runs_kernels as rk
from rlemask._axis_maps import footprint_ranges
from rlemask._errors import RLEError
from rlemask._formats import get_format, is_empty, scan_order
from rlemask._validation import (
    check_area,
    check_choice,
    check_connectivity,
    check_mask,
    check_order,
    check_shape,
    check_size,
)

_ORDERS = ("F", "C")
_NO_RUNS = np.empty(0, np.int64)
_NO_RUNS.setflags(write=False)


def _check_sorted_runs(s: np.ndarray, ln: np.ndarray, shape: tuple[int, int]) -> None:
    """RLEError naming the first run that is not sorted, positive and inside ``H * W``."""
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


def _check_canonical(s: np.ndarray, ln: np.ndarray, shape: tuple[int, int]) -> None:
    """As :func:`_check_sorted_runs`, and touching runs are an error too."""
    _check_sorted_runs(s, ln, shape)
    if s.size > 1:
        touch = np.flatnonzero(s[1:] == s[:-1] + ln[:-1])
        if touch.size:
            i = int(touch[0]) + 1
            raise RLEError(
                f"run {i} (start={s[i]}, length={ln[i]}) touches the previous run: "
                "canonical runs are merged"
            )


def _colmajor(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column-major runs of a C-contiguous 2-D array (word kernel for uint8 when it fits)."""
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

    __slots__ = ("starts", "lengths", "shape", "order", "_area")
    __hash__ = None  # mutable-looking container of arrays; compare with ==

    def __init__(self, starts: Any, lengths: Any, shape: tuple[int, int], order: str = "F"):
        shape = check_shape(shape)
        order = check_order(order)
        for name, values in (("starts", starts), ("lengths", lengths)):
            kind = np.asarray(values).dtype.kind
            if kind not in "iu" and np.asarray(values).size:
                raise RLEError(
                    f"`{name}` must hold integers; received {name}.dtype={np.asarray(values).dtype}"
                )
        s = np.ascontiguousarray(starts, dtype=np.int64).reshape(-1)
        ln = np.ascontiguousarray(lengths, dtype=np.int64).reshape(-1)
        if s.shape != ln.shape:
            raise RLEError(
                "`starts` and `lengths` must have the same size; "
                f"received starts.size={s.size}, lengths.size={ln.size}"
            )
        _check_sorted_runs(s, ln, shape)
        if s.size > 1 and np.any(s[1:] == s[:-1] + ln[:-1]):
            s, ln = rk._merged(s, ln)
        self._set(s, ln, shape, order)

    def _set(self, starts, lengths, shape, order):
        starts.setflags(write=False)  # half the cost of `.flags.writeable = False`
        lengths.setflags(write=False)
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "_area", None)  # computed on first use (the runs never change)

    @classmethod
    def _trusted(cls, starts: np.ndarray, lengths: np.ndarray, shape, order: str) -> Runs:
        """Wrap runs a kernel produced (already canonical): no validation."""
        self = object.__new__(cls)
        self._set(starts, lengths, shape, order)
        return self

    @classmethod
    def from_canonical(
        cls,
        starts: np.ndarray,
        lengths: np.ndarray,
        shape: tuple[int, int],
        order: str = "F",
        *,
        check: bool = True,
    ) -> Runs:
        """Wrap runs that are already canonical, without copying: the plugins' constructor.

        A format plugin's ``parse`` returns its runs through this method.
        Unlike the :class:`Runs` constructor it never merges or converts
        dtypes: the arrays must already be 1-D ``int64`` and canonical
        (sorted, positive, neither overlapping nor touching, inside
        ``H * W``).  Contiguous arrays are used as they are (made read-only);
        strided views are copied.

        Parameters
        ----------
        starts, lengths : numpy.ndarray of int64, 1-D
            0-based absolute starts and lengths, in scan order.
        shape : (int, int)
            Mask shape ``(H, W)``.
        order : {"F", "C"}
            Scan order.
        check : bool
            ``True`` (default): verify that the runs are canonical, in one
            O(runs) pass, and raise :class:`rlemask.RLEError` otherwise.
            ``False``: trust the caller -- only for runs that a validating
            kernel has just produced.  Non-canonical runs with
            ``check=False`` make later kernels read or write out of bounds.

        Raises
        ------
        RLEError
            (``check=True``) runs that are not canonical; a bad shape.
        TypeError
            Arrays that are not 1-D ``int64``.

        Examples
        --------
        >>> import numpy as np
        >>> from rlemask import Runs
        >>> r = Runs.from_canonical(np.array([1, 7]), np.array([2, 1]), (6, 5))
        >>> r.to_text()
        '1 2 4 1'
        >>> Runs.from_canonical(np.array([1, 3]), np.array([2, 1]), (6, 5))
        Traceback (most recent call last):
        ...
        rlemask._errors.RLEError: run 1 (start=3, length=1) touches the previous run: canonical runs are merged
        """  # noqa: E501
        for name, arr in (("starts", starts), ("lengths", lengths)):
            if not isinstance(arr, np.ndarray) or arr.dtype != np.int64 or arr.ndim != 1:
                got = f"{type(arr).__name__} {getattr(arr, 'dtype', '')}".strip()
                raise TypeError(f"`{name}` must be a 1-D int64 numpy array; received {got}")
        if starts.size != lengths.size:
            raise RLEError(
                f"`starts` and `lengths` must have the same size; "
                f"received {starts.size} starts and {lengths.size} lengths"
            )
        shape = check_shape(shape)
        order = check_order(order)
        # a strided view (values[1::2]) is copied: kernels are compiled for contiguous arrays
        starts = np.ascontiguousarray(starts)
        lengths = np.ascontiguousarray(lengths)
        if check:
            _check_canonical(starts, lengths, shape)
        return cls._trusted(starts, lengths, shape, order)

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
        order = check_order(order)
        arr = check_mask(mask)
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

        ``None``, NaN and the format's empty markers give empty runs.

        Examples
        --------
        >>> Runs.from_text("1 2 7 1", (6, 5)).starts
        array([ 1, 10])
        >>> Runs.from_text("-", (6, 5), format="kaggle").area
        0
        """
        shape = check_shape(shape)
        codec = get_format(format)
        if is_empty(codec, text):
            order = scan_order(codec, options)  # still rejects unknown options
            return cls._trusted(_NO_RUNS, _NO_RUNS, shape, order)
        return codec.parse(text, shape, **options)

    def to_text(self, format: str = "siim", **options) -> Any:
        """Print the runs in the named format (a ``str``; a ``dict`` for ``coco``).

        Examples
        --------
        >>> Runs([0, 5], [2, 1], (3, 3)).to_text(format="kaggle")
        '1 2 6 1'
        """
        return get_format(format).format(self, **options)

    def as_order(self, order: str) -> Runs:
        """The same mask scanned in ``order`` (``self`` if it already is), without decoding.

        Cost: O(runs + toggles), where toggles are the places where two
        neighbouring lines of the current scan differ; never O(H * W).

        Examples
        --------
        >>> r = Runs.from_text("1 2 7 1 7 2 9 1", (6, 5))
        >>> r.as_order("C")
        Runs(starts=[3, 5, 8, 10, 21, 29], lengths=[1, 1, 1, 1, 1, 1], shape=(6, 5), order='C')
        """
        if check_order(order) == self.order:
            return self
        s, ln = self._reordered()
        return Runs._trusted(s, ln, self.shape, order)

    def _lines(self) -> tuple[int, int]:
        """``(m, n_lines)``: pixels per scan line and number of lines (see _runs_kernels)."""
        H, W = self.shape
        return (H, W) if self.order == "F" else (W, H)

    def _reordered(self) -> tuple[np.ndarray, np.ndarray]:
        """The runs of the other scan order (kernel output, canonical)."""
        if self.starts.size == 0:
            return self.starts, self.lengths
        return rk._reorder(self.starts, self.lengths, *self._lines())

    def _new(self, s: np.ndarray, ln: np.ndarray, shape: tuple[int, int] | None = None) -> Runs:
        return Runs._trusted(s, ln, self.shape if shape is None else shape, self.order)

    # ------------------------------------------------------------------ queries
    def to_mask(self) -> np.ndarray:
        """Decode into a C-contiguous ``(H, W)`` uint8 array of 0/1.

        Examples
        --------
        >>> Runs([1], [2], (2, 2)).to_mask()
        array([[0, 1],
               [1, 0]], dtype=uint8)
        """
        if self.order == "C":  # one write pass, as rlemask.decode fills row-major text
            out = np.empty(self.shape, np.uint8)
            k._fill_all_linear(out.reshape(-1), self.starts, self.lengths)
        else:  # only the rows a run crosses: np.zeros' pages come zeroed from the OS
            out = np.zeros(self.shape, np.uint8)
            k._fill_colmajor_rows(out.view(np.int8), self.starts, self.lengths, True)
        return out

    @property
    def area(self) -> int:
        """Number of foreground pixels.

        One pass over the lengths on first use, then remembered: the runs of
        a :class:`Runs` never change.

        Examples
        --------
        >>> Runs([1, 7], [2, 3], (6, 5)).area
        5
        """
        area = self._area
        if area is None:
            area = rk._area(self.lengths)
            object.__setattr__(self, "_area", area)
        return area

    @property
    def ends(self) -> np.ndarray:
        """Exclusive end pixel of each run (``starts + lengths``)."""
        return self.starts + self.lengths

    def bbox(self) -> tuple[int, int, int, int] | None:
        """Bounding box ``(x, y, w, h)`` (0-based, COCO convention), from the runs alone.

        One O(runs) pass in a kernel; ``None`` for an empty mask.

        Examples
        --------
        >>> Runs.from_text("1 2 7 1 7 2 9 1", (6, 5)).bbox()
        (0, 0, 5, 6)
        >>> Runs([], [], (4, 4)).bbox() is None
        True
        """
        if self.starts.size == 0:
            return None
        m = self.shape[0] if self.order == "F" else self.shape[1]
        c0, c1, p0, p1 = rk._bbox(self.starts, self.lengths, m)
        # lines are columns (F) or rows (C); positions the other axis
        if self.order == "F":
            return (int(c0), int(p0), int(c1 - c0 + 1), int(p1 - p0 + 1))
        return (int(p0), int(c0), int(p1 - p0 + 1), int(c1 - c0 + 1))

    # ------------------------------------------------------------------ geometry
    def flip(self, axis: int) -> Runs:
        """The mask flipped along ``axis``: ``0`` up-down, ``1`` left-right (``np.flip``).

        O(runs + lines crossed); flipping a prediction back after test-time
        augmentation costs no decode.

        Parameters
        ----------
        axis : {0, 1, -2, -1}
            ``0`` reverses the rows (up-down), ``1`` the columns (left-right).

        Raises
        ------
        ValueError
            Any other ``axis``.

        Examples
        --------
        >>> import numpy as np
        >>> m = np.array([[1, 1, 0],
        ...               [0, 0, 1]], np.uint8)
        >>> Runs.from_mask(m).flip(1).to_mask()
        array([[0, 1, 1],
               [1, 0, 0]], dtype=uint8)
        >>> Runs.from_mask(m).flip(0).to_mask()
        array([[0, 0, 1],
               [1, 1, 0]], dtype=uint8)
        """
        if isinstance(axis, (bool, np.bool_)) or axis not in (0, 1, -1, -2):
            raise ValueError(
                f"`axis` must be 0 (up-down) or 1 (left-right); received axis={axis!r}"
            )
        axis = int(axis) % 2
        if self.starts.size == 0:
            return self
        # F: lines are columns, positions rows; C: the reverse
        flip_lines = (axis == 1) == (self.order == "F")
        m, n_lines = self._lines()
        s, ln = rk._flip(self.starts, self.lengths, m, n_lines, not flip_lines, flip_lines)
        return self._new(s, ln)

    def transpose(self) -> Runs:
        """The transposed mask, shape ``(W, H)``, in the same scan order (``mask.T``).

        Examples
        --------
        >>> import numpy as np
        >>> m = np.array([[1, 1, 0],
        ...               [0, 0, 1]], np.uint8)
        >>> Runs.from_mask(m).transpose().to_mask()
        array([[1, 0],
               [1, 0],
               [0, 1]], dtype=uint8)
        """
        # the column-major scan of mask.T is the row-major scan of mask
        s, ln = self._reordered()
        return self._new(s, ln, (self.shape[1], self.shape[0]))

    @property
    def T(self) -> Runs:
        """Alias of :meth:`transpose`."""
        return self.transpose()

    def crop(self, y: int, x: int, h: int, w: int) -> Runs:
        """The window ``mask[y:y + h, x:x + w]``, which must lie inside the mask.

        Parameters
        ----------
        y, x : int
            Top row and left column of the window (0-based, >= 0).
        h, w : int
            Height and width of the window (>= 1), with ``y + h <= H`` and
            ``x + w <= W``.

        Raises
        ------
        ValueError
            A window that is empty or leaves the mask.

        Examples
        --------
        >>> import numpy as np
        >>> m = np.array([[1, 1, 0],
        ...               [0, 0, 1]], np.uint8)
        >>> Runs.from_mask(m).crop(0, 1, 2, 2).to_mask()
        array([[1, 0],
               [0, 1]], dtype=uint8)
        """
        for name, v in (("y", y), ("x", x)):
            check_area(v, name)
        h, w = check_size((h, w), "(h, w)")
        H, W = self.shape
        if y + h > H or x + w > W:
            raise ValueError(
                f"the window must lie inside the mask of shape {self.shape}; "
                f"received y={y}, x={x}, h={h}, w={w}"
            )
        return self._window(int(y), int(x), h, w)

    def pad(
        self,
        top: int,
        bottom: int | None = None,
        left: int | None = None,
        right: int | None = None,
        *,
        value: int = 0,
    ) -> Runs:
        """The mask with ``top``, ``bottom``, ``left``, ``right`` pixels added around it.

        ``r.pad(n)`` pads ``n`` on every side.  The same as
        ``np.pad(mask, ((top, bottom), (left, right)), constant_values=value)``.

        Parameters
        ----------
        top, bottom, left, right : int
            Pixels added on each side (>= 0); give one (all sides) or all four.
        value : {0, 1}
            Value of the added pixels: background (0) or foreground (1).

        Raises
        ------
        ValueError
            Negative widths, only some of the four, or ``value`` not 0 or 1.

        Examples
        --------
        >>> import numpy as np
        >>> r = Runs.from_mask(np.array([[1, 0]], np.uint8))
        >>> r.pad(1, 0, 0, 1).to_mask()
        array([[0, 0, 0],
               [1, 0, 0]], dtype=uint8)
        >>> r.pad(1, value=1).to_mask()
        array([[1, 1, 1, 1],
               [1, 1, 0, 1],
               [1, 1, 1, 1]], dtype=uint8)
        """
        sides = (bottom, left, right)
        if all(v is None for v in sides):
            bottom = left = right = top
        elif any(v is None for v in sides):
            raise ValueError(
                "give one pad width (every side) or all four (top, bottom, left, right); "
                f"received top={top!r}, bottom={bottom!r}, left={left!r}, right={right!r}"
            )
        widths = [
            check_area(v, n)
            for v, n in ((top, "top"), (bottom, "bottom"), (left, "left"), (right, "right"))
        ]
        if isinstance(value, (bool, np.bool_)) or value not in (0, 1):
            raise ValueError(f"`value` must be 0 or 1; received value={value!r}")
        top, bottom, left, right = widths
        H, W = self.shape
        shape = check_shape((H + top + bottom, W + left + right), "padded shape")
        if value == 1:  # pad the complement with background, then complement back
            return ~((~self)._window(-top, -left, shape[0], shape[1]))
        return self._window(-top, -left, shape[0], shape[1])

    def _window(self, y: int, x: int, h: int, w: int) -> Runs:
        """``mask[y:y+h, x:x+w]`` where out-of-mask pixels are background (validated args)."""
        m, n_lines = self._lines()
        if self.order == "F":
            args = (x, w, y, h)
        else:
            args = (y, h, x, w)
        s, ln = self.starts, self.lengths
        none = np.empty(0, np.int64)  # writable: one compiled signature for both passes
        cap = rk._window(s, ln, m, n_lines, *args, False, none, none)
        out_s = np.empty(cap, np.int64)
        out_l = np.empty(cap, np.int64)
        n = rk._window(s, ln, m, n_lines, *args, True, out_s, out_l)
        return self._new(out_s[:n], out_l[:n], (h, w))

    def resize(self, shape: int | tuple[int, int], method: str = "nearest") -> Runs:
        """The mask resized to ``shape``, exactly as :func:`rlemask.resize_mask` would.

        Works on the runs: O(runs + H + W + output runs), no dense array.

        Parameters
        ----------
        shape : int or (int, int)
            Output ``(height, width)``; an int for a square.
        method : {"nearest", "any"}
            ``"nearest"``: the input pixel under each output pixel's centre;
            ``"any"``: an output pixel is set when any input pixel under its
            footprint is (max-pooling when shrinking, so no region is lost).
            The definitions are :func:`rlemask.resize_mask`'s.

        Raises
        ------
        ValueError
            A bad ``shape`` or ``method``.

        Examples
        --------
        >>> import numpy as np
        >>> m = np.zeros((4, 4), np.uint8)
        >>> m[0, 0] = 1
        >>> Runs.from_mask(m).resize(2, method="any").to_mask()
        array([[1, 0],
               [0, 0]], dtype=uint8)
        >>> Runs.from_mask(m).resize((2, 2)).to_mask()
        array([[0, 0],
               [0, 0]], dtype=uint8)
        """
        oh, ow = check_size(shape, "shape")
        check_choice(method, "method", ("nearest", "any"))
        H, W = self.shape
        if self.order == "F":
            (m, m_out), (n_lines, n_out) = (H, oh), (W, ow)
        else:
            (m, m_out), (n_lines, n_out) = (W, ow), (H, oh)
        if self.starts.size == 0:
            return self._new(self.starts, self.lengths, (oh, ow))
        rs, re = footprint_ranges(m, m_out, method)
        v = np.arange(m + 1)
        # a segment [lo, hi) sets the outputs j with re[j] > lo and rs[j] < hi
        pos_first = np.searchsorted(re, v, side="right")
        pos_end = np.searchsorted(rs, v, side="left")
        line_lo, line_hi = footprint_ranges(n_lines, n_out, method)
        s, ln = rk._resize(
            self.starts, self.lengths, m, n_lines, pos_first, pos_end, line_lo, line_hi, m_out
        )
        return self._new(s, ln, (oh, ow))

    # ------------------------------------------------------------------ regions
    def components(self, connectivity: int = 8) -> list[Runs]:
        """The connected regions, one :class:`Runs` each, computed on the runs.

        Region ``i`` of the list is the pixels that
        ``skimage.measure.label(mask, connectivity=...)`` labels ``i + 1``:
        regions come in the order of their first pixel in a row-major scan
        (top to bottom, then left to right).

        Parameters
        ----------
        connectivity : {4, 8}
            ``4``: pixels sharing an edge are connected; ``8`` (default, as
            :func:`rlemask.bboxes`): also pixels sharing a corner.

        Returns
        -------
        list of Runs
            Same shape and order as ``self``; empty for an empty mask.

        Raises
        ------
        ValueError
            ``connectivity`` not 4 or 8.

        Examples
        --------
        >>> import numpy as np
        >>> m = np.array([[1, 0, 0],
        ...               [0, 1, 0],
        ...               [0, 0, 0],
        ...               [1, 1, 0]], np.uint8)
        >>> [c.area for c in Runs.from_mask(m).components()]
        [2, 2]
        >>> [c.bbox() for c in Runs.from_mask(m).components(4)]
        [(0, 0, 1, 1), (1, 1, 1, 1), (0, 3, 2, 1)]
        """
        conn8 = check_connectivity(connectivity)
        if self.starts.size == 0:
            return []
        m, n_lines = self._lines()
        s, ln, ptr = rk._components(self.starts, self.lengths, m, n_lines, conn8, self.order == "F")
        bounds = ptr.tolist()
        return [self._new(s[a:b], ln[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    # ------------------------------------------------------------------ algebra
    def _check_other(self, other: Any, op: str) -> None:
        if not isinstance(other, Runs):
            raise TypeError(f"`{op}` needs two Runs; received {type(other).__name__}")
        if other.shape != self.shape or other.order != self.order:
            raise ValueError(
                f"`{op}` needs runs of the same shape and order; received "
                f"shape={self.shape}, order={self.order!r} and "
                f"shape={other.shape}, order={other.order!r}"
            )

    def __or__(self, other: Runs) -> Runs:
        """Union, computed on the runs (no decoding)."""
        self._check_other(other, "|")
        s, ln = rk._union(self.starts, self.lengths, other.starts, other.lengths)
        return Runs._trusted(s, ln, self.shape, self.order)

    def __and__(self, other: Runs) -> Runs:
        """Intersection, computed on the runs (no decoding)."""
        self._check_other(other, "&")
        s, ln = rk._intersection(self.starts, self.lengths, other.starts, other.lengths)
        return Runs._trusted(s, ln, self.shape, self.order)

    def _boolean(self, other: Any, op: str, table: int) -> Runs:
        self._check_other(other, op)
        s, ln = rk._boolean(self.starts, self.lengths, other.starts, other.lengths, table)
        return self._new(s, ln)

    def __sub__(self, other: Runs) -> Runs:
        """Difference (pixels of ``self`` not in ``other``), computed on the runs.

        Examples
        --------
        >>> (Runs([0], [4], (2, 3)) - Runs([1], [2], (2, 3))).starts.tolist()
        [0, 3]
        """
        return self._boolean(other, "-", rk.DIFFERENCE)

    def __xor__(self, other: Runs) -> Runs:
        """Symmetric difference, computed on the runs.

        Examples
        --------
        >>> r = Runs([0], [4], (2, 3)) ^ Runs([2], [3], (2, 3))
        >>> r.starts.tolist(), r.lengths.tolist()
        ([0, 4], [2, 1])
        """
        return self._boolean(other, "^", rk.XOR)

    def __invert__(self) -> Runs:
        """Complement: every pixel not in a run.

        Examples
        --------
        >>> (~Runs([1], [2], (2, 2))).to_mask()
        array([[1, 0],
               [0, 1]], dtype=uint8)
        """
        s, ln = rk._complement(self.starts, self.lengths, self.shape[0] * self.shape[1])
        return self._new(s, ln)

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
