"""A synthetic SIIM-like pneumothorax data set: chest-radiograph-like DICOMs and RLE labels.

:func:`make_dataset` writes the layout of the SIIM-ACR Kaggle mirror::

    root/
      dicom-images-train/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm
      train-rle.csv        # stage-1 spelling: "ImageId, EncodedPixels", values " -1", " 17 3 ..."

Every image is an 8-bit MONOCHROME2 single-frame DICOM, JPEG Baseline
(1.2.840.10008.1.2.4.50, Pillow at a fixed quality), with CR tags
(PatientAge such as ``"058"``, PatientSex, ViewPosition ``PA``/``AP``,
PixelSpacing about 0.14 mm scaled with the image size, BodyPartExamined
``CHEST``).  UIDs, pixels and bytes depend only on ``seed`` and the image's
position: the same call writes byte-identical files.

What an image holds
-------------------
A torso with shoulders and neck, a bright mediastinum, heart and spine, two
darker lung fields shaped as rounded "D"s, posterior ribs (curved bright
bands with brighter cortical edges), clavicles, vessel-like lung markings
that radiate from each hilum and fade towards the periphery, a slow
brightness gradient and white noise.  Patients vary in body size, position,
rotation-free offset, inspiration, exposure and contrast; AP views (about a
third) have a larger heart, higher clavicles, shallower lungs and less
contrast.

A pneumothorax region is a crescent along a lung's lateral edge or its apex,
between the chest wall and a displaced visceral pleural line: inside it the
lung markings are missing and the field is darker by a modest amount, and a
thin bright pleural line runs along its inner border.  Areas range from small
apical slivers (about 0.3 % of the image) to large crescents (about 8 %).
About one positive in three carries two or three separate regions (one CSV
row each); regions never touch each other.  The label is exactly the region
as drawn at full resolution, encoded with :func:`rlemask.encode`.

Difficulty
----------
The ``difficulty`` keyword (0..1, default :data:`DEFAULT_DIFFICULTY`) moves
these knobs together:

============  =====  =======  =====  ===============================================
knob          at 0   at 0.3   at 1   meaning
============  =====  =======  =====  ===============================================
darkening     30     23       6      grey levels darker than the lung around it
pleural line  60     47       15     grey levels brighter; 0.5 % of the size wide
noise         3      4.8      9      white noise sigma, grey levels
gradient      6      11       22     sigma of a slow brightness variation
folds         0      0.21     0.7    chance of a skin fold (a look-alike line)
============  =====  =======  =====  ===============================================

The lung markings stay visible at every difficulty: their absence and the
pleural line are the cues a model has to learn; intensity alone is
ambiguous at the default because the gradient, the ribs and the patients'
exposure vary by more than the darkening.  Region and marking scales are
large enough to survive an area downscale from 1024 to 128.

Examples
--------
>>> import tempfile
>>> from rlemask.synthetic import make_dataset
>>> root = make_dataset(tempfile.mkdtemp(), n_images=4, size=128, seed=1)
>>> sorted(p.name for p in root.iterdir())
['dicom-images-train', 'train-rle.csv']
>>> len(list(root.rglob("*.dcm")))
4
>>> (root / "train-rle.csv").read_text().splitlines()[0]
'ImageId, EncodedPixels'
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_DIFFICULTY", "GENERATOR_VERSION", "make_dataset"]

#: difficulty used when none is given, tuned for the demo: a plain 16-filter
#: U-Net (depth 4) trained at 128 x 128 on 160 images (80 % positive) reached a
#: per-image Dice of 0.67 on positive validation images after ~7 minutes on one
#: busy CPU thread, while the best per-image grey-level cut inside the lungs
#: scores ~0.3.  Lower it (0.1-0.2) if a shorter run must learn more.
DEFAULT_DIFFICULTY = 0.3
#: accepted ``n_images`` and ``size`` (inclusive)
N_IMAGES_RANGE = (1, 1_000_000)
SIZE_RANGE = (64, 4096)

#: Bumped whenever the drawing changes, so that folders of reused synthetic
#: sets (``rlemask-keras train``) never mix two generators' images.
GENERATOR_VERSION = 1

#: JPEG quality used by Pillow (fixed: the bytes must not change between runs)
JPEG_QUALITY = 90

#: UID root for generated UIDs (pydicom's root; hashed with the seed and index)
_UID_PREFIX = "1.2.826.0.1.3680043.8.498."

# regions per positive image, cycled over the positives in order so that even
# a small data set holds multi-region images (about 1 in 3 positives)
_REGIONS_CYCLE = (1, 2, 1, 1, 3, 1, 2, 1)


@dataclass
class Case:
    """One synthetic image as drawn, before it is written to disk.

    Attributes
    ----------
    image : np.ndarray
        (size, size) uint8, MONOCHROME2 (air is dark).
    regions : list of np.ndarray
        One (size, size) uint8 0/1 mask per pneumothorax region, as drawn;
        empty for a negative image.  Regions never touch (8-connectivity).
    meta : dict
        ``uid``, ``study_uid``, ``series_uid``, ``age``, ``sex``, ``view``,
        ``pixel_spacing``, ``lungs`` (the two lung fields, (size, size) bool),
        ``region_info`` (side and kind of each region) and ``folds``.
    """

    image: np.ndarray
    regions: list[np.ndarray]
    meta: dict = field(default_factory=dict)


def _knobs(difficulty: float) -> dict[str, float]:
    def lerp(a: float, b: float) -> float:
        return a + (b - a) * difficulty

    return {
        "darkening": lerp(30.0, 6.0),
        "line": lerp(60.0, 15.0),
        "noise": lerp(3.0, 9.0),
        "gradient": lerp(6.0, 22.0),
        "folds": lerp(0.0, 0.7),
    }


@functools.lru_cache(maxsize=16)
def _smooth_basis(size: int, cells: int) -> np.ndarray:
    """(size, cells) matrix that turns a (cells, cells) noise grid into a smooth field.

    ``B @ Z @ B.T`` is a Gaussian-interpolated field of correlation length
    ``size / cells``: two small matrix products instead of a blur plus an
    upsampling pass over the full image.
    """
    pos = (np.arange(size, dtype=np.float64) + 0.5) * cells / size - 0.5
    d = pos[:, None] - np.arange(cells)[None, :]
    w = np.exp(-0.5 * (d / 0.8) ** 2)
    w /= np.sqrt((w**2).sum(axis=1, keepdims=True))  # unit variance everywhere
    return w.astype(np.float32)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth Gaussian random field with unit variance and correlation length size/cells."""
    b = _smooth_basis(size, cells)
    z = rng.standard_normal((cells, cells), dtype=np.float32)
    return b @ z @ b.T


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass
class _Lung:
    cx: float  # centre, pixels
    cy: float
    lateral: int  # -1: lateral side is image-left, +1: image-right
    a_lat: float  # half-widths and half-heights, pixels
    a_med: float
    b_top: float
    b_bot: float
    box: tuple[slice, slice] = (slice(0), slice(0))

    def frame(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, v, F) over the lung's box: lateral/down offsets and normalised radius.

        F is a superellipse "radius" that is homogeneous of degree one, so
        ``1 - F`` is the relative depth below the lung edge along the ray from
        the centre: a crescent of constant depth is ``F > 1 - t``.
        """
        ys, xs = self.box
        y = np.arange(ys.start, ys.stop, dtype=np.float32)[:, None] - self.cy
        x = np.arange(xs.start, xs.stop, dtype=np.float32)[None, :] - self.cx
        u = x * self.lateral
        v = np.broadcast_to(y, (y.shape[0], x.shape[1]))
        au = np.abs(u) / np.where(u > 0, self.a_lat, self.a_med).astype(np.float32)
        # rows above the centre use n = 1.7 (a pointed apex), rows below n = 3
        # (boxy costophrenic corners); v depends on the row only, so split rows
        k = int(np.searchsorted(y[:, 0], 0.0))
        f = np.empty(v.shape, dtype=np.float32)
        n_top = np.float32(1.7)
        av = np.abs(y[:k]) / np.float32(self.b_top)
        f[:k] = (au**n_top + av**n_top) ** np.float32(1 / 1.7)
        av = np.abs(y[k:]) / np.float32(self.b_bot)
        f[k:] = np.cbrt(au * au * au + av * av * av)
        return u, v, f


def _place_lungs(rng: np.random.Generator, size: int, ap: bool) -> tuple[list[_Lung], dict]:
    s = float(size)
    mid = s * rng.uniform(0.47, 0.53)
    scale = rng.uniform(0.9, 1.06)
    # AP films are taken supine in expiration more often: shallower lungs
    height = s * 0.56 * scale * (0.9 if ap else 1.0) * rng.uniform(0.94, 1.06)
    top = s * rng.uniform(0.12, 0.17) + (0.03 * s if ap else 0.0)
    gap = s * 0.045 * scale * rng.uniform(0.9, 1.15)  # half-width of the mediastinum
    lungs = []
    for lateral in (-1, 1):
        width = s * 0.30 * scale * rng.uniform(0.95, 1.05)
        # the left lung (image right in PA) is narrower medially: the heart
        a_med = width * (0.40 if lateral > 0 else 0.45)
        a_lat = width - a_med
        cx = mid + lateral * (gap + a_med)
        b_top = height * 0.6
        b_bot = height * 0.4 * (1.0 if lateral < 0 else 1.04)
        cy = top + b_top
        lung = _Lung(cx, cy, lateral, a_lat, a_med, b_top, b_bot)
        x0 = cx - (a_med if lateral > 0 else a_lat) - 2
        x1 = cx + (a_lat if lateral > 0 else a_med) + 2
        y0, y1 = cy - b_top - 2, cy + b_bot + 2
        lung.box = (
            slice(max(int(y0), 0), min(int(np.ceil(y1)) + 1, size)),
            slice(max(int(x0), 0), min(int(np.ceil(x1)) + 1, size)),
        )
        lungs.append(lung)
    info = {"mid": mid, "scale": scale, "top": top, "height": height, "gap": gap}
    return lungs, info


def _region(
    rng: np.random.Generator,
    lung: _Lung,
    size: int,
    kind: str,
    target_area: float,
    lung_mask: np.ndarray,
    frame: tuple[np.ndarray, np.ndarray, np.ndarray],
    narrow: bool = False,
) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray, tuple[float, float]]:
    """Draw one crescent on ``lung``.

    Returns the crescent's box (absolute slices, with a margin), its mask and
    the signed pixel distance to its inner border over that box, and its
    (centre, half-width) angles in degrees.
    """
    from scipy import ndimage

    u, v, f = frame
    # ``narrow``: two regions share this lung; keep their sectors apart
    if kind == "apical":
        centre = np.deg2rad(rng.uniform(85.0, 95.0) if narrow else rng.uniform(70.0, 95.0))
        half = np.deg2rad(rng.uniform(25.0, 30.0) if narrow else rng.uniform(28.0, 42.0))
    else:
        centre = np.deg2rad(rng.uniform(-15.0, 5.0) if narrow else rng.uniform(-10.0, 35.0))
        half = np.deg2rad(rng.uniform(30.0, 38.0) if narrow else rng.uniform(35.0, 65.0))
    # angle measured from the lateral direction towards the apex (image up)
    r = np.sqrt(u * u + v * v) + np.float32(1e-3)
    cosd = (u * np.float32(np.cos(centre)) - v * np.float32(np.sin(centre))) / r
    cos_half = np.float32(np.cos(half))
    prof = np.clip((cosd - cos_half) / (1 - cos_half), 0, 1)
    prof = prof * (2 - prof)  # a blunter middle, still tapering to the ends
    inside = lung_mask[lung.box]
    # the crescent can only lie in the sector and in the outer 35 % of the radius:
    # crop to that (plus a margin for the pleural line) before the real work
    reach = (prof > 0) & (f > 0.6) & inside
    rows = np.flatnonzero(reach.any(axis=1))
    cols = np.flatnonzero(reach.any(axis=0))
    m = max(int(size * 0.01), 3)
    sub = (
        slice(max(rows[0] - m, 0), rows[-1] + m + 1),
        slice(max(cols[0] - m, 0), cols[-1] + m + 1),
    )
    u, v, f, r, prof, inside = (a[sub] for a in (u, v, f, r, prof, inside))
    # thickness as a fraction of the radius, corrected once for the target area
    t = 0.12
    for _ in range(3):
        inner = 1 - t * prof
        mask = inside & (f > inner) & (prof > 0)
        area = int(mask.sum())
        if area == 0:
            t = min(t * 2, 0.6)
            continue
        t = float(np.clip(t * target_area / area, 0.02, 0.35))
    inner = 1 - t * prof
    mask = inside & (f > inner) & (prof > 0.05)
    labels, n = ndimage.label(mask)
    if n > 1:  # keep the crescent itself, not specks at its tapering ends
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        mask = labels == int(sizes.argmax())
    # signed pixel distance to the inner border (the visceral pleura)
    dist = (f - inner) * r / np.maximum(f, np.float32(1e-3))
    dist = np.where(prof > 0.05, dist, np.float32(1e9))
    ys, xs = lung.box
    box = (
        slice(ys.start + sub[0].start, ys.start + sub[0].start + mask.shape[0]),
        slice(xs.start + sub[1].start, xs.start + sub[1].start + mask.shape[1]),
    )
    return box, mask, dist, (float(np.rad2deg(centre)), float(np.rad2deg(half)))


@functools.lru_cache(maxsize=1)
def _tone_lut() -> np.ndarray:
    """Film-like tone curve: linear in 40..215, a soft toe and shoulder, never a hard clip.

    Hard clipping would flatten the darkest lung (and any region in it) to 0.
    Indexed by ``round(4 * grey) + 1024`` for grey levels -256 .. 512.
    """
    x = (np.arange(3072) - 1024) / 4.0
    y = np.where(x < 40, 40 * np.exp((x - 40) / 40), x)
    y = np.where(x > 215, 255 - 40 * np.exp(-(x - 215) / 40), y)
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def _tone(grey: np.ndarray) -> np.ndarray:
    idx = grey * np.float32(4) + np.float32(1024.5)
    np.clip(idx, 0, 3071, out=idx)
    return _tone_lut()[idx.astype(np.int32)]


@functools.lru_cache(maxsize=2)
def _noise_pool(size: int) -> np.ndarray:
    """A fixed pool of white noise; each image reads a window at a random offset.

    Drawing 1M normal deviates costs ~11 ms, more than the rest of an image:
    a shared pool (seeded, so still deterministic) makes noise free.
    """
    extra = min(size * size, 1 << 22)  # room for offsets, capped for very large sizes
    return np.random.default_rng(0x5EED).standard_normal(size * size + extra, dtype=np.float32)


@dataclass
class _Canvas:
    """What every layer of one drawing shares: the generator, the grid and the patient's frame.

    Layers are drawn in a fixed order and each takes its random numbers from
    ``rng`` in turn, so the order of the calls in :func:`_make_case` is part
    of the output (changing it changes every image: bump ``GENERATOR_VERSION``).
    """

    rng: np.random.Generator
    size: int
    ap: bool
    lungs: list[_Lung]
    g: dict
    yy: np.ndarray = field(init=False)  # (size, 1) row coordinates
    xx: np.ndarray = field(init=False)  # (1, size) column coordinates
    lat: np.ndarray = field(init=False)  # (1, size): lateral distance from the spine / size

    def __post_init__(self) -> None:
        self.yy = np.arange(self.size, dtype=np.float32)[:, None]
        self.xx = np.arange(self.size, dtype=np.float32)[None, :]
        self.lat = np.abs(self.xx - np.float32(self.g["mid"])) / np.float32(self.size)

    @property
    def s(self) -> float:
        return float(self.size)


def _make_case(
    seed: int,
    index: int,
    *,
    size: int = 1024,
    positive: bool = False,
    n_regions: int = 1,
    difficulty: float = DEFAULT_DIFFICULTY,
) -> Case:
    """Draw image ``index`` of the data set with ``seed``; pure function of its arguments.

    Everything is drawn in grey levels of the final 8-bit image, layer by
    layer, from the back of the patient to the film.
    """
    rng = np.random.default_rng([int(seed), int(index), 20190627])
    k = _knobs(difficulty)
    ap = bool(rng.random() < 0.35)
    lungs, g = _place_lungs(rng, size, ap)
    c = _Canvas(rng, size, ap, lungs, g)

    grey, torso = _soft_tissue(c)
    onset = _mediastinum(c, grey)
    heart, abdomen = _heart_and_abdomen(c, grey, torso)
    lung_mask, air, frames = _lung_fields(c, grey, heart, abdomen)
    _ribs(c, grey, onset, abdomen, air)
    _clavicles(c, grey)
    markings = _markings(c, air)
    regions, region_info, pleura, taken = _pneumothorax(
        c, lung_mask, frames, positive, n_regions
    )
    folds = _skin_fold(c, k, pleura)
    image = _expose(c, k, grey, markings, taken, pleura)

    age = int(np.clip(rng.normal(50, 17), 2, 92))
    meta = {
        "age": age,
        "sex": "M" if rng.random() < 0.55 else "F",
        "view": "AP" if ap else "PA",
        "pixel_spacing": round(0.143 * 1024 / size, 6),
        "lungs": lung_mask,
        "region_info": region_info,
        "folds": folds,
    }
    meta.update(_uids(seed, index))
    return Case(image=image, regions=regions, meta=meta)


def _soft_tissue(c: _Canvas) -> tuple[np.ndarray, np.ndarray]:
    """Torso, neck and shoulders: the starting grey image, and the torso's weight."""
    f32, s, g, yy, lat = np.float32, c.s, c.g, c.yy, c.lat
    mid, top, height = g["mid"], g["top"], g["height"]
    bw = s * 0.44 * g["scale"] * c.rng.uniform(0.97, 1.1)
    bx = (c.xx - f32(mid)) / f32(bw)
    bx4 = (bx * bx) ** 2
    by = (yy - f32(top + height * 0.75)) / f32(s * 0.9)
    torso = _smoothstep((1.0 - bx4 - by * by) * 8.0)
    shoulder_y = top - s * 0.09 + lat * lat * s * 0.9  # above the lung apices
    shoulders = _smoothstep((yy - shoulder_y) / f32(s * 0.04))
    neck = _smoothstep((1.0 - lat / 0.085) * 3.0)
    tissue = np.maximum(torso * shoulders, neck * (yy < top + s * 0.1))
    grey = f32(18.0) + tissue * (f32(140.0) + f32(30.0) * np.clip(1.0 - np.abs(bx), 0, 1))
    return grey, torso


def _mediastinum(c: _Canvas, grey: np.ndarray) -> np.ndarray:
    """Mediastinum and spine (functions of x, times a vertical onset); returns the onset."""
    f32, s, yy, xx = np.float32, c.s, c.yy, c.xx
    mid, top = c.g["mid"], c.g["top"]
    onset = _smoothstep((yy - f32(top - s * 0.08)) / f32(s * 0.08))
    medi_x = np.exp(-(((xx - f32(mid)) / f32(c.g["gap"] * 1.25)) ** 2))
    spine_x = np.exp(-(((xx - f32(mid)) / f32(s * 0.022)) ** 4))
    vert = 0.5 + 0.5 * np.cos((yy - f32(top)) * f32(2 * np.pi / (s * 0.036)))
    grey += onset * (f32(42.0) * medi_x + spine_x * (f32(8.0) + f32(8.0) * vert))
    return onset


def _heart_and_abdomen(
    c: _Canvas, grey: np.ndarray, torso: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The heart (computed in a box around it only) and the diaphragm / abdomen."""
    f32, s, size, yy, xx, lat = np.float32, c.s, c.size, c.yy, c.xx, c.lat
    mid, top, height = c.g["mid"], c.g["top"], c.g["height"]
    heart_w = s * 0.15 * (1.15 if c.ap else 1.0) * c.rng.uniform(0.92, 1.08)
    heart_cx = mid + heart_w * 0.3
    heart_cy = top + height * 0.88  # sits on the diaphragm
    hs = (
        slice(max(int(heart_cy - heart_w), 0), min(int(heart_cy + heart_w) + 1, size)),
        slice(max(int(heart_cx - heart_w * 1.2), 0), min(int(heart_cx + heart_w * 1.2) + 1, size)),
    )
    hx = (xx[:, hs[1]] - f32(heart_cx)) / f32(heart_w)
    hy = (yy[hs[0]] - f32(heart_cy)) / f32(heart_w * 0.68)
    heart = np.zeros((size, size), dtype=np.float32)
    heart[hs] = _smoothstep((1.0 - (hx * hx + hy * hy)) * 3.0)
    dome_y = top + height - s * 0.035 * np.exp(-(((xx - f32(mid)) / f32(s * 0.25)) ** 2))
    dome_y = dome_y + f32(s * 0.02) * _smoothstep((lat - 0.2) / 0.15)
    # zero above the dome's highest point: compute the rows below it only
    r0 = min(max(int(dome_y.min() - s * 0.02), 0), size)
    abdomen = np.zeros((size, size), dtype=np.float32)
    abdomen[r0:] = _smoothstep((yy[r0:] - dome_y) / f32(s * 0.012))
    belly = abdomen * torso * _smoothstep((0.4 - lat) / 0.12)
    grey += f32(22.0) * heart + f32(30.0) * belly
    return heart, abdomen


def _lung_fields(
    c: _Canvas, grey: np.ndarray, heart: np.ndarray, abdomen: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list]:
    """Lung fields, darkest where thickest, with a soft edge.

    Returns the lung mask (bool), the air weight (0..1) and each lung's frame.
    """
    f32, s, size = np.float32, c.s, c.size
    lung_mask = np.zeros((size, size), dtype=bool)
    air = np.zeros((size, size), dtype=np.float32)
    frames = []
    edge = f32(max(s * 0.01, 1.5))
    for lung in c.lungs:
        u, v, f = lung.frame(size)
        frames.append((u, v, f))
        rad = f32(min(lung.a_lat, lung.b_top))
        soft = _smoothstep((1 - f) * rad / edge)
        thick = np.sqrt(np.clip(1 - f * f, 0, 1))
        air[lung.box] = np.maximum(air[lung.box], soft * (0.6 + 0.4 * thick))
        lung_mask[lung.box] |= f < 1
    lung_mask &= abdomen < 0.5
    lung_mask &= heart < 0.5
    air *= (1 - abdomen) * (1 - 0.85 * heart)
    grey -= f32(92.0) * air
    return lung_mask, air, frames


def _ribs(
    c: _Canvas, grey: np.ndarray, onset: np.ndarray, abdomen: np.ndarray, air: np.ndarray
) -> None:
    """Posterior rib arcs from the spine (bright cortical edges), faint anterior ones."""
    f32, s, size, yy, lat = np.float32, c.s, c.size, c.yy, c.lat
    mid, top, height, scale = c.g["mid"], c.g["top"], c.g["height"], c.g["scale"]
    spacing = s * 0.068 * scale
    rows = slice(max(int(top - 0.16 * s), 0), min(int(top + height + 0.08 * s), size))
    half_cage = 0.37 * scale + 0.04
    cols = slice(max(int(mid - half_cage * s), 0), min(int(mid + half_cage * s) + 1, size))
    y_r, lat_r = yy[rows], lat[:, cols]
    curve = -0.45 * s * lat_r + 2.0 * s * lat_r * lat_r
    phase = (y_r - f32(top - s * 0.06) - curve) / f32(spacing) + f32(c.rng.uniform(0, 1))
    phase *= 1 - (y_r - f32(top)) / f32(s * 4.0)  # ribs spread apart lower down
    d = np.abs(phase - np.floor(phase) - 0.5) / f32(0.23)
    d2 = d * d
    rib = _smoothstep((1 - d) * 4.0) * (0.6 + 0.4 * d2 * d2)
    cage = _smoothstep((0.37 * scale - lat_r) / 0.04) * _smoothstep((lat_r - 0.035) / 0.02)
    cage = cage * onset[rows] * (1 - abdomen[rows, cols])
    ant_phase = (y_r - f32(top) + f32(0.5 * s) * lat_r) / f32(spacing * 1.5)
    ant = _smoothstep((1 - np.abs(ant_phase - np.floor(ant_phase) - 0.5) / 0.2) * 3.0)
    air_r = air[rows, cols]
    grey[rows, cols] += cage * ((f32(6.0) + f32(22.0) * air_r) * rib + f32(8.0) * air_r * ant)


def _clavicles(c: _Canvas, grey: np.ndarray) -> None:
    """Both clavicles, computed on the rows they can reach only."""
    f32, s, size, lat = np.float32, c.s, c.size, c.lat
    clav_y0 = c.g["top"] + s * (-0.02 if c.ap else 0.02)
    cl_line = clav_y0 - s * 0.45 * (lat - 0.05) + s * 1.2 * (lat - 0.1) ** 2
    cl_rows = slice(max(int(clav_y0 - 0.16 * s), 0), max(min(int(clav_y0 + 0.1 * s), size), 0))
    t = ((c.yy[cl_rows] - f32(cl_line)) / f32(s * 0.016)) ** 2
    clav = np.exp(-(t * t))
    clav *= _smoothstep((lat - 0.03) / 0.02) * _smoothstep((0.29 - lat) / 0.03)
    grey[cl_rows] += f32(40.0) * clav


def _markings(c: _Canvas, air: np.ndarray) -> np.ndarray:
    """Lung markings: vessels radiating from each hilum, tapering, with breaks."""
    f32, s, size, rng = np.float32, c.s, c.size, c.rng
    wob = _smooth_noise(rng, size, 24)
    gate = _smooth_noise(rng, size, 40)
    markings = np.zeros((size, size), dtype=np.float32)
    for lung in c.lungs:
        ys, xs = lung.box
        hx0 = lung.cx - lung.lateral * lung.a_med * 0.75
        hy0 = lung.cy + lung.b_bot * 0.1
        dx = c.xx[:, xs] - f32(hx0)
        dy = c.yy[ys] - f32(hy0)
        r = np.sqrt(dx * dx + dy * dy) + f32(1.0)
        theta = np.arctan2(dy, dx * f32(lung.lateral))
        reach = f32(max(lung.a_lat + lung.a_med, lung.b_top))
        rel = r / reach
        wb = wob[lung.box]
        vessels = np.zeros(r.shape, dtype=np.float32)
        for rays, width, start, amp in ((11, 0.016, 0.0, 1.0), (26, 0.009, 0.3, 0.7)):
            ph = theta * f32(rays / (2 * np.pi)) + f32(0.22) * wb + f32(rng.uniform(0, 1))
            d_px = np.abs(ph - np.floor(ph) - f32(0.5)) * r * f32(2 * np.pi / rays)
            w = f32(width * s) * np.clip(1.15 - rel, 0.25, 1.0)
            v = np.clip(1 - d_px / w, 0, 1) * _smoothstep((rel - start) / 0.1)
            vessels = np.maximum(vessels, f32(amp) * v)
        vessels *= _smoothstep((gate[lung.box] + 0.6) * 2.0)  # branches end, gaps
        fade = np.clip(1.25 - rel, 0.35, 1.0)  # fainter at the periphery, never gone
        markings[lung.box] = np.maximum(markings[lung.box], vessels * fade)
    for lung in c.lungs:
        markings[lung.box] *= air[lung.box] * f32(40.0)
    return markings


def _pneumothorax(
    c: _Canvas, lung_mask: np.ndarray, frames: list, positive: bool, n_regions: int
) -> tuple[list[np.ndarray], list[dict], np.ndarray, np.ndarray]:
    """The pneumothorax regions of a positive image and their pleural lines.

    Returns the regions (one uint8 mask each), their descriptions, the
    pleural-line weight and the union of the regions (bool).
    """
    from scipy import ndimage

    f32, s, size, rng = np.float32, c.s, c.size, c.rng
    regions: list[np.ndarray] = []
    region_info: list[dict] = []
    pleura = np.zeros((size, size), dtype=np.float32)
    taken = np.zeros((size, size), dtype=bool)
    if not positive:
        return regions, region_info, pleura, taken
    first = int(rng.integers(2))
    plan = [(first, str(rng.choice(["lateral", "apical"], p=[0.6, 0.4])))]
    if n_regions >= 2:
        plan.append((1 - first, str(rng.choice(["lateral", "apical"]))))
    if n_regions >= 3:
        plan.append((first, "apical" if plan[0][1] == "lateral" else "lateral"))
    line_w = f32(max(s * 0.005, 1.2))
    for side, kind in plan:
        lung = c.lungs[side]
        frac = float(np.exp(rng.uniform(np.log(0.003), np.log(0.08))))
        if kind == "apical":
            frac = min(frac, 0.03)
        target = frac * s * s
        narrow = len(plan) == 3 and side == first
        box, box_mask, dist, angles = _region(
            rng, lung, size, kind, target, lung_mask, frames[side], narrow
        )
        near = ndimage.binary_dilation(taken[box], iterations=3) & box_mask
        if not box_mask.any() or near.any():
            continue  # would touch an earlier region: skip rather than merge
        full = np.zeros((size, size), dtype=bool)
        full[box] = box_mask
        taken |= full
        regions.append(full.astype(np.uint8))
        region_info.append({
            "side": "right" if lung.lateral < 0 else "left",
            "kind": kind,
            "angles": angles,
            "area_fraction": float(box_mask.sum() / s**2),
        })
        # the pleural line: a thin bright band just inside the visceral border
        line = np.clip(1 - np.abs(dist + line_w) / line_w, 0, 1) * ~box_mask
        line *= lung_mask[box]
        pleura[box] = np.maximum(pleura[box], line)
    if not regions:
        raise RuntimeError("internal error: a positive case drew no region")
    return regions, region_info, pleura, taken


def _skin_fold(c: _Canvas, k: dict[str, float], pleura: np.ndarray) -> int:
    """Maybe a skin fold: a pleural-line look-alike crossing the lung edge; returns 0 or 1."""
    f32, s, rng = np.float32, c.s, c.rng
    if not rng.random() < k["folds"]:
        return 0
    lung = c.lungs[int(rng.integers(2))]
    ys, xs = lung.box
    fx = lung.cx + lung.lateral * lung.a_lat * rng.uniform(0.55, 0.85)
    tilt = rng.uniform(-0.3, 0.3)
    xline = f32(fx) + f32(tilt) * (c.yy[ys] - f32(lung.cy))
    fold = np.exp(-(((c.xx[:, xs] - xline) / f32(max(s * 0.004, 1.0))) ** 2))
    pleura[ys, xs] += fold * f32(0.8)
    return 1


def _expose(
    c: _Canvas, k: dict[str, float], grey: np.ndarray, markings: np.ndarray,
    taken: np.ndarray, pleura: np.ndarray,
) -> np.ndarray:
    """Compose the layers, then the patient's exposure, contrast and noise: the uint8 image."""
    f32, size, rng = np.float32, c.size, c.rng
    lungs = c.lungs
    ub = (  # the lungs' common box: markings, regions and lines all lie inside it
        slice(min(lu.box[0].start for lu in lungs), max(lu.box[0].stop for lu in lungs)),
        slice(min(lu.box[1].start for lu in lungs), max(lu.box[1].stop for lu in lungs)),
    )
    ptx = taken[ub].astype(np.float32)
    grey[ub] += markings[ub] * (1 - ptx) - f32(k["darkening"]) * ptx + f32(k["line"]) * pleura[ub]
    level = rng.uniform(100.0, 122.0)
    gain = rng.uniform(0.85, 1.05) * (0.9 if c.ap else 1.0)
    grey = f32(level) + (grey - f32(110.0)) * f32(gain)
    grey += f32(k["gradient"]) * _smooth_noise(rng, size, 4)
    grey += f32(k["noise"] * 0.5) * _smooth_noise(rng, size, max(size // 32, 8))
    pool = _noise_pool(size)
    off = int(rng.integers(pool.size - size * size))
    grey += f32(k["noise"]) * pool[off : off + size * size].reshape(size, size)
    return _tone(grey)


def _uids(seed: int, index: int) -> dict[str, str]:
    from pydicom.uid import generate_uid

    def uid(what: str) -> str:
        return str(generate_uid(_UID_PREFIX, [f"rlemask-synthetic-{what}", str(seed), str(index)]))

    return {"uid": uid("sop"), "study_uid": uid("study"), "series_uid": uid("series")}
def _uuid(seed: int, index: int) -> str:
    """Deterministic UUID-like patient id (SIIM's PatientID is an anonymised UUID)."""
    import hashlib
    import uuid

    digest = hashlib.sha256(f"rlemask-synthetic-patient-{seed}-{index}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _dicom_bytes(case: Case, seed: int, index: int) -> bytes:
    """The DICOM file of ``case``: JPEG Baseline, CR Image Storage, SIIM-like tags."""
    from PIL import Image
    from pydicom import dcmwrite
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, JPEGBaseline8Bit

    cr_image_storage = "1.2.840.10008.5.1.4.1.1.1"
    m = case.meta
    rows, cols = case.image.shape
    jpeg = io.BytesIO()
    # pydicom 3.0 has no JPEG Baseline encoder: Pillow encodes, pydicom wraps
    Image.fromarray(case.image, mode="L").save(jpeg, format="JPEG", quality=JPEG_QUALITY)

    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = cr_image_storage
    fm.MediaStorageSOPInstanceUID = m["uid"]
    fm.TransferSyntaxUID = JPEGBaseline8Bit
    fm.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = Dataset()
    ds.file_meta = fm
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = cr_image_storage
    ds.SOPInstanceUID = m["uid"]
    ds.StudyDate = "19010101"  # SIIM's anonymised dates
    ds.StudyTime = "000000.00"
    ds.AccessionNumber = ""
    ds.Modality = "CR"
    ds.ReferringPhysicianName = ""
    ds.SeriesDescription = f"view: {m['view']}"
    patient = _uuid(seed, index)
    ds.PatientName = patient
    ds.PatientID = patient
    ds.PatientBirthDate = ""
    ds.PatientSex = m["sex"]
    ds.PatientAge = f"{m['age']:03d}Y"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = m["view"]
    ds.StudyInstanceUID = m["study_uid"]
    ds.SeriesInstanceUID = m["series_uid"]
    ds.StudyID = ""
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.PixelSpacing = [m["pixel_spacing"], m["pixel_spacing"]]
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.PixelData = encapsulate([jpeg.getvalue()])
    ds["PixelData"].VR = "OB"
    out = io.BytesIO()
    dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


def _check_number(name: str, value, lo: float, hi: float, integer: bool) -> None:
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(
        value, (int, float, np.integer, np.floating)
    )
    if isinstance(value, bool) or not ok or not (lo <= value <= hi):
        raise ValueError(f"`{name}` must be {kind} in [{lo}, {hi}]; received {name}={value!r}")


def _plan(n_images: int, positive_fraction: float, seed: int) -> list[int]:
    """Regions to draw in each image (0: negative), in file order.

    Exactly ``round(n_images * positive_fraction)`` positives at seeded
    positions; the k-th positive gets ``_REGIONS_CYCLE[k % 8]`` regions.
    """
    n_pos = int(round(n_images * positive_fraction))
    order = np.random.default_rng([seed, 0x9051]).permutation(n_images)
    positive = np.zeros(n_images, dtype=bool)
    positive[order[:n_pos]] = True
    rank = np.cumsum(positive) - 1
    return [
        _REGIONS_CYCLE[rank[i] % len(_REGIONS_CYCLE)] if positive[i] else 0
        for i in range(n_images)
    ]


def make_dataset(
    root: str | os.PathLike,
    n_images: int = 64,
    *,
    size: int = 1024,
    positive_fraction: float = 0.25,
    seed: int = 0,
    difficulty: float = DEFAULT_DIFFICULTY,
    overwrite: bool = False,
) -> Path:
    """Write a synthetic SIIM-like data set under ``root``; returns ``root`` as a Path.

    Parameters
    ----------
    root : str or os.PathLike
        Folder to write into (created if missing).  It receives
        ``dicom-images-train/<study>/<series>/<SOPInstanceUID>.dcm`` and
        ``train-rle.csv`` (stage-1 spelling, one row per region, ``-1`` for
        a negative image).  The CSV is written last and atomically: a data set
        interrupted while writing has no labels file.
    n_images : int, default 64
        Number of images (1 .. 1,000,000).
    size : int, default 1024
        Height and width in pixels (64 .. 4096).  The anatomy scales with
        ``size``; PixelSpacing is ``0.143 * 1024 / size`` mm.
    positive_fraction : float, default 0.25
        Share of images with a pneumothorax, in [0, 1]; exactly
        ``round(n_images * positive_fraction)`` images are positive, placed at
        seeded random positions.
    seed : int, default 0
        Everything (pixels, UIDs, bytes) is a function of ``seed`` and the
        image's position: the same arguments write byte-identical files.
    difficulty : float, default DEFAULT_DIFFICULTY
        0 (obvious) .. 1 (subtle); see the module docstring for the knobs it
        moves.
    overwrite : bool, default False
        If False, an existing ``dicom-images-train`` folder or
        ``train-rle.csv`` under ``root`` raises ``FileExistsError``.  If True,
        that folder is deleted first and the CSV replaced.

    Returns
    -------
    pathlib.Path
        ``root``.

    Raises
    ------
    ValueError
        A parameter out of range (the message names it and the value received).
    FileExistsError
        Output already present and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> import rlemask
    >>> root = make_dataset(tempfile.mkdtemp(), n_images=8, size=128, positive_fraction=0.5)
    >>> rows = (root / "train-rle.csv").read_text().splitlines()[1:]
    >>> sum(row.endswith(", -1") for row in rows)  # negatives: one " -1" row each
    4
    """
    import shutil

    from rlemask import encode
    from rlemask._atomic import atomic_write

    _check_number("n_images", n_images, *N_IMAGES_RANGE, integer=True)
    _check_number("size", size, *SIZE_RANGE, integer=True)
    _check_number("positive_fraction", positive_fraction, 0.0, 1.0, integer=False)
    _check_number("seed", seed, 0, 2**63 - 1, integer=True)
    _check_number("difficulty", difficulty, 0.0, 1.0, integer=False)
    root = Path(root)
    images_dir = root / "dicom-images-train"
    csv_path = root / "train-rle.csv"
    if not overwrite:
        for existing in (images_dir, csv_path):
            if existing.exists():
                raise FileExistsError(
                    f"{existing} already exists; pass overwrite=True to replace the data set"
                )
    elif images_dir.exists():
        shutil.rmtree(images_dir)
    root.mkdir(parents=True, exist_ok=True)

    size, seed = int(size), int(seed)
    lines = ["ImageId, EncodedPixels"]
    for i, n_regions in enumerate(_plan(int(n_images), float(positive_fraction), seed)):
        case = _make_case(
            seed, i, size=size, positive=n_regions > 0,
            n_regions=max(n_regions, 1), difficulty=float(difficulty),
        )
        m = case.meta
        folder = images_dir / m["study_uid"] / m["series_uid"]
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(folder / f"{m['uid']}.dcm", "wb") as handle:
            handle.write(_dicom_bytes(case, seed, i))
        if case.regions:
            lines.extend(f"{m['uid']}, {encode(region)}" for region in case.regions)
        else:
            lines.append(f"{m['uid']}, -1")
    with atomic_write(csv_path, "w", newline="") as handle:
        handle.write("\n".join(lines) + "\n")
    return root
