"""Slow, obvious reference implementations for the geometry and metric tests.

Each function follows its docstring's definition literally (per pixel, exact
fractions, flood fill, Python sets) and shares no code with ``rlemask``.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

import numpy as np


# ---------------------------------------------------------------- resizing
def footprint(i: int, n_in: int, n_out: int) -> tuple[Fraction, Fraction]:
    """Input interval covered by output pixel ``i``."""
    return Fraction(i * n_in, n_out), Fraction((i + 1) * n_in, n_out)


def nearest_index(i: int, n_in: int, n_out: int) -> int:
    """Input pixel containing the centre of output pixel ``i``."""
    lo, hi = footprint(i, n_in, n_out)
    centre = (lo + hi) / 2
    return int(centre)  # floor: centre >= 0


def overlap(k: int, lo: Fraction, hi: Fraction) -> Fraction:
    """Length of ``[k, k + 1) ∩ [lo, hi)``."""
    return max(Fraction(0), min(hi, Fraction(k + 1)) - max(lo, Fraction(k)))


def resize_mask_nearest(mask, oh, ow):
    ih, iw = mask.shape
    out = np.zeros((oh, ow), np.uint8)
    for i in range(oh):
        for j in range(ow):
            out[i, j] = 1 if mask[nearest_index(i, ih, oh), nearest_index(j, iw, ow)] != 0 else 0
    return out


def any_pixels(i: int, n_in: int, n_out: int) -> list[int]:
    """Input pixels under output pixel ``i`` for ``any``.

    Those of positive overlap with its footprint, or the nearest one when enlarging.
    """
    if n_out >= n_in:
        return [nearest_index(i, n_in, n_out)]
    lo, hi = footprint(i, n_in, n_out)
    return [k for k in range(int(lo), min(n_in, int(hi) + 1)) if overlap(k, lo, hi) > 0]


def resize_mask_any(mask, oh, ow):
    ih, iw = mask.shape
    out = np.zeros((oh, ow), np.uint8)
    for i in range(oh):
        for j in range(ow):
            hit = any(mask[r, c] != 0 for r in any_pixels(i, ih, oh) for c in any_pixels(j, iw, ow))
            out[i, j] = 1 if hit else 0
    return out


def area_fraction(mask_or_image, i, j, oh, ow) -> Fraction:
    """Exact area-weighted mean of the input over output pixel (i, j)'s footprint."""
    ih, iw = mask_or_image.shape
    rlo, rhi = footprint(i, ih, oh)
    clo, chi = footprint(j, iw, ow)
    total = Fraction(0)
    # pixels outside floor(lo) .. ceil(hi) have zero overlap
    for r in range(int(rlo), min(ih, int(rhi) + 1)):
        wr = overlap(r, rlo, rhi)
        if not wr:
            continue
        for c in range(int(clo), min(iw, int(chi) + 1)):
            wc = overlap(c, clo, chi)
            if wc:
                total += wr * wc * Fraction(mask_or_image[r, c].item())
    return total / ((rhi - rlo) * (chi - clo))


def resize_mask_area(mask, oh, ow):
    binary = (np.asarray(mask) != 0).astype(np.int64)
    out = np.zeros((oh, ow), np.uint8)
    for i in range(oh):
        for j in range(ow):
            out[i, j] = 1 if area_fraction(binary, i, j, oh, ow) >= Fraction(1, 2) else 0
    return out


def resize_image_area(image, oh, ow):
    img = np.asarray(image).astype(np.float64)
    out = np.zeros((oh, ow), np.float64)
    # Fraction(float) is exact, so this is the exact mean rounded once
    for i in range(oh):
        for j in range(ow):
            out[i, j] = float(area_fraction(img, i, j, oh, ow))
    return out


def resize_image_bilinear(image, oh, ow):
    img = np.asarray(image).astype(np.float64)
    ih, iw = img.shape

    def neighbours(i, n_in, n_out):
        x = (i + 0.5) * n_in / n_out - 0.5
        x = min(max(x, 0.0), n_in - 1)
        k = int(np.floor(x))
        return k, min(k + 1, n_in - 1), x - k

    out = np.zeros((oh, ow), np.float64)
    for i in range(oh):
        a, b, t = neighbours(i, ih, oh)
        for j in range(ow):
            p, q, s = neighbours(j, iw, ow)
            top = img[a, p] * (1 - s) + img[a, q] * s
            bottom = img[b, p] * (1 - s) + img[b, q] * s
            out[i, j] = top * (1 - t) + bottom * t
    return out


def resize_image_nearest(image, oh, ow):
    img = np.asarray(image).astype(np.float64)
    ih, iw = img.shape
    out = np.zeros((oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            out[i, j] = img[nearest_index(i, ih, oh), nearest_index(j, iw, ow)]
    return out


# ---------------------------------------------------------------- regions
def components(mask) -> list[set[tuple[int, int]]]:
    """8-connected regions by breadth-first flood fill, in row-major discovery order."""
    m = np.asarray(mask) != 0
    h, w = m.shape
    seen = np.zeros_like(m)
    regions = []
    for r in range(h):
        for c in range(w):
            if not m[r, c] or seen[r, c]:
                continue
            region = set()
            queue = deque([(r, c)])
            seen[r, c] = True
            while queue:
                y, x = queue.popleft()
                region.add((y, x))
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny, nx = y + dy, x + dx
                        if 0 <= ny < h and 0 <= nx < w and m[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            queue.append((ny, nx))
            regions.append(region)
    return regions


def box_of(pixels) -> tuple[int, int, int, int] | None:
    """COCO box (x, y, w, h) of a set of (row, col) pixels."""
    if not pixels:
        return None
    rows = [p[0] for p in pixels]
    cols = [p[1] for p in pixels]
    return min(cols), min(rows), max(cols) - min(cols) + 1, max(rows) - min(rows) + 1


def bbox(mask):
    m = np.asarray(mask)
    return box_of({(r, c) for r in range(m.shape[0]) for c in range(m.shape[1]) if m[r, c] != 0})


def bboxes(mask):
    boxes = [box_of(region) for region in components(mask)]
    return sorted(boxes, key=lambda b: (b[1], b[0], b[2], b[3]))


def remove_small_regions(mask, min_area):
    out = np.zeros(np.asarray(mask).shape, np.uint8)
    for region in components(mask):
        if len(region) >= min_area:
            for r, c in region:
                out[r, c] = 1
    return out


# ---------------------------------------------------------------- metrics
def pixel_set(mask):
    m = np.asarray(mask)
    return {(r, c) for r in range(m.shape[0]) for c in range(m.shape[1]) if m[r, c] != 0}


def dice(pred, target, empty=1.0):
    x, y = pixel_set(pred), pixel_set(target)
    if not x and not y:
        return empty
    return 2 * len(x & y) / (len(x) + len(y))


def iou(pred, target, empty=1.0):
    x, y = pixel_set(pred), pixel_set(target)
    if not x | y:
        return empty
    return len(x & y) / len(x | y)


def triplet_threshold(prob, top, min_area, bottom):
    p = np.asarray(prob, dtype=np.float64)
    above = sum(1 for v in p.ravel() if v > top)
    if above < min_area:
        return np.zeros(p.shape, np.uint8)
    return np.array([[1 if v > bottom else 0 for v in row] for row in p], np.uint8)
