"""Training callbacks of the adapter.

:class:`FreezeEncoder` keeps a pretrained encoder fixed for the first epochs,
so that the randomly initialised decoder does not send large gradients into
ImageNet weights, then trains the whole network.
"""

from __future__ import annotations

from typing import Any

import keras

from rlemask_keras.encoders import GATE_LAYER

__all__ = ["FreezeEncoder"]


class FreezeEncoder(keras.callbacks.Callback):
    """Freeze the encoder of a U-Net for the first ``epochs`` epochs of ``fit``.

    Closes the model's :class:`rlemask_keras.encoders.EncoderGate` for epochs
    ``0 .. epochs - 1`` (0-based, so ``initial_epoch >= epochs`` trains the
    encoder from the start) and opens it afterwards and when training ends.
    A closed gate passes no gradient to the encoder: with Adam, SGD or
    RMSprop its weights stay exactly as they were (a decoupled weight decay,
    as in AdamW, would still shrink them), while its batch normalisation keeps
    following the training data.  The same on every Keras backend, with no
    recompilation.

    Parameters
    ----------
    epochs : int
        Number of epochs with the encoder frozen; 0 does nothing.

    Raises
    ------
    ValueError
        For a negative ``epochs``, or at the start of ``fit`` when the model
        was not built with an encoder.

    Examples
    --------
    >>> import numpy as np
    >>> from rlemask_keras import unet
    >>> model = unet((32, 32, 1), filters=2, encoder="efficientnetv2b0", depth=1)
    >>> model.compile("adam", loss="binary_crossentropy")
    >>> before = model.get_layer("encoder").get_weights()[0].copy()
    >>> x = np.zeros((2, 32, 32, 1), "float32")
    >>> _ = model.fit(x, x, epochs=1, verbose=0, callbacks=[FreezeEncoder(1)])
    >>> bool(np.array_equal(model.get_layer("encoder").get_weights()[0], before))
    True
    """

    def __init__(self, epochs: int):
        super().__init__()
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(
                f"`epochs` must be an integer >= 0. Received: freeze_encoder_epochs={epochs!r}"
            )
        self.epochs = epochs

    def _gate(self):
        try:
            return self.model.get_layer(GATE_LAYER)
        except ValueError:
            raise ValueError(
                f"FreezeEncoder: the model {self.model.name!r} has no encoder (no layer "
                f"{GATE_LAYER!r}); build it with unet(..., encoder=NAME) or "
                "unet_plus_plus(..., encoder=NAME)."
            ) from None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.epochs > 0:
            self._gate()  # fail before the first epoch on a model without encoder

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.epochs > 0:
            self._gate().open.assign(0.0 if epoch < self.epochs else 1.0)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.epochs > 0:  # a model leaves fit() trainable, whenever fit stopped
            self._gate().open.assign(1.0)
