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
from numba import njit


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
def _warp_batch(
    images, masks, flip, scale, shift_y, shift_x, contrast, brightness, out_images, out_masks
):
    """Warp and recontrast ``images`` (float32 (B, H, W)) and ``masks`` (uint8) into the outs.

    ``flip`` flips columns (horizontal flip); rows are never flipped.
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
    one = np.float32(1.0)
    half = np.float32(0.5)
    zero = np.float32(0.0)
    for b in range(n):
        _axis_map(h, scale[b], shift_y[b], False, r0, r1, wr, rn)
        _axis_map(w, scale[b], shift_x[b], flip[b], c0, c1, wc, cn)
        ct = np.float32(contrast[b])
        br = np.float32(brightness[b])
        src = images[b]
        msk = masks[b]
        for i in range(h):
            top_row = src[r0[i]]
            bottom_row = src[r1[i]]
            mask_row = msk[rn[i]]
            a = wr[i]
            # rows first over contiguous memory (vectorised), then one gather per tap
            for k in range(w):
                tmp[k] = top_row[k] * (one - a) + bottom_row[k] * a
            for j in range(w):
                u = wc[j]
                v = (tmp[c0[j]] * (one - u) + tmp[c1[j]] * u - half) * ct + half + br
                if v < zero:
                    v = zero
                elif v > one:
                    v = one
                out_images[b, i, j] = v
                out_masks[b, i, j] = mask_row[cn[j]]
