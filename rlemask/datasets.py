"""Indexing a SIIM-style data set on disk: DICOM files + a labels CSV.

:func:`load_siim` walks a folder for ``.dcm`` files (any nesting), finds the
labels CSV, and pairs them by image id (the file stem, which is the
SOPInstanceUID in SIIM).  Real mirrors are messy, so it copes with:

- **duplicate mirror copies**: some mirrors nest a second copy of the image
  folders one level deeper.  A stem seen more than once is counted once, and
  the **shallowest** path wins (fewest path components; ties broken by the
  sorted path string), so the choice does not depend on the walk order.
- **images without labels** and **labels without images**: both are
  reported with a ``UserWarning`` giving the counts and a few ids -- never an
  exception.  Images without labels stay in the returned
  path list (they may be test images); labels without images are dropped.
- **test folders**: folders named ``dicom-images-test`` are skipped by
  default (``exclude``), so pointing at the root of the common mirror gives
  the training images only.

:func:`split_dataset` makes a train / validation split stratified by
positive (at least one RLE) and negative images, as a hold-out or as one of
``K`` cross-validation folds.

Examples
--------
>>> import tempfile, pathlib, shutil
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for stem in ("a", "b"):
...     p = root / "dicom-images-train" / "s1" / f"{stem}.dcm"
...     p.parent.mkdir(parents=True, exist_ok=True)
...     _ = p.write_bytes(b"")   # load_siim does not open the images
>>> _ = (root / "train-rle.csv").write_text("ImageId, EncodedPixels\\na, -1\\nb, 1 2\\n")
>>> paths, labels = load_siim(root)
>>> [p.name for p in paths], labels
(['a.dcm', 'b.dcm'], {'a': [], 'b': ['1 2']})
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_siim", "split_dataset", "find_labels_csv", "find_dicoms", "is_positive",
           "n_rle_rows"]

#: labels file names, in order of preference at the same depth
CSV_NAMES = ("train-rle.csv", "stage_2_train.csv")
#: folder names skipped by default while looking for images
DEFAULT_EXCLUDE = ("dicom-images-test",)


def is_positive(rles: Sequence | None) -> bool:
    """True when ``rles`` holds at least one region.

    Empty markers do not count: ``None``, NaN, ``""`` and ``"-1"`` (with or
    without spaces), so ``["-1"]`` is negative like ``[]``.

    Examples
    --------
    >>> is_positive([]), is_positive([" -1"]), is_positive(["-1", "5 3"])
    (False, False, True)
    """
    return n_rle_rows(rles) > 0


def n_rle_rows(rles: Sequence | None) -> int:
    """How many entries of ``rles`` are non-empty RLE rows (empty markers left out).

    A row is not a region: one row can hold several connected regions, and
    rows can overlap.  Count regions on the merged mask (``len(bboxes(mask))``).

    Examples
    --------
    >>> n_rle_rows(["-1", "3 4", "10 2"]), n_rle_rows(None), n_rle_rows(" -1")
    (2, 0, 0)
    """
    if rles is None:
        return 0
    if isinstance(rles, (str, bytes)):
        rles = [rles]
    count = 0
    for rle in rles:
        if rle is None or (isinstance(rle, float) and rle != rle):  # None, NaN
            continue
        if isinstance(rle, bytes):
            rle = rle.decode("ascii", "replace")
        if isinstance(rle, str) and rle.strip() in ("", "-1"):
            continue
        count += 1
    return count


def _as_dir(root: str | os.PathLike, name: str = "root") -> Path:
    try:
        path = Path(root)
    except TypeError:
        raise TypeError(
            f"`{name}` must be a str or os.PathLike; received {name} of type "
            f"{type(root).__name__}"
        ) from None
    if not path.is_dir():
        raise FileNotFoundError(f"`{name}` must be a folder; received {name}={str(path)!r}")
    return path


def _depth_key(path: Path, root: Path) -> tuple[int, str]:
    rel = path.relative_to(root)
    return (len(rel.parts), rel.as_posix())


def find_dicoms(
    root: str | os.PathLike, *, exclude: Iterable[str] = DEFAULT_EXCLUDE
) -> tuple[list[Path], dict[str, list[Path]]]:
    """Every ``.dcm`` file under ``root``, one per stem.

    Returns ``(paths, duplicates)``: ``paths`` sorted by stem (the image id),
    the shallowest copy of each stem; ``duplicates`` maps a stem to the
    copies that were dropped.  The suffix match ignores case; hidden folders
    and folders named in ``exclude`` are skipped.
    """
    root = _as_dir(root)
    skip = set(exclude)
    found: dict[str, list[Path]] = {}
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith("."))
        for filename in filenames:
            if filename.lower().endswith(".dcm") and not filename.startswith("."):
                path = Path(folder) / filename
                found.setdefault(path.stem, []).append(path)
    paths: list[Path] = []
    duplicates: dict[str, list[Path]] = {}
    for stem in sorted(found):
        copies = sorted(found[stem], key=lambda p: _depth_key(p, root))
        paths.append(copies[0])
        if len(copies) > 1:
            duplicates[stem] = copies[1:]
    return paths, duplicates


def find_labels_csv(root: str | os.PathLike) -> Path:
    """The labels CSV under ``root``: ``train-rle.csv`` or ``stage_2_train.csv``.

    The shallowest match wins; at the same depth ``train-rle.csv`` (stage 1,
    which matches ``dicom-images-train``) is preferred.  A warning names the
    other candidates when there are several.

    Raises
    ------
    FileNotFoundError
        Neither name exists anywhere under ``root``.
    """
    root = _as_dir(root)
    candidates: list[Path] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        candidates.extend(Path(folder) / f for f in filenames if f in CSV_NAMES)
    if not candidates:
        raise FileNotFoundError(
            f"No labels CSV ({' or '.join(CSV_NAMES)}) under {str(root)!r}; "
            "pass csv=PATH to name it"
        )
    candidates.sort(
        key=lambda p: (len(p.relative_to(root).parts), CSV_NAMES.index(p.name), p.as_posix())
    )
    if len(candidates) > 1:
        others = ", ".join(str(p.relative_to(root)) for p in candidates[1:])
        warnings.warn(
            f"several labels CSVs under {str(root)!r}; using "
            f"{str(candidates[0].relative_to(root))!r} (also found: {others})",
            UserWarning,
            stacklevel=3,
        )
    return candidates[0]


def _few(ids: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(repr(i) for i in ids[:n])
    return shown + (", ..." if len(ids) > n else "")


def load_siim(
    root: str | os.PathLike,
    *,
    csv: str | os.PathLike | None = None,
    format: str = "siim",
    exclude: Iterable[str] = DEFAULT_EXCLUDE,
) -> tuple[list[Path], dict[str, list[str]]]:
    """Index a SIIM-style data set: every DICOM under ``root`` and its labels.

    Parameters
    ----------
    root : str or os.PathLike
        Folder holding the images (any nesting) and, unless ``csv`` is given,
        the labels CSV (``train-rle.csv`` or ``stage_2_train.csv``, at any
        depth; the shallowest wins).
    csv : str or os.PathLike, optional
        The labels CSV, read with :func:`rlemask.read_rle_csv`.
    format : str
        RLE format of the CSV (only passed on to ``read_rle_csv``).
    exclude : iterable of str
        Folder names not searched for images (default ``dicom-images-test``).

    Returns
    -------
    file_path_list : list of pathlib.Path
        One path per image id, sorted by id (deterministic).  Duplicate mirror
        copies are dropped (the shallowest path wins).  Images without labels
        are included.
    labels : dict
        Image id -> list of RLE strings (empty for a ``-1`` row), for the ids
        that have an image.

    Warns
    -----
    UserWarning
        Counts of duplicate copies, of images without labels and of labels
        without images.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder, or no labels CSV is found under it.
    rlemask.LabelsFileError
        The CSV cannot be read.

    Examples
    --------
    >>> import tempfile, rlemask
    >>> root = rlemask.synthetic.make_dataset(tempfile.mkdtemp(), n_images=4, size=256)
    >>> paths, labels = rlemask.load_siim(root)
    >>> len(paths), sorted(len(v) > 0 for v in labels.values())
    (4, [False, False, False, True])
    >>> paths[0].suffix
    '.dcm'
    """
    from rlemask import read_rle_csv

    root_dir = _as_dir(root)
    exclude = tuple(exclude)
    csv_path = find_labels_csv(root_dir) if csv is None else Path(csv)
    if csv is not None and not csv_path.is_file():
        raise FileNotFoundError(f"`csv` must be a file; received csv={str(csv_path)!r}")
    paths, duplicates = find_dicoms(root_dir, exclude=exclude)
    all_labels = read_rle_csv(csv_path, format=format)

    if duplicates:
        n_copies = sum(len(v) for v in duplicates.values())
        warnings.warn(
            f"{root_dir}: {len(duplicates)} image ids have {n_copies} duplicate copies "
            f"(kept the shallowest path), e.g. {_few(sorted(duplicates))}",
            UserWarning,
            stacklevel=2,
        )
    if not paths:
        warnings.warn(
            f"{root_dir}: no .dcm files found (folders skipped: {sorted(set(exclude))})",
            UserWarning,
            stacklevel=2,
        )
    ids = {p.stem for p in paths}
    unlabelled = sorted(ids - set(all_labels))
    orphans = sorted(set(all_labels) - ids)
    if unlabelled:
        warnings.warn(
            f"{root_dir}: {len(unlabelled)} of {len(ids)} images have no row in "
            f"{csv_path.name}, e.g. {_few(unlabelled)}",
            UserWarning,
            stacklevel=2,
        )
    if orphans:
        warnings.warn(
            f"{root_dir}: {len(orphans)} of {len(all_labels)} ids in {csv_path.name} "
            f"have no image, e.g. {_few(orphans)}",
            UserWarning,
            stacklevel=2,
        )
    labels = {key: list(all_labels[key]) for key in sorted(ids & set(all_labels))}
    return paths, labels


def split_dataset(
    file_path_list: Sequence[str | os.PathLike],
    labels: Any,
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    n_folds: int | None = None,
    fold: int | None = None,
) -> tuple[list, list]:
    """Split image paths into train and validation, stratified by positive / negative.

    An image is positive when its label list holds a region (a non-empty
    list; ``"-1"`` entries do not count, see :func:`is_positive`).  Images
    without an entry in ``labels`` are left out of both lists, with a warning.

    Two ways to split:

    - **hold-out** (default): each class gives ``round(val_fraction * n_class)``
      images to validation, at least one when the class has two or more
      images and ``val_fraction > 0``, and never all of them (one stays in
      train).
    - **k folds** (``n_folds=K, fold=k``): the labelled images are dealt into
      ``K`` disjoint folds that together cover every one of them; each class
      is shuffled (``seed``) and dealt round-robin, positives first and the
      negatives continuing where they stopped, so every fold holds the same
      number of positives and of images to within one.  Validation is fold
      ``k``, train the other ``K - 1``.  The folds depend on ``seed`` only,
      not on ``fold``: ``fold=0 .. K-1`` with one seed is a cross-validation.
      ``val_fraction`` is not used.

    Parameters
    ----------
    file_path_list : sequence of str or os.PathLike
        The image paths; the id is the file stem.
    labels : mapping or pandas.DataFrame
        Image id -> list of RLE strings, or a DataFrame with the columns
        ``ImageId`` and ``EncodedPixels`` (:func:`rlemask.labels_from_frame`).
    val_fraction : float
        Hold-out: share of each class in validation, ``0 <= val_fraction < 1``.
    seed : int
        Seed of the shuffle; the same inputs and seed give the same split.
    n_folds : int, optional
        Number of folds ``K >= 2`` (at most the number of labelled images).
    fold : int, optional
        The validation fold, ``0 <= fold < n_folds``; required with ``n_folds``.

    Returns
    -------
    (train_paths, val_paths) : tuple of lists
        The paths as given, each list in the input order.

    Raises
    ------
    ValueError
        A bad ``val_fraction``, ``n_folds`` or ``fold``.

    Examples
    --------
    >>> paths = [f"{i}.dcm" for i in range(10)]
    >>> labels = {str(i): (["1 2"] if i < 4 else []) for i in range(10)}
    >>> train, val = split_dataset(paths, labels, val_fraction=0.5, seed=1)
    >>> len(train), len(val)
    (5, 5)
    >>> sum(bool(labels[Path(p).stem]) for p in val)   # 2 of the 4 positives
    2
    >>> folds = [split_dataset(paths, labels, n_folds=3, fold=k)[1] for k in range(3)]
    >>> [len(f) for f in folds], sorted(sum(folds, [])) == sorted(paths)
    ([4, 3, 3], True)
    """
    from rlemask.labels import as_labels

    folds = _check_folds(n_folds, fold)
    if folds is None and (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, (int, float))
        or not 0 <= val_fraction < 1
    ):
        raise ValueError(
            f"`val_fraction` must be a number in [0, 1); received val_fraction={val_fraction!r}"
        )
    labels = as_labels(labels, "labels")
    positives, negatives, missing = _classes(file_path_list, labels)
    if missing:
        warnings.warn(
            f"split_dataset: {len(missing)} images have no labels and are left out, "
            f"e.g. {_few(missing)}",
            UserWarning,
            stacklevel=2,
        )
    rng = np.random.default_rng(seed)
    if folds is not None:
        val = _fold_members(positives, negatives, *folds, rng)
    else:
        val = _holdout(positives, negatives, val_fraction, rng)
    kept = sorted(positives + negatives)
    train_paths = [file_path_list[i] for i in kept if i not in val]
    val_paths = [file_path_list[i] for i in kept if i in val]
    return train_paths, val_paths


def _check_folds(n_folds: Any, fold: Any) -> tuple[int, int] | None:
    """``(n_folds, fold)`` validated, or None for a hold-out split."""
    def _is_int(value: Any) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    if n_folds is None:
        if fold is not None:
            raise ValueError(f"`fold` needs `n_folds`; received fold={fold!r}, n_folds=None")
        return None
    if not _is_int(n_folds) or n_folds < 2:
        raise ValueError(f"`n_folds` must be an int >= 2; received n_folds={n_folds!r}")
    if not _is_int(fold) or not 0 <= fold < n_folds:
        raise ValueError(
            f"`fold` must be an int in [0, {int(n_folds) - 1}] (n_folds={n_folds}); "
            f"received fold={fold!r}"
        )
    return int(n_folds), int(fold)


def _classes(
    file_path_list: Sequence[str | os.PathLike], labels: Mapping[str, Any]
) -> tuple[list[int], list[int], list[str]]:
    """Indices of the positive and the negative images, and the ids without labels."""
    positives: list[int] = []
    negatives: list[int] = []
    missing: list[str] = []
    for i, path in enumerate(file_path_list):
        key = Path(path).stem
        if key not in labels:
            missing.append(key)
        elif is_positive(labels[key]):
            positives.append(i)
        else:
            negatives.append(i)
    return positives, negatives, missing


def _holdout(
    positives: list[int], negatives: list[int], val_fraction: float, rng: np.random.Generator
) -> set[int]:
    val: set[int] = set()
    for group in (positives, negatives):
        n = len(group)
        if n == 0 or val_fraction == 0:
            continue
        k = round(val_fraction * n)
        k = min(max(k, 1 if n >= 2 else 0), n - 1)
        chosen = rng.permutation(n)[:k]
        val.update(group[j] for j in chosen)
    return val


def _fold_members(
    positives: list[int], negatives: list[int], n_folds: int, fold: int,
    rng: np.random.Generator,
) -> set[int]:
    total = len(positives) + len(negatives)
    if n_folds > total:
        raise ValueError(
            f"`n_folds` must be at most the number of labelled images ({total}); "
            f"received n_folds={n_folds}"
        )
    val: set[int] = set()
    dealt = 0  # the negatives continue the deal where the positives stopped
    for group in (positives, negatives):
        order = rng.permutation(len(group))
        val.update(group[j] for pos, j in enumerate(order) if (dealt + pos) % n_folds == fold)
        dealt += len(group)
    return val
