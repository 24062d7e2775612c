"""numba kernel behind :mod:`rlemask.augment`.

The kernel trusts its inputs: shapes, dtypes and parameter arrays are built
and checked by :func:`rlemask.augment.warp_batch`, its only caller.  numba
does not check bounds, so never call it with arrays built elsewhere.

One pass per output pixel does the whole built-in set (flip, zoom about the
centre + shift, contrast, brightness): the image is sampled bilinearly and
the mask at the nearest source pixel of the same coordinate, so image and
mask stay aligned and the mask keeps its values.  Fusing the steps reads the
source once and writes the output once; separate numpy passes (flip, warp,
intensity, clip) cost about ten times more.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload


def _blend_rows(top, bottom, a, unit, tmp):
    """``tmp = top * (1 - a) + bottom * a``; uint8 rows are read through ``unit``.

    Plain Python for ``NUMBA_DISABLE_JIT=1``; compiled code uses the
    overload below, specialised on the rows' dtype.
    """
    if top.dtype == np.uint8:
        top, bottom = unit[top], unit[bottom]
    tmp[:] = top * (np.float32(1) - a) + bottom * a


@overload(_blend_rows)
def _blend_rows_compiled(top, bottom, a, unit, tmp):
    one = np.float32(1.0)
    if top.dtype == types.uint8:

        def blend_unit(top, bottom, a, unit, tmp):
            for k in range(tmp.shape[0]):
                tmp[k] = unit[top[k]] * (one - a) + unit[bottom[k]] * a

        return blend_unit

    def blend(top, bottom, a, unit, tmp):
        for k in range(tmp.shape[0]):
            tmp[k] = top[k] * (one - a) + bottom[k] * a

    return blend


@njit(cache=True, nogil=True)
def _axis_map(n, scale, shift, flip, lo, hi, weight, near):
    """Source indices of each output pixel along one axis (length ``n``).

    Output pixel ``i`` reads the source coordinate
    ``(i - centre - shift) / scale + centre`` clipped to ``[0, n - 1]`` (edge
    pixels repeat).  ``lo``/``hi`` are the two bilinear neighbours with
    ``weight`` the share of ``hi``; ``near`` the nearest pixel (round half
    up).  With ``flip`` the coordinate is taken in the mirrored source, so
    the indices are mirrored back at the end.
    """
    centre = (n - 1) / 2.0
    for i in range(n):
        x = (i - centre - shift) / scale + centre
        x = min(max(x, 0.0), n - 1.0)
        f = int(np.floor(x))
        weight[i] = np.float32(x - f)
        f1 = min(f + 1, n - 1)
        m = min(int(np.floor(x + 0.5)), n - 1)
        if flip:
            f, f1, m = n - 1 - f, n - 1 - f1, n - 1 - m
        lo[i] = f
        hi[i] = f1
        near[i] = m


@njit(cache=True, nogil=True)
def _columns(tmp, c0, c1, wc, cn, contrast, offset, mask_row, out_row, out_mask_row):
    """One output row: bilinear along the row from ``tmp``, intensity, clip; the mask's row."""
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for j in range(out_row.shape[0]):
        u = wc[j]
        v = (tmp[c0[j]] * (one - u) + tmp[c1[j]] * u) * contrast + offset
        # min/max rather than branches: the loop stays branch-free (about 2x faster)
        out_row[j] = min(max(v, zero), one)
        out_mask_row[j] = mask_row[cn[j]]


@njit(cache=True, nogil=True)
def _warp_batch(
    images, unit, masks, flip, scale, shift_y, shift_x, contrast, brightness, out_images,
    out_masks,
):
    """Warp and recontrast ``images`` (B, H, W) and ``masks`` (uint8) into the outs.

    ``images`` is float32, or uint8 read through the table ``unit`` (float32
    (256,), ``k / 255``): the same values as the float32 images the cache
    would return, without a float32 copy of the batch.  ``flip`` flips
    columns (a horizontal flip); rows are never flipped.  Rows are blended
    first, over contiguous memory, then each output pixel gathers two
    columns of that blend.
    """
    n, h, w = images.shape
    r0 = np.empty(h, np.intp)
    r1 = np.empty(h, np.intp)
    rn = np.empty(h, np.intp)
    wr = np.empty(h, np.float32)
    c0 = np.empty(w, np.intp)
    c1 = np.empty(w, np.intp)
    cn = np.empty(w, np.intp)
    wc = np.empty(w, np.float32)
    tmp = np.empty(w, np.float32)
    half = np.float32(0.5)
    for b in range(n):
        _axis_map(h, scale[b], shift_y[b], False, r0, r1, wr, rn)
        _axis_map(w, scale[b], shift_x[b], flip[b], c0, c1, wc, cn)
        ct = np.float32(contrast[b])
        # (v - 0.5) * ct + 0.5 + brightness, folded into v * ct + offset
        offset = half + np.float32(brightness[b]) - half * ct
        src = images[b]
        for i in range(h):
            _blend_rows(src[r0[i]], src[r1[i]], wr[i], unit, tmp)
            _columns(tmp, c0, c1, wc, cn, ct, offset, masks[b, rn[i]], out_images[b, i],
                     out_masks[b, i])

