"""tiles() and TileWriter: the streamed RLE equals a dense map's, in every order and blend."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

import rlemask
from rlemask.synthetic_kinds import make_kind
from rlemask.tiles import axis_starts


def reference_windows(shape, tile, overlap, order):
    """Slow, obvious grid: starts every tile - overlap, the last one moved back to the edge."""
    per_axis = []
    for n, t in zip(shape, (tile, tile), strict=True):
        if n <= t:
            per_axis.append([(0, n)])
            continue
        starts, s = [], 0
        while s + t < n:
            starts.append(s)
            s += t - overlap
        starts.append(n - t)
        per_axis.append([(s, t) for s in sorted(set(starts))])
    ys, xs = per_axis
    if order == "F":
        return [(y, x, h, w) for x, w in xs for y, h in ys]
    return [(y, x, h, w) for y, h in ys for x, w in xs]


def weights_1d(n, blend):
    i = np.arange(n, dtype=np.float64)
    if blend == "gaussian":
        w = np.exp(-0.5 * ((i - (n - 1) / 2) / (n / 8)) ** 2)
    elif blend == "cosine":
        w = np.sin(np.pi * (i + 0.5) / n) ** 2
    else:
        w = np.ones(n)
    return w.astype(np.float32)


def dense_rle(shape, items, blend, threshold, fmt, **options):
    """The dense path: a full float32 map of sums and weights, divided, thresholded, encoded."""
    total = np.zeros(shape, np.float32)
    weight = np.zeros(shape, np.float32)
    for (y, x, h, w), prob in items:
        if prob is None:
            continue
        if blend == "mean":
            total[y : y + h, x : x + w] += prob
            weight[y : y + h, x : x + w] += np.float32(1)
        else:
            wgt = weights_1d(h, blend)[:, None] * weights_1d(w, blend)
            total[y : y + h, x : x + w] += prob * wgt
            weight[y : y + h, x : x + w] += wgt
    value = np.zeros(shape, np.float32)
    np.divide(total, weight, out=value, where=weight > 0)
    return rlemask.encode(value > np.float32(threshold), format=fmt, **options)


def blobby(rng, shape):
    """A probability map with regions (so masks have long runs that cross bands)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    field = np.zeros(shape)
    for _ in range(3):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(1, max(h, w, 2) / 2)
        field += np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))
    noisy = np.clip(field / max(field.max(), 1e-9) + rng.normal(0, 0.15, shape), 0, 1)
    return noisy.astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 40), w=st.integers(1, 40), tile=st.integers(2, 12),
    overlap_frac=st.floats(0, 0.9), blend=st.sampled_from(["mean", "gaussian", "cosine"]),
    fmt=st.sampled_from([("kaggle", {}), ("kaggle", {"order": "C"}), ("siim", {}),
                         ("coco", {})]),
    threshold=st.sampled_from([0.0, 0.3, 0.5]), seed=st.integers(0, 2**16),
)
def test_writer_equals_dense_path_in_scan_order(h, w, tile, overlap_frac, blend, fmt, threshold,
                                                seed):
    overlap = min(int(tile * overlap_frac), tile - 1)
    name, options = fmt
    rng = np.random.default_rng(seed)
    full = blobby(rng, (h, w))
    writer = rlemask.TileWriter((h, w), format=name, threshold=threshold, blend=blend,
                                tile=tile, overlap=overlap, **options)
    windows = list(writer.windows())
    assert windows == reference_windows((h, w), tile, overlap, writer.order)
    items = []
    for y, x, th, tw in windows:
        # each tile its own noisy prediction, so overlaps really need blending
        prob = np.clip(full[y : y + th, x : x + tw] + rng.normal(0, 0.1, (th, tw)), 0, 1)
        prob = prob.astype(np.float32)
        items.append(((y, x, th, tw), prob))
        writer.add((y, x, th, tw), prob)
    assert writer.finish() == dense_rle((h, w), items, blend, threshold, name, **options)
    # only the open band is held: at most one tile's width (height) of sums and weights
    band = h * min(tile, w) if writer.order == "F" else w * min(tile, h)
    assert writer.peak_bytes <= 8 * band


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 30), w=st.integers(1, 30), tile=st.integers(2, 9),
       overlap=st.integers(0, 8), seed=st.integers(0, 2**16), skip=st.floats(0, 0.5))
def test_any_order_and_skipped_tiles_equal_dense_path(h, w, tile, overlap, seed, skip):
    overlap = min(overlap, tile - 1)
    rng = np.random.default_rng(seed)
    windows = list(rlemask.tiles((h, w), tile, overlap))
    order = rng.permutation(len(windows))
    writer = rlemask.TileWriter((h, w), tile=tile, overlap=overlap)
    items = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # out of scan order: said, then accepted
        for i in order:
            y, x, th, tw = windows[i]
            if rng.random() < skip:
                writer.skip(windows[i])
                items.append((windows[i], None))
                continue
            # multiples of 1/64: float32 sums are exact, so the order of addition cannot matter
            prob = (rng.integers(0, 65, (th, tw)) / 64).astype(np.float32)
            writer.add(windows[i], prob)
            items.append((windows[i], prob))
    assert writer.finish() == dense_rle((h, w), items, "mean", 0.5, "kaggle")


def test_one_channel_model_output_is_accepted():
    writer = rlemask.TileWriter((6, 6), tile=4, overlap=2)
    for window in writer.windows():
        writer.add(window, np.ones((*window[2:], 1), np.float32))
    assert writer.finish() == "1 36"
    with pytest.raises(ValueError, match="2-dimensional|2-D"):
        rlemask.TileWriter((6, 6), tile=4, overlap=2).add((0, 0, 4, 4), np.ones((4, 4, 2)))


def test_band_runs_merge_across_boundaries():
    # a mask that is all foreground: one run through every band boundary
    writer = rlemask.TileWriter((7, 20), tile=4, overlap=1)
    for window in writer.windows():
        writer.add(window, np.ones(window[2:], np.float32))
    assert writer.finish() == "1 140"
    runs = writer.finish_runs()
    assert runs.starts.tolist() == [0] and runs.lengths.tolist() == [140]


def test_out_of_order_warns_and_holds_more():
    shape = (16, 64)
    windows = list(rlemask.tiles(shape, 8, 2))
    prob = np.full((8, 8), 0.7, np.float32)
    in_order = rlemask.TileWriter(shape, tile=8, overlap=2)
    for window in windows:
        in_order.add(window, prob)
    # row bands into a column-major writer: no column stretch completes before the last row
    across = rlemask.TileWriter(shape, tile=8, overlap=2)
    with pytest.warns(UserWarning, match="memory grows"):
        for window in rlemask.tiles(shape, 8, 2, order="C"):
            across.add(window, prob)
    assert across.finish() == in_order.finish() == "1 1024"
    assert in_order.peak_bytes == 8 * 16 * 8
    assert across.peak_bytes == 8 * 16 * 64  # the whole image


def test_missing_tiles_warn_and_count_as_background():
    writer = rlemask.TileWriter((4, 8), tile=4, overlap=0)
    writer.add((0, 0, 4, 4), np.ones((4, 4)))
    with pytest.warns(UserWarning, match="1 of 2 tiles were never added"):
        assert writer.finish() == "1 16"
    with pytest.raises(RuntimeError, match="finished"):
        writer.add((0, 4, 4, 4), np.ones((4, 4)))


def test_bad_windows_and_probabilities():
    writer = rlemask.TileWriter((10, 10), tile=4, overlap=1)
    with pytest.raises(ValueError, match="not a window of tiles"):
        writer.add((1, 0, 4, 4), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="`probabilities` must have the window's shape"):
        writer.add((0, 0, 4, 4), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="0..1"):
        writer.add((0, 0, 4, 4), np.full((4, 4), 1.5))
    with pytest.raises(ValueError, match="NaN"):
        writer.add((0, 0, 4, 4), np.full((4, 4), np.nan))
    writer.add((0, 0, 4, 4), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="already added"):
        writer.add((0, 0, 4, 4), np.zeros((4, 4)))
    for kwargs, name in (({"blend": "max"}, "blend"), ({"threshold": 2}, "threshold"),
                         ({"overlap": 4}, "overlap"), ({"tile": 0}, "tile")):
        with pytest.raises(ValueError, match=f"`{name}`"):
            rlemask.TileWriter((10, 10), **{"tile": 4, "overlap": 1, **kwargs})
    with pytest.raises(ValueError, match="unknown RLE format"):
        rlemask.TileWriter((10, 10), format="nope")


def test_axis_starts_cover_and_keep_the_overlap():
    for n in range(1, 60):
        for t in range(1, 12):
            for o in range(t):
                starts = axis_starts(n, t, o)
                size = min(t, n)
                covered = np.zeros(n, bool)
                for s in starts:
                    covered[s : s + size] = True
                assert covered.all() and starts[-1] + size == n
                assert all(b - a <= t - o for a, b in zip(starts, starts[1:], strict=False))


def test_crop_of_the_image_runs_is_the_tile_label():
    rng = np.random.default_rng(7)
    mask = (rng.random((23, 31)) > 0.6).astype(np.uint8)
    runs = rlemask.Runs.from_mask(mask)
    for y, x, h, w in rlemask.tiles(mask.shape, 8, 3):
        assert np.array_equal(runs.crop(y, x, h, w).to_mask(), mask[y : y + h, x : x + w])


def test_tiff_read_lazily_predicted_in_tiles_and_streamed(tmp_path):
    """A HuBMAP-like TIFF read window by window, a colour 'model', RLE vs dense and truth."""
    root = make_kind(tmp_path, "hubmap", size=(1100, 1500), seed=3)
    (tiff,) = (root / "train").iterdir()
    shape = rlemask.image_shape(tiff)
    writer = rlemask.TileWriter(shape, tile=256, overlap=32, blend="cosine")
    items = []
    for window in writer.windows():
        rgb = rlemask.read_region(tiff, window, channels=3).astype(np.int16)
        # glomeruli are purple (R ~170, G ~95); nuclei darker, tissue and glass lighter.
        # A 5 x 5 mean of the colour test makes real probabilities (and drops specks)
        purple = (rgb[..., 0] > 135) & (rgb[..., 1] < 125)
        prob = np.clip(ndimage.uniform_filter(purple.astype(np.float32), 5), 0, 1)
        items.append((window, prob))
        writer.add(window, prob)
    rle = writer.finish()
    assert rle == dense_rle(shape, items, "cosine", 0.5, "kaggle")
    truth = rlemask.read_labels(root / "train.csv").mask(tiff.stem, shape=shape)
    assert rlemask.dice(rlemask.decode(rle, shape, format="kaggle"), truth) > 0.9
