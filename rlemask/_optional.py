"""Optional dependencies: one place that knows which extra installs what.

The core needs numpy, numba, pydicom, Pillow, scipy, tifffile and matplotlib; everything
else comes with an extra of the ``rlemask`` distribution (see
``pyproject.toml``).  When an optional package is missing, the user is told
which extra to install in one line, instead of a traceback that ends in
``No module named 'keras'``.  Only a package that belongs to the extra is
translated: a missing module anywhere else is a real bug and keeps its
traceback.

Examples
--------
>>> from rlemask._optional import install_hint
>>> install_hint("dask")
'pip install "rlemask[dask]"'
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

__all__ = ["MissingExtraError", "extra_for", "explain", "install_hint", "require"]


@dataclass(frozen=True)
class _Extra:
    what: str  # how the message names the dependency
    install: str  # the pip command(s)
    modules: tuple[str, ...]  # top-level import names the extra provides


_KERAS_INSTALL = (
    'pip install "rlemask[keras]" (or "rlemask[keras-cpu]" for a CPU-only TensorFlow, '
    '"rlemask[keras-gpu]" for TensorFlow with CUDA)'
)

#: extra name -> what it provides; the names are ``pyproject.toml``'s extras
EXTRAS: dict[str, _Extra] = {
    "keras": _Extra("Keras 3 and TensorFlow", _KERAS_INSTALL, ("keras", "tensorflow")),
    "jax": _Extra("Keras 3 and JAX", 'pip install "rlemask[jax]"', ("jax", "jaxlib")),
    "torch": _Extra(
        "Keras 3 and PyTorch",
        'pip install "rlemask[torch]" (CPU-only: first pip install torch '
        "--index-url https://download.pytorch.org/whl/cpu)",
        ("torch",),
    ),
    "pandas": _Extra("pandas", 'pip install "rlemask[pandas]"', ("pandas",)),
    "dask": _Extra("Dask", 'pip install "rlemask[dask]"', ("dask", "distributed")),
}

# a missing module -> the extra that installs it (first listed wins)
_EXTRA_OF = {module: name for name, extra in reversed(EXTRAS.items()) for module in extra.modules}


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra to install.

    A :class:`ModuleNotFoundError` (so an :class:`ImportError`): code that
    already catches those keeps working.
    """


def install_hint(extra: str) -> str:
    """The ``pip install`` command of ``extra`` (a key of :data:`EXTRAS`).

    Examples
    --------
    >>> install_hint("pandas")
    'pip install "rlemask[pandas]"'
    """
    return EXTRAS[extra].install


def _message(extra: str, missing: str, what: str | None) -> str:
    info = EXTRAS[extra]
    return f"{what or 'this'} needs {info.what}, but {missing!r} is not installed: {info.install}"


def explain(error: BaseException, what: str | None = None) -> str | None:
    """The one-line message for an import error of an extra's package, else ``None``.

    Parameters
    ----------
    error : BaseException
        Typically a caught :class:`ModuleNotFoundError`.
    what : str, optional
        The feature that needed the module (``"rlemask_keras.unet"``).

    Examples
    --------
    >>> print(explain(ModuleNotFoundError("No module named 'pandas'", name="pandas")))
    this needs pandas, but 'pandas' is not installed: pip install "rlemask[pandas]"
    >>> explain(ModuleNotFoundError("No module named 'foo'", name="foo")) is None
    True
    """
    if isinstance(error, MissingExtraError):
        return str(error)
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return None
    top = error.name.partition(".")[0]
    extra = _EXTRA_OF.get(top)
    return None if extra is None else _message(extra, top, what)


@contextlib.contextmanager
def extra_for(what: str) -> Iterator[None]:
    """Turn a missing extra's package, imported in the block, into :class:`MissingExtraError`.

    Any other import error passes through unchanged.

    Parameters
    ----------
    what : str
        The feature being imported, for the message (``"rlemask_keras.unet"``).

    Examples
    --------
    >>> import sys
    >>> saved = sys.modules.get("pandas")
    >>> sys.modules["pandas"] = None  # as if pandas were not installed
    >>> try:
    ...     with extra_for("reading a frame"):
    ...         import pandas
    ... except MissingExtraError as err:
    ...     print(err)
    ... finally:
    ...     del sys.modules["pandas"]
    ...     if saved is not None:
    ...         sys.modules["pandas"] = saved
    reading a frame needs pandas, but 'pandas' is not installed: pip install "rlemask[pandas]"
    """
    try:
        yield
    except ModuleNotFoundError as err:
        message = explain(err, what)
        if message is None:
            raise
        raise MissingExtraError(message, name=err.name) from None


def require(module: str, what: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming the extra to install.

    Parameters
    ----------
    module : str
        The module to import (``"distributed"``); its top-level package must
        belong to one of :data:`EXTRAS`.
    what : str
        The feature that needs it, for the message.

    Returns
    -------
    module

    Raises
    ------
    MissingExtraError
        ``module`` (or a package it imports that the same extras provide) is
        not installed.
    ValueError
        ``module`` belongs to no extra (a programming error).

    Examples
    --------
    >>> require("numpy.linalg", "x")
    Traceback (most recent call last):
    ...
    ValueError: `module` must belong to an extra (keras, jax, torch, pandas, dask); received module='numpy.linalg'
    """  # noqa: E501
    if module.partition(".")[0] not in _EXTRA_OF:
        raise ValueError(
            f"`module` must belong to an extra ({', '.join(EXTRAS)}); received module={module!r}"
        )
    with extra_for(what):
        return importlib.import_module(module)
