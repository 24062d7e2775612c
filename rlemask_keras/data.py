"""A ``keras.utils.PyDataset`` that batches SIIM-style samples for ``model.fit``.

The generator does no image processing of its own: every sample comes from
:func:`rlemask.load_sample` (DICOM + RLE strings at the model's size) or from
a :class:`rlemask.SampleCache` holding the same arrays, so training,
validation, prediction and other frameworks all see the same pixels.  What it
adds is batching, the epoch's order (shuffling and a positive-fraction
schedule), consistent augmentation of image and mask, and a policy for
unreadable files.

Randomness is derived from ``(seed, epoch, batch index)``, never from a
shared generator, so a batch is the same whichever worker thread or process
builds it and in whichever order Keras asks for the batches.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

__all__ = ["DataGenerator", "augment_pair"]

_ON_ERROR = ("raise", "skip")
# attempts at replacing one unreadable sample before the batch gives up
_MAX_REPLACEMENTS = 20
# Keras >= 3.5 calls PyDataset.on_epoch_begin; older ones only on_epoch_end
_KERAS_CALLS_BEGIN = hasattr(keras.utils.PyDataset, "on_epoch_begin")


def _is_positive(rles: Sequence[str] | None) -> bool:
    """True when the label list holds at least one real RLE (not ``-1``)."""
    if not rles:
        return False
    if isinstance(rles, (str, bytes)):
        rles = [rles]
    for rle in rles:
        text = rle.decode() if isinstance(rle, bytes) else str(rle)
        if text.strip() not in ("", "-1"):
            return True
    return False


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _sample_axis(n: int, scale: float, shift: float) -> np.ndarray:
    """Source coordinate of each output pixel centre for a zoom about the centre + shift."""
    centre = (n - 1) / 2.0
    return (np.arange(n, dtype=np.float64) - centre - shift) / scale + centre


def augment_pair(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly flip, shift/scale and recontrast one image, moving its mask alike.

    Geometry (applied to both): a horizontal flip with probability 1/2, then a
    zoom by 0.9..1.1 about the centre and a shift of up to 6 % of the size on
    each axis.  The image is sampled bilinearly, the mask at the nearest
    source pixel of the same coordinates, so it stays exactly 0/1 and aligned.
    Outside the source, both repeat their edge pixels.  Intensity (image
    only): contrast x0.85..1.15 about mid-grey and brightness +-0.08, clipped
    to 0..1.

    Parameters
    ----------
    image : np.ndarray
        float32 (S, S) in 0..1.
    mask : np.ndarray
        uint8 (S, S) of 0/1.
    rng : np.random.Generator
        Source of the random parameters.

    Returns
    -------
    (image, mask) : tuple of np.ndarray
        New C-contiguous arrays, same shapes and dtypes.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    >>> mask = (image > 0.5).astype(np.uint8)
    >>> out_image, out_mask = augment_pair(image, mask, np.random.default_rng(0))
    >>> out_image.dtype, out_mask.dtype, sorted(np.unique(out_mask).tolist())
    (dtype('float32'), dtype('uint8'), [0, 1])
    """
    height, width = image.shape
    if rng.random() < 0.5:
        image = image[:, ::-1]
        mask = mask[:, ::-1]
    scale = rng.uniform(0.9, 1.1)
    shift_y, shift_x = rng.uniform(-0.06, 0.06, size=2) * (height, width)
    rows = np.clip(_sample_axis(height, scale, shift_y), 0, height - 1)
    cols = np.clip(_sample_axis(width, scale, shift_x), 0, width - 1)

    # the mask: nearest source pixel (round half up, like the image's weights)
    r_near = np.floor(rows + 0.5).astype(np.intp).clip(0, height - 1)
    c_near = np.floor(cols + 0.5).astype(np.intp).clip(0, width - 1)
    out_mask = np.ascontiguousarray(mask[r_near[:, None], c_near[None, :]], dtype=np.uint8)

    # the image: separable bilinear interpolation at the same coordinates
    r0 = np.floor(rows).astype(np.intp)
    c0 = np.floor(cols).astype(np.intp)
    r1 = np.minimum(r0 + 1, height - 1)
    c1 = np.minimum(c0 + 1, width - 1)
    wr = (rows - r0).astype(np.float32)[:, None]
    wc = (cols - c0).astype(np.float32)[None, :]
    top = image[r0][:, c0] * (1 - wc) + image[r0][:, c1] * wc
    bottom = image[r1][:, c0] * (1 - wc) + image[r1][:, c1] * wc
    out = top * (1 - wr) + bottom * wr

    contrast = rng.uniform(0.85, 1.15)
    brightness = rng.uniform(-0.08, 0.08)
    out = (out - 0.5) * contrast + 0.5 + brightness
    out_image = np.clip(out, 0.0, 1.0).astype(np.float32)
    return np.ascontiguousarray(out_image), out_mask


class DataGenerator(keras.utils.PyDataset):
    """Batches of ``(X, y)`` for segmentation, from DICOM files or a sample cache.

    Parameters
    ----------
    file_path_list : sequence of str or os.PathLike
        The DICOM files; an image's id is its file stem.
    labels : mapping
        Image id -> list of RLE strings (empty list: no region), as returned
        by :func:`rlemask.load_siim` / :func:`rlemask.read_rle_csv`.  Every
        image needs an entry.
    batch_size : int
        Images per batch; the last batch of an epoch may be smaller.
    img_size : int
        Side ``S`` of the square model input.
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
    augment : bool
        Random flip, shift/scale and brightness/contrast (:func:`augment_pair`).
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
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size``, passed to
        :class:`keras.utils.PyDataset`.

    Attributes
    ----------
    ids : list of str
        Image ids in the input order.
    positive : np.ndarray
        bool per image: has at least one region.
    epoch : int
        Epochs completed: :meth:`on_epoch_begin` then :meth:`on_epoch_end`,
        as Keras calls them (a manual loop calls both, or :meth:`set_epoch`).
    skipped : list of pathlib.Path
        Files that could not be read (``on_error="skip"``).

    Raises
    ------
    ValueError
        Bad argument values, or an image without an entry in ``labels``.

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
    """

    def __init__(
        self,
        file_path_list: Sequence[str | os.PathLike],
        labels: Mapping[str, Sequence[str]],
        batch_size: int = 32,
        img_size: int = 256,
        channels: int = 1,
        shuffle: bool = True,
        *,
        cache: Any = None,
        seed: int | None = None,
        augment: bool = False,
        positive_fraction: float | tuple[float, float | None] | None = None,
        epochs: int | None = None,
        on_error: str = "raise",
        replicas: int = 1,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.img_size = _positive_int(img_size, "img_size")
        if channels not in (1, 3) or isinstance(channels, bool):
            raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels!r}")
        self.channels = int(channels)
        if on_error not in _ON_ERROR:
            raise ValueError(
                f"`on_error` must be one of {_ON_ERROR}. Received: on_error={on_error!r}"
            )
        self.on_error = on_error
        self.shuffle = bool(shuffle)
        self.augment = bool(augment)
        self.replicas = _positive_int(replicas, "replicas")

        self.paths = [Path(p) for p in file_path_list]
        if not self.paths:
            raise ValueError("`file_path_list` is empty: there is nothing to batch")
        self.ids = [p.stem for p in self.paths]
        missing = [i for i in self.ids if i not in labels]
        if missing:
            raise ValueError(
                f"`labels` has no entry for {len(missing)} image(s), e.g. image id "
                f"{missing[0]!r} ({self.paths[self.ids.index(missing[0])]})"
            )
        self.labels = {i: list(labels[i]) for i in self.ids}
        self.positive = np.array([_is_positive(self.labels[i]) for i in self.ids], dtype=bool)

        self.cache = cache
        self._cache_rows: np.ndarray | None = None
        if cache is not None:
            self._cache_rows = self._locate_in_cache(cache)

        if epochs is not None:
            epochs = _positive_int(epochs, "epochs")
        self.epochs = epochs
        self._schedule = self._check_schedule(positive_fraction, epochs)
        self.positive_fraction = positive_fraction

        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(
                f"`seed` must be a non-negative integer or None. Received: seed={seed!r}"
            )
        self.seed = int(seed)

        self.epoch = 0
        self.skipped: list[Path] = []
        self._bad: set[int] = set()
        self._lock = threading.Lock()
        self._begun = False
        self._order = self._make_order(0)

    # -- set-up -------------------------------------------------------------

    def _locate_in_cache(self, cache: Any) -> np.ndarray:
        cache_size = getattr(cache, "img_size", None)
        if cache_size is not None and tuple(np.broadcast_to(cache_size, 2)) != (
            self.img_size,
            self.img_size,
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

    def _check_schedule(self, fraction: Any, epochs: int | None) -> tuple | None:
        if fraction is None:
            return None
        natural = float(self.positive.mean())

        def check(value: Any) -> float:
            if value is None:
                return natural
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
                raise ValueError(
                    "`positive_fraction` must be a float in [0, 1] or a (start, end) pair. "
                    f"Received: positive_fraction={fraction!r}"
                )
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(
                    "`positive_fraction` values must be in [0, 1]. "
                    f"Received: positive_fraction={fraction!r}"
                )
            return float(value)

        if isinstance(fraction, (tuple, list)):
            if len(fraction) != 2:
                raise ValueError(
                    "`positive_fraction` must be a float or a (start, end) pair. "
                    f"Received: positive_fraction={fraction!r}"
                )
            if epochs is None:
                raise ValueError(
                    "`epochs` is needed to schedule positive_fraction="
                    f"{tuple(fraction)!r} over the epochs. Received: epochs=None"
                )
            start, end = check(fraction[0]), check(fraction[1])
        else:
            start = end = check(fraction)
        has_pos, has_neg = self.positive.any(), (~self.positive).any()
        if (max(start, end) > 0 and not has_pos) or (min(start, end) < 1 and not has_neg):
            warnings.warn(
                f"positive_fraction={fraction!r} cannot be met: the data hold "
                f"{int(self.positive.sum())} positive and {int((~self.positive).sum())} "
                "negative images; the missing kind is replaced by the other",
                UserWarning,
                stacklevel=3,
            )
        return (start, end)

    # -- epoch order ----------------------------------------------------------

    def fraction_at(self, epoch: int) -> float | None:
        """The positive share the schedule asks for at ``epoch`` (0-based), or None.

        Examples
        --------
        >>> gen = DataGenerator.__new__(DataGenerator)
        >>> gen._schedule, gen.epochs = (0.8, 0.2), 4
        >>> [round(gen.fraction_at(e), 2) for e in range(5)]
        [0.8, 0.6, 0.4, 0.2, 0.2]
        """
        if self._schedule is None:
            return None
        start, end = self._schedule
        if not self.epochs or self.epochs == 1:
            return end if epoch > 0 else start
        t = min(epoch / (self.epochs - 1), 1.0)
        return start + (end - start) * t

    def _make_order(self, epoch: int) -> np.ndarray:
        order = self._sample_order(epoch)
        cut = len(order) - len(order) % self.replicas
        return order[:cut]

    def _sample_order(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch, 0])
        good = np.array([i for i in range(len(self.ids)) if i not in self._bad], dtype=np.intp)
        fraction = self.fraction_at(epoch)
        if fraction is None:
            return rng.permutation(good) if self.shuffle else good
        pos = good[self.positive[good]]
        neg = good[~self.positive[good]]
        n = len(good)
        k = int(round(fraction * n))
        if len(pos) == 0:
            k = 0
        elif len(neg) == 0:
            k = n
        order = np.concatenate([self._draw(pos, k, rng), self._draw(neg, n - k, rng)])
        # a sampled epoch is random by nature; shuffle=False keeps positives first
        return rng.permutation(order) if self.shuffle else order

    @staticmethod
    def _draw(group: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` members of ``group``: a permutation, cycled when ``k > len(group)``."""
        if k == 0:
            return np.empty(0, dtype=np.intp)
        reps = math.ceil(k / len(group))
        return np.concatenate([rng.permutation(group) for _ in range(reps)])[:k]

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
        """Mark the start of an epoch (Keras calls it; so should a manual loop)."""
        self._begun = True

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
        if self.shuffle or self._schedule is not None or self._bad:
            self._order = self._make_order(self.epoch)

    # -- batches ----------------------------------------------------------------

    def __len__(self) -> int:
        return math.ceil(len(self._order) / self.batch_size)

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        from rlemask import load_sample

        return load_sample(self.paths[i], self.labels[self.ids[i]], img_size=self.img_size)

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

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        n_batches = len(self)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"batch index must be an integer. Received: index={index!r}")
        if index < 0:
            index += n_batches
        if not 0 <= index < n_batches:
            raise IndexError(f"batch index out of range [0, {n_batches}). Received: index={index}")
        members = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, 1, int(index)])

        if self.cache is not None:
            images, masks = self.cache.get_batch(self._cache_rows[members])
            # copies: augmentation writes in place, and the cache may be a read-only memmap
            images = np.array(images, dtype=np.float32)
            masks = np.array(masks, dtype=np.uint8)
        else:
            pairs = [self._load_or_skip(int(i), rng) for i in members]
            images = np.stack([p[0] for p in pairs])
            masks = np.stack([p[1] for p in pairs])

        if self.augment:
            for k in range(len(images)):
                images[k], masks[k] = augment_pair(images[k], masks[k], rng)

        X = images[..., None]
        if self.channels == 3:
            X = np.repeat(X, 3, axis=-1)
        y = (masks[..., None] != 0).astype(np.float32)
        return np.ascontiguousarray(X, dtype=np.float32), y
