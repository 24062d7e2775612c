"""``decode``, ``encode``, ``merge`` and ``warmup``: the codecs' public entry points.

Every function validates its input, parses the text into canonical
:class:`rlemask.Runs` (which raises :class:`rlemask.RLEError` on malformed
text *before* any pixel is written), and only then decodes into a fresh
array: a mask is never returned partly filled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from rlemask import _kernels as k
from rlemask import _runs_kernels as rk
from rlemask._errors import RLEError
from rlemask._formats import formats, get_format, is_empty, scan_order
from rlemask._validation import check_choice, check_shape, is_empty_rle
from rlemask.runs import Runs

_MODES = ("union", "label", "stack")


def _union(parts: list[Runs], shape: tuple[int, int], order: str) -> Runs:
    """Union of many runs in one sort + merge (cheaper than folding ``|``)."""
    parts = [r for r in parts if len(r)]
    if len(parts) == 1:
        return parts[0]
    if not parts:
        empty = np.empty(0, np.int64)
        return Runs.from_canonical(empty, empty, shape, order, check=False)
    s = np.concatenate([r.starts for r in parts])
    ln = np.concatenate([r.lengths for r in parts])
    idx = np.argsort(s, kind="stable")
    s, ln = rk._merged(s[idx], ln[idx])  # canonical runs of canonical inputs
    return Runs.from_canonical(s, ln, shape, order, check=False)


def runs_from_text(
    rle: Any, shape: tuple[int, int], *, format: str = "siim", **options: Any
) -> Runs:
    """The function form of :meth:`rlemask.Runs.from_text` (empties give empty runs).

    Examples
    --------
    >>> from rlemask.codec import runs_from_text
    >>> runs_from_text("1 2 7 1", (6, 5)).starts
    array([ 1, 10])
    """
    return Runs.from_text(rle, shape, format, **options)


def runs_to_text(runs: Runs, *, format: str = "siim", **options: Any) -> Any:
    """The function form of :meth:`rlemask.Runs.to_text`."""
    return runs.to_text(format, **options)


def decode(
    rle: Any, shape: tuple[int, int] = (1024, 1024), *, format: str = "siim", **options: Any
) -> np.ndarray:
    """Decode one run-length encoded mask.

    Parameters
    ----------
    rle : str, bytes, dict or None
        The encoded mask.  ``None``, NaN, ``""``, ``"-1"`` and ``" -1"`` give an
        empty mask in every format, and so do the format's own markers
        (``"-"`` for ``kaggle``: see the codec's ``empty_tokens``).  For
        ``format="coco"`` a pycocotools dict ``{"size": [h, w], "counts": ...}``
        (its ``size`` is used; an explicit ``shape`` other than the default
        must agree with it).
    shape : (int, int)
        Mask shape ``(H, W)``; two positive ints.
    format : str
        A registered format name: ``"siim"`` (default), ``"kaggle"``,
        ``"coco"``, or a plugin's (see :func:`rlemask.formats`).
    **options
        Format options, e.g. ``order="C"`` for ``kaggle``.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` C-contiguous ``uint8`` array of 0/1.

    Raises
    ------
    RLEError
        Malformed text (odd token count, non-integer token, length <= 0,
        negative offset, overlapping or backwards runs, runs past ``H*W``) or a
        bad shape.  The message names the token position and value.

    Examples
    --------
    >>> import rlemask
    >>> rlemask.decode("1 2 7 1 7 2 9 1", shape=(6, 5))
    array([[0, 0, 0, 1, 0],
           [1, 0, 0, 1, 0],
           [1, 0, 0, 0, 0],
           [0, 0, 0, 0, 0],
           [0, 1, 0, 0, 0],
           [0, 0, 0, 0, 1]], dtype=uint8)
    >>> int(rlemask.decode("-1", shape=(6, 5)).sum())
    0
    """
    shape = check_shape(shape)
    codec = get_format(format)
    if is_empty(codec, rle):
        scan_order(codec, options)  # still reject unknown options
        return np.zeros(shape, np.uint8)
    fast = getattr(codec, "decode_mask", None)
    if fast is not None:
        return fast(rle, shape, **options)
    return codec.parse(rle, shape, **options).to_mask()


def encode(mask: Any, *, format: str = "siim", **options: Any) -> Any:
    """Encode a 2-D mask; non-zero pixels are foreground.

    Parameters
    ----------
    mask : array-like, shape (H, W)
        bool or any integer dtype, any memory layout (C, Fortran, strided
        views).  No ``.T`` is needed: the scan order is the format's.
    format : str
        ``"siim"`` (default), ``"kaggle"``, ``"coco"`` or a plugin's.
    **options
        Format options: ``order="C"`` for ``kaggle``; ``counts="bytes"``
        (default, as pycocotools), ``"str"`` or ``"list"`` for ``coco``.

    Returns
    -------
    str or dict
        The text (``"-1"`` for an empty ``siim`` mask, ``""`` for ``kaggle``);
        a dict ``{"size": [h, w], "counts": ...}`` for ``coco``.

    Raises
    ------
    TypeError
        A float or other non-integer dtype (threshold probabilities first).
    ValueError
        Not 2-D.

    Examples
    --------
    >>> import numpy as np, rlemask
    >>> mask = np.zeros((6, 5), bool)
    >>> mask[5, 4] = True                  # the last pixel
    >>> rlemask.encode(mask)
    '29 1'
    >>> rlemask.encode(mask, format="kaggle")
    '30 1'
    >>> rlemask.encode(np.zeros((6, 5), np.uint8))
    '-1'
    """
    codec = get_format(format)
    fast = getattr(codec, "encode_mask", None)
    if fast is not None:
        return fast(mask, **options)
    runs = Runs.from_mask(mask, order=scan_order(codec, options))
    return codec.format(runs, **options)


def merge(
    rles: Iterable[Any],
    shape: tuple[int, int] = (1024, 1024),
    *,
    format: str = "siim",
    mode: str = "union",
    **options: Any,
) -> np.ndarray:
    """Combine several encoded masks of one image (e.g. the CSV rows of one id).

    Parameters
    ----------
    rles : iterable of str, bytes, dict or None
        One encoded mask per region (a single ``str`` is one region).  Empty
        markers are allowed.
    shape : (int, int)
        Mask shape ``(H, W)``.
    format : str
        Format of every item.
    mode : {"union", "label", "stack"}
        ``"union"``: ``(H, W)`` uint8 0/1, the OR of all regions (computed on
        the runs, decoded once; repeated rows change nothing).
        ``"label"``: ``(H, W)`` int32, pixel = 1-based index of the region
        (row) that covers it, 0 for background; each item is one id, empty
        items included, so ids match row positions; where regions overlap the
        LATER row wins.
        ``"stack"``: ``(n, H, W)`` uint8 0/1, one layer per item.

    Raises
    ------
    ValueError
        Unknown ``mode``.
    RLEError
        A malformed item (the message says which one) or a bad shape.

    Examples
    --------
    >>> import rlemask
    >>> rles = ["0 2", "1 2", "-1"]
    >>> rlemask.merge(rles, shape=(2, 2))
    array([[1, 1],
           [1, 0]], dtype=uint8)
    >>> rlemask.merge(rles, shape=(2, 2), mode="label")
    array([[1, 2],
           [2, 0]], dtype=int32)
    >>> rlemask.merge(rles, shape=(2, 2), mode="stack").shape
    (3, 2, 2)
    """
    shape = check_shape(shape)
    check_choice(mode, "mode", _MODES)
    if isinstance(rles, (str, bytes, Mapping)) or is_empty_rle(rles):
        rles = [rles]
    parsed = []
    for i, rle in enumerate(rles):
        try:
            parsed.append(Runs.from_text(rle, shape, format, **options))
        except RLEError as err:
            raise RLEError(f"item {i} of `rles`: {err}") from None
    # coco dicts carry their own size; the result has the runs' (common) shape
    shapes = {r.shape for r in parsed}
    if len(shapes) > 1:
        raise RLEError(f"`rles` have different shapes: {sorted(shapes)}")
    if shapes:
        shape = shapes.pop()
    if mode == "union":
        orders = {r.order for r in parsed}
        order = orders.pop() if len(orders) == 1 else "F"
        runs = _union([r.as_order(order) for r in parsed], shape, order)
        return runs.to_mask()
    if mode == "stack":
        out = np.zeros((len(parsed),) + shape, np.uint8)
        for i, r in enumerate(parsed):
            out[i] = r.to_mask()
        return out
    out = np.zeros(shape, np.int32)
    for i, r in enumerate(parsed):
        box = r.bbox()
        if box is None:
            continue
        # decode the region (fast, C order), then paint only the rows it covers
        k._paint_rows(out, r.to_mask(), np.int32(i + 1), box[1], box[1] + box[3])
    return out


def _warmed_formats() -> list[tuple[str, dict]]:
    """``(format, options)`` of every registered codec that asks to be warmed.

    A codec lists its option sets in ``warmup_options`` (the built-ins do;
    see the plugin contract in :mod:`rlemask._formats`).
    """
    out = []
    for name in formats():
        for options in getattr(get_format(name), "warmup_options", ()):
            out.append((name, dict(options)))
    return out


def warmup() -> None:
    """Compile (or load from numba's on-disk cache) every codec kernel now.

    Kernels are compiled with ``cache=True``: the first call in a fresh
    environment costs seconds, later processes load them in milliseconds.
    Call this in a parent process before starting worker processes, or at
    start-up of a service, to pay that cost at a known moment.  Covers bool,
    uint8, int32 and int64 masks in C, Fortran and strided layouts, in every
    format whose codec lists ``warmup_options`` (the built-ins do).

    Examples
    --------
    >>> import rlemask
    >>> rlemask.warmup()
    """
    warmed = _warmed_formats()
    base = np.zeros((4, 3), np.uint8)
    base[1:3, 1] = 1
    base[3, 2] = 1
    wide = np.zeros((2, 8), np.uint8)  # uint8 widths of 8k take the word kernel
    wide[1, 3:] = 1
    for dtype in (np.bool_, np.uint8, np.int32, np.int64):
        for m in (base.astype(dtype), wide.astype(dtype)):
            for arr in (m, np.asfortranarray(m), m[::-1, ::2]):  # C, F, strided
                for order in ("F", "C"):
                    Runs.from_mask(arr, order=order)
                for fmt, options in warmed:  # the fast paths print straight from kernels
                    encode(arr, format=fmt, **options)
    for fmt, options in warmed:
        rles = [encode(m, format=fmt, **options) for m in (base, base[::-1].copy())]
        decode(rles[0], base.shape, format=fmt, **options)
        for mode in _MODES:
            merge(rles, base.shape, format=fmt, mode=mode, **options)
    a = Runs.from_mask(base)
    b = Runs.from_mask(base[::-1])
    _ = (a | b, a & b, a - b, a ^ b, ~a, a.bbox(), a.area)
