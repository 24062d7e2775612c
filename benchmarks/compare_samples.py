"""Sample rows of ``benchmarks/compare.py``: samples and augmentation of other kinds (issue 22).

- ``Dataset.sample`` of a Severstal strip (256 x 1600 JPEG, four classes)
  at 128 x 800 and of an Airbus image (768 x 768 JPEG, one row per ship) at
  384 x 384, against the recipe of public notebooks: ``skimage.io.imread``,
  the common split decoder per row (Kaggle starts), a union per class and
  ``skimage.transform.resize`` of the image (anti-aliased) and of each class
  (order 0).
- ``warp_batch`` of a (32, 128, 800, 4) batch -- the four classes moved in one
  kernel pass, a pixel's class bytes read as one word -- against warping the image and
  each class as four single-mask calls.

``python -m benchmarks.compare_samples`` prints the rows alone.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.compare import best_time


def kaggle_split_decode(rle: str, shape: tuple[int, int]) -> np.ndarray:
    """The notebooks' decoder: absolute 1-based starts, column-major."""
    s = rle.split()
    starts, lengths = (np.asarray(x, dtype=int) for x in (s[0::2], s[1::2]))
    img = np.zeros(shape[0] * shape[1], dtype=np.uint8)
    for lo, n in zip(starts - 1, lengths, strict=True):
        img[lo : lo + n] = 1
    return img.reshape(shape[::-1]).T


def plain_sample(path: Path, rows: dict[str, list[str]], size: tuple[int, int]):
    from skimage.io import imread
    from skimage.transform import resize

    pixels = imread(path, as_gray=True)
    image = resize(pixels, size, anti_aliasing=True).astype(np.float32)
    masks = []
    for class_rows in rows.values():
        full = np.zeros(pixels.shape, np.uint8)
        for rle in class_rows:
            np.maximum(full, kaggle_split_decode(rle, pixels.shape), out=full)
        masks.append(resize(full, size, order=0, preserve_range=True, anti_aliasing=False))
    return image, np.stack(masks, axis=-1).astype(np.uint8)


def rows() -> list[dict[str, Any]]:
    import rlemask
    from rlemask.synthetic_kinds import make_kind

    folder = Path(tempfile.mkdtemp(prefix="rlemask-compare-samples-"))
    out = []
    try:
        for kind, labels, size in (("severstal", "train.csv", (128, 800)),
                                   ("airbus", "train_ship_segmentations_v2.csv", (384, 384))):
            root = make_kind(folder / kind, kind, n_images=4, seed=1)
            data = rlemask.load_dataset(root, root / labels)
            image_id = max(data.ids, key=lambda i: sum(map(len, data.rows(i).values())))
            path, rows_ = data.path(image_id), data.rows(image_id)
            ours = best_time(lambda d=data, i=image_id, s=size: d.sample(i, s), repeat=5)
            base = best_time(lambda p=path, r=rows_, s=size: plain_sample(p, r, s), repeat=5)
            h, w = data.shape(image_id)
            n_rows = sum(map(len, rows_.values()))
            out.append({
                "operation": f"Dataset.sample {kind} {w}x{h} -> {size[1]}x{size[0]}, "
                             f"{len(rows_)} class(es), {n_rows} rows",
                "rlemask_s": ours,
                "baseline": "imread + split decode + skimage resize per class",
                "baseline_s": base,
                "note": "reduced JPEG read, area resize, binary-safe per class",
            })
        out.append(_warp_row())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _warp_row() -> dict[str, Any]:
    from rlemask.augment import BasicAugmentation, warp_batch

    rng = np.random.default_rng(1234)
    images = rng.random((32, 128, 800), dtype=np.float32)
    masks = (rng.random((32, 128, 800, 4)) < 0.1).astype(np.uint8)
    params = BasicAugmentation().draw(32, (128, 800), rng)
    warp_batch(images, masks, params)
    split = [np.ascontiguousarray(masks[..., c]) for c in range(4)]

    def per_class():
        for plane in split:
            warp_batch(images, plane, params)

    return {
        "operation": "warp_batch (32, 128, 800) + 4 classes",
        "rlemask_s": best_time(lambda: warp_batch(images, masks, params), repeat=5),
        "baseline": "the same kernel once per class",
        "baseline_s": best_time(per_class, repeat=5),
        "note": "a pixel's class bytes carried as one word",
    }


if __name__ == "__main__":  # pragma: no cover
    for row in rows():
        ratio = row["baseline_s"] / row["rlemask_s"]
        print(f"{row['operation']}: {row['rlemask_s'] * 1e3:.2f} ms vs {row['baseline']} "
              f"{row['baseline_s'] * 1e3:.2f} ms -> {ratio:.2f}x")
