"""rlemask_keras: a thin Keras 3 adapter over :mod:`rlemask`.

A ``keras.utils.PyDataset`` batch generator, U-Net and U-Net++ builders
(SELU by default), a per-image Dice metric and Dice losses, and the
``rlemask-keras train|predict|oof`` command.

Names are loaded lazily, so ``import rlemask_keras`` does not import
TensorFlow until a Keras name is used.  Install Keras with
``pip install "rlemask[keras]"`` (or ``[keras-cpu]`` / ``[keras-gpu]``).

A model saved with the adapter's losses and metrics loads back with
``keras.models.load_model(path)`` in any process that has imported
``rlemask_keras``: the package registers them with Keras as soon as Keras
is imported (now, if it already is, or right after ``import keras``).
Keras itself only imports modules of its own packages while loading, so
``import keras`` alone cannot find them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "DataGenerator": "rlemask_keras.data",
    "unet": "rlemask_keras.models",
    "unet_plus_plus": "rlemask_keras.models",
    "DiceCoefficient": "rlemask_keras.metrics",
    "dice_loss": "rlemask_keras.losses",
    "bce_dice_loss": "rlemask_keras.losses",
    "focal_loss": "rlemask_keras.losses",
    "lovasz_hinge_loss": "rlemask_keras.losses",
    "CombinedLoss": "rlemask_keras.losses",
    "combined_loss": "rlemask_keras.losses",
    "FreezeEncoder": "rlemask_keras.callbacks",
    "TrainConfig": "rlemask_keras.config",
    "train": "rlemask_keras.training",
    "predict_probabilities": "rlemask_keras.predict",
    "predict_masks": "rlemask_keras.predict",
    "predict_runs": "rlemask_keras.predict",
    "predict_folder": "rlemask_keras.predict_folder",
}

#: modules whose import registers serializable objects (losses, metrics)
#: with Keras; ``keras.models.load_model`` looks them up by registered name
_SERIALIZABLES = (
    "rlemask_keras.losses",
    "rlemask_keras.metrics",
    "rlemask_keras.models",  # DeepSupervisionModel
    "rlemask_keras.encoders",  # EncoderInput, EncoderGate
)

__all__ = sorted(_EXPORTS)


def _register_serializables() -> None:
    for module in _SERIALIZABLES:
        importlib.import_module(module)


class _AfterKerasImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs :func:`_register_serializables` right after ``import keras`` completes.

    Keeps ``import rlemask_keras`` free of TensorFlow (and lets the command
    set TensorFlow's logging variables first) while a later
    ``keras.models.load_model`` still finds ``rlemask>bce_dice_loss``.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # find the real module, and fire once
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return None  # Keras not installed: the import fails as usual
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        # Keras keeps its own loader (importlib.resources and friends use it)
        module.__loader__ = module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        try:
            _register_serializables()
        except Exception as err:  # never break the user's own `import keras`
            import warnings

            warnings.warn(
                f"rlemask_keras could not register its losses and metrics with Keras ({err}); "
                "call `import rlemask_keras.losses, rlemask_keras.metrics` before loading a model",
                stacklevel=2,
            )


if sys.modules.get("keras") is not None:  # None: an import of keras was blocked
    _register_serializables()
elif not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AfterKerasImport())


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from rlemask._optional import extra_for

        # without Keras: one line naming the extra to install, not an import traceback
        with extra_for(f"rlemask_keras.{name}"):
            module = importlib.import_module(_EXPORTS[name])
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rlemask_keras' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public names and the module's dunders, not the helpers this file imports
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__")})


# Static tools (type checkers, IDEs) do not run __getattr__: they see the lazy
# names here, as explicit re-exports (``X as X``, PEP 484, so also under
# mypy --strict).  tests/core/test_exports.py checks that this block and _EXPORTS agree.
if TYPE_CHECKING:
    from rlemask_keras.callbacks import FreezeEncoder as FreezeEncoder
    from rlemask_keras.config import TrainConfig as TrainConfig
    from rlemask_keras.data import DataGenerator as DataGenerator
    from rlemask_keras.losses import CombinedLoss as CombinedLoss
    from rlemask_keras.losses import bce_dice_loss as bce_dice_loss
    from rlemask_keras.losses import combined_loss as combined_loss
    from rlemask_keras.losses import dice_loss as dice_loss
    from rlemask_keras.losses import focal_loss as focal_loss
    from rlemask_keras.losses import lovasz_hinge_loss as lovasz_hinge_loss
    from rlemask_keras.metrics import DiceCoefficient as DiceCoefficient
    from rlemask_keras.models import unet as unet
    from rlemask_keras.models import unet_plus_plus as unet_plus_plus
    from rlemask_keras.predict import predict_masks as predict_masks
    from rlemask_keras.predict import predict_probabilities as predict_probabilities
    from rlemask_keras.predict import predict_runs as predict_runs
    from rlemask_keras.predict_folder import predict_folder as predict_folder
    from rlemask_keras.training import train as train
