"""read_image, image_shape, read_region: every source, scaling by the stored range, errors."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import rlemask
from rlemask.images import reduce_array, source_of


def block_mean(arr: np.ndarray, k: int) -> np.ndarray:
    """Slow, obvious reference: the mean of each k x k block (edge blocks: what is there)."""
    h, w = arr.shape[:2]
    out = np.empty((-(-h // k), -(-w // k)) + arr.shape[2:], np.float64)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = arr[i * k : (i + 1) * k, j * k : (j + 1) * k].mean(axis=(0, 1))
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_png_8bit_grey_and_rgb_unchanged(tmp_path, rng):
    grey = rng.integers(0, 256, (7, 11), dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    assert np.array_equal(rlemask.read_image(tmp_path / "g.png"), grey)
    rgb = rlemask.read_image(tmp_path / "g.png", channels=3)
    assert rgb.shape == (7, 11, 3) and all(np.array_equal(rgb[..., c], grey) for c in range(3))
    colour = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "c.png")
    assert np.array_equal(rlemask.read_image(tmp_path / "c.png", channels=3), colour)
    luma = colour @ np.array([0.299, 0.587, 0.114])
    got = rlemask.read_image(tmp_path / "c.png").astype(float)
    assert np.abs(got - luma).max() <= 1.0


def test_png_16bit_scaled_by_bit_depth_not_stretched(tmp_path):
    # values only reach 3000: a min-max stretch would make the brightest pixel 255
    values = np.array([[0, 1000], [2000, 3000]], np.uint16)
    Image.fromarray(values).save(tmp_path / "slice.png")
    unit = rlemask.read_image(tmp_path / "slice.png", dtype=np.float32)
    assert unit.dtype == np.float32
    assert np.allclose(unit, values / 65535.0)
    u8 = rlemask.read_image(tmp_path / "slice.png")
    assert u8.dtype == np.uint8 and u8.tolist() == np.rint(values / 257.0).astype(int).tolist()
    Image.fromarray(np.full((2, 3), 65535, np.uint16)).save(tmp_path / "white.png")
    assert rlemask.read_image(tmp_path / "white.png").tolist() == [[255] * 3] * 2


def test_jpeg_full_size_equals_pillow(tmp_path):
    # smooth colours: on noise, RGB clipping after chroma upsampling moves luma by ~10
    yy, xx = np.mgrid[0:64, 0:96]
    img = np.stack([yy * 3, xx * 2, 255 - yy - xx], axis=-1).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "a.jpg", quality=95)
    ref = np.asarray(Image.open(tmp_path / "a.jpg").convert("RGB"))
    assert np.array_equal(rlemask.read_image(tmp_path / "a.jpg", channels=3), ref)
    grey_ref = np.asarray(Image.open(tmp_path / "a.jpg").convert("L")).astype(int)
    grey = rlemask.read_image(tmp_path / "a.jpg").astype(int)  # the decoder's Y plane
    assert grey.shape == (64, 96) and np.abs(grey - grey_ref).max() <= 2


@pytest.mark.parametrize("k", [2, 3, 4, 6, 8])
def test_jpeg_reduced_close_to_block_mean(tmp_path, k):
    yy, xx = np.mgrid[0:130, 0:200]
    smooth = (127 + 100 * np.sin(yy / 9.0) * np.cos(xx / 13.0)).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "s.jpg", quality=95)
    full = rlemask.read_image(tmp_path / "s.jpg")
    small = rlemask.read_image(tmp_path / "s.jpg", reduce=k)
    assert small.shape == (-(-130 // k), -(-200 // k))
    assert np.abs(small.astype(float) - block_mean(full, k)).mean() < 2.0


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 20), w=st.integers(1, 20), k=st.integers(1, 7), colour=st.booleans())
def test_reduce_array_equals_block_mean(h, w, k, colour):
    arr = np.random.default_rng(h * 100 + w).integers(0, 256, (h, w, 3) if colour else (h, w))
    assert np.allclose(reduce_array(arr.astype(np.uint8), k), block_mean(arr, k), atol=1e-4)


def test_png_and_tiff_reduced_and_size_hint(tmp_path, rng):
    values = rng.integers(0, 65536, (50, 70), dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "p.png")
    tifffile.imwrite(tmp_path / "t.tif", values)
    for name in ("p.png", "t.tif"):
        got = rlemask.read_image(tmp_path / name, reduce=4, dtype=np.float32)
        assert np.allclose(got, block_mean(values, 4) / 65535.0, atol=1e-6)
        assert rlemask.read_image(tmp_path / name, size_hint=(12, 12)).shape == (13, 18)
        assert rlemask.read_image(tmp_path / name, size_hint=(100, 100)).shape == (50, 70)


def test_tiff_dtypes_and_layouts(tmp_path, rng):
    rgb = rng.integers(0, 256, (9, 8, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    assert np.array_equal(rlemask.read_image(tmp_path / "rgb.tif", channels=3), rgb)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb",
                     planarconfig="separate")
    assert np.array_equal(rlemask.read_image(tmp_path / "planar.tif", channels=3), rgb)
    tifffile.imwrite(tmp_path / "u16.tif", np.array([[0, 65535]], np.uint16))
    assert rlemask.read_image(tmp_path / "u16.tif").tolist() == [[0, 255]]
    tifffile.imwrite(tmp_path / "i16.tif", np.array([[-5, 7]], np.int16))
    with pytest.raises(rlemask.ImageError, match="i16.tif.*signed"):
        rlemask.read_image(tmp_path / "i16.tif")


def test_dicom_through_read_dicom(tmp_path):
    from pydicom.data import get_testdata_file

    path = get_testdata_file("CT_small.dcm")
    assert np.array_equal(rlemask.read_image(path), rlemask.read_dicom(path))
    # 16-bit CT as float32: read_dicom's own values, not 8-bit steps
    unit = rlemask.read_image(path, dtype=np.float32)
    assert np.array_equal(unit, rlemask.read_dicom(path, dtype=np.float32))
    assert len(np.unique(unit)) > 256
    assert rlemask.image_shape(path) == (128, 128)
    small = rlemask.read_image(path, reduce=2, dtype=np.float32)
    assert np.allclose(small, block_mean(rlemask.read_dicom(path, dtype=np.float32), 2), atol=1e-5)
    assert rlemask.read_image(path, channels=3).shape == (128, 128, 3)


def test_real_siim_dicoms(real_dir):
    files = sorted((real_dir / "siim" / "dicom").glob("*.dcm"))
    assert len(files) == 10
    for path in files[:4]:
        full = rlemask.read_image(path)
        assert full.shape == (1024, 1024) == rlemask.image_shape(path)
        assert np.array_equal(full, rlemask.read_dicom(path))
        quarter = rlemask.read_image(path, reduce=4)  # JPEG Baseline: the decoder's DCT scaling
        assert quarter.shape == (256, 256)
        assert np.abs(quarter - reduce_array(full, 4)).mean() < 1.5  # reduce_array: tested above


def test_image_shape_reads_no_pixels(tmp_path, monkeypatch, rng):
    Image.fromarray(rng.integers(0, 256, (40, 30), dtype=np.uint8)).save(tmp_path / "a.jpg")
    Image.fromarray(np.zeros((12, 34), np.uint16)).save(tmp_path / "b.png")
    tifffile.imwrite(tmp_path / "c.tif", np.zeros((21, 5, 3), np.uint8), tile=(16, 16))
    from PIL import ImageFile

    def no_decode(self):
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    monkeypatch.setattr(tifffile.TiffPage, "asarray", no_decode)
    assert rlemask.image_shape(tmp_path / "a.jpg") == (40, 30)
    assert rlemask.image_shape(tmp_path / "b.png") == (12, 34)
    assert rlemask.image_shape(tmp_path / "c.tif") == (21, 5)


def test_source_from_bytes_not_name(tmp_path):
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "really_png.jpg", format="PNG")
    assert source_of(tmp_path / "really_png.jpg") == "png"
    assert rlemask.read_image(tmp_path / "really_png.jpg").shape == (3, 3)


def test_corrupt_and_missing_files_raise_image_error(tmp_path, rng):
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "ok.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "ok.png").read_bytes()[:60])
    (tmp_path / "bad.tif").write_bytes(b"II*\x00" + b"\xff" * 20)
    (tmp_path / "text.png").write_text("hello")
    for name in ("cut.jpg", "cut.png", "bad.tif", "text.png", "missing.png"):
        with pytest.raises(rlemask.ImageError, match=name.replace(".", r"\.")):
            rlemask.read_image(tmp_path / name)
    with pytest.raises(rlemask.ImageError, match="is a directory"):
        rlemask.read_image(tmp_path)
    with pytest.raises(rlemask.ImageError, match="bad.tif"):
        rlemask.image_shape(tmp_path / "bad.tif")
    (tmp_path / "bad.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\1" * 10)
    with pytest.raises(rlemask.DicomError, match="bad.dcm"):
        rlemask.read_image(tmp_path / "bad.dcm")
    assert issubclass(rlemask.DicomError, rlemask.ImageError)
    assert issubclass(rlemask.ImageError, ValueError)


def test_bad_arguments_name_the_parameter(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    for kwargs, name in (({"dtype": np.int16}, "dtype"), ({"channels": 2}, "channels"),
                         ({"reduce": 0}, "reduce"), ({"reduce": 1.5}, "reduce"),
                         ({"size_hint": (0, 3)}, "size_hint"),
                         ({"reduce": 2, "size_hint": 3}, "size_hint")):
        with pytest.raises(ValueError, match=f"`{name}`"):
            rlemask.read_image(tmp_path / "a.png", **kwargs)


@pytest.mark.parametrize("layout", ["plain", "tiled-zlib", "strips-zlib", "rgb-tiled"])
def test_read_region_equals_crop(tmp_path, layout, rng):
    rgb = layout.startswith("rgb")
    image = rng.integers(0, 65536, (70, 90, 3) if rgb else (70, 90), dtype=np.uint16)
    kwargs = {"plain": {}, "tiled-zlib": {"tile": (16, 32), "compression": "zlib"},
              "strips-zlib": {"rowsperstrip": 7, "compression": "zlib"},
              "rgb-tiled": {"tile": (32, 16), "photometric": "rgb"}}[layout]
    tifffile.imwrite(tmp_path / "x.tif", image, **kwargs)
    full = rlemask.read_image(tmp_path / "x.tif", dtype=np.float32, channels=3 if rgb else 1)
    for window in ((0, 0, 70, 90), (5, 17, 33, 40), (69, 89, 1, 1), (16, 32, 16, 32)):
        y, x, h, w = window
        got = rlemask.read_region(tmp_path / "x.tif", window, dtype=np.float32,
                                  channels=3 if rgb else 1)
        assert np.array_equal(got, full[y : y + h, x : x + w])
    with pytest.raises(ValueError, match="`window`"):
        rlemask.read_region(tmp_path / "x.tif", (60, 0, 20, 5))


def test_read_region_of_png_crops(tmp_path, rng):
    image = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "a.png")
    assert np.array_equal(rlemask.read_region(tmp_path / "a.png", (3, 4, 5, 6)), image[3:8, 4:10])


def test_read_region_decodes_only_the_tiles_it_needs(tmp_path, monkeypatch, rng):
    image = rng.integers(0, 256, (256, 256), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "big.tif", image, tile=(64, 64), compression="zlib")
    decoded = []
    real = tifffile.TiffPage.decode

    def counting(self):
        fn = real.__get__(self)

        def decode(data, index, **kwargs):
            decoded.append(index)
            return fn(data, index, **kwargs)

        return decode

    monkeypatch.setattr(tifffile.TiffPage, "decode", property(counting))
    monkeypatch.setattr(tifffile.TiffPage, "asarray", lambda *a, **k: pytest.fail("whole page"))
    got = rlemask.read_region(tmp_path / "big.tif", (60, 10, 50, 60))
    assert np.array_equal(got, image[60:110, 10:70])
    assert sorted(decoded) == [0, 1, 4, 5]  # tile rows 0-1, tile columns 0-1 of a 4 x 4 grid


def test_pillow_size_guard_is_an_image_error(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    PILImage.fromarray(np.zeros((100, 200), np.uint8)).save(tmp_path / "huge.png")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(rlemask.ImageError, match=r"huge\.png.*exceeds limit"):
        rlemask.read_image(tmp_path / "huge.png")
