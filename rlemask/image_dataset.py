"""A data set of any kind: image files found under a folder, joined to their labels.

:func:`load_dataset` is the general form of :func:`rlemask.load_siim`: it finds
the images (DICOM, PNG, JPEG, TIFF; any nesting, or a ``pattern``), names
each by its image id, reads the labels file with :func:`rlemask.read_labels`
and joins the two.  The :class:`Dataset` it returns knows each image's file,
shape (the labels' height/width columns, else the file's header) and the
classes, and makes samples (:meth:`Dataset.sample`, through
:func:`rlemask.load_sample`) and caches (:meth:`Dataset.build_cache`).

Image ids, by ``image_id``:

- ``"stem"``: the file name without its suffix (SIIM: the SOPInstanceUID;
  HuBMAP: ``aaa6a05cc``);
- ``"name"``: the file name (Severstal ``0002cc93b.jpg``, Airbus ``00003e153.jpg``:
  their ids keep the ``.jpg``);
- ``"uw-madison"``: ``caseN_dayM_slice_XXXX`` from the UW-Madison layout
  ``caseN/caseN_dayM/scans/slice_XXXX_<w>_<h>_<sx>_<sy>.png``;
- a callable ``fn(path) -> str``;
- ``None`` (default): UW-Madison paths are recognised; otherwise whichever
  of ``"stem"`` and ``"name"`` gives more files a labels row.

Duplicates (the same id in several folders, as some SIIM mirrors nest a
second copy) follow :func:`rlemask.load_siim`'s rule and message: the
shallowest copy is kept, and a warning counts the others.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> from PIL import Image
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "train_images").mkdir()
>>> for name in ("a.jpg", "b.jpg"):
...     Image.fromarray(np.full((4, 6), 90, np.uint8)).save(root / "train_images" / name)
>>> _ = (root / "train.csv").write_text("ImageId,ClassId,EncodedPixels\\n"
...                                    "a.jpg,3,1 2 9 2\\nb.jpg,3,\\n")
>>> data = load_dataset(root, root / "train.csv", pattern="train_images/*.jpg",
...                     format="kaggle")
>>> data.ids, data.classes, data.shape("a.jpg")
(('a.jpg', 'b.jpg'), ('3',), (4, 6))
>>> image, mask = data.sample("a.jpg")
>>> image.shape, mask.shape, int(mask[..., 0].sum())
((4, 6), (4, 6, 1), 4)
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._validation import check_choice
from rlemask.datasets import DEFAULT_EXCLUDE, _as_dir, _depth_key, _few, warn_duplicates
from rlemask.sample import (
    POLICIES,
    SampleLayout,
    load_sample,
    read_shape,
    sample_layout,
)

__all__ = ["load_dataset", "Dataset", "IMAGE_SUFFIXES", "ID_RULES", "uw_madison_id"]

#: files taken as images when no ``pattern`` is given (case ignored)
IMAGE_SUFFIXES = (".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: the named ``image_id`` rules
ID_RULES = ("stem", "name", "uw-madison")
#: ``slice_0001_266_266_1.50_1.50.png`` in ``.../case123_day20/scans/``
_UW_SLICE = re.compile(r"^(slice_\d+)(?:_|\.|$)")
_UW_DAY = re.compile(r"^case\d+_day\d+$")
#: what to do with an image that has no labels row
UNLABELLED = ("keep", "drop")


def uw_madison_id(path: str | os.PathLike) -> str | None:
    """``caseN_dayM_slice_XXXX`` of a UW-Madison slice path, or None when it is not one.

    Examples
    --------
    >>> uw_madison_id("train/case123/case123_day20/scans/slice_0001_266_266_1.50_1.50.png")
    'case123_day20_slice_0001'
    >>> uw_madison_id("train_images/0002cc93b.jpg") is None
    True
    """
    path = Path(path)
    match = _UW_SLICE.match(path.name)
    parts = path.parts
    if match is None or len(parts) < 3 or not _UW_DAY.match(parts[-3]):
        return None
    return f"{parts[-3]}_{match.group(1)}"


def _id_function(rule: str | Callable[[Path], str]) -> Callable[[Path], str]:
    if callable(rule):
        def call(path: Path) -> str:
            value = rule(path)
            if not isinstance(value, str) or not value:
                raise TypeError(
                    f"`image_id` callable must return a non-empty str; returned {value!r} "
                    f"for {str(path)!r}"
                )
            return value
        return call
    check_choice(rule, "image_id", ID_RULES)
    if rule == "stem":
        return lambda path: path.stem
    if rule == "name":
        return lambda path: path.name

    def uw(path: Path) -> str:
        found = uw_madison_id(path)
        if found is None:
            raise ValueError(
                f"image_id='uw-madison': {str(path)!r} is not a UW-Madison slice "
                "(caseN/caseN_dayM/scans/slice_XXXX_....png)"
            )
        return found
    return uw


def _find_images(root: Path, pattern: str | None, exclude: Iterable[str]) -> list[Path]:
    """Image files under ``root``: ``pattern`` (a glob relative to it), or every image file."""
    skip = set(exclude)
    if pattern is not None:
        found = [p for p in root.glob(pattern) if p.is_file()]
    else:
        found = []
        for folder, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith("."))
            found.extend(Path(folder) / f for f in filenames
                         if f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith("."))
    return sorted(found, key=lambda p: _depth_key(p, root))


def _choose_rule(files: list[Path], known: Any) -> Callable[[Path], str]:
    """The default ``image_id``: UW-Madison slices, else stem or name, by labels matched."""
    if files and all(uw_madison_id(p) is not None for p in files):
        return _id_function("uw-madison")
    by_name = sum(p.name in known for p in files)
    by_stem = sum(p.stem in known for p in files)
    return _id_function("name" if by_name > by_stem else "stem")


def _as_labels(labels: Any, format: str, shape: Sequence[int] | None) -> Any:
    from rlemask import Labels, read_labels

    if isinstance(labels, Labels):
        return labels
    kwargs: dict[str, Any] = {"format": format}
    if shape is not None:
        kwargs["shape"] = tuple(shape)
    return read_labels(labels, **kwargs)


def load_dataset(
    root: str | os.PathLike,
    labels: Any,
    *,
    pattern: str | None = None,
    image_id: str | Callable[[Path], str] | None = None,
    format: str = "auto",
    unlabelled: str = "keep",
    exclude: Iterable[str] = DEFAULT_EXCLUDE,
) -> Dataset:
    """Index a data set of any kind: the images under ``root`` and their labels.

    Parameters
    ----------
    root : str or os.PathLike
        The folder holding the images (any nesting).
    labels : str, os.PathLike, pandas.DataFrame or rlemask.Labels
        The labels file (any layout of the field), read with
        :func:`rlemask.read_labels`, or labels already read.
    pattern : str, optional
        A glob relative to ``root`` (``"*.jpg"``, ``"train/**/*.png"``);
        default: every DICOM, PNG, JPEG and TIFF file at any depth (hidden
        folders and ``exclude`` skipped).
    image_id : {"stem", "name", "uw-madison"}, callable or None
        How a file is named: see the module docstring.  None chooses.
    format : str
        RLE format for :func:`rlemask.read_labels` (default ``"auto"``).
    unlabelled : {"keep", "drop"}
        Images without a labels row: ``"keep"`` them with empty masks (layouts
        that list only defects, such as Severstal's re-release, mean "no
        defect" by a missing row), or ``"drop"`` them.  Either way a warning
        counts them.
    exclude : iterable of str
        Folder names not searched when ``pattern`` is None (default
        ``dicom-images-test``, as :func:`rlemask.load_siim`).

    Returns
    -------
    Dataset

    Warns
    -----
    UserWarning
        Duplicate copies of an id, images without labels, labels without images.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder.
    ValueError
        A bad ``image_id`` or ``unlabelled``.
    rlemask.LabelsFileError
        The labels cannot be read.

    Examples
    --------
    The real SIIM sample (ten DICOMs and their header-less labels)::

        data = rlemask.load_dataset("siim/dicom", "siim/train-rle-sample.csv")
        image, mask = data.sample(data.ids[0], 256)    # (256, 256), (256, 256, 1)
    """
    root_dir = _as_dir(root)
    check_choice(unlabelled, "unlabelled", UNLABELLED)
    table = _as_labels(labels, format, None)
    files = _find_images(root_dir, pattern, tuple(exclude))
    name_of = _choose_rule(files, table) if image_id is None else _id_function(image_id)
    found: dict[str, list[Path]] = {}
    for path in files:  # sorted shallowest first: the first copy of an id is kept
        found.setdefault(name_of(path), []).append(path)
    duplicates = {key: copies[1:] for key, copies in found.items() if len(copies) > 1}
    warn_duplicates(root_dir, duplicates, stacklevel=3)
    if not files:
        warnings.warn(f"{root_dir}: no image files found"
                      + (f" matching {pattern!r}" if pattern else ""), UserWarning, stacklevel=2)
    missing = sorted(key for key in found if key not in table)
    orphans = sorted(set(table.ids) - set(found))
    where = getattr(table, "source", "the labels")
    if missing:
        warnings.warn(
            f"{root_dir}: {len(missing)} of {len(found)} images have no row in {where}"
            f"{' (kept, with empty masks)' if unlabelled == 'keep' else ' (left out)'}, "
            f"e.g. {_few(missing)}",
            UserWarning,
            stacklevel=2,
        )
    if orphans:
        warnings.warn(
            f"{root_dir}: {len(orphans)} of {len(table.ids)} ids in {where} have no image, "
            f"e.g. {_few(orphans)}",
            UserWarning,
            stacklevel=2,
        )
    keep = {key: copies[0] for key, copies in found.items()
            if unlabelled == "keep" or key in table}
    return Dataset(root_dir, {key: keep[key] for key in sorted(keep)}, table)


class Dataset:
    """Images of any source joined to their :class:`rlemask.Labels` (see :func:`load_dataset`).

    Attributes
    ----------
    root : pathlib.Path
        The folder the images were found under.
    ids : tuple of str
        Image ids, sorted.
    classes : tuple of str
        The labels' classes; ``()`` for a single-class file.  Masks have
        ``C = max(1, len(classes))`` channels.
    labels : rlemask.Labels
        The labels joined.
    format : str or None
        The labels' RLE format.
    """

    def __init__(self, root: Path, paths: Mapping[str, Path], labels: Any) -> None:
        self.root = root
        self._paths = dict(paths)
        self.labels = labels
        self.ids: tuple[str, ...] = tuple(self._paths)
        self.classes: tuple[str, ...] = tuple(labels.classes)
        self.format = labels.format
        self._shapes: dict[str, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._paths

    def __repr__(self) -> str:
        return (f"Dataset({str(self.root)!r}, {len(self)} images, classes={list(self.classes)}, "
                f"format={self.format!r})")

    def path(self, image_id: str) -> Path:
        """The image file of ``image_id``."""
        try:
            return self._paths[image_id]
        except (KeyError, TypeError):
            raise KeyError(
                f"no image {image_id!r} in the data set under {str(self.root)!r} "
                f"({len(self.ids)} ids, e.g. {list(self.ids[:3])})"
            ) from None

    def shape(self, image_id: str) -> tuple[int, int]:
        """``(height, width)``: the labels' shape columns when they have them, else the header.

        Raises
        ------
        ValueError
            The labels' height/width disagree with the image file's header.
        """
        if image_id not in self._shapes:
            path = self.path(image_id)
            known = self.labels.shape_of(image_id) if image_id in self.labels else None
            header = read_shape(path)
            if known is not None and tuple(known) != tuple(header):
                raise ValueError(
                    f"{path}: the image is {header[0]} x {header[1]} but the labels give "
                    f"image {image_id!r} a height/width of {known[0]} x {known[1]}"
                )
            self._shapes[image_id] = (int(header[0]), int(header[1]))
        return self._shapes[image_id]

    def is_labelled(self, image_id: str) -> bool:
        """Whether ``image_id`` has a row in the labels (an unlabelled kept image has none)."""
        self.path(image_id)
        return image_id in self.labels

    def rows(self, image_id: str) -> dict[str, list[str]]:
        """The image's RLE rows per class, ``{class: [rle, ...]}`` (``{"": [...]}``: no classes).

        What :func:`rlemask.load_sample` takes for a mask of ``C`` channels.
        """
        self.path(image_id)
        if image_id not in self.labels:
            return {c: [] for c in self.classes} if self.classes else {"": []}
        if not self.classes:
            return {"": self.labels.rles(image_id)}
        return {c: self.labels.rles(image_id, c) for c in self.classes}

    def positive(self) -> np.ndarray:
        """bool (N, C): which images have a region of each class (no decoding)."""
        return np.array([[bool(r) for r in self.rows(i).values()] for i in self.ids],
                        dtype=bool).reshape(len(self.ids), max(1, len(self.classes)))

    def _format(self, image_id: str) -> str:
        if self.format is None and any(self.rows(image_id).values()):
            raise ValueError(
                f"the RLE format of {getattr(self.labels, 'source', 'the labels')} is undecided "
                f"({getattr(self.labels, 'format_evidence', '')}); pass format='siim' or "
                "'kaggle' to load_dataset"
            )
        return self.format or "kaggle"

    def layout(
        self, image_id: str, size: int | Sequence[int] | None = None, *, policy: str = "resize"
    ) -> SampleLayout:
        """Where the image lies in :meth:`sample`'s output; ``.to_image(pred)`` maps back."""
        return sample_layout(self.shape(image_id), size, policy=policy)

    def sample(
        self, image_id: str, size: int | Sequence[int] | None = None, *, policy: str = "resize"
    ) -> tuple[np.ndarray, np.ndarray]:
        """One sample: ``(image float32 (h, w) in 0..1, mask uint8 (h, w, C))``.

        Parameters
        ----------
        image_id : str
        size : int, (int, int) or None
            ``"resize"``: the sample's size (None: the image's own).
            ``"pad"``: the multiple to pad to (None: no padding).
        policy : {"resize", "pad"}
            As :func:`rlemask.load_sample`; :meth:`layout` gives the offsets.

        Returns
        -------
        image, mask : numpy.ndarray
            The masks decoded at the image's own shape, each class resized
            binary-safe (``resize_mask``'s ``"area"``) or padded.
        """
        check_choice(policy, "policy", POLICIES)
        shape = self.shape(image_id)
        if size is None:
            size = shape if policy == "resize" else 1
        return load_sample(self.path(image_id), self.rows(image_id), img_size=size,
                           format=self._format(image_id), policy=policy,
                           options=getattr(self.labels, "format_options", None))

    def build_cache(self, out_dir: str | os.PathLike, size: int | Sequence[int] = 256, *,
                    policy: str = "resize", ids: Sequence[str] | None = None,
                    **kwargs: Any) -> Any:
        """:func:`rlemask.build_cache` of these images (all, or ``ids``) at ``size``.

        Masks have a class axis when the labels have classes; other keyword
        arguments (``workers``, ``on_error``, ``overwrite`` ...) are passed on.
        """
        from rlemask import build_cache

        chosen = list(self.ids if ids is None else ids)
        if self.classes:
            rows: dict[str, Any] = {i: self.rows(i) for i in chosen}
        else:
            rows = {i: self.rows(i)[""] for i in chosen}
        fmt = "kaggle"
        for image_id in chosen:  # an undecided format is refused, never guessed
            fmt = self._format(image_id)
            if self.format is not None:
                break
        # the labels' columns where they have them; the build reads the other headers
        shapes = ([self.labels.shape_of(i) if i in self.labels else None for i in chosen]
                  if policy == "pad" else None)
        return build_cache([self.path(i) for i in chosen], rows, out_dir, img_size=size,
                           ids=chosen, classes=self.classes or None, format=fmt,
                           policy=policy, shapes=shapes,
                           options=getattr(self.labels, "format_options", None), **kwargs)
