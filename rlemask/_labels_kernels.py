"""Kernels of the label-file reader: one pass over a CSV's bytes, one over its RLE fields.

Both kernels only *describe* the bytes (field bounds, counts, flags); they
never write outside the arrays they allocate, and the Python side decides
what is an error.  They trust their inputs: ``buf`` is a 1-D ``uint8`` array,
the bounds are within it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# row-shape problems found by _split_rows
SPLIT_OK = 0
SPLIT_UNTERMINATED = 1  # a quoted field that never ends
SPLIT_STRAY = 2  # text after a closing quote, before the next comma

# what _rle_stats says of one RLE field
RLE_OK = 0  # non-empty pairs text
RLE_EMPTY = 1  # "", "-1" or "-"
RLE_BAD_TOKEN = 2  # a token that is not an integer
RLE_TOO_LONG = 3  # an integer of more than 18 digits
RLE_ODD = 4  # an odd number of tokens
RLE_BAD_LENGTH = 5  # a run length <= 0
RLE_NEGATIVE = 6  # a negative start or offset

# bits of _rle_stats' flags, read as ABSOLUTE 1-based starts (the Kaggle reading)
FLAG_UNSORTED = 1  # a start below the previous start
FLAG_OVERLAP = 2  # a start inside the previous run
FLAG_ZERO_START = 4  # a start of 0 (Kaggle starts are 1-based)

_BIG = np.int64(2**62)  # cumulative SIIM positions are clamped here (never overflow)


@njit(cache=True)
def _is_blank(ch):
    return ch == 32 or ch == 9


@njit(cache=True)
def _split_rows(buf, pos, line, ncols, wanted, max_rows):
    """Split CSV rows of ``ncols`` fields from byte ``pos`` (physical line ``line``).

    ``wanted[c]`` is the output slot of column ``c`` (-1: not kept).  Fields
    are trimmed of spaces and tabs; a quoted field's bounds exclude its quotes
    (``quoted`` flags it, for un-doubling ``""``); ``\\n``, ``\\r\\n`` and a
    lone ``\\r`` end a line; blank lines are skipped.  Rows with another field
    count are not kept but listed (``bad_line``, ``bad_at`` -- the byte where
    the row starts -- and ``bad_count``).  Returns ``(bounds, quoted, lines,
    n, bad_line, bad_at, bad_count, nbad, err, err_line)``.
    """
    nslots = 0
    for c in range(ncols):
        if wanted[c] >= 0:
            nslots += 1
    bounds = np.empty((max_rows, max(nslots, 1), 2), np.int64)
    quoted = np.zeros((max_rows, max(nslots, 1)), np.uint8)
    lines = np.empty(max_rows, np.int64)
    bad_line = np.empty(max_rows, np.int64)
    bad_at = np.empty(max_rows, np.int64)
    bad_count = np.empty(max_rows, np.int64)
    n = 0
    nbad = 0
    size = buf.size
    i = pos
    while i < size:
        row_line = line
        row_at = i
        col = 0
        blank = True
        while True:
            while i < size and _is_blank(buf[i]):
                i += 1
            q = 0
            if i < size and buf[i] == 34:  # '"'
                i += 1
                s = i
                while True:
                    if i >= size:
                        return (bounds, quoted, lines, n, bad_line, bad_at, bad_count, nbad,
                                SPLIT_UNTERMINATED, row_line)
                    ch = buf[i]
                    if ch == 34:
                        if i + 1 < size and buf[i + 1] == 34:
                            i += 2
                            continue
                        break
                    if ch == 10 or (ch == 13 and not (i + 1 < size and buf[i + 1] == 10)):
                        line += 1
                    i += 1
                e = i
                i += 1
                q = 1
                blank = False
                while i < size and _is_blank(buf[i]):
                    i += 1
                if i < size and buf[i] != 44 and buf[i] != 10 and buf[i] != 13:
                    return (bounds, quoted, lines, n, bad_line, bad_at, bad_count, nbad,
                            SPLIT_STRAY, line)
            else:
                s = i
                while i < size and buf[i] != 44 and buf[i] != 10 and buf[i] != 13:
                    i += 1
                e = i
                while e > s and _is_blank(buf[e - 1]):
                    e -= 1
                if e > s:
                    blank = False
            if col < ncols and wanted[col] >= 0 and n < max_rows:
                slot = wanted[col]
                bounds[n, slot, 0] = s
                bounds[n, slot, 1] = e
                quoted[n, slot] = q
            col += 1
            if i < size and buf[i] == 44:  # ','
                i += 1
                blank = False
                continue
            if i < size:
                if buf[i] == 13 and i + 1 < size and buf[i + 1] == 10:
                    i += 2
                else:
                    i += 1
            line += 1
            break
        if blank and col == 1:
            continue
        if col != ncols:
            bad_line[nbad] = row_line
            bad_at[nbad] = row_at
            bad_count[nbad] = col
            nbad += 1
            continue
        lines[n] = row_line
        n += 1
    return bounds, quoted, lines, n, bad_line, bad_at, bad_count, nbad, SPLIT_OK, line


@njit(cache=True)
def _rle_stats(buf, starts, ends):
    """Describe each RLE field ``buf[starts[r]:ends[r]]`` without keeping its tokens.

    Per row: ``code`` (``RLE_*``), ``tok`` (the bad token's index), ``npairs``,
    ``first`` (the first start), ``flags`` (``FLAG_*``), ``abs_end`` (one past
    the last pixel read as absolute 1-based starts) and ``rel_end`` (the same
    read as SIIM relative offsets).
    """
    n = starts.size
    code = np.zeros(n, np.int8)
    tok = np.zeros(n, np.int64)
    npairs = np.zeros(n, np.int64)
    first = np.zeros(n, np.int64)
    flags = np.zeros(n, np.uint8)
    abs_end = np.zeros(n, np.int64)
    rel_end = np.zeros(n, np.int64)
    for r in range(n):
        s = starts[r]
        e = ends[r]
        if e == s or (e - s == 1 and buf[s] == 45) or (
            e - s == 2 and buf[s] == 45 and buf[s + 1] == 49
        ):
            code[r] = RLE_EMPTY
            continue
        i = s
        k = 0
        start = np.int64(0)
        prev_start = np.int64(-1)
        prev_end = np.int64(-1)
        amax = np.int64(0)
        cursor = np.int64(0)
        bits = 0
        bad = RLE_OK
        while i < e:
            ch = buf[i]
            if ch == 32 or (ch >= 9 and ch <= 13):
                i += 1
                continue
            neg = ch == 45
            if neg:
                i += 1
            val = np.int64(0)
            nd = 0
            while i < e:
                ch = buf[i]
                if ch >= 48 and ch <= 57:
                    if nd == 18:
                        bad = RLE_TOO_LONG
                        break
                    val = val * 10 + np.int64(ch - 48)
                    nd += 1
                    i += 1
                elif ch == 32 or (ch >= 9 and ch <= 13):
                    break
                else:
                    bad = RLE_BAD_TOKEN
                    break
            if bad == RLE_OK and nd == 0:
                bad = RLE_BAD_TOKEN
            if bad == RLE_OK and neg:
                bad = RLE_NEGATIVE
            if bad != RLE_OK:
                break
            if k % 2 == 0:
                start = val
            else:
                if val <= 0:
                    bad = RLE_BAD_LENGTH
                    break
                if k == 1:
                    first[r] = start
                    cursor = start
                else:
                    if start < prev_start:
                        bits |= FLAG_UNSORTED
                    elif start - 1 < prev_end:
                        bits |= FLAG_OVERLAP
                    cursor = min(cursor + start, _BIG)
                if start == 0:
                    bits |= FLAG_ZERO_START
                prev_start = start
                prev_end = start - 1 + val
                amax = max(amax, prev_end)
                cursor = min(cursor + val, _BIG)
            k += 1
        if bad == RLE_OK and k % 2 == 1:
            bad = RLE_ODD
            k -= 1
        code[r] = bad
        tok[r] = k
        npairs[r] = k // 2
        flags[r] = bits
        abs_end[r] = amax
        rel_end[r] = cursor
    return code, tok, npairs, first, flags, abs_end, rel_end


@njit(cache=True)
def _field_ints(buf, starts, ends):
    """Each field ``buf[starts[r]:ends[r]]`` as a non-negative int; ``(values, bad_row)``.

    ``bad_row`` is the first row that is not a plain decimal integer (-1: none).
    """
    n = starts.size
    out = np.zeros(n, np.int64)
    for r in range(n):
        s = starts[r]
        e = ends[r]
        if e == s or e - s > 18:
            return out, r
        v = np.int64(0)
        for i in range(s, e):
            ch = buf[i]
            if ch < 48 or ch > 57:
                return out, r
            v = v * 10 + np.int64(ch - 48)
        out[r] = v
    return out, np.int64(-1)
