"""Training-input rows of ``benchmarks/compare.py``: augmentation and the two pipelines.

All rows read batches of 16 samples at 256 x 256 from a :class:`rlemask.SampleCache`
(the way training reads them after the first epoch), in this one process:

- ``DataGenerator`` with the built-in augmentation against the same generator
  without it, one thread (per core).  Targets: augmented >= 3,000 images/s per
  core (absolute, in the note) and >= half the rate without augmentation
  (ratio >= 0.5).
- The batch kernel (:class:`rlemask.augment.BasicAugmentation`) against the
  previous per-sample numpy implementation (kept below as the baseline) and
  against an albumentations ``Compose`` of the same set (flip, affine
  zoom/shift, brightness/contrast), per sample.
- The ``tf.data`` path (:func:`rlemask_keras.tfdata.as_tf_dataset`) against
  Keras' ``PyDataset`` adapter with 2 worker threads (what ``model.fit`` uses),
  augmented, batches as the model would receive them.

Run alone: ``python benchmarks/compare_pipeline.py``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.compare import interleaved_best  # noqa: E402

SIZE = 256
BATCH = 16
N_IMAGES = 64


def numpy_augment_pair(image, mask, rng):
    """The per-sample numpy augmentation the adapter used before the batch kernel."""
    height, width = image.shape
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    scale = rng.uniform(0.9, 1.1)
    shift_y, shift_x = rng.uniform(-0.06, 0.06, size=2) * (height, width)

    def axis(n, shift):
        centre = (n - 1) / 2.0
        return np.clip((np.arange(n, dtype=np.float64) - centre - shift) / scale + centre, 0,
                       n - 1)

    rows, cols = axis(height, shift_y), axis(width, shift_x)
    r_near = np.floor(rows + 0.5).astype(np.intp).clip(0, height - 1)
    c_near = np.floor(cols + 0.5).astype(np.intp).clip(0, width - 1)
    out_mask = np.ascontiguousarray(mask[r_near[:, None], c_near[None, :]], dtype=np.uint8)
    r0, c0 = np.floor(rows).astype(np.intp), np.floor(cols).astype(np.intp)
    r1, c1 = np.minimum(r0 + 1, height - 1), np.minimum(c0 + 1, width - 1)
    wr = (rows - r0).astype(np.float32)[:, None]
    wc = (cols - c0).astype(np.float32)[None, :]
    top = image[r0][:, c0] * (1 - wc) + image[r0][:, c1] * wc
    bottom = image[r1][:, c0] * (1 - wc) + image[r1][:, c1] * wc
    out = (top * (1 - wr) + bottom * wr - 0.5) * rng.uniform(0.85, 1.15) + 0.5
    out = np.clip(out + rng.uniform(-0.08, 0.08), 0.0, 1.0).astype(np.float32)
    return out, out_mask


def _albumentations_set():
    import albumentations as A

    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.Affine(scale=(0.9, 1.1), translate_percent=(-0.06, 0.06), p=1.0,
                     border_mode=1),  # cv2.BORDER_REPLICATE: edge pixels repeat, as ours
            A.RandomBrightnessContrast(brightness_limit=0.08, contrast_limit=0.15, p=1.0),
        ],
        seed=0,
    )


def _cache(folder: Path):
    import rlemask
    from rlemask.synthetic import make_dataset

    root = make_dataset(folder / "data", N_IMAGES, size=512, seed=0)
    paths, labels = rlemask.load_siim(root)
    cache = rlemask.build_cache(paths, labels, folder / "cache", img_size=SIZE, workers=1,
                                progress=False)
    return paths, labels, cache


def _batches_per_s(iterator, n: int) -> float:
    next(iterator)  # start-up (threads, tracing, first batch) is not timed
    t0 = time.perf_counter()
    for _ in range(n):
        next(iterator)
    return n / (time.perf_counter() - t0)


def pipeline_rows(paths, labels, cache, n_batches: int = 24) -> list[dict[str, Any]]:
    """tf.data against the PyDataset adapter, both augmented, one after the other."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    from rlemask_keras import DataGenerator
    from rlemask_keras.tfdata import as_tf_dataset

    # every image several times: one epoch holds all the timed batches, so that
    # neither path is timed restarting its threads between epochs
    repeats = -(-(n_batches + 2) * BATCH // len(paths))

    def generator(**kw):
        return DataGenerator(paths * repeats, labels, batch_size=BATCH, img_size=SIZE,
                             cache=cache, seed=0, augment=True, **kw)

    adapter = PyDatasetAdapter(generator(workers=2), shuffle=False)
    adapter.on_epoch_begin()
    rate_keras = _batches_per_s(iter(adapter.get_tf_dataset()), n_batches)
    rate_tf = _batches_per_s(iter(as_tf_dataset(generator())), n_batches)
    return [{
        "operation": f"tf.data path, batch {BATCH} at {SIZE}, augmented",
        "rlemask_s": 1 / rate_tf,
        "baseline": "PyDataset adapter, 2 workers",
        "baseline_s": 1 / rate_keras,
        "note": f"{rate_tf * BATCH:.0f} vs {rate_keras * BATCH:.0f} images/s",
    }]


def rows() -> list[dict[str, Any]]:
    from rlemask.augment import BasicAugmentation, apply_per_sample
    from rlemask_keras import DataGenerator

    folder = Path(tempfile.mkdtemp(prefix="rlemask-compare-pipeline-"))
    try:
        paths, labels, cache = _cache(folder)
        plain = DataGenerator(paths, labels, batch_size=BATCH, img_size=SIZE, cache=cache,
                              seed=0)
        augmented = DataGenerator(paths, labels, batch_size=BATCH, img_size=SIZE, cache=cache,
                                  seed=0, augment=True)
        n = len(plain)
        state = {"k": 0}

        def batch_of(gen):
            def run():
                state["k"] += 1
                return gen.batch(state["k"] // n, state["k"] % n)
            return run

        # side by side, in turn, each keeping its fastest call: both see the same load
        t_aug, t_plain = interleaved_best([batch_of(augmented), batch_of(plain)], rounds=300,
                                          budget_s=6.0)
        out = [{
            "operation": f"DataGenerator batch {BATCH} at {SIZE} from the cache, augmented",
            "rlemask_s": t_aug,
            "baseline": "the same, not augmented",
            "baseline_s": t_plain,
            "target": 0.5,
            "note": f"{BATCH / t_aug:.0f} vs {BATCH / t_plain:.0f} images/s on one core, "
                    "target >= 3000/s",
        }]

        images, masks = cache.get_batch(np.arange(BATCH))
        rng = np.random.default_rng(1234)
        basic = BasicAugmentation()

        def per_sample_numpy():
            for k in range(BATCH):
                numpy_augment_pair(images[k], masks[k], rng)

        t_kernel, t_numpy = interleaved_best(
            [lambda: basic.batch(images, masks, rng), per_sample_numpy], rounds=100, budget_s=4.0
        )
        out.append({
            "operation": f"augment a batch of {BATCH} at {SIZE} (BasicAugmentation)",
            "rlemask_s": t_kernel,
            "baseline": "per-sample numpy (the adapter's previous code)",
            "baseline_s": t_numpy,
            "note": f"{BATCH / t_kernel:.0f} images/s",
        })
        try:
            transform = _albumentations_set()
        except ImportError:
            transform = None
        if transform is not None:
            t_kernel, t_album = interleaved_best(
                [lambda: basic.batch(images, masks, rng),
                 lambda: apply_per_sample(transform, images, masks)],
                rounds=100, budget_s=4.0,
            )
            out.append({
                "operation": f"augment a batch of {BATCH} at {SIZE} (BasicAugmentation)",
                "rlemask_s": t_kernel,
                "baseline": "albumentations Compose, same set",
                "baseline_s": t_album,
                "note": f"albumentations {BATCH / t_album:.0f} images/s",
            })
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            return out
        out.extend(pipeline_rows(paths, labels, cache))
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    from benchmarks.compare import table

    print(table(rows()))
