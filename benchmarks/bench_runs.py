"""asv suites for the mask algebra on runs (issue 12) and bbox/area (issue 13).

Each operation of :class:`rlemask.Runs` beside its dense path (decode, the
numpy or scikit-image operation, encode) and, where it has the same
operation, rlemasklib's ``RLEMask``.  Masks: the pneumothorax-like
1024 x 1024 masks of :mod:`benchmarks.masks`.  ``setup`` runs every
operation once so that numba's compile time (first call in a fresh
environment) is never measured.
"""

from __future__ import annotations

import numpy as np

from benchmarks.masks import MASKS, make_mask

OPERATIONS = (
    "flip(1)",
    "flip(0)",
    "transpose",
    "as_order(C)",
    "crop",
    "pad",
    "resize(256) nearest",
    "resize(256) any",
    "invert",
    "difference",
    "xor",
    "components",
)


def _operations(r, s):
    """name -> callable on Runs ``r`` (and ``s`` for the binary operations)."""
    return {
        "flip(1)": lambda: r.flip(1),
        "flip(0)": lambda: r.flip(0),
        "transpose": lambda: r.transpose(),
        "as_order(C)": lambda: r.as_order("C"),
        "crop": lambda: r.crop(100, 150, 512, 600),
        "pad": lambda: r.pad(16),
        "resize(256) nearest": lambda: r.resize(256),
        "resize(256) any": lambda: r.resize(256, method="any"),
        "invert": lambda: ~r,
        "difference": lambda: r - s,
        "xor": lambda: r ^ s,
        "components": lambda: r.components(),
    }


def _dense_operations(r, s):
    """The same results through a dense array (rlemask's own codecs on each side)."""
    import rlemask
    from rlemask import Runs

    def components():
        from skimage.measure import label

        labels = label(r.to_mask(), connectivity=2)
        return [Runs.from_mask(labels == i) for i in range(1, labels.max() + 1)]

    return {
        "flip(1)": lambda: Runs.from_mask(r.to_mask()[:, ::-1]),
        "flip(0)": lambda: Runs.from_mask(r.to_mask()[::-1]),
        "transpose": lambda: Runs.from_mask(r.to_mask().T),
        "as_order(C)": lambda: Runs.from_mask(r.to_mask(), order="C"),
        "crop": lambda: Runs.from_mask(r.to_mask()[100:612, 150:750]),
        "pad": lambda: Runs.from_mask(np.pad(r.to_mask(), 16)),
        "resize(256) nearest": lambda: Runs.from_mask(rlemask.resize_mask(r.to_mask(), 256)),
        "resize(256) any": lambda: Runs.from_mask(
            rlemask.resize_mask(r.to_mask(), 256, method="any")
        ),
        "invert": lambda: Runs.from_mask(1 - r.to_mask()),
        "difference": lambda: Runs.from_mask(r.to_mask() > s.to_mask()),
        "xor": lambda: Runs.from_mask(r.to_mask() ^ s.to_mask()),
        "components": components,
    }


class RunsAlgebraSuite:
    """One operation on the runs vs the same through a dense mask."""

    params = (list(MASKS), list(OPERATIONS))
    param_names = ("mask", "operation")

    def setup(self, mask: str, operation: str) -> None:
        from rlemask import Runs

        m = make_mask(mask)
        r, s = Runs.from_mask(m), Runs.from_mask(np.roll(m, (9, 13), (0, 1)))
        self.ours = _operations(r, s)[operation]
        self.dense = _dense_operations(r, s)[operation]
        assert self.ours() == self.dense()  # also compiles the kernels

    def time_runs(self, mask: str, operation: str) -> None:
        self.ours()

    def time_dense(self, mask: str, operation: str) -> None:
        self.dense()

    def peakmem_runs(self, mask: str, operation: str) -> None:
        self.ours()


class RlemasklibSuite:
    """rlemasklib's ``RLEMask`` doing the operations it shares with ``Runs``."""

    params = (
        list(MASKS),
        ["flip(1)", "transpose", "crop", "pad", "invert", "xor", "components", "bbox", "area"],
    )
    param_names = ("mask", "operation")

    def setup(self, mask: str, operation: str) -> None:
        from rlemasklib import RLEMask

        m = make_mask(mask)
        r = RLEMask.from_array(m)
        s = RLEMask.from_array(np.roll(m, (9, 13), (0, 1)))
        self.op = {
            "flip(1)": lambda: r.flip(1),
            "transpose": lambda: r.transpose(),
            "crop": lambda: r.crop(np.array([150, 100, 600, 512])),
            "pad": lambda: r.pad(16, 16, 16, 16),
            "invert": lambda: ~r,
            "xor": lambda: r ^ s,
            "components": lambda: r.connected_components(connectivity=8),
            "bbox": lambda: r.bbox(),
            "area": lambda: r.area(),
        }[operation]

    def time_rlemasklib(self, mask: str, operation: str) -> None:
        self.op()


class QuerySuite:
    """``Runs.bbox()`` and ``Runs.area`` (issue 13: at least rlemasklib's speed)."""

    params = list(MASKS)
    param_names = ("mask",)

    def setup(self, mask: str) -> None:
        from rlemask import Runs

        self.runs = Runs.from_mask(make_mask(mask))
        self.runs.bbox()

    def time_bbox(self, mask: str) -> None:
        self.runs.bbox()

    def time_area_remembered(self, mask: str) -> None:
        _ = self.runs.area

    def time_area_first_use(self, mask: str) -> None:
        from rlemask import _runs_kernels

        _runs_kernels._area(self.runs.lengths)  # the pass that `area` remembers


class PairwiseSuite:
    """``iou_matrix`` of the regions of one mask against those of a shifted copy."""

    params = list(MASKS)
    param_names = ("mask",)

    def setup(self, mask: str) -> None:
        import rlemask

        m = make_mask(mask)
        r = rlemask.Runs.from_mask(m)
        self.a = r.components()
        self.b = rlemask.Runs.from_mask(np.roll(m, (9, 13), (0, 1))).components()
        self.dense_a = [x.to_mask() for x in self.a]
        self.dense_b = [x.to_mask() for x in self.b]
        rlemask.iou_matrix(self.a, self.b)

    def time_iou_matrix_runs(self, mask: str) -> None:
        import rlemask

        rlemask.iou_matrix(self.a, self.b)

    def time_iou_matrix_arrays(self, mask: str) -> None:
        import rlemask

        rlemask.iou_matrix(self.dense_a, self.dense_b)
