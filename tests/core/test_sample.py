"""load_sample: one training example from a DICOM file and its RLE strings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rlemask
from rlemask import load_sample
from rlemask.sample import to_unit


@pytest.fixture
def image64():
    yy, xx = np.mgrid[:64, :64]
    return ((xx * 3 + yy) % 256).astype(np.uint8)


def _mask(shape, *boxes):
    mask = np.zeros(shape, dtype=np.uint8)
    for r0, r1, c0, c1 in boxes:
        mask[r0:r1, c0:c1] = 1
    return mask


def test_shapes_dtypes_ranges(tmp_path, make_dicom, image64):
    path = make_dicom(tmp_path / "a.dcm", image64)
    rle = rlemask.encode(_mask((64, 64), (8, 24, 4, 20)))
    image, mask = load_sample(path, [rle], img_size=16)
    assert image.shape == (16, 16) and image.dtype == np.float32
    assert mask.shape == (16, 16) and mask.dtype == np.uint8
    assert image.flags.c_contiguous and mask.flags.c_contiguous
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert set(np.unique(mask)) <= {0, 1}


def test_image_is_the_area_resize_of_read_dicom(tmp_path, make_dicom, image64):
    path = make_dicom(tmp_path / "a.dcm", image64)
    image, _ = load_sample(path, [], img_size=16)
    expected = rlemask.resize_image(rlemask.read_dicom(path, dtype=np.float32), 16, method="area")
    np.testing.assert_allclose(image, expected, atol=1e-6)
    # 4x4 block means of the 8-bit values / 255
    blocks = image64.reshape(16, 4, 16, 4).mean(axis=(1, 3)) / 255
    np.testing.assert_allclose(image, blocks, atol=1e-6)


@pytest.mark.parametrize("bits", [8, 12])
def test_image_is_the_area_mean_rounded_to_8_bit_steps(tmp_path, make_dicom, bits):
    """Every value is k / 255, the nearest such step to the 4 x 4 block mean (issue 13)."""
    rng = np.random.default_rng(1234)
    top = 2**bits - 1
    pixels = rng.integers(0, top + 1, size=(64, 64)).astype(np.uint8 if bits == 8 else np.uint16)
    path = make_dicom(tmp_path / "a.dcm", pixels, bits_stored=bits)
    image, _ = load_sample(path, [], img_size=16)
    # slow and obvious: block means in float64, then the nearest multiple of 1/255
    means = pixels.astype(np.float64).reshape(16, 4, 16, 4).mean(axis=(1, 3)) / top
    steps = np.rint(image.astype(np.float64) * 255)
    np.testing.assert_array_equal(image, (steps / 255).astype(np.float32))
    np.testing.assert_array_equal(image, to_unit(steps.astype(np.uint8)))
    assert np.abs(image - means).max() <= 1 / 510 + 1e-6
    assert np.abs(steps - means * 255).max() <= 0.5 + 1e-4
    # the rounding is real: the block means of random pixels are not 8-bit values
    assert not np.allclose(means * 255, np.rint(means * 255))


def test_to_unit_is_k_over_255():
    k = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_unit(k), (k.astype(np.float64) / 255).astype(np.float32))
    assert to_unit(k)[255] == 1.0 and to_unit(k).dtype == np.float32


def test_high_bit_depth_image(tmp_path, make_dicom):
    pixels = np.full((32, 32), 4095, np.uint16)
    pixels[:16] = 0
    path = make_dicom(tmp_path / "a.dcm", pixels, bits_stored=12)
    image, _ = load_sample(path, None, img_size=8)
    np.testing.assert_allclose(image[:4], 0.0)
    np.testing.assert_allclose(image[4:], 1.0)


def test_mask_is_merged_and_area_resized(tmp_path, make_dicom, image64):
    path = make_dicom(tmp_path / "a.dcm", image64)
    a = _mask((64, 64), (0, 32, 0, 32))
    b = _mask((64, 64), (16, 48, 16, 48))  # overlaps a
    _, mask = load_sample(path, [rlemask.encode(a), rlemask.encode(b)], img_size=16)
    expected = rlemask.resize_mask(a | b, 16, method="area")
    np.testing.assert_array_equal(mask, expected)
    assert mask.max() == 1  # overlap never sums to 2


def test_area_resize_of_the_mask_is_binary_safe(tmp_path, make_dicom, image64):
    path = make_dicom(tmp_path / "a.dcm", image64)
    # a 4x4 output pixel is foreground only when >= half its 4x4 footprint is
    full = np.zeros((64, 64), np.uint8)
    full[0:4, 0:2] = 1  # 8 of 16 -> foreground
    full[0:4, 4:5] = 1  # 4 of 16 -> background
    full[8:9, 8:9] = 1  # a single pixel -> background
    _, mask = load_sample(path, [rlemask.encode(full)], img_size=16)
    assert mask[0, 0] == 1 and mask[0, 1] == 0 and mask[2, 2] == 0
    assert mask.sum() == 1


@pytest.mark.parametrize("rles", [None, [], ["-1"], [" -1"], "-1"])
def test_empty_masks(tmp_path, make_dicom, image64, rles):
    path = make_dicom(tmp_path / "a.dcm", image64)
    _, mask = load_sample(path, rles, img_size=16)
    assert mask.shape == (16, 16) and not mask.any()


def test_masks_decoded_at_the_images_own_size(tmp_path, make_dicom):
    pixels = np.zeros((40, 24), np.uint8)  # H=40, W=24: not square, not 1024
    path = make_dicom(tmp_path / "a.dcm", pixels)
    full = _mask((40, 24), (20, 40, 12, 24))  # bottom-right quarter
    image, mask = load_sample(path, [rlemask.encode(full)], img_size=(10, 6))
    assert image.shape == mask.shape == (10, 6)
    np.testing.assert_array_equal(mask, _mask((10, 6), (5, 10, 3, 6)))
    # an RLE for another size runs past this image: an error, not a silent crop
    big = rlemask.encode(_mask((1024, 1024), (1000, 1010, 1000, 1010)))
    with pytest.raises(rlemask.RLEError):
        load_sample(path, [big], img_size=8)


def test_kaggle_format(tmp_path, make_dicom, image64):
    path = make_dicom(tmp_path / "a.dcm", image64)
    full = _mask((64, 64), (0, 32, 0, 64))
    _, mask = load_sample(
        path, [rlemask.encode(full, format="kaggle")], img_size=8, format="kaggle"
    )
    np.testing.assert_array_equal(mask, _mask((8, 8), (0, 4, 0, 8)))


@pytest.mark.parametrize("bad", [0, -4, (16,), (16, 0), 2.5, "256", True, None])
def test_bad_img_size(tmp_path, make_dicom, image64, bad):
    path = make_dicom(tmp_path / "a.dcm", image64)
    with pytest.raises(ValueError, match="`img_size`"):
        load_sample(path, [], img_size=bad)


def test_bad_file_raises_dicom_error(tmp_path):
    path = tmp_path / "x.dcm"
    path.write_text("not dicom")
    with pytest.raises(rlemask.DicomError, match=r"x\.dcm"):
        load_sample(path, [])


def test_jpeg_siim_like_sample(tmp_path, make_dicom):
    rng = np.random.default_rng(1234)
    pixels = rng.integers(60, 200, size=(256, 256)).astype(np.uint8)
    path = make_dicom(tmp_path / "j.dcm", pixels, syntax="jpeg")
    full = _mask((256, 256), (40, 120, 8, 60))
    image, mask = load_sample(path, [rlemask.encode(full)], img_size=64)
    np.testing.assert_array_equal(mask, _mask((64, 64), (10, 30, 2, 15)))
    # JPEG noise averages out in the 4x4 blocks
    blocks = pixels.reshape(64, 4, 64, 4).mean(axis=(1, 3)) / 255
    assert np.abs(image - blocks).mean() < 0.02


@pytest.mark.skipif(
    not hasattr(getattr(rlemask, "synthetic", None), "make_dataset"),
    reason="rlemask.synthetic.make_dataset not available yet",
)
def test_synthetic_data_set_round_trip(tmp_path):
    root = rlemask.synthetic.make_dataset(
        tmp_path / "synth", n_images=6, size=128, positive_fraction=0.5, seed=3
    )
    paths, labels = rlemask.load_siim(root)
    assert len(paths) == 6
    for path in paths:
        rles = labels[path.stem]
        image, mask = load_sample(path, rles, img_size=32)
        assert image.shape == mask.shape == (32, 32)
        full = rlemask.merge(rles, shape=(128, 128))
        np.testing.assert_array_equal(mask, rlemask.resize_mask(full, 32, method="area"))


# --- any image, any shape, C classes, resize or pad (issue 22) -----------------------------


def _png(path, pixels):
    from PIL import Image

    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize("bits", [8, 16])
def test_png_sample_at_odd_non_square_sizes_against_the_slow_reference(tmp_path, bits):
    import reference_geometry as ref

    rng = np.random.default_rng(bits)
    top = 2**bits - 1
    pixels = rng.integers(0, top + 1, (23, 37)).astype(np.uint8 if bits == 8 else np.uint16)
    path = _png(tmp_path / "a.png", pixels)
    for size in [(7, 11), (23, 37), (46, 9), (11, 37)]:
        image, mask = load_sample(path, [], img_size=size)
        assert image.shape == mask.shape == size
        # slow and obvious: exact area means, rounded to the nearest 8-bit step
        expected = np.rint(ref.resize_image_area(pixels, *size) / top * 255)
        assert np.abs(np.rint(image * 255) - expected).max() <= 1  # ties may round apart
        assert np.mean(np.rint(image * 255) == expected) > 0.95


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 19), w=st.integers(1, 19), oh=st.integers(1, 12), ow=st.integers(1, 12),
    n_classes=st.integers(1, 3), seed=st.integers(0, 1000),
)
def test_each_class_resized_binary_safe_against_the_slow_reference(h, w, oh, ow, n_classes,
                                                                    seed, tmp_path_factory):
    import reference_geometry as geo
    import reference_rle as ref

    rng = np.random.default_rng(seed)
    folder = tmp_path_factory.mktemp("s")
    path = _png(folder / "a.png", rng.integers(0, 256, (h, w)).astype(np.uint8))
    truth = (rng.random((n_classes, h, w)) < 0.4).astype(np.uint8)
    rows = {f"c{c}": ([ref.kaggle_encode(truth[c])] if truth[c].any() else [])
            for c in range(n_classes)}
    _, mask = load_sample(path, rows, img_size=(oh, ow), format="kaggle")
    assert mask.shape == (oh, ow, n_classes) and mask.dtype == np.uint8
    for c in range(n_classes):
        np.testing.assert_array_equal(mask[..., c], geo.resize_mask_area(truth[c], oh, ow))


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 30), w=st.integers(1, 30), mh=st.integers(1, 16), mw=st.integers(1, 16),
       seed=st.integers(0, 1000))
def test_pad_keeps_every_pixel_centred_and_maps_back(h, w, mh, mw, seed, tmp_path_factory):
    import reference_rle as ref

    from rlemask.sample import sample_layout

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (h, w)).astype(np.uint8)
    path = _png(tmp_path_factory.mktemp("p") / "a.png", pixels)
    truth = (rng.random((h, w)) < 0.5).astype(np.uint8)
    rle = ref.kaggle_encode(truth) if truth.any() else ""
    image, mask = load_sample(path, {"x": [rle] if rle else [], "y": []}, img_size=(mh, mw),
                              format="kaggle", policy="pad")
    # slow and obvious: the next multiples, the spare pixels split (the odd one after)
    H, W = -(-h // mh) * mh, -(-w // mw) * mw
    top, left = (H - h) // 2, (W - w) // 2
    padded = np.pad(pixels, ((top, H - h - top), (left, W - w - left)))
    np.testing.assert_array_equal(image, to_unit(padded))
    np.testing.assert_array_equal(mask[..., 0], np.pad(truth, ((top, H - h - top),
                                                               (left, W - w - left))))
    assert not mask[..., 1].any()
    layout = sample_layout((h, w), (mh, mw), policy="pad")
    assert (layout.top, layout.left, layout.sample_shape) == (top, left, (H, W))
    np.testing.assert_array_equal(layout.to_image(mask)[..., 0], truth)
    np.testing.assert_array_equal(layout.to_image(image), to_unit(pixels))


def test_layouts_and_their_errors():
    from rlemask.sample import sample_layout

    resize = sample_layout((256, 1600), (64, 400))
    assert resize.to_image(np.ones((64, 400), np.uint8)).shape == (256, 1600)
    prob = resize.to_image(np.full((64, 400, 2), 0.25, np.float32))
    assert prob.shape == (256, 1600, 2) and np.allclose(prob, 0.25)
    assert sample_layout((5, 7), None).sample_shape == (5, 7)
    assert sample_layout((5, 7), 4, policy="pad", canvas=(8, 12)).sample_shape == (8, 12)
    with pytest.raises(ValueError, match="`canvas` must hold the image"):
        sample_layout((5, 7), 4, policy="pad", canvas=(8, 6))
    with pytest.raises(ValueError, match="`policy` must be one of"):
        sample_layout((5, 7), 4, policy="crop")
    with pytest.raises(ValueError, match=r"`prediction` must be \(64, 400\)"):
        resize.to_image(np.ones((400, 64)))


def test_reduced_read_matches_the_full_read(tmp_path, make_dicom):
    """A 4x reduction read by the decoder: the same grid, within a grey level of the full read."""
    from rlemask import sample as sample_module

    rng = np.random.default_rng(7)
    pixels = np.clip(rng.normal(120, 30, (128, 96)), 0, 255).astype(np.uint8)
    path = make_dicom(tmp_path / "j.dcm", pixels, syntax="jpeg")
    full = np.zeros((128, 96), np.uint8)
    full[20:60, 8:40] = 1
    reduced = load_sample(path, [rlemask.encode(full)], img_size=(32, 24))
    assert sample_module._reduction((128, 96), (32, 24)) == 4
    assert sample_module._reduction((101, 96), (32, 24)) == 1  # 4 does not divide 101
    sample_module_reduction = sample_module._reduction
    try:
        sample_module._reduction = lambda shape, target: 1
        plain = load_sample(path, [rlemask.encode(full)], img_size=(32, 24))
    finally:
        sample_module._reduction = sample_module_reduction
    np.testing.assert_array_equal(reduced[1], plain[1])  # masks: exact, from the full size
    assert np.abs(reduced[0] - plain[0]).max() <= 2 / 255
