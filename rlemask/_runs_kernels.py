"""numba kernels of the mask algebra on runs: set operations, geometry, components, scores.

Every kernel works on canonical runs (sorted, positive, non-overlapping,
non-touching int64 ``starts`` and ``lengths``) and trusts them: the public
wrappers in :mod:`rlemask.runs`, :mod:`rlemask.pairwise` and
:mod:`rlemask.score_pairs` validate every
argument before a kernel runs, because numba does not check bounds.

The scan order is abstracted as *lines*: a mask scanned column-major
(``"F"``) is ``M = W`` lines (columns) of ``m = H`` pixels; scanned row-major
(``"C"``) it is ``M = H`` lines (rows) of ``m = W`` pixels.  Pixel ``p`` lies
on line ``p // m`` at position ``p % m``.  A run may cross line ends; the
kernels cut it into per-line *segments* ``[lo, hi)`` where they need to.
Every output goes through :func:`_fuse`, which merges touching runs, so
outputs are canonical again.

All kernels of this module live in this one file: numba's on-disk cache does
not see edits in another file that a cached kernel calls into.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ---------------------------------------------------------------------------
# building blocks


@njit(cache=True)
def _fuse(out_s, out_l, n):
    """Fuse touching or overlapping runs of ``out[:n]`` (sorted by start) in place.

    Kernels write their runs plainly and call this once at the end: a numba
    call per run (passing arrays) costs ~40 ns of reference counting, more
    than the work.  Returns the new count.
    """
    if n == 0:
        return 0
    w = 0
    cs = out_s[0]
    ce = cs + out_l[0]
    for i in range(1, n):
        s = out_s[i]
        e = s + out_l[i]
        if s <= ce:
            if e > ce:
                ce = e
        else:
            out_s[w] = cs
            out_l[w] = ce - cs
            w += 1
            cs = s
            ce = e
    out_s[w] = cs
    out_l[w] = ce - cs
    return w + 1


@njit(cache=True)
def _run_lines(starts, lengths, m):
    """First and last line of every run.

    The line is tracked from run to run (a region's runs mostly start on the
    same or the next line), so the loop divides only after a jump of two
    lines or more: integer division costs more than the rest of the loop.
    """
    n = starts.size
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    c = starts[0] // m if n else 0
    line_start = c * m
    for i in range(n):
        for k in range(2):
            p = starts[i] if k == 0 else starts[i] + lengths[i] - 1
            d = p - line_start
            if d >= m:
                if d < 2 * m:
                    c += 1
                    line_start += m
                else:
                    c = p // m
                    line_start = c * m
            if k == 0:
                first[i] = c
            else:
                last[i] = c
    return first, last


@njit(cache=True)
def _segments(starts, lengths, m):
    """Cut runs at line ends: ``(line, lo, hi)`` per segment, in scan order."""
    first, last = _run_lines(starts, lengths, m)
    n = 0
    for i in range(starts.size):
        n += last[i] - first[i] + 1
    line = np.empty(n, np.int64)
    lo = np.empty(n, np.int64)
    hi = np.empty(n, np.int64)
    k = 0
    for i in range(starts.size):
        c0 = first[i]
        c1 = last[i]
        if c0 == c1:  # the common case: one segment
            line[k] = c0
            lo[k] = starts[i] - c0 * m
            hi[k] = lo[k] + lengths[i]
            k += 1
            continue
        e = starts[i] + lengths[i]
        for c in range(c0, c1 + 1):
            line[k] = c
            lo[k] = starts[i] - c * m if c == c0 else 0
            hi[k] = e - c * m if c == c1 else m
            k += 1
    return line, lo, hi


@njit(cache=True)
def _line_ptr(line, n_lines):
    """CSR pointer: the segments of line ``c`` are ``ptr[c]:ptr[c + 1]``."""
    ptr = np.zeros(n_lines + 1, np.int64)
    for i in range(line.size):
        ptr[line[i] + 1] += 1
    for c in range(n_lines):
        ptr[c + 1] += ptr[c]
    return ptr


# ---------------------------------------------------------------------------
# queries


@njit(cache=True)
def _bbox(starts, lengths, m):
    """``(line_lo, line_hi, pos_lo, pos_hi)`` (inclusive) of non-empty runs, in O(runs).

    The line of each run is tracked from the previous one (most runs of a
    region start on the same or the next line), so that the loop divides
    only after a jump of two lines or more.
    """
    n = starts.size
    line_start = (starts[0] // m) * m
    pos_lo = m
    pos_hi = -1
    for i in range(n):
        d = starts[i] - line_start
        if d >= m:
            if d < 2 * m:
                line_start += m
                d -= m
            else:
                line_start = (starts[i] // m) * m
                d = starts[i] - line_start
        p1 = d + lengths[i] - 1
        if p1 >= m:  # the run crosses a line end: it covers every position
            pos_lo = 0
            pos_hi = m - 1
            break
        if d < pos_lo:
            pos_lo = d
        if p1 > pos_hi:
            pos_hi = p1
    return starts[0] // m, (starts[n - 1] + lengths[n - 1] - 1) // m, pos_lo, pos_hi


@njit(cache=True)
def _area(lengths):
    total = 0
    for i in range(lengths.size):
        total += lengths[i]
    return total


# ---------------------------------------------------------------------------
# set operations


def truth_table(op) -> int:
    """The ``table`` argument of :func:`_boolean` for the pixel-wise ``op(a, b)``.

    Bit ``2 * a + b`` of the table is ``op(a, b)`` for input pixels ``a`` and
    ``b``; an operation must give 0 where both are 0 (it cannot create pixels
    outside both masks: that is a complement, :func:`_complement`).

    Examples
    --------
    >>> bin(truth_table(lambda a, b: a != b))
    '0b110'
    """
    table = sum(1 << (2 * a + b) for a in (0, 1) for b in (0, 1) if op(a, b))
    if table & 1:
        raise ValueError("the operation sets pixels outside both masks; use the complement")
    return table


XOR = truth_table(lambda a, b: a != b)  # 0b0110
DIFFERENCE = truth_table(lambda a, b: a and not b)  # 0b0100: in the first, not the second


@njit(cache=True)
def _merged(starts, lengths):
    """Runs sorted by start with overlapping or touching ones merged, in new arrays."""
    out_s = starts.copy()
    out_l = lengths.copy()
    n = _fuse(out_s, out_l, starts.size)
    return out_s[:n], out_l[:n]


@njit(cache=True)
def _union(s1, l1, s2, l2):
    """Union of two canonical run lists: merge them by start, then fuse overlaps."""
    n1 = s1.size
    n2 = s2.size
    starts = np.empty(n1 + n2, np.int64)
    lengths = np.empty(n1 + n2, np.int64)
    i = 0
    j = 0
    for k in range(n1 + n2):
        if j >= n2 or (i < n1 and s1[i] <= s2[j]):
            starts[k] = s1[i]
            lengths[k] = l1[i]
            i += 1
        else:
            starts[k] = s2[j]
            lengths[k] = l2[j]
            j += 1
    n = _fuse(starts, lengths, n1 + n2)
    return starts[:n], lengths[:n]


@njit(cache=True)
def _intersection(s1, l1, s2, l2):
    """Intersection of two canonical run lists, by a two-pointer sweep."""
    n1 = s1.size
    n2 = s2.size
    out_s = np.empty(n1 + n2, np.int64)
    out_l = np.empty(n1 + n2, np.int64)
    m = 0
    i = 0
    j = 0
    while i < n1 and j < n2:
        e1 = s1[i] + l1[i]
        e2 = s2[j] + l2[j]
        lo = max(s1[i], s2[j])
        hi = min(e1, e2)
        if lo < hi:
            out_s[m] = lo
            out_l[m] = hi - lo
            m += 1
        if e1 <= e2:
            i += 1
        else:
            j += 1
    # canonical inputs never give touching pieces: a piece ends where a run of one
    # list ends, and the next run of that list starts at least one pixel later
    return out_s[:m], out_l[:m]


@njit(cache=True)
def _complement(starts, lengths, npix):
    """The gaps between the runs, in ``0 .. npix``."""
    n = starts.size
    out_s = np.empty(n + 1, np.int64)
    out_l = np.empty(n + 1, np.int64)
    m = 0
    pos = 0
    for i in range(n):
        if starts[i] > pos:
            out_s[m] = pos
            out_l[m] = starts[i] - pos
            m += 1
        pos = starts[i] + lengths[i]
    if pos < npix:
        out_s[m] = pos
        out_l[m] = npix - pos
        m += 1
    return out_s[:m], out_l[:m]


@njit(cache=True)
def _boolean(s1, l1, s2, l2, table):
    """Any pixel-wise boolean operation of two run lists, by a sweep over run ends.

    ``table`` bit ``2 * a + b`` is the output for inputs ``a`` and ``b``: see
    :func:`truth_table` and the named tables :data:`XOR`, :data:`DIFFERENCE`.
    """
    n1 = s1.size
    n2 = s2.size
    out_s = np.empty(n1 + n2 + 1, np.int64)
    out_l = np.empty(n1 + n2 + 1, np.int64)
    m = 0
    i = 0  # index of the next boundary of list 1 (2 per run)
    j = 0
    big = np.int64(1) << 62
    state = 0
    open_at = 0
    while i < 2 * n1 or j < 2 * n2:
        p1 = big
        p2 = big
        if i < 2 * n1:
            p1 = s1[i // 2] + (l1[i // 2] if i % 2 else 0)
        if j < 2 * n2:
            p2 = s2[j // 2] + (l2[j // 2] if j % 2 else 0)
        p = min(p1, p2)
        if p1 == p:
            i += 1
        if p2 == p:
            j += 1
        # after the boundary at p: inside list 1 when an odd number of its boundaries passed
        new = (table >> (2 * (i % 2) + (j % 2))) & 1
        if new != state:
            if new:
                open_at = p
            else:
                out_s[m] = open_at
                out_l[m] = p - open_at
                m += 1
            state = new
    return out_s[:m], out_l[:m]


# ---------------------------------------------------------------------------
# geometry


@njit(cache=True)
def _flip(starts, lengths, m, n_lines, flip_pos, flip_lines):
    """Reverse the positions within each line and/or the order of the lines."""
    line, lo, hi = _segments(starts, lengths, m)
    ns = line.size
    out_s = np.empty(ns, np.int64)
    out_l = np.empty(ns, np.int64)
    n = 0
    # group boundaries: segments of one line are contiguous
    gstart = np.empty(ns + 1, np.int64)
    g = 0
    for k in range(ns):
        if k == 0 or line[k] != line[k - 1]:
            gstart[g] = k
            g += 1
    gstart[g] = ns
    for gi in range(g):
        gg = g - 1 - gi if flip_lines else gi
        a = gstart[gg]
        b = gstart[gg + 1]
        c = line[a]
        c_out = n_lines - 1 - c if flip_lines else c
        for t in range(b - a):
            k = b - 1 - t if flip_pos else a + t
            p0 = m - hi[k] if flip_pos else lo[k]
            out_s[n] = c_out * m + p0
            out_l[n] = hi[k] - lo[k]
            n += 1
    n = _fuse(out_s, out_l, n)
    return out_s[:n], out_l[:n]


@njit(cache=True)
def _window(starts, lengths, m, n_lines, line0, n_out_lines, pos0, n_out_pos, write, out_s, out_l):
    """Crop or pad: output line ``c - line0`` position ``p - pos0``, clipped to the window.

    With ``write`` false, only counts the segments (an upper bound for the
    output); with ``write`` true, fills ``out_s``/``out_l`` and returns the count.
    Offsets may be negative (padding) and the window may exceed the mask.
    """
    n = 0
    c_lo = max(line0, 0)
    c_hi = min(line0 + n_out_lines, n_lines)  # exclusive
    p_lo = max(pos0, 0)
    p_hi = min(pos0 + n_out_pos, m)
    if c_lo >= c_hi or p_lo >= p_hi:
        return 0
    for i in range(starts.size):
        s = starts[i]
        e = s + lengths[i]
        c0 = s // m
        c1 = (e - 1) // m
        if c1 < c_lo:
            continue
        if c0 >= c_hi:
            break
        for c in range(max(c0, c_lo), min(c1, c_hi - 1) + 1):
            a = s - c * m if c == c0 else 0
            b = e - c * m if c == c1 else m
            if a < p_lo:
                a = p_lo
            if b > p_hi:
                b = p_hi
            if a < b:
                if write:
                    out_s[n] = (c - line0) * n_out_pos + a - pos0
                    out_l[n] = b - a
                n += 1
    return _fuse(out_s, out_l, n) if write else n


@njit(cache=True)
def _reorder(starts, lengths, m, n_lines):
    """The same mask scanned in the other order: ``m`` lines of ``n_lines`` pixels.

    Pixel (line ``c``, position ``r``) becomes pixel ``r * n_lines + c``.  A
    run of the new scan starts or ends at ``(r, c)`` exactly where lines
    ``c - 1`` and ``c`` differ at position ``r``: the xor of two neighbouring
    lines' segments gives those toggles without visiting background pixels.
    A counting sort by ``r`` puts the toggles in the new scan order.
    Cost: O(segments + toggles + m + n_lines); toggles are two per output run
    and line crossing.
    """
    line, lo, hi = _segments(starts, lengths, m)
    ns = line.size
    ptr = _line_ptr(line, n_lines)
    pts = np.empty(2 * ns, np.int64)
    for k in range(ns):
        pts[2 * k] = lo[k]
        pts[2 * k + 1] = hi[k]
    # xor intervals of lines (c - 1, c) for c = 0 .. n_lines; each line is in two xors
    x_line = np.empty(2 * ns, np.int64)
    x_lo = np.empty(2 * ns, np.int64)
    x_hi = np.empty(2 * ns, np.int64)
    tmp = np.empty(4 * ns + 2, np.int64)
    nx = 0
    count = np.zeros(m + 1, np.int64)
    for c in range(n_lines + 1):
        a0 = 2 * ptr[c - 1] if c > 0 else 0
        a1 = 2 * ptr[c] if c > 0 else 0
        b0 = 2 * ptr[c] if c < n_lines else 0
        b1 = 2 * ptr[c + 1] if c < n_lines else 0
        if a0 == a1 and b0 == b1:
            continue
        # boundaries of the xor: merge both sorted boundary lists, equal points
        # cancel (written out: a numba call per line passing arrays is costly)
        k = 0
        i = a0
        j = b0
        while i < a1 or j < b1:
            if j >= b1 or (i < a1 and pts[i] < pts[j]):
                tmp[k] = pts[i]
                k += 1
                i += 1
            elif i >= a1 or pts[j] < pts[i]:
                tmp[k] = pts[j]
                k += 1
                j += 1
            else:
                i += 1
                j += 1
        for t in range(0, k, 2):
            x_line[nx] = c
            x_lo[nx] = tmp[t]
            x_hi[nx] = tmp[t + 1]
            for r in range(tmp[t], tmp[t + 1]):
                count[r + 1] += 1
            nx += 1
    for r in range(m):
        count[r + 1] += count[r]
    total = count[m]
    q = np.empty(total, np.int64)
    cursor = count[:m].copy()
    for t in range(nx):  # ascending c: each row's toggles arrive sorted
        c = x_line[t]
        for r in range(x_lo[t], x_hi[t]):
            q[cursor[r]] = r * n_lines + c
            cursor[r] += 1
    out_s = np.empty(total // 2, np.int64)
    out_l = np.empty(total // 2, np.int64)
    n = 0
    for t in range(0, total, 2):  # toggles alternate on, off within each row
        out_s[n] = q[t]
        out_l[n] = q[t + 1] - q[t]
        n += 1
    n = _fuse(out_s, out_l, n)  # runs ending a row may touch the next row's first run
    return out_s[:n], out_l[:n]


@njit(cache=True)
def _resize(starts, lengths, m, n_lines, pos_first, pos_end, line_lo, line_hi, m_out):
    """Resize with per-axis footprints (nearest: one pixel; any: a range).

    Output position ``j`` of a line takes the input positions ``[rs[j], re[j])``;
    a segment ``[lo, hi)`` therefore sets the output positions
    ``pos_first[lo] .. pos_end[hi] - 1`` (lookup tables of size ``m + 1``).
    Output line ``k`` is the union of input lines ``line_lo[k] .. line_hi[k] - 1``.
    """
    line, lo, hi = _segments(starts, lengths, m)
    ns = line.size
    # map positions; segments of one line stay sorted but may now overlap or touch
    ln2 = np.empty(ns, np.int64)
    lo2 = np.empty(ns, np.int64)
    hi2 = np.empty(ns, np.int64)
    n2 = 0
    for k in range(ns):
        a = pos_first[lo[k]]
        b = pos_end[hi[k]]
        if a >= b:
            continue
        if n2 > 0 and ln2[n2 - 1] == line[k] and hi2[n2 - 1] >= a:
            if b > hi2[n2 - 1]:
                hi2[n2 - 1] = b
            continue
        ln2[n2] = line[k]
        lo2[n2] = a
        hi2[n2] = b
        n2 += 1
    ptr = _line_ptr(ln2[:n2], n_lines)
    n_out_lines = line_lo.size
    cap = 0
    for k in range(n_out_lines):
        cap += ptr[line_hi[k]] - ptr[line_lo[k]]
    out_s = np.empty(cap, np.int64)
    out_l = np.empty(cap, np.int64)
    n = 0
    for k in range(n_out_lines):
        a = ptr[line_lo[k]]
        b = ptr[line_hi[k]]
        if a == b:
            continue
        base = k * m_out
        if line_hi[k] - line_lo[k] == 1:
            for t in range(a, b):
                out_s[n] = base + lo2[t]
                out_l[n] = hi2[t] - lo2[t]
                n += 1
            continue
        # several input lines: their segments sorted by start; _fuse takes the union
        order = np.argsort(lo2[a:b], kind="mergesort")
        for t in range(b - a):
            u = a + order[t]
            out_s[n] = base + lo2[u]
            out_l[n] = hi2[u] - lo2[u]
            n += 1
    n = _fuse(out_s, out_l, n)
    return out_s[:n], out_l[:n]


# ---------------------------------------------------------------------------
# connected components


@njit(cache=True)
def _label_segments(starts, lengths, m, n_lines, conn8, lines_are_columns):
    """Connected components of the segments: ``(line, lo, hi, label, n_labels)``.

    Segments on neighbouring lines are joined when their positions overlap
    (4-connectivity) or overlap or touch diagonally (8-connectivity).  Labels
    are numbered 0.. in the order in which the regions' first pixels come in a
    row-major scan, as ``skimage.measure.label`` numbers them.
    """
    line, lo, hi = _segments(starts, lengths, m)
    ns = line.size
    parent = np.arange(ns)
    ptr = _line_ptr(line, n_lines)
    reach = 1 if conn8 else 0
    for c in range(1, n_lines):
        i = ptr[c - 1]
        i1 = ptr[c]
        j = ptr[c]
        j1 = ptr[c + 1]
        while i < i1 and j < j1:
            if lo[i] < hi[j] + reach and lo[j] < hi[i] + reach:
                # find both roots, halving the paths (written out: a numba call
                # passing `parent` costs more than the search)
                ri = i
                while parent[ri] != ri:
                    parent[ri] = parent[parent[ri]]
                    ri = parent[ri]
                rj = j
                while parent[rj] != rj:
                    parent[rj] = parent[parent[rj]]
                    rj = parent[rj]
                if ri != rj:
                    if ri < rj:
                        parent[rj] = ri
                    else:
                        parent[ri] = rj
            if hi[i] <= hi[j]:
                i += 1
            else:
                j += 1
    # first pixel of each region in a row-major scan
    big = np.int64(1) << 62
    key = np.full(ns, big, np.int64)
    root = np.empty(ns, np.int64)
    for k in range(ns):  # parents point to smaller indices: roots are final in one pass
        r = parent[k]
        if r != k:
            r = root[r]
        root[k] = r
        kk = lo[k] * n_lines + line[k] if lines_are_columns else line[k] * m + lo[k]
        if kk < key[r]:
            key[r] = kk
    roots = np.empty(ns, np.int64)
    n_labels = 0
    for k in range(ns):
        if root[k] == k:
            roots[n_labels] = k
            n_labels += 1
    roots = roots[:n_labels]
    rank = np.argsort(key[roots], kind="mergesort")
    label_of_root = np.empty(ns, np.int64)
    for t in range(n_labels):
        label_of_root[roots[rank[t]]] = t
    label = np.empty(ns, np.int64)
    for k in range(ns):
        label[k] = label_of_root[root[k]]
    return line, lo, hi, label, n_labels


@njit(cache=True)
def _components(starts, lengths, m, n_lines, conn8, lines_are_columns):
    """Runs of every region: ``(starts, lengths, ptr)``; region ``t`` is ``ptr[t]:ptr[t+1]``."""
    line, lo, hi, label, n_labels = _label_segments(
        starts, lengths, m, n_lines, conn8, lines_are_columns
    )
    ns = line.size
    first = np.zeros(n_labels + 1, np.int64)
    for k in range(ns):
        first[label[k] + 1] += 1
    for t in range(n_labels):
        first[t + 1] += first[t]
    cursor = first[:n_labels].copy()
    order = np.empty(ns, np.int64)  # stable: scan order within each region
    for k in range(ns):
        order[cursor[label[k]]] = k
        cursor[label[k]] += 1
    out_s = np.empty(ns, np.int64)
    out_l = np.empty(ns, np.int64)
    ptr = np.zeros(n_labels + 1, np.int64)
    n = 0
    for t in range(n_labels):
        region_start = n
        for u in range(first[t], first[t + 1]):
            k = order[u]
            s = line[k] * m + lo[k]
            if n > region_start and out_s[n - 1] + out_l[n - 1] == s:
                out_l[n - 1] += hi[k] - lo[k]
            else:
                out_s[n] = s
                out_l[n] = hi[k] - lo[k]
                n += 1
        ptr[t + 1] = n
    return out_s[:n], out_l[:n], ptr


@njit(cache=True)
def _component_boxes(starts, lengths, m, n_lines, conn8, lines_are_columns):
    """Per region ``(line_lo, line_hi, pos_lo, pos_hi)`` (inclusive), in label order."""
    line, lo, hi, label, n_labels = _label_segments(
        starts, lengths, m, n_lines, conn8, lines_are_columns
    )
    box = np.empty((n_labels, 4), np.int64)
    for t in range(n_labels):
        box[t, 0] = n_lines
        box[t, 1] = -1
        box[t, 2] = m
        box[t, 3] = -1
    for k in range(line.size):
        t = label[k]
        box[t, 0] = min(box[t, 0], line[k])
        box[t, 1] = max(box[t, 1], line[k])
        box[t, 2] = min(box[t, 2], lo[k])
        box[t, 3] = max(box[t, 3], hi[k] - 1)
    return box


@njit(cache=True)
def _region_areas(lo, hi, label, n_labels):
    area = np.zeros(n_labels, np.int64)
    for k in range(lo.size):
        area[label[k]] += hi[k] - lo[k]
    return area


@njit(cache=True)
def _remove_small(starts, lengths, m, n_lines, conn8, min_area):
    """The runs of the regions of at least ``min_area`` pixels."""
    line, lo, hi, label, n_labels = _label_segments(starts, lengths, m, n_lines, conn8, False)
    area = _region_areas(lo, hi, label, n_labels)
    out_s = np.empty(line.size, np.int64)
    out_l = np.empty(line.size, np.int64)
    n = 0
    for k in range(line.size):
        if area[label[k]] >= min_area:
            out_s[n] = line[k] * m + lo[k]
            out_l[n] = hi[k] - lo[k]
            n += 1
    n = _fuse(out_s, out_l, n)
    return out_s[:n], out_l[:n]


# ---------------------------------------------------------------------------
# pairwise scores


@njit(cache=True)
def _inter_area(s1, l1, a0, a1, s2, l2, b0, b1):
    """Pixels shared by runs ``[a0, a1)`` of list 1 and ``[b0, b1)`` of list 2."""
    total = 0
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
def _runs_counts(s1, l1, s2, l2):
    """``(|a|, |b|, |a & b|)`` of two canonical run lists (same scan order).

    Nothing is allocated, so Dice on runs costs one pass over the two lists.
    """
    return _area(l1), _area(l2), _inter_area(s1, l1, 0, s1.size, s2, l2, 0, s2.size)


@njit(cache=True)
def _pairwise_intersections(sa, la, pa, sb, lb, pb):
    """``out[i, j]`` = pixels shared by mask ``i`` of list a and mask ``j`` of list b.

    Masks are CSR slices (``pa[i]:pa[i + 1]``).  Pairs whose spans (first
    start to last end) do not overlap are skipped without a merge.
    """
    na = pa.size - 1
    nb = pb.size - 1
    out = np.zeros((na, nb), np.int64)
    for i in range(na):
        a0 = pa[i]
        a1 = pa[i + 1]
        if a0 == a1:
            continue
        first_a = sa[a0]
        end_a = sa[a1 - 1] + la[a1 - 1]
        for j in range(nb):
            b0 = pb[j]
            b1 = pb[j + 1]
            if b0 == b1 or sb[b0] >= end_a or sb[b1 - 1] + lb[b1 - 1] <= first_a:
                continue
            out[i, j] = _inter_area(sa, la, a0, a1, sb, lb, b0, b1)
    return out


# ---------------------------------------------------------------------------
# scores of objects in CSR blocks (rlemask.score_pairs)
#
# A block is a run of scored keys (an image, or an image and a class): object
# ``i`` holds runs ``run_ptr[i]:run_ptr[i + 1]`` (canonical, column-major), key
# ``k`` holds objects ``key_ptr[k]:key_ptr[k + 1]``.


@njit(cache=True)
def _boxes(starts, lengths, run_ptr, obj_key, key_m):
    """``(boxes, area)`` of each object: ``boxes[i] = (line0, line1, pos0, pos1)`` inclusive.

    Object ``i`` lies on a mask of scan lines of ``key_m[obj_key[i]]`` pixels;
    an object without runs gets a box that overlaps nothing.
    """
    n_obj = run_ptr.size - 1
    boxes = np.empty((n_obj, 4), np.int64)
    area = np.zeros(n_obj, np.int64)
    for o in range(n_obj):
        r0 = run_ptr[o]
        r1 = run_ptr[o + 1]
        if r0 == r1:
            boxes[o, 0] = np.int64(1) << 62
            boxes[o, 1] = -1
            boxes[o, 2] = key_m[obj_key[o]]
            boxes[o, 3] = -1
            continue
        boxes[o, 0], boxes[o, 1], boxes[o, 2], boxes[o, 3] = _bbox(
            starts[r0:r1], lengths[r0:r1], key_m[obj_key[o]]
        )
        area[o] = _area(lengths[r0:r1])
    return boxes, area


@njit(cache=True)
def _key_runs(starts, lengths, run_ptr, key_ptr, k):
    """The union of key ``k``'s objects (canonical each, any order) as ``(starts, lengths, n)``."""
    r0 = run_ptr[key_ptr[k]]
    r1 = run_ptr[key_ptr[k + 1]]
    if key_ptr[k + 1] - key_ptr[k] == 1:  # one object: already canonical
        return starts[r0:r1], lengths[r0:r1], r1 - r0
    order = np.argsort(starts[r0:r1], kind="mergesort")
    out_s = starts[r0:r1][order]
    out_l = lengths[r0:r1][order]
    return out_s, out_l, _fuse(out_s, out_l, r1 - r0)


@njit(cache=True)
def _dice_counts(ts, tl, t_run, t_key, ps, pl, p_run, p_key):
    """Per key: ``(|T|, |P|, |T & P|)`` of the unions of each side's objects."""
    n_keys = t_key.size - 1
    out = np.zeros((n_keys, 3), np.int64)
    for k in range(n_keys):
        us, ul, nu = _key_runs(ts, tl, t_run, t_key, k)
        vs, vl, nv = _key_runs(ps, pl, p_run, p_key, k)
        out[k, 0] = _area(ul[:nu])
        out[k, 1] = _area(vl[:nv])
        if out[k, 0] > 0 and out[k, 1] > 0:
            out[k, 2] = _inter_area(us, ul, 0, nu, vs, vl, 0, nv)
    return out


@njit(cache=True)
def _boxes_overlap(bt, i, bp, j):
    return not (
        bt[i, 1] < bp[j, 0] or bp[j, 1] < bt[i, 0] or bt[i, 3] < bp[j, 2] or bp[j, 3] < bt[i, 2]
    )


@njit(cache=True)
def _lowest_threshold(thr_num, thr_den):
    lo_num = thr_num[0]
    lo_den = thr_den[0]
    for q in range(1, thr_num.size):
        if thr_num[q] * lo_den < lo_num * thr_den[q]:
            lo_num = thr_num[q]
            lo_den = thr_den[q]
    return lo_num, lo_den


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
    lo_num, lo_den = _lowest_threshold(thr_num, thr_den)  # decides which pairs may match
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
                x = _inter_area(ts, tl, t_run[i], t_run[i + 1], ps, pl, p_run[j], p_run[j + 1])
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
