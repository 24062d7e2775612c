"""Shared helpers of the text formats: bytes conversion, token parsing, error messages."""

from __future__ import annotations

from typing import Any

import numpy as np

from rlemask import _kernels as k
from rlemask._errors import RLEError


def to_buffer(rle: Any, fmt: str) -> tuple[np.ndarray, bytes]:
    """``(uint8 array, raw bytes)`` of a ``str``/``bytes`` RLE; TypeError otherwise."""
    if isinstance(rle, str):
        try:
            raw = rle.encode("utf-8")
        except UnicodeEncodeError as err:  # a lone surrogate (text read with surrogateescape)
            raise RLEError(_not_text(rle, err.start, fmt)) from None
    elif isinstance(rle, (bytes, bytearray, memoryview)):
        raw = bytes(rle)
    else:
        raise TypeError(
            f"a {fmt!r} RLE must be str or bytes; received {type(rle).__name__} {rle!r:.80}"
        )
    return np.frombuffer(raw, np.uint8), raw


def _not_text(rle: str, at: int, fmt: str) -> str:
    """The message for character ``at`` of ``rle``, which has no UTF-8 form (a lone surrogate)."""
    start = at
    while start > 0 and not rle[start - 1].isspace():
        start -= 1
    end = at
    while end < len(rle) and not rle[end].isspace():
        end += 1
    return (
        f"{fmt} RLE: token {len(rle[:start].split())} ({rle[start:end]!r}): character {at} "
        f"({rle[at]!r}) is a lone surrogate, not text"
    )


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


# what each run error code of the kernels means; {first}: the format's rule for a start
_RUN_ERRORS = {
    k.ERR_NEG_OFFSET: "negative relative offset (runs would overlap or go backwards)",
    k.ERR_BAD_LENGTH: "a run length must be positive",
    k.ERR_PAST_END: "run goes past the last pixel (H*W = {npix} for shape {shape})",
    k.ERR_OVERLAP: "run overlaps the previous run or goes backwards",
    k.ERR_BAD_START: "{first}",
}


def raise_run_error(
    err: int, i: int, tok: np.ndarray, shape: tuple[int, int], fmt: str, first: str
) -> None:
    """Turn a kernel error code on token ``i`` into an RLEError message."""
    why = _RUN_ERRORS.get(err, "invalid (code {err})")
    npix = shape[0] * shape[1]
    raise RLEError(
        f"{fmt} RLE: token {i} ({int(tok[i])}): "
        + why.format(npix=npix, shape=shape, first=first, err=err)
    )
