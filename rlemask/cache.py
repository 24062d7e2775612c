"""A preprocessed, on-disk cache of training samples (numpy ``.npy`` memmaps).

Decoding a JPEG chest X-ray and resizing it costs a few milliseconds per
image; reading the same sample back from a memory-mapped array costs
microseconds.  :func:`build_cache` runs :func:`rlemask.load_sample` once for
every image (using a process pool) and :class:`SampleCache` serves batches
from the result, which is what makes epochs 2..N fast.

On-disk layout of ``out_dir`` (cache format 2)::

    index.json     {"version", "format", "img_size", "ids", "paths", "positive",
                    "labels_sha256", "complete", "arrays", "index_sha256"}
    images.npy     uint8 (N, H, W), 0..255 -- load_sample's image times 255
    masks.npy      uint8 (N, H, W), 0/1
    progress.npy   bool (N,): which rows are written (only while building)

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
in the calling process (no pool).  With ``client=`` (a
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
import hashlib
import json
import multiprocessing
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlemask._atomic import atomic_write
from rlemask._validation import check_size
from rlemask.datasets import is_positive
from rlemask.labels import as_labels
from rlemask.progress import progress as progress_line
from rlemask.sample import sample_u8, to_unit

__all__ = ["build_cache", "SampleCache", "CacheExistsError", "CACHE_VERSION"]

#: bumped whenever the layout or the meaning of a sample changes
#: (1: float32 images; 2: uint8 images, checksums)
CACHE_VERSION = 2

_INDEX = "index.json"
_IMAGES = "images.npy"
_MASKS = "masks.npy"
_PROGRESS = "progress.npy"
_ARRAYS = ((_IMAGES, np.uint8), (_MASKS, np.uint8))
#: below this many samples per worker the pool is not started: spawning the
#: workers (about a second each, more on a busy machine) costs more than it saves
_MIN_ITEMS_PER_WORKER = 64


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


class SampleCache:
    """A complete cache built by :func:`build_cache`, opened read-only.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The cache folder.

    Attributes
    ----------
    ids : list of str
        Image ids, row order.
    paths : list of str
        The DICOM file of each row (absolute, as it was when the cache was built).
    images : numpy.memmap
        uint8 (N, H, W), 0..255, read-only: the stored 8-bit steps.
        :meth:`get_batch` and indexing return them as float32 0..1, the
        values :func:`rlemask.load_sample` returns.
    masks : numpy.memmap
        uint8 (N, H, W) of 0/1, read-only.
    positive : numpy.ndarray
        bool (N,): the image's labels hold at least one region
        (:func:`rlemask.datasets.is_positive`).
    img_size : tuple of int
        (H, W).

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
        self.ids: list[str] = list(index["ids"])
        self.paths: list[str] = list(index["paths"])
        self.img_size: tuple[int, int] = tuple(index["img_size"])  # type: ignore[assignment]
        self.format: str = index["format"]
        self.positive = np.asarray(index["positive"], dtype=bool)
        shape = (len(self.ids), *self.img_size)
        try:
            self.images = np.load(self.path / _IMAGES, mmap_mode="r")
            self.masks = np.load(self.path / _MASKS, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise ValueError(f"{self.path}: cannot open the cache arrays ({err})") from err
        for (name, dtype), arr in zip(_ARRAYS, (self.images, self.masks), strict=True):
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
        return f"SampleCache({str(self.path)!r}, n={len(self)}, img_size={self.img_size})"

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

    def get_batch(
        self, indices: Sequence[int] | np.ndarray, *, dtype: Any = np.float32
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``indices`` as ``(images (B, H, W), masks uint8 (B, H, W))``.

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
            Fresh copies.

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
        images = np.empty((idx.size, *self.img_size), dtype=np.uint8)
        masks = np.empty((idx.size, *self.img_size), dtype=np.uint8)
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


def _open_arrays(out_dir: Path, shape: tuple[int, int, int], fresh: bool) -> tuple[Any, Any, bool]:
    """images, masks memmaps (r+); creates them when missing or wrong. Returns created flag."""
    from numpy.lib.format import open_memmap

    if not fresh:
        try:
            arrays = [open_memmap(out_dir / name, mode="r+") for name, _ in _ARRAYS]
            dtypes = [d for _, d in _ARRAYS]
            if all(a.shape == shape and a.dtype == d for a, d in zip(arrays, dtypes, strict=True)):
                return arrays[0], arrays[1], False
        except (OSError, ValueError):
            pass
    arrays = [open_memmap(out_dir / name, mode="w+", dtype=d, shape=shape) for name, d in _ARRAYS]
    return arrays[0], arrays[1], True


def _make_item(
    i: int, path: str, rles: list[str], size: tuple[int, int], fmt: str
) -> tuple[int, np.ndarray, np.ndarray]:
    """Worker task: one sample, image as uint8 steps (module level: workers import it)."""
    image, mask = sample_u8(path, rles, size, fmt)
    return i, image, mask


def _write_item(images: Any, masks: Any, i: int, image: np.ndarray, mask: np.ndarray) -> None:
    images[i] = image
    masks[i] = mask


def _settings(index: Mapping[str, Any]) -> tuple:
    return (
        index.get("version"),
        index.get("format"),
        list(index.get("img_size", [])),
        list(index.get("ids", [])),
        list(index.get("paths", [])),
        index.get("labels_sha256"),
    )


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
) -> SampleCache:
    """Preprocess every image once into ``out_dir``; resume an interrupted build.

    Parameters
    ----------
    file_path_list : sequence of str or os.PathLike
        DICOM files; the image id is the file stem and must be unique.
    labels : mapping, pandas.DataFrame or None
        Image id -> list of RLE strings, or a DataFrame with the columns
        ``ImageId`` and ``EncodedPixels``.  Images without an entry are left
        out with a warning (they have no ground truth).  ``None``: no labels
        at all (e.g. test images); every mask is empty.
    out_dir : str or os.PathLike
        The cache folder (created).
    img_size : int or (int, int)
        Sample size, as in :func:`rlemask.load_sample`.
    workers : int
        Worker processes (``spawn`` context); ``<= 1`` runs in this process,
        and so do small jobs (fewer than 64 samples per worker to make).
        Ignored with ``client``.
    progress : bool
        Report progress: a tqdm bar on a terminal, a plain line every 30 s elsewhere.
    format : str
        RLE format of the labels.
    overwrite : bool
        Replace an existing cache built from other inputs (or by an older
        rlemask); without it such a cache raises :class:`CacheExistsError`.
    checkpoint_every : int
        Samples between two flushes of the arrays and ``progress.npy``.
    client : dask.distributed.Client, optional
        Make the samples on this Dask cluster (its workers need rlemask and
        read the DICOM files by the same paths); the arrays are written here.
        Needs ``pip install "rlemask[dask]"``.

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
        A sample cannot be made; the progress so far is saved, so fixing the
        file and running again resumes.
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
    if checkpoint_every < 1:
        raise ValueError(
            f"`checkpoint_every` must be >= 1; received checkpoint_every={checkpoint_every!r}"
        )
    if labels is not None:
        labels = as_labels(labels, "labels", format=format)
    out = Path(out_dir)
    paths = [Path(p) for p in file_path_list]
    ids = [p.stem for p in paths]
    dupes = sorted(key for key, count in Counter(ids).items() if count > 1)
    if dupes:
        raise ValueError(
            f"`file_path_list` has duplicate image ids: {dupes[:3]!r}"
            f"{' ...' if len(dupes) > 3 else ''}"
        )
    if labels is not None:
        missing = [i for i in ids if i not in labels]
        if missing:
            warnings.warn(
                f"build_cache: {len(missing)} images have no labels and are left out, "
                f"e.g. {missing[:3]!r}",
                UserWarning,
                stacklevel=2,
            )
            keep = [k for k, i in enumerate(ids) if i in labels]
            paths = [paths[k] for k in keep]
            ids = [ids[k] for k in keep]
    if not ids:
        raise ValueError("build_cache: nothing to cache (no image with labels)")
    rles = [list(labels[i]) if labels is not None else [] for i in ids]
    index: dict[str, Any] = {
        "version": CACHE_VERSION,
        "format": format,
        "img_size": list(size),
        "ids": ids,
        "paths": [os.path.abspath(p) for p in paths],
        "positive": [is_positive(r) for r in rles],
        # the labels are part of what a sample is: a changed CSV is another cache
        "labels_sha256": hashlib.sha256(json.dumps(rles, default=str).encode()).hexdigest(),
        "complete": False,
    }

    out.mkdir(parents=True, exist_ok=True)
    index_path = out / _INDEX
    fresh = True
    if index_path.is_file():
        try:
            old = _read_index(index_path)
        except ValueError:
            old = None
        if old is not None and _settings(old) == _settings(index):
            if old.get("complete") is True:
                return SampleCache(out)
            fresh = False  # resume
        elif not overwrite:
            old_version = old.get("version") if old is not None else None
            raise CacheExistsError(
                out,
                f"holds a cache of format {old_version!r} (this rlemask writes format "
                f"{CACHE_VERSION})"
                if old is not None and old_version != CACHE_VERSION
                else "holds a cache of other inputs (ids, paths, size, format or labels differ)",
            )
    if fresh:
        for name in (_PROGRESS, _INDEX):
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
        _write_index(index_path, index)  # complete: false, written before any row

    n = len(ids)
    images, masks, created = _open_arrays(out, (n, *size), fresh)
    done = np.zeros(n, dtype=bool) if created else _load_progress(out, n)
    todo = [int(i) for i in np.flatnonzero(~done)]
    tasks = [(i, str(paths[i]), rles[i], size, format) for i in todo]
    _run(tasks, images, masks, done, out, workers, progress, checkpoint_every, client)

    # every row written: flush, checksum, then mark complete (last write), then tidy up
    images.flush()
    masks.flush()
    del images, masks
    index["arrays"] = {
        name: {"sha256": _file_digest(out / name), "dtype": np.dtype(dtype).name}
        for name, dtype in _ARRAYS
    }
    index["complete"] = True
    _write_index(index_path, index)
    with contextlib.suppress(FileNotFoundError):
        (out / _PROGRESS).unlink()
    return SampleCache(out)


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
) -> None:
    bar = progress_line(
        total=len(done), initial=int(done.sum()), disable=not progress, unit="img", desc="cache"
    )
    since = 0

    def store(i: int, image: np.ndarray, mask: np.ndarray) -> None:
        nonlocal since
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
            context = multiprocessing.get_context("spawn")
            with (
                cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool,
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
    finally:
        # whatever stopped us (done, an error, Ctrl-C), keep what was written
        _save_progress(out, done, (images, masks))
        bar.close()


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
