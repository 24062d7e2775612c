"""Mask algebra on runs (issue 12): every operation against the dense numpy result.

Each test draws a mask, runs the operation on its :class:`rlemask.Runs` (both
scan orders) and compares with ``Runs.from_mask`` of the obvious numpy
computation -- canonical runs are equal exactly when the masks are.  Regions
are compared with ``skimage.measure.label``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rlemask
from rlemask import RLEError, Runs

pytestmark = pytest.mark.kernels

ORDERS = st.sampled_from(["F", "C"])


@st.composite
def masks(draw, max_side: int = 12):
    """A 0/1 uint8 mask: random pixels, or rectangles (long runs crossing line ends)."""
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["noise", "blocks", "full", "empty"]))
    if kind == "noise":
        return (rng.random((h, w)) < draw(st.floats(0, 1))).astype(np.uint8)
    m = np.zeros((h, w), np.uint8)
    if kind == "full":
        m[:] = 1
    elif kind == "blocks":
        for _ in range(draw(st.integers(1, 4))):
            y0, y1 = sorted(rng.integers(0, h + 1, 2))
            x0, x1 = sorted(rng.integers(0, w + 1, 2))
            m[y0:y1, x0:x1] ^= 1
    return m


def same(runs: Runs, dense: np.ndarray) -> None:
    assert runs == Runs.from_mask(dense, order=runs.order)
    assert runs.starts.dtype == np.int64 and runs.lengths.dtype == np.int64
    assert not runs.starts.flags.writeable


@given(masks(), ORDERS)
def test_flip_and_transpose(m, order):
    r = Runs.from_mask(m, order)
    same(r.flip(0), m[::-1])
    same(r.flip(1), m[:, ::-1])
    same(r.flip(-1), m[:, ::-1])
    same(r.transpose(), m.T)
    assert r.T.shape == (m.shape[1], m.shape[0])
    assert r.flip(0).flip(0) == r and r.transpose().transpose() == r


@given(masks(), ORDERS)
def test_as_order_on_runs(m, order):
    other = "C" if order == "F" else "F"
    r = Runs.from_mask(m, order)
    same(r.as_order(other), m)
    assert r.as_order(other).order == other


@given(masks(), masks(), ORDERS)
def test_set_operations(a, b, order):
    b = np.resize(b, a.shape)  # same shape, different content
    ra, rb = Runs.from_mask(a, order), Runs.from_mask(b, order)
    same(~ra, 1 - a)
    same(ra - rb, a & (1 - b))
    same(ra ^ rb, a ^ b)
    same(ra | rb, a | b)
    same(ra & rb, a & b)
    assert ~~ra == ra


@given(masks(), masks(), ORDERS)
def test_every_truth_table_of_the_sweep(a, b, order):
    """``_boolean`` with the table of any operation that keeps 0 op 0 = 0 is that operation."""
    from rlemask import _runs_kernels as rk

    b = np.resize(b, a.shape)
    ra, rb = Runs.from_mask(a, order), Runs.from_mask(b, order)
    for bits in range(0, 16, 2):  # bit 0 (0 op 0) must be 0
        op = lambda x, y, bits=bits: (bits >> (2 * x + y)) & 1  # noqa: E731
        assert rk.truth_table(op) == bits
        s, ln = rk._boolean(ra.starts, ra.lengths, rb.starts, rb.lengths, bits)
        want = np.vectorize(op)(a.astype(int), b.astype(int)).astype(np.uint8)
        assert Runs.from_canonical(s, ln, a.shape, order) == Runs.from_mask(want, order)
    assert (rk.XOR, rk.DIFFERENCE) == (0b0110, 0b0100)
    with pytest.raises(ValueError, match="outside both masks"):
        rk.truth_table(lambda x, y: not (x or y))


@given(masks(), ORDERS, st.data())
def test_crop(m, order, data):
    h, w = m.shape
    y = data.draw(st.integers(0, h - 1))
    x = data.draw(st.integers(0, w - 1))
    ch = data.draw(st.integers(1, h - y))
    cw = data.draw(st.integers(1, w - x))
    same(Runs.from_mask(m, order).crop(y, x, ch, cw), m[y : y + ch, x : x + cw])


@given(
    masks(8), ORDERS, st.lists(st.integers(0, 4), min_size=4, max_size=4), st.sampled_from([0, 1])
)
def test_pad(m, order, widths, value):
    top, bottom, left, right = widths
    want = np.pad(m, ((top, bottom), (left, right)), constant_values=value)
    same(Runs.from_mask(m, order).pad(top, bottom, left, right, value=value), want)
    same(Runs.from_mask(m, order).pad(top), np.pad(m, top))


@given(masks(), ORDERS, st.integers(1, 30), st.integers(1, 30), st.sampled_from(["nearest", "any"]))
def test_resize_equals_resize_mask(m, order, oh, ow, method):
    got = Runs.from_mask(m, order).resize((oh, ow), method=method)
    assert got.shape == (oh, ow)
    same(got, rlemask.resize_mask(m, (oh, ow), method=method))


def test_resize_real_size():
    """1024 -> 256 and back on a pneumothorax-like mask, both methods."""
    yy, xx = np.mgrid[0:1024, 0:1024]
    m = ((yy - 500) ** 2 / 300**2 + (xx - 300) ** 2 / 120**2 < 1).astype(np.uint8)
    m[100:103, 900:1000] = 1
    r = Runs.from_mask(m)
    for method in ("nearest", "any"):
        small = r.resize(256, method=method)
        same(small, rlemask.resize_mask(m, 256, method=method))
        same(small.resize(1024, method=method), rlemask.resize_mask(small.to_mask(), 1024))


@given(masks(14), ORDERS, st.sampled_from([4, 8]))
def test_components_equal_skimage_label(m, order, connectivity):
    from skimage.measure import label

    labels = label(m, connectivity=connectivity // 4)
    comps = Runs.from_mask(m, order).components(connectivity)
    assert len(comps) == labels.max()
    for i, c in enumerate(comps):
        same(c, labels == i + 1)
    # the regions partition the mask
    assert sum(c.area for c in comps) == int(m.sum())


@given(masks(14), ORDERS)
def test_bboxes_and_remove_small_regions_on_runs(m, order):
    r = Runs.from_mask(m, order)
    assert rlemask.bboxes(r) == rlemask.bboxes(m)
    for min_area in (0, 2, 5):
        got = rlemask.remove_small_regions(r, min_area)
        assert isinstance(got, Runs)
        same(got, rlemask.remove_small_regions(m, min_area))


def test_operations_never_decode(monkeypatch):
    """Geometry, set operations and regions work on the runs alone."""
    from rlemask import _kernels

    m = np.zeros((6, 5), np.uint8)
    m[1:3, 0] = m[0:2, 3] = m[4, 1] = m[5, 4] = 1
    r = Runs.from_mask(m)
    other = Runs.from_mask(m[::-1].copy())
    want_boxes = rlemask.bboxes(m)
    assert len(want_boxes) == 4

    def boom(*args):
        raise AssertionError("decoded")

    monkeypatch.setattr(_kernels, "_fill_colmajor_rows", boom)
    monkeypatch.setattr(_kernels, "_fill_all_linear", boom)
    monkeypatch.setattr(Runs, "to_mask", boom)
    results = [
        r.flip(0),
        r.flip(1),
        r.transpose(),
        r.as_order("C"),
        r.crop(1, 1, 3, 3),
        r.pad(1, 2, 3, 4, value=1),
        r.resize((3, 10), method="any"),
        ~r,
        r - other,
        r ^ other,
        *r.components(4),
    ]
    assert all(isinstance(x, Runs) for x in results)
    assert rlemask.bboxes(r) == want_boxes
    assert rlemask.remove_small_regions(r, 2).area == 4


def test_components_order_documented():
    """Regions come in skimage's label order: first pixel in a row-major scan."""
    m = np.array(
        [
            [0, 0, 1],
            [1, 0, 1],
            [1, 0, 0],
        ],
        np.uint8,
    )
    # column-major, the left region's first run comes first; row-major scan order wins
    comps = Runs.from_mask(m).components(4)
    assert [c.bbox() for c in comps] == [(2, 0, 1, 2), (0, 1, 1, 2)]
    assert Runs([], [], (3, 3)).components() == []


def test_empty_and_full_masks():
    for order in "FC":
        empty = Runs([], [], (4, 3), order)
        full = ~empty
        assert full.area == 12 and len(full) == 1
        assert empty.flip(0) == empty and empty.transpose().shape == (3, 4)
        assert empty.resize(8).shape == (8, 8) and empty.resize(8).area == 0
        assert full.resize((2, 9), method="any").area == 18
        assert full.crop(1, 1, 2, 2).area == 4
        assert empty.pad(1, value=1).area == 6 * 5 - 12


def test_errors_name_the_argument():
    r = Runs([1], [2], (4, 4))
    with pytest.raises(ValueError, match=r"`axis` must be 0 \(up-down\) or 1.*axis=2"):
        r.flip(2)
    with pytest.raises(ValueError, match=r"window must lie inside the mask of shape \(4, 4\)"):
        r.crop(2, 0, 3, 1)
    with pytest.raises(ValueError, match="`y` must be an int >= 0"):
        r.crop(-1, 0, 1, 1)
    with pytest.raises(ValueError, match="must be a positive int"):
        r.crop(0, 0, 0, 1)
    with pytest.raises(ValueError, match="`left` must be an int >= 0"):
        r.pad(1, 1, -1, 1)
    with pytest.raises(ValueError, match="give one pad width"):
        r.pad(1, 2)
    with pytest.raises(ValueError, match="`value` must be 0 or 1"):
        r.pad(1, value=2)
    with pytest.raises(ValueError, match="`method` must be one of 'nearest', 'any'"):
        r.resize(2, method="area")
    with pytest.raises(ValueError, match="`shape` must be a positive int"):
        r.resize((0, 2))
    with pytest.raises(ValueError, match="`connectivity` must be 4 or 8"):
        r.components(2)
    with pytest.raises(ValueError, match=r"`\^` needs runs of the same shape and order"):
        r ^ Runs([1], [2], (4, 4), order="C")
    with pytest.raises(TypeError, match="`-` needs two Runs"):
        r - np.zeros((4, 4))


def test_from_canonical():
    s, ln = np.array([1, 7]), np.array([2, 1])
    r = Runs.from_canonical(s, ln, (6, 5))
    assert r == Runs([1, 7], [2, 1], (6, 5)) and r.starts is s and not s.flags.writeable
    values = np.array([1, 2, 7, 1], np.int64)
    assert Runs.from_canonical(values[0::2], values[1::2], (6, 5)) == r  # strided views
    with pytest.raises(rlemask.RLEError, match=r"run 1 \(start=3, length=1\) touches"):
        Runs.from_canonical(np.array([1, 3]), np.array([2, 1]), (6, 5))
    with pytest.raises(rlemask.RLEError, match="overlaps"):
        Runs.from_canonical(np.array([1, 2]), np.array([2, 1]), (6, 5))
    with pytest.raises(rlemask.RLEError, match="runs past the last pixel"):
        Runs.from_canonical(np.array([29]), np.array([2]), (6, 5))
    with pytest.raises(TypeError, match="`starts` must be a 1-D int64 numpy array"):
        Runs.from_canonical([1], np.array([2]), (6, 5))
    with pytest.raises(TypeError, match="`lengths` must be a 1-D int64"):
        Runs.from_canonical(np.array([1]), np.array([2], np.int32), (6, 5))
    # check=False trusts the caller: no O(runs) pass
    assert Runs.from_canonical(s, ln, (6, 5), check=False) == r


def test_text_methods_use_the_format_registry():
    """``Runs.from_text`` / ``to_text`` agree with the codec of the format, empties included."""
    codec = rlemask.get_format("kaggle")
    r = Runs.from_text("2 2 11 1 19 2 30 1", (6, 5), format="kaggle")
    assert r == codec.parse("2 2 11 1 19 2 30 1", (6, 5))
    assert r.to_text(format="kaggle") == codec.format(r) == "2 2 11 1 19 2 30 1"
    for empty in (None, float("nan"), "", " -1", "-", b" - "):
        assert Runs.from_text(empty, (6, 5), format="kaggle").area == 0
    with pytest.raises(RLEError, match="token 0"):
        Runs.from_text("-", (6, 5))  # `-` is kaggle's marker, not siim's
    with pytest.raises(TypeError, match="order"):
        Runs.from_text(None, (6, 5), order="C")  # options are checked for empties too
    from rlemask.codec import runs_from_text, runs_to_text  # the function forms

    assert runs_from_text("-", (6, 5), format="kaggle") == Runs([], [], (6, 5))
    assert runs_to_text(r, format="kaggle") == "2 2 11 1 19 2 30 1"


def test_plot_takes_runs(synthetic_siim_small):
    """plot_with_mask_and_bbox draws the same boxes from Runs as from the RLE rows."""
    from matplotlib.patches import Rectangle

    files, labels = rlemask.load_siim(synthetic_siim_small)
    path = next(p for p in files if len(labels[p.stem]) > 1)
    rows = labels[path.stem]
    runs = [Runs.from_text(r, (256, 256)).as_order("C") for r in rows]

    def boxes(fig):
        return [
            p.get_xy() + (p.get_width(), p.get_height())
            for p in fig.axes[1].patches
            if isinstance(p, Rectangle)
        ]

    from_text = rlemask.plot_with_mask_and_bbox(path, rows, figsize=(4, 2))
    from_runs = rlemask.plot_with_mask_and_bbox(path, runs, figsize=(4, 2))
    assert boxes(from_runs) == boxes(from_text) and len(boxes(from_text)) >= 1
    assert from_runs.axes[1].get_title() == from_text.axes[1].get_title()
