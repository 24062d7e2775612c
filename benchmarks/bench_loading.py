"""asv: loading one training example, and reading batches from the sample cache.

Targets (issue 4): :func:`rlemask.load_sample` from a 1024 x 1024 JPEG-Baseline
DICOM to 256 x 256 with 1-3 regions at >= 150 samples/s on one core, and
batches of 32 from :class:`rlemask.SampleCache` at >= 2,000 samples/s.

The DICOM is written in ``setup`` with pydicom + Pillow: an 8-bit MONOCHROME2
chest-radiograph-like image (smooth body and lung fields, rib-like bands,
mild noise) whose JPEG size, ~150 kB at quality 90, is that of a SIIM file.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import numpy as np

SIZE = 1024
OUT = 256


def make_cxr_pixels(seed: int = 1234, size: int = SIZE) -> np.ndarray:
    """A deterministic chest-X-ray-like uint8 image (size x size)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    body = np.exp(-(((xx - 0.5) / 0.38) ** 6 + ((yy - 0.55) / 0.5) ** 6))
    image = 40 + 150 * body
    for cx in (0.32, 0.68):  # two darker lung fields
        lung = np.exp(-(((xx - cx) / 0.14) ** 4 + ((yy - 0.5) / 0.28) ** 4))
        image -= 70 * lung
    ribs = 0.5 + 0.5 * np.sin(2 * np.pi * (yy * 9 + 0.6 * (xx - 0.5) ** 2 * 9))
    image += 18 * ribs * body
    image += rng.normal(0.0, 2.5, size=(size, size))
    return np.clip(image, 0, 255).astype(np.uint8)


def make_regions(size: int = SIZE) -> list[np.ndarray]:
    """Three pneumothorax-like regions (separate masks, one CSV row each)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    specs = [(0.35, 0.2, 0.18, 0.05), (0.15, 0.7, 0.05, 0.08), (0.6, 0.85, 0.1, 0.03)]
    return [
        (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1).astype(np.uint8)
        for cy, cx, ry, rx in specs
    ]


def write_jpeg_dicom(path: str | Path, pixels: np.ndarray, quality: int = 90) -> Path:
    """``pixels`` (uint8, 2-D) as a JPEG-Baseline 8-bit MONOCHROME2 DICOM file."""
    from PIL import Image
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit, generate_uid

    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="JPEG", quality=quality)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality = "CR"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    path = Path(path)
    ds.save_as(path, enforce_file_format=True)
    return path


def loading_fixture(folder: Path, n_regions: int = 3) -> tuple[Path, list[str]]:
    """The benchmark DICOM in ``folder`` and its RLE rows."""
    import rlemask

    path = write_jpeg_dicom(folder / "cxr.dcm", make_cxr_pixels())
    rles = [rlemask.encode(m) for m in make_regions()[:n_regions]]
    return path, rles


class LoadSampleSuite:
    """One example: DICOM (JPEG Baseline) -> 256 x 256 image + merged mask."""

    params = [1, 3]
    param_names = ["regions"]

    def setup(self, regions):
        import rlemask

        self.tmp = Path(tempfile.mkdtemp())
        self.path, self.rles = loading_fixture(self.tmp, regions)
        rlemask.load_sample(self.path, self.rles, img_size=OUT)  # compile + warm caches

    def teardown(self, regions):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def time_load_sample(self, regions):
        import rlemask

        rlemask.load_sample(self.path, self.rles, img_size=OUT)

    def time_read_dicom(self, regions):
        import rlemask

        rlemask.read_dicom(self.path)

    def peakmem_load_sample(self, regions):
        import rlemask

        rlemask.load_sample(self.path, self.rles, img_size=OUT)


class CacheSuite:
    """Batches of 32 from a 128-sample cache at 256 x 256 (in the page cache).

    The cache stores uint8 images (format 2); ``get_batch`` returns float32
    0..1 by default and the stored bytes with ``dtype=np.uint8``.
    """

    n = 128
    batch = 32

    def setup_cache(self):
        import rlemask

        # asv runs setup_cache in a temporary working folder it removes afterwards
        folder = Path.cwd() / "bench_loading_cache"
        folder.mkdir(exist_ok=True)
        path, rles = loading_fixture(folder)
        paths = []
        for i in range(self.n):  # same pixels, distinct ids
            copy = folder / f"img{i:04d}.dcm"
            shutil.copyfile(path, copy)
            paths.append(copy)
        labels = {p.stem: (rles if i % 4 == 0 else []) for i, p in enumerate(paths)}
        rlemask.build_cache(paths, labels, folder / "cache", img_size=OUT, workers=1,
                            progress=False)
        return str(folder / "cache")

    def setup(self, cache_dir):
        import rlemask

        self.cache = rlemask.SampleCache(cache_dir)
        rng = np.random.default_rng(1234)
        self.batches = [rng.choice(self.n, self.batch, replace=False) for _ in range(16)]
        self.k = 0
        self.cache.get_batch(self.batches[0])

    def time_get_batch_32(self, cache_dir):
        self.k = (self.k + 1) % len(self.batches)
        self.cache.get_batch(self.batches[self.k])

    def time_get_batch_32_uint8(self, cache_dir):
        # the stored 8-bit steps, for pipelines that convert on the accelerator
        self.k = (self.k + 1) % len(self.batches)
        self.cache.get_batch(self.batches[self.k], dtype=np.uint8)

    def time_open_cache(self, cache_dir):
        # the index and its checksum only: opening never reads the arrays
        import rlemask

        rlemask.SampleCache(cache_dir)

    def time_verify(self, cache_dir):
        # every array hashed against the checksums of the build
        self.cache.verify()
