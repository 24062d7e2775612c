"""Keras adapter throughput: the batch generator, and training images/s.

The asv suite here (:class:`AugmentSuite`) times only the framework-free
augmentation and sampler of :mod:`rlemask.augment`.  The rest runs as a
script (asv does not time it: TensorFlow start-up and training are too heavy
for asv's repeat loop)::

    .venv/bin/python benchmarks/bench_keras.py [--n-images 128] [--batches 7] [--epochs 3]

It prints one markdown table:

- ``DataGenerator`` batches/s (batch 16, 256 x 256) reading each sample from
  its 1024 x 1024 JPEG-Baseline DICOM (``rlemask.load_sample``) and from the
  sample cache, with 1 and 2 worker threads, driven through Keras' own
  ``PyDataset`` adapter (the enqueuer ``model.fit`` uses), with and without
  augmentation, and from the cache through the ``tf.data`` path
  (:func:`rlemask_keras.tfdata.as_tf_dataset`);
- training images/s of the default U-Net (16 filters, depth 4, SELU, batch
  16) at 128 and 256, fed from the cache, median over the timed epochs (the
  first epoch, with tracing, is left out).

Where a GPU is visible the training rows run on it; the table then also
shows the generator's own rate so that one can tell which of the two is the
limit.  Both rates are measured in the same process, one after the other.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


class AugmentSuite:
    """The built-in augmentation on a batch of 16 at 256 px, and an epoch's order."""

    params = (["float32", "uint8"],)
    param_names = ["images"]

    def setup(self, images):
        from rlemask.augment import BasicAugmentation, PositiveFractionSampler

        rng = np.random.default_rng(1234)
        steps = rng.integers(0, 256, (16, 256, 256), dtype=np.uint8)
        self.images = steps if images == "uint8" else steps.astype(np.float32) / 255
        self.masks = (steps > 200).astype(np.uint8)
        self.augmentation = BasicAugmentation()
        self.rng = rng
        self.sampler = PositiveFractionSampler(
            rng.random(12_000) < 0.22, positive_fraction=(0.8, None), epochs=10, seed=0
        )
        self.augmentation.batch(self.images, self.masks, rng)  # compile before timing

    def time_basic_augmentation(self, images):
        self.augmentation.batch(self.images, self.masks, self.rng)

    def time_sampler_order_12k(self, images):
        self.sampler.order(3)


def _iterate(gen, n_batches: int) -> float:
    """Batches/s through Keras' PyDataset adapter (worker threads as configured)."""
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    adapter = PyDatasetAdapter(gen, shuffle=False)
    adapter.on_epoch_begin()
    it = adapter.get_numpy_iterator()
    next(it)  # start-up (thread pool, first decode) is not timed
    t0 = time.perf_counter()
    for _ in range(n_batches):
        next(it)
    seconds = time.perf_counter() - t0
    adapter.on_epoch_end()
    return n_batches / seconds


def generator_rows(paths, labels, cache, n_batches: int) -> list[tuple[str, float, str]]:
    from rlemask_keras import DataGenerator

    rows = []
    for source in ("DICOM", "cache"):
        for augment in (False, True):
            for workers in (1, 2):
                gen = DataGenerator(
                    paths,
                    labels,
                    batch_size=16,
                    img_size=256,
                    seed=0,
                    augment=augment,
                    cache=cache if source == "cache" else None,
                    workers=workers,
                )
                n = min(n_batches, len(gen) - 1)
                rate = _iterate(gen, n)
                name = f"generator, {source}, {'augment' if augment else 'plain'}, {workers} w"
                rows.append((name, rate, f"{rate * 16:.0f} images/s"))
    rows.append(_tf_data_row(paths, labels, cache, n_batches))
    return rows


def _tf_data_row(paths, labels, cache, n_batches: int) -> tuple[str, float, str]:
    """The cache, augmented, through the tf.data path (its own autotuned threads)."""
    from rlemask_keras import DataGenerator
    from rlemask_keras.tfdata import as_tf_dataset

    gen = DataGenerator(paths, labels, batch_size=16, img_size=256, seed=0, augment=True,
                        cache=cache)
    it = iter(as_tf_dataset(gen))
    next(it)
    t0 = time.perf_counter()
    for _ in range(n_batches):
        next(it)
    rate = n_batches / (time.perf_counter() - t0)
    return ("generator, cache, augment, tf.data", rate, f"{rate * 16:.0f} images/s")


class _Timer:
    @staticmethod
    def make():
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times: list[float] = []

            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self.t0)

        return Timer()


def training_rows(paths, labels, root: Path, epochs: int) -> list[tuple[str, float, str]]:
    import keras

    import rlemask
    from rlemask_keras import DataGenerator, DiceCoefficient, bce_dice_loss, unet

    rows = []
    for size in (128, 256):
        cache = rlemask.build_cache(
            paths, labels, root / f"cache-{size}", img_size=size, workers=1, progress=False
        )
        gen = DataGenerator(paths, labels, batch_size=16, img_size=size, cache=cache, seed=0)
        model = unet((size, size, 1), filters=16, depth=4)
        model.compile(keras.optimizers.Adam(1e-3), loss=bce_dice_loss, metrics=[DiceCoefficient()])
        timer = _Timer.make()
        model.fit(gen, epochs=epochs + 1, verbose=0, callbacks=[timer])
        rate = len(paths) / statistics.median(timer.times[1:])
        rows.append((f"training U-Net 16f d4, {size} px", rate, "images/s"))
    return rows


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=128)
    parser.add_argument("--batches", type=int, default=7, help="timed batches per generator row")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per training row")
    args = parser.parse_args(argv)

    import tensorflow as tf

    import rlemask
    from rlemask.synthetic import make_dataset

    root = Path(tempfile.mkdtemp(prefix="bench_keras_"))
    try:
        data = make_dataset(root / "data", args.n_images, size=1024, seed=0)
        paths, labels = rlemask.load_siim(data)
        cache = rlemask.build_cache(
            paths, labels, root / "cache-256", img_size=256, workers=1, progress=False
        )
        rows = generator_rows(paths, labels, cache, args.batches)
        rows += training_rows(paths, labels, root, args.epochs)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    device = "GPU" if tf.config.list_logical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"Keras adapter throughput on {device}, {args.n_images} synthetic 1024 px images\n")
    print("| what | rate | note |")
    print("|---|---|---|")
    for name, rate, note in rows:
        unit = "batches/s" if name.startswith("generator") else "images/s"
        print(f"| {name} | {rate:.1f} {unit} | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
