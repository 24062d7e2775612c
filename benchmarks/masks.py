"""Deterministic pneumothorax-like 1024 x 1024 test masks, shared by the benchmark modules.

Pneumothorax regions are thin crescents along the chest wall or small apical
blobs, with irregular borders.  Each mask is built from ellipses whose radius
is perturbed by a seeded random low-frequency wobble, so the run structure
(many runs per column, ragged edges) is realistic, and every call returns the
same array.

>>> from benchmarks.masks import MASKS, make_mask
>>> sorted(MASKS)
['crescent', 'small', 'three']
>>> m = make_mask("small")
>>> m.shape, m.dtype, bool(0.003 < m.mean() < 0.008)
((1024, 1024), dtype('uint8'), True)
"""

from __future__ import annotations

import functools

import numpy as np

SIZE = 1024
MASKS = ("small", "crescent", "three")


def _blob(rng, yy, xx, cy, cx, ry, rx):
    """Ellipse with a wobbly border (radius modulated by a few random harmonics)."""
    dy, dx = (yy - cy) / ry, (xx - cx) / rx
    angle = np.arctan2(dy, dx)
    wobble = np.ones_like(angle)
    for k in range(2, 7):
        wobble += rng.uniform(0.0, 0.08) * np.cos(k * angle + rng.uniform(0, 2 * np.pi))
    return np.hypot(dy, dx) < wobble


@functools.cache
def _make(name: str) -> np.ndarray:
    rng = np.random.default_rng(1234)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    if name == "small":  # apical blob, ~0.5 %
        m = _blob(rng, yy, xx, 180, 700, 48, 34)
    elif name == "crescent":  # along the right chest wall, ~8 %
        outer = _blob(rng, yy, xx, 520, 560, 430, 330)
        inner = _blob(rng, yy, xx, 540, 500, 435, 305)
        m = outer & ~inner
    elif name == "three":  # three regions of different sizes
        m = (
            _blob(rng, yy, xx, 200, 260, 60, 40)
            | _blob(rng, yy, xx, 600, 180, 110, 45)
            | _blob(rng, yy, xx, 820, 760, 70, 90)
        )
    else:
        raise ValueError(f"unknown mask {name!r}; choose one of {', '.join(MASKS)}")
    return np.ascontiguousarray(m, dtype=np.uint8)


def make_mask(name: str) -> np.ndarray:
    """A fresh copy of the named C-contiguous uint8 0/1 mask (1024 x 1024)."""
    return _make(name).copy()
