"""read_dicom / read_dicom_meta: files written here with pydicom, and pydicom's own test files."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest

import rlemask
from rlemask import DicomError, read_dicom, read_dicom_meta
from rlemask.dicom import _choose_plugin, _parse_age

PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
ALL_TEST_FILES = sorted(p for p in PYDICOM_FILES.rglob("*") if p.is_file())


def _u8(unit):
    return np.rint(np.asarray(unit, dtype=np.float64) * 255).astype(np.uint8)


@pytest.fixture
def gradient8():
    rng = np.random.default_rng(1234)
    return rng.integers(0, 256, size=(40, 56), dtype=np.uint8)


# --- uncompressed, 8-bit ----------------------------------------------------------------------


@pytest.mark.parametrize("syntax", ["explicit", "implicit", "rle"])
def test_8bit_comes_back_unchanged(tmp_path, make_dicom, gradient8, syntax):
    path = make_dicom(tmp_path / "a.dcm", gradient8, syntax=syntax)
    out = read_dicom(path)
    assert out.dtype == np.uint8 and out.shape == gradient8.shape
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, gradient8)
    unit = read_dicom(path, dtype=np.float32)
    assert unit.dtype == np.float32
    np.testing.assert_allclose(unit, gradient8 / 255.0, atol=1e-7)


def test_str_and_pathlike_both_accepted(tmp_path, make_dicom, gradient8):
    path = make_dicom(tmp_path / "a.dcm", gradient8)
    np.testing.assert_array_equal(read_dicom(str(path)), read_dicom(path))
    assert read_dicom_meta(str(path)) == read_dicom_meta(path)


def test_8bit_window_is_ignored(tmp_path, make_dicom, gradient8):
    path = make_dicom(tmp_path / "a.dcm", gradient8, WindowCenter=100, WindowWidth=20)
    np.testing.assert_array_equal(read_dicom(path), gradient8)


def test_8bit_monochrome1_is_inverted(tmp_path, make_dicom, gradient8):
    path = make_dicom(tmp_path / "a.dcm", gradient8, photometric="MONOCHROME1")
    np.testing.assert_array_equal(read_dicom(path), 255 - gradient8)
    np.testing.assert_allclose(read_dicom(path, dtype=np.float32), 1 - gradient8 / 255.0, atol=1e-6)


# --- more than 8 bits -------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [10, 12, 16])
def test_high_bit_depth_scaled_by_bits_stored(tmp_path, make_dicom, bits):
    top = 2**bits - 1
    pixels = np.array([[0, top, top // 2], [1, top // 4, top - 1]], dtype=np.uint16)
    path = make_dicom(tmp_path / "a.dcm", pixels, bits_stored=bits)
    expected = pixels / top
    np.testing.assert_allclose(read_dicom(path, dtype=np.float32), expected, atol=1e-6)
    np.testing.assert_array_equal(read_dicom(path), _u8(expected))


def test_fewer_than_8_bits_scaled_by_bits_stored(tmp_path, make_dicom):
    pixels = np.array([[0, 63, 32]], dtype=np.uint8)
    path = make_dicom(tmp_path / "a.dcm", pixels, bits_stored=6)
    np.testing.assert_array_equal(read_dicom(path), _u8(pixels / 63))


def test_never_min_max_stretched(tmp_path, make_dicom):
    # a 12-bit image using only 1000..1100 stays dim: no per-image stretch
    pixels = np.linspace(1000, 1100, 64).astype(np.uint16).reshape(8, 8)
    path = make_dicom(tmp_path / "a.dcm", pixels, bits_stored=12)
    out = read_dicom(path, dtype=np.float32)
    assert out.min() == pytest.approx(1000 / 4095, abs=1e-6)
    assert out.max() == pytest.approx(1100 / 4095, abs=1e-6)


def test_signed_pixels(tmp_path, make_dicom):
    pixels = np.array([[-2048, 0, 2047], [-1, 1, -1000]], dtype=np.int16)
    path = make_dicom(tmp_path / "a.dcm", pixels, bits_stored=12)
    assert pydicom.dcmread(path).PixelRepresentation == 1
    expected = (pixels.astype(np.float64) + 2048) / 4095
    np.testing.assert_allclose(read_dicom(path, dtype=np.float32), expected, atol=1e-6)
    assert read_dicom(path)[0].tolist() == [0, 128, 255]


def test_monochrome1_high_bits(tmp_path, make_dicom):
    pixels = np.array([[0, 4095], [1024, 3000]], dtype=np.uint16)
    path = make_dicom(tmp_path / "a.dcm", pixels, bits_stored=12, photometric="MONOCHROME1")
    np.testing.assert_allclose(read_dicom(path, dtype=np.float32), 1 - pixels / 4095, atol=1e-6)


def _linear_window(x, center, width):
    """DICOM PS3.3 C.11.2.1.2.1, written out per pixel."""
    out = np.empty(x.shape)
    for i, v in np.ndenumerate(x):
        if v <= center - 0.5 - (width - 1) / 2:
            out[i] = 0.0
        elif v > center - 0.5 + (width - 1) / 2:
            out[i] = 1.0
        else:
            out[i] = (v - (center - 0.5)) / (width - 1) + 0.5
    return out


def test_rescale_then_window(tmp_path, make_dicom):
    # CT-like: stored 0..4095, HU = stored - 1024, soft-tissue window 40 / 400
    stored = np.array([[0, 824, 864, 1000], [1064, 1200, 1264, 4095]], dtype=np.uint16)
    path = make_dicom(
        tmp_path / "a.dcm",
        stored,
        bits_stored=12,
        RescaleSlope=1,
        RescaleIntercept=-1024,
        WindowCenter=40,
        WindowWidth=400,
    )
    expected = _linear_window(stored.astype(np.float64) - 1024, 40, 400)
    out = read_dicom(path, dtype=np.float32)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert out[0, 0] == 0 and out[1, 3] == 1 and 0 < out[1, 0] < 1
    # multi-valued window: the first pair is used
    path2 = make_dicom(
        tmp_path / "b.dcm",
        stored,
        bits_stored=12,
        RescaleSlope=1,
        RescaleIntercept=-1024,
        WindowCenter=[40, 400],
        WindowWidth=[400, 2000],
    )
    np.testing.assert_allclose(read_dicom(path2, dtype=np.float32), expected, atol=1e-6)
    # window=False: by bit depth
    np.testing.assert_allclose(
        read_dicom(path, dtype=np.float32, window=False), stored / 4095, atol=1e-6
    )


def test_rescale_slope_changes_the_range_not_the_image(tmp_path, make_dicom):
    stored = np.array([[0, 100, 4095]], dtype=np.uint16)
    path = make_dicom(
        tmp_path / "a.dcm", stored, bits_stored=12, RescaleSlope=2.5, RescaleIntercept=-100
    )
    # without a window the rescaled range is mapped: same as by stored bits
    np.testing.assert_allclose(read_dicom(path, dtype=np.float32), stored / 4095, atol=1e-6)
    neg = make_dicom(
        tmp_path / "b.dcm", stored, bits_stored=12, RescaleSlope=-1, RescaleIntercept=0
    )
    np.testing.assert_allclose(read_dicom(neg, dtype=np.float32), 1 - stored / 4095, atol=1e-6)


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("LINEAR_EXACT", lambda v: np.clip((v - 2000) / 1000 + 0.5, 0, 1)),
        ("SIGMOID", lambda v: 1 / (1 + np.exp(-4 * (v - 2000) / 1000))),
    ],
)
def test_voi_lut_functions(tmp_path, make_dicom, function, expected):
    stored = np.array([[0, 1500, 2000, 2300, 4095]], dtype=np.uint16)
    path = make_dicom(
        tmp_path / "a.dcm",
        stored,
        bits_stored=12,
        WindowCenter=2000,
        WindowWidth=1000,
        VOILUTFunction=function,
    )
    np.testing.assert_allclose(
        read_dicom(path, dtype=np.float32), expected(stored.astype(np.float64)), atol=1e-6
    )


# --- colour, frames, compression --------------------------------------------------------------


def test_rgb_to_grey_with_bt601_luma(tmp_path, make_dicom):
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[0, 1] = (0, 255, 0)
    rgb[0, 2] = (0, 0, 255)
    rgb[1, :] = (255, 255, 255)
    rgb[1, 2] = (10, 20, 30)
    path = make_dicom(tmp_path / "rgb.dcm", rgb, photometric="RGB")
    out = read_dicom(path)
    assert out.shape == (2, 3)
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    np.testing.assert_array_equal(out, np.rint(expected).astype(np.uint8))
    assert out[0].tolist() == [76, 150, 29]


def test_ybr_jpeg_colour_file_matches_pydicom_rgb():
    path = PYDICOM_FILES / "SC_rgb_jpeg_dcmtk.dcm"
    ds = pydicom.dcmread(path)
    ds.pixel_array_options(decoding_plugin="pillow")  # what read_dicom uses for JPEG
    rgb = ds.pixel_array.astype(np.float64)
    expected = rgb @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(read_dicom(path, dtype=np.float32), expected / 255, atol=1e-5)


def test_palette_colour_goes_through_its_lut():
    from pydicom.pixels import apply_color_lut

    path = PYDICOM_FILES / "examples_palette.dcm"
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "PALETTE COLOR"
    rgb = apply_color_lut(ds.pixel_array, ds).astype(np.float64)
    top = 2.0 ** ds.RedPaletteColorLookupTableDescriptor[2] - 1
    expected = (rgb @ np.array([0.299, 0.587, 0.114])) / top
    np.testing.assert_allclose(read_dicom(path, dtype=np.float32), expected, atol=1e-5)


def test_multi_frame_gives_first_frame_with_warning(tmp_path, make_dicom):
    frames = np.stack([np.full((4, 5), v, np.uint8) for v in (10, 20, 30)])
    path = make_dicom(tmp_path / "mf.dcm", frames)
    with pytest.warns(UserWarning, match=r"3 frames.*first"):
        out = read_dicom(path)
    np.testing.assert_array_equal(out, frames[0])


def test_single_frame_does_not_warn(tmp_path, make_dicom, gradient8):
    path = make_dicom(tmp_path / "a.dcm", gradient8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_dicom(path)


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_rle_lossless_is_exact(tmp_path, make_dicom, bits):
    rng = np.random.default_rng(1234)
    dtype = np.uint8 if bits == 8 else np.uint16
    pixels = rng.integers(0, 2**bits, size=(33, 47)).astype(dtype)
    plain = make_dicom(tmp_path / "plain.dcm", pixels, bits_stored=bits)
    rle = make_dicom(tmp_path / "rle.dcm", pixels, bits_stored=bits, syntax="rle")
    assert pydicom.dcmread(rle).file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
    np.testing.assert_array_equal(
        read_dicom(rle, dtype=np.float32), read_dicom(plain, dtype=np.float32)
    )


def test_jpeg_baseline_within_jpeg_tolerance(tmp_path, make_dicom):
    yy, xx = np.mgrid[:128, :160]
    pixels = (128 + 90 * np.sin(xx / 9.0) * np.cos(yy / 13.0)).astype(np.uint8)
    path = make_dicom(tmp_path / "j.dcm", pixels, syntax="jpeg", jpeg_quality=95)
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.JPEGBaseline8Bit
    out = read_dicom(path)
    diff = np.abs(out.astype(int) - pixels)
    assert diff.mean() < 1.5 and diff.max() <= 12
    # and the very pixels pydicom's own decoding gives with the same plugin
    ds.pixel_array_options(decoding_plugin="pillow")
    np.testing.assert_array_equal(out, ds.pixel_array)


def test_jpeg_baseline_uses_the_pillow_plugin(tmp_path, make_dicom, gradient8):
    path = make_dicom(tmp_path / "j.dcm", gradient8, syntax="jpeg")
    ds = pydicom.dcmread(path)
    decoder, plugin = _choose_plugin(str(path), ds)
    assert plugin == "pillow"
    plain = make_dicom(tmp_path / "p.dcm", gradient8)
    assert _choose_plugin(str(plain), pydicom.dcmread(plain))[1] == ""


@pytest.mark.parametrize(
    "variant",
    [
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_expb.dcm",
        "MR_small_RLE.dcm",
        "MR_small_padded.dcm",
    ],
)
def test_pydicom_transfer_syntax_variants_agree(variant):
    reference = read_dicom(PYDICOM_FILES / "MR_small.dcm", dtype=np.float32)
    np.testing.assert_array_equal(read_dicom(PYDICOM_FILES / variant, dtype=np.float32), reference)


@pytest.mark.parametrize("path", ALL_TEST_FILES, ids=lambda p: str(p.relative_to(PYDICOM_FILES)))
def test_every_pydicom_test_file_reads_or_raises_dicom_error(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multi-frame files warn
        for dtype, top in ((np.uint8, 255), (np.float32, 1.0)):
            try:
                out = read_dicom(path, dtype=dtype)
            except DicomError as err:
                assert str(path) in str(err)
                continue
            assert out.ndim == 2 and out.dtype == dtype and out.size > 0
            assert out.flags.c_contiguous
            assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= top
        try:
            meta = read_dicom_meta(path)
        except DicomError as err:
            assert str(path) in str(err)
        else:
            assert set(meta) >= {
                "age",
                "sex",
                "view",
                "pixel_spacing",
                "rows",
                "columns",
                "transfer_syntax",
            }


# --- bad input --------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(DicomError, match=r"nope\.dcm.*no such file"):
        read_dicom(tmp_path / "nope.dcm")
    with pytest.raises(DicomError, match="no such file"):
        read_dicom_meta(tmp_path / "nope.dcm")
    with pytest.raises(DicomError, match="is a directory"):
        read_dicom(tmp_path)


def test_not_dicom(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("ImageId, EncodedPixels\n")
    with pytest.raises(DicomError, match=r"notes\.dcm: not a DICOM file"):
        read_dicom(path)
    with pytest.raises(DicomError, match="not a DICOM file"):
        read_dicom_meta(path)
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    with pytest.raises(DicomError, match=r"empty\.dcm"):
        read_dicom(empty)


@pytest.mark.parametrize("keep", [140, 300, -100])
def test_truncated_file(tmp_path, make_dicom, gradient8, keep):
    path = make_dicom(tmp_path / "a.dcm", gradient8)
    data = path.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[:keep])
    with pytest.raises(DicomError, match=r"cut\.dcm"):
        read_dicom(cut)


def test_truncated_pixel_data_message(tmp_path, make_dicom, gradient8):
    path = make_dicom(tmp_path / "a.dcm", gradient8)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DicomError, match=r"cut\.dcm: the file is truncated \(the pixel data "
                       r"declares 2,240 bytes but 2,140 are present\)"):
        read_dicom(cut)
    # the header is intact: the metadata still reads
    assert read_dicom_meta(cut)["rows"] == gradient8.shape[0]


@pytest.mark.parametrize("keep", [0.999, 0.9, 0.5])
def test_truncated_jpeg_pixel_data_says_truncated(tmp_path, make_dicom, keep):
    """Issue 19.15: an encapsulated (JPEG) file cut inside its pixel data was 'no pixel data'."""
    rng = np.random.default_rng(0)
    path = make_dicom(tmp_path / "a.dcm", rng.integers(0, 255, (64, 64), dtype=np.uint8),
                      syntax="jpeg", SOPClassUID="1.2.840.10008.5.1.4.1.1.7")
    data = path.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DicomError, match=r"cut\.dcm: the file is truncated inside its pixel data"):
        read_dicom(cut)
    assert read_dicom_meta(cut)["rows"] == 64


def _rescaled_file(path, slope, intercept):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.set_pixel_data(np.arange(64, dtype=np.uint16).reshape(8, 8) * 60, "MONOCHROME2", 12)
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("slope, intercept", [(1e308, 0), (1, 1e308), (-1e308, 0)])
def test_non_finite_rescale_is_a_dicom_error(tmp_path, slope, intercept):
    """Issue 19.6: extreme rescale gave NaN pixels, and load_sample a black image, silently."""
    path = _rescaled_file(tmp_path / "ct.dcm", slope, intercept)
    for call in (
        lambda: read_dicom(path, dtype=np.float32),
        lambda: read_dicom(path),
        lambda: rlemask.load_sample(path, [], img_size=4),
    ):
        with pytest.raises(DicomError, match=r"ct\.dcm: RescaleSlope .* non-finite"):
            call()


def _huge_sparse_file(path, rows):
    """A DICOM whose header claims rows x rows 16-bit pixels, stored sparse (almost no disk)."""
    import io
    import struct

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.set_pixel_data(np.zeros((16, 16), np.uint16), "MONOCHROME2", 16)
    ds.Rows = ds.Columns = rows
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    raw = bytearray(buf.getvalue())
    at = raw.rfind(b"\xe0\x7f\x10\x00")
    size = rows * rows * 2
    raw[at + 8 : at + 12] = struct.pack("<I", size)
    raw = raw[: at + 12]
    with open(path, "wb") as fh:
        fh.write(raw)
        fh.truncate(len(raw) + size)
    return path


def test_huge_claimed_image_refused_before_decoding(tmp_path):
    """Issue 19.10: a sparse 2 GiB file took 14-20 s and > 12 GiB before failing."""
    path = _huge_sparse_file(tmp_path / "huge.dcm", 32768)
    start = time.perf_counter()
    with pytest.raises(DicomError, match=r"huge\.dcm: the header claims 32,768 x 32,768 pixels, "
                       r"more than max_pixels=268,435,456"):
        read_dicom(path)
    assert time.perf_counter() - start < 2.0  # refused from the header, nothing read
    with pytest.raises(DicomError, match=r"more than max_pixels=1,000"):
        read_dicom(_huge_sparse_file(tmp_path / "small.dcm", 64), max_pixels=1000)
    assert read_dicom(_huge_sparse_file(tmp_path / "ok.dcm", 64), max_pixels=None).shape == (64, 64)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_max_pixels_validated(tmp_path, make_dicom, gradient8, bad):
    path = make_dicom(tmp_path / "a.dcm", gradient8)
    with pytest.raises(ValueError, match="`max_pixels` must be a positive int or None"):
        read_dicom(path, max_pixels=bad)


def _no_pixel_file(path, sop_class, **tags):
    """A DICOM file without pixel data (e.g. a structured report)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = sop_class
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_no_pixel_data(tmp_path):
    path = _no_pixel_file(tmp_path / "report.dcm", "1.2.840.10008.5.1.4.1.1.88.11", PatientSex="F")
    with pytest.raises(DicomError, match=r"report\.dcm: no pixel data"):
        read_dicom(path)
    assert read_dicom_meta(path)["sex"] == "F"


def test_unsupported_transfer_syntax(tmp_path, make_dicom, gradient8):
    path = make_dicom(tmp_path / "a.dcm", gradient8, syntax="jpeg")
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no pixel decoder
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomError, match=r"a\.dcm: transfer syntax .*MPEG2.* is not supported"):
        read_dicom(path)
    assert read_dicom_meta(path)["transfer_syntax"] == "1.2.840.10008.1.2.4.100"


def test_missing_decoder_names_the_package(tmp_path, make_dicom, gradient8, monkeypatch):
    from pydicom.pixels import get_decoder

    path = make_dicom(tmp_path / "j.dcm", gradient8, syntax="jpeg")
    decoder = get_decoder(pydicom.uid.JPEGBaseline8Bit)
    # as if no JPEG package were installed: pydicom's dependency table is what we report
    monkeypatch.setattr(decoder, "_available", {})
    monkeypatch.setattr(
        decoder,
        "_unavailable",
        {"pillow": ("pillow>=10.0",), "pylibjpeg": ("pylibjpeg>=2.0", "pylibjpeg-libjpeg>=2.1")},
    )
    with pytest.raises(
        DicomError,
        match=r"j\.dcm: no decoder installed for JPEG Baseline.*pillow - requires pillow>=10\.0",
    ) as info:
        read_dicom(path)
    assert "pylibjpeg-libjpeg" in str(info.value)


def test_decoder_failure_is_a_dicom_error(tmp_path, make_dicom, gradient8):
    path = make_dicom(tmp_path / "j.dcm", gradient8, syntax="jpeg")
    data = bytearray(path.read_bytes())
    start = data.find(b"\xff\xd8")  # the JPEG stream inside the encapsulated pixel data
    data[start : start + 64] = b"\x00" * 64
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(bytes(data))
    with pytest.raises(DicomError, match=r"bad\.dcm: cannot decode the pixel data"):
        read_dicom(bad)


@pytest.mark.parametrize("syntax", ["explicit", "rle", "jpeg"])
def test_corrupted_bytes_give_dicom_error_or_an_image(tmp_path, make_dicom, gradient8, syntax):
    """Seeded byte-flip fuzzing: never an exception type other than DicomError."""
    path = make_dicom(
        tmp_path / "a.dcm",
        gradient8,
        syntax=syntax,
        WindowCenter=100,
        WindowWidth=50,
        RescaleSlope=1,
        RescaleIntercept=0,
        PatientAge="058Y",
    )
    data = path.read_bytes()
    rng = np.random.default_rng(1234)
    bad = tmp_path / "bad.dcm"
    outcomes = set()
    for _ in range(60):
        mutant = bytearray(data)
        for pos in rng.integers(128, len(data), size=int(rng.integers(1, 6))):
            mutant[pos] = int(rng.integers(0, 256))
        bad.write_bytes(bytes(mutant))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fn in (read_dicom, read_dicom_meta):
                try:
                    out = fn(bad)
                    outcomes.add("ok")
                    if fn is read_dicom:
                        assert out.ndim == 2 and out.dtype == np.uint8
                except DicomError as err:
                    assert "bad.dcm" in str(err)
                    outcomes.add("error")
    assert "ok" in outcomes


def test_bad_parameters(tmp_path, make_dicom, gradient8):
    path = make_dicom(tmp_path / "a.dcm", gradient8)
    with pytest.raises(ValueError, match="`dtype`.*float64"):
        read_dicom(path, dtype=np.float64)
    with pytest.raises(TypeError, match="`path`.*int"):
        read_dicom(42)


def test_dicom_error_is_exported_and_a_value_error():
    assert rlemask.DicomError is DicomError and issubclass(DicomError, ValueError)


# --- metadata ---------------------------------------------------------------------------------


def test_meta_of_a_siim_like_file(tmp_path, make_dicom, gradient8):
    path = make_dicom(
        tmp_path / "a.dcm",
        gradient8,
        syntax="jpeg",
        PatientAge="058Y",
        PatientSex="M",
        ViewPosition="PA",
        PixelSpacing=[0.168, 0.168],
        BodyPartExamined="CHEST",
    )
    meta = read_dicom_meta(os.fspath(path))
    assert meta["age"] == 58
    assert meta["sex"] == "M"
    assert meta["view"] == "PA"
    assert meta["pixel_spacing"] == (0.168, 0.168)
    assert (meta["rows"], meta["columns"]) == gradient8.shape
    assert meta["transfer_syntax"] == "1.2.840.10008.1.2.4.50"
    assert meta["modality"] == "CR" and meta["body_part"] == "CHEST"
    assert meta["frames"] == 1


def test_meta_when_tags_are_missing_or_odd(tmp_path, make_dicom, gradient8):
    path = make_dicom(tmp_path / "a.dcm", gradient8, ViewPosition="LL", PixelSpacing=[0, 0.2])
    meta = read_dicom_meta(path)
    assert meta["age"] is None and meta["sex"] is None
    assert meta["view"] is None and meta["view_position"] == "LL"
    assert meta["pixel_spacing"] is None


@pytest.mark.parametrize(
    ("value", "years"),
    [
        ("058Y", 58),
        ("58", 58),
        ("058", 58),
        (" 61Y ", 61),
        ("058y", 58),
        ("000Y", 0),
        ("006M", 0),
        ("018M", 1),
        ("030W", 0),
        ("104W", 2),
        ("400D", 1),
        ("413Y", None),
        ("131", None),
        ("130Y", 130),
        ("", None),
        ("abc", None),
        ("-5Y", None),
        ("5.5Y", None),
        (None, None),
        (45, 45),
        (999, None),
    ],
)
def test_parse_age(value, years):
    assert _parse_age(value) == years


def test_meta_is_fast_header_only_read(tmp_path, make_dicom, monkeypatch):
    # read_dicom_meta asks pydicom's reader to stop at the pixel data
    import pydicom.filereader

    stops = []
    real = pydicom.filereader.read_partial

    def spy(fileobj, stop_when=None, **kwargs):
        stops.append(stop_when)
        return real(fileobj, stop_when=stop_when, **kwargs)

    monkeypatch.setattr(pydicom.filereader, "read_partial", spy)
    path = make_dicom(tmp_path / "a.dcm", np.zeros((8, 8), np.uint8))
    meta = read_dicom_meta(path)
    assert meta["rows"] == 8
    assert stops and stops[-1] is not None
    assert stops[-1](pydicom.tag.Tag(0x7FE00010), "OB", 64) is True


# --- files that cannot be DICOM images, whatever their size (issue 9) -------------------------


def _meta_prefix(path):
    """Preamble, ``DICM`` and the File Meta Information group of a real file."""
    data = path.read_bytes()
    pos = 132
    while data[pos : pos + 2] == b"\x02\x00":
        vr = data[pos + 4 : pos + 6]
        if vr in (b"OB", b"UN", b"UT", b"OW", b"SQ", b"UR", b"UC"):
            pos += 12 + int.from_bytes(data[pos + 8 : pos + 12], "little")
        else:
            pos += 8 + int.from_bytes(data[pos + 6 : pos + 8], "little")
    return data[:pos]


def _sparse(path, prefix, size):
    """``prefix`` then zeros up to ``size`` bytes, as a sparse file (no disk used)."""
    with open(path, "wb") as handle:
        handle.write(prefix)
        handle.truncate(size)
    return path


@pytest.mark.parametrize("size", [64 * 2**20, 2 * 2**30], ids=["64MiB", "2GiB"])
@pytest.mark.parametrize("with_meta", [False, True], ids=["bare", "meta"])
def test_dicm_then_zeros_fails_fast(tmp_path, make_dicom, gradient8, size, with_meta):
    # before: pydicom parsed the zeros as millions of empty elements (20 s for 64 MiB)
    prefix = b"\x00" * 128 + b"DICM"
    if with_meta:
        prefix = _meta_prefix(make_dicom(tmp_path / "real.dcm", gradient8))
    path = _sparse(tmp_path / "zeros.dcm", prefix, size)
    for fn in (read_dicom, read_dicom_meta):
        start = time.perf_counter()
        with pytest.raises(DicomError, match=r"zeros\.dcm: not a valid DICOM file"):
            fn(path)
        # a bound on failing, not a speed claim: the old reader needed minutes for 2 GiB
        assert time.perf_counter() - start < 5.0


def test_repeated_filler_elements_fail_fast(tmp_path, make_dicom, gradient8):
    # a valid header, then one tag over and over: stopped at the first repeat
    prefix = _meta_prefix(make_dicom(tmp_path / "real.dcm", gradient8))
    filler = b"\x08\x00\x05\x00CS\x00\x00" * 200_000  # (0008,0005) CS, empty
    path = tmp_path / "filler.dcm"
    path.write_bytes(prefix + filler)
    with pytest.raises(DicomError, match=r"filler\.dcm: not a valid DICOM file.*out of order"):
        read_dicom(path)
    with pytest.raises(DicomError, match=r"filler\.dcm"):
        read_dicom_meta(path)


def test_a_tag_out_of_order_still_reads(tmp_path, make_dicom, gradient8):
    # pydicom reads files whose writer got the order wrong once: so does read_dicom
    path = make_dicom(tmp_path / "a.dcm", gradient8, PatientSex="F")
    data = path.read_bytes()
    # rename (0010,0040) Patient's Sex to (0008,0040), which sorts before earlier tags
    at = data.index(b"\x10\x00\x40\x00CS")
    odd = tmp_path / "order.dcm"
    odd.write_bytes(data[:at] + b"\x08\x00\x40\x00CS" + data[at + 6 :])
    np.testing.assert_array_equal(read_dicom(odd), gradient8)


def test_many_tags_out_of_order_are_filler(tmp_path, make_dicom, gradient8):
    # a valid header, then elements whose tags go down and up: stopped early
    prefix = _meta_prefix(make_dicom(tmp_path / "real.dcm", gradient8))
    element = b"\x08\x00\x05\x00CS\x00\x00", b"\x10\x00\x10\x00PN\x00\x00"
    path = tmp_path / "zigzag.dcm"
    path.write_bytes(prefix + b"".join(element) * 100_000)
    with pytest.raises(DicomError, match=r"zigzag\.dcm: not a valid DICOM file.*out of order"):
        read_dicom(path)


def _explicit_elements(data, start):
    """(offset of the VR, VR) of each top-level explicit VR element from ``start``."""
    pos, out = start, []
    while pos + 8 <= len(data):
        vr = data[pos + 4 : pos + 6]
        out.append((pos + 4, vr))
        if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
            length = int.from_bytes(data[pos + 8 : pos + 12], "little")
            pos += 12 + (0 if length == 0xFFFFFFFF else length)
            if length == 0xFFFFFFFF:
                break
        else:
            pos += 8 + int.from_bytes(data[pos + 6 : pos + 8], "little")
    return out


def test_unknown_value_representation_is_a_dicom_error(tmp_path, make_dicom, gradient8):
    """Each element's VR in turn made unknown ("ZZ"): a DicomError naming the file, or an image."""
    path = make_dicom(tmp_path / "a.dcm", gradient8, PatientSex="F", PatientAge="058Y")
    data = path.read_bytes()
    elements = _explicit_elements(data, len(_meta_prefix(path)))
    assert len(elements) > 10
    bad = tmp_path / "vr.dcm"
    errors = 0
    for at, _ in elements:
        bad.write_bytes(data[:at] + b"ZZ" + data[at + 2 :])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fn in (read_dicom, read_dicom_meta):
                try:
                    fn(bad)
                except DicomError as err:
                    assert "vr.dcm" in str(err)
                    errors += 1
    assert errors > 0


def test_no_pixel_data_and_an_unknown_vr_sop_class(tmp_path):
    # before: NotImplementedError escaped while the "no pixel data" message read SOPClassUID
    path = _no_pixel_file(tmp_path / "novr.dcm", "1.2.840.10008.5.1.4.1.1.7")
    data = path.read_bytes()
    at = data.index(b"\x08\x00\x16\x00UI") + 4
    path.write_bytes(data[:at] + b"ZZ" + data[at + 2 :])
    with pytest.raises(DicomError, match=r"novr\.dcm: no pixel data.*Unknown Value Representation"):
        read_dicom(path)
