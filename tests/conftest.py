"""Shared fixtures.  Hypothesis profiles: ``ci`` (default) and ``dev`` (more examples)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,  # numba compiles on first call; timing is for asv, not tests
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=1000)
settings.register_profile("nojit", parent=settings.get_profile("ci"), max_examples=25)
settings.load_profile(
    os.environ.get(
        "HYPOTHESIS_PROFILE", "nojit" if os.environ.get("NUMBA_DISABLE_JIT") == "1" else "ci"
    )
)


# --- DICOM files written by the tests (helper C: dicom, datasets, sample, cache) -------------


def write_test_dicom(
    path,
    pixels,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    syntax: str = "explicit",
    jpeg_quality: int = 95,
    **tags,
):
    """Write ``pixels`` as a DICOM file with pydicom and return its path.

    ``syntax``: ``"explicit"`` / ``"implicit"`` (uncompressed little endian),
    ``"rle"`` (RLE Lossless, pydicom's encoder) or ``"jpeg"`` (JPEG Baseline,
    8-bit, encoded with Pillow and encapsulated).  ``pixels`` shape (H, W),
    (H, W, 3) or (frames, H, W); extra keyword arguments become tags.
    """
    import io
    from pathlib import Path

    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        JPEGBaseline8Bit,
        RLELossless,
        generate_uid,
    )

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.asarray(pixels)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality = "CR"
    if syntax == "jpeg":
        from PIL import Image

        if pixels.dtype != np.uint8:
            raise ValueError("JPEG Baseline test files are 8-bit")
        frames = pixels[None] if pixels.ndim == 2 else pixels
        blobs = []
        for frame in frames:
            buf = io.BytesIO()
            Image.fromarray(frame, mode="L").save(buf, format="JPEG", quality=jpeg_quality)
            blobs.append(buf.getvalue())
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.Rows, ds.Columns = frames.shape[1:3]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        if len(frames) > 1:
            ds.NumberOfFrames = len(frames)
        ds.PixelData = encapsulate(blobs)
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
    else:
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if syntax == "implicit" else ExplicitVRLittleEndian
        )
        if bits_stored is None:
            bits_stored = pixels.dtype.itemsize * 8
        ds.set_pixel_data(pixels, photometric, bits_stored)
        if syntax == "rle":
            ds.compress(RLELossless)
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def make_dicom():
    """The :func:`write_test_dicom` function, as a fixture."""
    return write_test_dicom


@pytest.fixture
def box_rle():
    """``box_rle(shape, (r0, r1, c0, c1), ...)``: the siim RLE of a mask of filled boxes."""
    import numpy as np

    import rlemask

    def make(shape, *boxes):
        mask = np.zeros(shape, np.uint8)
        for r0, r1, c0, c1 in boxes:
            mask[r0:r1, c0:c1] = 1
        return rlemask.encode(mask)

    return make


# --- synthetic SIIM-like data sets (helper D: rlemask.synthetic) ------------------------------
# Session-scoped: written once per test run into a temporary folder.  Both return the data-set
# root (a Path) holding ``dicom-images-train/<study>/<series>/<id>.dcm`` and ``train-rle.csv``.
# Read-only for tests: copy the folder (shutil.copytree) before changing anything in it.

SYNTHETIC_SEED = 0


@pytest.fixture(scope="session")
def synthetic_siim(tmp_path_factory):
    """24 images at 1024 x 1024 (the real SIIM size), 6 positive (1-3 regions), seed 0.

    About 2-3 s to write.  Positives: regions 1, 2, 1, 1, 3, 1 in file order.
    """
    from rlemask.synthetic import make_dataset

    return make_dataset(tmp_path_factory.mktemp("synthetic_siim"), 24, size=1024,
                        positive_fraction=0.25, seed=SYNTHETIC_SEED)


@pytest.fixture(scope="session")
def synthetic_siim_small(tmp_path_factory):
    """16 images at 256 x 256, 8 positive (regions 1, 2, 1, 1, 3, 1, 2, 1), seed 0 (~0.3 s)."""
    from rlemask.synthetic import make_dataset

    return make_dataset(tmp_path_factory.mktemp("synthetic_siim_small"), 16, size=256,
                        positive_fraction=0.5, seed=SYNTHETIC_SEED)


# --- Keras backend (helper E: rlemask_keras on TensorFlow, JAX, PyTorch) ----------------------
# `pytest --keras-backend=jax ...` or `KERAS_BACKEND=jax pytest ...`: Keras reads the variable
# once, when first imported, so the option sets it here, before any test module imports Keras.
# Tests of a backend-only feature carry `@pytest.mark.backends("tensorflow")` and are skipped on
# the others.

KERAS_BACKENDS = ("tensorflow", "jax", "torch")


def pytest_addoption(parser):
    parser.addoption(
        "--keras-backend",
        choices=KERAS_BACKENDS,
        default=None,
        help="Keras 3 backend for the adapter's tests (default: $KERAS_BACKEND, else tensorflow)",
    )


def _share_jax_compilations(config):
    """One JAX compilation cache for the whole test session, its fresh processes included.

    JAX compiles every op for every new shape, weight initialisers too, and a fresh process
    starts with nothing: building a tiny U-Net took 10 s of compiling in each of them.  The
    cache holds compiled XLA code keyed by the program, so results do not change; it starts
    empty in each session (a temporary folder, removed at the end), so no run leans on
    another's, and what each fresh process must register or load is still its own work.
    A cache the caller chose (``JAX_COMPILATION_CACHE_DIR``) is left as it is.
    """
    import shutil
    import tempfile

    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    folder = tempfile.mkdtemp(prefix="rlemask-tests-jax-cache-")
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    # by default JAX keeps only compilations of over a second; the tests' are many small ones
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


def pytest_configure(config):
    import sys

    config.addinivalue_line(
        "markers", "backends(*names): run only on these Keras backends (tensorflow, jax, torch)"
    )
    _share_jax_compilations(config)
    backend = config.getoption("--keras-backend")
    if backend is None:
        return
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != backend:
        raise pytest.UsageError(
            f"--keras-backend={backend}: Keras was imported before the tests started, "
            f"on {keras_backend()}; set KERAS_BACKEND={backend} instead"
        )
    os.environ["KERAS_BACKEND"] = backend


def keras_backend() -> str:
    """The backend the tests run on, without importing Keras."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def pytest_report_header(config):
    return f"keras backend: {keras_backend()}"


def pytest_collection_modifyitems(config, items):
    backend = keras_backend()
    for item in items:
        marker = item.get_closest_marker("backends")
        if marker is not None and backend not in marker.args:
            item.add_marker(
                pytest.mark.skip(reason=f"needs Keras on {' or '.join(marker.args)}, not {backend}")
            )


def run_fresh_python(script: str, *args, timeout: float = 300):
    """Run ``script`` in a new Python process on the tests' Keras backend; returns its stdout.

    Fails the test with the end of stderr when the process does not exit with 0.
    """
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "KERAS_BACKEND": keras_backend()},
    )
    if done.returncode != 0:
        pytest.fail(f"fresh process exited with {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def run_rlemask(*args, cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m rlemask ARGS`` in a new process, as a user runs it (output as text).

    The tests of the commands call it (``from conftest import run_rlemask``).
    """
    return subprocess.run(
        [sys.executable, "-m", "rlemask", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def fresh_python():
    """:func:`run_fresh_python`, as a fixture."""
    return run_fresh_python


# --- real public files of the field (../shared/real, never copied into the project) ----------

#: ``shared/real`` beside the checkout (CI has it there too); ``RLEMASK_REAL`` overrides.
REAL_DIR = Path(
    os.environ.get("RLEMASK_REAL", Path(__file__).resolve().parents[2] / "shared" / "real")
)


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """The folder of real competition files; the test skips, saying where it looked, if absent."""
    if not REAL_DIR.is_dir():
        pytest.skip(f"real files not found at {REAL_DIR} (set RLEMASK_REAL)")
    return REAL_DIR
