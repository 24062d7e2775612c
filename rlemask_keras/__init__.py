"""rlemask_keras: a thin Keras 3 adapter over :mod:`rlemask`.

A ``keras.utils.PyDataset`` batch generator, U-Net and U-Net++ builders
(SELU by default), a per-image Dice metric and Dice losses, and the
``rlemask-keras train|predict`` command.

Names are loaded lazily, so ``import rlemask_keras`` does not import
TensorFlow until a Keras name is used.  Install Keras with
``pip install "rlemask[keras]"`` (or ``[keras-cpu]`` / ``[keras-gpu]``).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "DataGenerator": "rlemask_keras.data",
    "unet": "rlemask_keras.models",
    "unet_plus_plus": "rlemask_keras.models",
    "DiceCoefficient": "rlemask_keras.metrics",
    "dice_loss": "rlemask_keras.losses",
    "bce_dice_loss": "rlemask_keras.losses",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rlemask_keras' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
