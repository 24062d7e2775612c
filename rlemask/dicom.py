"""Reading DICOM images and their metadata (pydicom 3).

One function turns a file into the (H, W) grey image a model sees,
:func:`read_dicom`, and one reads the few tags a data-set summary needs,
:func:`read_dicom_meta`.  Every problem with a file -- not DICOM, truncated,
no pixel data, a transfer syntax nobody can decode, a decoder package that is
not installed -- raises :class:`rlemask.DicomError` naming the file and the
reason; no other exception type escapes for a file problem.

How pixel values become 0..1 (the same rule for both output dtypes):

1. Decode the first frame with pydicom's decoder plugins.  For JPEG Baseline
   (and 8-bit JPEG Extended) the Pillow plugin is chosen explicitly: it
   decodes a 1024 x 1024 chest X-ray about 4x faster than pylibjpeg.  Other
   syntaxes let pydicom try every installed plugin.
2. Colour (RGB, YBR -> RGB by pydicom, PALETTE COLOR through its LUT) is
   converted to grey with the ITU-R BT.601 luma weights
   0.299 R + 0.587 G + 0.114 B.
3. The Modality LUT is applied: *Rescale Slope* / *Rescale Intercept*, or a
   *Modality LUT Sequence*.
4. The display range is chosen, in this order of precedence:

   a. **Data of 8 bits or fewer** (*Bits Stored* <= 8, no Modality LUT
      Sequence): the stored range, 0..255 for 8 bits (-128..127 when signed,
      0..2**BitsStored - 1 for fewer bits); the window, if any, is ignored,
      so an 8-bit image comes back unchanged.
   b. **A VOI window** (*Window Center* / *Window Width*, first value when
      several are given, width >= 1) on grey data with more than 8 bits: the
      DICOM ``LINEAR`` function (or ``LINEAR_EXACT`` / ``SIGMOID`` when
      *VOI LUT Function* says so), in rescaled units.  A *VOI LUT Sequence*
      is not used.  Pass ``window=False`` to skip this step.
   c. Otherwise **the stored bit depth**: the whole range a *Bits Stored*
      value can hold (``0 .. 2**BitsStored - 1``, or the signed range),
      mapped through the rescale.

   Values are never stretched by the image's own minimum and maximum: two
   images with the same stored value give the same output value.
5. ``MONOCHROME1`` (white = low values) is inverted, so bright is dense
   everywhere.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> import pydicom
>>> from pydicom.dataset import Dataset, FileMetaDataset
>>> from pydicom.uid import ExplicitVRLittleEndian, generate_uid
>>> ds = Dataset()
>>> ds.file_meta = FileMetaDataset()
>>> ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
>>> ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
>>> ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
>>> ds.PatientAge, ds.PatientSex, ds.ViewPosition = "058Y", "F", "PA"
>>> pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
>>> ds.set_pixel_data(pixels, "MONOCHROME2", 8)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "x.dcm"
>>> ds.save_as(path, enforce_file_format=True)
>>> read_dicom(path).tolist()
[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
>>> meta = read_dicom_meta(path)
>>> meta["age"], meta["sex"], meta["view"], meta["rows"], meta["columns"]
(58, 'F', 'PA', 3, 4)
"""

from __future__ import annotations

import math
import os
import re
import struct
import warnings
import zlib
from typing import Any

import numpy as np
from pydicom.errors import BytesLengthException, InvalidDicomError

from rlemask._errors import DicomError
from rlemask._validation import check_path

__all__ = ["MAX_PIXELS", "read_dicom", "read_dicom_meta", "read_dicom_scaled"]

#: Largest image (rows x columns x frames) read by default: 2**28 pixels (16,384 squared),
#: 16 times a 4,096-squared mammogram.  A header claiming more is refused before any
#: pixel is decoded, so one hostile or damaged file cannot take a job's memory;
#: pass ``max_pixels=`` for larger images.
MAX_PIXELS = 1 << 28

# ITU-R BT.601 luma weights (the ones JPEG's YCbCr and most viewers use)
_LUMA = (0.299, 0.587, 0.114)

# transfer syntaxes where the Pillow plugin is preferred when it is available
_JPEG_8BIT = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")

# What pydicom (and the codecs behind it) raise for a damaged or odd file;
# found by reading every pydicom test file and by byte-flip fuzzing (tests).
# Listed rather than ``Exception`` so that a programming error elsewhere
# (NameError, ...) keeps its own type; each is re-raised as DicomError
# chained to the original, so nothing is hidden.
_FILE_FAILURES: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    NotImplementedError,
    RuntimeError,
    EOFError,
    OSError,
    struct.error,
    zlib.error,
    OverflowError,
    ZeroDivisionError,
    UnicodeError,
    MemoryError,
    BytesLengthException,  # pydicom's own, derived from Exception only
    InvalidDicomError,
)

# "058Y", "58", "3M" ... the DICOM AS value representation, loosely read
_AGE = re.compile(r"^\s*(\d{1,4})\s*([DWMY]?)\s*$", re.IGNORECASE)
_MAX_AGE = 130


def _check_path(path: Any) -> str:
    name = check_path(path)
    if not os.path.isfile(name):
        reason = "is a directory" if os.path.isdir(name) else "no such file"
        raise DicomError(f"{name}: cannot read DICOM: {reason}")
    return name


class _Malformed(Exception):
    """Raised inside pydicom's reader to stop a data set that cannot be DICOM."""


class _Truncated(Exception):
    """Raised inside pydicom's reader when the file ends before the pixel data does."""


class _TooLarge(Exception):
    """Raised inside pydicom's reader when the header claims more than ``max_pixels``."""


# Pixel Data, Float Pixel Data, Double Float Pixel Data
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_ROWS, _COLUMNS = 0x00280010, 0x00280011


# value representations with a 4-byte length in explicit VR (PS3.5 7.1.2)
_LONG_VRS = frozenset(
    (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV")
)
# a real File Meta Information group has about 10 elements
_MAX_META_ELEMENTS = 256
# top-level elements out of order tolerated before a file is taken for filler
_MAX_DISORDER = 16


def _check_header(fh: Any) -> None:
    """Reject, from the first few hundred bytes, a Part 10 file that cannot hold an image.

    pydicom reads a ``DICM`` file element by element; a file of zeros after
    the prefix parses as millions of empty command-set elements (about 20 s
    for 64 MiB, minutes for 2 GiB).  A stored DICOM file has its File Meta
    Information (group 0002) right after ``DICM`` and never a command set
    (group 0000, which belongs to network messages) after it, so both are
    checked here, whatever the file's size.  Files without ``DICM`` are left
    to pydicom, which refuses them at once.
    """
    head = fh.read(132)
    if len(head) < 132 or head[128:132] != b"DICM":
        return
    elements = 0
    while True:
        start = fh.tell()
        tag = fh.read(8)
        if len(tag) < 8:
            return  # truncated: pydicom says so
        group, elem = struct.unpack("<HH", tag[:4])
        if group != 0x0002:
            break
        elements += 1
        if tag[4:6] in _LONG_VRS:
            more = fh.read(4)
            if len(more) < 4:
                return
            length = struct.unpack("<I", more)[0]
        else:
            length = struct.unpack("<H", tag[6:8])[0]
        if elements > _MAX_META_ELEMENTS or length == 0xFFFFFFFF:
            raise _Malformed(f"the File Meta Information at byte {start} is not valid")
        fh.seek(length, os.SEEK_CUR)
    if elements == 0:
        raise _Malformed(
            "'DICM' is not followed by the File Meta Information (group 0002) "
            f"but by tag ({group:04X},{elem:04X})"
        )
    if group == 0x0000:
        raise _Malformed(
            f"a command set (group 0000) at byte {start} where the data set should start"
        )


class _TagOrder:
    """``stop_when`` for pydicom's reader: stops filler bytes parsed as elements.

    The tags of a data set ascend (PS3.5 7.1).  A few writers get that
    wrong now and then, and pydicom reads such files, so a few tags out of
    order (or repeated) are tolerated; filler -- a file of one element over
    and over, or of bytes that parse as random tags -- breaks the order at
    nearly every element and is stopped after :data:`_MAX_DISORDER` of them
    instead of being parsed to its end.  (pydicom may ask twice about the
    first element, when it checks the VR encoding: that is not counted.)
    """

    def __init__(self, stop_before_pixels: bool, fh: Any = None, max_pixels: int = 0) -> None:
        self.last = -1
        self.calls = 0
        self.disorder = 0
        self.stop_before_pixels = stop_before_pixels
        self.fh = fh
        self.max_bytes = 8 * max_pixels  # 4 samples of 16 bits: the most a pixel can take
        self.saw_pixels = False  # a truncated file loses its pixel element silently
        self.max_pixels = max_pixels
        self.dims: dict[int, int] = {}  # Rows, Columns as the header gives them

    def _peek_dimension(self, tag: int, length: int) -> None:
        """Note Rows / Columns (US, 2 bytes) without disturbing pydicom's reader."""
        if self.fh is None or length != 2:
            return
        where = self.fh.tell()
        value = self.fh.read(2)
        self.fh.seek(where)
        if len(value) == 2:
            self.dims[tag] = struct.unpack("<H", value)[0]

    def _check_pixel_length(self, length: int) -> None:
        """Compare the pixel data's declared length with the file and the pixel limit."""
        if self.fh is None or length == 0xFFFFFFFF:  # encapsulated: checked after parsing
            return
        pixels = self.dims.get(_ROWS, 0) * self.dims.get(_COLUMNS, 0)
        if self.max_pixels and pixels > self.max_pixels:
            raise _TooLarge(
                f"the header claims {self.dims[_ROWS]:,} x {self.dims[_COLUMNS]:,} pixels, "
                f"more than max_pixels={self.max_pixels:,}; pass a larger max_pixels to read it"
            )
        if self.max_bytes and length > self.max_bytes:
            raise _TooLarge(
                f"the pixel data declares {length:,} bytes, more than max_pixels allows "
                f"({self.max_bytes // 8:,} pixels); pass a larger max_pixels to read it"
            )
        left = os.fstat(self.fh.fileno()).st_size - self.fh.tell()
        if length > left:
            raise _Truncated(f"the pixel data declares {length:,} bytes but {left:,} are present")

    def __call__(self, tag: int, vr: Any, length: int) -> bool:
        tag = int(tag)
        self.calls += 1
        if tag in (_ROWS, _COLUMNS):
            self._peek_dimension(tag, int(length))
        elif tag in _PIXEL_TAGS:
            self.saw_pixels = True
            if not self.stop_before_pixels:
                self._check_pixel_length(int(length))
        if tag <= self.last and not (self.calls == 2 and tag == self.last):
            self.disorder += 1
            if self.disorder > _MAX_DISORDER:
                raise _Malformed(
                    f"{self.disorder} data elements out of order, the last "
                    f"({tag >> 16:04X},{tag & 0xFFFF:04X}) after "
                    f"({self.last >> 16:04X},{self.last & 0xFFFF:04X}): not a data set"
                )
        self.last = tag
        return self.stop_before_pixels and tag in _PIXEL_TAGS


def _dcmread(name: str, *, stop_before_pixels: bool = False, max_pixels: int = 0) -> Any:
    from pydicom.filereader import read_partial

    try:
        with open(name, "rb") as fh:
            _check_header(fh)
            fh.seek(0)
            order = _TagOrder(stop_before_pixels, fh, max_pixels)
            ds = read_partial(fh, stop_when=order)
    except _Truncated as err:
        raise DicomError(f"{name}: the file is truncated ({err})") from None
    except _TooLarge as err:
        raise DicomError(f"{name}: {err}") from None
    except _Malformed as err:
        raise DicomError(f"{name}: not a valid DICOM file ({err})") from None
    except InvalidDicomError as err:
        raise DicomError(f"{name}: not a DICOM file ({err})") from err
    except _FILE_FAILURES as err:
        raise DicomError(f"{name}: cannot parse DICOM ({type(err).__name__}: {err})") from err
    if order.saw_pixels and not stop_before_pixels and not any(
        int(tag) in _PIXEL_TAGS for tag in ds.keys()
    ):
        # pydicom drops an encapsulated element that the end of the file cuts off
        raise DicomError(f"{name}: the file is truncated inside its pixel data")
    return ds


def _check_size(name: str, ds: Any, max_pixels: int) -> None:
    """Refuse, before decoding, an image whose header claims more than ``max_pixels``."""
    try:
        rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except _FILE_FAILURES:
        return  # pydicom's own validation names the bad value
    if max_pixels and rows * columns * max(frames, 1) > max_pixels:
        raise DicomError(
            f"{name}: the header claims {rows:,} x {columns:,} pixels x {frames} frame(s), "
            f"more than max_pixels={max_pixels:,}; pass a larger max_pixels to read it"
        )


def _choose_plugin(name: str, ds: Any) -> tuple[Any, str]:
    """The pydicom decoder for the file's transfer syntax and the plugin to ask for.

    Returns ``(decoder, plugin)``; ``plugin == ""`` lets pydicom try every
    available plugin in its own order.
    """
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID

    meta = getattr(ds, "file_meta", None)
    tsyntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if not tsyntax:
        raise DicomError(f"{name}: the file meta has no Transfer Syntax UID")
    tsyntax = UID(str(tsyntax))
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        raise DicomError(
            f"{name}: transfer syntax {tsyntax.name} ({tsyntax}) is not supported by pydicom"
        ) from None
    if not decoder.is_encapsulated:
        return decoder, ""
    if not decoder.is_available:
        needs = "; ".join(decoder.missing_dependencies) or "no plugin registered"
        raise DicomError(
            f"{name}: no decoder installed for {tsyntax.name} ({tsyntax}); "
            f"install the package one of pydicom's plugins needs: {needs}"
        )
    try:
        bits = int(ds.get("BitsStored", 8))
    except _FILE_FAILURES:
        bits = 0  # let pydicom's validation report it
    if str(tsyntax) in _JPEG_8BIT and bits == 8 and "pillow" in decoder.available_plugins:
        return decoder, "pillow"
    return decoder, ""


def _decode_first_frame(name: str, ds: Any) -> tuple[np.ndarray, dict[str, Any], int]:
    from pydicom.pixels import as_pixel_options

    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        try:  # reading a value converts it: an unknown VR raises here
            sop_class = ds.get("SOPClassUID", "unknown")
        except _FILE_FAILURES as err:
            sop_class = f"unreadable: {type(err).__name__}: {err}"
        raise DicomError(f"{name}: no pixel data (not an image: SOP class {sop_class})")
    decoder, plugin = _choose_plugin(name, ds)
    try:
        opts = as_pixel_options(ds)
        frames = int(opts.get("number_of_frames", 1) or 1)
        arr, props = decoder.as_array(ds, index=0, decoding_plugin=plugin, **opts)
    except _FILE_FAILURES as err:
        reason = f"{name}: cannot decode the pixel data ({type(err).__name__}: {err})"
        if decoder.is_encapsulated and decoder.missing_dependencies:
            reason += "; plugins that are not installed might decode it: " + "; ".join(
                decoder.missing_dependencies
            )
        raise DicomError(reason) from err
    return arr, props, frames


def _luma(arr: np.ndarray) -> np.ndarray:
    out = arr[..., 0].astype(np.float32) * np.float32(_LUMA[0])
    out += arr[..., 1].astype(np.float32) * np.float32(_LUMA[1])
    out += arr[..., 2].astype(np.float32) * np.float32(_LUMA[2])
    return out


def _stored_range(bits: int, signed: bool) -> tuple[float, float]:
    if signed:
        return -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
    return 0.0, 2.0**bits - 1


def _first_number(value: Any) -> float | None:
    """The first value of a possibly multi-valued DS element, or None."""
    if value is None:
        return None
    try:
        if not isinstance(value, (str, bytes)) and hasattr(value, "__len__"):
            if len(value) == 0:
                return None
            value = value[0]
        out = float(value)
    except (TypeError, ValueError, IndexError):
        return None
    return out if math.isfinite(out) else None


def _window(ds: Any) -> tuple[float, float, str] | None:
    center = _first_number(ds.get("WindowCenter"))
    width = _first_number(ds.get("WindowWidth"))
    if center is None or width is None or width < 1:
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    return center, width, function


def _apply_window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2-3: rescaled values -> 0..1."""
    if function == "SIGMOID":
        out = 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    elif function == "LINEAR_EXACT":
        out = (values - center) / width + 0.5
    else:  # LINEAR (and anything unknown: the standard's default)
        if width < 2:  # width 1 is a threshold at center - 0.5
            return (values > center - 0.5).astype(np.float32)
        out = (values - (center - 0.5)) / (width - 1) + 0.5
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def _to_unit(name: str, ds: Any, arr: np.ndarray, props: dict[str, Any], window: bool) -> Any:
    """Map decoded pixels to float32 0..1 (or return an 8-bit array as-is).

    Returns either ``("u8", uint8 array)`` when the image is plain 8-bit
    MONOCHROME2-like data that needs no arithmetic, or ``("f", float32 0..1)``.
    """
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    photometric = str(props.get("photometric_interpretation", "") or "").strip().upper()
    bits = int(props.get("bits_stored") or ds.get("BitsStored") or 8)
    signed = bool(props.get("pixel_representation", 0))

    if arr.dtype.kind == "f":  # Float / Double Float Pixel Data: no stored range
        win = _window(ds) if window else None
        if win is None:
            raise DicomError(
                f"{name}: floating-point pixel data without a VOI window has no defined "
                "display range"
            )
        out = _apply_window(arr.astype(np.float64), *win)
        return "f", 1.0 - out if photometric == "MONOCHROME1" else out

    if photometric == "PALETTE COLOR":
        try:
            rgb = apply_color_lut(arr, ds)
            depth = int(ds.RedPaletteColorLookupTableDescriptor[2])
        except _FILE_FAILURES as err:
            raise DicomError(f"{name}: cannot apply the palette colour LUT ({err})") from err
        scale = 1.0 / (2.0 ** (8 if depth <= 8 else 16) - 1)
        return "f", np.clip(_luma(rgb[..., :3]) * np.float32(scale), 0.0, 1.0)

    if arr.ndim == 3:  # colour; pydicom already turned YBR into RGB (raw=False)
        if arr.shape[-1] < 3:
            raise DicomError(f"{name}: {arr.shape[-1]} samples per pixel is not supported")
        lo, hi = _stored_range(bits, signed)
        unit = (_luma(arr[..., :3]) - np.float32(lo)) * np.float32(1.0 / (hi - lo))
        return "f", np.clip(unit, 0.0, 1.0)

    has_lut_seq = bool(ds.get("ModalityLUTSequence"))
    if bits <= 8 and not has_lut_seq:
        # (a) 8-bit: the stored range is the display range -- unchanged output
        if bits == 8 and arr.dtype == np.uint8 and not signed:
            out8 = arr if photometric != "MONOCHROME1" else np.subtract(255, arr, dtype=np.uint8)
            return "u8", out8
        lo, hi = _stored_range(bits, signed)
        unit = (arr.astype(np.float32) - np.float32(lo)) * np.float32(1.0 / (hi - lo))
        unit = np.clip(unit, 0.0, 1.0)
        return "f", 1.0 - unit if photometric == "MONOCHROME1" else unit

    # Modality LUT: rescale (float) or a LUT sequence (uint8/uint16)
    lo, hi = _stored_range(bits, signed)
    try:
        if has_lut_seq:
            values = apply_modality_lut(arr, ds).astype(np.float64)
            depth = int(ds.ModalityLUTSequence[0].LUTDescriptor[2])
            lo, hi = 0.0, 2.0**depth - 1
        else:
            slope = _first_number(ds.get("RescaleSlope"))
            intercept = _first_number(ds.get("RescaleIntercept"))
            slope = 1.0 if slope is None or slope == 0 else slope
            intercept = 0.0 if intercept is None else intercept
            values = arr.astype(np.float64)
            if slope != 1.0 or intercept != 0.0:
                lo, hi = sorted((lo * slope + intercept, hi * slope + intercept))
                if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                    raise DicomError(
                        f"{name}: RescaleSlope {slope:g} and RescaleIntercept {intercept:g} "
                        f"map the stored range to a non-finite or empty range ({lo:g}..{hi:g})"
                    )
                values = values * slope + intercept
    except DicomError:
        raise
    except _FILE_FAILURES as err:
        raise DicomError(f"{name}: cannot apply the modality LUT ({err})") from err

    win = _window(ds) if window else None
    if win is not None:
        unit = _apply_window(values, *win)  # (b) the file's VOI window
    else:
        unit = np.clip((values - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)  # (c)
    return "f", 1.0 - unit if photometric == "MONOCHROME1" else unit


def read_dicom(
    path: str | os.PathLike,
    *,
    dtype: Any = np.uint8,
    window: bool = True,
    max_pixels: int | None = MAX_PIXELS,
) -> np.ndarray:
    """Read the (first) image of a DICOM file as a grey (H, W) array.

    Parameters
    ----------
    path : str or os.PathLike
        The DICOM file (Part 10, with the ``DICM`` preamble).
    dtype : {numpy.uint8, numpy.float32}
        ``uint8`` gives 0..255 (rounded), ``float32`` gives 0..1.  Both come
        from the same 0..1 mapping described in the module docstring.
    window : bool
        Use the file's VOI window for data with more than 8 bits (default).
        ``False`` maps by the stored bit depth only.
    max_pixels : int or None
        Refuse, before decoding, a file whose header claims more pixels
        (rows x columns x frames) than this; default :data:`MAX_PIXELS`.
        ``None`` lifts the limit.

    Returns
    -------
    numpy.ndarray
        (H, W), C-contiguous, of ``dtype``.  8-bit MONOCHROME2 data comes back
        unchanged (as float32: divided by 255).

    Raises
    ------
    rlemask.DicomError
        The file is missing, not DICOM, truncated, has no pixel data, uses a
        transfer syntax pydicom cannot decode, needs a decoder package that
        is not installed (the message names the package), claims more than
        ``max_pixels`` pixels, or its rescale or window gives non-finite values.
    ValueError
        ``dtype`` is neither uint8 nor float32, or ``max_pixels`` is not a
        positive integer.

    Warns
    -----
    UserWarning
        A multi-frame file: the first frame is returned.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from pydicom.dataset import Dataset, FileMetaDataset
    >>> from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    >>> ds = Dataset()
    >>> ds.file_meta = FileMetaDataset()
    >>> ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    >>> ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    >>> ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    >>> ds.set_pixel_data(np.array([[0, 2047], [4095, 1024]], np.uint16), "MONOCHROME1", 12)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x12.dcm"
    >>> ds.save_as(path, enforce_file_format=True)
    >>> read_dicom(path).tolist()      # 12-bit, inverted (MONOCHROME1)
    [[255, 128], [0, 191]]
    >>> read_dicom(path, dtype=np.float32).dtype
    dtype('float32')
    """
    out_dtype = np.dtype(dtype)
    if out_dtype not in (np.dtype(np.uint8), np.dtype(np.float32)):
        raise ValueError(f"`dtype` must be numpy.uint8 or numpy.float32; received dtype={dtype!r}")
    image, scale = read_dicom_scaled(path, window=window, max_pixels=max_pixels)
    if image.dtype == np.uint8:  # plain 8-bit data: unchanged
        if out_dtype == np.uint8:
            return image
        return image.astype(np.float32) * np.float32(scale)
    if out_dtype == np.float32:
        return image
    return np.rint(image * np.float32(255.0)).astype(np.uint8)


def read_dicom_scaled(
    path: str | os.PathLike, *, window: bool = True, max_pixels: int | None = MAX_PIXELS
) -> tuple[np.ndarray, float]:
    """The image of a DICOM file as ``(array, scale)``, with ``array * scale`` in 0..1.

    What :func:`read_dicom` and :func:`rlemask.load_sample` build on.  Plain
    8-bit data comes back as its uint8 array and ``scale = 1/255``, so that
    callers which resize first skip a full-size float conversion; anything
    else (more than 8 bits, colour, windowed ...) is float32 0..1 with
    ``scale = 1.0``.

    Parameters
    ----------
    path : str or os.PathLike
        The DICOM file.
    window : bool
        Apply the file's VOI window, as :func:`read_dicom` does.
    max_pixels : int or None
        The pixel limit, as :func:`read_dicom`.

    Returns
    -------
    array : numpy.ndarray
        2-D, C-contiguous: uint8 (8-bit data) or float32 0..1.
    scale : float
        ``1/255`` for uint8, ``1.0`` for float32.

    Raises
    ------
    rlemask.DicomError
        The file cannot be read (as :func:`read_dicom`).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> array, scale = read_dicom_scaled(get_testdata_file("CT_small.dcm"))  # 16-bit CT
    >>> array.dtype, array.shape, scale
    (dtype('float32'), (128, 128), 1.0)
    """
    name = _check_path(path)
    limit = _check_max_pixels(max_pixels)
    with warnings.catch_warnings():
        # pydicom warns about every odd-but-readable value (VR, length, charset)
        warnings.simplefilter("ignore")
        ds = _dcmread(name, max_pixels=limit)
        _check_size(name, ds, limit)
        arr, props, frames = _decode_first_frame(name, ds)
        if arr.ndim not in (2, 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise DicomError(f"{name}: unexpected decoded pixel array shape {arr.shape}")
        try:
            kind, image = _to_unit(name, ds, arr, props, window)
        except DicomError:
            raise
        except _FILE_FAILURES as err:  # a malformed Modality / VOI / palette value
            raise DicomError(
                f"{name}: cannot map the pixel values ({type(err).__name__}: {err})"
            ) from err
    if frames > 1:
        warnings.warn(
            f"{name}: {frames} frames; read_dicom returns the first one", UserWarning, stacklevel=3
        )
    if kind == "u8":
        return np.ascontiguousarray(image), 1.0 / 255.0
    image = np.ascontiguousarray(image, dtype=np.float32)
    if not np.isfinite(image).all():  # np.clip keeps NaN: a black image would hide it
        raise DicomError(
            f"{name}: the pixel values are not finite after the rescale "
            "(RescaleSlope / RescaleIntercept) or window; the file's values cannot be displayed"
        )
    return image, 1.0


def _check_max_pixels(max_pixels: Any) -> int:
    """``max_pixels`` as an int (0: no limit), or a ValueError naming it."""
    if max_pixels is None:
        return 0
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
        raise ValueError(f"`max_pixels` must be a positive int or None; received {max_pixels!r}")
    if max_pixels <= 0:
        raise ValueError(f"`max_pixels` must be a positive int or None; received {max_pixels}")
    return int(max_pixels)


def _parse_age(value: Any) -> int | None:
    """PatientAge -> completed years, or None.

    ``"058Y"`` -> 58, ``"58"`` -> 58 (the unit is missing in some exports),
    ``"006M"`` -> 0, ``"030W"`` -> 0, ``"400D"`` -> 1: months, weeks and days
    are converted to completed years.  Empty, malformed or absurd values
    (over 130 years, as in one SIIM file) give None.
    """
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        years = int(value)
    else:
        match = _AGE.match(str(value))
        if not match:
            return None
        number, unit = int(match.group(1)), match.group(2).upper() or "Y"
        years = {"Y": number, "M": number // 12, "W": number // 52, "D": number // 365}[unit]
    return years if 0 <= years <= _MAX_AGE else None


def _text(ds: Any, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def read_dicom_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Read the tags a data-set summary needs, without the pixel data.

    Parameters
    ----------
    path : str or os.PathLike
        The DICOM file.

    Returns
    -------
    dict
        ``age`` (int completed years or None; see below), ``sex``
        (``"M"``/``"F"``/``"O"`` or None), ``view`` (``"PA"``/``"AP"`` or None;
        any other *View Position* such as ``"LL"`` gives None here and is kept
        in ``view_position``), ``view_position`` (raw, stripped, or None),
        ``pixel_spacing`` ((row, column) in mm, or None when absent or not
        positive), ``rows``, ``columns``, ``frames`` (int), ``bits_stored``,
        ``photometric_interpretation``, ``transfer_syntax`` (UID string or
        None), ``modality``, ``body_part``.

        ``age``: *Patient Age* ``"058Y"`` -> 58 and a bare ``"58"`` -> 58;
        months, weeks and days are converted to completed years (``"006M"``
        -> 0); empty, malformed or absurd values (over 130) -> None.

    Raises
    ------
    rlemask.DicomError
        The file is missing or not DICOM.

    Examples
    --------
    >>> _parse_age("058Y"), _parse_age("58"), _parse_age("006M"), _parse_age("413Y")
    (58, 58, 0, None)
    """
    name = _check_path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odd-but-readable values are not the caller's problem
        ds = _dcmread(name, stop_before_pixels=True)
        return _meta(name, ds)


def _meta(name: str, ds: Any) -> dict[str, Any]:
    try:
        meta = getattr(ds, "file_meta", None)
        tsyntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
        spacing = None
        raw_spacing = ds.get("PixelSpacing")
        if raw_spacing is not None:
            try:
                values = tuple(float(v) for v in raw_spacing)
            except (TypeError, ValueError):
                values = ()
            if len(values) == 1:
                values = values * 2
            if len(values) == 2 and all(math.isfinite(v) and v > 0 for v in values):
                spacing = values
        view_position = _text(ds, "ViewPosition")
        view = view_position.upper() if view_position else None
        sex = _text(ds, "PatientSex")

        def _int(keyword: str) -> int | None:
            value = ds.get(keyword)
            try:
                return int(value) if value not in (None, "") else None
            except (TypeError, ValueError):
                return None

        return {
            "age": _parse_age(ds.get("PatientAge")),
            "sex": sex.upper() if sex else None,
            "view": view if view in ("PA", "AP") else None,
            "view_position": view_position,
            "pixel_spacing": spacing,
            "rows": _int("Rows"),
            "columns": _int("Columns"),
            "frames": _int("NumberOfFrames") or 1,
            "bits_stored": _int("BitsStored"),
            "photometric_interpretation": _text(ds, "PhotometricInterpretation"),
            "transfer_syntax": str(tsyntax) if tsyntax else None,
            "modality": _text(ds, "Modality"),
            "body_part": _text(ds, "BodyPartExamined"),
        }
    except _FILE_FAILURES as err:  # a value pydicom parses lazily and cannot convert
        raise DicomError(f"{name}: cannot read the metadata ({type(err).__name__}: {err})") from err
