"""Every synthetic kind round-trips: synth -> load_dataset -> sample / cache -> the labels' masks.

The truth is decoded by the slow reference decoders of ``reference_rle`` at each
image's own shape, row by row, and OR-ed per class.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import rlemask

KINDS = {  # small sizes: the layouts are the competitions', the pixels few
    "siim": {"n_images": 3, "size": 64, "positive_fraction": 0.67},
    "severstal": {"n_images": 2, "size": (40, 250)},
    "airbus": {"n_images": 3, "size": 96, "positive_fraction": 0.67},
    "uw-madison": {"n_images": 1, "depth": 3},
    "hubmap": {"n_images": 1, "size": (300, 500)},
}


def _truth(data, image_id):
    """(H, W, C) from the labels' rows, decoded one by one with the slow reference."""
    import reference_rle as ref

    shape = data.shape(image_id)
    decode = ref.siim_decode if data.format == "siim" else ref.kaggle_decode
    planes = []
    for rows in data.rows(image_id).values():
        plane = np.zeros(shape, np.uint8)
        for text in rows:
            plane |= decode(text, shape)
        planes.append(plane)
    return np.stack(planes, axis=-1)


@pytest.fixture(scope="module", params=sorted(KINDS))
def kind_set(request, tmp_path_factory):
    from rlemask.synthetic_kinds import LAYOUTS, make_kind

    kind = request.param
    root = make_kind(tmp_path_factory.mktemp(kind), kind, seed=1, **KINDS[kind])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every image has its rows, every row its image
        data = rlemask.load_dataset(root, root / LAYOUTS[kind]["labels"])
    return kind, root, data


def test_synthetic_kind_samples_are_the_labels_at_each_images_own_shape(kind_set):
    kind, _, data = kind_set
    expected_classes = {"severstal": ("1", "2", "3", "4"),
                        "uw-madison": ("large_bowel", "small_bowel", "stomach")}
    assert data.classes == expected_classes.get(kind, ())
    assert len(data) >= 1 and all(data.is_labelled(i) for i in data.ids)
    if kind in ("severstal", "airbus"):
        assert all(i.endswith(".jpg") for i in data.ids)  # their ids keep .jpg
    if kind == "uw-madison":
        assert all("_slice_" in i and i.startswith("case") for i in data.ids)
    positive = 0
    for image_id in data.ids:
        truth = _truth(data, image_id)
        image, mask = data.sample(image_id)
        assert image.shape == truth.shape[:2] and image.dtype == np.float32
        np.testing.assert_array_equal(mask, truth)
        positive += bool(truth.any())
    assert positive >= 1  # the kind's shapes are there


def test_synthetic_kind_cache_equals_its_samples(kind_set, tmp_path):
    kind, _, data = kind_set
    size = (24, 40)
    cache = data.build_cache(tmp_path / "cache", size, workers=1, progress=False)
    assert cache.ids == list(data.ids) and cache.classes == data.classes
    images, masks = cache.get_batch(range(len(cache)))
    for row, image_id in enumerate(cache.ids):
        image, mask = data.sample(image_id, size)
        np.testing.assert_array_equal(images[row], image)
        truth = _truth(data, image_id)
        for c in range(truth.shape[-1]):
            resized = rlemask.resize_mask(truth[..., c], size, method="area")
            got = masks[row][..., c] if data.classes else masks[row]
            np.testing.assert_array_equal(got, resized)
            np.testing.assert_array_equal(mask[..., c], resized)
    np.testing.assert_array_equal(cache.positive_classes, data.positive())


def test_uw_madison_pad_cache_maps_every_slice_back(tmp_path):
    from rlemask.synthetic_kinds import make_kind

    root = make_kind(tmp_path / "uw", "uw-madison", n_images=2, depth=2, seed=3)
    data = rlemask.load_dataset(root, root / "train.csv")
    shapes = {data.shape(i) for i in data.ids}
    assert len(shapes) == 2  # two cases, two slice sizes
    cache = data.build_cache(tmp_path / "cache", 32, policy="pad", workers=1, progress=False)
    canvas = tuple(-(-max(s[k] for s in shapes) // 32) * 32 for k in (0, 1))
    assert cache.img_size == canvas
    for row, image_id in enumerate(cache.ids):
        layout = cache.layout(row)
        np.testing.assert_array_equal(layout.to_image(cache.masks[row]), _truth(data, image_id))
        image, _ = data.sample(image_id)
        np.testing.assert_array_equal(layout.to_image(cache[row][0]), image)
