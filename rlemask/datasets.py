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
           "n_rle_rows", "label_rows", "warn_duplicates"]

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


def _is_labels_object(labels: Any) -> bool:
    """A :class:`rlemask.Labels` (or anything with its ``ids``, ``classes``, ``rles``)."""
    return all(hasattr(labels, name) for name in ("ids", "classes", "rles", "format"))


def label_rows(
    labels: Any, *, format: str = "siim", classes: Sequence[str] | None = None
) -> tuple[dict[str, Any], tuple[str, ...], str]:
    """Labels of any accepted kind as ``(id -> rows, classes, RLE format)``.

    The rows of an image are a list of RLE strings without classes, or a
    ``{class: list}`` with classes (every class present, in ``classes``'
    order): what :func:`rlemask.load_sample` and :func:`rlemask.build_cache`
    take.

    Parameters
    ----------
    labels : rlemask.Labels, mapping, pandas.DataFrame, str or os.PathLike
        A ``Labels`` brings its classes and format; a mapping id -> list of
        rows is one class; a mapping id -> {class: rows} has classes (those
        seen, in order of appearance, unless ``classes`` names them); a frame
        or CSV path goes through :func:`rlemask.labels.as_labels`.
    format : str
        The RLE format, where ``labels`` does not carry one.
    classes : sequence of str, optional
        The classes, in channel order.

    Examples
    --------
    >>> rows, classes, fmt = label_rows({"a": {"1": ["3 2"]}, "b": {"2": []}}, format="kaggle")
    >>> rows["a"], classes, fmt
    ({'1': ['3 2'], '2': []}, ('1', '2'), 'kaggle')
    >>> label_rows({"a": ["3 2"]})[0]
    {'a': ['3 2']}
    """
    from rlemask.labels import as_labels

    if _is_labels_object(labels):
        found = tuple(str(c) for c in labels.classes)
        fmt = labels.format if isinstance(labels.format, str) and labels.format else format
        use = tuple(classes) if classes else found
        if use:
            rows = {i: {c: list(labels.rles(i, c)) for c in use} for i in labels.ids}
        else:
            rows = {i: list(labels.rles(i)) for i in labels.ids}
        return rows, use, fmt
    plain = as_labels(labels, "labels", format=format)
    nested = [v for v in plain.values() if isinstance(v, Mapping)]
    if not nested and not classes:
        return plain, (), format
    if classes:
        use = tuple(str(c) for c in classes)
    else:
        use = tuple(dict.fromkeys(str(c) for v in nested for c in v))
    rows = {}
    for image_id, value in plain.items():
        if not isinstance(value, Mapping):
            raise ValueError(
                f"`labels` mixes images with and without classes: {image_id!r} has "
                f"{type(value).__name__} rows, not a mapping class -> rows"
            )
        unknown = [c for c in value if str(c) not in use]
        if unknown:
            raise ValueError(
                f"`labels` of {image_id!r} has classes {unknown!r} not in classes={use!r}"
            )
        rows[image_id] = {c: list(_as_rows(value.get(c))) for c in use}
    return rows, use, format


def _as_rows(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        return [value]
    return list(value)


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


def warn_duplicates(
    root: Path, duplicates: Mapping[str, list[Path]], *, stacklevel: int, name_dropped: str = ""
) -> None:
    """The one warning for ids found in several folders (the shallowest copy is kept).

    ``duplicates`` maps an id to the copies dropped; nothing is said when it
    is empty.  :func:`load_siim`, :func:`rlemask.load_dataset` and the
    commands use it, so the rule and the message are the same everywhere.
    ``name_dropped`` (e.g. ``"not predicted"``) adds the dropped files' paths
    under that heading.
    """
    if not duplicates:
        return
    n_copies = sum(len(v) for v in duplicates.values())
    dropped = ", ".join(str(p) for copies in duplicates.values() for p in copies[:3])
    warnings.warn(
        f"{root}: {len(duplicates)} image ids have {n_copies} duplicate copies "
        f"(kept the shallowest path), e.g. {_few(sorted(duplicates))}"
        + (f"; {name_dropped}: {dropped}" if name_dropped else ""),
        UserWarning,
        stacklevel=stacklevel + 1,
    )


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

    warn_duplicates(root_dir, duplicates, stacklevel=3)
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
    file_path_list: Any,
    labels: Any = None,
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    n_folds: int | None = None,
    fold: int | None = None,
    groups: Mapping[str, Any] | Sequence[Any] | None = None,
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
    - **groups** (``groups=``): the images of one group (a patient, a
      case-day's slices) always land on the same side, so nothing of a
      patient leaks from train into validation.  Groups are dealt whole:
      in k folds, groups holding positives first (most positives first), each
      to the fold with the fewest positives so far, then the others, each to
      the fold with the fewest images; in a hold-out, each class's groups (with
      or without positives) are taken in a seeded order until the class's
      share of validation is reached.  Counts are then balanced as far as the
      group sizes allow.

    Parameters
    ----------
    file_path_list : sequence of str or os.PathLike, or rlemask.Dataset
        The image paths; the id is the file stem.  A :class:`rlemask.Dataset`
        (``labels=None``): its ids are split (positive: a region of any
        class), and the lists returned hold ids.
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
    groups : mapping or sequence, optional
        The group of each image: a mapping id -> group, or one entry per path
        of ``file_path_list``.  Groups are any hashable values.

    Returns
    -------
    (train_paths, val_paths) : tuple of lists
        The paths as given, each list in the input order.

    Raises
    ------
    ValueError
        A bad ``val_fraction``, ``n_folds`` or ``fold``; ``groups`` of
        another length, without an image's id, or fewer groups than folds.

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

    Two images per patient: a patient is never in two folds.

    >>> patient = {str(i): i // 2 for i in range(10)}
    >>> val = split_dataset(paths, labels, n_folds=5, fold=0, groups=patient)[1]
    >>> len({patient[Path(p).stem] for p in val}), len(val)
    (1, 2)
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
    if _is_dataset(file_path_list):  # a rlemask.Dataset: its ids, positive for any class
        data = file_path_list
        file_path_list = list(data.ids)
        labels = {i: ["any"] if row.any() else [] for i, row in zip(data.ids, data.positive(),
                                                                     strict=True)}
        ids = file_path_list
    else:
        labels = as_labels(labels, "labels")
        ids = [Path(p).stem for p in file_path_list]
    positives, negatives, missing = _classes(ids, labels)
    if missing:
        warnings.warn(
            f"split_dataset: {len(missing)} images have no labels and are left out, "
            f"e.g. {_few(missing)}",
            UserWarning,
            stacklevel=2,
        )
    rng = np.random.default_rng(seed)
    if groups is not None:
        members = _group_members(ids, groups, positives, negatives)
        if folds is not None:
            val = _group_folds(members, positives, *folds, rng)
        else:
            val = _group_holdout(members, positives, val_fraction, rng)
    elif folds is not None:
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
    ids: Sequence[str], labels: Mapping[str, Any]
) -> tuple[list[int], list[int], list[str]]:
    """Indices of the positive and the negative images, and the ids without labels."""
    positives: list[int] = []
    negatives: list[int] = []
    missing: list[str] = []
    for i, key in enumerate(ids):
        if key not in labels:
            missing.append(key)
        elif is_positive(labels[key]):
            positives.append(i)
        else:
            negatives.append(i)
    return positives, negatives, missing


def _is_dataset(obj: Any) -> bool:
    return all(hasattr(obj, name) for name in ("ids", "positive", "sample", "path"))


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


def _group_members(
    ids: Sequence[str], groups: Any, positives: list[int], negatives: list[int],
) -> list[list[int]]:
    """The labelled images' indices, one list per group (in order of first appearance)."""
    labelled = sorted(positives + negatives)
    if isinstance(groups, Mapping):
        keys = {}
        for i in labelled:
            image_id = ids[i]
            if image_id not in groups:
                raise ValueError(f"`groups` has no group for image id {image_id!r}")
            keys[i] = groups[image_id]
    else:
        if isinstance(groups, (str, bytes)) or len(groups) != len(ids):
            raise ValueError(
                f"`groups` must be a mapping id -> group or have one entry per path "
                f"({len(ids)}); received {type(groups).__name__}"
                + ("" if isinstance(groups, (str, bytes)) else f" of length {len(groups)}")
            )
        keys = {i: groups[i] for i in labelled}
    members: dict[Any, list[int]] = {}
    for i in labelled:
        members.setdefault(keys[i], []).append(i)
    return list(members.values())


def _group_folds(
    members: list[list[int]], positives: list[int], n_folds: int, fold: int,
    rng: np.random.Generator,
) -> set[int]:
    if n_folds > len(members):
        raise ValueError(
            f"`n_folds` must be at most the number of groups ({len(members)}); "
            f"received n_folds={n_folds}"
        )
    pos = set(positives)
    n_pos = [sum(i in pos for i in g) for g in members]
    order = rng.permutation(len(members))  # the seed breaks ties between equal groups
    order = sorted(order, key=lambda g: (-n_pos[g], -len(members[g])))
    fold_pos = [0] * n_folds
    fold_n = [0] * n_folds
    val: set[int] = set()
    for g in order:
        if n_pos[g]:
            target = min(range(n_folds), key=lambda k: (fold_pos[k], fold_n[k], k))
        else:
            target = min(range(n_folds), key=lambda k: (fold_n[k], fold_pos[k], k))
        fold_pos[target] += n_pos[g]
        fold_n[target] += len(members[g])
        if target == fold:
            val.update(members[g])
    return val


def _group_holdout(
    members: list[list[int]], positives: list[int], val_fraction: float,
    rng: np.random.Generator,
) -> set[int]:
    pos = set(positives)
    val: set[int] = set()
    for has_positive in (True, False):
        kind = [g for g in members if any(i in pos for i in g) == has_positive]
        total = sum(len(g) for g in kind)
        want = round(val_fraction * total)
        taken = 0
        for k in rng.permutation(len(kind)):
            if taken >= want or len(kind) < 2:
                break
            if taken + len(kind[k]) >= total:  # never every group of a class
                continue
            val.update(kind[k])
            taken += len(kind[k])
    return val
