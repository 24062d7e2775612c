"""Tile rows of ``benchmarks/compare.py``: ``TileWriter`` against the dense path.

Target (issue 22): a 30,000 x 30,000 image predicted in 512 x 512 tiles with
64 px overlap is encoded by :class:`rlemask.TileWriter` with a peak memory
under 1 GB beyond the tiles in flight and at least 10x less than the dense
path, and its RLE equals the dense path's exactly.

The dense path is what a user writes without the writer: a full-size float32
map of sums and a uint8 count, every tile added in, the sums divided by the
counts, thresholded and encoded with :func:`rlemask.encode`.  Both paths see
the same probability tiles (a smooth field of blobs plus per-tile noise, so
that overlapping tiles disagree as real predictions do), in
``TileWriter.windows()`` order.

``python -m benchmarks.compare_tiles [--size N]`` runs each path in a fresh
subprocess and reports its time, its peak of traced allocations
(``tracemalloc``: numpy's buffers, i.e. what the path holds beyond the
interpreter) and the process's peak resident memory (``ru_maxrss``), and
checks that the two RLE rows are identical.  ``rows()`` (``make compare``)
does the same at 6,000 x 6,000 in this process.

``python -m benchmarks.compare_tiles --hubmap --size N`` writes
a synthetic HuBMAP TIFF of N x N (:mod:`rlemask.synthetic_kinds`) and runs
the whole tiled path on it in a fresh process: :func:`rlemask.predict_tiled`
(each tile read lazily with :func:`rlemask.read_region`, a colour-rule
"model" on batches of 8, :class:`rlemask.TileWriter`), once on every tile
and once with the glass tiles skipped; then indexes its training windows
with :class:`rlemask.TileDataset` (positives from the label's runs) and
samples some.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TILE, OVERLAP = 512, 64


def probability_tile(window: tuple[int, int, int, int], seed: int = 1234) -> np.ndarray:
    """The model's output over ``window``: smooth blobs (~30 % foreground), tile by tile off.

    Each tile adds its own gentle ramp (+-0.08), so overlapping tiles
    disagree near the blobs' edges as real predictions do, and the blend
    decides; the maps stay smooth, as a model's are (per-pixel noise would
    make the RLE text itself, not the image, the largest thing held).
    """
    y, x, h, w = window
    rows = np.sin((np.arange(y, y + h, dtype=np.float32)) / np.float32(211.0))
    cols = np.sin((np.arange(x, x + w, dtype=np.float32)) / np.float32(157.0))
    field = np.float32(0.35) + np.float32(0.6) * rows[:, None] * cols[None, :]
    a, b, c = np.random.default_rng([seed, y, x]).uniform(-0.04, 0.04, 3).astype(np.float32)
    ramp_y = np.linspace(-1, 1, h, dtype=np.float32)[:, None] * b
    ramp_x = np.linspace(-1, 1, w, dtype=np.float32)[None, :] * c
    return np.clip(field + (a + ramp_y + ramp_x), 0, 1)


def streamed(shape: tuple[int, int]) -> str:
    import rlemask

    writer = rlemask.TileWriter(shape, tile=TILE, overlap=OVERLAP)
    for window in writer.windows():
        writer.add(window, probability_tile(window))
    return writer.finish()


def dense(shape: tuple[int, int]) -> str:
    import rlemask

    total = np.zeros(shape, np.float32)
    count = np.zeros(shape, np.uint8)
    for y, x, h, w in rlemask.tiles(shape, TILE, OVERLAP):
        total[y : y + h, x : x + w] += probability_tile((y, x, h, w))
        count[y : y + h, x : x + w] += 1
    np.divide(total, count, out=total, where=count > 0)
    del count
    mask = total > np.float32(0.5)
    del total
    return rlemask.encode(mask, format="kaggle")


def measure(path: str, size: int) -> dict[str, Any]:
    """Run one path in this process: seconds, traced peak, resident peak, RLE digest."""
    import resource
    import tracemalloc

    import rlemask

    rlemask.warmup()  # compile the kernels before the clock and the tracing start
    fn = streamed if path == "streamed" else dense
    streamed((1100, 700)), dense((1100, 700))  # and the paths' own first calls
    tracemalloc.start()
    start = time.perf_counter()
    rle = fn((size, size))
    seconds = time.perf_counter() - start
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "path": path,
        "seconds": seconds,
        "traced_peak": traced,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rle_sha256": hashlib.sha256(rle.encode()).hexdigest(),
        "rle_chars": len(rle),
    }


def in_subprocess(path: str, size: int, *extra: str) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks.compare_tiles", "--measure", path, "--size", str(size),
         *extra],
        cwd=root, capture_output=True, text=True, check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def colour_model(batch: np.ndarray) -> np.ndarray:
    """The stand-in model: purple (glomeruli) pixels, smoothed by a 5 x 5 mean, per tile."""
    from scipy import ndimage

    purple = (batch[..., 0] > np.float32(135 / 255)) & (batch[..., 1] < np.float32(125 / 255))
    return np.clip(ndimage.uniform_filter(purple.astype(np.float32), (1, 5, 5)), 0, 1)


def glass(tile: np.ndarray) -> bool:
    """Background slide glass (the HuBMAP pipelines' tissue check): nearly white."""
    return bool(tile.mean() > 0.9)


def tiff_pipeline(tiff: Path, skip_glass: bool = False) -> dict[str, Any]:
    """Predict a HuBMAP-like TIFF with :func:`rlemask.predict_tiled` and the colour model.

    Every window is read lazily (:func:`rlemask.read_region`), the model is
    called on batches of 8 tiles (``skip_glass``: not for glass tiles), and
    :class:`rlemask.TileWriter` streams the RLE.  The model's Dice against
    the label is printed, not a target.
    """
    import resource
    import tracemalloc

    import rlemask

    rlemask.warmup()
    shape = rlemask.image_shape(tiff)
    predicted = []

    def model(batch: np.ndarray) -> np.ndarray:
        predicted.append(len(batch))
        return colour_model(batch)

    def run() -> str:
        predicted.clear()
        return rlemask.predict_tiled(tiff, model, tile=TILE, overlap=OVERLAP, channels=3,
                                     batch_size=8, skip=glass if skip_glass else None)

    # timed untraced (tracemalloc slows numpy's allocations several times), then traced
    start = time.perf_counter()
    rle = run()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    run()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    truth = rlemask.read_labels(tiff.parent.parent / "train.csv").objects(tiff.stem, shape=shape)
    pred = rlemask.Runs.from_text(rle, shape, format="kaggle")
    inter = (pred & truth[0]).area if truth else 0
    dice = 2 * inter / max(pred.area + (truth[0].area if truth else 0), 1)
    return {"path": "tiff", "seconds": seconds, "traced_peak": traced,
            "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "dice": dice, "tiles": len(list(rlemask.tiles(shape, TILE, OVERLAP))),
            "predicted": sum(predicted), "calls": len(predicted), "shape": shape}


def tile_dataset(root: Path) -> dict[str, Any]:
    """Index the TIFF's training windows with :class:`rlemask.TileDataset`; sample positives."""
    import tracemalloc

    import rlemask

    data = rlemask.load_dataset(root, root / "train.csv")
    rlemask.TileDataset(data, 2048)  # compile the kernels the index uses
    tracemalloc.start()
    start = time.perf_counter()
    tiles = rlemask.TileDataset(data, TILE)
    index_s = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    positive = np.flatnonzero(tiles.positive().any(axis=1))
    start = time.perf_counter()
    for k in positive[:50]:
        tiles.sample(tiles.ids[k], 256)
    per_sample = (time.perf_counter() - start) / max(1, min(50, len(positive)))
    return {"windows": len(tiles), "positive": len(positive), "index_s": index_s,
            "traced_peak": traced, "sample_s": per_sample}


def rows() -> list[dict[str, Any]]:
    import tracemalloc

    shape = (6000, 6000)
    assert streamed((1100, 700)) == dense((1100, 700))  # compiles both paths, once
    out: dict[str, Any] = {}
    for name, fn in (("streamed", streamed), ("dense", dense)):
        tracemalloc.start()
        start = time.perf_counter()
        out[name] = fn(shape)
        seconds = time.perf_counter() - start
        out[name + "_s"], out[name + "_peak"] = seconds, tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert out["streamed"] == out["dense"]
    return [{
        "operation": "TileWriter 6000^2 in 512 tiles, 64 overlap",
        "rlemask_s": out["streamed_s"],
        "baseline": "dense float32 map + threshold + encode",
        "baseline_s": out["dense_s"],
        "note": (f"peak {out['streamed_peak'] / 2**20:.0f} MB vs {out['dense_peak'] / 2**20:.0f} "
                 f"MB ({out['dense_peak'] / out['streamed_peak']:.1f}x less); same RLE; "
                 "30,000^2: python -m benchmarks.compare_tiles"),
    }]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=30_000)
    parser.add_argument("--measure", choices=("streamed", "dense", "tiff"))
    parser.add_argument("--tiff", help="with --measure tiff: the TIFF to read")
    parser.add_argument("--skip-glass", action="store_true",
                        help="with --measure tiff: skip glass tiles (mean > 0.9)")
    parser.add_argument("--hubmap", action="store_true",
                        help="write a synthetic HuBMAP TIFF of --size and run the tiled "
                        "pipeline on it (read_region per tile, TileWriter)")
    args = parser.parse_args()
    if args.measure == "tiff":
        print(json.dumps(tiff_pipeline(Path(args.tiff), args.skip_glass)))
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.size)))
        return
    if args.hubmap:
        _hubmap(args.size)
        return
    results = [in_subprocess(p, args.size) for p in ("streamed", "dense")]
    s, d = results
    for r in results:
        print(f"{r['path']:>8}: {r['seconds']:7.1f} s, traced peak {r['traced_peak'] / 2**20:8.0f} "
              f"MB, max RSS {r['maxrss'] / 2**20:8.0f} MB, RLE {r['rle_chars']:,} chars")
    same = s["rle_sha256"] == d["rle_sha256"]
    print(f"{args.size} x {args.size} in {TILE} tiles, {OVERLAP} overlap: RLE identical: {same}; "
          f"traced peak {d['traced_peak'] / s['traced_peak']:.1f}x less, "
          f"max RSS {d['maxrss'] / s['maxrss']:.1f}x less; time ratio "
          f"{d['seconds'] / s['seconds']:.2f}")
    if not same:
        raise SystemExit("the streamed RLE differs from the dense path's")


def _hubmap(size: int) -> None:
    import shutil
    import tempfile

    from rlemask.synthetic_kinds import make_kind

    folder = Path(tempfile.mkdtemp(prefix="rlemask-compare-tiles-"))
    try:
        start = time.perf_counter()
        root = make_kind(folder, "hubmap", size=size)
        written = time.perf_counter() - start
        (tiff,) = (root / "train").iterdir()
        print(f"synthetic HuBMAP {size} x {size} TIFF ({tiff.stat().st_size / 2**30:.1f} GB) "
              f"written in {written:.0f} s")
        for extra in ([], ["--skip-glass"]):
            r = in_subprocess("tiff", size, "--tiff", str(tiff), *extra)
            print(f"predict_tiled{' skip=glass' if extra else ''} over {r['tiles']} tiles "
                  f"({r['predicted']} predicted in {r['calls']} calls): {r['seconds']:.1f} s, "
                  f"traced peak {r['traced_peak'] / 2**20:.0f} MB, max RSS "
                  f"{r['maxrss'] / 2**20:.0f} MB, Dice of the colour model against the label "
                  f"{r['dice']:.3f}")
        t = tile_dataset(root)
        print(f"TileDataset({TILE}) index: {t['windows']} windows ({t['positive']} positive) in "
              f"{t['index_s']:.2f} s, traced peak {t['traced_peak'] / 2**20:.0f} MB; a positive "
              f"window sampled at 256 px in {t['sample_s'] * 1e3:.1f} ms")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
