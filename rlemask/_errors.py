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


class DicomError(ValueError):
    """A DICOM file that cannot be read or decoded.

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
