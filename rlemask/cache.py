"""A preprocessed, on-disk cache of training samples (numpy ``.npy`` memmaps).

Decoding a JPEG chest X-ray and resizing it costs a few milliseconds per
image; reading the same sample back from a memory-mapped array costs
microseconds.  :func:`build_cache` runs :func:`rlemask.load_sample` once for
every image (using a process pool) and :class:`SampleCache` serves batches
from the result, which is what makes epochs 2..N fast.

On-disk layout of ``out_dir`` (cache format 2)::

    index.json     {"version", "format", "img_size", "ids", "paths", "positive",
                    "labels_sha256", "complete", "arrays", "index_sha256"}
                   and, where they apply: "classes", "positive_classes" (multi-class),
                   "policy", "pad_multiple", "layouts" (policy "pad"), "skipped"
    images.npy     uint8 (N, H, W), 0..255 -- load_sample's image times 255
    masks.npy      uint8 (N, H, W), 0/1; (N, H, W, C) for C classes
    progress.npy   bool (N,): which rows are written (only while building)

Any image size and class count: ``img_size`` is ``(H, W)`` (not necessarily
square); labels with classes (a :class:`rlemask.Labels` with ``classes``, or
a mapping id -> {class: rows}) give masks of ``C`` channels, positives counted
per class (:attr:`SampleCache.positive_classes`).  ``policy="pad"`` keeps
every pixel: each image is zero-padded into one canvas (the largest image,
rounded up to the multiple), and its offsets are kept
(:meth:`SampleCache.layout`) so a prediction maps back exactly.

Corrupt files: with ``on_error="skip"`` a sample that cannot be made is left
out and listed (id, path, error) in the index's ``"skipped"``
(:attr:`SampleCache.skipped`) and in a warning; never silently.  The arrays
then hold the other rows only.

Images are stored as 8-bit steps (a quarter of float32's disk: the full SIIM
set at 512 px is about 3.2 GB instead of 12.6 GB).  This loses nothing:
:func:`rlemask.load_sample` itself rounds its image to multiples of 1/255,
and :class:`SampleCache` turns a stored ``k`` back into the same float32
``k / 255`` (:func:`rlemask.sample.to_unit`), so a cached sample is
bit-for-bit the sample :func:`rlemask.load_sample` makes.  Format 1 (float32
images) is refused with a message saying to rebuild.

Safety: ``index.json`` is written first with ``"complete": false``, and
rewritten (atomically: temporary file, then rename) with ``"complete": true``
only after every row is written and the arrays are flushed; it is the last
file written.  :class:`SampleCache` refuses a cache that is not complete, so
a half-built cache is never mistaken for a complete one.  While building,
the arrays are flushed and ``progress.npy`` is saved (atomically) every
``checkpoint_every`` samples and when the build stops for any reason
(Ctrl-C included); running :func:`build_cache` again with the same inputs
resumes where it stopped.  A row marked done is always on disk: the flag is
saved after the arrays are flushed.  "The same inputs" means the same
version, RLE format, size, ids, absolute paths and labels (a SHA-256 of the
RLE lists); the DICOM files' contents are not checked, so rebuild with
``overwrite=True`` after replacing images in place.  One build per folder at
a time: two processes building into the same folder are not coordinated.

Integrity: the complete index records the SHA-256 of each array file
(``"arrays"``) and of itself (``"index_sha256"``, over the other fields).
Opening checks the index's own checksum only -- an edited index (ids
reordered, a size changed) is refused at once, in milliseconds -- and
:meth:`SampleCache.verify` reads every array to check its checksum (seconds
per gigabyte; ``rlemask cache --verify OUT``).

Workers: a :class:`concurrent.futures.ProcessPoolExecutor` in the ``spawn``
context.  ``fork`` would copy a parent that may hold TensorFlow's threads or
numba's threading layer (both can deadlock or crash in a forked child) and is
not available on Windows; ``spawn`` starts clean interpreters everywhere,
costs about a second per worker once per build, and numba's on-disk cache
(``cache=True``) spares the workers the kernel compilation after the first
run.  Workers only compute; the parent process alone writes the arrays.
``workers <= 1``, or fewer than 64 samples per worker left to make, runs
in the calling process (no pool).  Workers die with the process that started
them (Linux: ``PR_SET_PDEATHSIG``; everywhere: a thread watching the parent),
so a ``SIGKILL`` or ``SIGTERM`` of the build leaves no orphan behind.
Array files are created afresh (an existing file or symbolic link is removed,
never written through), as every other file rlemask writes.  With ``client=`` (a
``dask.distributed.Client``) the samples are made on the Dask cluster
instead: the same tasks, the same bounded window of work in flight, the same
writes and checkpoints in the calling process, so the result is identical
and an interrupted build resumes the same way (with or without Dask).  As with any
``spawn`` pool, a script that calls :func:`build_cache` with workers must
keep its top-level code under ``if __name__ == "__main__":`` (the workers
import the main module).

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> from pydicom.dataset import Dataset, FileMetaDataset
>>> from pydicom.uid import ExplicitVRLittleEndian, generate_uid
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> paths = []
>>> for i in range(3):
...     ds = Dataset()
...     ds.file_meta = FileMetaDataset()
...     ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
...     ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
...     ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
...     ds.set_pixel_data(np.full((8, 8), 50 * i, np.uint8), "MONOCHROME2", 8)
...     ds.save_as(root / f"img{i}.dcm", enforce_file_format=True)
...     paths.append(root / f"img{i}.dcm")
>>> labels = {"img0": [], "img1": ["0 8"], "img2": []}
>>> cache = build_cache(paths, labels, root / "cache", img_size=4, workers=1, progress=False)
>>> len(cache), cache.ids, cache.positive.tolist()
(3, ['img0', 'img1', 'img2'], [False, True, False])
>>> images, masks = cache.get_batch([1, 2])
>>> images.shape, masks.dtype, int(masks[0].sum())
((2, 4, 4), dtype('uint8'), 4)
>>> SampleCache(root / "cache").index_of("img2")
2
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._atomic import atomic_write
from rlemask._validation import check_choice, check_size
from rlemask.datasets import is_positive, label_rows
from rlemask.sample import POLICIES, SampleLayout, read_shape, sample_layout, sample_u8, to_unit

__all__ = ["build_cache", "SampleCache", "CacheExistsError", "CACHE_VERSION", "ON_ERROR"]

#: bumped whenever the layout or the meaning of a sample changes
#: (1: float32 images; 2: uint8 images, checksums)
CACHE_VERSION = 2
#: what a sample that cannot be made does to the build
ON_ERROR = ("raise", "skip")

_INDEX = "index.json"
_IMAGES = "images.npy"
_MASKS = "masks.npy"
_PROGRESS = "progress.npy"
_ARRAYS = ((_IMAGES, np.uint8), (_MASKS, np.uint8))
#: below this many samples per worker the pool is not started: spawning the
#: workers (about a second each, more on a busy machine) costs more than it saves
_MIN_ITEMS_PER_WORKER = 64
#: the errors of one bad file (unreadable image, malformed or misfit RLE):
#: ``on_error="skip"`` leaves the sample out; anything else is a bug and stops
_SAMPLE_ERRORS = (ValueError, OSError)
_PR_SET_PDEATHSIG = 1


class CacheExistsError(FileExistsError):
    """``out_dir`` holds a cache of other inputs (or of an older format).

    ``reason`` says what differs, without advice, so that the library
    (``overwrite=True``) and the command (``--overwrite``) can each say how
    to replace it.
    """

    def __init__(self, out: Path, reason: str) -> None:
        self.out = out
        self.reason = reason
        super().__init__(f"{out}: {reason}; pass overwrite=True to replace it")


def _shapes(n: int, size: Sequence[int], n_classes: int) -> tuple[tuple[int, ...], ...]:
    """Shapes of images.npy and masks.npy: classes add a last axis to the masks."""
    image = (n, *size)
    return image, (image if n_classes == 0 else (*image, n_classes))


class SampleCache:
    """A complete cache built by :func:`build_cache`, opened read-only.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The cache folder.

    Attributes
    ----------
    ids : list of str
        Image ids, row order (skipped ids left out).
    paths : list of str
        The image file of each row (absolute, as it was when the cache was built).
    images : numpy.memmap
        uint8 (N, H, W), 0..255, read-only: the stored 8-bit steps.
        :meth:`get_batch` and indexing return them as float32 0..1, the
        values :func:`rlemask.load_sample` returns.
    masks : numpy.memmap
        uint8 (N, H, W) of 0/1, read-only; (N, H, W, C) with classes.
    classes : tuple of str
        The mask channels' classes; ``()`` for a single-class cache.
    positive : numpy.ndarray
        bool (N,): the image's labels hold at least one region (of any class;
        :func:`rlemask.datasets.is_positive`).
    positive_classes : numpy.ndarray
        bool (N, C): per class (``(N, 1)``, equal to ``positive``, without classes).
    img_size : tuple of int
        (H, W) of every sample.
    policy : str
        ``"resize"`` or ``"pad"`` (see :func:`rlemask.load_sample`).
    skipped : list of dict
        Files left out by ``on_error="skip"``: ``{"id", "path", "error"}``.

    Raises
    ------
    FileNotFoundError
        No ``index.json`` in ``out_dir``.
    ValueError
        The cache is incomplete (interrupted build: run :func:`build_cache`
        again to resume), of another format version, its index was edited
        (checksum mismatch), or its arrays do not match the index.

    Examples
    --------
    >>> import tempfile, rlemask
    >>> root = rlemask.synthetic.make_dataset(tempfile.mkdtemp(), n_images=4, size=256)
    >>> paths, labels = rlemask.load_siim(root)
    >>> _ = rlemask.build_cache(paths, labels, root / "cache", img_size=32, workers=1,
    ...                         progress=False)
    >>> cache = rlemask.SampleCache(root / "cache")
    >>> images, masks = cache.get_batch([0, 1])
    >>> images.dtype, images.shape, masks.shape
    (dtype('float32'), (2, 32, 32), (2, 32, 32))
    >>> cache.verify()  # reads every array: seconds per gigabyte
    """

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.path = Path(out_dir)
        index_path = self.path / _INDEX
        if not index_path.is_file():
            raise FileNotFoundError(f"{self.path}: not a sample cache (no {_INDEX})")
        index = _read_index(index_path)
        _check_version(self.path, index)
        if index.get("complete") is not True:
            raise ValueError(
                f"{self.path}: incomplete cache (the build was interrupted); build it again "
                "with the same inputs to resume"
            )
        if index.get("index_sha256") != _index_digest(index):
            raise ValueError(
                f"{index_path}: the index does not match its checksum (edited after the "
                "cache was built?); rebuild the cache"
            )
        self._index = index
        self.skipped: list[dict[str, str]] = [dict(s) for s in index.get("skipped", [])]
        gone = {int(s["row"]) for s in self.skipped}
        kept = [i for i in range(len(index["ids"])) if i not in gone]
        self._rows = kept  # rows of the requested inputs that are stored
        self.ids: list[str] = [index["ids"][i] for i in kept]
        self.paths: list[str] = [index["paths"][i] for i in kept]
        self.img_size: tuple[int, int] = tuple(index["img_size"])  # type: ignore[assignment]
        self.format: str = index["format"]
        self.classes: tuple[str, ...] = tuple(index.get("classes", ()))
        self.policy: str = index.get("policy", "resize")
        self.positive = np.asarray(index["positive"], dtype=bool)[kept]
        per_class = index.get("positive_classes")
        self.positive_classes = (
            np.asarray(per_class, dtype=bool).reshape(-1, len(self.classes))[kept]
            if per_class is not None else self.positive[:, None].copy()
        )
        shapes = _shapes(len(self.ids), self.img_size, len(self.classes))
        try:
            self.images = np.load(self.path / _IMAGES, mmap_mode="r")
            self.masks = np.load(self.path / _MASKS, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise ValueError(f"{self.path}: cannot open the cache arrays ({err})") from err
        for (name, dtype), arr, shape in zip(
            _ARRAYS, (self.images, self.masks), shapes, strict=True
        ):
            if arr.shape != shape or arr.dtype != dtype:
                raise ValueError(
                    f"{self.path / name}: {arr.dtype} {arr.shape}, the index says "
                    f"{np.dtype(dtype)} {shape}"
                )
        self._row = {key: i for i, key in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    # Pickled as its folder, not its arrays (a pickled memmap copies all the
    # data): process-based data loaders send the cache to each worker cheaply.
    def __getstate__(self) -> dict[str, str]:
        return {"path": str(self.path)}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["path"])

    def __repr__(self) -> str:
        extra = f", classes={self.classes}" if self.classes else ""
        return f"SampleCache({str(self.path)!r}, n={len(self)}, img_size={self.img_size}{extra})"

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """One sample as ``(image float32, mask uint8)`` arrays (copies)."""
        images, masks = self.get_batch([i])
        return images[0], masks[0]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(len(self)):
            yield self[i]

    def index_of(self, image_id: str) -> int:
        """Row of ``image_id``; ``KeyError`` naming the id when it is not cached."""
        try:
            return self._row[image_id]
        except KeyError:
            raise KeyError(f"image id {image_id!r} is not in the cache {self.path}") from None

    def layout(self, i: int) -> SampleLayout:
        """Where row ``i``'s image lies in its sample (:class:`rlemask.sample.SampleLayout`).

        ``layout(i).to_image(prediction)`` maps a prediction of the sample's
        size back to the image's own: a crop for ``"pad"``, a resize for
        ``"resize"``.
        """
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a cache of {n}")
        row = self._rows[i % n]
        layouts = self._index.get("layouts")
        if layouts is None:  # resize: the build did not need the shape; the header gives it
            return SampleLayout("resize", read_shape(self.paths[i % n]), self.img_size, 0, 0)
        top, left, h, w = layouts[row]
        return SampleLayout(self.policy, (h, w), self.img_size, top, left)

    def get_batch(
        self, indices: Sequence[int] | np.ndarray, *, dtype: Any = np.float32
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``indices`` as ``(images (B, H, W), masks uint8 (B, H, W[, C]))``.

        Parameters
        ----------
        indices : sequence of int
            Rows, in the order wanted (negative indices count from the end,
            as in numpy).
        dtype : {numpy.float32, numpy.uint8}
            ``float32`` (default): images in 0..1, exactly what
            :func:`rlemask.load_sample` returns.  ``uint8``: the stored
            0..255 steps (``to_unit`` of them gives the float32 values), for
            pipelines that convert on the accelerator.

        Returns
        -------
        images, masks : numpy.ndarray
            Fresh copies; masks carry a class axis when the cache has classes.

        Raises
        ------
        IndexError
            An index is out of range (the message gives it).
        """
        out_dtype = np.dtype(dtype)
        if out_dtype not in (np.dtype(np.float32), np.dtype(np.uint8)):
            raise ValueError(
                f"`dtype` must be numpy.float32 or numpy.uint8; received dtype={dtype!r}"
            )
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise IndexError(
                f"`indices` must be a 1-D sequence of ints; received indices={indices!r}"
            )
        n = len(self)
        idx = idx.astype(np.intp, copy=False)
        bad = (idx < -n) | (idx >= n)
        if bad.any():
            raise IndexError(f"index {int(idx[bad][0])} is out of range for a cache of {n}")
        idx = np.where(idx < 0, idx + n, idx)
        # numpy's fancy indexing on a memmap copies the rows; sorted reads are
        # sequential on disk, so read in sorted order and put back the order asked
        order = np.argsort(idx, kind="stable")
        images = np.empty((idx.size, *self.images.shape[1:]), dtype=np.uint8)
        masks = np.empty((idx.size, *self.masks.shape[1:]), dtype=np.uint8)
        images[order] = self.images[idx[order]]
        masks[order] = self.masks[idx[order]]
        if out_dtype == np.uint8:
            return images, masks
        return to_unit(images), masks

    def verify(self) -> None:
        """Check every array file against the checksum recorded when it was built.

        Reads each file once (seconds per gigabyte); opening the cache only
        checks the index.

        Raises
        ------
        ValueError
            A file's contents changed since the build; the message names the
            file.
        """
        recorded = self._index.get("arrays", {})
        for name, _ in _ARRAYS:
            path = self.path / name
            expected = recorded.get(name, {}).get("sha256")
            found = _file_digest(path)
            if found != expected:
                raise ValueError(
                    f"{path}: checksum mismatch (sha256 {found[:12]}..., the index recorded "
                    f"{str(expected)[:12]}...): the file changed after the cache was built; "
                    "rebuild the cache"
                )


def _check_version(path: Path, index: Mapping[str, Any]) -> None:
    version = index.get("version")
    if version == CACHE_VERSION:
        return
    older = isinstance(version, int) and version < CACHE_VERSION
    raise ValueError(
        f"{path}: cache format {version!r}"
        + (" (written by an older rlemask: float32 images)" if older else "")
        + f"; this rlemask reads format {CACHE_VERSION}: rebuild the cache from its data set"
        " (build_cache with overwrite=True, or rlemask cache DATA OUT --overwrite)"
    )


def _index_digest(index: Mapping[str, Any]) -> str:
    """SHA-256 of the index's fields other than ``index_sha256``, in a canonical form."""
    body = {key: value for key, value in index.items() if key != "index_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _file_digest(path: Path) -> str:
    try:
        digest = hashlib.sha256()  # hashlib.file_digest is Python >= 3.11 only
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError as err:
        raise ValueError(f"{path}: cannot read the cache array ({err})") from err


def _read_index(path: Path) -> dict[str, Any]:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable cache index ({err})") from err
    if not isinstance(index, dict):
        raise ValueError(f"{path}: unreadable cache index (not a JSON object)")
    return index


def _write_index(path: Path, index: dict[str, Any]) -> None:
    index = {**index, "index_sha256": _index_digest(index)}
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(index, handle)


def _save_progress(out_dir: Path, done: np.ndarray, arrays: tuple[np.memmap, ...]) -> None:
    # rows first, flags second: a row flagged done is always on disk
    for arr in arrays:
        arr.flush()
    with atomic_write(out_dir / _PROGRESS, "wb") as handle:
        np.save(handle, done)


def _load_progress(out_dir: Path, n: int) -> np.ndarray:
    try:
        done = np.load(out_dir / _PROGRESS)
    except (OSError, ValueError):
        return np.zeros(n, dtype=bool)
    if done.shape != (n,) or done.dtype != bool:
        return np.zeros(n, dtype=bool)
    return done


def _new_memmap(path: Path, dtype: Any, shape: tuple[int, ...]) -> Any:
    """A fresh ``.npy`` memmap at ``path``: whatever is there (a file, a link) is removed first.

    ``open_memmap(mode="w+")`` opens an existing path for writing, so a
    symbolic link would have its target truncated and overwritten (issue 19
    item 3); unlinking first replaces the link itself, as every other writer does.
    """
    from numpy.lib.format import open_memmap

    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def _open_arrays(
    out_dir: Path, shapes: tuple[tuple[int, ...], ...], fresh: bool
) -> tuple[Any, Any, bool]:
    """images, masks memmaps (r+); creates them when missing or wrong. Returns created flag."""
    from numpy.lib.format import open_memmap

    paths = [out_dir / name for name, _ in _ARRAYS]
    # a link is never written through, even on resume: this build did not make it
    if not fresh and not any(p.is_symlink() for p in paths):
        try:
            arrays = [open_memmap(p, mode="r+") for p in paths]
            dtypes = [d for _, d in _ARRAYS]
            if all(a.shape == s and a.dtype == d
                   for a, s, d in zip(arrays, shapes, dtypes, strict=True)):
                return arrays[0], arrays[1], False
        except (OSError, ValueError):
            pass
    arrays = [_new_memmap(p, d, s) for p, (_, d), s in zip(paths, _ARRAYS, shapes, strict=True)]
    return arrays[0], arrays[1], True


def _make_item(
    i: int, path: str, rles: Any, size: tuple[int, int] | None, fmt: str,
    policy: str = "resize", canvas: tuple[int, int] | None = None, skip: bool = False,
    options: Mapping[str, Any] | None = None,
) -> tuple[int, np.ndarray | None, np.ndarray | str]:
    """Worker task: one sample, image as uint8 steps (module level: workers import it).

    With ``skip``, a bad file gives ``(i, None, message)`` instead of raising.
    """
    try:
        image, mask = sample_u8(path, rles, size, fmt, policy, canvas, options)
    except _SAMPLE_ERRORS as err:
        if not skip:
            raise
        return i, None, f"{type(err).__name__}: {err}"
    return i, image, mask


def _write_item(images: Any, masks: Any, i: int, image: np.ndarray, mask: np.ndarray) -> None:
    images[i] = image
    masks[i] = mask


def _die_with_parent(parent_pid: int) -> None:
    """Pool worker initializer: end this worker when the process that started it ends.

    A ``spawn`` worker blocks on a pipe read forever when its parent is
    killed (SIGKILL, or SIGTERM, whose default action runs no Python clean-up),
    and it keeps multiprocessing's resource tracker alive with it (issue 19
    item 5).  On Linux the kernel sends SIGKILL when the parent dies
    (``PR_SET_PDEATHSIG``); everywhere a daemon thread also waits on the
    parent's sentinel and exits the worker.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(
                _PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0
            )
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                     name="rlemask-parent-watch").start()


def _watch_parent(parent_pid: int) -> None:
    parent = multiprocessing.parent_process()
    if parent is not None and getattr(parent, "sentinel", None) is not None:
        multiprocessing.connection.wait([parent.sentinel])
    else:  # pragma: no cover - every start method gives a sentinel since Python 3.8
        while os.getppid() == parent_pid:
            threading.Event().wait(1.0)
    os._exit(1)


def _settings(index: Mapping[str, Any]) -> tuple:
    return (
        index.get("version"),
        index.get("format"),
        list(index.get("img_size", [])),
        list(index.get("ids", [])),
        list(index.get("paths", [])),
        index.get("labels_sha256"),
        list(index.get("classes", [])),
        index.get("policy", "resize"),
        index.get("pad_multiple"),
        index.get("format_options", {}),
    )


def _inputs(
    file_path_list: Sequence[str | os.PathLike], labels: Any, ids: Sequence[str] | None,
    format: str, classes: Sequence[str] | None,
) -> tuple[list[Path], list[str], list[Any], tuple[str, ...], str]:
    """Paths, ids, each image's rows, the classes and the RLE format of a build."""
    paths = [Path(p) for p in file_path_list]
    if ids is None:
        ids = [p.stem for p in paths]
    else:
        ids = [str(i) for i in ids]
        if len(ids) != len(paths):
            raise ValueError(
                f"`ids` must have one id per path ({len(paths)}); received {len(ids)} ids"
            )
    dupes = sorted(key for key, count in Counter(ids).items() if count > 1)
    if dupes:
        raise ValueError(
            f"`file_path_list` has duplicate image ids: {dupes[:3]!r}"
            f"{' ...' if len(dupes) > 3 else ''}"
        )
    rows: Mapping[str, Any] | None = None
    found_classes: tuple[str, ...] = tuple(classes or ())
    if labels is not None:
        rows, found_classes, format = label_rows(labels, format=format, classes=classes)
        missing = [i for i in ids if i not in rows]
        if missing:
            warnings.warn(
                f"build_cache: {len(missing)} images have no labels and are left out, "
                f"e.g. {missing[:3]!r}",
                UserWarning,
                stacklevel=3,
            )
            keep = [k for k, i in enumerate(ids) if i in rows]
            paths = [paths[k] for k in keep]
            ids = [ids[k] for k in keep]
    if not ids:
        raise ValueError("build_cache: nothing to cache (no image with labels)")
    empty: Any = {c: [] for c in found_classes} if found_classes else []
    rles = [rows[i] if rows is not None else empty for i in ids]
    return paths, ids, rles, found_classes, format


def _pad_layouts(
    paths: list[Path], shapes: Sequence[Sequence[int] | None] | None,
    multiple: tuple[int, int], skip: bool,
) -> tuple[tuple[int, int], list[list[int]]]:
    """The common canvas of a ``"pad"`` cache and each row's ``[top, left, h, w]``.

    A shape not given is read from the file's header; with ``skip`` a header
    that cannot be read leaves that row to fail (and be skipped) when it is made.
    """
    if shapes is not None and len(shapes) != len(paths):
        raise ValueError(
            f"`shapes` must have one (height, width) per path ({len(paths)}); "
            f"received {len(shapes)}"
        )
    known: list[tuple[int, int] | None] = []
    for k, path in enumerate(paths):
        shape = None if shapes is None else shapes[k]
        if shape is None:
            try:
                shape = read_shape(path)
            except _SAMPLE_ERRORS:
                if not skip:
                    raise
        known.append(None if shape is None else (int(shape[0]), int(shape[1])))
    own = [sample_layout(s, multiple, policy="pad").sample_shape for s in known if s]
    if not own:
        raise ValueError(f"build_cache: none of the {len(paths)} image headers can be read")
    canvas = (max(s[0] for s in own), max(s[1] for s in own))
    layouts = []
    for shape in known:
        layout = sample_layout(shape or (1, 1), multiple, policy="pad", canvas=canvas)
        layouts.append([layout.top, layout.left, *layout.image_shape])
    return canvas, layouts


def build_cache(
    file_path_list: Sequence[str | os.PathLike],
    labels: Any,
    out_dir: str | os.PathLike,
    *,
    img_size: int | Sequence[int] = 256,
    workers: int = 2,
    progress: bool = True,
    format: str = "siim",
    overwrite: bool = False,
    checkpoint_every: int = 64,
    client: Any = None,
    ids: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    policy: str = "resize",
    shapes: Sequence[Sequence[int]] | None = None,
    on_error: str = "raise",
    options: Mapping[str, Any] | None = None,
) -> SampleCache:
    """Preprocess every image once into ``out_dir``; resume an interrupted build.

    Parameters
    ----------
    file_path_list : sequence of str or os.PathLike
        Image files (DICOM, PNG, JPEG, TIFF); the image id is the file stem
        unless ``ids`` is given, and must be unique.
    labels : mapping, rlemask.Labels, pandas.DataFrame or None
        Image id -> list of RLE strings, or a DataFrame with the columns
        ``ImageId`` and ``EncodedPixels``; with classes, a
        :class:`rlemask.Labels` (its ``classes`` and ``format`` are used) or a
        mapping id -> {class: list of RLE strings}.  Images without an entry
        are left out with a warning (they have no ground truth).  ``None``:
        no labels at all (e.g. test images); every mask is empty.
    out_dir : str or os.PathLike
        The cache folder (created).
    img_size : int or (int, int)
        Sample size, or with ``policy="pad"`` the multiple, as in
        :func:`rlemask.load_sample`.
    workers : int
        Worker processes (``spawn`` context); ``<= 1`` runs in this process,
        and so do small jobs (fewer than 64 samples per worker to make).
        Ignored with ``client``.
    progress : bool
        Show a tqdm progress bar.
    format : str
        RLE format of the labels (a ``Labels`` object brings its own).
    overwrite : bool
        Replace an existing cache built from other inputs (or by an older
        rlemask); without it such a cache raises :class:`CacheExistsError`.
    checkpoint_every : int
        Samples between two flushes of the arrays and ``progress.npy``.
    client : dask.distributed.Client, optional
        Make the samples on this Dask cluster (its workers need rlemask and
        read the image files by the same paths); the arrays are written here.
        Needs ``pip install "rlemask[dask]"``.
    ids : sequence of str, optional
        The image id of each path (default: the file stems); e.g. Severstal's
        and Airbus's ids keep their ``.jpg``.
    classes : sequence of str, optional
        The mask channels, for labels given as id -> {class: rows} (default:
        every class seen, in order of appearance).
    policy : {"resize", "pad"}
        ``"pad"``: every image at its own resolution, centred on one canvas
        (the largest image rounded up to a multiple of ``img_size``); the
        offsets are kept (:meth:`SampleCache.layout`).
    shapes : sequence of (int, int) or None, optional
        ``"pad"``: each image's (height, width), where known (labels' shape
        columns; None where not); the others are read from the file's header.
    on_error : {"raise", "skip"}
        ``"skip"``: a file that cannot be made into a sample (unreadable
        image, RLE that does not fit) is left out, listed in
        :attr:`SampleCache.skipped` and in a warning.
    options : mapping, optional
        Options of the RLE format (``{"order": "C"}``: row-major Kaggle).

    Returns
    -------
    SampleCache
        The complete cache, opened.  A complete cache with the same inputs is
        opened as it is, without any work.

    Raises
    ------
    CacheExistsError
        ``out_dir`` holds a cache of other inputs and ``overwrite`` is False
        (a ``FileExistsError``).
    rlemask.DicomError, rlemask.RLEError
        A sample cannot be made (``on_error="raise"``); the progress so far is
        saved, so fixing the file and running again resumes.
    ValueError
        Duplicate image ids, nothing to cache, or a bad parameter.

    Examples
    --------
    >>> import tempfile, rlemask
    >>> root = rlemask.synthetic.make_dataset(tempfile.mkdtemp(), n_images=4, size=256)
    >>> paths, labels = rlemask.load_siim(root)
    >>> cache = rlemask.build_cache(paths, labels, root / "cache-64", img_size=64,
    ...                             workers=1, progress=False)
    >>> len(cache), cache.images.shape, cache.images.dtype
    (4, (4, 64, 64), dtype('uint8'))

    With Dask (a cluster's address, or a local one)::

        from dask.distributed import Client, LocalCluster
        with LocalCluster(n_workers=8, threads_per_worker=1) as cluster, Client(cluster) as client:
            rlemask.build_cache(paths, labels, "cache-512", img_size=512, client=client)
    """
    size = check_size(img_size, "img_size")
    check_choice(policy, "policy", POLICIES)
    check_choice(on_error, "on_error", ON_ERROR)
    if checkpoint_every < 1:
        raise ValueError(
            f"`checkpoint_every` must be >= 1; received checkpoint_every={checkpoint_every!r}"
        )
    paths, ids, rles, classes, format = _inputs(file_path_list, labels, ids, format, classes)
    if options is None and labels is not None:
        options = getattr(labels, "format_options", None)
    options = dict(options or {})
    index = _new_index(paths, ids, rles, classes, format, size)
    if options:
        index["format_options"] = options
    canvas = None
    if policy == "pad":
        canvas, index["layouts"] = _pad_layouts(paths, shapes, size, on_error == "skip")
        index.update(policy="pad", pad_multiple=list(size), img_size=list(canvas))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fresh = _fresh_or_resume(out, index, overwrite)
    if fresh is None:
        return SampleCache(out)

    n = len(ids)
    images, masks, created = _open_arrays(out, _shapes(n, index["img_size"], len(classes)), fresh)
    done = np.zeros(n, dtype=bool) if created else _load_progress(out, n)
    skip = on_error == "skip"
    tasks = [(i, str(paths[i]), rles[i], size, format, policy, canvas, skip, options)
             for i in np.flatnonzero(~done).tolist()]
    skipped = _run(tasks, images, masks, done, out, workers, progress, checkpoint_every, client)
    if skipped:
        images, masks = _drop_rows(out, images, masks, sorted(skipped), n, len(classes))
        index["skipped"] = [{"row": i, "id": ids[i], "path": index["paths"][i],
                             "error": skipped[i]} for i in sorted(skipped)]
        warnings.warn(
            f"build_cache: {len(skipped)} of {n} images could not be read and were skipped "
            "(listed in SampleCache.skipped): "
            + "; ".join(f"{ids[i]} ({skipped[i]})" for i in sorted(skipped)[:3])
            + (" ..." if len(skipped) > 3 else ""),
            UserWarning,
            stacklevel=2,
        )
    _finish(out, index, images, masks)
    return SampleCache(out)


def _new_index(
    paths: list[Path], ids: list[str], rles: list[Any], classes: tuple[str, ...], format: str,
    size: tuple[int, int],
) -> dict[str, Any]:
    per_class = [[is_positive(r[c]) for c in classes] for r in rles] if classes else None
    index: dict[str, Any] = {
        "version": CACHE_VERSION,
        "format": format,
        "img_size": list(size),
        "ids": ids,
        "paths": [os.path.abspath(p) for p in paths],
        "positive": ([any(p) for p in per_class] if per_class is not None
                     else [is_positive(r) for r in rles]),
        # the labels are part of what a sample is: a changed CSV is another cache
        "labels_sha256": hashlib.sha256(json.dumps(rles, default=str).encode()).hexdigest(),
        "complete": False,
    }
    if classes:  # single-class indexes stay as they were (older caches still match)
        index.update(classes=list(classes), positive_classes=per_class)
    return index


def _fresh_or_resume(out: Path, index: dict[str, Any], overwrite: bool) -> bool | None:
    """True: start afresh; False: resume; None: a complete cache of these inputs is there."""
    index_path = out / _INDEX
    if index_path.is_file():
        try:
            old = _read_index(index_path)
        except ValueError:
            old = None
        if old is not None and _settings(old) == _settings(index):
            return None if old.get("complete") is True else False
        if not overwrite:
            old_version = old.get("version") if old is not None else None
            raise CacheExistsError(
                out,
                f"holds a cache of format {old_version!r} (this rlemask writes format "
                f"{CACHE_VERSION})"
                if old is not None and old_version != CACHE_VERSION
                else "holds a cache of other inputs (ids, paths, size, format or labels differ)",
            )
    for name in (_PROGRESS, _INDEX):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    _write_index(index_path, index)  # complete: false, written before any row
    return True


def _drop_rows(
    out: Path, images: Any, masks: Any, skipped: list[int], n: int, n_classes: int
) -> tuple[Any, Any]:
    """The arrays without the skipped rows (new files, renamed over the old ones)."""
    keep = np.setdiff1d(np.arange(n), skipped)
    if keep.size == 0:
        raise ValueError(f"build_cache: none of the {n} images could be read (see the warning)")
    shapes = _shapes(int(keep.size), images.shape[1:3], n_classes)
    for (name, dtype), old, shape in zip(_ARRAYS, (images, masks), shapes, strict=True):
        tmp = out / f".{name}.compact"
        new = _new_memmap(tmp, dtype, shape)
        for start in range(0, keep.size, 256):
            new[start:start + 256] = old[keep[start:start + 256]]
        new.flush()
        del new
        os.replace(tmp, out / name)
    return tuple(np.load(out / name, mmap_mode="r") for name, _ in _ARRAYS)  # type: ignore


def _finish(out: Path, index: dict[str, Any], images: Any, masks: Any) -> None:
    """Every row written: flush, checksum, then mark complete (last write), then tidy up."""
    if hasattr(images, "flush"):
        images.flush()
        masks.flush()
    del images, masks
    index["arrays"] = {
        name: {"sha256": _file_digest(out / name), "dtype": np.dtype(dtype).name}
        for name, dtype in _ARRAYS
    }
    index["complete"] = True
    _write_index(out / _INDEX, index)
    with contextlib.suppress(FileNotFoundError):
        (out / _PROGRESS).unlink()


def _run(
    tasks: list[tuple],
    images: Any,
    masks: Any,
    done: np.ndarray,
    out: Path,
    workers: int,
    progress: bool,
    checkpoint_every: int,
    client: Any,
) -> dict[int, str]:
    """Make and store every task's sample; returns the rows skipped, with their errors."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(done),
        initial=int(done.sum()),
        disable=not progress,
        unit="img",
        desc="cache",
        dynamic_ncols=True,
    )
    since = 0
    skipped: dict[int, str] = {}

    def store(i: int, image: np.ndarray | None, mask: Any) -> None:
        nonlocal since
        if image is None:  # on_error="skip": the row stays unwritten, and is listed
            skipped[i] = mask
        else:
            _write_item(images, masks, i, image, mask)
            done[i] = True
            since += 1
        bar.update(1)
        if since >= checkpoint_every:
            _save_progress(out, done, (images, masks))
            since = 0

    try:
        if client is not None:
            # closing(): a failure in store() cancels what is still in flight
            with contextlib.closing(_dask_results(client, tasks)) as results:
                for item in results:
                    store(*item)
        elif workers <= 1 or len(tasks) < _MIN_ITEMS_PER_WORKER * workers:
            for task in tasks:
                store(*_make_item(*task))
        else:
            _pool_results(tasks, workers, store)
    finally:
        # whatever stopped us (done, an error, Ctrl-C), keep what was written
        _save_progress(out, done, (images, masks))
        bar.close()
    return skipped


def _pool_results(tasks: list[tuple], workers: int, store: Callable[..., None]) -> None:
    context = multiprocessing.get_context("spawn")
    with (
        cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_die_with_parent,
            initargs=(os.getpid(),),
        ) as pool,
        contextlib.closing(
            _windowed(
                tasks,
                submit=lambda task: pool.submit(_make_item, *task),
                wait_first=lambda pending: cf.wait(pending, return_when=cf.FIRST_COMPLETED),
                cancel=lambda pending: pool.shutdown(wait=True, cancel_futures=True),
                window=4 * workers,
            )
        ) as results,
    ):
        for item in results:
            store(*item)


def _windowed(
    tasks: list[tuple],
    *,
    submit: Callable[[tuple], Any],
    wait_first: Callable[[set], tuple[set, set]],
    cancel: Callable[[set], None],
    window: int,
) -> Iterator[Any]:
    """Results of ``tasks`` as they finish, with at most ``window`` in flight.

    Bounded so that results never pile up in memory; the same loop serves a
    process pool and a Dask client (both have futures with ``result()`` and
    a "first completed" wait).
    """
    pending: set = set()
    queue = iter(tasks)
    try:
        while True:
            for task in queue:
                pending.add(submit(task))
                if len(pending) >= window:
                    break
            if not pending:
                return
            finished, pending = wait_first(pending)
            pending = set(pending)
            for future in finished:
                yield future.result()
    except BaseException:
        cancel(pending)
        raise


def _dask_results(client: Any, tasks: list[tuple]) -> Iterator[Any]:
    from rlemask._optional import require

    wait = require("distributed", "building a cache on a Dask cluster").wait
    threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())

    def wait_first(pending: set) -> tuple[set, set]:
        result = wait(list(pending), return_when="FIRST_COMPLETED")
        return set(result.done), set(result.not_done)

    return _windowed(
        tasks,
        # pure=False: a resumed build must make the row again, not reuse a result
        submit=lambda task: client.submit(_make_item, *task, pure=False),
        wait_first=wait_first,
        cancel=lambda pending: client.cancel(list(pending)),
        window=4 * max(1, threads),
    )
