"""bbox / bboxes against flood fill and pycocotools; Runs.bbox() against bbox(decode(...))."""

from __future__ import annotations

import numpy as np
import pytest
import reference_geometry as ref
import reference_rle
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rlemask

pytestmark = pytest.mark.kernels

# the worked example of FORMATS.md (H=6, W=5): siim "1 2 7 1 7 2 9 1", box (0, 0, 5, 6)
EXAMPLE = reference_rle.FORMATS_EXAMPLE


@st.composite
def masks(draw, max_side=12):
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    density = draw(st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.9]))
    bits = draw(arrays(np.float64, (h, w), elements=st.floats(0, 1)))
    return (bits < density).astype(np.uint8)


def test_formats_example():
    assert rlemask.bbox(EXAMPLE) == (0, 0, 5, 6)
    # regions: (1..2, 0) ; (0..1, 3) ; (4, 1) ; (5, 4)
    assert rlemask.bboxes(EXAMPLE) == [(3, 0, 1, 2), (0, 1, 1, 2), (1, 4, 1, 1), (4, 5, 1, 1)]


@given(masks())
def test_bbox_matches_reference(mask):
    expected = ref.bbox(mask)
    assert rlemask.bbox(mask) == expected
    assert rlemask.bbox(np.asfortranarray(mask)) == expected
    assert rlemask.bbox(mask.astype(bool)) == expected
    assert rlemask.bbox(mask * 255) == expected
    padded = np.zeros((mask.shape[0], 2 * mask.shape[1]), np.uint8)
    padded[:, ::2] = mask
    assert rlemask.bbox(padded[:, ::2]) == expected  # strided view


@given(masks())
def test_bboxes_match_flood_fill(mask):
    boxes = rlemask.bboxes(mask)
    assert boxes == ref.bboxes(mask)
    assert all(isinstance(v, int) for box in boxes for v in box)
    # the union of the region boxes is the whole mask's box
    if boxes:
        x0 = min(b[0] for b in boxes)
        y0 = min(b[1] for b in boxes)
        x1 = max(b[0] + b[2] for b in boxes)
        y1 = max(b[1] + b[3] for b in boxes)
        assert (x0, y0, x1 - x0, y1 - y0) == rlemask.bbox(mask)


def test_diagonal_pixels_are_one_region_and_the_order_is_documented():
    mask = np.zeros((6, 6), np.uint8)
    mask[4, 0] = mask[5, 1] = 1  # diagonal: one region
    mask[0, 4:6] = 1
    mask[0, 1] = 1
    assert rlemask.bboxes(mask) == [(1, 0, 1, 1), (4, 0, 2, 1), (0, 4, 2, 2)]


@given(masks(), st.sampled_from(["F", "C"]))
def test_runs_bbox_agrees_with_dense_bbox(mask, order):
    runs = rlemask.Runs.from_mask(mask, order=order)
    assert runs.bbox() == rlemask.bbox(mask)
    text = rlemask.encode(mask)
    assert rlemask.bbox(rlemask.decode(text, mask.shape)) == rlemask.bbox(mask)


@given(masks())
def test_bbox_matches_pycocotools_to_bbox(mask):
    coco = pytest.importorskip("pycocotools.mask")
    box = coco.toBbox(coco.encode(np.asfortranarray(mask)))
    expected = None if not mask.any() else tuple(int(v) for v in box)
    assert rlemask.bbox(mask) == expected


def test_empty_and_full_masks():
    assert rlemask.bbox(np.zeros((5, 7))) is None
    assert rlemask.bboxes(np.zeros((5, 7))) == []
    assert rlemask.bbox(np.ones((5, 7))) == (0, 0, 7, 5)
    assert rlemask.bboxes(np.ones((5, 7), bool)) == [(0, 0, 7, 5)]


def test_full_size_mask():
    mask = np.zeros((1024, 1024), np.uint8)
    mask[100:200, 1000:1024] = 1
    mask[900, 3] = 1
    assert rlemask.bbox(mask) == (3, 100, 1021, 801)
    assert rlemask.bboxes(mask) == [(1000, 100, 24, 100), (3, 900, 1, 1)]


@pytest.mark.parametrize("func", [rlemask.bbox, rlemask.bboxes])
def test_bad_input(func):
    with pytest.raises(ValueError, match=r"`mask` must be a 2-D array.*\(2, 2, 2\)"):
        func(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        func(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="dtype"):
        func(np.array([["a"]]))


@pytest.mark.parametrize("connectivity", [6, 0, True, "8", None])
@pytest.mark.parametrize("mask", [np.zeros((0, 3)), np.eye(3), "runs"])
def test_bad_connectivity_is_rejected_before_any_work(mask, connectivity):
    """Even an empty mask, or runs, says what is wrong with `connectivity`."""
    if isinstance(mask, str):
        mask = rlemask.Runs.from_mask(np.eye(3, dtype=bool))
    with pytest.raises(ValueError, match=r"`connectivity` must be 4 or 8; received connectivity="):
        rlemask.bboxes(mask, connectivity=connectivity)


@pytest.mark.parametrize("dtype", ["<f2", ">f8", ">i4", "?"])
def test_kernel_dtypes(dtype):
    """float16, other byte orders and bool reach the kernels converted, with the same boxes."""
    mask = np.zeros((4, 5), np.uint8)
    mask[1:3, 2] = 1
    mask[3, 4] = 1
    converted = mask.astype(dtype)
    assert rlemask.bbox(converted) == rlemask.bbox(mask) == (2, 1, 3, 3)
    assert rlemask.bboxes(converted) == rlemask.bboxes(mask)
