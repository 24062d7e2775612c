"""The exceptions rlemask raises.  All derive from ``ValueError`` so that
callers who already catch bad values keep working."""

from __future__ import annotations


class RLEError(ValueError):
    """Malformed run-length text or runs that do not fit the mask shape.

    The message names the token position (0-based) and its value.

    Examples
    --------
    >>> import rlemask
    >>> try:
    ...     rlemask.decode("1 2 3", shape=(4, 4))
    ... except rlemask.RLEError as err:
    ...     print(type(err).__name__)
    RLEError
    """


class LabelsFileError(ValueError):
    """A labels CSV that cannot be read: wrong header, missing column, bad row.

    The message names the file and the 1-based line number.

    Examples
    --------
    >>> import tempfile, pathlib, rlemask
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = bad.write_text("Id,Pixels\\nx,-1\\n")
    >>> try:
    ...     rlemask.read_rle_csv(bad)
    ... except rlemask.LabelsFileError as err:
    ...     print(type(err).__name__, "labels.csv" in str(err))
    LabelsFileError True
    """


class ImageError(ValueError):
    """An image file that cannot be read: missing, unknown kind, corrupt or truncated.

    The message names the file and the reason.  :class:`DicomError` is the
    DICOM case of it, so ``except rlemask.ImageError`` catches every source
    that :func:`rlemask.read_image` reads.

    Examples
    --------
    >>> import tempfile, pathlib, rlemask
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "slice.png"
    >>> _ = bad.write_bytes(b"not a png")
    >>> try:
    ...     rlemask.read_image(bad)
    ... except rlemask.ImageError as err:
    ...     print(type(err).__name__, "slice.png" in str(err))
    ImageError True
    """


class DicomError(ImageError):
    """A DICOM file that cannot be read or decoded (an :class:`ImageError`).

    The message names the file and the reason; for a missing decoder it names
    the package to install.

    Examples
    --------
    >>> import tempfile, pathlib, rlemask
    >>> not_dicom = pathlib.Path(tempfile.mkdtemp()) / "scan.dcm"
    >>> _ = not_dicom.write_bytes(b"just text")
    >>> try:
    ...     rlemask.read_dicom(not_dicom)
    ... except rlemask.DicomError as err:
    ...     print(type(err).__name__, "scan.dcm" in str(err))
    DicomError True
    """
