"""A ``keras.utils.PyDataset`` that batches segmentation samples for ``model.fit``.

The generator does no image processing of its own: every sample comes from
:func:`rlemask.load_sample` (DICOM + RLE strings at the model's size), from
a :class:`rlemask.Dataset` (images of any source, ``C`` classes, resized or
padded: :meth:`rlemask.Dataset.sample`) or from a :class:`rlemask.SampleCache`
holding the same arrays, so training,
validation, prediction and other frameworks all see the same pixels.  What it
adds is batching, the epoch's order (shuffling and a positive-fraction
schedule, :class:`rlemask.augment.PositiveFractionSampler`), augmentation
(:mod:`rlemask.augment`: the built-in batch kernel or any callable in the
albumentations convention), and a policy for unreadable files.  Everything
but the batching lives in the core, so a PyTorch loader can reuse it.

Randomness is derived from ``(seed, epoch, batch index)``, never from a
shared generator, so a batch is the same whichever worker thread or process
builds it and in whichever order Keras asks for the batches.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from rlemask.augment import (
    BasicAugmentation,
    PositiveFractionSampler,
    apply_per_sample,
    check_augment,
)
from rlemask.datasets import is_positive
from rlemask.labels import as_labels

__all__ = ["DataGenerator"]

_ON_ERROR = ("raise", "skip")
_POLICIES = ("resize", "pad")
# attempts at replacing one unreadable sample before the batch gives up
_MAX_REPLACEMENTS = 20
# Keras >= 3.5 calls PyDataset.on_epoch_begin; older ones only on_epoch_end
_KERAS_CALLS_BEGIN = hasattr(keras.utils.PyDataset, "on_epoch_begin")
# orders of epochs other than the current one kept for batch(epoch, index)
_ORDERS_KEPT = 4


# Keras' functions that fetch one batch to build the model before training:
# JAX / PyTorch (and TensorFlow without a strategy) via _symbolic_build; the
# TensorFlow trainer under a distribution strategy fetches it in
# _maybe_symbolic_build before calling _symbolic_build
_BUILD_PROBES = frozenset({"_symbolic_build", "_maybe_symbolic_build"})


def _building_model(depth: int = 12) -> bool:
    """True when called (within ``depth`` frames) from Keras' build-time probe.

    That private name is the only sign of the build-time probe; should Keras
    rename it, the probe counts as an epoch again (the schedule shifts by one
    on JAX and PyTorch, as before), nothing fails.
    """
    frame = sys._getframe(1)
    for _ in range(depth):
        if frame is None:
            return False
        if frame.f_code.co_name in _BUILD_PROBES and "keras" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _size(value: Any, name: str = "img_size") -> tuple[int, int]:
    """``(height, width)`` of an int (square) or a pair of positive integers."""
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(pair) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in pair
    ):
        raise ValueError(
            f"`{name}` must be a positive integer or (height, width) of them. "
            f"Received: {name}={value!r}"
        )
    return int(pair[0]), int(pair[1])


def _is_dataset(source: Any) -> bool:
    """A :class:`rlemask.Dataset` or an object of its contract (``ids``, ``sample()``)."""
    return hasattr(source, "ids") and callable(getattr(source, "sample", None))


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack samples; samples of several sizes (``policy="pad"``) are zero-padded at the end."""
    shapes = {a.shape for a in arrays}
    if len(shapes) == 1:
        return np.stack(arrays)
    height = max(a.shape[0] for a in arrays)
    width = max(a.shape[1] for a in arrays)
    out = np.zeros((len(arrays), height, width, *arrays[0].shape[2:]), arrays[0].dtype)
    for k, a in enumerate(arrays):
        out[k, : a.shape[0], : a.shape[1]] = a
    return out


class DataGenerator(keras.utils.PyDataset):
    """Batches of ``(X, y)`` for segmentation, from DICOM files, a data set or a sample cache.

    Parameters
    ----------
    file_path_list : sequence of str or os.PathLike, or rlemask.Dataset
        The DICOM files (an image's id is its file stem), or a
        :class:`rlemask.Dataset` (:func:`rlemask.load_dataset`: images of any
        source and size, ``C`` classes), whose :meth:`~rlemask.Dataset.sample`
        makes every sample; ``labels`` is then not given.
    labels : mapping or pandas.DataFrame
        Image id -> list of RLE strings (empty list: no region), as returned
        by :func:`rlemask.load_siim` / :func:`rlemask.read_rle_csv`, or a
        DataFrame with the columns ``ImageId`` and ``EncodedPixels`` (one row
        per region, ``-1`` for none; see :func:`rlemask.labels_from_frame`).
        Every image needs an entry.
    batch_size : int
        Images per batch; the last batch of an epoch may be smaller.
    img_size : int or (int, int)
        ``policy="resize"``: the model input, ``S`` (square) or
        ``(height, width)``.  ``policy="pad"``: the multiple each side is
        padded to (the model's ``2**depth``); the images keep their size, and
        a batch of images of several sizes is zero-padded at the bottom and
        right to its largest.
    channels : int
        1, or 3 for ImageNet-style models (the grey image is repeated).
    shuffle : bool
        Reshuffle the order of the samples at every epoch.
    cache : rlemask.SampleCache, optional
        Preprocessed samples (:func:`rlemask.build_cache`); must hold every
        id at ``img_size``.  Without it each sample is read from its DICOM.
    seed : int, optional
        Seed of the order, the sampling and the augmentation.  The same seed
        gives the same batches at the same epoch.  ``None``: fresh entropy.
    augment : bool or callable
        ``True``: the built-in set, :class:`rlemask.augment.BasicAugmentation`
        (flip, zoom + shift, contrast, brightness), drawn from ``seed`` and
        applied to the whole batch by one numba kernel.  A callable in the
        albumentations convention, ``fn(image=..., mask=...)`` returning a
        dict with ``"image"`` and ``"mask"``, is applied to every sample
        (float32 (S, S) image in 0..1, uint8 (S, S) mask; it must keep the
        size; its randomness is its own).  ``False``: none.
    positive_fraction : float or (float, float), optional
        Share of positive images in each epoch.  A float holds for every
        epoch; ``(start, end)`` goes linearly from ``start`` at the first
        epoch to ``end`` at epoch ``epochs`` (``end=None``: the natural share),
        the 1st-place SIIM sampler.  An epoch keeps the data set's size:
        positives and negatives are drawn without replacement while they
        last, then cycled.  ``None`` (default): every image once per epoch.
    epochs : int, optional
        Length of the schedule; needed when ``positive_fraction`` is a pair.
    on_error : {"raise", "skip"}
        An unreadable sample either raises (the message names the file), or
        is skipped: it is replaced in its batch by another image, left out
        of later epochs, and counted in :attr:`n_skipped`.
    replicas : int
        Number of replicas a ``tf.distribute`` strategy splits each batch
        across.  Each epoch is cut to a multiple of it (at most
        ``replicas - 1`` images left out, others at the next shuffle), so
        that no replica gets an empty share of the last batch, which Keras
        3's TensorFlow trainer does not survive.
    policy : {"resize", "pad"}
        Bring every image to ``img_size`` (the masks resized binary-safe), or
        keep its pixels and zero-pad it to a multiple of ``img_size``
        (centred, :meth:`rlemask.Dataset.layout` maps predictions back).
    presence : bool
        Yield ``(X, {"mask": y, "presence": p})`` with ``p`` float32 (B, C):
        1 where the class has a pixel in the sample's mask, the targets of a
        model built with ``classifier=True``.
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size``, passed to
        :class:`keras.utils.PyDataset`.

    Attributes
    ----------
    ids : list of str
        Image ids in the input order.
    positive : np.ndarray
        bool per image: has at least one region (of any class).
    n_classes : int
        Channels ``C`` of ``y``: 1, or the data set's classes.
    dataset : rlemask.Dataset or None
        The data set given, if any.
    epoch : int
        Epochs completed: :meth:`on_epoch_begin` then :meth:`on_epoch_end`,
        as Keras calls them (a manual loop calls both, or :meth:`set_epoch`).
    skipped : list of pathlib.Path
        Files that could not be read (``on_error="skip"``).

    Raises
    ------
    ValueError
        Bad argument values, or an image without an entry in ``labels``.
    TypeError
        ``augment`` is neither a bool nor a callable, or ``labels`` is not
        labels.

    Examples
    --------
    >>> import tempfile
    >>> import rlemask
    >>> from rlemask.synthetic import make_dataset
    >>> root = make_dataset(tempfile.mkdtemp(), n_images=5, size=64, seed=0)
    >>> paths, labels = rlemask.load_siim(root)
    >>> gen = DataGenerator(paths, labels, batch_size=2, img_size=32, seed=0)
    >>> len(gen)  # 2 + 2 + 1
    3
    >>> X, y = gen[2]
    >>> X.shape, X.dtype.name, y.shape, y.dtype.name
    ((1, 32, 32, 1), 'float32', (1, 32, 32, 1), 'float32')

    Augmentation with albumentations:

    >>> import albumentations as A
    >>> transform = A.Compose([A.HorizontalFlip(p=0.5),
    ...                        A.Affine(scale=(0.9, 1.1), rotate=(-10, 10), p=0.7),
    ...                        A.RandomBrightnessContrast(p=0.5)], seed=0)
    >>> gen = DataGenerator(paths, labels, batch_size=2, img_size=32, augment=transform)
    >>> X, y = gen[0]
    >>> sorted(np.unique(y).tolist()) in ([0.0], [0.0, 1.0])
    True

    A data set of another kind, four classes at 64 x 320, with the presence
    targets of a classification head:

    >>> from rlemask.synthetic_kinds import make_kind
    >>> root = make_kind(tempfile.mkdtemp(), "severstal", n_images=4, size=(64, 320))
    >>> data = rlemask.load_dataset(root, root / "train.csv")
    >>> gen = DataGenerator(data, batch_size=2, img_size=(32, 160), presence=True, seed=0)
    >>> X, y = gen[0]
    >>> X.shape, y["mask"].shape, y["presence"].shape
    ((2, 32, 160, 1), (2, 32, 160, 4), (2, 4))
    """

    def __init__(
        self,
        file_path_list: Sequence[str | os.PathLike] | Any,
        labels: Mapping[str, Sequence[str]] | Any = None,
        batch_size: int = 32,
        img_size: int = 256,
        channels: int = 1,
        shuffle: bool = True,
        *,
        cache: Any = None,
        seed: int | None = None,
        augment: bool | Callable[..., Mapping[str, Any]] = False,
        positive_fraction: float | tuple[float, float | None] | None = None,
        epochs: int | None = None,
        on_error: str = "raise",
        replicas: int = 1,
        policy: str = "resize",
        presence: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.size = _size(img_size)
        self.img_size = self.size[0] if self.size[0] == self.size[1] else self.size
        if policy not in _POLICIES:
            raise ValueError(f"`policy` must be one of {_POLICIES}. Received: policy={policy!r}")
        self.policy = policy
        self.presence = bool(presence)
        if channels not in (1, 3) or isinstance(channels, bool):
            raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels!r}")
        self.channels = int(channels)
        if on_error not in _ON_ERROR:
            raise ValueError(
                f"`on_error` must be one of {_ON_ERROR}. Received: on_error={on_error!r}"
            )
        self.on_error = on_error
        self.shuffle = bool(shuffle)
        self.augment = check_augment(augment)
        self.replicas = _positive_int(replicas, "replicas")

        self.dataset = file_path_list if _is_dataset(file_path_list) else None
        if self.dataset is not None:
            positive = self._index_dataset(self.dataset, labels)
        else:
            positive = self._index_files(file_path_list, labels)
        self.positive = positive.any(axis=1)

        self.cache = cache
        self._cache_rows: np.ndarray | None = None
        self._cache_gives_bytes = False
        if cache is not None:
            self._cache_rows = self._locate_in_cache(cache)
            # SampleCache.get_batch(..., dtype=np.uint8); other caches may not have it
            self._cache_gives_bytes = (
                "dtype" in inspect.signature(cache.get_batch).parameters
            )

        if epochs is not None:
            epochs = _positive_int(epochs, "epochs")
        self.epochs = epochs
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(
                f"`seed` must be a non-negative integer or None. Received: seed={seed!r}"
            )
        self.seed = int(seed)
        self.positive_fraction = positive_fraction
        self.sampler = PositiveFractionSampler(
            positive,
            positive_fraction=positive_fraction,
            epochs=epochs,
            shuffle=self.shuffle,
            seed=self.seed,
        )

        self.epoch = 0
        self.skipped: list[Path] = []
        self._bad: set[int] = set()
        self._lock = threading.Lock()
        self._begun = False
        self._order = self._make_order(0)
        self._orders: dict[int, tuple[int, np.ndarray]] = {}

    # -- set-up -------------------------------------------------------------

    def _index_files(self, file_path_list: Any, labels: Any) -> np.ndarray:
        """Ids, paths and labels of DICOM files; returns the (N, 1) positives."""
        self.paths = [Path(p) for p in file_path_list]
        if not self.paths:
            raise ValueError("`file_path_list` is empty: there is nothing to batch")
        self.ids = [p.stem for p in self.paths]
        if labels is None:
            raise TypeError(
                "`labels` is needed with a list of files (or pass an rlemask.Dataset alone). "
                "Received: labels=None"
            )
        labels = as_labels(labels, "labels")
        missing = [i for i in self.ids if i not in labels]
        if missing:
            raise ValueError(
                f"`labels` has no entry for {len(missing)} image(s), e.g. image id "
                f"{missing[0]!r} ({self.paths[self.ids.index(missing[0])]})"
            )
        self.labels = {i: list(labels[i]) for i in self.ids}
        self.n_classes = 1
        positive = [is_positive(self.labels[i]) for i in self.ids]
        return np.asarray(positive, dtype=bool).reshape(-1, 1)

    def _index_dataset(self, dataset: Any, labels: Any) -> np.ndarray:
        """Ids and paths of a :class:`rlemask.Dataset`; returns its (N, C) positives."""
        if labels is not None:
            raise TypeError(
                "A Dataset carries its labels: pass it alone. "
                f"Received: labels of type {type(labels).__name__}"
            )
        self.ids = list(dataset.ids)
        if not self.ids:
            raise ValueError("the Dataset has no images: there is nothing to batch")
        self.paths = [Path(dataset.path(i)) for i in self.ids]
        self.labels = None
        self.n_classes = max(1, len(dataset.classes))
        if callable(getattr(dataset, "positive", None)):
            positive = np.asarray(dataset.positive(), dtype=bool)  # from the rows, no decoding
        else:  # an object of the contract only: decode each mask once
            positive = np.array([
                self._load(k)[1].reshape(-1, self.n_classes).any(axis=0)
                for k in range(len(self.ids))
            ])  # fmt: skip
        return positive.reshape(len(self.ids), self.n_classes)

    def _locate_in_cache(self, cache: Any) -> np.ndarray:
        cache_size = getattr(cache, "img_size", None)
        if (
            self.policy == "resize"
            and cache_size is not None
            and tuple(np.broadcast_to(cache_size, 2)) != self.size
        ):
            raise ValueError(
                f"`cache` holds samples at img_size={cache_size!r}, but the generator was "
                f"asked for img_size={self.img_size}"
            )
        rows = []
        for image_id in self.ids:
            try:
                rows.append(int(cache.index_of(image_id)))
            except KeyError:
                raise ValueError(f"`cache` has no sample for image id {image_id!r}") from None
        return np.asarray(rows, dtype=np.intp)

    # -- epoch order ----------------------------------------------------------

    def fraction_at(self, epoch: int) -> float | None:
        """The positive share the schedule asks for at ``epoch`` (0-based), or None.

        Examples
        --------
        >>> gen = DataGenerator.__new__(DataGenerator)
        >>> gen.sampler = PositiveFractionSampler([True, False], positive_fraction=(0.8, 0.2),
        ...                                       epochs=4)
        >>> [round(gen.fraction_at(e), 2) for e in range(5)]
        [0.8, 0.6, 0.4, 0.2, 0.2]
        """
        return self.sampler.fraction_at(epoch)

    def _make_order(self, epoch: int) -> np.ndarray:
        order = self.sampler.order(epoch, exclude=self._bad)
        cut = len(order) - len(order) % self.replicas
        return order[:cut]

    def _order_of(self, epoch: int) -> np.ndarray:
        """The order of any epoch (the current one, or rebuilt from the seed and kept)."""
        if epoch == self.epoch:
            return self._order
        with self._lock:
            kept = self._orders.get(epoch)
            if kept is None or kept[0] != len(self._bad):
                kept = (len(self._bad), self._make_order(epoch))
                if len(self._orders) >= _ORDERS_KEPT:
                    self._orders.pop(next(iter(self._orders)))
                self._orders[epoch] = kept
        return kept[1]

    @property
    def order(self) -> np.ndarray:
        """Sample indices (into :attr:`ids`) of the current epoch, in batch order."""
        return self._order.copy()

    @property
    def n_skipped(self) -> int:
        """Number of unreadable files skipped so far."""
        return len(self.skipped)

    def set_epoch(self, epoch: int) -> None:
        """Jump to ``epoch`` (e.g. when resuming): its order and schedule."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"`epoch` must be a non-negative integer. Received: epoch={epoch!r}")
        self.epoch = int(epoch)
        self._order = self._make_order(self.epoch)

    def on_epoch_begin(self) -> None:
        """Mark the start of an epoch (Keras calls it; so should a manual loop).

        Not when Keras only takes a first batch to build the model (the JAX and
        PyTorch trainers do, through ``Trainer._symbolic_build``, with an
        ``on_epoch_begin`` / ``on_epoch_end`` pair around it): counting that
        as an epoch would shift the sampler's schedule by one.
        """
        self._begun = not _building_model()

    def on_epoch_end(self) -> None:
        """Advance the epoch: new order (when shuffling) and the schedule's next share.

        Only an epoch that began (:meth:`on_epoch_begin`) ends: Keras also calls
        ``on_epoch_end`` once when ``fit``/``evaluate`` set up their iterator,
        before any epoch, and counting that call would shift the schedule by
        one epoch.  The order is changed here, not in ``on_epoch_begin``,
        because Keras starts its worker threads before calling that one.
        """
        if _KERAS_CALLS_BEGIN and not self._begun:
            return
        self._begun = False
        self.epoch += 1
        if self.shuffle or self.positive_fraction is not None or self._bad:
            self._order = self._make_order(self.epoch)

    # -- batches ----------------------------------------------------------------

    def __len__(self) -> int:
        return math.ceil(len(self._order) / self.batch_size)

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``i``: image (h, w) float32, mask (h, w) or (h, w, C) uint8."""
        if self.dataset is not None:
            return self.dataset.sample(self.ids[i], self.size, policy=self.policy)
        from rlemask import load_sample

        if self.policy == "resize":
            return load_sample(self.paths[i], self.labels[self.ids[i]], img_size=self.img_size)
        return load_sample(
            self.paths[i], self.labels[self.ids[i]], img_size=self.size, policy=self.policy
        )

    def _load_or_skip(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Load sample ``i``; with ``on_error="skip"`` replace it by a readable one."""
        for _ in range(_MAX_REPLACEMENTS + 1):
            try:
                return self._load(i)
            except (ValueError, OSError) as err:
                if self.on_error == "raise":
                    if str(self.paths[i]) in str(err):
                        raise
                    raise type(err)(f"{self.paths[i]}: {err}") from err
                with self._lock:
                    if i not in self._bad:
                        self._bad.add(i)
                        self.skipped.append(self.paths[i])
                        warnings.warn(
                            f"skipping unreadable sample {self.paths[i]}: {err}",
                            UserWarning,
                            stacklevel=2,
                        )
                    candidates = [j for j in range(len(self.ids)) if j not in self._bad]
                if not candidates:
                    break
                i = int(rng.choice(candidates))
        raise ValueError(
            f"on_error='skip': no readable sample left to fill a batch "
            f"({self.n_skipped} of {len(self.ids)} files unreadable)"
        )

    def n_batches(self, epoch: int | None = None) -> int:
        """Batches in ``epoch`` (default: the current one); ``len(self)`` is the current."""
        order = self._order if epoch is None else self._order_of(epoch)
        return math.ceil(len(order) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, Any]:
        return self.batch(self.epoch, index)

    def batch(self, epoch: int, index: int) -> tuple[np.ndarray, Any]:
        """Batch ``index`` of ``epoch``: ``gen[i]`` is ``gen.batch(gen.epoch, i)``.

        Any epoch can be asked for in any order and from several threads (the
        ``tf.data`` path, :func:`rlemask_keras.tfdata.as_tf_dataset`, does);
        the same ``(seed, epoch, index)`` gives the same batch.

        Examples
        --------
        >>> import tempfile
        >>> import rlemask
        >>> from rlemask.synthetic import make_dataset
        >>> root = make_dataset(tempfile.mkdtemp(), n_images=4, size=64, seed=0)
        >>> paths, labels = rlemask.load_siim(root)
        >>> gen = DataGenerator(paths, labels, batch_size=2, img_size=32, seed=0)
        >>> X, y = gen.batch(3, 1)
        >>> X.shape, bool((gen.batch(3, 1)[0] == X).all())
        ((2, 32, 32, 1), True)
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"batch index must be an integer. Received: index={index!r}")
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"`epoch` must be a non-negative integer. Received: epoch={epoch!r}")
        order = self._order_of(int(epoch))
        n_batches = math.ceil(len(order) / self.batch_size)
        if index < 0:
            index += n_batches
        if not 0 <= index < n_batches:
            raise IndexError(f"batch index out of range [0, {n_batches}). Received: index={index}")
        members = order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, int(epoch), 1, int(index)])

        warp = isinstance(self.augment, BasicAugmentation)
        if self.cache is not None:
            # fresh copies: the cache's memmap is never written.  The built-in
            # augmentation reads the stored bytes (k / 255) itself: no float32
            # copy of the batch before it
            rows = self._cache_rows[members]
            if warp and self._cache_gives_bytes:
                images, masks = self.cache.get_batch(rows, dtype=np.uint8)
            else:
                images, masks = self.cache.get_batch(rows)
        else:
            pairs = [self._load_or_skip(int(i), rng) for i in members]
            images = _stack([p[0] for p in pairs])
            masks = _stack([p[1] for p in pairs])

        if warp:
            images, masks = self.augment.batch(images, masks, rng)
        elif self.augment is not None:
            images, masks = apply_per_sample(self.augment, images, masks)

        X = images[..., None]
        if self.channels == 3:
            X = np.repeat(X, 3, axis=-1)
        # masks are 0/1 here (load_sample, the cache, and both augmentations
        # guarantee it): one conversion pass, no comparison
        y = (masks if masks.ndim == 4 else masks[..., None]).astype(np.float32)
        X = np.ascontiguousarray(X, dtype=np.float32)
        if self.presence:
            return X, {"mask": y, "presence": y.max(axis=(1, 2))}
        return X, y
