"""Slow, obvious reference implementations of the formats, for comparison with the kernels.

Pure Python over a flattened mask; no cleverness, so that they are easy to check by eye.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

# the worked example of FORMATS.md: a 6 x 5 mask (H=6, W=5) that ends on the last pixel;
# siim "1 2 7 1 7 2 9 1", kaggle "2 2 11 1 19 2 30 1", box (0, 0, 5, 6)
FORMATS_EXAMPLE = np.array(
    [
        [0, 0, 0, 1, 0],
        [1, 0, 0, 1, 0],
        [1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 0, 0, 1],
    ],
    np.uint8,
)
FORMATS_EXAMPLE.flags.writeable = False  # shared by the test modules: none may change it


def runs_of(flat: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of non-zero values of a 1-D sequence."""
    out = []
    start = None
    for i, v in enumerate(flat.tolist()):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - start))
            start = None
    if start is not None:
        out.append((start, len(flat) - start))
    return out


def flat(mask: np.ndarray, order: str = "F") -> np.ndarray:
    return np.asarray(mask).flatten(order=order) != 0


def siim_encode(mask: np.ndarray) -> str:
    runs = runs_of(flat(mask, "F"))
    if not runs:
        return "-1"
    tokens = []
    end = 0
    for s, n in runs:
        tokens += [s - end, n]
        end = s + n
    return " ".join(map(str, tokens))


def siim_decode(text: str, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    pixels = np.zeros(h * w, np.uint8)
    values = [int(t) for t in text.split()]
    if values == [-1] or not values:
        return pixels.reshape((h, w), order="F")
    pos = 0
    for off, n in zip(values[0::2], values[1::2], strict=True):
        pos += off
        pixels[pos : pos + n] = 1
        pos += n
    return np.ascontiguousarray(pixels.reshape((h, w), order="F"))


def kaggle_encode(mask: np.ndarray, order: str = "F") -> str:
    return " ".join(f"{s + 1} {n}" for s, n in runs_of(flat(mask, order)))


def kaggle_decode(text: str, shape: tuple[int, int], order: str = "F") -> np.ndarray:
    h, w = shape
    pixels = np.zeros(h * w, np.uint8)
    values = [int(t) for t in text.split()]
    for s, n in zip(values[0::2], values[1::2], strict=True):
        pixels[s - 1 : s - 1 + n] = 1
    return np.ascontiguousarray(pixels.reshape((h, w), order=order))


def coco_counts(mask: np.ndarray) -> list[int]:
    """pycocotools' uncompressed counts: zeros, ones, zeros, ... ending with the last run."""
    counts = []
    prev = False
    c = 0
    for v in flat(mask, "F").tolist():
        if v != prev:
            counts.append(c)
            c = 0
            prev = v
        c += 1
    counts.append(c)
    return counts


def coco_compress(counts: list[int]) -> bytes:
    """pycocotools' rleToString, transcribed line by line."""
    out = bytearray()
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(c + 48)
    return bytes(out)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(np.asarray(mask))
    if ys.size == 0:
        return None
    x0, y0 = int(xs.min()), int(ys.min())
    return (x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1)


# ---------------------------------------------------------------------------
# hypothesis strategies shared by the codec tests (small shapes: these tests
# also run with NUMBA_DISABLE_JIT=1, where kernels are plain Python)

DTYPES = (
    np.bool_,
    np.uint8,
    np.int8,
    np.uint16,
    np.int16,
    np.uint32,
    np.int32,
    np.uint64,
    np.int64,
)
LAYOUTS = ("C", "F", "strided", "reversed")


def _layout(arr: np.ndarray, layout: str) -> np.ndarray:
    if layout == "F":
        return np.asfortranarray(arr)
    if layout == "strided":  # a non-contiguous view with positive steps
        big = np.zeros((2 * arr.shape[0], 3 * arr.shape[1]), arr.dtype)
        big[::2, ::3] = arr
        return big[::2, ::3]
    if layout == "reversed":  # negative strides
        return np.ascontiguousarray(arr[::-1, ::-1])[::-1, ::-1]
    return np.ascontiguousarray(arr)


@st.composite
def masks(draw, max_side: int = 12, min_side: int = 1):
    """``(array as given to encode, expected uint8 0/1 C-contiguous mask)``."""
    h = draw(st.integers(min_side, max_side))
    # widths that are multiples of 8 take the word kernel for uint8/bool masks
    w = draw(st.integers(min_side, max_side) | st.sampled_from([8, 16, 24]))
    density = draw(st.sampled_from([0.0, 0.02, 0.5, 0.95, 1.0]) | st.floats(0, 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m = rng.random((h, w)) < density
    if draw(st.booleans()):
        m[0, 0] = True
    if draw(st.booleans()):
        m[-1, -1] = True
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    if dtype.itemsize > 1:  # any byte order: big-endian pixel data is common in DICOM
        dtype = dtype.newbyteorder(draw(st.sampled_from("<>=")))
    if dtype == np.bool_:
        arr = m
    else:
        values = [1, 3, int(np.iinfo(dtype).max)] + ([-1] if dtype.kind == "i" else [])
        fg = draw(st.sampled_from(values))
        arr = np.where(m, fg, 0).astype(dtype)
    arr = _layout(arr, draw(st.sampled_from(LAYOUTS)))
    return arr, m.astype(np.uint8)
