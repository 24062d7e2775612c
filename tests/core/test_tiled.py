"""predict_tiled: the streamed RLE equals the dense path (whole image, tiles by hand, blend).

The dense reference reads the whole image, runs the same stand-in model on
every window of ``rlemask.tiles`` by hand, averages the overlaps in a
full-size float32 map, thresholds and encodes.  The model is a colour rule
plus a per-tile ramp, so that overlapping tiles disagree and the blend
decides.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

import rlemask
from rlemask.synthetic_kinds import make_kind

SHAPE = (700, 900)


@pytest.fixture(scope="module")
def slide(tmp_path_factory):
    root = make_kind(tmp_path_factory.mktemp("hubmap"), "hubmap", size=SHAPE, seed=2)
    (path,) = (root / "train").iterdir()
    return path


def model(batch):
    """Purple (low green) is tissue of interest; a ramp across each tile, as a model drifts."""
    ramp = np.linspace(-0.1, 0.1, batch.shape[2], dtype=np.float32)[None, None, :]
    return np.clip(1.3 - 1.6 * batch[..., 1] + ramp, 0, 1)


def dense_reference(image, predict, tile, overlap, *, skip=None, size=None, threshold=0.5,
                    channel=None, **options):
    """The obvious path: a full-size map of sums and counts over every window."""
    shape = image.shape[:2]
    total = np.zeros(shape, np.float32)
    count = np.zeros(shape, np.float32)
    order = options.get("order", "F")
    for y, x, h, w in rlemask.tiles(shape, tile, overlap, order=order):
        part = image[y : y + h, x : x + w]
        if skip is not None and skip(part):
            continue
        if size is not None:  # to the model's size (area, 8-bit steps) and back (bilinear)
            small = np.stack([rlemask.resize_image(part[..., c] * 255, size, method="area")
                              for c in range(part.shape[2])], axis=-1)
            part = np.clip(np.rint(small), 0, 255).astype(np.uint8).astype(np.float32) / 255
        prob = np.asarray(predict(part[None]), np.float32)[0]
        if channel is not None:
            prob = prob[..., channel]
        if size is not None:
            prob = np.clip(rlemask.resize_image(prob, (h, w), method="bilinear"), 0, 1)
        total[y : y + h, x : x + w] += prob
        count[y : y + h, x : x + w] += np.float32(1)
    np.divide(total, count, out=total, where=count > 0)
    return rlemask.encode(total > np.float32(threshold), format="kaggle", **options)


def read_unit(path, channels=3):
    image = rlemask.read_image(path, channels=channels).astype(np.float32) / np.float32(255)
    return image if image.ndim == 3 else image[..., None]


@pytest.mark.parametrize(
    ("tile", "overlap", "batch_size"), [(256, 64, 3), (200, 0, 8), (333, 50, 1)]
)
def test_equals_the_dense_path(slide, tile, overlap, batch_size):
    image = read_unit(slide)
    got = rlemask.predict_tiled(slide, model, tile=tile, overlap=overlap, channels=3,
                                batch_size=batch_size)
    assert got == dense_reference(image, model, tile, overlap)
    assert rlemask.Runs.from_text(got, SHAPE, format="kaggle").area > 0  # the test sees regions


def test_row_major_format_and_grey(slide):
    image = read_unit(slide, channels=1)
    got = rlemask.predict_tiled(slide, lambda b: 1 - b[..., 0], tile=256, overlap=32,
                                order="C", threshold=0.3)
    assert got == dense_reference(image, lambda b: 1 - b[..., 0], 256, 32, order="C",
                                  threshold=0.3)


def test_model_size_resizes_in_and_out(slide):
    image = read_unit(slide)
    got = rlemask.predict_tiled(slide, model, tile=256, overlap=64, channels=3, size=128)
    assert got == dense_reference(image, model, 256, 64, size=(128, 128))


def test_skipped_tiles_never_reach_the_model(slide):
    image = read_unit(slide)
    seen = []

    def counting(batch):
        seen.append(len(batch))
        assert batch.dtype == np.float32 and batch.shape[1:] == (128, 128, 3)
        return model(batch)

    def glass(tile):
        return bool(tile.mean() > 0.9)

    got = rlemask.predict_tiled(slide, counting, tile=128, overlap=16, channels=3,
                                batch_size=4, skip=glass)
    windows = list(rlemask.tiles(SHAPE, 128, 16))
    kept = sum(not glass(image[y : y + h, x : x + w]) for y, x, h, w in windows)
    assert 0 < kept < len(windows)  # some tiles are glass, some tissue
    assert sum(seen) == kept
    assert len(seen) == math.ceil(kept / 4)
    assert got == dense_reference(image, model, 128, 16, skip=glass)


def test_classes_one_row_per_channel_with_their_thresholds(slide):
    image = read_unit(slide)

    def two(batch):
        return np.stack([model(batch), 1 - batch[..., 0]], axis=-1)

    rows = rlemask.predict_tiled_classes(slide, two, 2, tile=256, overlap=32, channels=3,
                                         threshold=[0.5, 0.2])
    assert rows == [dense_reference(image, two, 256, 32, channel=0),
                    dense_reference(image, two, 256, 32, channel=1, threshold=0.2)]


def test_png_is_decoded_once_and_sliced(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    pixels = (rng.random((90, 130)) * 255).astype(np.uint8)
    path = tmp_path / "x.png"
    Image.fromarray(pixels).save(path)
    reads = []
    real = rlemask.images.read_image
    monkeypatch.setattr("rlemask.tiled.read_image",
                        lambda *a, **k: reads.append(1) or real(*a, **k))
    got = rlemask.predict_tiled(path, lambda b: b[..., 0], tile=40, overlap=8, batch_size=5)
    assert len(reads) == 1
    assert got == dense_reference(pixels[..., None] / np.float32(255), lambda b: b[..., 0], 40, 8)


def test_bad_model_output_and_arguments_are_named(slide):
    with pytest.raises(ValueError, match=r"`predict` must return .* returned shape \(2, 10\)"):
        rlemask.predict_tiled(slide, lambda b: np.zeros((2, 10)), tile=256, batch_size=2)
    with pytest.raises(ValueError, match="0..1"):
        rlemask.predict_tiled(slide, lambda b: b[..., 0] * 2, tile=512)
    with pytest.raises(TypeError, match="`predict` must be a callable"):
        rlemask.predict_tiled(slide, "model")
    with pytest.raises(ValueError, match="`batch_size`"):
        rlemask.predict_tiled(slide, model, batch_size=0)
    with pytest.raises(ValueError, match=r"one per class \(2\)"):
        rlemask.predict_tiled_classes(slide, model, 2, threshold=[0.5])
    with pytest.raises(rlemask.ImageError, match="missing.tiff"):
        rlemask.predict_tiled(slide.parent / "missing.tiff", model)
