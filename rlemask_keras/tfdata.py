"""A ``tf.data`` input pipeline over a :class:`~rlemask_keras.DataGenerator` (TensorFlow backend).

:func:`as_tf_dataset` turns the generator's batches into a
:class:`tf.data.Dataset`: a stream of ``(epoch, batch index)`` pairs mapped
through :meth:`DataGenerator.batch` by parallel ``tf.numpy_function`` calls
and prefetched, so that batches are built on TensorFlow's own thread pool
while the accelerator trains on earlier ones.  The pixels are exactly the
generator's (same seed, same batches): only who drives the loop changes.

Why it helps: Keras's ``PyDataset`` adapter builds batches on Python worker
threads and hands them over through a queue and ``tf.data.Dataset.from_generator``;
here the work runs inside ``tf.data``'s autotuned map, whose calls run
concurrently wherever the batch code releases the GIL (the cache copies and
the augmentation kernel do).  ``benchmarks/compare_pipeline.py`` measures the
two paths side by side.

Data are sharded by the caller (each worker's generator holds its own share
of the images, see :mod:`rlemask_keras.distribute`), so ``tf.distribute``'s
auto-sharding is switched off.

See :func:`as_tf_dataset` for an example.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["as_tf_dataset"]


def _check_count(value: Any, name: str, *, allow_none: bool, minimum: int) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}{' or None' if allow_none else ''}. "
            f"Received: {name}={value!r}"
        )
    return value


def as_tf_dataset(
    generator: Any,
    *,
    epochs: int | None = None,
    first_epoch: int = 0,
    parallel_batches: int | None = None,
    prefetch: int | None = None,
) -> Any:
    """The generator's batches, epoch after epoch, as a prefetching ``tf.data.Dataset``.

    Parameters
    ----------
    generator : rlemask_keras.DataGenerator
        Or any object with ``batch(epoch, index)`` and ``n_batches(epoch)``.
    epochs : int, optional
        Epochs in the stream; ``None``: endless.  With more than one epoch
        (or endless), pass ``steps_per_epoch=len(generator)`` (and
        ``shuffle=False``: the generator shuffles) to ``model.fit``; a
        one-epoch stream (validation) can be re-iterated.
    first_epoch : int
        Epoch of the first batch (resuming: the epoch to resume at).
    parallel_batches : int, optional
        Batches built at the same time; ``None``: ``tf.data.AUTOTUNE``.
    prefetch : int, optional
        Batches kept ready ahead of the model; ``None``: ``tf.data.AUTOTUNE``.

    Returns
    -------
    tf.data.Dataset
        Elements shaped like one batch of the generator, with an unknown
        batch dimension (the last batch of an epoch may be smaller).  Batches
        come in order (deterministic).

    Raises
    ------
    TypeError
        ``generator`` has no ``batch(epoch, index)``.
    ValueError
        Bad counts.

    Examples
    --------
    >>> import tempfile, rlemask
    >>> from rlemask.synthetic import make_dataset
    >>> from rlemask_keras import DataGenerator
    >>> root = make_dataset(tempfile.mkdtemp(), n_images=4, size=64, seed=0)
    >>> paths, labels = rlemask.load_siim(root)
    >>> gen = DataGenerator(paths, labels, batch_size=2, img_size=32, seed=0, augment=True)
    >>> ds = as_tf_dataset(gen, epochs=3)  # model.fit(ds, epochs=3, steps_per_epoch=len(gen))
    >>> sum(1 for _ in ds)
    6
    """
    if not callable(getattr(generator, "batch", None)) or not callable(
        getattr(generator, "n_batches", None)
    ):
        raise TypeError(
            "`generator` must have batch(epoch, index) and n_batches(epoch), like "
            f"rlemask_keras.DataGenerator. Received: {type(generator).__name__}"
        )
    epochs = _check_count(epochs, "epochs", allow_none=True, minimum=1)
    first_epoch = _check_count(first_epoch, "first_epoch", allow_none=False, minimum=0)
    parallel_batches = _check_count(
        parallel_batches, "parallel_batches", allow_none=True, minimum=1
    )
    prefetch = _check_count(prefetch, "prefetch", allow_none=True, minimum=0)

    import tensorflow as tf

    # the structure, dtypes and shapes of an element, from a real batch
    sample = generator.batch(first_epoch, 0)
    flat = tf.nest.flatten(sample)
    dtypes = [tf.as_dtype(a.dtype) for a in flat]
    shapes = [(None, *a.shape[1:]) for a in flat]

    def build(epoch: Any, index: Any) -> list:
        return tf.nest.flatten(generator.batch(int(epoch), int(index)))

    def load(epoch: Any, index: Any) -> Any:
        arrays = tf.numpy_function(build, [epoch, index], dtypes, stateful=False)
        for array, shape in zip(arrays, shapes, strict=True):
            array.set_shape(shape)
        return tf.nest.pack_sequence_as(sample, arrays)

    autotune = tf.data.AUTOTUNE
    dataset = (
        _index_stream(generator, epochs, first_epoch)
        .map(load, num_parallel_calls=parallel_batches or autotune, deterministic=True)
        .prefetch(autotune if prefetch is None else prefetch)
    )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options)


def _index_stream(generator: Any, epochs: int | None, first_epoch: int) -> Any:
    """``(epoch, index)`` pairs as a dataset; built in TensorFlow where the counts are fixed.

    A finite stream is a tensor of all its pairs: its length is known, so
    Keras can iterate it to the end without warning that the input "ran out
    of data".  An endless one repeats a fixed epoch length with TensorFlow
    ops (no Python, no GIL) unless epochs can shrink (unreadable files
    skipped while reading DICOMs): then a Python generator asks the
    generator for each epoch's length as it comes.
    """
    import numpy as np
    import tensorflow as tf

    if epochs is not None:
        pairs = [
            (epoch, index)
            for epoch in range(first_epoch, first_epoch + epochs)
            for index in range(generator.n_batches(epoch))
        ]
        return tf.data.Dataset.from_tensor_slices(
            tuple(np.array(pairs, dtype=np.int64).reshape(-1, 2).T)
        )
    can_shrink = (
        getattr(generator, "on_error", "raise") == "skip"
        and getattr(generator, "cache", None) is None
    )
    if not can_shrink:
        n = generator.n_batches(first_epoch)
        epochs_stream = tf.data.Dataset.counter(first_epoch)
        return epochs_stream.flat_map(
            lambda epoch: tf.data.Dataset.range(n).map(lambda index: (epoch, index))
        )

    def pairs() -> Iterator[tuple[int, int]]:
        epoch = first_epoch
        while True:
            for index in range(generator.n_batches(epoch)):
                yield epoch, index
            epoch += 1

    spec = (tf.TensorSpec((), tf.int64), tf.TensorSpec((), tf.int64))
    return tf.data.Dataset.from_generator(pairs, output_signature=spec)
