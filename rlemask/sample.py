"""One training example: an image and its RLE masks at the model's size.

:func:`load_sample` is the single place where an example is made; the Keras
generator, the on-disk cache (:mod:`rlemask.cache`), :meth:`rlemask.Dataset.sample`
and any other framework's loader call it, so they all see the same pixels.

Any image the project reads works: DICOM (:func:`rlemask.read_dicom`), PNG,
JPEG and TIFF; any ``(height, width)``, square or not, a multiple of nothing.
Two policies bring an image to the model:

- ``"resize"``: to ``img_size`` (an int for a square, or ``(height, width)``);
  the image by its area mean, each mask class by ``resize_mask``'s ``"area"``
  rule, so every class stays 0/1.
- ``"pad"``: the image at its own resolution, zero-padded on every side
  (centred; the odd pixel goes to the bottom / right) to the next multiple of
  ``img_size`` (what a U-Net of depth ``d`` needs: ``2**d``), or to a given
  ``canvas``.  :func:`sample_layout` gives the offsets, and
  :meth:`SampleLayout.to_image` maps a prediction back to the image exactly.

Masks: a list of RLE rows is one class, the mask is ``(h, w)``; a mapping
``class -> rows`` is ``C`` classes, the mask ``(h, w, C)`` in the mapping's
order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rlemask._validation import check_choice, check_size

__all__ = [
    "load_sample",
    "sample_u8",
    "sample_layout",
    "SampleLayout",
    "read_pixels",
    "read_shape",
    "to_unit",
    "POLICIES",
    "MASK_RESIZE_METHOD",
    "IMAGE_RESIZE_METHOD",
]

#: how the merged mask is brought to the model's size: a pixel is foreground
#: when at least half of the source pixels it covers are (``resize_mask``'s
#: ``"area"``).  Unlike ``"nearest"``, which keeps one source pixel out of
#: each 4 x 4 block at 1024 -> 256, it does not depend on where the sampling
#: grid falls, so a region's area is kept on average and thin or jagged edges
#: do not alias.  Always 0/1 (never the bilinear 0..2 seen in public loaders).
MASK_RESIZE_METHOD = "area"
#: the image is averaged over each output pixel's footprint (anti-aliased)
IMAGE_RESIZE_METHOD = "area"
#: the ways an image is brought to the model's input size
POLICIES = ("resize", "pad")

#: 255 as float32: ``k / _STEPS`` in float32 is correctly rounded (IEEE
#: division), so turning an 8-bit image into 0..1 gives the same bits wherever
#: it is done (here and in :class:`rlemask.SampleCache`), and 255 maps to
#: exactly 1.0.  (A 256-entry look-up table gives the same bits, 10x slower.)
_STEPS = np.float32(255)


def to_unit(image_u8: np.ndarray) -> np.ndarray:
    """8-bit image(s) -> float32 ``k / 255``, the values :func:`load_sample` returns.

    Examples
    --------
    >>> to_unit(np.array([0, 51, 255], np.uint8)).tolist()
    [0.0, 0.20000000298023224, 1.0]
    """
    out = np.asarray(image_u8).astype(np.float32)
    out /= _STEPS
    return out


class SampleLayout(NamedTuple):
    """Where an image lies in its sample, and how a prediction maps back.

    Attributes
    ----------
    policy : str
        ``"resize"`` or ``"pad"``.
    image_shape : (int, int)
        The image's own ``(height, width)``.
    sample_shape : (int, int)
        The sample's ``(height, width)``.
    top, left : int
        Offset of the image's first pixel in the sample (``"pad"``; 0 for
        ``"resize"``).
    """

    policy: str
    image_shape: tuple[int, int]
    sample_shape: tuple[int, int]
    top: int
    left: int

    def to_image(self, prediction: np.ndarray) -> np.ndarray:
        """A prediction of the sample's size -> the image's size.

        ``"pad"``: the image's window, cut out exactly (a view).  ``"resize"``:
        floats (probabilities) by :func:`rlemask.resize_image` (``"bilinear"``
        when enlarging, ``"area"`` when shrinking), integers and bools by
        :func:`rlemask.resize_mask` (``"nearest"``).  ``prediction`` is
        ``(H, W)`` or ``(H, W, C)``.

        Examples
        --------
        >>> layout = sample_layout((3, 5), 4, policy="pad")
        >>> layout.sample_shape, (layout.top, layout.left)
        ((4, 8), (0, 1))
        >>> layout.to_image(np.ones((4, 8, 2))).shape
        (3, 5, 2)
        """
        from rlemask import resize_image, resize_mask

        pred = np.asarray(prediction)
        if pred.shape[:2] != tuple(self.sample_shape) or pred.ndim not in (2, 3):
            raise ValueError(
                f"`prediction` must be {tuple(self.sample_shape)} or "
                f"{tuple(self.sample_shape)} + (C,); received shape {pred.shape}"
            )
        h, w = self.image_shape
        if self.policy == "pad":
            return pred[self.top:self.top + h, self.left:self.left + w]
        if pred.shape[:2] == (h, w):
            return pred
        planes = pred[..., None] if pred.ndim == 2 else pred
        if pred.dtype.kind == "f":
            method = "bilinear" if h * w > pred.shape[0] * pred.shape[1] else "area"
            out = [resize_image(planes[..., c], (h, w), method=method)
                   for c in range(planes.shape[-1])]
        else:
            out = [resize_mask(planes[..., c], (h, w), method="nearest")
                   for c in range(planes.shape[-1])]
        stacked = np.stack(out, axis=-1)
        return stacked[..., 0] if pred.ndim == 2 else stacked


def sample_layout(
    image_shape: Sequence[int],
    img_size: int | Sequence[int] | None = 256,
    *,
    policy: str = "resize",
    canvas: Sequence[int] | None = None,
) -> SampleLayout:
    """The :class:`SampleLayout` of an image of ``image_shape`` under ``policy``.

    Parameters
    ----------
    image_shape : (int, int)
        The image's ``(height, width)``.
    img_size : int, (int, int) or None
        ``"resize"``: the sample's size (None: the image's own).  ``"pad"``:
        the multiple each side is padded to (None: 1, no padding).
    policy : {"resize", "pad"}
    canvas : (int, int), optional
        ``"pad"`` only: pad to exactly this size instead of the next multiple
        (at least the image, each side a multiple of ``img_size``): what a
        cache of images of several sizes uses.

    Examples
    --------
    >>> sample_layout((256, 1600), (128, 800))
    SampleLayout(policy='resize', image_shape=(256, 1600), sample_shape=(128, 800), top=0, left=0)
    >>> sample_layout((266, 266), 32, policy="pad")
    SampleLayout(policy='pad', image_shape=(266, 266), sample_shape=(288, 288), top=11, left=11)
    """
    check_choice(policy, "policy", POLICIES)
    shape = check_size(tuple(int(v) for v in image_shape), "image_shape")
    if policy == "resize":
        if canvas is not None:
            raise ValueError(f"`canvas` is for policy='pad'; received canvas={canvas!r}")
        size = shape if img_size is None else check_size(img_size, "img_size")
        return SampleLayout("resize", shape, size, 0, 0)
    multiple = (1, 1) if img_size is None else check_size(img_size, "img_size")
    if canvas is None:
        out = tuple(-(-n // m) * m for n, m in zip(shape, multiple, strict=True))
    else:
        out = check_size(tuple(canvas), "canvas")
        if any(c < n or c % m for c, n, m in zip(out, shape, multiple, strict=True)):
            raise ValueError(
                f"`canvas` must hold the image {shape} and be a multiple of {multiple}; "
                f"received canvas={tuple(canvas)!r}"
            )
    top, left = ((o - n) // 2 for o, n in zip(out, shape, strict=True))
    return SampleLayout("pad", shape, (int(out[0]), int(out[1])), int(top), int(left))


def read_pixels(path: str | os.PathLike, *, reduce: int = 1) -> tuple[np.ndarray, float]:
    """An image file as ``(array, scale)`` with ``array * scale`` in 0..1 (grey).

    DICOM through :func:`rlemask.dicom.read_dicom_scaled`; PNG, JPEG and TIFF
    through :func:`rlemask.read_image` (16-bit data scaled by its stored
    range, never a per-image stretch).  8-bit data comes back as its uint8
    array with ``scale = 1/255``, anything else as float32 0..1 with
    ``scale = 1.0``.  ``reduce=k`` (dividing both sides): the image reduced
    ``k`` times by :func:`rlemask.read_image`, float32.

    Raises
    ------
    rlemask.DicomError, rlemask.ImageError
        The file cannot be read (the message names it).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> array, scale = read_pixels(get_testdata_file("CT_small.dcm"))
    >>> array.shape, scale
    ((128, 128), 1.0)
    """
    from rlemask.dicom import read_dicom_scaled
    from rlemask.images import read_image, source_of

    if reduce > 1:
        return read_image(path, dtype=np.float32, reduce=reduce), 1.0
    kind = "dicom" if _named_dicom(path) else source_of(path)
    if kind == "dicom":
        return read_dicom_scaled(path)
    if _more_than_8_bits(path, kind):  # rounded once, after the resize, as for DICOM
        return read_image(path, dtype=np.float32), 1.0
    return read_image(path, dtype=np.uint8), 1.0 / 255


def _more_than_8_bits(path: str | os.PathLike, kind: str) -> bool:
    """Whether a PNG or TIFF stores more than 8 bits per sample (read from its header)."""
    try:
        if kind == "tiff":
            import tifffile

            with tifffile.TiffFile(path) as tif:
                return np.dtype(tif.pages[0].dtype).itemsize > 1
        if kind == "png":
            from PIL import Image

            with Image.open(path) as im:
                return im.mode.startswith("I") or im.mode == "F"
    except (OSError, ValueError):  # corrupt: the read that follows names the file and why
        pass
    return False


def _named_dicom(path: str | os.PathLike) -> bool:
    # a file named .dcm is read as DICOM whatever it holds: its errors are DicomErrors
    return Path(path).suffix.lower() in (".dcm", ".dicom")


def read_shape(path: str | os.PathLike) -> tuple[int, int]:
    """An image file's ``(height, width)`` from its header (:func:`rlemask.image_shape`).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> read_shape(get_testdata_file("CT_small.dcm"))
    (128, 128)
    """
    from rlemask.images import image_shape

    if _named_dicom(path):
        from rlemask.dicom import read_dicom_meta

        meta = read_dicom_meta(path)
        if meta.get("rows") and meta.get("columns"):
            return int(meta["rows"]), int(meta["columns"])
    return image_shape(path)


def _reduction(shape: tuple[int, int], target: tuple[int, int]) -> int:
    """The largest ``k >= 2`` dividing both sides with ``shape / k`` still at least ``target``.

    A reduced read (JPEG decoders scale by 1/2, 1/4, 1/8 while decoding) is
    several times cheaper than a full-size decode; ``k`` must divide the
    sides so the reduced image's pixel grid is the full one's, exactly, and
    the masks (decoded at full size) stay aligned with it.  1: read in full.
    """
    k = min(shape[0] // target[0], shape[1] // target[1])
    while k >= 2:
        if shape[0] % k == 0 and shape[1] % k == 0:
            return k
        k -= 1
    return 1


def _mask_planes(
    rles: Any, shape: tuple[int, int], format: str, options: Mapping[str, Any] | None
) -> tuple[list[np.ndarray | None], bool]:
    """Full-size 0/1 planes, one per class (None: empty), and whether there are classes."""
    from rlemask import merge

    if isinstance(rles, Mapping):
        groups, multi = list(rles.values()), True
    else:
        groups, multi = [rles], False
    planes: list[np.ndarray | None] = []
    for rows in groups:
        if rows is None or isinstance(rows, (str, bytes)):
            rows = [] if rows is None else [rows]
        rows = list(rows)
        planes.append(merge(rows, shape=shape, format=format, **(options or {})) if rows
                      else None)
    return planes, multi


def sample_u8(
    path: str | os.PathLike,
    rles: Any,
    size: tuple[int, int] | None,
    format: str,
    policy: str = "resize",
    canvas: tuple[int, int] | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`load_sample` before :func:`to_unit`: ``(image uint8 0..255, mask uint8 0/1)``.

    What :class:`rlemask.SampleCache` stores; ``to_unit(image)`` is exactly
    the image :func:`load_sample` returns.  ``size`` is an ``(H, W)`` pair
    already checked (:func:`load_sample` checks ``img_size``), or None.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> image, mask = sample_u8(get_testdata_file("CT_small.dcm"), ["0 4"], (4, 4), "siim")
    >>> image.dtype, image.shape, mask.tolist()
    (dtype('uint8'), (4, 4), [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    """
    from rlemask import resize_image, resize_mask

    k = 1
    if policy == "resize" and size is not None:
        shape = read_shape(path)
        k = _reduction(shape, size)
    pixels, scale = read_pixels(path, reduce=k)
    if k == 1:
        shape = pixels.shape
    layout = sample_layout(shape, size, policy=policy, canvas=canvas)
    out_shape = layout.sample_shape
    planes, multi = _mask_planes(rles, shape, format, options)
    if layout.policy == "resize" and out_shape != shape:
        # 8-bit files are resized as uint8 and rounded as they are: a full-size
        # float conversion costs more than the resize
        image = pixels
        if pixels.shape != out_shape:
            image = resize_image(pixels, out_shape, method=IMAGE_RESIZE_METHOD)
        planes = [None if p is None else resize_mask(p, out_shape, method=MASK_RESIZE_METHOD)
                  for p in planes]
    else:
        image = pixels
    if scale == 1.0:  # float32 0..1 (more than 8 bits, colour, windowed, reduced ...)
        image = image * np.float32(255.0)
    if image.dtype != np.uint8:
        # round half to even, then clip: the area mean of 0..255 stays in 0..255
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    mask = np.zeros((*out_shape, len(planes)), dtype=np.uint8)
    window = (slice(layout.top, layout.top + shape[0]), slice(layout.left, layout.left + shape[1]))
    if layout.policy == "pad":
        canvas_image = np.zeros(out_shape, dtype=np.uint8)
        canvas_image[window] = image
        image = canvas_image
    for c, plane in enumerate(planes):
        if plane is not None:
            if layout.policy == "pad":
                mask[(*window, c)] = plane
            else:
                mask[..., c] = plane
    if not multi:
        mask = mask[..., 0]
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


def load_sample(
    path: str | os.PathLike,
    rles: Sequence[str] | Mapping[str, Sequence[str]] | None,
    *,
    img_size: int | Sequence[int] = 256,
    format: str = "siim",
    policy: str = "resize",
    canvas: Sequence[int] | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read an image and its masks, both brought to the model's size.

    Parameters
    ----------
    path : str or os.PathLike
        The image: DICOM (read with :func:`rlemask.read_dicom`), PNG, JPEG or
        TIFF (:func:`rlemask.read_image`), as grey 0..1.
    rles : sequence of str, mapping of class -> sequence of str, or None
        The image's RLE strings (one per region or object, as in the labels
        file); empty, ``None`` or ``["-1"]`` give an empty mask.  They are
        decoded at the image's own (H, W) and OR-ed together per class
        (:func:`rlemask.merge`).  A mapping gives one mask channel per class,
        in its order.
    img_size : int or (int, int)
        ``policy="resize"``: output size, square for an int, else
        ``(height, width)``.  ``policy="pad"``: the multiple each side is
        padded to.
    format : str
        RLE format of ``rles``.
    policy : {"resize", "pad"}
        Resize to ``img_size``, or zero-pad (centred) to the next multiple of
        it (or to ``canvas``), keeping every pixel; :func:`sample_layout`
        gives the offsets that map a prediction back.
    canvas : (int, int), optional
        ``policy="pad"``: the exact padded size (see :func:`sample_layout`).
    options : mapping, optional
        Options of the RLE format (``{"order": "C"}`` for row-major Kaggle;
        what :attr:`rlemask.Labels.format_options` gives).

    Returns
    -------
    image : numpy.ndarray
        float32 (S_h, S_w) in 0..1, resized with :func:`rlemask.resize_image`
        (method ``"area"``; a large reduction starts from a reduced read,
        :func:`rlemask.read_image`'s ``reduce``), then rounded to 8-bit steps: every value is
        ``k / 255`` for an integer ``k`` (:func:`to_unit`), at most 1/510
        from the unrounded mean.  The rounding is what lets
        :class:`rlemask.SampleCache` store images as uint8 and still return
        exactly these values; it is below the precision of 8-bit images.
        Padding is 0.
    mask : numpy.ndarray
        uint8 (S_h, S_w) of 0/1 for a list of rows, (S_h, S_w, C) for a mapping
        of ``C`` classes; each class resized with :func:`rlemask.resize_mask`
        (method ``"area"``: foreground where at least half the footprint is).

    Raises
    ------
    rlemask.DicomError, rlemask.ImageError
        The image cannot be read.
    rlemask.RLEError
        An RLE string is malformed or does not fit the image's size.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> path = get_testdata_file("CT_small.dcm")  # a 128 x 128 CT slice shipped with pydicom
    >>> image, mask = load_sample(path, ["0 4096"], img_size=4)  # the left 32 columns
    >>> image.dtype, image.shape, bool(image.min() >= 0.0 and image.max() <= 1.0)
    (dtype('float32'), (4, 4), True)
    >>> mask.tolist()
    [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]

    Two classes, the image padded to a multiple of 48 (128 -> 144, 8 on each side):

    >>> image, mask = load_sample(path, {"a": ["0 4096"], "b": []}, img_size=48, policy="pad")
    >>> image.shape, mask.shape, int(mask[..., 0].sum()), int(mask[..., 1].sum())
    ((144, 144), (144, 144, 2), 4096, 0)
    """
    check_choice(policy, "policy", POLICIES)
    size = check_size(img_size, "img_size")
    image_u8, mask = sample_u8(
        path, rles, size, format, policy, None if canvas is None else tuple(canvas), options
    )
    return to_unit(image_u8), mask
