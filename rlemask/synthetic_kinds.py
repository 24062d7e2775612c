"""Synthetic data sets in the real layouts of the field's competitions.

:func:`make_kind` writes a small data set shaped like one competition's
download -- file names, id scheme, label header spelling, image size and
format, label layout and empty marker (see FORMATS.md) -- with shapes that
look like the domain's.  ``kind="siim"`` is :func:`rlemask.synthetic.make_dataset`.

=============  ===============================================================
kind           what is written under ``root``
=============  ===============================================================
``severstal``  ``train_images/<9 hex>.jpg`` 256 x 1600 grey steel (3-channel
               JPEG); ``train.csv`` v1: ``ImageId_ClassId,EncodedPixels``, four
               rows per image (``<id>.jpg_1`` .. ``_4``), blank when empty.
               Defects of four classes, never overlapping: 1 pits (clusters of
               small dark spots), 2 thin bright scratches, 3 long patches along
               the rolling direction, 4 large dark blobs.
``airbus``     ``train_v2/<9 hex>.jpg`` 768 x 768 RGB sea; ``train_ship_segmentations_v2.csv``
               ``ImageId,EncodedPixels``, one row per ship, one blank row for an
               image without ships.  Ships are rotated ellipses that never
               overlap or touch (8-connectivity), each its own component.
``uw-madison`` ``train/caseN/caseN_dayM/scans/slice_KKKK_W_H_1.50_1.50.png``
               16-bit grey PNG MRI slices (sizes vary by case, W x H in the name);
               ``train.csv`` ``id,class,segmentation`` with ids
               ``caseN_dayM_slice_KKKK``, three rows per slice (``large_bowel``,
               ``small_bowel``, ``stomach``), blank when empty.  Each organ is a
               3-D blob across the slices of its volume.
``hubmap``     ``train/<9 hex>.tiff`` RGB tissue-like TIFF (tiled, uncompressed;
               default 8,192 x 8,192), ``train.csv`` ``id,encoding``: one row per
               image with every glomerulus merged.  The image is written tile by
               tile and its label encoded through :class:`rlemask.TileWriter`,
               so neither is ever held at full size (30,000 x 30,000 works).
=============  ===============================================================

RLE is the Kaggle format (absolute, 1-based, column-major) at each image's
own shape.  Everything is a function of ``seed`` and the image's position:
the same call writes the same files.

Examples
--------
>>> import tempfile
>>> from rlemask.synthetic_kinds import make_kind
>>> root = make_kind(tempfile.mkdtemp(), "severstal", n_images=2)
>>> sorted(p.name for p in root.iterdir())
['train.csv', 'train_images']
>>> (root / "train.csv").read_text().splitlines()[:2]
['ImageId_ClassId,EncodedPixels', '352bc29ad.jpg_1,']
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._atomic import atomic_write
from rlemask.codec import encode
from rlemask.synthetic import _check_number, _smooth_basis, make_dataset
from rlemask.synthetic_layouts import KINDS, LAYOUTS
from rlemask.tiles import TileWriter

__all__ = ["KINDS", "LAYOUTS", "make_kind"]

#: UW-Madison classes in the order of its train.csv
UW_CLASSES = ("large_bowel", "small_bowel", "stomach")
#: UW-Madison slice sizes (height, width) cycled over the volumes (the real set's)
UW_SIZES = ((266, 266), (310, 360), (234, 234), (276, 276))
JPEG_QUALITY = 90
_TIFF_TILE = 512


def _hex_id(kind: str, seed: int, index: int) -> str:
    """A 9-hex-digit image id, as Severstal, Airbus and HuBMAP name their files."""
    return hashlib.sha256(f"rlemask-{kind}-{seed}-{index}".encode()).hexdigest()[:9]


def _rng(kind: str, seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index), int(_hex_id(kind, 0, 0), 16)])


def _field(rng: np.random.Generator, h: int, w: int, ch: int, cw: int) -> np.ndarray:
    """Smooth unit-variance random field of shape (h, w) with ch x cw correlation cells."""
    z = rng.standard_normal((ch, cw), dtype=np.float32)
    return _smooth_basis(h, ch) @ z @ _smooth_basis(w, cw).T


def ellipse(shape: tuple[int, int], cy: float, cx: float, a: float, b: float,
            theta: float) -> np.ndarray:
    """Boolean mask of a filled ellipse: semi-axes ``a`` (along ``theta``) and ``b``.

    ``theta`` in radians from the x axis (image right), counter-clockwise
    on screen.  Pixel centres inside or on the boundary are set.

    Examples
    --------
    >>> ellipse((5, 7), 2, 3, 3, 1, 0).astype(int)
    array([[0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 1, 0, 0, 0],
           [1, 1, 1, 1, 1, 1, 1],
           [0, 0, 0, 1, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0]])
    """
    yy = np.arange(shape[0], dtype=np.float64)[:, None] - cy
    xx = np.arange(shape[1], dtype=np.float64)[None, :] - cx
    c, s = np.cos(theta), np.sin(theta)
    u = xx * c - yy * s
    v = xx * s + yy * c
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def _ellipse_into(mask: np.ndarray, cy: float, cx: float, a: float, b: float,
                  theta: float, y0: int = 0, x0: int = 0) -> np.ndarray:
    """The ellipse (absolute centre) restricted to ``mask``'s box at (y0, x0); a bool view."""
    h, w = mask.shape
    r = max(a, b) + 1
    ys = slice(max(int(cy - r) - y0, 0), min(int(cy + r) + 2 - y0, h))
    xs = slice(max(int(cx - r) - x0, 0), min(int(cx + r) + 2 - x0, w))
    out = np.zeros(mask.shape, bool)
    if ys.start < ys.stop and xs.start < xs.stop:
        out[ys, xs] = ellipse((ys.stop - ys.start, xs.stop - xs.start),
                              cy - y0 - ys.start, cx - x0 - xs.start, a, b, theta)
    return out


def _jpeg_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """The labels file in the competition's spelling, atomically (``\\n`` line ends)."""
    with atomic_write(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# ---------------------------------------------------------------- Severstal
def severstal_case(seed: int, index: int, shape: tuple[int, int] = (256, 1600)):
    """Image ``index``: ``(image uint8 (h, w, 3), masks uint8 (4, h, w))``, classes 1..4."""
    rng = _rng("severstal", seed, index)
    h, w = shape
    grey = 120 + 12 * _field(rng, h, w, 6, 48) + 5 * _field(rng, h, w, 3, 400)
    grey += rng.normal(0, 4, (h, w)).astype(np.float32)
    masks = np.zeros((4, h, w), bool)
    taken = np.zeros((h, w), bool)
    present = [c for c in range(4) if rng.random() < (0.12, 0.08, 0.45, 0.12)[c]]
    for c in present:
        region = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(1, 4))):
            region |= _severstal_defect(rng, c, (h, w))
        region &= ~_dilate(taken)
        masks[c] = region
        taken |= region
        grey = np.where(region, grey + (-35, 45, -25, -45)[c], grey)
    image = np.clip(grey, 0, 255).astype(np.uint8)
    return np.repeat(image[:, :, None], 3, axis=2), masks.astype(np.uint8)


def _severstal_defect(rng: np.random.Generator, c: int, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    cy, cx = rng.uniform(0.1 * h, 0.9 * h), rng.uniform(0.02 * w, 0.98 * w)
    if c == 0:  # pits: a cluster of small spots
        out = np.zeros(shape, bool)
        for _ in range(int(rng.integers(3, 9))):
            out |= _ellipse_into(out, cy + rng.normal(0, 12), cx + rng.normal(0, 25),
                                 rng.uniform(2, 6), rng.uniform(2, 5), rng.uniform(0, np.pi))
        return out
    if c == 1:  # a thin scratch across the strip
        return _ellipse_into(np.zeros(shape, bool), cy, cx, rng.uniform(0.1, 0.3) * h,
                             rng.uniform(1.2, 2.5), np.pi / 2 + rng.normal(0, 0.3))
    if c == 2:  # a long patch along the rolling direction
        return _ellipse_into(np.zeros(shape, bool), cy, cx, rng.uniform(0.05, 0.2) * w,
                             rng.uniform(0.03, 0.15) * h, rng.normal(0, 0.05))
    blob = _field(rng, h, w, 4, 12) > 1.2  # large irregular areas, kept near the centre
    return blob & _ellipse_into(blob, cy, cx, 0.25 * w, 0.45 * h, 0.0)


def _dilate(mask: np.ndarray) -> np.ndarray:
    """8-neighbour dilation by one pixel (keeps classes and ships from touching)."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    wide = out.copy()
    wide[:, 1:] |= out[:, :-1]
    wide[:, :-1] |= out[:, 1:]
    return wide


def _make_severstal(root: Path, n: int, shape: tuple[int, int], seed: int, folder: Path) -> None:
    rows = []
    for i in range(n):
        image_id = f"{_hex_id('severstal', seed, i)}.jpg"
        image, masks = severstal_case(seed, i, shape)
        with atomic_write(folder / image_id, "wb") as handle:
            handle.write(_jpeg_bytes(image))
        rows += [[f"{image_id}_{c + 1}", encode(masks[c], format="kaggle")] for c in range(4)]
    _write_csv(root / LAYOUTS["severstal"]["labels"], ["ImageId_ClassId", "EncodedPixels"], rows)


# ---------------------------------------------------------------- Airbus
def airbus_case(seed: int, index: int, shape: tuple[int, int] = (768, 768), *,
                positive: bool = True):
    """Image ``index``: ``(image uint8 (h, w, 3), ships: list of uint8 (h, w) masks)``."""
    rng = _rng("airbus", seed, index)
    h, w = shape
    sea = _field(rng, h, w, 5, 5)
    waves = _field(rng, h, w, max(h // 12, 2), max(w // 12, 2))
    base = np.array([20, 55, 70], np.float32) + rng.uniform(-10, 15)
    image = base + (6 * sea + 4 * waves)[:, :, None] + rng.normal(0, 3, (h, w, 1))
    ships: list[np.ndarray] = []
    near = np.zeros(shape, bool)
    for _ in range(int(rng.integers(1, 6)) if positive else 0):
        for _attempt in range(20):
            length = rng.uniform(6, 60)
            ship = _ellipse_into(near, rng.uniform(0, h), rng.uniform(0, w), length,
                                 length * rng.uniform(0.15, 0.35), rng.uniform(0, np.pi))
            if ship.any() and not (ship & near).any():
                ships.append(ship.astype(np.uint8))
                near |= _dilate(ship)
                image[ship] = np.array([170, 170, 165]) + rng.normal(0, 12, (int(ship.sum()), 3))
                break
    return np.clip(image, 0, 255).astype(np.uint8), ships


def _make_airbus(root: Path, n: int, shape: tuple[int, int], seed: int, folder: Path,
                 positive_fraction: float) -> None:
    rows = []
    for i, positive in enumerate(_positives(n, positive_fraction, seed)):
        image_id = f"{_hex_id('airbus', seed, i)}.jpg"
        image, ships = airbus_case(seed, i, shape, positive=positive)
        with atomic_write(folder / image_id, "wb") as handle:
            handle.write(_jpeg_bytes(image))
        rows += [[image_id, encode(s, format="kaggle")] for s in ships] or [[image_id, ""]]
    _write_csv(root / LAYOUTS["airbus"]["labels"], ["ImageId", "EncodedPixels"], rows)


def _positives(n: int, fraction: float, seed: int) -> list[bool]:
    """Exactly round(n * fraction) positives at seeded positions."""
    order = np.random.default_rng([seed, 0xA1B]).permutation(n)
    flags = np.zeros(n, bool)
    flags[order[: int(round(n * fraction))]] = True
    return flags.tolist()


# ---------------------------------------------------------------- UW-Madison
def uw_volume(seed: int, index: int, shape: tuple[int, int], depth: int):
    """Volume ``index``: ``(slices uint16 (D, h, w), masks uint8 (D, 3, h, w))``."""
    rng = _rng("uw-madison", seed, index)
    h, w = shape
    z = np.arange(depth, dtype=np.float64)[:, None, None]
    yy = np.arange(h, dtype=np.float64)[None, :, None]
    xx = np.arange(w, dtype=np.float64)[None, None, :]
    body = ((yy - h / 2) / (0.42 * h)) ** 2 + ((xx - w / 2) / (0.45 * w)) ** 2 <= 1
    organs = np.zeros((depth, 3, h, w), bool)
    taken = np.zeros((depth, h, w), bool)
    # (centre y, x as fractions, radii y, x, z-centre and z-radius as fractions of depth)
    plan = {2: (0.38, 0.62, 0.12, 0.14, 0.3, 0.3),  # stomach: upper slices, patient's left
            1: (0.55, 0.48, 0.16, 0.18, 0.55, 0.35),  # small bowel: central
            0: (0.55, 0.5, 0.3, 0.34, 0.6, 0.4)}  # large bowel: a frame around it
    for c, (fy, fx, ry, rx, fz, rz) in plan.items():
        jit = rng.uniform(0.9, 1.1, 6)
        d = (((yy - fy * jit[0] * h) / (ry * jit[1] * h)) ** 2
             + ((xx - fx * jit[2] * w) / (rx * jit[3] * w)) ** 2
             + ((z - fz * jit[4] * depth) / max(rz * jit[5] * depth, 0.5)) ** 2)
        organ = (d <= 1) & (d >= 0.7 if c == 0 else True) & body & ~taken
        organs[:, c] = organ
        taken |= organ
    signal = np.where(body, 3000.0, 80.0) + rng.normal(0, 120, (depth, h, w))
    for c, level in ((0, 5200.0), (1, 7000.0), (2, 9000.0)):
        signal = np.where(organs[:, c], level + rng.normal(0, 300, (depth, h, w)), signal)
    return np.clip(signal, 0, 65535).astype(np.uint16), organs.astype(np.uint8)


def _make_uw(root: Path, n: int, size: Any, seed: int, folder: Path, depth: int) -> None:
    from PIL import Image

    rows = []
    for v in range(n):
        case, day = 101 + 2 * v + seed % 7, (0, 10, 20)[v % 3] + v
        shape = size if size is not None else UW_SIZES[v % len(UW_SIZES)]
        h, w = shape
        scans = folder / f"case{case}" / f"case{case}_day{day}" / "scans"
        scans.mkdir(parents=True, exist_ok=True)
        slices, masks = uw_volume(seed, v, shape, depth)
        for k in range(depth):
            name = f"slice_{k + 1:04d}_{w}_{h}_1.50_1.50.png"
            buf = io.BytesIO()
            Image.fromarray(slices[k]).save(buf, format="PNG")
            with atomic_write(scans / name, "wb") as handle:
                handle.write(buf.getvalue())
            image_id = f"case{case}_day{day}_slice_{k + 1:04d}"
            rows += [[image_id, cls, encode(masks[k, c], format="kaggle")]
                     for c, cls in enumerate(UW_CLASSES)]
    _write_csv(root / LAYOUTS["uw-madison"]["labels"], ["id", "class", "segmentation"], rows)


# ---------------------------------------------------------------- HuBMAP
def hubmap_plan(seed: int, index: int, shape: tuple[int, int]) -> dict[str, Any]:
    """What image ``index`` holds: a coarse tissue field, glomeruli ``(cy, cx, a, b, theta)``."""
    rng = _rng("hubmap", seed, index)
    h, w = shape
    ch, cw = -(-h // 32), -(-w // 32)
    yy = (np.arange(ch)[:, None] + 0.5) / ch - 0.5
    xx = (np.arange(cw)[None, :] + 0.5) / cw - 0.5
    tissue = 1.0 - (yy / 0.42) ** 2 - (xx / 0.3) ** 2 + 0.25 * _field(rng, ch, cw, 6, 6)
    scale = min(h, w) / 8192
    glomeruli: list[tuple[float, float, float, float, float]] = []
    for _ in range(int(60 * (h * w) / 8192**2) + 4):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        a = rng.uniform(70, 130) * max(scale, 0.05)
        if tissue[min(int(cy / 32), ch - 1), min(int(cx / 32), cw - 1)] < 0.2:
            continue  # glomeruli lie inside the tissue
        if any((cy - g[0]) ** 2 + (cx - g[1]) ** 2 < (1.3 * (a + g[2])) ** 2 for g in glomeruli):
            continue  # and apart from each other
        glomeruli.append((cy, cx, a, a * rng.uniform(0.8, 1.0), rng.uniform(0, np.pi)))
    # one pool of noise per image, read at a per-tile offset (drawing per tile costs 3x more)
    pool = rng.standard_normal((2 * _TIFF_TILE, 2 * _TIFF_TILE), dtype=np.float32)
    return {"tissue": tissue.astype(np.float32), "glomeruli": glomeruli, "shape": (h, w),
            "noise": pool}


def _upsample(coarse: np.ndarray, y: int, x: int, h: int, w: int, cell: int) -> np.ndarray:
    """Bilinear values of a coarse grid (one value per ``cell`` pixels) over a window.

    Rows are interpolated on the coarse columns first (a small array), then
    the columns: one full-size gather pair instead of four.
    """

    def weights(start: int, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(start, start + n) + 0.5) / cell - 0.5, 0, size - 1)
        i0 = pos.astype(np.intp)
        return i0, (pos - i0).astype(np.float32)

    padded = np.pad(coarse, ((0, 1), (0, 1)), mode="edge")
    i0, fy = weights(y, h, coarse.shape[0])
    j0, fx = weights(x, w, coarse.shape[1])
    rows = padded[i0] * (1 - fy)[:, None] + padded[i0 + 1] * fy[:, None]  # (h, cw + 1)
    return rows[:, j0] * (1 - fx) + rows[:, j0 + 1] * fx


def hubmap_mask_tile(plan: dict[str, Any], window: tuple[int, int, int, int]) -> np.ndarray:
    """The glomeruli mask over ``window`` (uint8 (h, w))."""
    y, x, h, w = window
    out = np.zeros((h, w), bool)
    for cy, cx, a, b, theta in plan["glomeruli"]:
        if y - a - 2 <= cy <= y + h + a + 2 and x - a - 2 <= cx <= x + w + a + 2:
            out |= _ellipse_into(out, cy, cx, a, b, theta, y, x)
    return out.astype(np.uint8)


def hubmap_image_tile(plan: dict[str, Any], window: tuple[int, int, int, int]) -> np.ndarray:
    """The RGB image over ``window``: white glass, pink tissue with nuclei, purple glomeruli."""
    y, x, h, w = window
    pool = plan["noise"]
    oy = (y * 7 + x * 3) % (pool.shape[0] - h + 1)
    ox = (y * 5 + x * 11) % (pool.shape[1] - w + 1)
    texture = pool[oy : oy + h, ox : ox + w]
    tissue = _upsample(plan["tissue"], y, x, h, w, 32)
    if tissue.max() <= 0:  # glass only: the common tile of a large slide
        glass = np.float32(243) + 2 * texture
        return np.repeat(np.clip(glass, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    # one label per pixel (0 glass, 1 tissue, 2 nucleus, 3 Bowman's space, 4 glomerulus),
    # then one palette gather: far cheaper than a chain of full-size np.where
    label = (tissue > 0).astype(np.uint8)
    label[(label == 1) & (texture > 2.2)] = 2
    ring = np.zeros((h, w), bool)
    for cy, cx, a, b, theta in plan["glomeruli"]:
        if y - 2 * a <= cy <= y + h + 2 * a and x - 2 * a <= cx <= x + w + 2 * a:
            ring |= _ellipse_into(ring, cy, cx, a * 1.15, b * 1.15, theta, y, x)
    label[ring] = 3
    label[hubmap_mask_tile(plan, window).astype(bool)] = 4
    palette = np.array([[243, 243, 243], [222, 160, 190], [110, 60, 140], [235, 235, 235],
                        [170, 95, 165]], np.float32)
    amplitude = np.array([2, 10, 0, 0, 18], np.float32)
    image = palette[label] + (amplitude[label] * texture)[:, :, None]
    return np.clip(image, 0, 255).astype(np.uint8)


def _tiff_tiles(plan: dict[str, Any]) -> Iterator[np.ndarray]:
    """Tiles in TIFF order (rows of tiles), edge tiles padded to full size."""
    h, w = plan["shape"]
    t = _TIFF_TILE
    for y in range(0, h, t):
        for x in range(0, w, t):
            tile = np.zeros((t, t, 3), np.uint8)
            th, tw = min(t, h - y), min(t, w - x)
            tile[:th, :tw] = hubmap_image_tile(plan, (y, x, th, tw))
            yield tile


def hubmap_rle(plan: dict[str, Any], tile: int = 1024) -> str:
    """The merged glomeruli mask as Kaggle RLE, streamed through :class:`rlemask.TileWriter`."""
    writer = TileWriter(plan["shape"], format="kaggle", tile=tile, overlap=0)
    for window in writer.windows():
        writer.add(window, hubmap_mask_tile(plan, window))
    return writer.finish()


def _make_hubmap(root: Path, n: int, shape: tuple[int, int], seed: int, folder: Path) -> None:
    import tifffile

    rows = []
    for i in range(n):
        image_id = _hex_id("hubmap", seed, i)
        plan = hubmap_plan(seed, i, shape)
        path = folder / f"{image_id}.tiff"
        # tifffile needs a named file; a partial one is renamed only once complete
        partial = path.with_name(f".{path.name}.partial")
        try:
            tifffile.imwrite(partial, _tiff_tiles(plan), shape=(*shape, 3),
                             dtype=np.uint8, tile=(_TIFF_TILE, _TIFF_TILE), photometric="rgb")
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        rows.append([image_id, hubmap_rle(plan)])
    _write_csv(root / LAYOUTS["hubmap"]["labels"], ["id", "encoding"], rows)


# ---------------------------------------------------------------- public
def _check_shape_arg(kind: str, size: Any) -> tuple[int, int] | None:
    if size is None:
        default = LAYOUTS[kind]["size"]
        return None if default is None else tuple(default)
    pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    ok = len(pair) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 16 <= v <= 200_000
        for v in pair
    )
    if not ok:
        raise ValueError(
            "`size` must be an int or a (height, width) pair of ints in [16, 200000]; "
            f"received size={size!r}"
        )
    return int(pair[0]), int(pair[1])


def make_kind(
    root: Any,
    kind: str = "siim",
    *,
    n_images: int | None = None,
    size: int | tuple[int, int] | None = None,
    seed: int = 0,
    positive_fraction: float | None = None,
    depth: int = 10,
    overwrite: bool = False,
    **siim_options: Any,
) -> Path:
    """Write a synthetic data set of ``kind`` under ``root`` (layouts in the module docstring).

    Parameters
    ----------
    root : str or os.PathLike
        Output folder (created).
    kind : {"siim", "severstal", "airbus", "uw-madison", "hubmap"}
        The competition whose layout is written.
    n_images : int, optional
        Images (UW-Madison: volumes, each of ``depth`` slices); default per
        kind: 64, 8, 8, 2, 1.
    size : int or (int, int), optional
        ``(height, width)`` of every image; default the competition's
        (SIIM 1024, Severstal 256 x 1600, Airbus 768 x 768, UW-Madison the
        real per-case sizes 266², 310 x 360, 234², 276², HuBMAP 8192²).
    seed : int
        Same seed and arguments, same files.
    positive_fraction : float, optional
        Share of images with objects (SIIM default 0.25, Airbus 0.5); other
        kinds draw their classes per image.
    depth : int
        Slices per UW-Madison volume.
    overwrite : bool
        Replace an existing image folder and labels file (else ``FileExistsError``).
    **siim_options
        For ``kind="siim"``: ``difficulty``.

    Returns
    -------
    pathlib.Path
        ``root``.

    Raises
    ------
    ValueError
        An unknown ``kind`` or a parameter out of range (named).
    FileExistsError
        The data set exists and ``overwrite`` is False.
    """
    from rlemask._validation import check_choice

    kind = check_choice(kind, "kind", KINDS)
    layout = LAYOUTS[kind]
    n = layout["n"] if n_images is None else n_images
    _check_number("n_images", n, 1, 1_000_000, integer=True)
    _check_number("seed", seed, 0, 2**63 - 1, integer=True)
    _check_number("depth", depth, 1, 1000, integer=True)
    if kind == "siim":
        side = layout["size"] if size is None else size
        fraction = 0.25 if positive_fraction is None else positive_fraction
        return make_dataset(root, n, size=side, positive_fraction=fraction, seed=seed,
                            overwrite=overwrite, **siim_options)
    if siim_options:
        raise TypeError(f"{', '.join(siim_options)}: only for kind='siim'")
    shape = _check_shape_arg(kind, size)
    fraction = 0.5 if positive_fraction is None else positive_fraction
    _check_number("positive_fraction", fraction, 0.0, 1.0, integer=False)
    root = Path(root)
    folder, labels = root / layout["images"], root / layout["labels"]
    for existing in (folder, labels):
        if existing.exists() and not overwrite:
            raise FileExistsError(
                f"{existing} already exists; pass overwrite=True to replace the data set"
            )
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if kind == "severstal":
        _make_severstal(root, n, shape, seed, folder)
    elif kind == "airbus":
        _make_airbus(root, n, shape, seed, folder, fraction)
    elif kind == "uw-madison":
        _make_uw(root, n, shape, seed, folder, depth)
    else:
        _make_hubmap(root, n, shape, seed, folder)
    return root
