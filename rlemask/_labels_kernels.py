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
SPLIT_FULL = 3  # more rows than the capacity given

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


MAX_BAD = 4096  # rows of the wrong width kept (all are counted)

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@njit(cache=True)
def _is_delim(ch):
    return ch == 44 or ch == 10 or ch == 13


@njit(cache=True)
def _quoted_field(buf, i, size, line):
    """The field after an opening quote at ``i - 1``: ``(s, e, i, line, hash, err)``.

    ``s:e`` excludes the quotes; ``i`` is past the closing quote and the
    blanks after it; ``line`` counts the line ends inside; ``err`` is
    ``SPLIT_UNTERMINATED`` or ``SPLIT_STRAY`` (text after the closing quote).
    """
    h = _FNV_OFFSET
    s = i
    while True:
        if i >= size:
            return s, i, i, line, h, SPLIT_UNTERMINATED
        ch = buf[i]
        if ch == 34:
            if i + 1 < size and buf[i + 1] == 34:  # a doubled quote: hashed as written
                h = (h ^ np.uint64(34)) * _FNV_PRIME
                h = (h ^ np.uint64(34)) * _FNV_PRIME
                i += 2
                continue
            break
        if ch == 10 or (ch == 13 and not (i + 1 < size and buf[i + 1] == 10)):
            line += 1
        h = (h ^ np.uint64(ch)) * _FNV_PRIME
        i += 1
    e = i
    i += 1
    while i < size and _is_blank(buf[i]):
        i += 1
    if i < size and not _is_delim(buf[i]):
        return s, e, i, line, h, SPLIT_STRAY
    return s, e, i, line, h, SPLIT_OK


@njit(cache=True)
def _field_end(buf, i, size):
    """``(e, stop)``: one past the field's last non-blank byte, and its delimiter's index."""
    s = i
    while i < size and not _is_delim(buf[i]):
        i += 1
    e = i
    while e > s and _is_blank(buf[e - 1]):
        e -= 1
    return e, i


@njit(cache=True)
def _hashed_field(buf, i, size):
    """``(e, stop, hash)`` of an unquoted field: the FNV-1a hash of its trimmed bytes."""
    h = _FNV_OFFSET
    e = i
    while i < size:
        ch = buf[i]
        if _is_delim(ch):
            break
        i += 1
        if not _is_blank(ch):  # trailing blanks are not part of the field
            while e < i:
                h = (h ^ np.uint64(buf[e])) * _FNV_PRIME
                e += 1
    return e, i, h


@njit(cache=True, nogil=True)
def _split_rows(buf, pos, stop, line, ncols, wanted, capacity, rle_col, measure):
    """Split CSV rows of ``ncols`` fields in bytes ``pos:stop`` (physical line ``line``).

    ``nogil``: chunks of one file that start at a line end are split in threads.

    ``wanted[c]`` is the output slot of column ``c`` (-1: not kept).  Fields
    are trimmed of spaces and tabs; a quoted field's bounds exclude its quotes
    (``quoted`` flags it, for un-doubling ``""``); ``\\n``, ``\\r\\n`` and a
    lone ``\\r`` end a line; blank lines are skipped.  Each kept field gets a
    64-bit FNV-1a hash of its bytes (to factorize ids without a Python object
    per row).  Column ``rle_col`` is measured as it is split when ``measure``
    (:func:`_scan_rle`: its bytes are read once), else only skipped.  Rows with another field
    count are listed (``bad_line``, ``bad_at`` -- the byte where the row
    starts -- ``bad_count``; the first ``MAX_BAD``, all counted in ``nbad``).
    More than ``capacity`` rows: ``SPLIT_FULL`` (the caller counts and
    retries).  Returns ``(bounds, quoted, hashes, lines, n, bad_line, bad_at,
    bad_count, nbad, err, err_line, stats)``.
    """
    width = max(1, np.sum(wanted >= 0))
    bounds = np.empty((capacity, width, 2), np.int64)
    quoted = np.zeros((capacity, width), np.uint8)
    hashes = np.empty((capacity, width), np.uint64)
    lines = np.empty(capacity, np.int64)
    bad = np.empty((3, MAX_BAD), np.int64)  # line, first byte, field count of bad rows
    bad_line, bad_at, bad_count = bad[0], bad[1], bad[2]
    stats = _new_stats(capacity if measure else 0)
    n = 0
    nbad = 0
    size = stop
    i = pos
    err = SPLIT_OK
    while i < size:
        if n == capacity:
            err = SPLIT_FULL
            break
        row_line = line
        row_at = i
        col = 0
        blank = True
        while True:
            while i < size and _is_blank(buf[i]):
                i += 1
            slot = wanted[col] if col < ncols else -1
            h = _FNV_OFFSET
            q = 0
            s = i
            if i < size and buf[i] == 34:  # '"'
                s, e, i, line, h, qerr = _quoted_field(buf, i + 1, size, line)
                if qerr:
                    return (bounds, quoted, hashes, lines, n, bad_line, bad_at, bad_count,
                            nbad, qerr, row_line if qerr == SPLIT_UNTERMINATED else line, stats)
                q = 1
                blank = False
                if col == rle_col and measure:
                    _store(stats, n, _scan_rle(buf, s, e, False))
            elif col == rle_col and measure:
                out = _scan_rle(buf, i, size, True)
                i = out[0]
                e = out[1]
                _store(stats, n, out)
            elif col == rle_col:  # RLE text, neither hashed nor measured: find its end
                e, i = _field_end(buf, i, size)
            else:
                e, i, h = _hashed_field(buf, i, size)
            if e > s:
                blank = False
            if slot >= 0:
                bounds[n, slot, 0] = s
                bounds[n, slot, 1] = e
                quoted[n, slot] = q
                hashes[n, slot] = h
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
            if nbad < MAX_BAD:
                bad_line[nbad] = row_line
                bad_at[nbad] = row_at
                bad_count[nbad] = col
            nbad += 1
            continue
        lines[n] = row_line
        n += 1
    return (bounds, quoted, hashes, lines, n, bad_line, bad_at, bad_count, nbad, err, line,
            stats)


@njit(cache=True)
def _scan_rle(buf, i, end, delims):
    """Parse one RLE field from byte ``i``; ``delims``: stop at ``,`` / a line end.

    Returns ``(stop, last, code, tok, npairs, first, flags, abs_end, rel_end)``:
    ``stop`` is where the field ends (a delimiter or ``end``), ``last`` one
    past its last non-blank byte; the rest as in :func:`_rle_stats`.  The
    tokens are not kept: one pass measures the row.
    """
    s0 = i
    k = 0
    start = np.int64(0)
    first = np.int64(0)
    prev_start = np.int64(-1)
    prev_end = np.int64(-1)
    amax = np.int64(0)
    cursor = np.int64(0)
    bits = 0
    bad = RLE_OK
    dash = False  # the first token was "-" or "-1": an empty marker if it stays alone
    while i < end:
        ch = buf[i]
        if delims and _is_delim(ch):
            break
        if ch == 32 or (ch >= 9 and ch <= 13):
            i += 1
            continue
        if dash:
            bad = RLE_NEGATIVE
            k = 0
            break
        neg = ch == 45
        if neg:
            i += 1
        val = np.int64(0)
        t0 = i
        while i < end:
            d = np.int64(buf[i]) - 48
            if d < 0 or d > 9:
                break
            val = val * 10 + d  # may wrap past 18 digits: refused just below
            i += 1
        nd = i - t0
        if i < end:
            ch = buf[i]
            if not (ch == 32 or (ch >= 9 and ch <= 13) or (delims and ch == 44)):
                bad = RLE_BAD_TOKEN
                break
        if nd > 18:
            bad = RLE_TOO_LONG
            break
        if neg:
            if k == 0 and (nd == 0 or val == 1):
                dash = True
                k += 1
                continue
            bad = RLE_NEGATIVE if nd else RLE_BAD_TOKEN
            break
        if nd == 0:
            bad = RLE_BAD_TOKEN
            break
        if k % 2 == 0:
            start = val
        else:
            if val <= 0:
                bad = RLE_BAD_LENGTH
                break
            if k == 1:
                first = start
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
    stop, last, bad, k = _field_tail(buf, s0, i, end, delims, bad, dash, k)
    return stop, last, bad, k, k // 2, first, bits, amax, cursor


@njit(cache=True)
def _field_tail(buf, s0, i, end, delims, bad, dash, k):
    """After a field's tokens: ``(stop, last, code, tokens)`` (a bad field is skipped to
    its delimiter; ``last`` drops trailing blanks; no token or a lone dash is empty)."""
    if bad != RLE_OK and delims:
        while i < end and not _is_delim(buf[i]):
            i += 1
    last = i
    while last > s0 and _is_blank(buf[last - 1]):
        last -= 1
    if bad == RLE_OK:
        if dash or k == 0:
            bad = RLE_EMPTY
        elif k % 2 == 1:
            bad = RLE_ODD
            k -= 1
    return i, last, bad, k


@njit(cache=True)
def _rle_stats(buf, starts, ends):
    """Describe each RLE field ``buf[starts[r]:ends[r]]`` without keeping its tokens.

    Per row: ``code`` (``RLE_*``), ``tok`` (the bad token's index), ``npairs``,
    ``first`` (the first start), ``flags`` (``FLAG_*``), ``abs_end`` (one past
    the last pixel read as absolute 1-based starts) and ``rel_end`` (the same
    read as SIIM relative offsets).
    """
    n = starts.size
    stats = _new_stats(n)
    for r in range(n):
        out = _scan_rle(buf, starts[r], ends[r], False)
        _store(stats, r, out)
    return stats


@njit(cache=True)
def _new_stats(n):
    return (np.zeros(n, np.int8), np.zeros(n, np.int64), np.zeros(n, np.int64),
            np.zeros(n, np.int64), np.zeros(n, np.uint8), np.zeros(n, np.int64),
            np.zeros(n, np.int64))


@njit(cache=True)
def _store(stats, r, out):
    stats[0][r] = out[2]
    stats[1][r] = out[3]
    stats[2][r] = out[4]
    stats[3][r] = out[5]
    stats[4][r] = out[6]
    stats[5][r] = out[7]
    stats[6][r] = out[8]


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


@njit(cache=True)
def _same_field(buf, starts, ends, a, b):
    la = ends[a] - starts[a]
    if la != ends[b] - starts[b]:
        return False
    sa = starts[a]
    sb = starts[b]
    for i in range(la):
        if buf[sa + i] != buf[sb + i]:
            return False
    return True


@njit(cache=True)
def _factorize_hashed(buf, starts, ends, hashes):
    """Codes of the fields in first-seen order, from their hashes, in one pass.

    An open-addressing table keyed by the hash; a hit is confirmed byte for
    byte against the first row of that code, so equal hashes of different
    text never merge.  Returns ``(codes, first_rows, n_unique, collided)``;
    ``collided``: two different fields share a hash (the caller falls back).
    """
    n = starts.size
    size = 1
    while size < 2 * n + 2:
        size *= 2
    mask = np.uint64(size - 1)
    table = np.full(size, -1, np.int64)  # slot -> code
    codes = np.empty(n, np.int64)
    first_rows = np.empty(n, np.int64)
    m = 0
    for r in range(n):
        h = hashes[r]
        slot = h & mask
        while True:
            c = table[slot]
            if c < 0:
                table[slot] = m
                first_rows[m] = r
                codes[r] = m
                m += 1
                break
            q = first_rows[c]
            if hashes[q] == h:
                if not _same_field(buf, starts, ends, r, q):
                    return codes, first_rows, m, True
                codes[r] = c
                break
            slot = (slot + np.uint64(1)) & mask
    return codes, first_rows, m, False
