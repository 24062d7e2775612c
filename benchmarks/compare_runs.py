"""Mask algebra on runs: rows of ``benchmarks/compare.py`` (issues 12 and 13).

Every operation of :class:`rlemask.Runs` is timed three ways in this one
process, on the same pneumothorax-like 1024 x 1024 masks
(:mod:`benchmarks.masks`):

* rlemask on the runs (no decode);
* the dense path as a user writes it with rlemask's own fast codecs:
  ``Runs.to_mask()``, the numpy (or scikit-image) operation, ``Runs.from_mask``;
* rlemasklib (the C RLE library), where it has the same operation, on
  ``RLEMask`` objects built once from the same mask.

Each result is checked equal to the dense one before it is timed.  Ratios are
baseline time / rlemask time: above 1, rlemask is faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import rlemask
from benchmarks.compare import best_time
from benchmarks.masks import make_mask
from rlemask import Runs, _runs_kernels

DENSE = "dense: to_mask + numpy + from_mask"


def _dense_components(r: Runs) -> list[Runs]:
    from skimage.measure import label

    labels = label(r.to_mask(), connectivity=2)
    return [Runs.from_mask(labels == i) for i in range(1, labels.max() + 1)]


def _rows_for(name: str) -> list[dict[str, Any]]:
    from rlemasklib import RLEMask

    m = make_mask(name)
    other = np.roll(m, (9, 13), (0, 1))
    r, s = Runs.from_mask(m), Runs.from_mask(other)
    lr, ls = RLEMask.from_array(m), RLEMask.from_array(other)
    tag = f"[{name}, {len(r)} runs]"
    small = rlemask.resize_mask(m, 256)

    # (operation, ours, dense, rlemasklib or None, dense result, target)
    cases = [
        (
            "flip(1) left-right (TTA)",
            lambda: r.flip(1),
            lambda: Runs.from_mask(r.to_mask()[:, ::-1]),
            lambda: lr.flip(1),
            m[:, ::-1],
            1,
        ),
        (
            "flip(0) up-down",
            lambda: r.flip(0),
            lambda: Runs.from_mask(r.to_mask()[::-1]),
            lambda: lr.flip(0),
            m[::-1],
            1,
        ),
        (
            "transpose()",
            lambda: r.transpose(),
            lambda: Runs.from_mask(r.to_mask().T),
            lambda: lr.transpose(),
            m.T,
            1,
        ),
        (
            "as_order('C')",
            lambda: r.as_order("C"),
            lambda: Runs.from_mask(r.to_mask(), order="C"),
            None,
            None,
            1,
        ),
        (
            "crop(100, 150, 512, 600)",
            lambda: r.crop(100, 150, 512, 600),
            lambda: Runs.from_mask(r.to_mask()[100:612, 150:750]),
            lambda: lr.crop(np.array([150, 100, 600, 512])),
            m[100:612, 150:750],
            1,
        ),
        (
            "pad(16) (all sides)",
            lambda: r.pad(16),
            lambda: Runs.from_mask(np.pad(r.to_mask(), 16)),
            lambda: lr.pad(16, 16, 16, 16),
            np.pad(m, 16),
            1,
        ),
        (
            "resize(256) nearest",
            lambda: r.resize(256),
            lambda: Runs.from_mask(rlemask.resize_mask(r.to_mask(), 256)),
            lambda: lr.resize((256, 256)),
            small,
            1,
        ),
        (
            "resize(256) any",
            lambda: r.resize(256, method="any"),
            lambda: Runs.from_mask(rlemask.resize_mask(r.to_mask(), 256, method="any")),
            None,
            rlemask.resize_mask(m, 256, method="any"),
            1,
        ),
        (
            "resize(1024) nearest, from 256 (predict)",
            lambda: Runs.from_mask(small).resize(1024),
            lambda: Runs.from_mask(rlemask.resize_mask(Runs.from_mask(small).to_mask(), 1024)),
            None,
            rlemask.resize_mask(small, 1024),
            1,
        ),
        (
            "~r complement",
            lambda: ~r,
            lambda: Runs.from_mask(1 - r.to_mask()),
            lambda: ~lr,
            1 - m,
            1,
        ),
        (
            "r - s difference",
            lambda: r - s,
            lambda: Runs.from_mask(r.to_mask() & ~s.to_mask().view(bool)),
            lambda: lr - ls,
            m & (1 - other),
            1,
        ),
        (
            "r ^ s symmetric difference",
            lambda: r ^ s,
            lambda: Runs.from_mask(r.to_mask() ^ s.to_mask()),
            lambda: lr ^ ls,
            m ^ other,
            1,
        ),
    ]
    out = []
    for op, ours, dense, theirs, want, target in cases:
        got = ours()
        same = True
        if want is not None:
            assert got == Runs.from_mask(want), op
            if theirs is not None:
                same = np.array_equal(theirs().to_array(), want)
        assert dense() == got, op
        t_ours = best_time(ours)
        out.append(
            {
                "operation": f"Runs.{op} {tag}",
                "rlemask_s": t_ours,
                "baseline": DENSE,
                "baseline_s": best_time(dense),
                "target": target,
            }
        )
        if theirs is not None:
            out.append(
                {
                    "operation": f"Runs.{op} {tag}",
                    "rlemask_s": t_ours,
                    "baseline": "rlemasklib RLEMask" + ("" if same else " (other result)"),
                    "baseline_s": best_time(theirs),
                }
            )

    # regions: skimage.measure.label is the dense reference
    comps = r.components()
    assert comps == _dense_components(r)
    t_comp = best_time(lambda: r.components())
    out += [
        {
            "operation": f"Runs.components() (8-conn) {tag}",
            "rlemask_s": t_comp,
            "baseline": "dense: to_mask + skimage label + from_mask per region",
            "baseline_s": best_time(lambda: _dense_components(r), repeat=3),
            "target": 1,
        },
        {
            "operation": f"Runs.components() (8-conn) {tag}",
            "rlemask_s": t_comp,
            "baseline": "rlemasklib connected_components(8)",
            "baseline_s": best_time(lambda: lr.connected_components(connectivity=8)),
        },
    ]
    assert rlemask.bboxes(r) == rlemask.bboxes(r.to_mask())
    out.append(
        {
            "operation": f"bboxes(Runs) {tag}",
            "rlemask_s": best_time(lambda: rlemask.bboxes(r)),
            "baseline": "to_mask + skimage label + regionprops",
            "baseline_s": best_time(lambda: _skimage_boxes(r.to_mask()), repeat=3),
            "target": 1,
        }
    )

    # pairwise scores of the regions against shifted copies of themselves
    shifted = s.components()
    lc = [RLEMask.from_array(c.to_mask()) for c in comps]
    lsh = [RLEMask.from_array(c.to_mask()) for c in shifted]
    ours_iou = rlemask.iou_matrix(comps, shifted)
    np.testing.assert_allclose(ours_iou, RLEMask.iou_matrix(lc, lsh))
    t_iou = best_time(lambda: rlemask.iou_matrix(comps, shifted))
    out += [
        {
            "operation": f"iou_matrix {len(comps)} x {len(shifted)} regions {tag}",
            "rlemask_s": t_iou,
            "baseline": "dense: to_mask each + numpy pairs",
            "baseline_s": best_time(lambda: _dense_iou(comps, shifted)),
            "target": 1,
        },
        {
            "operation": f"iou_matrix {len(comps)} x {len(shifted)} regions {tag}",
            "rlemask_s": t_iou,
            "baseline": "rlemasklib RLEMask.iou_matrix",
            "baseline_s": best_time(lambda: RLEMask.iou_matrix(lc, lsh)),
        },
    ]

    # issue 13: bbox and area at least as fast as rlemasklib's
    assert r.bbox() == tuple(int(v) for v in lr.bbox()) and r.area == lr.area()
    out += [
        {
            "operation": f"Runs.bbox() {tag}",
            "rlemask_s": best_time(lambda: r.bbox()),
            "baseline": "rlemasklib RLEMask.bbox()",
            "baseline_s": best_time(lambda: lr.bbox()),
            "target": 1,
        },
        {
            "operation": f"Runs.area, first use (one pass) {tag}",
            "rlemask_s": best_time(lambda: _runs_kernels._area(r.lengths)),
            "baseline": "rlemasklib RLEMask.area()",
            "baseline_s": best_time(lambda: lr.area()),
        },
        {
            "operation": f"Runs.area, remembered {tag}",
            "rlemask_s": best_time(lambda: r.area),
            "baseline": "rlemasklib RLEMask.area()",
            "baseline_s": best_time(lambda: lr.area()),
            "target": 1,
        },
    ]
    return out


def _skimage_boxes(mask: np.ndarray) -> list:
    from skimage.measure import label, regionprops

    return [region.bbox for region in regionprops(label(mask, connectivity=2))]


def _dense_iou(a: list[Runs], b: list[Runs]) -> np.ndarray:
    da = [x.to_mask().astype(bool) for x in a]
    db = [x.to_mask().astype(bool) for x in b]
    out = np.empty((len(da), len(db)))
    for i, x in enumerate(da):
        for j, y in enumerate(db):
            union = np.count_nonzero(x | y)
            out[i, j] = np.count_nonzero(x & y) / union if union else 1.0
    return out


def rows() -> list[dict[str, Any]]:
    out = []
    for name in ("three", "crescent"):
        out += _rows_for(name)
    return out


if __name__ == "__main__":  # python -m benchmarks.compare_runs
    from benchmarks.compare import table

    print(table(rows()))
