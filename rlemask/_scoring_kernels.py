"""numba kernels behind :mod:`rlemask.scoring`: batch parsing of objects, Dice counts, matching.

A batch is a block of scored keys (an image, or an image and a class): the
RLE texts of every object of the block are joined into one byte buffer and
parsed in one call, so that scoring 100,000 objects costs one kernel call
per block instead of one Python call per object.  The layout everywhere is
CSR: object ``i`` holds runs ``run_ptr[i]:run_ptr[i + 1]``, key ``k`` holds
objects ``key_ptr[k]:key_ptr[k + 1]``.

Every kernel trusts its input; :mod:`rlemask.scoring` builds the buffers and
pointers.  Parsing validates every token and returns an error code and the
object's index instead of raising; the caller then re-parses that object
with its format's codec, which raises the :class:`rlemask.RLEError` naming
the token.  Kernels that call each other live in this one file (numba's
cache does not see edits across files).
"""

from __future__ import annotations

import numpy as np
from numba import njit

OK = 0
ERR_TEXT = 1  # any error of the text (token, pairs, runs): re-parsed by the codec


@njit(cache=True)
def _is_space(ch):
    return ch == 32 or (ch >= 9 and ch <= 13)


@njit(cache=True)
def _parse_objects(buf, obj_ptr, obj_key, key_npix, key_m, relative, base):
    """Parse object ``i`` = ``buf[obj_ptr[i]:obj_ptr[i + 1]]`` as pairs of integers.

    ``relative``: SIIM pairs (offset from the previous run's end); else Kaggle
    pairs with ``base``-based absolute starts.  Touching runs are merged.
    Object ``i`` belongs to key ``obj_key[i]`` whose mask has
    ``key_npix[k]`` pixels and scan lines of ``key_m[k]`` pixels.

    Returns ``(starts, lengths, run_ptr, boxes, area, err, err_obj)``:
    ``boxes[i] = (line0, line1, pos0, pos1)`` inclusive (lines are columns of
    a column-major scan, positions rows), ``area[i]`` its pixels.
    """
    n_obj = obj_ptr.size - 1
    cap = buf.size // 4 + n_obj + 1
    starts = np.empty(cap, np.int64)
    lengths = np.empty(cap, np.int64)
    run_ptr = np.zeros(n_obj + 1, np.int64)
    boxes = np.zeros((n_obj, 4), np.int64)
    area = np.zeros(n_obj, np.int64)
    r = 0
    for o in range(n_obj):
        npix = key_npix[obj_key[o]]
        m = key_m[obj_key[o]]
        i = obj_ptr[o]
        stop = obj_ptr[o + 1]
        first_run = r
        end = 0
        have_first = False
        first = np.int64(0)
        l0 = npix
        l1 = np.int64(-1)
        p0 = m
        p1 = np.int64(-1)
        total = np.int64(0)
        while i < stop:
            ch = buf[i]
            if _is_space(ch):
                i += 1
                continue
            val = np.int64(0)
            nd = 0
            while i < stop and not _is_space(buf[i]):
                ch = buf[i]
                if ch < 48 or ch > 57 or nd == 18:
                    return starts, lengths, run_ptr, boxes, area, ERR_TEXT, o
                val = val * 10 + np.int64(ch - 48)
                nd += 1
                i += 1
            if not have_first:
                first = val
                have_first = True
                continue
            have_first = False
            ln = val
            s = end + first if relative else first - base
            if s < 0 or ln <= 0 or s < end or s >= npix or ln > npix - s:
                return starts, lengths, run_ptr, boxes, area, ERR_TEXT, o
            if r > first_run and s == end:
                lengths[r - 1] += ln
            else:
                starts[r] = s
                lengths[r] = ln
                r += 1
            end = s + ln
            total += ln
            a = s // m
            b = (end - 1) // m
            if a < l0:
                l0 = a
            if b > l1:
                l1 = b
            if a != b:
                p0 = 0
                p1 = m - 1
            else:
                if s - a * m < p0:
                    p0 = s - a * m
                if end - 1 - a * m > p1:
                    p1 = end - 1 - a * m
        if have_first:  # an odd number of tokens
            return starts, lengths, run_ptr, boxes, area, ERR_TEXT, o
        run_ptr[o + 1] = r
        boxes[o, 0] = l0
        boxes[o, 1] = l1
        boxes[o, 2] = p0
        boxes[o, 3] = p1
        area[o] = total
    # copies: a view would keep the over-sized buffers alive as long as the runs
    return starts[:r].copy(), lengths[:r].copy(), run_ptr, boxes, area, OK, -1


@njit(cache=True)
def _boxes(starts, lengths, run_ptr, obj_key, key_m):
    """``(boxes, area)`` of objects given as CSR runs (see :func:`_parse_objects`)."""
    n_obj = run_ptr.size - 1
    boxes = np.zeros((n_obj, 4), np.int64)
    area = np.zeros(n_obj, np.int64)
    for o in range(n_obj):
        m = key_m[obj_key[o]]
        l0 = np.int64(1) << 62
        l1 = np.int64(-1)
        p0 = m
        p1 = np.int64(-1)
        total = np.int64(0)
        for j in range(run_ptr[o], run_ptr[o + 1]):
            s = starts[j]
            e = s + lengths[j]
            total += lengths[j]
            a = s // m
            b = (e - 1) // m
            l0 = min(l0, a)
            l1 = max(l1, b)
            if a != b:
                p0 = 0
                p1 = m - 1
            else:
                p0 = min(p0, s - a * m)
                p1 = max(p1, e - 1 - a * m)
        boxes[o, 0] = l0
        boxes[o, 1] = l1
        boxes[o, 2] = p0
        boxes[o, 3] = p1
        area[o] = total
    return boxes, area


@njit(cache=True)
def _union_runs(starts, lengths, r0, r1, single):
    """Sorted, non-overlapping union of runs ``r0:r1`` (several objects, any order)."""
    n = r1 - r0
    out_s = np.empty(n, np.int64)
    out_l = np.empty(n, np.int64)
    if n == 0:
        return out_s, out_l, 0
    if single:
        for j in range(n):
            out_s[j] = starts[r0 + j]
            out_l[j] = lengths[r0 + j]
        return out_s, out_l, n
    order = np.argsort(starts[r0:r1], kind="mergesort")
    m = 0
    cur_s = starts[r0 + order[0]]
    cur_e = cur_s + lengths[r0 + order[0]]
    for q in range(1, n):
        s = starts[r0 + order[q]]
        e = s + lengths[r0 + order[q]]
        if s <= cur_e:
            if e > cur_e:
                cur_e = e
        else:
            out_s[m] = cur_s
            out_l[m] = cur_e - cur_s
            m += 1
            cur_s = s
            cur_e = e
    out_s[m] = cur_s
    out_l[m] = cur_e - cur_s
    return out_s, out_l, m + 1


@njit(cache=True)
def _shared(s1, l1, a0, a1, s2, l2, b0, b1):
    """Pixels shared by sorted, non-overlapping runs ``[a0, a1)`` and ``[b0, b1)``.

    The same merge as ``_runs_kernels._inter_area``, repeated on purpose: the
    matching kernel calls it, and numba's cache does not see edits to a
    kernel in another file.
    """
    total = np.int64(0)
    i = a0
    j = b0
    while i < a1 and j < b1:
        e1 = s1[i] + l1[i]
        e2 = s2[j] + l2[j]
        lo = max(s1[i], s2[j])
        hi = min(e1, e2)
        if lo < hi:
            total += hi - lo
        if e1 <= e2:
            i += 1
        else:
            j += 1
    return total


@njit(cache=True)
def _key_runs(starts, lengths, run_ptr, key_ptr, k):
    """The union of key ``k``'s objects as ``(starts, lengths, n)``."""
    o0 = key_ptr[k]
    o1 = key_ptr[k + 1]
    r0 = run_ptr[o0]
    r1 = run_ptr[o1]
    return _union_runs(starts, lengths, r0, r1, o1 - o0 == 1)


@njit(cache=True)
def _dice_counts(ts, tl, t_run, t_key, ps, pl, p_run, p_key):
    """Per key: ``(|T|, |P|, |T & P|)`` of the unions of each side's objects."""
    n_keys = t_key.size - 1
    out = np.zeros((n_keys, 3), np.int64)
    for k in range(n_keys):
        us, ul, nu = _key_runs(ts, tl, t_run, t_key, k)
        vs, vl, nv = _key_runs(ps, pl, p_run, p_key, k)
        a = np.int64(0)
        for j in range(nu):
            a += ul[j]
        b = np.int64(0)
        for j in range(nv):
            b += vl[j]
        out[k, 0] = a
        out[k, 1] = b
        if a > 0 and b > 0:
            out[k, 2] = _shared(us, ul, 0, nu, vs, vl, 0, nv)
    return out


@njit(cache=True)
def _boxes_overlap(bt, i, bp, j):
    return not (
        bt[i, 1] < bp[j, 0] or bp[j, 1] < bt[i, 0] or bt[i, 3] < bp[j, 2] or bp[j, 3] < bt[i, 2]
    )


@njit(cache=True)
def _match_counts(ts, tl, t_run, t_box, t_area, t_key,
                  ps, pl, p_run, p_box, p_area, p_key, thr_num, thr_den):
    """Objects matched one to one per key, for each threshold ``t = num / den``.

    Pairs whose boxes do not overlap are never compared; the IoU of the
    others is computed on the runs.  Pairs with IoU > the lowest threshold
    are matched greedily by decreasing IoU (unique for thresholds >= 0.5
    when the objects of one side do not overlap); a matched pair counts as a
    true positive at every threshold ``t`` with ``inter * den > num * union``
    (exact integer comparison: an IoU of exactly ``t`` is not a match).

    Returns ``(tp (n_keys, n_thr), n_true (n_keys,), n_pred (n_keys,),
    area (n_keys, 2), n_compared)``.
    """
    n_keys = t_key.size - 1
    n_thr = thr_num.size
    tp = np.zeros((n_keys, n_thr), np.int64)
    n_true = np.zeros(n_keys, np.int64)
    n_pred = np.zeros(n_keys, np.int64)
    areas = np.zeros((n_keys, 2), np.int64)
    lo_num = thr_num[0]
    lo_den = thr_den[0]
    for q in range(1, n_thr):  # the lowest threshold decides which pairs may match
        if thr_num[q] * lo_den < lo_num * thr_den[q]:
            lo_num = thr_num[q]
            lo_den = thr_den[q]
    compared = 0
    for k in range(n_keys):
        i0 = t_key[k]
        i1 = t_key[k + 1]
        j0 = p_key[k]
        j1 = p_key[k + 1]
        n_true[k] = i1 - i0
        n_pred[k] = j1 - j0
        for i in range(i0, i1):
            areas[k, 0] += t_area[i]
        for j in range(j0, j1):
            areas[k, 1] += p_area[j]
        if i1 == i0 or j1 == j0:
            continue
        cap = (i1 - i0) * (j1 - j0)
        pi = np.empty(cap, np.int64)
        pj = np.empty(cap, np.int64)
        inter = np.empty(cap, np.int64)
        union = np.empty(cap, np.int64)
        iou = np.empty(cap, np.float64)
        n = 0
        for i in range(i0, i1):
            for j in range(j0, j1):
                if not _boxes_overlap(t_box, i, p_box, j):
                    continue
                compared += 1
                x = _shared(ts, tl, t_run[i], t_run[i + 1], ps, pl, p_run[j], p_run[j + 1])
                u = t_area[i] + p_area[j] - x
                if x * lo_den > lo_num * u:
                    pi[n] = i
                    pj[n] = j
                    inter[n] = x
                    union[n] = u
                    iou[n] = x / u
                    n += 1
        if n == 0:
            continue
        order = np.argsort(-iou[:n], kind="mergesort")
        used_t = np.zeros(i1 - i0, np.bool_)
        used_p = np.zeros(j1 - j0, np.bool_)
        for q in range(n):
            c = order[q]
            a = pi[c] - i0
            b = pj[c] - j0
            if used_t[a] or used_p[b]:
                continue
            used_t[a] = True
            used_p[b] = True
            for t in range(n_thr):
                if inter[c] * thr_den[t] > thr_num[t] * union[c]:
                    tp[k, t] += 1
    return tp, n_true, n_pred, areas, compared
