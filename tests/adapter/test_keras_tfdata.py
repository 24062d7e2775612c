"""tfdata.py: the stream of (epoch, batch) pairs, fixed-length and shrinking.

The batches' pixels against the generator's own are tested with the
generator (tests/adapter/test_keras_data.py); here, the index streams.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from rlemask_keras.tfdata import as_tf_dataset  # noqa: E402

pytestmark = [pytest.mark.keras]


class _Counting:
    """Batch ``(epoch, index)`` is ``[[epoch, index]]``; epochs shrink when ``shrink``."""

    def __init__(self, lengths, shrink=False):
        self.lengths, self.on_error = lengths, "skip" if shrink else "raise"
        self.cache = None

    def n_batches(self, epoch):
        return self.lengths[min(epoch, len(self.lengths) - 1)]

    def batch(self, epoch, index):
        return np.array([[epoch, index]], np.int64), np.zeros((1, 1), np.float32)


def _pairs(dataset, n=None):
    items = dataset if n is None else dataset.take(n)
    return [tuple(x.numpy()[0]) for x, _ in items]


def test_a_finite_stream_has_every_epoch_s_batches_in_order():
    gen = _Counting([3, 2, 2])
    assert _pairs(as_tf_dataset(gen, epochs=2, first_epoch=1)) == [(1, 0), (1, 1), (2, 0), (2, 1)]


def test_an_endless_stream_follows_epochs_that_shrink():
    """With unreadable files skipped (no cache), each epoch's length is asked as it comes."""
    shrinking = _Counting([3, 2, 1], shrink=True)
    assert _pairs(as_tf_dataset(shrinking), 7) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1),
                                                   (2, 0), (3, 0)]  # fmt: skip
    fixed = _Counting([2, 1])  # epochs cannot shrink: the first epoch's length repeats
    assert _pairs(as_tf_dataset(fixed, first_epoch=1), 3) == [(1, 0), (2, 0), (3, 0)]


@pytest.mark.parametrize("kwargs", [{"parallel_batches": 0}, {"prefetch": -1},
                                    {"epochs": True}])  # fmt: skip
def test_bad_counts_name_the_parameter(kwargs):
    (name,) = kwargs
    with pytest.raises(ValueError, match=f"`{name}` must be an integer"):
        as_tf_dataset(_Counting([1]), **kwargs)
