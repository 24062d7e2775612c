"""COCO RLE, compatible with pycocotools (format name ``"coco"``).

A mask is ``{"size": [h, w], "counts": counts}``, scanned column-major.
``counts`` alternate runs of zeros and ones, starting with a (possibly empty)
run of zeros; they end with the last run (pycocotools' ``encode`` writes no
trailing zero count when the mask ends with a one).  ``counts`` is either

* a list of ints (uncompressed), or
* pycocotools' compressed string: each count (after the second stored as the
  difference to the count two places back) in little-endian groups of 5 bits,
  bit 6 (``0x20``) meaning "more groups follow", bit 5 of the last group the
  sign, each group written as ``chr(48 + group)``.

:func:`rlemask.encode` returns ``counts`` as ``bytes`` by default, exactly
what ``pycocotools.mask.encode`` returns (so the two dicts compare equal);
``counts="str"`` gives the ``str`` that COCO JSON files store, and
``counts="list"`` the uncompressed list.  :func:`rlemask.decode` accepts all
three, and also a bare counts string or list (then ``shape`` is used).

Examples
--------
>>> import numpy as np, rlemask
>>> mask = rlemask.decode("1 2 7 1 7 2 9 1", shape=(6, 5))
>>> rle = rlemask.encode(mask, format="coco")
>>> rle
{'size': [6, 5], 'counts': b'127O012O'}
>>> rlemask.encode(mask, format="coco", counts="list")["counts"]
[1, 2, 7, 1, 7, 2, 9, 1]
>>> bool((rlemask.decode(rle, format="coco") == mask).all())
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rlemask import _kernels as k
from rlemask._errors import RLEError
from rlemask._formats import _text
from rlemask._validation import check_shape
from rlemask.runs import Runs

_COUNTS = ("bytes", "str", "list")
_DEFAULT_SHAPE = (1024, 1024)


class CocoCodec:
    """Codec of pycocotools' RLE dicts (see the module docstring)."""

    name = "coco"

    def scan_order(self, *, counts: str = "bytes") -> str:
        return "F"

    def parse(self, rle: Any, shape: tuple[int, int]) -> Runs:
        counts, shape = _unwrap(rle, shape)
        if isinstance(counts, (str, bytes, bytearray, memoryview)):
            values = _compressed_counts(counts)
        else:
            values = _list_counts(counts)
        npix = shape[0] * shape[1]
        s, ln, m, err, i = k._counts_to_runs(values, values.size, npix)
        if err:
            i = int(i)
            if err == k.ERR_NEG_COUNT:
                raise RLEError(f"coco RLE: count {i} ({int(values[i])}) is negative")
            raise RLEError(
                f"coco RLE: count {i} ({int(values[i])}) goes past the last pixel "
                f"(H*W = {npix} for shape {shape})"
            )
        return Runs.from_canonical(s[:m], ln[:m], shape, "F", check=False)

    def format(self, runs: Runs, *, counts: str = "bytes") -> dict:
        if counts not in _COUNTS:
            raise ValueError(
                f"`counts` must be one of {', '.join(_COUNTS)}; received counts={counts!r}"
            )
        runs = runs.as_order("F")
        h, w = runs.shape
        values = k._runs_to_counts(runs.starts, runs.lengths, h * w)
        if counts == "list":
            out: Any = [int(v) for v in values]
        else:
            out = k._counts_to_string(values).tobytes()
            if counts == "str":
                out = out.decode("ascii")
        return {"size": [h, w], "counts": out}

    def __repr__(self) -> str:
        return "CocoCodec()"


def _unwrap(rle: Any, shape: tuple[int, int]) -> tuple[Any, tuple[int, int]]:
    """``(counts, shape)`` of a dict (its ``size`` is the shape) or of bare counts."""
    if not isinstance(rle, Mapping):
        return rle, shape
    if "counts" not in rle:
        raise RLEError(f"coco RLE: the dict has no 'counts' key; received keys {list(rle)}")
    if "size" in rle:
        size = check_shape(rle["size"], "size")
        if shape not in (size, _DEFAULT_SHAPE):
            raise RLEError(f"coco RLE: `shape` {shape} disagrees with the dict's size {list(size)}")
        shape = size
    return rle["counts"], shape


def _compressed_counts(counts: str | bytes) -> np.ndarray:
    """The int64 counts of pycocotools' compressed string."""
    buf, raw = _text.to_buffer(counts, "coco")
    values, n, err, at = k._string_to_counts(buf)
    if err:
        what = "ends inside a count" if err == k.ERR_TRUNCATED else "bad character"
        near = raw[int(at) : int(at) + 1].decode("latin-1") or "<end>"
        raise RLEError(f"coco RLE: compressed counts, {what} at character {int(at)} ({near!r})")
    return values[:n]


def _list_counts(counts: Any) -> np.ndarray:
    """The int64 counts of a list (or array) of ints; RLEError naming a bad one."""
    try:
        values = np.asarray(counts)
        ok = values.ndim == 1 and (values.size == 0 or np.issubdtype(values.dtype, np.integer))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        if not isinstance(counts, (list, tuple, np.ndarray)):
            raise TypeError(
                "coco RLE: counts must be a compressed str/bytes or a list of ints; "
                f"received {type(counts).__name__}"
            )
        bad = next(
            (
                (i, v)
                for i, v in enumerate(list(counts))
                if not isinstance(v, (int, np.integer)) or isinstance(v, bool)
            ),
            None,
        )
        if bad is None:  # all ints, but numpy kept them as objects: too large
            raise RLEError("coco RLE: a count does not fit in 64 bits")
        raise RLEError(
            f"coco RLE: counts must be a compressed str/bytes or a list of ints; "
            f"count {bad[0]} ({bad[1]!r}) is not an int"
        )
    try:
        return np.ascontiguousarray(values, dtype=np.int64)
    except OverflowError:  # e.g. a uint64 array beyond int64
        raise RLEError("coco RLE: a count does not fit in 64 bits") from None


CODEC = CocoCodec()
