"""TileDataset: every window's sample is the crop of the whole image and its decoded labels.

The truth is each image's labels decoded row by row with the slow reference
decoders of ``reference_rle`` at the image's own shape, OR-ed per class, and
the image read whole; a window's mask, image and positive flags must be
their crops.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from test_dataset_kinds import _truth  # the labels decoded row by row, slow reference

import rlemask
from rlemask.synthetic_kinds import make_kind
from rlemask.tile_dataset import window_positives


@pytest.fixture(scope="module", params=["severstal", "hubmap"])
def kind(request, tmp_path_factory):
    """A small data set of the kind, with each image and its (H, W, C) truth."""
    options = {"severstal": {"n_images": 3, "size": (48, 220)},
               "hubmap": {"n_images": 1, "size": (260, 330)}}[request.param]
    root = make_kind(tmp_path_factory.mktemp(request.param), request.param, seed=4, **options)
    data = rlemask.load_dataset(root, root / "train.csv")
    truth = {i: _truth(data, i) for i in data.ids}
    images = {i: rlemask.read_image(data.path(i)).astype(np.float32) / np.float32(255)
              for i in data.ids}
    return data, truth, images


@settings(max_examples=12, deadline=None)
@given(tile=st.tuples(st.integers(8, 300), st.integers(8, 300)), overlap=st.integers(0, 40),
       data_strategy=st.data())
def test_every_window_is_the_crop_of_the_whole(kind, tile, overlap, data_strategy):
    data, truth, images = kind
    overlap = min(overlap, min(tile) - 1)
    tiled = rlemask.TileDataset(data, tile, overlap=overlap)
    assert tiled.classes == data.classes
    positive = tiled.positive()
    expected_ids = [f"{i}@{y},{x}" for i in data.ids
                    for y, x, _, _ in rlemask.tiles(data.shape(i), tile, overlap)]
    assert list(tiled.ids) == expected_ids
    for k, window_id in enumerate(tiled.ids):
        image_id, (y, x, h, w) = tiled.window(window_id)
        crop = truth[image_id][y : y + h, x : x + w]
        assert tiled.shape(window_id) == (h, w) and tiled.path(window_id) == data.path(image_id)
        assert positive[k].tolist() == crop.any(axis=(0, 1)).tolist()
        np.testing.assert_array_equal(tiled.masks(window_id), crop)
    # whole samples are slower (an image read each): a few drawn windows
    for window_id in data_strategy.draw(st.lists(st.sampled_from(tiled.ids), max_size=3)):
        image_id, (y, x, h, w) = tiled.window(window_id)
        image, mask = tiled.sample(window_id)
        np.testing.assert_array_equal(mask, truth[image_id][y : y + h, x : x + w])
        np.testing.assert_array_equal(image, images[image_id][y : y + h, x : x + w])


@pytest.mark.parametrize("order", ["F", "C"])
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), h=st.integers(1, 40), w=st.integers(1, 40),
       th=st.integers(1, 20), tw=st.integers(1, 20), overlap=st.integers(0, 5))
def test_window_positives_equal_the_dense_truth(order, seed, h, w, th, tw, overlap):
    rng = np.random.default_rng(seed)
    mask = (rng.random((h, w)) < rng.choice([0.002, 0.02, 0.3])).astype(np.uint8)
    y0, x0 = rng.integers(0, h), rng.integers(0, w)  # and a block: runs over many lines
    mask[y0 : y0 + rng.integers(0, h + 1), x0 : x0 + rng.integers(0, w + 1)] = 1
    runs = rlemask.Runs.from_mask(mask, order=order)
    windows = list(rlemask.tiles((h, w), (th, tw), (min(overlap, th - 1), min(overlap, tw - 1))))
    ys, xs = sorted({v[0] for v in windows}), sorted({v[1] for v in windows})
    size = windows[0][2:]
    got = window_positives(runs, ys, xs, size)
    want = [[mask[y : y + size[0], x : x + size[1]].any() for x in xs] for y in ys]
    assert got.tolist() == want


def test_resize_and_pad_samples(kind):
    data, truth, images = kind
    tiled = rlemask.TileDataset(data, 40, overlap=8)
    window_id = tiled.ids[len(tiled.ids) // 2]
    image_id, (y, x, h, w) = tiled.window(window_id)
    image, mask = tiled.sample(window_id, (20, 30))
    assert image.shape == (20, 30) and mask.shape == (20, 30, max(1, len(data.classes)))
    for c in range(mask.shape[2]):
        want = rlemask.resize_mask(truth[image_id][y : y + h, x : x + w, c], (20, 30),
                                   method="area")
        np.testing.assert_array_equal(mask[..., c], want)
    image, mask = tiled.sample(window_id, 16, policy="pad")
    layout = tiled.layout(window_id, 16, policy="pad")
    assert image.shape == mask.shape[:2] == layout.sample_shape == (48, 48)
    np.testing.assert_array_equal(layout.to_image(mask), truth[image_id][y : y + h, x : x + w])
    np.testing.assert_array_equal(layout.to_image(image), images[image_id][y : y + h, x : x + w])


def test_positive_share_keeps_positives_and_a_seeded_draw_of_empties(kind):
    data, _, _ = kind
    full = rlemask.TileDataset(data, 32)
    hit = full.positive().any(axis=1)
    n_pos, n_empty = int(hit.sum()), int((~hit).sum())
    assert n_pos and n_empty
    half = rlemask.TileDataset(data, 32, positive_share=0.5, seed=3)
    assert set(half.ids) >= {i for i, p in zip(full.ids, hit, strict=True) if p}
    assert len(half) == n_pos + min(n_empty, n_pos)
    assert half.ids == rlemask.TileDataset(data, 32, positive_share=0.5, seed=3).ids
    assert list(half.ids) == [i for i in full.ids if i in half]  # the grid's order kept
    assert half.positive().any(axis=1).sum() == n_pos
    assert len(rlemask.TileDataset(data, 32, positive_share=1.0)) == n_pos
    assert len(rlemask.TileDataset(data, 32, positive_share=0.0)) == len(full)


def test_bad_arguments_are_named(kind, tmp_path):
    data, _, _ = kind
    with pytest.raises(TypeError, match="rlemask.Dataset"):
        rlemask.TileDataset(["a.tiff"])
    with pytest.raises(ValueError, match="positive_share"):
        rlemask.TileDataset(data, 32, positive_share=1.5)
    with pytest.raises(ValueError, match="overlap"):
        rlemask.TileDataset(data, 32, overlap=32)
    with pytest.raises(KeyError, match="no window 'nope'"):
        rlemask.TileDataset(data, 32).sample("nope")
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "train.csv").write_text("ImageId,EncodedPixels\na.png,\n")
    empty = rlemask.load_dataset(tmp_path, tmp_path / "train.csv", format="kaggle")
    assert not rlemask.TileDataset(empty, 16).positive().any()
    with pytest.raises(ValueError, match="no window holds a region"):
        rlemask.TileDataset(empty, 16, positive_share=0.5)


@pytest.mark.keras
def test_the_generator_batches_tiles(kind):
    pytest.importorskip("keras")
    from rlemask_keras import DataGenerator

    data, _, _ = kind
    tiled = rlemask.TileDataset(data, 32, positive_share=0.5)
    gen = DataGenerator(tiled, batch_size=4, img_size=16, seed=0, positive_fraction=0.5)
    X, y = gen[0]
    assert X.shape == (min(4, len(tiled)), 16, 16, 1)
    assert y.shape == (*X.shape[:3], max(1, len(data.classes)))
    assert gen.positive.tolist() == tiled.positive().any(axis=1).tolist()


def test_image_ids_and_groups_keep_an_image_s_windows_together(kind):
    data, _, _ = kind
    first = data.ids[:1]
    part = rlemask.TileDataset(data, 32, image_ids=first)
    assert {part.window(i)[0] for i in part.ids} == set(first)
    assert part.ids == tuple(i for i in rlemask.TileDataset(data, 32).ids if i in part)
    whole = rlemask.TileDataset(data, 32)
    groups = whole.groups()
    assert set(groups) == set(whole.ids) and set(groups.values()) == set(data.ids)
    if len(data.ids) > 1:
        train, val = rlemask.split_dataset(whole, n_folds=len(data.ids), fold=0, groups=groups)
        assert {groups[i] for i in train}.isdisjoint(groups[i] for i in val)
    with pytest.raises(KeyError, match="no image 'nope'"):
        rlemask.TileDataset(data, 32, image_ids=["nope"])


def test_an_unlabelled_image_gives_empty_windows(tmp_path):
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((20, 30), 99, np.uint8)).save(tmp_path / name)
    (tmp_path / "train.csv").write_text("ImageId,EncodedPixels\na.png,1 5\n")
    with pytest.warns(UserWarning, match="1 of 2 images have no row"):
        data = rlemask.load_dataset(tmp_path, tmp_path / "train.csv", format="kaggle")
    tiled = rlemask.TileDataset(data, 16)
    flags = dict(zip(tiled.ids, tiled.positive()[:, 0].tolist(), strict=True))
    # "1 5": rows 0..4 of column 0, so the window from row 4 holds one pixel of it
    assert flags == {"a.png@0,0": True, "a.png@4,0": True, "a.png@0,14": False,
                     "a.png@4,14": False, "b.png@0,0": False, "b.png@4,0": False,
                     "b.png@0,14": False, "b.png@4,14": False}
    image, mask = tiled.sample("b.png@4,14")
    assert mask.shape == (16, 16, 1) and not mask.any() and np.allclose(image, 99 / 255)
