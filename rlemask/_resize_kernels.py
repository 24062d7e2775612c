"""numba kernels behind :mod:`rlemask.resize`.

Every kernel trusts its inputs: shapes, index maps and weights are built and
checked by the wrappers in :mod:`rlemask.resize`, which are the only callers.
numba does not check bounds, so never call these with arrays built elsewhere.

Conventions shared by all kernels
---------------------------------
* Pixel ``i`` of an axis of length ``n`` covers ``[i, i + 1)`` and its centre
  is ``i + 0.5``.  An output pixel ``i`` of an axis resized from ``n_in`` to
  ``n_out`` covers ``[i * n_in / n_out, (i + 1) * n_in / n_out)`` in input
  coordinates (its *footprint*).
* Masks are tested with ``!= 0``; kernels that write masks write 0 or 1.
* Outputs are preallocated by the caller and written in place (C order).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --------------------------------------------------------------------------
# axis maps (1-D); small, but kept in numba so that a 1024-long axis costs
# microseconds rather than a Python loop


@njit(cache=True)
def _area_axis(n_in, n_out):
    """Exact overlap weights of output footprints with input pixels.

    Returns ``(starts, counts, weights)``: output ``i`` overlaps input pixels
    ``starts[i] .. starts[i] + counts[i] - 1`` with integer weights
    ``weights[i, k]`` in units of ``1 / n_out`` input pixel, so each output's
    weights sum to exactly ``n_in``.  Integers keep the fraction tests of the
    mask ``area`` method exact (no rounding at exactly one half).
    """
    kmax = (n_in + n_out - 1) // n_out + 1
    starts = np.empty(n_out, np.int64)
    counts = np.empty(n_out, np.int64)
    weights = np.zeros((n_out, kmax), np.int64)
    for i in range(n_out):
        lo = i * n_in  # footprint in units of 1 / n_out input pixel
        hi = lo + n_in
        first = lo // n_out
        last = (hi - 1) // n_out  # last input pixel with a positive overlap
        starts[i] = first
        counts[i] = last - first + 1
        for k in range(first, last + 1):
            weights[i, k - first] = min(hi, (k + 1) * n_out) - max(lo, k * n_out)
    return starts, counts, weights


# --------------------------------------------------------------------------
# images (float32 out)


@njit(cache=True)
def _block_mean(image, fy, fx, acc, out):
    """Exact mean of ``fy x fx`` blocks (integer-factor downscaling).

    Rows are summed first into the row buffer ``acc`` (length W; float32
    when the caller knows the block sums are exact in it, else float64),
    then columns, so every input pixel is read once, in memory order.
    """
    oh, ow = out.shape
    iw = image.shape[1]
    scale = 1.0 / (fy * fx)
    for i in range(oh):
        r0 = i * fy
        for j in range(iw):
            acc[j] = image[r0, j]
        for k in range(1, fy):
            for j in range(iw):
                acc[j] += image[r0 + k, j]
        for j in range(ow):
            c0 = j * fx
            v = acc[c0]
            for m in range(1, fx):
                v += acc[c0 + m]
            out[i, j] = v * scale


@njit(cache=True)
def _area_sums(image, rs, rn, rw, cs, cn, cw, out):
    """``out[i, j] = sum_a sum_b rw[i, a] * cw[j, b] * image[rs[i] + a, cs[j] + b]``.

    With the weights of :func:`_area_axis` the total weight of every output
    pixel is ``n_in_rows * n_in_cols``; callers divide by it (images) or
    compare twice the sum to it (masks).
    """
    oh, ow = out.shape
    iw = image.shape[1]
    row = np.empty(iw, np.float64)
    for i in range(oh):
        # weighted sum of the input rows under this output row
        for j in range(iw):
            row[j] = 0.0
        for a in range(rn[i]):
            w = rw[i, a]
            r = rs[i] + a
            for j in range(iw):
                row[j] += w * image[r, j]
        for j in range(ow):
            v = 0.0
            c = cs[j]
            for b in range(cn[j]):
                v += cw[j, b] * row[c + b]
            out[i, j] = v


@njit(cache=True)
def _bilinear(image, r0, r1, rt, c0, c1, ct, out):
    """Separable linear interpolation between two neighbours per axis.

    Each output row first blends its two input rows into a float64 buffer,
    then samples the buffer along the columns.  Values are only ever
    multiplied by weights, never subtracted, so unsigned inputs cannot wrap.
    """
    oh, ow = out.shape
    iw = image.shape[1]
    row = np.empty(iw, np.float64)
    for i in range(oh):
        a = r0[i]
        b = r1[i]
        t = rt[i]
        for j in range(iw):
            row[j] = (1.0 - t) * image[a, j] + t * image[b, j]
        for j in range(ow):
            s = ct[j]
            out[i, j] = (1.0 - s) * row[c0[j]] + s * row[c1[j]]


@njit(cache=True)
def _gather_values(image, rows, cols, out):
    """Nearest-neighbour sampling of values (images)."""
    oh, ow = out.shape
    for i in range(oh):
        r = rows[i]
        for j in range(ow):
            out[i, j] = image[r, cols[j]]


# --------------------------------------------------------------------------
# masks (uint8 0/1 out)


@njit(cache=True)
def _gather_nonzero(mask, rows, cols, out):
    """Nearest-neighbour sampling of a mask: ``out[i, j] = mask[rows[i], cols[j]] != 0``."""
    oh, ow = out.shape
    for i in range(oh):
        r = rows[i]
        for j in range(ow):
            out[i, j] = mask[r, cols[j]] != 0


@njit(cache=True)
def _gather_word_byte(words, fy, oy, byte_mask, out):
    """Nearest for an integer factor of 2, 4 or 8 along the columns.

    ``words`` is the mask viewed as unsigned words of ``fx`` bytes each and
    ``byte_mask`` (same dtype) selects the sampled byte of each word, so the
    loop makes no scattered byte loads and vectorises.
    """
    oh, ow = out.shape
    for i in range(oh):
        w = words[i * fy + oy]
        for j in range(ow):
            out[i, j] = (w[j] & byte_mask) != 0


@njit(cache=True)
def _rows_or_words(words64, fy, out64):
    """OR ``fy`` consecutive rows of a mask viewed as uint64 words.

    First half of the ``any`` fast path: eight bytes per operation.  The
    caller views ``out64`` with words of ``fx`` bytes and tests each for
    non-zero with :func:`_nonzero`.
    """
    oh = out64.shape[0]
    nw = out64.shape[1]
    for i in range(oh):
        r0 = i * fy
        for j in range(nw):
            out64[i, j] = words64[r0, j]
        for k in range(1, fy):
            for j in range(nw):
                out64[i, j] |= words64[r0 + k, j]


@njit(cache=True)
def _nonzero(words, out):
    """``out = words != 0`` as 0/1 bytes (any word width)."""
    oh, ow = out.shape
    for i in range(oh):
        for j in range(ow):
            out[i, j] = words[i, j] != 0


@njit(cache=True)
def _or_rows(mask, r0, r1, acc):
    """``acc[j] = any(mask[r0:r1, j] != 0)`` for ``r1 > r0``, read in memory order.

    The first row is assigned rather than OR-ed into zeros: one pass less
    over the buffer per output row.
    """
    iw = mask.shape[1]
    for j in range(iw):
        acc[j] = mask[r0, j] != 0
    for r in range(r0 + 1, r1):
        for j in range(iw):
            acc[j] |= mask[r, j] != 0


@njit(cache=True)
def _block_any(mask, fy, fx, out):
    """Max-pool of ``fy x fx`` blocks for any layout or width.

    :func:`_range_any` with block ranges, kept apart because the constant
    block width lets LLVM unroll the column loop (measured 1.0-1.1x faster).
    """
    oh, ow = out.shape
    acc = np.empty(mask.shape[1], np.uint8)
    for i in range(oh):
        _or_rows(mask, i * fy, i * fy + fy, acc)
        for j in range(ow):
            c0 = j * fx
            v = acc[c0]
            for m in range(1, fx):
                v |= acc[c0 + m]
            out[i, j] = v


@njit(cache=True)
def _range_any(mask, rs, re, cs, ce, out):
    """``out[i, j] = any(mask[rs[i]:re[i], cs[j]:ce[j]] != 0)``; ranges may overlap, none is empty.

    Separable: the rows of each output row are OR-ed into a buffer in memory
    order, then each output column ORs its slice of the buffer.
    """
    oh, ow = out.shape
    acc = np.empty(mask.shape[1], np.uint8)
    for i in range(oh):
        _or_rows(mask, rs[i], re[i], acc)
        for j in range(ow):
            c0 = cs[j]
            v = acc[c0]
            for c in range(c0 + 1, ce[j]):
                v |= acc[c]
            out[i, j] = v


@njit(cache=True)
def _block_majority(mask, fy, fx, out):
    """``out = 1`` where at least half of an ``fy x fx`` block is non-zero."""
    oh, ow = out.shape
    iw = mask.shape[1]
    acc = np.empty(iw, np.int64)
    need = fy * fx  # compare 2 * count >= fy * fx: integers, no rounding
    for i in range(oh):
        r0 = i * fy
        for j in range(iw):
            acc[j] = mask[r0, j] != 0
        for k in range(1, fy):
            for j in range(iw):
                acc[j] += mask[r0 + k, j] != 0
        for j in range(ow):
            c0 = j * fx
            v = acc[c0]
            for m in range(1, fx):
                v += acc[c0 + m]
            out[i, j] = 2 * v >= need
