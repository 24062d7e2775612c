"""``rlemask cache`` and ``rlemask plot`` on a data set of another kind, run as a user would."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_rlemask
from PIL import Image

import rlemask


@pytest.fixture
def steel(tmp_path):
    """Severstal's layout: train_images/*.jpg, train.csv (ImageId_ClassId), 4 classes."""
    import reference_rle as ref

    root = tmp_path / "steel"
    rows = ["ImageId_ClassId,EncodedPixels"]
    rng = np.random.default_rng(0)
    for k, name in enumerate(["0002cc93b.jpg", "0007a71bf.jpg", "000a4bcdd.jpg"]):
        (root / "train_images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (16, 80)).astype(np.uint8)).save(
            root / "train_images" / name)
        for c in range(1, 5):
            mask = np.zeros((16, 80), np.uint8)
            if c in (1 + k, 4):
                mask[2:10, 8 * c : 8 * c + 16] = 1
            rows.append(f"{name}_{c},{ref.kaggle_encode(mask) if mask.any() else ''}")
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    return root


def test_cache_and_plot_a_multi_class_data_set(steel, tmp_path):
    out = tmp_path / "cache"
    result = run_rlemask("cache", steel, out, "--size", "8x40", "--workers", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{out}: 3 samples at 8x40 (3 positive, 1: 1, 2: 1, 3: 1, 4: 3)"
    cache = rlemask.SampleCache(out)
    data = rlemask.load_dataset(steel, steel / "train.csv")
    assert cache.ids == list(data.ids) and cache.masks.shape == (3, 8, 40, 4)
    for row, image_id in enumerate(cache.ids):
        image, mask = data.sample(image_id, (8, 40))
        np.testing.assert_array_equal(cache[row][0], image)
        np.testing.assert_array_equal(cache[row][1], mask)

    png = tmp_path / "one.png"
    result = run_rlemask("plot", steel, "0007a71bf.jpg", "-o", png)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {png} (0007a71bf.jpg: 2 RLE rows (classes 2, 4))\n"
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cache_on_error_skip_lists_the_corrupt_file(steel, tmp_path):
    (steel / "train_images" / "0007a71bf.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "cache"
    args = ("cache", steel, out, "--size", "8x40", "--workers", "1", "--no-progress",
            "--labels", steel / "train.csv")
    result = run_rlemask(*args)
    assert result.returncode == 2 and "0007a71bf.jpg" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_rlemask(*args, "--on-error", "skip")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("2 samples at 8x40 (2 positive, 1: 1, 2: 0, 3: 1, 4: 2); "
                             "1 skipped (unreadable):")
    assert lines[1].startswith("  skipped 0007a71bf.jpg: ") and "ImageError" in lines[1]
    cache = rlemask.SampleCache(out)
    assert [s["id"] for s in cache.skipped] == ["0007a71bf.jpg"]
    assert cache.ids == ["0002cc93b.jpg", "000a4bcdd.jpg"]


def test_synth_cache_plot_of_uw_madison_slices(tmp_path):
    """synth --kind uw-madison, then cache (pad) and plot, with no flag about the layout."""
    data_dir, out = tmp_path / "uw", tmp_path / "cache"
    result = run_rlemask("synth", data_dir, "--kind", "uw-madison", "--images", "2", "--depth", "2")
    assert result.returncode == 0, result.stderr
    result = run_rlemask("cache", data_dir, out, "--size", "32", "--policy", "pad",
                         "--workers", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "4 samples at " in result.stdout and "large_bowel: " in result.stdout
    cache = rlemask.SampleCache(out)
    assert cache.classes == ("large_bowel", "small_bowel", "stomach") and cache.policy == "pad"
    data = rlemask.load_dataset(data_dir, data_dir / "train.csv")
    for row, image_id in enumerate(cache.ids):
        _, mask = data.sample(image_id)
        np.testing.assert_array_equal(cache.layout(row).to_image(cache.masks[row]), mask)
    result = run_rlemask("plot", data_dir, "--overview", "--samples", "2", "-o", tmp_path / "o.png")
    assert result.returncode == 0 and "overview of 4 images" in result.stdout, result.stderr
