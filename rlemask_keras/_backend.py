"""What differs between Keras backends, asked without importing TensorFlow.

JAX and PyTorch users of the adapter need not have TensorFlow imported (it
takes seconds and a lot of memory, and its C++ start-up noise reaches their
logs).  Keras itself imports it from a few places whenever it is installed:
``keras.utils.set_random_seed`` (to seed ``tf.data``) and the saving code
(to recognise ``tf.TensorShape`` objects).  :func:`tensorflow_left_out` makes
those probes answer "not available" while TensorFlow is not imported, which
is true of every object they could meet then.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator

__all__ = ["has_gpu", "set_threads", "tensorflow_left_out"]


def _backend() -> str:
    import keras

    return keras.config.backend()


def has_gpu() -> bool:
    """True when the Keras backend sees a GPU (asked of that backend only).

    Examples
    --------
    >>> isinstance(has_gpu(), bool)
    True
    """
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


def set_threads(n: int) -> None:
    """Limit the backend's intra-op threads to ``n`` (``--threads``); 0 leaves its choice.

    TensorFlow: its intra-op pool (inter-op at most 2).  PyTorch:
    ``torch.set_num_threads``.  JAX (XLA) has no thread-count setting: ``1``
    turns its multi-threaded CPU kernels off (``--xla_cpu_multi_thread_eigen=false``
    in ``XLA_FLAGS``, read when JAX starts its CPU client, i.e. before the
    first computation); a larger ``n`` keeps XLA's choice, with a warning.

    Examples
    --------
    >>> set_threads(0)  # nothing to do
    """
    if n <= 0:
        return
    backend = _backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with contextlib.suppress(RuntimeError):  # TensorFlow already running
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    elif backend == "torch":
        import torch

        torch.set_num_threads(n)
    elif backend == "jax" and n == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    elif backend == "jax":
        warnings.warn(
            f"--threads {n}: JAX has no thread-count setting (only 1 is honoured); XLA chooses",
            UserWarning,
            stacklevel=2,
        )


@contextlib.contextmanager
def tensorflow_left_out(needed: bool = False) -> Iterator[None]:
    """Keep Keras from importing TensorFlow on another backend, unless ``needed``.

    Inside, Keras' lazy probe of TensorFlow answers False while TensorFlow is
    not imported (on the TensorFlow backend, when ``needed``, or when
    TensorFlow is already imported, nothing changes).  An explicit
    ``import tensorflow`` still works.

    Examples
    --------
    >>> with tensorflow_left_out():
    ...     pass
    """
    probe = None
    if not needed and "tensorflow" not in sys.modules and _backend() != "tensorflow":
        try:
            from keras.src.utils import module_utils
        except ImportError:  # another Keras layout: it may import TensorFlow, no harm
            module_utils = None
        candidate = getattr(module_utils, "tensorflow", None)
        if getattr(candidate, "_available", True) is None:  # not probed yet
            probe = candidate
    if probe is None:
        yield
        return
    probe._available = False
    try:
        yield
    finally:
        probe._available = None  # probe again next time (TensorFlow may be imported by then)
