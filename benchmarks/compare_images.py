"""Image rows of ``benchmarks/compare.py``: ``rlemask.read_image`` at full and quarter size.

Targets (issue 22): ``read_image`` at full size no slower than
``skimage.io.imread`` of the same file (ratio >= 1), and a quarter-size sample
(what 256 px from 1024 needs) at least 2x faster than ``imread`` + resize
(ratio >= 2), on a 1600 x 256 Severstal JPEG, a 768 x 768 Airbus JPEG and a
1024 x 1024 JPEG-Baseline DICOM (SIIM).

The baselines are what a loader without rlemask does: ``skimage.io.imread``
(Pillow underneath) and ``skimage.transform.resize(..., anti_aliasing=True)``;
for the DICOM, ``pydicom.dcmread(path).pixel_array`` (skimage cannot read
DICOM) and the same resize.  rlemask's quarter-size read asks the JPEG
decoder for 1/4 scale (Pillow ``draft``), so the full image is never decoded.

A third row per file compares the reduced read with the fastest resize after
a full decode (``rlemask.resize_image``, a numba area mean): what the
decoder's scaling itself saves.

``python -m benchmarks.compare_images`` prints the rows alone.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_loading import make_cxr_pixels, write_jpeg_dicom
from benchmarks.compare import best_time


def image_files(folder: Path) -> dict[str, Path]:
    """One Severstal strip, one Airbus tile and one SIIM-like DICOM under ``folder``."""
    from rlemask.synthetic_kinds import LAYOUTS, make_kind

    out = {}
    for kind in ("severstal", "airbus"):
        root = make_kind(folder / kind, kind, n_images=1, positive_fraction=1.0, seed=1)
        out[kind] = next((root / LAYOUTS[kind]["images"]).iterdir())
    out["siim"] = write_jpeg_dicom(folder / "cxr.dcm", make_cxr_pixels())
    return out


def _baseline_read(path: Path):
    if path.suffix == ".dcm":
        import pydicom

        return lambda: pydicom.dcmread(path).pixel_array
    from skimage.io import imread

    return lambda: imread(path)


def rows() -> list[dict[str, Any]]:
    from skimage.transform import resize

    import rlemask

    folder = Path(tempfile.mkdtemp(prefix="rlemask-compare-images-"))
    out = []
    try:
        for kind, path in image_files(folder).items():
            h, w = rlemask.image_shape(path)
            label = f"{kind} {w}x{h} {'DICOM' if kind == 'siim' else 'JPEG'}"
            base_read = _baseline_read(path)
            channels = 1 if kind == "siim" else 3  # imread of a JPEG returns its RGB
            full = best_time(lambda p=path, c=channels: rlemask.read_image(p, channels=c))
            base_full = best_time(base_read)
            quarter = (-(-h // 4), -(-w // 4))
            small = best_time(lambda p=path: rlemask.read_image(p, reduce=4))

            def base_small(read=base_read, shape=quarter):
                image = read().astype(np.float32) / np.float32(255)
                if image.ndim == 3:  # a grey sample, as the model is fed
                    image = image.mean(axis=2)
                return resize(image, shape, anti_aliasing=True)

            base_quarter = best_time(base_small)

            def fast_small(p=path, shape=quarter):
                return rlemask.resize_image(rlemask.read_image(p), shape, method="area")

            base_fast = best_time(fast_small)
            ours = rlemask.read_image(path, reduce=4).astype(float) / 255
            assert ours.shape == quarter and np.abs(ours - base_small()).mean() < 0.02
            out.append({
                "operation": f"read_image {label}",
                "rlemask_s": full,
                "baseline": "pydicom pixel_array" if kind == "siim" else "skimage.io.imread",
                "baseline_s": base_full,
                # skimage cannot read DICOM: that row is read_dicom's checks over pydicom's
                **({"note": "read_dicom validates header, size and values"} if kind == "siim"
                   else {"target": 1.0}),
            })
            out.append({
                "operation": f"read_image {label}, reduce=4",
                "rlemask_s": small,
                "baseline": "the full read + skimage resize (anti-aliased)",
                "baseline_s": base_quarter,
                "target": 2.0,
                "note": "the JPEG decoder scales by 1/4 (Pillow draft)",
            })
            out.append({
                "operation": f"read_image {label}, reduce=4",
                "rlemask_s": small,
                "baseline": "read_image at full size + resize_image (area, numba)",
                "baseline_s": base_fast,
                "note": "the fastest resize after a full decode: what draft mode saves",
            })
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


if __name__ == "__main__":
    for row in rows():
        ratio = row["baseline_s"] / row["rlemask_s"]
        print(f"{row['operation']:<46} {1e3 * row['rlemask_s']:8.2f} ms  vs "
              f"{1e3 * row['baseline_s']:8.2f} ms ({row['baseline']})  {ratio:5.1f}x "
              f"(target {row.get('target', 0):g}x)")
