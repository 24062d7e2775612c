"""One training example: a DICOM image and its RLE masks at the model's size.

:func:`load_sample` is the single place where an example is made; the Keras
generator, the on-disk cache (:mod:`rlemask.cache`) and any other framework's
loader call it, so they all see the same pixels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from rlemask._validation import check_size

__all__ = ["load_sample", "sample_u8", "to_unit", "MASK_RESIZE_METHOD", "IMAGE_RESIZE_METHOD"]

#: how the merged mask is brought to the model's size: a pixel is foreground
#: when at least half of the source pixels it covers are (``resize_mask``'s
#: ``"area"``).  Unlike ``"nearest"``, which keeps one source pixel out of
#: each 4 x 4 block at 1024 -> 256, it does not depend on where the sampling
#: grid falls, so a region's area is kept on average and thin or jagged edges
#: do not alias.  Always 0/1 (never the bilinear 0..2 seen in public loaders).
MASK_RESIZE_METHOD = "area"
#: the image is averaged over each output pixel's footprint (anti-aliased)
IMAGE_RESIZE_METHOD = "area"


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


def sample_u8(
    path: str | os.PathLike,
    rles: Sequence[str] | None,
    size: tuple[int, int],
    format: str,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`load_sample` before :func:`to_unit`: ``(image uint8 0..255, mask uint8 0/1)``.

    What :class:`rlemask.SampleCache` stores; ``to_unit(image)`` is exactly
    the image :func:`load_sample` returns.  ``size`` is an ``(H, W)`` pair
    already checked (:func:`load_sample` checks ``img_size``).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> image, mask = sample_u8(get_testdata_file("CT_small.dcm"), ["0 4"], (4, 4), "siim")
    >>> image.dtype, image.shape, mask.tolist()
    (dtype('uint8'), (4, 4), [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    """
    from rlemask import merge, resize_image, resize_mask
    from rlemask.dicom import read_dicom_scaled

    # 8-bit files are resized as uint8 and rounded as they are: a 1024^2
    # float conversion costs more than the resize
    pixels, scale = read_dicom_scaled(path)
    shape = pixels.shape
    image = resize_image(pixels, size, method=IMAGE_RESIZE_METHOD)
    if scale == 1.0:  # float32 0..1 (more than 8 bits, colour, windowed ...)
        image = image * np.float32(255.0)
    # round half to even, then clip: the area mean of 0..255 stays in 0..255
    image_u8 = np.clip(np.rint(image), 0, 255).astype(np.uint8)

    if rles is None or isinstance(rles, (str, bytes)):
        rles = [] if rles is None else [rles]
    if len(rles) == 0:
        mask = np.zeros(size, dtype=np.uint8)
    else:
        full = merge(list(rles), shape=shape, format=format)
        mask = resize_mask(full, size, method=MASK_RESIZE_METHOD)
    return np.ascontiguousarray(image_u8), np.ascontiguousarray(mask, dtype=np.uint8)


def load_sample(
    path: str | os.PathLike,
    rles: Sequence[str] | None,
    *,
    img_size: int | Sequence[int] = 256,
    format: str = "siim",
) -> tuple[np.ndarray, np.ndarray]:
    """Read a DICOM image and its masks, both resized to ``img_size``.

    Parameters
    ----------
    path : str or os.PathLike
        The DICOM file, read with :func:`rlemask.read_dicom` as float32 0..1.
    rles : sequence of str, or None
        The image's RLE strings (one per region, as in ``train-rle.csv``);
        empty, ``None`` or ``["-1"]`` give an empty mask.  They are decoded at
        the image's own (H, W) and OR-ed together (:func:`rlemask.merge`).
    img_size : int or (int, int)
        Output size, square for an int, else ``(height, width)``.
    format : str
        RLE format of ``rles``.

    Returns
    -------
    image : numpy.ndarray
        float32 (S, S) in 0..1, resized with :func:`rlemask.resize_image`
        (method ``"area"``), then rounded to 8-bit steps: every value is
        ``k / 255`` for an integer ``k`` (:func:`to_unit`), at most 1/510
        from the unrounded mean.  The rounding is what lets
        :class:`rlemask.SampleCache` store images as uint8 and still return
        exactly these values; it is below the precision of the 8-bit
        SIIM images themselves.
    mask : numpy.ndarray
        uint8 (S, S) of 0/1, resized with :func:`rlemask.resize_mask`
        (method ``"area"``: foreground where at least half the footprint is).

    Raises
    ------
    rlemask.DicomError
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
    """
    size = check_size(img_size, "img_size")
    image_u8, mask = sample_u8(path, rles, size, format)
    return to_unit(image_u8), mask
