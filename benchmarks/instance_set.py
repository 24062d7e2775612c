"""A synthetic instance-segmentation set for the scoring benchmarks (issue 21).

``make_instance_set(n_images)`` returns a truth and a perturbed submission as
``{image_id: [kaggle RLE text, ...]}``, one text per object: images of
768 x 768 (Airbus' size) with 0-50 elliptic objects each, one per cell of an
8 x 8 grid so that the objects of one side never overlap.  The submission
moves each object by up to 2 pixels, changes its radii by up to 3, drops
one in ten and adds a false alarm to one image in twenty -- IoUs spread
over the whole 0.5 ... 0.95 sweep.  Runs are written straight from the
ellipses' columns (column-major), with no dense mask.
"""

from __future__ import annotations

import numpy as np

SIZE = 768
CELL = 96  # 8 x 8 cells; an object stays 4 px inside its cell
MAX_OBJECTS = 50


def ellipse_text(cy: int, cx: int, ry: int, rx: int, h: int = SIZE) -> str:
    """Kaggle text (1-based, column-major) of an axis-aligned ellipse."""
    xs = np.arange(cx - rx, cx + rx + 1)
    half = np.floor(ry * np.sqrt(np.clip(1.0 - ((xs - cx) / (rx + 0.5)) ** 2, 0, 1)))
    half = half.astype(np.int64)
    starts = xs * h + (cy - half) + 1
    pairs = np.empty(2 * xs.size, np.int64)
    pairs[0::2] = starts
    pairs[1::2] = 2 * half + 1
    return " ".join(map(str, pairs.tolist()))


def _objects(rng: np.random.Generator, cells: np.ndarray) -> list[tuple[int, int, int, int]]:
    out = []
    for c in cells.tolist():
        row, col = divmod(c, SIZE // CELL)
        ry, rx = rng.integers(4, 40, size=2)
        cy = row * CELL + CELL // 2 + int(rng.integers(-(44 - ry), 45 - ry))
        cx = col * CELL + CELL // 2 + int(rng.integers(-(44 - rx), 45 - rx))
        out.append((cy, cx, int(ry), int(rx)))
    return out


def _perturb(rng: np.random.Generator, obj: tuple[int, int, int, int]) -> tuple[int, ...]:
    cy, cx, ry, rx = obj
    dy, dx = rng.integers(-2, 3, size=2)
    ry2 = int(np.clip(ry + rng.integers(-3, 4), 2, 41))
    rx2 = int(np.clip(rx + rng.integers(-3, 4), 2, 41))
    # stay inside the cell: objects of one side must not overlap
    row0, col0 = (cy // CELL) * CELL, (cx // CELL) * CELL
    cy2 = int(np.clip(cy + dy, row0 + ry2 + 1, row0 + CELL - ry2 - 2))
    cx2 = int(np.clip(cx + dx, col0 + rx2 + 1, col0 + CELL - rx2 - 2))
    return cy2, cx2, ry2, rx2


def make_instance_set(n_images: int = 2000, seed: int = 1234):
    """``(truth, submission)``: mappings image id -> list of Kaggle texts (see the module)."""
    rng = np.random.default_rng(seed)
    n_cells = (SIZE // CELL) ** 2
    truth: dict[str, list[str]] = {}
    sub: dict[str, list[str]] = {}
    for i in range(n_images):
        n = int(rng.integers(0, MAX_OBJECTS + 1))
        cells = rng.permutation(n_cells)
        objs = _objects(rng, cells[:n])
        truth[f"img{i:05d}"] = [ellipse_text(*o) for o in objs]
        kept = [_perturb(rng, o) for o in objs if rng.random() >= 0.1]
        if rng.random() < 0.05 and n < n_cells:  # a false alarm in an empty cell
            kept += _objects(rng, cells[n : n + 1])
        sub[f"img{i:05d}"] = [ellipse_text(*o) for o in kept]
    return truth, sub
