"""Augmentation of image/mask pairs and the positive-fraction sampler, framework-free.

Everything here works on numpy arrays, so a PyTorch ``Dataset``, a plain
loop or the Keras :class:`rlemask_keras.DataGenerator` build the same
batches from the same pieces:

* :class:`BasicAugmentation` -- the built-in set (horizontal flip, zoom about
  the centre + shift, contrast, brightness), drawn per sample and applied to
  a whole batch by one numba kernel (:func:`warp_batch`).  The image is
  sampled bilinearly, the mask at the nearest source pixel of the same
  coordinate, so the mask stays binary and aligned with its image.
* :func:`apply_per_sample` -- any callable in the albumentations convention,
  ``fn(image=..., mask=...) -> {"image": ..., "mask": ...}``, over a batch.
* :class:`PositiveFractionSampler` -- the order of an epoch, with an optional
  share of positive images that may change linearly over the epochs (the
  1st-place SIIM solution's schedule).

Randomness always comes from a :class:`numpy.random.Generator` passed in,
never from global state, so a batch can be rebuilt from its seed.

Examples
--------
>>> import numpy as np
>>> from rlemask.augment import BasicAugmentation
>>> images = np.random.default_rng(0).random((4, 32, 32), dtype=np.float32)
>>> masks = (images > 0.7).astype(np.uint8)
>>> out_images, out_masks = BasicAugmentation().batch(images, masks, np.random.default_rng(1))
>>> out_images.shape, out_images.dtype.name, sorted(np.unique(out_masks).tolist())
((4, 32, 32), 'float32', [0, 1])
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from rlemask.sample import to_unit

__all__ = [
    "AugmentParams",
    "BasicAugmentation",
    "warp_batch",
    "apply_per_sample",
    "check_augment",
    "PositiveFractionSampler",
]


#: float32 value of each 8-bit step, ``k / 255``: uint8 images mean what the cache stores
_UNIT = to_unit(np.arange(256, dtype=np.uint8))


class AugmentParams(NamedTuple):
    """Per-sample parameters of :class:`BasicAugmentation`, one array entry per sample.

    Attributes
    ----------
    flip : np.ndarray
        bool (B,): flip the columns (a horizontal flip).
    scale : np.ndarray
        float64 (B,): zoom about the image centre (> 1 enlarges).
    shift_y, shift_x : np.ndarray
        float64 (B,): shift of the content in pixels (down, right).
    contrast : np.ndarray
        float64 (B,): factor about mid-grey 0.5.
    brightness : np.ndarray
        float64 (B,): added after the contrast; the result is clipped to 0..1.
    """

    flip: np.ndarray
    scale: np.ndarray
    shift_y: np.ndarray
    shift_x: np.ndarray
    contrast: np.ndarray
    brightness: np.ndarray

    @classmethod
    def identity(cls, n: int) -> AugmentParams:
        """Parameters that leave ``n`` samples unchanged.

        Examples
        --------
        >>> AugmentParams.identity(2).scale
        array([1., 1.])
        """
        zeros = np.zeros(n)
        return cls(np.zeros(n, bool), np.ones(n), zeros, zeros, np.ones(n), zeros)


def _range(value: Any, name: str, *, centre: float | None = None) -> tuple[float, float]:
    """``(lo, hi)`` from a pair, or from ``x`` meaning ``centre +- x``."""
    if centre is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        pair = (centre - value, centre + value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise ValueError(f"`{name}` must be a (low, high) pair. Received: {name}={value!r}")
    lo, hi = (float(v) for v in pair)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(
            f"`{name}` must be finite with low <= high. Received: {name}={value!r}"
        )
    return lo, hi


@dataclass(frozen=True)
class BasicAugmentation:
    """The built-in augmentation: flip, zoom + shift, contrast and brightness.

    Geometry (image and mask alike): a horizontal flip with probability
    ``flip``, then a zoom by a factor drawn from ``scale`` about the centre
    and a shift of up to ``shift`` times the size on each axis.  Outside the
    source both repeat their edge pixels.  Intensity (image only): contrast
    drawn from ``contrast`` about mid-grey, then ``+- brightness``, clipped to
    0..1.  Every parameter is drawn uniformly, independently per sample.

    Parameters
    ----------
    flip : float
        Probability of a horizontal flip.
    scale : (float, float)
        Range of the zoom factor; must be positive.
    shift : float
        Largest shift as a fraction of the height (rows) and width (columns).
    contrast : (float, float)
        Range of the contrast factor.
    brightness : float
        Largest brightness change (in 0..1 units).

    Examples
    --------
    The albumentations convention, one sample (``rng`` is optional):

    >>> import numpy as np
    >>> image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    >>> mask = (image > 0.5).astype(np.uint8)
    >>> out = BasicAugmentation()(image=image, mask=mask, rng=np.random.default_rng(0))
    >>> out["image"].dtype.name, out["mask"].dtype.name, sorted(np.unique(out["mask"]).tolist())
    ('float32', 'uint8', [0, 1])

    A milder set:

    >>> BasicAugmentation(flip=0.0, scale=(0.95, 1.05)).scale
    (0.95, 1.05)
    """

    flip: float = 0.5
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.06
    contrast: tuple[float, float] = (0.85, 1.15)
    brightness: float = 0.08

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.flip) <= 1.0:
            raise ValueError(
                f"`flip` must be a probability in [0, 1]. Received: flip={self.flip!r}"
            )
        lo, _ = _range(self.scale, "scale")
        if lo <= 0:
            raise ValueError(f"`scale` must be positive. Received: scale={self.scale!r}")
        _range(self.contrast, "contrast")
        for name in ("shift", "brightness"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                0 <= value < math.inf
            ):
                raise ValueError(
                    f"`{name}` must be a non-negative number. Received: {name}={value!r}"
                )

    def draw(self, n: int, shape: tuple[int, int], rng: np.random.Generator) -> AugmentParams:
        """Random parameters for ``n`` samples of ``shape`` (H, W).

        Examples
        --------
        >>> import numpy as np
        >>> p = BasicAugmentation(shift=0.0).draw(3, (32, 32), np.random.default_rng(0))
        >>> p.shift_x.tolist(), p.flip.dtype.name
        ([0.0, 0.0, 0.0], 'bool')
        """
        height, width = shape
        flip = rng.random(n) < self.flip
        scale = rng.uniform(*_range(self.scale, "scale"), size=n)
        shift = rng.uniform(-self.shift, self.shift, size=(2, n))
        contrast = rng.uniform(*_range(self.contrast, "contrast"), size=n)
        brightness = rng.uniform(-self.brightness, self.brightness, size=n)
        return AugmentParams(
            flip, scale, shift[0] * height, shift[1] * width, contrast, brightness
        )

    def batch(
        self, images: np.ndarray, masks: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augment a batch, each sample with its own parameters (see :func:`warp_batch`).

        Examples
        --------
        >>> import numpy as np
        >>> images = np.zeros((2, 16, 16), np.float32)
        >>> masks = np.zeros((2, 16, 16), np.uint8)
        >>> out_images, out_masks = BasicAugmentation().batch(images, masks,
        ...                                                   np.random.default_rng(0))
        >>> out_images.shape, out_masks.shape
        ((2, 16, 16), (2, 16, 16))
        """
        images, masks = _check_batch(images, masks)
        params = self.draw(images.shape[0], images.shape[1:], rng)
        return warp_batch(images, masks, params)

    def __call__(
        self,
        *,
        image: np.ndarray,
        mask: np.ndarray,
        rng: np.random.Generator | None = None,
    ) -> dict[str, np.ndarray]:
        """One sample, in the albumentations convention: ``{"image", "mask"}``.

        ``image`` float (H, W), ``mask`` (H, W); ``rng`` defaults to fresh entropy.
        """
        if rng is None:
            rng = np.random.default_rng()
        images, masks = self.batch(np.asarray(image)[None], np.asarray(mask)[None], rng)
        return {"image": images[0], "mask": masks[0]}


def _check_batch(images: Any, masks: Any) -> tuple[np.ndarray, np.ndarray]:
    """C-contiguous (B, H, W) images (uint8 kept, else float32) and uint8 masks, or ValueError."""
    images = np.asarray(images)
    masks = np.asarray(masks)
    if images.ndim != 3:
        raise ValueError(
            f"The parameter `images` must be a 3-dimensional (B, H, W) array; "
            f"received shape {images.shape}"
        )
    if masks.shape != images.shape and masks.shape[:3] != images.shape or masks.ndim > 4:
        raise ValueError(
            f"The parameter `masks` must have the shape of `images` {images.shape}, or that "
            f"and a class axis (B, H, W, C); received shape {masks.shape}"
        )
    if images.dtype.kind not in "fiub":
        raise ValueError(f"The parameter `images` must be numeric; received dtype {images.dtype}")
    if masks.dtype.kind not in "iub":
        raise ValueError(
            f"The parameter `masks` must be bool or integer; received dtype {masks.dtype}"
        )
    dtype = np.uint8 if images.dtype == np.uint8 else np.float32
    images = np.ascontiguousarray(images, dtype=dtype)
    if masks.dtype != np.uint8 or (masks.ndim == 4 and masks.max(initial=0) > 1):
        masks = (masks != 0).view(np.uint8)
    return images, np.ascontiguousarray(masks)


def warp_batch(
    images: np.ndarray, masks: np.ndarray, params: AugmentParams
) -> tuple[np.ndarray, np.ndarray]:
    """Apply given :class:`AugmentParams` to a batch (deterministic).

    Parameters
    ----------
    images : np.ndarray
        (B, H, W), 0..1 in any real dtype (computed in float32), or uint8
        8-bit steps read as ``k / 255`` (what :meth:`rlemask.SampleCache.get_batch`
        gives with ``dtype=np.uint8``; :func:`rlemask.sample.to_unit`), so a
        batch is warped straight from the stored bytes.
    masks : np.ndarray
        (B, H, W) bool or integer; values are carried over as they are
        (uint8; bool masks become 0/1).  Or (B, H, W, C), one 0/1 channel per
        class (non-zero = 1): every class moves with the image, exactly as a
        single mask does.
    params : AugmentParams
        One entry per sample.

    Returns
    -------
    (images, masks) : tuple of np.ndarray
        New C-contiguous arrays: float32 (B, H, W) clipped to 0..1 and uint8
        masks of the input's shape.  The inputs are not modified.

    Raises
    ------
    ValueError
        Shapes or dtypes that do not fit, parameters of another length,
        non-positive or non-finite values.

    Examples
    --------
    A flip only:

    >>> import numpy as np
    >>> images = np.array([[[0.0, 0.5, 1.0]]], np.float32)
    >>> masks = np.array([[[1, 0, 0]]], np.uint8)
    >>> p = AugmentParams.identity(1)._replace(flip=np.array([True]))
    >>> out_images, out_masks = warp_batch(images, masks, p)
    >>> out_images.tolist(), out_masks.tolist()
    ([[[1.0, 0.5, 0.0]]], [[[0, 0, 1]]])
    """
    images, masks = _check_batch(images, masks)
    n = images.shape[0]
    if not isinstance(params, AugmentParams):
        raise TypeError(
            f"The parameter `params` must be an AugmentParams; received {type(params).__name__}"
        )
    arrays = {}
    for name, value in params._asdict().items():
        arr = np.asarray(value)
        if arr.shape != (n,):
            raise ValueError(
                f"The parameter `params.{name}` must have shape ({n},) like the batch; "
                f"received shape {arr.shape}"
            )
        if name == "flip":
            arrays[name] = np.ascontiguousarray(arr, dtype=bool)
            continue
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        if not np.isfinite(arr).all() or (name == "scale" and (arr <= 0).any()):
            raise ValueError(
                f"The parameter `params.{name}` must be finite"
                f"{' and positive' if name == 'scale' else ''}; received {arr!r}"
            )
        arrays[name] = arr
    out_images = np.empty(images.shape, np.float32)
    if masks.ndim == 3:
        out_masks = np.empty_like(masks)
        if n and images.size:
            _warp(images, masks, arrays, out_images, out_masks)
        return out_images, out_masks
    # classes: the C bytes of a pixel read as one word (up to 8 classes per word),
    # which the kernel carries as it carries a mask value: every class in one pass
    out_masks = np.empty_like(masks)
    n_classes = masks.shape[-1]
    for start in range(0, n_classes, 8):
        words = _class_words(masks[..., start:start + 8])
        width = min(8, n_classes - start)
        exact = n_classes == width and words.dtype.itemsize == width
        # 1, 2, 4 or 8 classes: the kernel writes the output's own bytes, no copy
        out_words = out_masks.view(words.dtype)[..., 0] if exact else np.empty_like(words)
        if n and images.size:
            _warp(images, words, arrays, out_images, out_words)
        if not exact:
            out_masks[..., start:start + width] = out_words.view(np.uint8).reshape(
                *words.shape, -1)[..., :width]
    if n_classes == 0 and n and images.size:
        _warp(images, np.zeros(images.shape, np.uint8), arrays, out_images,
              np.empty(images.shape, np.uint8))
    return out_images, out_masks


def _class_words(masks: np.ndarray) -> np.ndarray:
    """(B, H, W, C <= 8) 0/1 bytes as one (B, H, W) word per pixel (C = 1, 2, 4, 8: a view)."""
    n_classes = masks.shape[-1]
    width = next(k for k in (1, 2, 4, 8) if k >= n_classes)
    if width != n_classes:  # 3, 5, 6, 7 classes: padded with empty ones
        masks = np.concatenate(
            [masks, np.zeros((*masks.shape[:-1], width - n_classes), np.uint8)], axis=-1)
    words = np.ascontiguousarray(masks).view(np.dtype(f"u{width}"))
    return words.reshape(masks.shape[:-1])


def _warp(images, masks, arrays, out_images, out_masks) -> None:
    from rlemask._augment_kernels import _warp_batch

    _warp_batch(images, _UNIT, masks, *arrays.values(), out_images, out_masks)


def check_augment(augment: Any) -> Callable[..., Mapping[str, Any]] | None:
    """Normalise an ``augment=`` argument: ``None`` (off) or a callable.

    ``False``/``None``: no augmentation; ``True``: :class:`BasicAugmentation`
    with its defaults; a callable: used as it is (albumentations
    convention).  Anything else is a ``TypeError``.

    Examples
    --------
    >>> check_augment(False) is None, type(check_augment(True)).__name__
    (True, 'BasicAugmentation')
    >>> check_augment("flip")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: `augment` must be True, False or a callable ... Received: augment='flip'
    """
    if augment is None or augment is False:
        return None
    if augment is True:
        return BasicAugmentation()
    if callable(augment):
        return augment
    raise TypeError(
        '`augment` must be True, False or a callable fn(image=..., mask=...) -> {"image", '
        f'"mask"}}. Received: augment={augment!r}'
    )


def apply_per_sample(
    fn: Callable[..., Mapping[str, Any]], images: np.ndarray, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Apply an albumentations-style callable to every sample of a batch.

    ``fn(image=images[k], mask=masks[k])`` must return a mapping with
    ``"image"`` and ``"mask"`` of the sample's (H, W) shape (a trailing
    channel axis of 1 is accepted).  Images come back as float32 as the
    callable left them (not clipped); masks as uint8 0/1 (non-zero = 1).

    Parameters
    ----------
    fn : callable
        E.g. an ``albumentations.Compose``; its randomness is its own
        (``Compose(..., seed=...)`` makes it repeatable).
    images : np.ndarray
        float32 (B, H, W), 0..1 (uint8: 8-bit steps, given to ``fn`` as
        float32 ``k / 255``).
    masks : np.ndarray
        uint8 (B, H, W) of 0/1, or (B, H, W, C) with classes (each sample's
        mask given to ``fn`` as (H, W, C), as albumentations takes it).

    Returns
    -------
    (images, masks) : tuple of np.ndarray
        New float32 (B, H, W) and uint8 masks of the input's shape.

    Raises
    ------
    TypeError
        ``fn`` does not return a mapping with ``"image"`` and ``"mask"``.
    ValueError
        It returns arrays of another shape (e.g. a crop to another size).

    Examples
    --------
    >>> import numpy as np
    >>> def flip(image, mask):
    ...     return {"image": image[:, ::-1], "mask": mask[:, ::-1]}
    >>> images, masks = apply_per_sample(flip, np.eye(3, dtype=np.float32)[None],
    ...                                  np.eye(3, dtype=np.uint8)[None])
    >>> masks[0].tolist()
    [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
    """
    images, masks = _check_batch(images, masks)
    if images.dtype == np.uint8:  # callables see what load_sample returns
        images = _UNIT[images]
    out_images = np.empty_like(images)
    out_masks = np.empty_like(masks)
    name = getattr(fn, "__name__", type(fn).__name__)
    for k in range(images.shape[0]):
        result = fn(image=images[k].copy(), mask=masks[k].copy())
        if not isinstance(result, Mapping) or "image" not in result or "mask" not in result:
            raise TypeError(
                f'augment callable {name} must return a mapping with "image" and "mask"; '
                f"returned {type(result).__name__}"
            )
        for key, out in (("image", out_images), ("mask", out_masks)):
            value = np.asarray(result[key])
            want = out.shape[1:]
            if value.ndim == 3 and value.shape[-1] == 1 and len(want) == 2:
                value = value[..., 0]
            if value.shape != want:
                raise ValueError(
                    f"augment callable {name} returned {key} of shape {value.shape}; "
                    f"the batch needs {want} (crop or pad back to the input size)"
                )
            out[k] = value != 0 if key == "mask" else value
    return out_images, out_masks


class PositiveFractionSampler:
    """The order of the samples in each epoch, with an optional positive share.

    Parameters
    ----------
    positive : array_like of bool
        Per sample: has at least one region (:func:`rlemask.datasets.is_positive`);
        or (N, C), per sample and class (:attr:`rlemask.SampleCache.positive_classes`),
        where a sample is positive when any class is.
    positive_fraction : float or (float, float), optional
        Share of positive samples in each epoch.  A float holds for every
        epoch; ``(start, end)`` goes linearly from ``start`` at epoch 0 to
        ``end`` at epoch ``epochs - 1`` and stays there (``end=None``: the
        natural share).  An epoch keeps the data set's size: positives and
        negatives are drawn without replacement while they last, then
        cycled.  ``None``: every sample once per epoch.
    epochs : int, optional
        Length of the schedule; needed when ``positive_fraction`` is a pair.
    shuffle : bool
        Shuffle each epoch.  Without it and without a share the order is
        the input order; with a share, positives come first.
    seed : int
        The order of epoch ``e`` depends only on ``(seed, e)`` and what is
        excluded.
    class_balance : bool
        With (N, C) ``positive`` and a share: the positive draws are split
        evenly over the classes that have positives (each class's draws from
        the samples positive for it), so a rare class is seen as often as a
        common one.  Without it positives are drawn regardless of class.

    Attributes
    ----------
    positive : numpy.ndarray
        bool (N,): positive for any class.
    positive_classes : numpy.ndarray
        bool (N, C): per class (``(N, 1)`` for a 1-D ``positive``).

    Raises
    ------
    ValueError
        A share outside [0, 1], a pair without ``epochs``, a bad seed.

    Examples
    --------
    >>> sampler = PositiveFractionSampler([True, False, False, False], positive_fraction=0.5,
    ...                                   seed=0)
    >>> order = sampler.order(0)
    >>> len(order), int(sum(order == 0))
    (4, 2)
    >>> s = PositiveFractionSampler([True, False], positive_fraction=(0.8, 0.2), epochs=4)
    >>> [round(s.fraction_at(e), 2) for e in range(5)]
    [0.8, 0.6, 0.4, 0.2, 0.2]

    Per class: class 1 is rare, yet half of the positive draws are its sample.

    >>> per_class = [[1, 0], [1, 0], [1, 0], [0, 1], [0, 0], [0, 0], [0, 0], [0, 0]]
    >>> s = PositiveFractionSampler(per_class, positive_fraction=0.5, class_balance=True)
    >>> s.positive_classes.sum(axis=0).tolist(), int((s.order(0) == 3).sum())
    ([3, 1], 2)
    """

    def __init__(
        self,
        positive: Sequence[bool] | np.ndarray,
        *,
        positive_fraction: float | tuple[float, float | None] | None = None,
        epochs: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        class_balance: bool = False,
    ) -> None:
        per_class = np.asarray(positive, dtype=bool)
        if per_class.ndim == 1:
            per_class = per_class[:, None]
        if per_class.ndim != 2:
            raise ValueError(
                f"The parameter `positive` must be (N,) or (N, C); received shape "
                f"{per_class.shape}"
            )
        self.positive_classes = per_class
        self.positive = per_class.any(axis=1)
        self.class_balance = bool(class_balance)
        if epochs is not None and (
            isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1
        ):
            raise ValueError(f"`epochs` must be a positive integer. Received: epochs={epochs!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"`seed` must be a non-negative integer. Received: seed={seed!r}")
        self.epochs = None if epochs is None else int(epochs)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.positive_fraction = positive_fraction
        self._schedule = self._check_schedule(positive_fraction, self.epochs)

    def _check_schedule(self, fraction: Any, epochs: int | None) -> tuple[float, float] | None:
        if fraction is None:
            return None
        natural = float(self.positive.mean()) if self.positive.size else 0.0

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
                stacklevel=4,
            )
        return (start, end)

    def fraction_at(self, epoch: int) -> float | None:
        """The positive share asked for at ``epoch`` (0-based), or None without a share."""
        if self._schedule is None:
            return None
        start, end = self._schedule
        if not self.epochs or self.epochs == 1:
            return end if epoch > 0 else start
        t = min(epoch / (self.epochs - 1), 1.0)
        return start + (end - start) * t

    def order(self, epoch: int, exclude: Any = ()) -> np.ndarray:
        """Sample indices of ``epoch`` in order, leaving out the indices in ``exclude``.

        Examples
        --------
        >>> PositiveFractionSampler([True, False, True], shuffle=False).order(0, exclude={1})
        array([0, 2])
        """
        rng = np.random.default_rng([self.seed, epoch, 0])
        keep = np.ones(len(self.positive), dtype=bool)
        if len(exclude):
            keep[np.fromiter(exclude, dtype=np.intp)] = False
        good = np.flatnonzero(keep)
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
        if self.class_balance and len(pos):
            positives = self._draw_per_class(pos, k, rng)
        else:
            positives = _draw(pos, k, rng)
        order = np.concatenate([positives, _draw(neg, n - k, rng)])
        # a sampled epoch is random by nature; shuffle=False keeps positives first
        return rng.permutation(order) if self.shuffle else order


    def _draw_per_class(self, pos: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` positives, split evenly over the classes present among ``pos``."""
        by_class = self.positive_classes[pos]
        members = [pos[by_class[:, c]] for c in range(by_class.shape[1]) if by_class[:, c].any()]
        share = np.full(len(members), k // len(members))
        share[rng.permutation(len(members))[: k % len(members)]] += 1
        return np.concatenate([_draw(m, int(q), rng) for m, q in zip(members, share, strict=True)])


def _draw(group: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` members of ``group``: a permutation, cycled when ``k > len(group)``."""
    if k == 0:
        return np.empty(0, dtype=np.intp)
    reps = math.ceil(k / len(group))
    return np.concatenate([rng.permutation(group) for _ in range(reps)])[:k]
