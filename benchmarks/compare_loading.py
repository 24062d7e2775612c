"""Loading rows of ``benchmarks/compare.py``: one example, and batches from the cache.

- ``load_sample`` (1024 x 1024 JPEG-Baseline DICOM, 3 regions -> 256 x 256)
  against the plain recipe of public notebooks: ``pydicom.dcmread(path).pixel_array``
  (pydicom's default plugin selection), the common ``split`` RLE decoder per
  row, and ``skimage.transform.resize`` of the image (anti-aliased) and of
  the mask (order 0).  Target: >= 150 samples/s on one core (absolute).
- ``SampleCache.get_batch`` of 32 against making the same 32 samples with
  ``load_sample`` (what every epoch costs without the cache).
  Target: >= 2,000 samples/s (absolute).

Both targets are absolute rates, printed in the note; the ``target``
column (a minimum ratio) is left empty for these rows.  Where pylibjpeg is
not installed, pydicom's default plugin for JPEG Baseline is Pillow too, so
the baseline's decoding is as fast as ours and the ratio comes from the rest.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_loading import OUT, loading_fixture
from benchmarks.compare import best_time

BATCH = 32
N_CACHE = 128


def plain_load_sample(path, rles, size: int = OUT) -> tuple[np.ndarray, np.ndarray]:
    """The usual notebook recipe: pydicom default decoding + skimage resize."""
    import pydicom
    from skimage.transform import resize

    from benchmarks.compare_codecs import numpy_split_decode

    pixels = pydicom.dcmread(path).pixel_array
    image = resize(pixels / 255.0, (size, size), anti_aliasing=True).astype(np.float32)
    full = np.zeros(pixels.shape, dtype=np.uint8)
    for rle in rles:
        np.maximum(full, numpy_split_decode(rle, pixels.shape), out=full)
    mask = resize(full, (size, size), order=0, preserve_range=True, anti_aliasing=False)
    return image, mask.astype(np.uint8)


def rows() -> list[dict[str, Any]]:
    import rlemask

    folder = Path(tempfile.mkdtemp(prefix="rlemask-compare-loading-"))
    try:
        path, rles = loading_fixture(folder, n_regions=3)
        image, mask = rlemask.load_sample(path, rles, img_size=OUT)
        base_image, base_mask = plain_load_sample(path, rles)
        # sanity: the two recipes agree on what the sample is
        assert np.abs(image - base_image).mean() < 0.01
        assert np.mean(mask != base_mask) < 0.01

        ours = best_time(lambda: rlemask.load_sample(path, rles, img_size=OUT), repeat=5)
        base = best_time(lambda: plain_load_sample(path, rles), repeat=5)
        # the floor: decoding the bare JPEG frame with Pillow, no DICOM at all
        import io

        import pydicom
        from PIL import Image
        from pydicom.encaps import generate_frames

        frame = next(generate_frames(pydicom.dcmread(path).PixelData, number_of_frames=1))
        floor = best_time(lambda: np.asarray(Image.open(io.BytesIO(frame))), repeat=5)
        read = best_time(lambda: rlemask.read_dicom(path), repeat=5)

        out = [{
            "operation": "read_dicom 1024 JPEG Baseline (pydicom, Pillow plugin)",
            "rlemask_s": read,
            "baseline": "Pillow on the bare JPEG frame (floor)",
            "baseline_s": floor,
            "note": "ratio < 1: the DICOM overhead over the decode itself",
        }, {
            "operation": "load_sample 1024 JPEG -> 256, 3 regions",
            "rlemask_s": ours,
            "baseline": "pydicom default + skimage resize",
            "baseline_s": base,
            "note": f"{1 / ours:.0f} samples/s, target >= 150/s",
        }]

        paths = []
        for i in range(N_CACHE):
            copy = folder / f"img{i:04d}.dcm"
            shutil.copyfile(path, copy)
            paths.append(copy)
        labels = {p.stem: (rles if i % 4 == 0 else []) for i, p in enumerate(paths)}
        cache = rlemask.build_cache(paths, labels, folder / "cache", img_size=OUT,
                                    workers=1, progress=False)
        rng = np.random.default_rng(1234)
        batches = [rng.choice(N_CACHE, BATCH, replace=False) for _ in range(16)]
        state = {"k": 0}

        def read_batch():
            state["k"] = (state["k"] + 1) % len(batches)
            return cache.get_batch(batches[state["k"]])

        def make_batch():
            state["k"] = (state["k"] + 1) % len(batches)
            for i in batches[state["k"]]:
                rlemask.load_sample(paths[i], labels[paths[i].stem], img_size=OUT)

        ours = best_time(read_batch, repeat=5)
        base = best_time(make_batch, repeat=3)
        out.append({
            "operation": "batch of 32 at 256 from the cache",
            "rlemask_s": ours,
            "baseline": "32 x load_sample (no cache)",
            "baseline_s": base,
            "note": f"{BATCH / ours:.0f} samples/s, target >= 2000/s",
        })
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    from benchmarks.compare import table

    print(table(rows()))
