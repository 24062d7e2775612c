"""Images of any source: ``read_image``, ``image_shape`` and ``read_region``.

One reader for the field's image files, chosen by the file's first bytes (not
its name):

=========  ======================  ============================================
source     read through            values
=========  ======================  ============================================
DICOM      :func:`rlemask.read_dicom`  its own mapping (bit depth or VOI window)
PNG, JPEG  Pillow                  8-bit unchanged; 16-bit divided by 65535
TIFF       tifffile                integers divided by their dtype's maximum
=========  ======================  ============================================

Values are scaled by the *stored range* (the bit depth), never stretched
per image between its own minimum and maximum: a 16-bit PNG whose pixels only
reach 3,000 stays dark (3000 / 65535), exactly as the file says.  ``uint8``
output is ``round(unit * 255)``, ``float32`` output is ``unit`` in 0..1.

Grey output ``(H, W)`` from colour files uses the ITU-R 601 luma (Pillow's
``"L"``; for a JPEG, its decoded Y plane); ``channels=3`` gives ``(H, W, 3)``
(grey files repeated).  Alpha is dropped.

Reduced reads for samples
-------------------------
``read_image(path, reduce=k)`` returns the image reduced ``k`` times in each
direction, shape ``(ceil(H / k), ceil(W / k))``, each pixel the mean of its
``k x k`` block (edge blocks: of the pixels present).  It is much cheaper than
reading at full size and resizing:

* JPEG (and the JPEG-Baseline 8-bit grey DICOMs of SIIM): the decoder itself
  scales by 1/2, 1/4 or 1/8 (libjpeg's DCT scaling, Pillow's ``draft``), so
  the full-size image is never built; the rest of ``k`` is a box mean.  DCT
  scaling is close to, not bit-equal with, the box mean of the full image
  (typically within a few grey levels);
* PNG, TIFF, other DICOMs: decoded at full size, then one box-mean pass.

``size_hint=(h, w)`` picks ``k`` for you: the largest reduction whose result
is still at least ``h x w`` (``k = max(1, min(H // h, W // w))``); a caller
resizing to a target size (a data set's ``sample``) passes the target and
resizes the small remainder.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> from PIL import Image
>>> import rlemask
>>> path = pathlib.Path(tempfile.mkdtemp()) / "slice.png"
>>> Image.fromarray(np.full((6, 10), 65535, np.uint16)).save(path)
>>> rlemask.image_shape(path)
(6, 10)
>>> rlemask.read_image(path).max(), rlemask.read_image(path, dtype=np.float32).max()
(np.uint8(255), np.float32(1.0))
>>> rlemask.read_image(path, reduce=4).shape
(2, 3)
"""

from __future__ import annotations

import io
import os
import struct
from typing import Any

import numpy as np

from rlemask._errors import DicomError, ImageError
from rlemask._validation import check_path, check_size
from rlemask.dicom import _luma, read_dicom, read_dicom_meta, read_dicom_scaled

__all__ = ["image_shape", "read_image", "read_region", "source_of"]

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
)
#: JPEG Baseline (Process 1): the SIIM DICOMs' transfer syntax, decoded by Pillow
_JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
# what Pillow and tifffile raise on files they cannot read; never a bare `except Exception`
_PIL_FAILURES = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError)


def source_of(path: str | os.PathLike) -> str:
    """The kind of image file ``path`` is, from its first bytes: ``"dicom"``, ``"png"``, ...

    Returns one of ``"dicom"``, ``"png"``, ``"jpeg"``, ``"tiff"``.

    Raises
    ------
    rlemask.ImageError
        The file is missing, a directory, or none of these kinds.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.jpg"
    >>> _ = path.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n....")
    >>> source_of(path)   # the bytes decide, not the name
    'png'
    """
    name = check_path(path)
    try:
        with open(name, "rb") as fh:
            head = fh.read(132)
    except IsADirectoryError:
        raise ImageError(f"{name}: cannot read image: is a directory") from None
    except OSError as err:
        raise ImageError(f"{name}: cannot read image: {err.strerror or err}") from None
    if head[128:132] == b"DICM":
        return "dicom"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    raise ImageError(
        f"{name}: not an image rlemask reads (DICOM, PNG, JPEG or TIFF); "
        f"first bytes {head[:8]!r}"
    )


def _check_options(dtype: Any, channels: Any) -> np.dtype:
    out = np.dtype(dtype)
    if out not in (np.dtype(np.uint8), np.dtype(np.float32)):
        raise ValueError(f"`dtype` must be numpy.uint8 or numpy.float32; received dtype={dtype!r}")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"`channels` must be 1 or 3; received channels={channels!r}")
    return out


def _check_reduce(reduce: Any, size_hint: Any) -> int | tuple[int, int]:
    """``reduce`` as an int, or ``size_hint`` as ``(h, w)`` when given (validated)."""
    if isinstance(reduce, bool) or not isinstance(reduce, (int, np.integer)) or reduce < 1:
        raise ValueError(f"`reduce` must be an integer >= 1; received reduce={reduce!r}")
    if size_hint is None:
        return int(reduce)
    if reduce != 1:
        raise ValueError("pass either `reduce` or `size_hint`, not both")
    return check_size(size_hint, "size_hint")


def _factor(reduce: int | tuple[int, int], shape: tuple[int, int]) -> int:
    """The reduction factor for an image of ``shape`` (``reduce`` from :func:`_check_reduce`)."""
    if isinstance(reduce, tuple):  # a size hint: the largest k still giving at least that
        return max(1, min(shape[0] // reduce[0], shape[1] // reduce[1]))
    return reduce


def reduce_array(arr: np.ndarray, k: int) -> np.ndarray:
    """Box-mean reduction by ``k`` over the first two axes, float32, shape ``ceil(H/k), ceil(W/k)``.

    Edge blocks average the pixels present (as Pillow's ``Image.reduce``).

    Examples
    --------
    >>> reduce_array(np.arange(9, dtype=np.uint8).reshape(3, 3), 2)
    array([[2. , 3.5],
           [6.5, 8. ]], dtype=float32)
    """
    if k == 1:
        return arr.astype(np.float32, copy=False)
    h, w = arr.shape[:2]
    rows, cols = np.arange(0, h, k), np.arange(0, w, k)
    sums = np.add.reduceat(np.add.reduceat(arr, rows, axis=0, dtype=np.float64), cols, axis=1)
    counts = np.minimum(k, h - rows)[:, None] * np.minimum(k, w - cols)[None, :]
    if arr.ndim == 3:
        counts = counts[:, :, None]
    return (sums / counts).astype(np.float32)


def _finish(unit_or_u8: np.ndarray, scale: float, out: np.dtype, channels: int) -> np.ndarray:
    """An array whose values ``v * scale`` lie in 0..1, to the caller's dtype and channels."""
    arr = unit_or_u8
    if channels == 1 and arr.ndim == 3:
        arr, scale = _luma(arr) * np.float32(scale), 1.0
    if out == np.uint8:
        if arr.dtype != np.uint8 or scale != 1 / 255:
            arr = np.rint(np.clip(arr * np.float32(scale * 255.0), 0, 255)).astype(np.uint8)
    else:
        arr = arr.astype(np.float32) * np.float32(scale)
    if channels == 3 and arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr)


# ---------------------------------------------------------------- Pillow (PNG, JPEG)
def _pil_array(im: Any, channels: int, k: int) -> tuple[np.ndarray, float]:
    """Decode an opened Pillow image (``draft`` already applied) as ``(array, scale)``."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im)
        if mode == "I":  # 16-bit data Pillow widened to int32: still 16 bits stored
            arr = np.clip(arr, 0, 65535)
        return reduce_array(arr, k), 1.0 / 65535.0
    want = "L" if channels == 1 else "RGB"
    if mode != want:
        im = im.convert("RGBA" if mode in ("P", "PA") else mode).convert(want)
    if k > 1:
        im = im.reduce(k)
    return np.asarray(im), 1.0 / 255.0


def _read_pillow(fh: Any, channels: int, reduce: int | tuple[int, int]) -> tuple:
    from PIL import Image

    with Image.open(fh) as im:
        w, h = im.size
        k = _factor(reduce, (h, w))
        if im.format == "JPEG":
            # the decoder scales by 1/2, 1/4 or 1/8 itself (and decodes only the Y
            # plane for grey): ask for the power of two d dividing k, box-mean the rest.
            # ceil(ceil(n / d) / (k / d)) == ceil(n / k), so the shape is exact.
            d = next(s for s in (8, 4, 2, 1) if k % s == 0)
            # Pillow picks the scale min(w // tw, h // th) rounded down to 8, 4, 2, 1
            im.draft("L" if channels == 1 else "RGB", (max(1, w // d), max(1, h // d)))
            if im.size == (-(-w // d), -(-h // d)):
                k //= d
            elif im.size != (w, h):  # a scale we did not ask for: decode in full instead
                fh.seek(0)
                return _read_pillow_plain(fh, channels, k)
        im.load()
        return _pil_array(im, channels, k)


def _read_pillow_plain(fh: Any, channels: int, k: int) -> tuple:
    from PIL import Image

    with Image.open(fh) as im:
        im.load()
        return _pil_array(im, channels, k)


# ---------------------------------------------------------------- DICOM
def _read_dicom_fast(
    name: str, channels: int, reduce: int | tuple[int, int]
) -> tuple[np.ndarray, float] | None:
    """8-bit grey JPEG-Baseline DICOM (SIIM): decode its JPEG frame with Pillow's draft.

    Only for files whose values ``read_dicom`` would return unchanged
    (MONOCHROME2, 8 bits, one frame, no rescale); None for anything else.
    """
    import pydicom
    from PIL import Image
    from pydicom.encaps import generate_frames
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(name)
        plain = (
            str(ds.file_meta.TransferSyntaxUID) == _JPEG_BASELINE
            and ds.get("PhotometricInterpretation") == "MONOCHROME2"
            and ds.get("BitsStored") == 8 and ds.get("SamplesPerPixel", 1) == 1
            and ds.get("PixelRepresentation", 0) == 0
            and int(ds.get("NumberOfFrames", 1) or 1) == 1
            and float(ds.get("RescaleSlope", 1) or 1) == 1
            and float(ds.get("RescaleIntercept", 0) or 0) == 0
        )
        if not plain:
            return None
        frame = next(generate_frames(ds.PixelData, number_of_frames=1))
        with Image.open(io.BytesIO(frame)) as im:
            if im.size != (int(ds.Columns), int(ds.Rows)) or im.mode != "L":
                return None
        return _read_pillow(io.BytesIO(frame), channels, reduce)
    except _PIL_FAILURES + (AttributeError, TypeError, StopIteration, InvalidDicomError):
        return None  # let read_dicom raise its own, precise error


def _read_dicom(name: str, channels: int, reduce: int | tuple[int, int]) -> tuple:
    if reduce != 1:
        fast = _read_dicom_fast(name, channels, reduce)
        if fast is not None:
            return fast
        arr = read_dicom(name, dtype=np.float32)
        return reduce_array(arr, _factor(reduce, arr.shape)), 1.0
    # uint8 for plain 8-bit data, float32 0..1 otherwise: a 12- or 16-bit file read
    # as float32 keeps its precision (never through 8-bit steps)
    return read_dicom_scaled(name)


# ---------------------------------------------------------------- TIFF
def _tiff_unit_scale(dtype: np.dtype) -> float:
    if dtype == np.bool_:
        return 1.0
    if dtype.kind == "u":
        return 1.0 / float(np.iinfo(dtype).max)
    if dtype.kind == "f":
        return 1.0  # float TIFFs are taken as 0..1 (clipped)
    raise ValueError(f"pixel dtype {dtype} (signed integers have no stored range to scale by)")


def _tiff_layout(arr: np.ndarray, axes: str) -> np.ndarray:
    """(H, W) or (H, W, S) from a tifffile page array with its axes string."""
    if axes.endswith("SYX") or axes.endswith("CYX"):  # separate planes
        return np.moveaxis(arr.reshape(arr.shape[-3:]), 0, -1)
    if axes.endswith("YXS") or axes.endswith("YX"):
        while arr.ndim > (3 if axes.endswith("S") else 2):
            arr = arr[0]  # leading axes (pages, depth): the first one
        return arr
    raise ValueError(f"unsupported TIFF axes {axes!r}")


def _tiff_values(arr: np.ndarray, channels: int, k: int) -> tuple[np.ndarray, float]:
    scale = _tiff_unit_scale(arr.dtype)
    if arr.ndim == 3:
        arr = arr[:, :, :3] if arr.shape[2] >= 3 else arr[:, :, 0]
    if arr.dtype.kind == "f":
        arr = np.clip(arr, 0.0, 1.0)
    if arr.dtype == np.uint8 and k == 1:
        return arr, scale
    return reduce_array(arr.astype(np.float32) if arr.dtype == np.bool_ else arr, k), scale


def _read_tiff(name: str, channels: int, reduce: int | tuple[int, int]) -> tuple:
    import tifffile

    with tifffile.TiffFile(name) as tif:
        page = tif.pages[0]
        k = _factor(reduce, (int(page.imagelength), int(page.imagewidth)))
        arr = _tiff_layout(page.asarray(), page.axes)
    return _tiff_values(arr, channels, k)


def _tiff_failures() -> tuple:
    """What reading a file may raise (Pillow, tifffile), named once for every reader."""
    import tifffile
    from PIL import Image

    # DecompressionBombError: Pillow's guard against images over 2 * MAX_IMAGE_PIXELS
    return _PIL_FAILURES + (tifffile.TiffFileError, MemoryError, Image.DecompressionBombError)


# ---------------------------------------------------------------- public
def read_image(
    path: str | os.PathLike,
    *,
    dtype: Any = np.uint8,
    channels: int = 1,
    reduce: int = 1,
    size_hint: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """Read a DICOM, PNG, JPEG or TIFF image as a grey or RGB array.

    Parameters
    ----------
    path : str or os.PathLike
        The image file; its kind comes from its first bytes (:func:`source_of`).
    dtype : {numpy.uint8, numpy.float32}
        ``uint8`` 0..255 or ``float32`` 0..1, both scaled by the stored range
        (8-bit unchanged; 16-bit divided by 65535; DICOM as
        :func:`rlemask.read_dicom`), never per image.
    channels : {1, 3}
        1: grey ``(H, W)`` (colour files through their luma); 3: ``(H, W, 3)``.
        DICOMs are grey; ``channels=3`` repeats the plane.
    reduce : int, default 1
        Read the image reduced ``reduce`` times: shape
        ``(ceil(H / reduce), ceil(W / reduce))``, each pixel the mean of its
        block; JPEG files (and JPEG-Baseline grey DICOMs) are scaled by the
        decoder (see the module docstring).
    size_hint : int or (int, int), optional
        Instead of ``reduce``: the smallest output wanted; the largest
        reduction that still gives at least this size is used.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` or ``(H, W, 3)``, C-contiguous, of ``dtype``.

    Raises
    ------
    rlemask.ImageError
        The file is missing, of no kind read here, corrupt or truncated, or
        holds values with no stored range (signed-integer TIFF); the message
        names the file.  DICOM failures are :class:`rlemask.DicomError`, a
        subclass.
    ValueError
        A bad ``dtype``, ``channels``, ``reduce`` or ``size_hint``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "strip.jpg"
    >>> Image.fromarray(np.full((256, 1600, 3), 200, np.uint8)).save(path)
    >>> read_image(path).shape, read_image(path, channels=3).shape
    ((256, 1600), (256, 1600, 3))
    >>> read_image(path, size_hint=(64, 256)).shape   # reduced 4x: 256 // 64 = 4 < 1600 // 256
    (64, 400)
    """
    out = _check_options(dtype, channels)
    factor = _check_reduce(reduce, size_hint)
    name = check_path(path)
    kind = source_of(name)
    if kind == "dicom":
        arr, scale = _read_dicom(name, channels, factor)
        return _finish(arr, scale, out, channels)
    try:
        if kind == "tiff":
            arr, scale = _read_tiff(name, channels, factor)
        else:
            with open(name, "rb") as fh:
                arr, scale = _read_pillow(fh, channels, factor)
    except _tiff_failures() as err:
        raise ImageError(f"{name}: cannot read {kind.upper()} image ({_reason(err)})") from err
    return _finish(arr, scale, out, channels)


def _reason(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) < 200 else text[:200] + "..."


def image_shape(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header, without decoding its pixels.

    Pillow opens PNG and JPEG lazily (only the header is parsed), tifffile
    reads the first page's tags, pydicom stops before the pixel data.

    Raises
    ------
    rlemask.ImageError
        As :func:`read_image` (a corrupt header; pixel data is not checked).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import tifffile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "kidney.tif"
    >>> tifffile.imwrite(path, np.zeros((30, 50, 3), np.uint8))
    >>> image_shape(path)
    (30, 50)
    """
    name = check_path(path)
    kind = source_of(name)
    if kind == "dicom":
        meta = read_dicom_meta(name)
        if not meta.get("rows") or not meta.get("columns"):
            raise DicomError(f"{name}: the header has no Rows/Columns")
        return int(meta["rows"]), int(meta["columns"])
    try:
        if kind == "tiff":
            import tifffile

            with tifffile.TiffFile(name) as tif:
                page = tif.pages[0]
                return int(page.imagelength), int(page.imagewidth)
        from PIL import Image

        with Image.open(name) as im:
            w, h = im.size
            return int(h), int(w)
    except _tiff_failures() as err:
        raise ImageError(f"{name}: cannot read {kind.upper()} header ({_reason(err)})") from err


class _WindowError(ValueError):
    """A bad ``window`` argument (kept apart from the ValueErrors of a bad file)."""


def _check_window(window: Any, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    try:
        y, x, h, w = (int(v) for v in window)
    except (TypeError, ValueError):
        raise _WindowError(
            f"`window` must be four integers (y, x, h, w); received window={window!r}"
        ) from None
    if h < 1 or w < 1 or y < 0 or x < 0 or y + h > shape[0] or x + w > shape[1]:
        raise _WindowError(
            f"`window` must lie inside the image of shape {shape}; received window={window!r}"
        )
    return y, x, h, w


def _tiff_window(tif: Any, page: Any, y: int, x: int, h: int, w: int) -> np.ndarray:
    """Decode only the tiles (or strips) of ``page`` that meet the window."""
    if page.is_memmappable:
        full = tif.asarray(key=0, out="memmap")
        return np.array(_tiff_layout(full, page.axes)[y : y + h, x : x + w])
    if page.planarconfig != 1 and page.samplesperpixel > 1:  # separate planes: whole page
        return np.array(_tiff_layout(page.asarray(), page.axes)[y : y + h, x : x + w])
    if page.is_tiled:
        th, tw = int(page.tilelength), int(page.tilewidth)
    else:
        th, tw = int(page.rowsperstrip or page.imagelength), int(page.imagewidth)
    per_row = -(-int(page.imagewidth) // tw)
    samples = int(page.samplesperpixel)
    out = np.zeros((h, w, samples), dtype=page.dtype)
    decode, fh = page.decode, tif.filehandle
    for ty in range(y // th, (y + h - 1) // th + 1):
        for tx in range(x // tw, (x + w - 1) // tw + 1):
            index = ty * per_row + tx
            fh.seek(page.dataoffsets[index])
            segment, _, _ = decode(fh.read(page.databytecounts[index]), index)
            seg = segment.reshape(segment.shape[-3:])  # (th, tw, samples)
            y0, x0 = ty * th, tx * tw
            ys, xs = max(y, y0), max(x, x0)
            ye = min(y + h, y0 + th, int(page.imagelength))
            xe = min(x + w, x0 + tw, int(page.imagewidth))
            out[ys - y : ye - y, xs - x : xe - x] = seg[ys - y0 : ye - y0, xs - x0 : xe - x0]
    return out[:, :, 0] if samples == 1 else out


def read_region(
    path: str | os.PathLike,
    window: tuple[int, int, int, int],
    *,
    dtype: Any = np.uint8,
    channels: int = 1,
) -> np.ndarray:
    """Read the window ``(y, x, h, w)`` of an image; a TIFF is read lazily.

    For a TIFF only the bytes the window needs are read: an uncompressed
    contiguous page through a memory map, a tiled or striped page by decoding
    only the tiles (strips) that meet the window.  Any other source is read
    whole and cropped (JPEG and PNG cannot be decoded in part): for many
    windows of such a file, read it once with :func:`read_image` and slice.
    Values as :func:`read_image`.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    window : (int, int, int, int)
        ``(y, x, h, w)``: top row, left column, height, width; inside the
        image (e.g. from :func:`rlemask.tiles`).
    dtype, channels
        As :func:`read_image`.

    Returns
    -------
    numpy.ndarray
        ``(h, w)`` or ``(h, w, 3)`` of ``dtype``.

    Raises
    ------
    rlemask.ImageError
        As :func:`read_image`.
    ValueError
        A window outside the image.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import tifffile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "big.tif"
    >>> image = np.arange(64 * 80, dtype=np.uint16).reshape(64, 80)
    >>> tifffile.imwrite(path, image, tile=(16, 16), compression="zlib")
    >>> part = read_region(path, (10, 20, 5, 30), dtype=np.float32)
    >>> bool(np.allclose(part * 65535, image[10:15, 20:50]))
    True
    """
    out = _check_options(dtype, channels)
    name = check_path(path)
    if source_of(name) != "tiff":
        y, x, h, w = _check_window(window, image_shape(name))
        full = read_image(name, dtype=out, channels=channels)
        return np.ascontiguousarray(full[y : y + h, x : x + w])
    import tifffile

    try:  # one open per window: the header, then only the tiles the window meets
        with tifffile.TiffFile(name) as tif:
            page = tif.pages[0]
            y, x, h, w = _check_window(window, (int(page.imagelength), int(page.imagewidth)))
            arr = _tiff_window(tif, page, y, x, h, w)
        arr, scale = _tiff_values(arr, channels, 1)
    except _WindowError:
        raise
    except _tiff_failures() as err:
        raise ImageError(f"{name}: cannot read TIFF window ({_reason(err)})") from err
    return _finish(arr, scale, out, channels)
