"""numba kernels behind the codecs: text parsing, run decoding and encoding.

Every kernel here trusts its input: numba does not check bounds, so the public
wrappers (:mod:`rlemask.runs`, :mod:`rlemask._formats`, :mod:`rlemask.codec`)
validate shapes, dtypes, contiguity and run positions before calling them.
Kernels that validate text report an error *code* and a token index instead of
raising; the wrapper then builds the message (with the token's text) in Python,
before anything is written into a mask.

Kernels that call each other live in one file because numba's on-disk cache
only sees edits to the file that holds a kernel: a kernel calling a kernel in
another file could load a stale compiled version.  The set operations on runs
(union, intersection, the merge loop) are in :mod:`rlemask._runs_kernels`;
no kernel here calls one there.

How compile cost is paid
------------------------
* ``import rlemask`` compiles nothing and does not even import numba: this
  module is imported on the first codec call.
* Every kernel is ``@njit(cache=True)``.  The first call of a signature in a
  fresh environment compiles it (about a second per kernel) and writes the
  machine code to ``__pycache__`` next to this file (or to
  ``NUMBA_CACHE_DIR``); every later process loads it from disk in a few
  milliseconds.
* :func:`rlemask.warmup` calls every codec once on a tiny mask for the common
  dtypes, so that the cost is paid at a moment of the caller's choosing (for
  example in a parent process before it starts a pool).

Worker processes
----------------
Forked workers inherit the parent's compiled kernels in memory.  Spawned
workers (``multiprocessing`` "spawn"/"forkserver", Keras ``PyDataset`` with
``use_multiprocessing=True``, ``concurrent.futures.ProcessPoolExecutor``) load
the on-disk cache; call :func:`rlemask.warmup` once in the parent first so
that the workers do not all compile the same kernel at the same time (numba
writes cache files atomically, so racing workers are safe, only wasteful).  If
the package folder is read-only, numba falls back to a per-user cache folder;
``NUMBA_CACHE_DIR`` chooses another.  With a warm cache, a fresh process
pays mostly numba's own start-up (measurements: docs/performance.md).
The test suite checks decoding in a pool of two spawned workers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# error codes returned by the validating kernels (messages are built in Python)
OK = 0
ERR_BAD_TOKEN = 1  # a token that is not an integer
ERR_TOO_LONG = 2  # an integer of more than 18 digits
ERR_NEG_OFFSET = 3  # siim: negative offset
ERR_BAD_LENGTH = 4  # a length <= 0
ERR_PAST_END = 5  # a run that ends past H * W
ERR_OVERLAP = 6  # absolute runs that overlap or go backwards
ERR_BAD_START = 7  # kaggle: start below 1 (the format is 1-based)
ERR_NEG_COUNT = 8  # coco: negative count
ERR_BAD_CHAR = 9  # coco string: character outside 48..111
ERR_TRUNCATED = 10  # coco string: ends inside a number
ERR_ODD = 11  # an odd number of tokens

# ---------------------------------------------------------------------------
# text -> integers


@njit(cache=True)
def _is_space(ch):
    # space, \t, \n, \v, \f, \r
    return ch == 32 or (ch >= 9 and ch <= 13)


@njit(cache=True)
def _parse_ints(buf):
    """Parse whitespace-separated (optionally negative) integers from ASCII bytes.

    Returns ``(values, n, err, err_token, err_byte)``; ``values[:n]`` holds the
    integers.  On error ``err`` is non-zero, ``err_token`` is the 0-based index
    of the bad token and ``err_byte`` the byte offset where it starts.
    """
    n = buf.size
    out = np.empty(n // 2 + 1, np.int64)
    k = 0
    i = 0
    while i < n:
        ch = buf[i]
        if _is_space(ch):
            i += 1
            continue
        start = i
        neg = False
        if ch == 45:  # '-'
            neg = True
            i += 1
        val = 0
        nd = 0
        while i < n:
            ch = buf[i]
            if ch >= 48 and ch <= 57:
                if nd == 18:
                    return out, k, ERR_TOO_LONG, k, start
                val = val * 10 + np.int64(ch - 48)
                nd += 1
                i += 1
            elif _is_space(ch):
                break
            else:
                return out, k, ERR_BAD_TOKEN, k, start
        if nd == 0:
            return out, k, ERR_BAD_TOKEN, k, start
        out[k] = -val if neg else val
        k += 1
    return out, k, OK, -1, -1


# ---------------------------------------------------------------------------
# integers -> canonical runs (sorted, non-overlapping, touching runs merged)


@njit(cache=True)
def _pairs_to_runs(tok, npairs, npix, relative, base):
    """Token pairs -> canonical runs: ``(starts, lengths, nruns, err, err_token)``.

    ``relative``: SIIM pairs ``offset length``, each offset counted from the
    previous run's end (0 after the first run: touching, merged), the first
    from pixel ``-base``.  Else Kaggle pairs ``start length`` with
    ``base``-based absolute starts, which must not go backwards.  No sum
    overflows: tokens have at most 18 digits and ``npix <= 2**40``.
    """
    starts = np.empty(npairs, np.int64)
    lengths = np.empty(npairs, np.int64)
    m = 0
    end = -base if relative else 0  # relative: the first offset is the base-based start
    for i in range(npairs):
        first = tok[2 * i]
        ln = tok[2 * i + 1]
        if relative:
            if first < 0:
                return starts, lengths, m, ERR_NEG_OFFSET, 2 * i
            s = end + first
            if s < 0:  # a first offset below a base of 1
                return starts, lengths, m, ERR_BAD_START, 2 * i
        else:
            s = first - base
            if s < 0:
                return starts, lengths, m, ERR_BAD_START, 2 * i
        if ln <= 0:
            return starts, lengths, m, ERR_BAD_LENGTH, 2 * i + 1
        if s < end:  # absolute starts only: a relative start is never before ``end``
            return starts, lengths, m, ERR_OVERLAP, 2 * i
        if s >= npix:
            return starts, lengths, m, ERR_PAST_END, 2 * i
        if ln > npix - s:
            return starts, lengths, m, ERR_PAST_END, 2 * i + 1
        if m > 0 and s == end:
            lengths[m - 1] += ln
        else:
            starts[m] = s
            lengths[m] = ln
            m += 1
        end = s + ln
    return starts, lengths, m, OK, -1


@njit(cache=True)
def _counts_to_runs(counts, n, npix):
    """COCO counts (alternating zeros and ones, zeros first) -> runs.

    A sum below ``npix`` leaves the remaining pixels empty.
    Returns ``(starts, lengths, nruns, err, err_index)``.
    """
    half = n // 2 + 1
    starts = np.empty(half, np.int64)
    lengths = np.empty(half, np.int64)
    m = 0
    pos = 0
    for i in range(n):
        c = counts[i]
        if c < 0:
            return starts, lengths, m, ERR_NEG_COUNT, i
        if c > npix - pos:
            return starts, lengths, m, ERR_PAST_END, i
        if i % 2 == 1 and c > 0:
            if m > 0 and starts[m - 1] + lengths[m - 1] == pos:
                lengths[m - 1] += c
            else:
                starts[m] = pos
                lengths[m] = c
                m += 1
        pos += c
    return starts, lengths, m, OK, -1


@njit(cache=True)
def _check_runs(starts, lengths, npix):
    """Validate arbitrary runs; returns ``(err, index)`` (index of the bad run)."""
    end = 0
    for i in range(starts.size):
        s = starts[i]
        ln = lengths[i]
        if ln <= 0:
            return ERR_BAD_LENGTH, i
        if s < 0:
            return ERR_BAD_START, i
        if i > 0 and s < end:
            return ERR_OVERLAP, i
        if s > npix or ln > npix - s:
            return ERR_PAST_END, i
        end = s + ln
    return OK, -1


# ---------------------------------------------------------------------------
# runs -> mask


@njit(cache=True)
def _fill_all_linear(flat, starts, lengths):
    """Write EVERY element of ``flat``: 1 inside the runs, 0 between them.

    One write pass over an uninitialised output (no separate zeroing pass).
    Slice assignments, not element loops: numba turns them into memset-like
    fills (10-20x faster than a loop per pixel on 1024^2 masks).
    """
    p = 0
    for i in range(starts.size):
        s = starts[i]
        e = s + lengths[i]
        flat[p:s] = 0
        flat[s:e] = 1
        p = e
    flat[p:] = 0


@njit(cache=True)
def _colmajor_markers(starts, lengths, H):
    """Column-major runs as per-row markers: ``(rowptr, cols, deltas)``.

    A run is cut into per-column segments ``[r0, r1)``: a ``+1`` at row ``r0``
    of its first column, a ``+1`` at row 0 of every later column it covers,
    and a ``-1`` at row ``r1`` of its last column (none when it reaches the
    bottom).  The markers of row ``r`` are ``cols[rowptr[r]:rowptr[r + 1]]``
    (a counting sort by row, so building them is O(runs + columns covered)).
    Canonical runs are sorted, so the columns of their starts and ends are
    found by advancing two pointers, without a division per run (a 64-bit
    division costs more than everything else done per run).
    """
    n = starts.size
    c0s = np.empty(n, np.int64)
    r0s = np.empty(n, np.int64)
    c1s = np.empty(n, np.int64)
    r1s = np.empty(n, np.int64)  # exclusive end row in the last column, 1..H
    cnt = np.zeros(H + 1, np.int64)
    c0 = 0
    base0 = 0  # first pixel of column c0
    c1 = 0
    base1 = 0
    for i in range(n):
        s = starts[i]
        last = s + lengths[i] - 1
        while s >= base0 + H:
            c0 += 1
            base0 += H
        if c1 < c0:
            c1 = c0
            base1 = base0
        while last >= base1 + H:
            c1 += 1
            base1 += H
        c0s[i] = c0
        r0s[i] = s - base0
        c1s[i] = c1
        r1s[i] = last + 1 - base1
        cnt[s - base0] += 1
        cnt[0] += c1 - c0
        cnt[last + 1 - base1] += 1  # row H: a run reaching the bottom needs no -1
    rowptr = np.empty(H + 1, np.int64)
    total = 0
    for r in range(H + 1):
        rowptr[r] = total
        total += cnt[r]
    pos = rowptr.copy()
    cols = np.empty(total, np.int64)
    deltas = np.empty(total, np.int8)
    for i in range(n):
        r0 = r0s[i]
        cols[pos[r0]] = c0s[i]
        deltas[pos[r0]] = 1
        pos[r0] += 1
        for c in range(c0s[i] + 1, c1s[i] + 1):
            cols[pos[0]] = c
            deltas[pos[0]] = 1
            pos[0] += 1
        r1 = r1s[i]
        cols[pos[r1]] = c1s[i]
        deltas[pos[r1]] = -1
        pos[r1] += 1
    return rowptr, cols, deltas


@njit(cache=True)
def _fill_colmajor_rows(out, starts, lengths, zeroed):
    """Decode column-major runs into a C-contiguous ``(H, W)`` int8 array.

    Never transposes and never writes pixel by pixel down a column: a state
    vector ``acc`` holds, for every column, whether the current row is inside
    a run; the row's markers (see :func:`_colmajor_markers`) update it and
    the row is then a plain copy of ``acc``.  Runs must be canonical (so
    ``acc`` stays 0/1); the caller passes an int8 view of its uint8 output.

    ``zeroed=False``: ``out`` may hold anything; every row is written exactly
    once (one write pass, no separate zeroing).  ``zeroed=True``: ``out`` is
    already zero; only the rows inside a run are written (cheaper for a mask
    of few rows: a large ``np.zeros`` costs no pass, the OS zeroes its pages).
    """
    H = out.shape[0]
    W = out.shape[1]
    rowptr, cols, deltas = _colmajor_markers(starts, lengths, H)
    acc = np.zeros(W, np.int8)
    active = 0  # columns inside a run on the current row
    for r in range(H):
        for k in range(rowptr[r], rowptr[r + 1]):
            acc[cols[k]] += deltas[k]
            active += deltas[k]
        if zeroed and active == 0:
            continue
        row = out[r]
        for c in range(W):  # a loop: numba's array-to-array slice copy is 20x slower here
            row[c] = acc[c]


@njit(cache=True)
def _paint_rows(out, mask, value, r0, r1):
    """``out[r] = value`` where ``mask[r] != 0``, for rows ``r0 <= r < r1`` (label images).

    Both arrays are C-contiguous ``(H, W)``; a select per pixel, vectorised.
    """
    W = out.shape[1]
    for r in range(r0, r1):
        o = out[r]
        m = mask[r]
        for c in range(W):
            if m[c] != 0:
                o[c] = value


@njit(cache=True)
def _parse_pairs(buf, npix, relative, base):
    """Text -> canonical runs in one call: ``(starts, lengths, n, err)``.

    ``relative``: SIIM offsets from the previous run's end; else Kaggle
    absolute starts counted from ``base``.  On error (``err != OK``) the
    caller re-parses step by step in Python to name the token.
    """
    tok, n, err, _, _ = _parse_ints(buf)
    if err:
        return tok, tok, 0, err
    if n == 0 or (n == 1 and tok[0] == -1):
        return tok, tok, 0, OK
    if n % 2:
        return tok, tok, 0, ERR_ODD
    s, ln, m, err, _ = _pairs_to_runs(tok, n // 2, npix, relative, base)
    return s, ln, m, err


@njit(cache=True)
def _parse_objects(buf, obj_ptr, obj_key, key_npix, relative, base):
    """Many pairs texts in one call: object ``i`` is ``buf[obj_ptr[i]:obj_ptr[i + 1]]``.

    The batch parser of :mod:`rlemask.score_pairs` (a block of scored keys,
    one kernel call instead of one Python call per object).  Each object is
    parsed by :func:`_parse_pairs` on a mask of ``key_npix[obj_key[i]]``
    pixels.  Returns ``(starts, lengths, run_ptr, err, err_obj)``: object
    ``i`` holds runs ``run_ptr[i]:run_ptr[i + 1]``; on error ``err != OK`` and
    ``err_obj`` is the object, which the caller re-parses with its codec to
    raise the message naming the token.
    """
    n_obj = obj_ptr.size - 1
    cap = buf.size // 4 + n_obj + 1  # a pair takes at least 4 bytes ("1 1" and a space)
    starts = np.empty(cap, np.int64)
    lengths = np.empty(cap, np.int64)
    run_ptr = np.zeros(n_obj + 1, np.int64)
    r = 0
    for o in range(n_obj):
        s, ln, m, err = _parse_pairs(
            buf[obj_ptr[o]:obj_ptr[o + 1]], key_npix[obj_key[o]], relative, base
        )
        if err:
            return starts, lengths, run_ptr, err, o
        starts[r:r + m] = s[:m]
        lengths[r:r + m] = ln[:m]
        r += m
        run_ptr[o + 1] = r
    # copies: a view would keep the over-sized buffers alive as long as the runs
    return starts[:r].copy(), lengths[:r].copy(), run_ptr, OK, -1


@njit(cache=True)
def _decode_pairs(buf, out, relative, base, row_major):
    """Text -> mask in one call: parse, validate EVERY run, and only then fill.

    ``out`` is a C-contiguous int8 ``(H, W)`` view of an UNINITIALISED array:
    every pixel is written (one write pass, no zeroing pass first).  Returns
    an error code (``OK`` = 0); on error nothing has been written.
    """
    npix = out.shape[0] * out.shape[1]
    s, ln, m, err = _parse_pairs(buf, npix, relative, base)
    if err:
        return err
    if row_major:
        _fill_all_linear(out.reshape(npix), s[:m], ln[:m])
    else:
        _fill_colmajor_rows(out, s[:m], ln[:m], False)
    return OK


# ---------------------------------------------------------------------------
# mask -> runs


_CHUNK = 64  # elements per chunk in the linear scan: test a chunk vectorised, then scan it


@njit(cache=True)
def _events_to_runs(events, total):
    """Sorted transition positions (start, end, start, end, ...) -> runs, touching ones joined."""
    npairs = total // 2
    starts = np.empty(npairs, np.int64)
    lengths = np.empty(npairs, np.int64)
    m = 0
    for k in range(npairs):
        s = events[2 * k]
        e = events[2 * k + 1]
        if m > 0 and starts[m - 1] + lengths[m - 1] == s:
            lengths[m - 1] = e - starts[m - 1]
        else:
            starts[m] = s
            lengths[m] = e - s
            m += 1
    return starts[:m], lengths[:m]


@njit(cache=True)
def _runs_linear(flat):
    """Runs of non-zero values of a contiguous 1-D array, in index order.

    A transition is a position ``i`` where ``flat[i] != 0`` differs from
    ``flat[i - 1] != 0`` (zeros assumed outside the array).  Pass 1 counts the
    transitions of each chunk of ``_CHUNK`` elements (vectorised) and so sizes
    the output; pass 2 scans only the chunks that hold a transition.
    """
    n = flat.size
    a = flat[1:]  # a transition at i + 1 where a[i] and b[i] differ
    b = flat[:-1]
    m = n - 1
    nfull = m // _CHUNK
    hits = np.empty(nfull, np.int64)
    total = 0
    for q in range(nfull):
        # the fixed trip count lets LLVM vectorise this reduction (written
        # inline: a call per chunk costs more than the chunk, numba refcounts
        # array arguments)
        base = q * _CHUNK
        h = 0
        for j in range(_CHUNK):
            h += (a[base + j] != 0) != (b[base + j] != 0)
        hits[q] = h
        total += h
    for i in range(nfull * _CHUNK, m):
        total += (a[i] != 0) != (b[i] != 0)
    first = flat[0] != 0
    last = flat[n - 1] != 0
    total += np.int64(first) + np.int64(last)  # (numpy bools would add as logical or)
    events = np.empty(total, np.int64)
    k = 0
    if first:
        events[0] = 0
        k = 1
    for q in range(nfull):
        if hits[q]:
            for i in range(q * _CHUNK, (q + 1) * _CHUNK):
                if (a[i] != 0) != (b[i] != 0):
                    events[k] = i + 1
                    k += 1
    for i in range(nfull * _CHUNK, m):
        if (a[i] != 0) != (b[i] != 0):
            events[k] = i + 1
            k += 1
    if last:
        events[k] = n
        k += 1
    return _events_to_runs(events, total)


@njit(cache=True)
def _column_sorted_runs(ev_c, ev_r, colcnt, H, total):
    """Runs of ``total`` row-major transition events ``(ev_c, ev_r)``, put in column-major order.

    ``colcnt[c + 1]`` holds how many events column ``c`` has.  A counting
    sort by column is stable, so rows stay increasing within a column and
    the column-major positions ``c * H + r`` come out sorted, alternating
    start, end (see :func:`_events_to_runs`).
    """
    W = colcnt.shape[0] - 1
    for c in range(W):
        colcnt[c + 1] += colcnt[c]
    events = np.empty(total, np.int64)
    for i in range(total):
        c = ev_c[i]
        events[colcnt[c]] = c * H + ev_r[i]
        colcnt[c] += 1
    return _events_to_runs(events, total)


@njit(cache=True)
def _runs_colmajor(mask):
    """Column-major runs of a C-contiguous ``(H, W)`` array, without transposing.

    A vertical transition at ``(r, c)`` is where ``mask[r, c] != 0`` differs
    from the row above (zero rows assumed above row 0 and below row H-1); its
    column-major position is ``c * H + r``.  Pass 1 counts the transitions of
    each row pair in C order (a vectorised reduction).  Pass 2 revisits only
    the rows that had one: it writes the row's transition flags into a buffer
    (vectorised), skips its zero 8-byte words, and records ``(c, r)`` events
    in row-major order.  A counting sort by column then puts the events in
    column-major order, where they alternate start, end; a run that ends on
    the last row and restarts at row 0 of the next column is joined.
    Cost: one read pass over the mask, plus one per row holding an edge.
    (Measured: this beats per-chunk bookkeeping in pass 1.)
    """
    H = mask.shape[0]
    W = mask.shape[1]
    zero = np.zeros(W, mask.dtype)
    rowcnt = np.empty(H + 1, np.int64)
    total = 0
    for r in range(H + 1):
        a = mask[r] if r < H else zero
        b = mask[r - 1] if r > 0 else zero
        n = 0
        for c in range(W):
            n += (a[c] != 0) != (b[c] != 0)
        rowcnt[r] = n
        total += n

    nw = (W + 7) // 8
    tbuf = np.zeros(nw * 8, np.uint8)
    tw = tbuf.view(np.uint64)
    ev_c = np.empty(total, np.int64)
    ev_r = np.empty(total, np.int64)
    colcnt = np.zeros(W + 1, np.int64)
    k = 0
    for r in range(H + 1):
        if rowcnt[r] == 0:
            continue
        a = mask[r] if r < H else zero
        b = mask[r - 1] if r > 0 else zero
        for c in range(W):
            tbuf[c] = (a[c] != 0) != (b[c] != 0)
        for wi in range(nw):
            if tw[wi] != 0:
                for c in range(wi * 8, wi * 8 + 8):
                    if tbuf[c]:
                        ev_c[k] = c
                        ev_r[k] = r
                        colcnt[c + 1] += 1
                        k += 1
    return _column_sorted_runs(ev_c, ev_r, colcnt, H, total)


_ONES = np.uint64(0x0101010101010101)
_LO16 = np.uint64(0x00FF00FF00FF00FF)
_LANE16 = np.uint64(0xFFFF)


@njit(cache=True)
def _lane_total(acc):
    """Sum of the eight byte lanes of ``acc`` (each lane <= 255)."""
    acc = (acc & _LO16) + ((acc >> np.uint64(8)) & _LO16)  # 4 lanes of 16 bits
    return np.int64(
        (acc & _LANE16)
        + ((acc >> np.uint64(16)) & _LANE16)
        + ((acc >> np.uint64(32)) & _LANE16)
        + (acc >> np.uint64(48))
    )


@njit(cache=True)
def _row_changes_binary(words, rowcnt, first):
    """Pass 1 for a 0/1 mask: per row pair, how many pixels change; -1 if not 0/1.

    Row ``r`` is compared with row ``r - 1`` (zero rows outside the mask),
    for ``r`` in ``0..H``.  For bytes that are 0 or 1, ``a ^ b`` has 0x01
    exactly where a pixel changes, so summing the words in 8-bit lanes
    counts the changes with one XOR and one add per 8 pixels; ``first[r]``
    gets the first word that changes (a vectorised min).  The OR of all
    words tells whether every byte was 0/1; if not, the counts are wrong and
    the caller redoes the pass with :func:`_row_changes_folded`.
    (The rows are array views indexed from 0: an index that might be
    negative stops LLVM from vectorising; see docs/performance.md.)
    """
    H = words.shape[0]
    nw = words.shape[1]
    seen = np.uint64(0)
    acc = np.uint64(0)
    f = nw
    a = words[0]
    for j in range(nw):  # row 0 against the zero row above it
        acc += a[j]
        seen |= a[j]
        f = min(f, j if a[j] != 0 else nw)
    rowcnt[0] = total = _lane_total(acc)
    first[0] = f
    for r in range(1, H):
        a = words[r]
        b = words[r - 1]
        acc = np.uint64(0)
        f = nw
        for j in range(nw):
            x = a[j] ^ b[j]
            acc += x
            seen |= a[j]
            f = min(f, j if x != 0 else nw)
        n = _lane_total(acc)
        rowcnt[r] = n
        first[r] = f
        total += n
    acc = np.uint64(0)
    f = nw
    b = words[H - 1]
    for j in range(nw):  # the last row against the zero row below it
        acc += b[j]
        f = min(f, j if b[j] != 0 else nw)
    rowcnt[H] = n = _lane_total(acc)
    first[H] = f
    total += n
    if seen & ~_ONES:
        return -1
    return total


@njit(cache=True)
def _row_changes_folded(words, rowcnt, first):
    """Pass 1 for any byte values (non-zero = foreground): changes per row pair.

    ``nz`` folds every byte onto its low bit, so any non-zero byte counts,
    even a 2 or a 255.  ``first`` is set to 0 (pass 2 scans whole rows).
    """
    H = words.shape[0]
    nw = words.shape[1]
    zero = np.zeros(nw, np.uint64)
    total = 0
    for r in range(H + 1):
        a = words[r] if r < H else zero
        b = words[r - 1] if r > 0 else zero
        acc = np.uint64(0)
        for j in range(nw):
            x = a[j]  # fold each byte onto its low bit: 0x01 where non-zero
            x |= x >> np.uint64(4)
            x |= x >> np.uint64(2)
            x = (x | (x >> np.uint64(1))) & _ONES
            y = b[j]
            y |= y >> np.uint64(4)
            y |= y >> np.uint64(2)
            y = (y | (y >> np.uint64(1))) & _ONES
            acc += x ^ y
        n = _lane_total(acc)
        rowcnt[r] = n
        first[r] = 0
        total += n
    return total


@njit(cache=True)
def _runs_colmajor_words(mask, words):
    """:func:`_runs_colmajor` for a C-contiguous uint8 mask whose width is a multiple of 8.

    ``words`` is ``mask`` viewed as ``(H, W // 8)`` uint64.  Pass 1 counts
    the pixels that change between each pair of rows, eight pixels per
    operation (:func:`_row_changes_binary`, or :func:`_row_changes_folded`
    when some byte is neither 0 nor 1); the caller guarantees ``W <= 2040``
    (at most 255 words, so no byte lane overflows).  (One flat loop over
    the words: blocks with ``min`` bounds stop LLVM from vectorising.)
    Pass 2 visits only the rows with a change and, in them, starts at the
    first word that changes, skips every stretch of four words (32 pixels)
    whose raw bytes equal the row above (equal bytes never change), and
    stops at the row's last change.  Bytes
    are compared as bytes, so byte order never matters.
    """
    H = mask.shape[0]
    W = mask.shape[1]
    nw = words.shape[1]
    rowcnt = np.empty(H + 1, np.int64)
    first = np.empty(H + 1, np.int64)
    total = _row_changes_binary(words, rowcnt, first)
    if total < 0:
        total = _row_changes_folded(words, rowcnt, first)

    ev_c = np.empty(total, np.int64)
    ev_r = np.empty(total, np.int64)
    colcnt = np.zeros(W + 1, np.int64)
    k = 0
    # row 0 and row H differ from the zero rows outside wherever they are non-zero
    if rowcnt[0]:
        for c in range(W):
            if mask[0, c] != 0:
                ev_c[k] = c
                ev_r[k] = 0
                colcnt[c + 1] += 1
                k += 1
    # 2-D indexing, not row views: a view per row costs more than scanning it
    for r in range(1, H):
        left = rowcnt[r]
        j = first[r]
        while left > 0:
            if j + 4 <= nw:
                x = (words[r, j] ^ words[r - 1, j]) | (words[r, j + 1] ^ words[r - 1, j + 1])
                x |= (words[r, j + 2] ^ words[r - 1, j + 2]) | (
                    words[r, j + 3] ^ words[r - 1, j + 3]
                )
                step = 4
            else:
                x = words[r, j] ^ words[r - 1, j]
                step = 1
            if x != 0:
                for jj in range(j, j + step):
                    if words[r, jj] == words[r - 1, jj]:
                        continue
                    for c in range(8 * jj, 8 * jj + 8):
                        if (mask[r, c] != 0) != (mask[r - 1, c] != 0):
                            ev_c[k] = c
                            ev_r[k] = r
                            colcnt[c + 1] += 1
                            k += 1
                            left -= 1
            j += step
    if rowcnt[H]:
        for c in range(W):
            if mask[H - 1, c] != 0:
                ev_c[k] = c
                ev_r[k] = H
                colcnt[c + 1] += 1
                k += 1
    return _column_sorted_runs(ev_c, ev_r, colcnt, H, total)


# ---------------------------------------------------------------------------
# runs -> text


# "00" "01" ... "99": two digits per division when printing numbers
_DIGITS2 = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode("ascii"), np.uint8)


@njit(cache=True)
def _write_uint(out, p, v):
    """Write the decimal digits of ``v >= 0`` at ``out[p:]``; return the end position.

    The digits are counted first (comparisons, no division), then written
    from the right two at a time from a table: half the divisions of a
    digit-by-digit loop, and each is by a constant (a multiply).
    """
    nd = 1
    t = v
    while t >= 100:
        t //= 100
        nd += 2
    if t >= 10:
        nd += 1
    q = p + nd
    while v >= 100:
        d = v // 100
        two = 2 * (v - 100 * d)
        q -= 2
        out[q] = _DIGITS2[two]
        out[q + 1] = _DIGITS2[two + 1]
        v = d
    if v >= 10:
        out[p] = _DIGITS2[2 * v]
        out[p + 1] = _DIGITS2[2 * v + 1]
    else:
        out[p] = 48 + v
    return p + nd


@njit(cache=True)
def _format_runs(starts, lengths, relative, base):
    """ASCII ``"a0 l0 a1 l1 ..."``: ``a`` is the offset from the previous run's
    end (``relative``, SIIM; the first from pixel ``-base``) or the absolute
    start plus ``base`` (Kaggle)."""
    n = starts.size
    out = np.empty(n * 40 + 1, np.uint8)
    p = 0
    end = -base  # relative: the first offset is the base-based start
    for i in range(n):
        if i > 0:
            out[p] = 32
            p += 1
        first = starts[i] - end if relative else starts[i] + base
        p = _write_uint(out, p, first)
        out[p] = 32
        p += 1
        p = _write_uint(out, p, lengths[i])
        end = starts[i] + lengths[i]
    return out[:p]


@njit(cache=True)
def _encode_words_text(mask, words, relative, base):
    """Mask -> column-major run text in one call (see :func:`_runs_colmajor_words`)."""
    s, ln = _runs_colmajor_words(mask, words)
    return _format_runs(s, ln, relative, base)


@njit(cache=True)
def _encode_linear_text(flat, relative, base):
    """Contiguous 1-D scan -> run text in one call (see :func:`_runs_linear`)."""
    s, ln = _runs_linear(flat)
    return _format_runs(s, ln, relative, base)


# ---------------------------------------------------------------------------
# COCO compressed counts (pycocotools' rleToString / rleFrString)


@njit(cache=True)
def _runs_to_counts(starts, lengths, npix):
    """pycocotools counts: zeros, ones, zeros, ...; trailing zeros only if any."""
    n = starts.size
    out = np.empty(2 * n + 1, np.int64)
    m = 0
    end = 0
    for i in range(n):
        out[m] = starts[i] - end
        out[m + 1] = lengths[i]
        m += 2
        end = starts[i] + lengths[i]
    if end < npix or n == 0:
        out[m] = npix - end
        m += 1
    return out[:m]


@njit(cache=True)
def _counts_to_string(counts):
    m = counts.size
    out = np.empty(m * 13 + 1, np.uint8)
    p = 0
    for i in range(m):
        x = counts[i]
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            if c & 0x10:
                more = x != -1
            else:
                more = x != 0
            if more:
                c |= 0x20
            out[p] = c + 48
            p += 1
    return out[:p]


@njit(cache=True)
def _string_to_counts(buf):
    """Returns ``(counts, n, err, err_byte)``."""
    n = buf.size
    out = np.empty(n, np.int64)
    m = 0
    p = 0
    while p < n:
        x = 0
        k = 0
        more = True
        while more:
            if p >= n:
                return out, m, ERR_TRUNCATED, p
            c = np.int64(buf[p]) - 48
            if c < 0 or c > 63 or k >= 12:
                return out, m, ERR_BAD_CHAR, p
            x |= (c & 0x1F) << (5 * k)
            more = (c & 0x20) != 0
            p += 1
            k += 1
            if not more and (c & 0x10) != 0:
                x |= np.int64(-1) << (5 * k)
        if m > 2:
            x += out[m - 2]
        out[m] = x
        m += 1
    return out, m, OK, -1
