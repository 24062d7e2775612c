"""Synthetic label files of the field for the label benchmarks (seeded, written once).

A long-layout file (``id,class,predicted``, three classes per slice, about a
third of the rows non-empty, Kaggle text of 10-400 runs) of any size, and a
Severstal-like wide file (``ImageId_ClassId``, 256 x 1600).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

CLASSES = ("large_bowel", "small_bowel", "stomach")


def _texts(rng: np.random.Generator, n: int, npix: int) -> list[str]:
    """``n`` Kaggle texts of increasing, non-overlapping runs inside ``npix`` pixels."""
    out = []
    for _ in range(n):
        k = int(rng.integers(10, 400))
        gaps = rng.integers(1, max(2, npix // (3 * k)), k)
        lengths = rng.integers(1, max(2, npix // (3 * k)), k)
        starts = np.cumsum(gaps + np.concatenate([[0], lengths[:-1]]))
        out.append(" ".join(f"{s} {n}" for s, n in zip(starts.tolist(), lengths.tolist(),
                                                        strict=True)))
    return out


def _cached(name: str, folder: Path | None, write) -> Path:
    """``folder/name``, holding ``write()``'s text (through a temporary file) if absent."""
    path = Path(folder or tempfile.gettempdir()) / name
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(write())
        tmp.replace(path)
    return path


def long_file(megabytes: float, folder: Path | None = None, seed: int = 1234) -> Path:
    """A long-layout label CSV of about ``megabytes`` MB (cached by size in ``folder``)."""
    return _cached(f"rlemask-bench-long-{megabytes:g}MB-{seed}.csv", folder,
                   lambda: _long_text(megabytes, seed))


def _long_text(megabytes: float, seed: int) -> str:
    rng = np.random.default_rng(seed)
    pool = _texts(rng, 400, 266 * 266)
    target = int(megabytes * 1e6)
    parts = ["id,class,predicted\n"]
    size = len(parts[0])
    s = 0
    while size < target:
        s += 1
        for cls in CLASSES:
            text = pool[int(rng.integers(len(pool)))] if rng.random() < 0.35 else ""
            row = f"case{s // 144}_day{s % 7}_slice_{s % 144:04d},{cls},{text}\n"
            parts.append(row)
            size += len(row)
    return "".join(parts)


def severstal_file(folder: Path | None = None, n_images: int = 200, seed: int = 1234) -> Path:
    """A Severstal v1 file: ``ImageId_ClassId,EncodedPixels``, four rows per image."""
    return _cached(f"rlemask-bench-severstal-{n_images}-{seed}.csv", folder,
                   lambda: _severstal_text(n_images, seed))


def _severstal_text(n_images: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    pool = _texts(rng, 50, 256 * 1600)
    rows = ["ImageId_ClassId,EncodedPixels\n"]
    for i in range(n_images):
        for c in range(1, 5):
            rows.append(f"{i:09x}.jpg_{c},{pool[int(rng.integers(len(pool)))]}\n")
    return "".join(rows)
