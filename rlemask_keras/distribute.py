"""Where training runs: one device, all local devices, or several workers.

:func:`select_strategy` turns a name into a :class:`Distribution`, whose
``scope()`` the model is built under and which says how the data are split:

========================  ==========================================================
``"default"``             one device (TensorFlow's default strategy; JAX and
                          PyTorch as Keras places them).
``"mirrored"``            synchronous data parallelism over the local devices: the
                          GPUs, or the CPU when there is none.  TensorFlow:
                          ``tf.distribute.MirroredStrategy``; JAX:
                          ``keras.distribution.DataParallel``; PyTorch: none
                          (Keras 3 distributes only TensorFlow and JAX), a
                          ``ValueError``.
``"multiworker"``         TensorFlow only: ``tf.distribute.MultiWorkerMirroredStrategy``
                          across processes or hosts, configured by the ``TF_CONFIG``
                          environment variable (cluster addresses and this
                          worker's index).  Each worker reads its own shard of
                          the images (:meth:`Distribution.shard`).
========================  ==========================================================

Batches: the generator's ``batch_size`` is what one worker feeds per step;
it must be a multiple of the worker's local replicas (:func:`replica_batch`),
and one step trains on ``batch_size * num_workers`` images.

A training run, in order (every worker runs the same script)::

    dist = select_strategy(kind)          # first: before any TensorFlow op
    paths = dist.shard(train_paths)       # the same list, in the same order, everywhere
    batch = replica_batch(batch_size, len(paths), dist.local_replicas)
    gen = DataGenerator(paths, labels, batch, ..., replicas=dist.local_replicas)
    with dist.scope():
        model = unet(...); model.compile(...)
    prepare_model(dist, model)
    data = distribute_dataset(dist, as_tf_dataset(gen), batch)
    model.fit(data, steps_per_epoch=len(gen), epochs=..., shuffle=False)
    if dist.is_chief: model.save(...)

With several workers, give ``fit`` the :func:`distribute_dataset` of the
tf.data path, never the generator itself: Keras would then train each
worker on only ``1 / num_workers`` of its shard (see there).

Examples
--------
>>> dist = select_strategy("default")
>>> dist.kind, dist.num_workers, dist.worker_index
('default', 1, 0)
>>> dist.shard(["a", "b", "c"])
['a', 'b', 'c']
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "STRATEGIES",
    "Distribution",
    "select_strategy",
    "check_strategy",
    "replica_batch",
    "worker_from_tf_config",
    "prepare_model",
    "distribute_dataset",
]

#: the names :func:`select_strategy` accepts
STRATEGIES = ("default", "mirrored", "multiworker")

T = TypeVar("T")


@dataclass(frozen=True)
class Distribution:
    """The chosen strategy and what it means for the input data.

    Attributes
    ----------
    kind : str
        One of :data:`STRATEGIES`.
    backend : str
        The Keras backend (``"tensorflow"``, ``"jax"``, ``"torch"``).
    replicas : int
        Replicas in sync over all workers.
    local_replicas : int
        Replicas on this worker: its batches are split across them, so the
        generator's ``replicas=`` (and the batch size) follow it.
    num_workers : int
        Worker processes (1 unless ``"multiworker"``).
    worker_index : int
        This worker's index, 0-based (0 is the chief: it writes the files).
    strategy : object or None
        The ``tf.distribute.Strategy`` or ``keras.distribution.Distribution``;
        None for the JAX/PyTorch default.
    """

    kind: str
    backend: str
    replicas: int
    local_replicas: int
    num_workers: int
    worker_index: int
    strategy: Any = None

    @property
    def is_chief(self) -> bool:
        """True on the worker that writes the run's files (worker 0)."""
        return self.worker_index == 0

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Build and compile the model inside this context.

        Examples
        --------
        >>> with select_strategy("default").scope():
        ...     pass
        """
        if self.strategy is None:
            yield
            return
        with self.strategy.scope():
            yield

    def shard(self, items: Sequence[T]) -> list[T]:
        """This worker's share of ``items``: every ``num_workers``-th, from ``worker_index``.

        The shares of all workers are disjoint and cover ``items``; give
        every worker the same ``items`` in the same order (e.g. a split made
        with the same seed).

        Examples
        --------
        >>> d = Distribution("multiworker", "tensorflow", 2, 1, 2, 1)
        >>> d.shard(list("abcde"))
        ['b', 'd']
        """
        return list(items)[self.worker_index :: self.num_workers]

    def even_shard(self, items: Sequence[T]) -> list[T]:
        """This worker's share of ``items``, every worker's share of one length.

        The workers step together, so their shares must be equally long (else
        a collective op fails): ``items`` is padded to a multiple of
        ``num_workers`` with its first elements again (as torch's
        ``DistributedSampler`` pads), then :meth:`shard`-ed.

        Examples
        --------
        >>> d = Distribution("multiworker", "tensorflow", 2, 1, 2, 1)
        >>> d.even_shard(list("abcde")), d.shard(list("abcde"))
        (['b', 'd', 'a'], ['b', 'd'])
        """
        items = list(items)
        if self.num_workers <= 1 or not items:
            return items
        whole = -(-len(items) // self.num_workers) * self.num_workers
        return self.shard([items[i % len(items)] for i in range(whole)])


def worker_from_tf_config(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``(worker_index, num_workers)`` from ``TF_CONFIG``; ``(0, 1)`` when it is not set.

    Parameters
    ----------
    environ : mapping, optional
        The environment (default ``os.environ``).

    Raises
    ------
    ValueError
        ``TF_CONFIG`` is not JSON with ``cluster.worker`` (a list of
        ``host:port``) and ``task`` (``{"type": "worker"|"chief", "index": i}``).

    Examples
    --------
    >>> cfg = {"cluster": {"worker": ["localhost:12345", "localhost:23456"]},
    ...        "task": {"type": "worker", "index": 1}}
    >>> worker_from_tf_config({"TF_CONFIG": json.dumps(cfg)})
    (1, 2)
    >>> worker_from_tf_config({})
    (0, 1)
    """
    env = os.environ if environ is None else environ
    text = env.get("TF_CONFIG", "")
    if not text.strip():
        return 0, 1
    try:
        config = json.loads(text)
        cluster = config["cluster"]
        chiefs = list(cluster.get("chief", []))
        workers = chiefs + list(cluster["worker"])
        task = config["task"]
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            'TF_CONFIG must be JSON like {"cluster": {"worker": ["host:port", ...]}, '
            f'"task": {{"type": "worker", "index": 0}}}}; cannot read it ({err!r}). '
            f"Received: TF_CONFIG={text!r}"
        ) from None
    if kind == "chief":
        position = index
    elif kind == "worker":
        position = len(chiefs) + index
    else:
        raise ValueError(
            f"TF_CONFIG task type must be 'worker' or 'chief' for training. Received: {kind!r}"
        )
    if not 0 <= position < len(workers):
        raise ValueError(
            f"TF_CONFIG task index {index} is outside the cluster's {len(workers)} worker(s)"
        )
    return position, len(workers)


def _backend() -> str:
    import keras

    return keras.backend.backend()


def select_strategy(kind: str = "default") -> Distribution:
    """The :class:`Distribution` for a strategy name.

    Parameters
    ----------
    kind : {"default", "mirrored", "multiworker"}
        See the module's table.  ``"multiworker"`` must be chosen before
        TensorFlow runs any operation in the process (TensorFlow's rule).

    Returns
    -------
    Distribution

    Raises
    ------
    ValueError
        An unknown name, a strategy the Keras backend does not have, or a
        bad ``TF_CONFIG``.

    Examples
    --------
    >>> select_strategy("default").local_replicas  # "mirrored": TensorFlow and JAX only
    1
    >>> select_strategy("ring")
    Traceback (most recent call last):
    ...
    ValueError: `strategy` must be one of ('default', 'mirrored', 'multiworker'). Received: strategy='ring'
    """  # noqa: E501
    backend = check_strategy(kind)
    if backend == "tensorflow":
        return _tensorflow(kind)
    if kind == "default":
        return Distribution(kind, backend, 1, 1, 1, 0)
    import keras

    # JAX "mirrored" (check_strategy refused the rest); the generator already
    # gives each process its own data
    strategy = keras.distribution.DataParallel(auto_shard_dataset=False)
    n = int(strategy.device_mesh.devices.size)
    return Distribution(kind, backend, n, n, 1, 0, strategy)


def check_strategy(kind: str) -> str:
    """Refuse a strategy name the Keras backend lacks, building nothing; returns the backend.

    What :func:`select_strategy` checks first, cheap enough to run before any
    data are read or files written (``rlemask-keras train`` does): it
    imports no TensorFlow and touches no device.

    Raises
    ------
    ValueError
        An unknown name; ``"mirrored"`` on PyTorch (Keras 3 distributes only
        TensorFlow and JAX); ``"multiworker"`` on JAX or PyTorch.  The
        message names the backend and the one to use.

    Examples
    --------
    >>> check_strategy("default") in ("tensorflow", "jax", "torch")
    True
    """
    if kind not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: strategy={kind!r}")
    backend = _backend()
    if kind == "default" or backend == "tensorflow" or (backend, kind) == ("jax", "mirrored"):
        return backend
    if kind == "multiworker":
        hint = "use the TensorFlow backend (KERAS_BACKEND=tensorflow) for multiple workers"
    else:  # Keras 3 distributes over devices on TensorFlow and JAX only
        hint = "use the TensorFlow or JAX backend (KERAS_BACKEND=tensorflow or jax)"
    raise ValueError(f"strategy={kind!r} is not available with the {backend} backend: {hint}")


def _tensorflow(kind: str) -> Distribution:
    import tensorflow as tf

    if kind == "default":
        strategy = tf.distribute.get_strategy()
        return Distribution(kind, "tensorflow", 1, 1, 1, 0, strategy)
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        n = int(strategy.num_replicas_in_sync)
        return Distribution(kind, "tensorflow", n, n, 1, 0, strategy)
    index, workers = worker_from_tf_config()
    if "TF_CONFIG" not in os.environ:
        raise ValueError(
            "strategy='multiworker' needs TF_CONFIG: the cluster's workers and this one's "
            'index, e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\''
        )
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    total = int(strategy.num_replicas_in_sync)
    return Distribution(kind, "tensorflow", total, total // workers, workers, index, strategy)


def replica_batch(batch_size: int, n_samples: int, replicas: int) -> int:
    """The batch size to use with ``replicas`` local replicas.

    Keras 3 (``_maybe_symbolic_build`` in its TensorFlow trainer) averages
    the first batch of every ``fit`` iterator over the replicas, which fails
    unless that batch splits evenly; so the batch size must be a multiple of
    the replica count, and a data split smaller than one batch gets a batch
    of the largest multiple that fits.  (The generators also cut each epoch
    to a multiple of the replica count: a replica with an empty share of the
    last batch fails too.)

    Raises
    ------
    ValueError
        ``batch_size`` is not a multiple of ``replicas``, or fewer samples
        than replicas.

    Examples
    --------
    >>> replica_batch(32, 1000, 1), replica_batch(32, 1000, 4), replica_batch(32, 10, 4)
    (32, 32, 8)
    """
    if replicas <= 1:
        return batch_size
    if batch_size % replicas:
        raise ValueError(
            f"`batch_size` must be a multiple of the {replicas} replicas of the strategy; "
            f"received batch_size={batch_size}"
        )
    if n_samples < replicas:
        raise ValueError(
            f"{n_samples} image(s) in a split cannot be spread over {replicas} replicas"
        )
    return min(batch_size, n_samples // replicas * replicas)


def prepare_model(distribution: Distribution, model: Any) -> Any:
    """Make a compiled model ready to ``fit`` under ``distribution``; returns it.

    Only ``"multiworker"`` needs anything: Keras 3's TensorFlow trainer
    (``_maybe_symbolic_build``, Keras 3.15) averages the first batch over
    all replicas to learn the input shapes, and
    ``MultiWorkerMirroredStrategy.reduce`` cannot reduce an ``(x, y)``
    pair of per-replica values across workers (``ValueError: Attempt to
    convert a value (PerReplica ...)``).  The model is built from one local
    replica's share of that batch instead: only its shapes and dtypes are
    used.  The same trainer then fails to average the step's scalar logs
    across workers; each is given a leading axis of length 1, along which
    the strategy averages them.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> prepare_model(select_strategy("default"), model) is model
    True
    """
    if distribution.num_workers <= 1 or distribution.backend != "tensorflow":
        return model
    strategy = distribution.strategy

    def build_from_local_share(iterator: Any = None, data_batch: Any = None) -> None:
        import tensorflow as tf

        if data_batch is None and iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0], next(batches)
                )
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build_from_local_share

    # The same trainer reduces each step's logs with
    # strategy.reduce("MEAN", value, axis=0), which fails on the scalar logs
    # under this strategy ("Invalid reduction dimension 0 for input with 0
    # dimensions").  Logs of shape (1,) reduce along that axis over all the
    # replicas of all workers: the global mean, as Keras means it.
    def with_axis(step: Any) -> Any:
        def step_with_axis(data: Any) -> Any:
            import keras

            return keras.tree.map_structure(
                lambda value: keras.ops.expand_dims(value, 0), step(data)
            )

        return step_with_axis

    model.train_step = with_axis(model.train_step)
    model.test_step = with_axis(model.test_step)
    return model


def distribute_dataset(distribution: Distribution, dataset: Any, batch_size: int) -> Any:
    """This worker's ``tf.data`` batches, handed to the strategy as they are.

    Give the result to ``model.fit`` in place of the dataset.  With several
    workers, Keras would otherwise treat each worker's batch as the global
    batch and feed every replica only its slice of it, so a worker would
    train on ``1 / num_workers`` of its shard;
    ``distribute_datasets_from_function`` gives each worker's replicas the
    worker's own batches, whole.  With one worker the dataset is returned
    unchanged (Keras splits its batches over the local replicas).

    Parameters
    ----------
    distribution : Distribution
        From :func:`select_strategy`.
    dataset : tf.data.Dataset
        This worker's batches (:func:`rlemask_keras.tfdata.as_tf_dataset`
        over a generator of its shard).
    batch_size : int
        The worker's batch size: a multiple of ``distribution.local_replicas``.

    Examples
    --------
    >>> distribute_dataset(select_strategy("default"), [1, 2], 8)
    [1, 2]
    """
    if distribution.num_workers <= 1 or distribution.backend != "tensorflow":
        return dataset
    local = distribution.local_replicas
    if batch_size % local:
        raise ValueError(
            f"`batch_size` must be a multiple of the {local} local replicas. "
            f"Received: batch_size={batch_size}"
        )

    def per_worker(context: Any) -> Any:
        # one element per local replica: each gets its share of the worker's batch
        return dataset if local == 1 else dataset.rebatch(batch_size // local)

    return distribution.strategy.distribute_datasets_from_function(per_worker)
