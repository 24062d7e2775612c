"""Loading rows of ``benchmarks/compare.py``: one example, and batches from the cache.

- ``load_sample`` (1024 x 1024 JPEG-Baseline DICOM, 3 regions -> 256 x 256)
  against the plain recipe of public notebooks: ``pydicom.dcmread(path).pixel_array``
  (pydicom's default plugin selection), the common ``split`` RLE decoder per
  row, and ``skimage.transform.resize`` of the image (anti-aliased) and of
  the mask (order 0).  Target: >= 150 samples/s on one core (absolute).
- ``SampleCache.get_batch`` of 32 against making the same 32 samples with
  ``load_sample`` (what every epoch costs without the cache).
  Target: >= 2,000 samples/s (absolute).

- ``SampleCache.get_batch`` as the stored uint8 against the float32 it
  returns by default (the look-up that turns 8-bit steps into ``k / 255``).
- ``SampleCache.verify`` (every array hashed) against opening the cache
  (the index's own checksum only).

Both targets are absolute rates, printed in the note; the ``target``
column (a minimum ratio) is left empty for these rows.

``python -m benchmarks.compare_loading --scaling`` times building one cache
three ways on the same images -- in this process, a spawn process pool, and
a Dask ``LocalCluster`` of worker processes -- for ``docs/scaling.md``.  It
is not part of ``make compare``: starting a cluster takes seconds.  Where pylibjpeg is
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

        def read_batch_u8():
            state["k"] = (state["k"] + 1) % len(batches)
            return cache.get_batch(batches[state["k"]], dtype=np.uint8)

        ours = best_time(read_batch, repeat=5)
        base = best_time(make_batch, repeat=3)
        raw = best_time(read_batch_u8, repeat=5)
        out.append({
            "operation": "batch of 32 at 256 from the cache",
            "rlemask_s": ours,
            "baseline": "32 x load_sample (no cache)",
            "baseline_s": base,
            "note": f"{BATCH / ours:.0f} samples/s, target >= 2000/s",
        })
        out.append({
            "operation": "batch of 32 from the cache as stored (uint8)",
            "rlemask_s": raw,
            "baseline": "the same batch as float32 0..1 (default)",
            "baseline_s": ours,
            "note": f"{BATCH / raw:.0f} samples/s; images on disk: 1 byte per pixel",
        })
        opened = best_time(lambda: rlemask.SampleCache(folder / "cache"), repeat=5)
        verified = best_time(cache.verify, repeat=3)
        size_mb = sum((folder / "cache" / n).stat().st_size for n in ("images.npy", "masks.npy"))
        out.append({
            "operation": f"open a {N_CACHE}-sample cache (index checksum)",
            "rlemask_s": opened,
            "baseline": "SampleCache.verify (hash every array)",
            "baseline_s": verified,
            "note": f"verify reads {size_mb / verified / 1e6:.0f} MB/s",
        })
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scaling_rows(n_images: int = 256, workers: int = 2) -> list[dict[str, Any]]:
    """One cache built in-process, with a process pool and on a Dask LocalCluster.

    Start-up (spawning the pool's workers, starting the cluster) is timed
    apart from the build itself; every build makes the same bytes (checked).
    """
    import time

    import rlemask
    from rlemask import cache as cache_module

    folder = Path(tempfile.mkdtemp(prefix="rlemask-compare-scaling-"))
    try:
        path, rles = loading_fixture(folder, n_regions=3)
        paths = []
        for i in range(n_images):
            copy = folder / f"img{i:04d}.dcm"
            shutil.copyfile(path, copy)
            paths.append(copy)
        labels = {p.stem: (rles if i % 4 == 0 else []) for i, p in enumerate(paths)}
        rlemask.load_sample(path, rles, img_size=OUT)  # numba's cache, warm for everyone

        def build(name: str, **kwargs: Any) -> float:
            start = time.perf_counter()
            rlemask.build_cache(paths, labels, folder / name, img_size=OUT, progress=False,
                                **kwargs)
            return time.perf_counter() - start

        local = build("local", workers=1)
        cache_module._MIN_ITEMS_PER_WORKER = 1  # use the pool whatever n_images is
        pool = build("pool", workers=workers)  # spawning included: a pool per build

        from distributed import Client, LocalCluster

        start = time.perf_counter()
        with (
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         dashboard_address=None, silence_logs=50) as cluster,
            Client(cluster) as client,
        ):
            # each worker imports rlemask and loads the kernels once, as the pool's do
            client.run(rlemask.load_sample, str(path), rles, img_size=OUT)
            startup = time.perf_counter() - start
            dask = build("dask", client=client)
        for name in ("pool", "dask"):
            for array in ("images.npy", "masks.npy"):
                ours = (folder / name / array).read_bytes()
                assert ours == (folder / "local" / array).read_bytes(), f"{name}: other bytes"
        note = f"{n_images} JPEG 1024 -> {OUT}, {workers} workers"
        return [{
            "operation": "build_cache, process pool (spawn start-up included)",
            "rlemask_s": pool, "baseline": "build_cache in one process",
            "baseline_s": local, "note": note,
        }, {
            "operation": f"build_cache on a Dask LocalCluster (start-up {startup:.1f} s apart)",
            "rlemask_s": dask, "baseline": "build_cache in one process",
            "baseline_s": local, "note": note,
        }]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    import sys

    from benchmarks.compare import table

    print(table(scaling_rows() if "--scaling" in sys.argv else rows()))
