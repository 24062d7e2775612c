"""One training example: a DICOM image and its RLE masks at the model's size.

:func:`load_sample` is the single place where an example is made; the Keras
generator, the on-disk cache (:mod:`rlemask.cache`) and any other framework's
loader call it, so they all see the same pixels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

__all__ = ["load_sample", "MASK_RESIZE_METHOD", "IMAGE_RESIZE_METHOD"]

#: how the merged mask is brought to the model's size: a pixel is foreground
#: when at least half of the source pixels it covers are (``resize_mask``'s
#: ``"area"``).  Unlike ``"nearest"``, which keeps one source pixel out of
#: each 4 x 4 block at 1024 -> 256, it does not depend on where the sampling
#: grid falls, so a region's area is kept on average and thin or jagged edges
#: do not alias.  Always 0/1 (never the bilinear 0..2 seen in public loaders).
MASK_RESIZE_METHOD = "area"
#: the image is averaged over each output pixel's footprint (anti-aliased)
IMAGE_RESIZE_METHOD = "area"


def _check_size(img_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(img_size, (int, np.integer)) and not isinstance(img_size, bool):
        size = (int(img_size), int(img_size))
    elif (
        isinstance(img_size, Sequence)
        and len(img_size) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in img_size)
    ):
        size = (int(img_size[0]), int(img_size[1]))
    else:
        raise ValueError(
            f"The parameter `img_size` must be an int or a (height, width) pair of ints; "
            f"received {img_size!r}"
        )
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"The parameter `img_size` must be positive; received {img_size!r}")
    return size


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
        (method ``"area"``).
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
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from pydicom.dataset import Dataset, FileMetaDataset
    >>> from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    >>> ds = Dataset()
    >>> ds.file_meta = FileMetaDataset()
    >>> ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    >>> ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    >>> ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    >>> ds.set_pixel_data(np.full((8, 8), 255, np.uint8), "MONOCHROME2", 8)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.dcm"
    >>> ds.save_as(path, enforce_file_format=True)
    >>> image, mask = load_sample(path, ["0 16"], img_size=4)  # left two columns
    >>> image.dtype, image.shape, float(image.max())
    (dtype('float32'), (4, 4), 1.0)
    >>> mask.tolist()
    [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]
    """
    from rlemask import merge, resize_image, resize_mask
    from rlemask.dicom import _read_unit

    size = _check_size(img_size)
    # read_dicom(path, dtype=float32) resized, but 8-bit files are resized as
    # uint8 and scaled after: a 1024^2 float conversion costs more than the resize
    pixels, scale = _read_unit(path)
    shape = pixels.shape
    image = resize_image(pixels, size, method=IMAGE_RESIZE_METHOD)
    if image.dtype != np.float32:  # the contract says float32; be sure of it
        image = image.astype(np.float32)
    if scale != 1.0:
        image *= np.float32(scale)
    # clip rounding so the documented 0..1 holds exactly
    np.clip(image, 0.0, 1.0, out=image)

    if rles is None or isinstance(rles, (str, bytes)):
        rles = [] if rles is None else [rles]
    if len(rles) == 0:
        mask = np.zeros(size, dtype=np.uint8)
    else:
        full = merge(list(rles), shape=shape, format=format)
        mask = resize_mask(full, size, method=MASK_RESIZE_METHOD)
    return np.ascontiguousarray(image), np.ascontiguousarray(mask, dtype=np.uint8)
