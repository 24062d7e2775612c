"""asv suites for the codecs: decode, encode, run algebra, merge, import and first call.

Masks: the pneumothorax-like 1024 x 1024 masks of :mod:`benchmarks.masks`.
Every ``setup`` calls :func:`rlemask.warmup` so that compile time (first run
in a fresh environment) is never measured as codec time; the cost of a fresh
process with a warm cache has its own suite.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import rlemask
from benchmarks.masks import MASKS, make_mask

SHAPE = (1024, 1024)
FORMATS = ("siim", "kaggle", "coco")


class DecodeSuite:
    """Text -> C-contiguous uint8 mask."""

    params = (list(MASKS), list(FORMATS))
    param_names = ("mask", "format")

    def setup(self, mask: str, fmt: str) -> None:
        rlemask.warmup()
        self.rle = rlemask.encode(make_mask(mask), format=fmt)

    def time_decode(self, mask: str, fmt: str) -> None:
        rlemask.decode(self.rle, SHAPE, format=fmt)

    def peakmem_decode(self, mask: str, fmt: str) -> None:
        rlemask.decode(self.rle, SHAPE, format=fmt)

    def time_parse_runs(self, mask: str, fmt: str) -> None:
        rlemask.Runs.from_text(self.rle, SHAPE, format=fmt)


class EncodeSuite:
    """Mask -> text, for the memory layouts callers hand in."""

    params = (list(MASKS), ["C uint8", "C bool", "F uint8", "strided uint8", "C int64"])
    param_names = ("mask", "layout")

    def setup(self, mask: str, layout: str) -> None:
        rlemask.warmup()
        m = make_mask(mask)
        if layout == "C bool":
            m = m.astype(bool)
        elif layout == "F uint8":
            m = np.asfortranarray(m)
        elif layout == "strided uint8":
            big = np.zeros((SHAPE[0], 2 * SHAPE[1]), np.uint8)
            big[:, ::2] = m
            m = big[:, ::2]
        elif layout == "C int64":
            m = m.astype(np.int64)
        self.mask = m

    def time_encode_siim(self, mask: str, layout: str) -> None:
        rlemask.encode(self.mask)

    def peakmem_encode_siim(self, mask: str, layout: str) -> None:
        rlemask.encode(self.mask)

    def time_encode_coco(self, mask: str, layout: str) -> None:
        rlemask.encode(self.mask, format="coco")


class BaselineSuite:
    """The same decode and encode by rlemasklib, beside rlemask's (tracked over commits).

    rlemasklib decodes from counts parsed beforehand (the SIIM offsets are its
    zero runs, see :func:`benchmarks.compare_codecs.siim_counts`) and encodes
    to runs without printing text; the ratios are in ``compare_codecs``.
    """

    params = [list(MASKS)]
    param_names = ["mask"]

    def setup(self, mask: str) -> None:
        try:
            from rlemasklib import RLEMask
        except ImportError:  # asv skips a suite whose setup raises NotImplementedError
            raise NotImplementedError("rlemasklib is not installed") from None
        from benchmarks.compare_codecs import siim_counts

        rlemask.warmup()
        self.RLEMask = RLEMask
        self.mask = make_mask(mask)
        self.text = rlemask.encode(self.mask)
        self.counts = siim_counts(self.text, self.mask.size)

    def time_decode_rlemask(self, mask: str) -> None:
        rlemask.decode(self.text, SHAPE)

    def time_decode_rlemasklib(self, mask: str) -> None:
        self.RLEMask.from_counts(self.counts, SHAPE).to_array(order="C")

    def time_encode_rlemask(self, mask: str) -> None:
        rlemask.encode(self.mask)

    def time_encode_rlemasklib(self, mask: str) -> None:
        self.RLEMask.from_array(self.mask)


class RunsSuite:
    """Run algebra without decoding."""

    params = [list(MASKS)]
    param_names = ["mask"]

    def setup(self, mask: str) -> None:
        rlemask.warmup()
        m = make_mask(mask)
        self.a = rlemask.Runs.from_mask(m)
        self.b = rlemask.Runs.from_mask(np.roll(m, 7, axis=1))

    def time_union(self, mask: str) -> None:
        self.a | self.b

    def time_intersection(self, mask: str) -> None:
        self.a & self.b

    def time_bbox(self, mask: str) -> None:
        self.a.bbox()

    def time_to_mask(self, mask: str) -> None:
        self.a.to_mask()


class MergeSuite:
    """Several CSV rows of one image into one mask (the labels' common case)."""

    params = [["union", "label", "stack"]]
    param_names = ["mode"]

    def setup(self, mode: str) -> None:
        rlemask.warmup()
        self.rles = [rlemask.encode(make_mask(name)) for name in MASKS]

    def time_merge(self, mode: str) -> None:
        rlemask.merge(self.rles, SHAPE, mode=mode)


class ImportSuite:
    """Start-up costs in a fresh interpreter (numba's cache warm)."""

    def setup(self) -> None:
        rlemask.warmup()  # fills the on-disk cache the fresh processes load

    def timeraw_import(self) -> str:
        return "import rlemask"

    def timeraw_first_call(self) -> tuple[str, str]:
        # (timed code, set-up code)
        return (
            "m = rlemask.decode('1 2 7 1 7 2 9 1', (6, 5)); rlemask.encode(m)",
            "import rlemask",
        )

    def time_import(self) -> None:
        subprocess.run([sys.executable, "-c", "import rlemask"], check=True)

    def time_first_call_warm_cache(self) -> None:
        subprocess.run(
            [sys.executable, "-c", "import rlemask; rlemask.encode(rlemask.decode('1 2', (4, 4)))"],
            check=True,
        )
