"""Shared helpers of the text formats: bytes conversion, token parsing, error messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from rlemask import _kernels as k
from rlemask._errors import RLEError
from rlemask._validation import check_mask


def to_buffer(rle: Any, fmt: str) -> tuple[np.ndarray, bytes]:
    """``(uint8 array, raw bytes)`` of a ``str``/``bytes`` RLE; TypeError otherwise."""
    if isinstance(rle, str):
        raw = rle.encode("utf-8")
    elif isinstance(rle, (bytes, bytearray, memoryview)):
        raw = bytes(rle)
    else:
        raise TypeError(
            f"a {fmt!r} RLE must be str or bytes; received {type(rle).__name__} {rle!r:.80}"
        )
    return np.frombuffer(raw, np.uint8), raw


def token_text(raw: bytes, start: int) -> str:
    """The whitespace-delimited token of ``raw`` that begins at byte ``start``."""
    end = start
    while end < len(raw) and raw[end] not in b" \t\n\r\v\f":
        end += 1
    return raw[start:end].decode("utf-8", errors="replace")


def tokens(rle: Any, fmt: str) -> np.ndarray:
    """Parse whitespace-separated integers; RLEError naming the bad token."""
    buf, raw = to_buffer(rle, fmt)
    values, n, err, i, at = k._parse_ints(buf)
    if err:
        text = token_text(raw, int(at))
        why = "has more than 18 digits" if err == k.ERR_TOO_LONG else "is not an integer"
        raise RLEError(f"{fmt} RLE: token {int(i)} ({text!r}) {why}")
    return values[:n]


def check_pairs(tok: np.ndarray, fmt: str) -> None:
    if tok.size % 2:
        raise RLEError(
            f"{fmt} RLE: odd number of tokens ({tok.size}); token {tok.size - 1} "
            f"({int(tok[-1])}) has no length after it"
        )


def raise_run_error(
    err: int, i: int, tok: np.ndarray, shape: tuple[int, int], fmt: str, first: str
) -> None:
    """Turn a kernel error code on token ``i`` into an RLEError message."""
    v = int(tok[i])
    npix = shape[0] * shape[1]
    where = f"{fmt} RLE: token {i} ({v})"
    if err == k.ERR_NEG_OFFSET:
        msg = f"{where}: negative relative offset (runs would overlap or go backwards)"
    elif err == k.ERR_BAD_LENGTH:
        msg = f"{where}: a run length must be positive"
    elif err == k.ERR_PAST_END:
        msg = f"{where}: run goes past the last pixel (H*W = {npix} for shape {shape})"
    elif err == k.ERR_OVERLAP:
        msg = f"{where}: run overlaps the previous run or goes backwards"
    elif err == k.ERR_BAD_START:
        msg = f"{where}: {first}"
    elif err == k.ERR_NEG_COUNT:
        msg = f"{where}: counts must not be negative"
    else:  # pragma: no cover - every kernel code is handled above
        msg = f"{where}: invalid (code {err})"
    raise RLEError(msg)


def decode_text(
    rle: Any,
    shape: tuple[int, int],
    fmt: str,
    relative: bool,
    base: int,
    row_major: bool,
    on_error: Callable[[Any, tuple[int, int]], NoReturn],
) -> np.ndarray:
    """The ``uint8`` 0/1 mask of pairs text in one kernel call (parse, validate, fill).

    The kernel validates every pair before it writes a pixel and only
    reports that the text is malformed; ``on_error(rle, shape)`` then
    re-parses step by step to raise the RLEError naming the token.
    """
    buf = to_buffer(rle, fmt)[0]
    out = np.empty(shape, np.uint8)  # the kernel writes every pixel
    if k._decode_pairs(buf, out.view(np.int8), relative, base, row_major):
        on_error(rle, shape)
    return out


def encode_text(mask: Any, order: str, relative: bool, base: int) -> bytes | None:
    """The text of ``mask``'s runs straight from a kernel, or ``None`` if no fast path fits.

    Skips building :class:`rlemask.Runs` for the layouts a kernel reads in
    memory order: a C-contiguous ``uint8``/``bool`` mask whose width is a
    multiple of 8 (up to 2040) for column-major runs, and the contiguous
    scan of either order.  ``b""`` is an empty mask.
    """
    arr = check_mask(mask)
    if order == "F":
        h, w = arr.shape
        if arr.dtype == np.uint8 and arr.flags.c_contiguous and w % 8 == 0 and w <= 2040:
            return k._encode_words_text(arr, arr.view(np.uint64), relative, base).tobytes()
        if arr.flags.f_contiguous:
            return k._encode_linear_text(arr.ravel(order="F"), relative, base).tobytes()
    elif arr.flags.c_contiguous:
        return k._encode_linear_text(arr.ravel(), relative, base).tobytes()
    return None
