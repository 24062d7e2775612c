"""``rlemask stats`` and ``rlemask cache``, run as a user would (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import rlemask


def _rlemask(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "rlemask", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def siim(tmp_path, make_dicom):
    """A SIIM-like layout: 5 images (2 positive, one with 2 regions), 1 unlabelled, 1 orphan."""
    root = tmp_path / "siim"
    rows = []
    ages = ["058Y", "61", "413", "030Y", "045Y", "070Y"]
    for i in range(6):
        pixels = np.full((32, 32), 40 * i, np.uint8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom: "61" and "413" are odd AS values
            make_dicom(
                root / "dicom-images-train" / f"1.{i}" / f"2.{i}" / f"img{i}.dcm",
                pixels,
                syntax="jpeg" if i % 2 else "explicit",
                PatientAge=ages[i],
                PatientSex="MF"[i % 2],
                ViewPosition="PA" if i < 4 else "AP",
                PixelSpacing=[0.5, 0.5],
            )
    a = np.zeros((32, 32), np.uint8)
    a[0:8, 0:8] = 1  # 64 px = 6.25 %
    b = np.zeros((32, 32), np.uint8)
    b[20:24, 20:24] = 1  # 16 px
    rows = [
        ("img0", rlemask.encode(a)),
        ("img1", rlemask.encode(a)),
        ("img1", rlemask.encode(b)),
        ("img2", "-1"),
        ("img3", "-1"),
        ("img4", "-1"),
        ("orphan", "-1"),
    ]
    (root / "train-rle.csv").write_text(
        "ImageId, EncodedPixels\n" + "".join(f"{i}, {r}\n" for i, r in rows)
    )
    return root


def test_stats_json(siim):
    result = _rlemask("stats", siim, "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["images"] == 6 and stats["labelled"] == 5 and stats["unlabelled"] == 1
    assert stats["positive"] == 2 and stats["negative"] == 3
    assert stats["positive_share"] == pytest.approx(0.4)
    assert stats["regions_per_image"] == {"0": 3, "1": 1, "2": 1}
    assert stats["area_px"]["p0"] == 64 and stats["area_px"]["p100"] == 80
    assert stats["area_percent"]["p0"] == pytest.approx(6.25)
    meta = stats["metadata"]
    assert meta["sex"] == {"F": 3, "M": 3}
    assert meta["view"] == {"PA": 4, "AP": 2}
    assert meta["age"]["known"] == 5 and meta["age"]["unknown"] == 1  # "413" is absurd
    assert meta["age"]["p0"] == 30 and meta["age"]["p100"] == 70
    assert meta["transfer_syntax"] == {"1.2.840.10008.1.2.1": 3, "1.2.840.10008.1.2.4.50": 3}
    assert meta["size"] == {"32x32": 6}
    assert meta["pixel_spacing_mm"]["p50"] == 0.5
    # the warnings about the unlabelled image and the orphan row go to stderr
    assert "1 of 6 images have no row" in result.stderr
    assert "1 of 6 ids in train-rle.csv have no image" in result.stderr


def test_stats_table(siim):
    result = _rlemask("stats", siim)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "images        6" in out
    assert "positive      2  (40.0 % of labelled)" in out
    assert "regions/image 0: 3, 1: 1, 2: 1" in out
    assert "JPEG Baseline" in out and "PA: 4" in out


def test_stats_with_explicit_csv(siim, tmp_path):
    other = tmp_path / "labels.csv"
    other.write_text("ImageId,EncodedPixels\nimg0,-1\nimg1,-1\n")
    result = _rlemask("stats", siim, "--json", "--csv", other)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["labelled"] == 2 and stats["positive"] == 0
    assert stats["area_px"] is None


def test_stats_user_errors_exit_2(tmp_path):
    result = _rlemask("stats", tmp_path)
    assert result.returncode == 2
    assert "rlemask stats: error: No labels CSV" in result.stderr
    assert "Traceback" not in result.stderr
    result = _rlemask("stats", tmp_path / "missing")
    assert result.returncode == 2 and "not a folder" in result.stderr


def test_cache_command_builds_and_reopens(siim, tmp_path):
    out = tmp_path / "cache"
    result = _rlemask("cache", siim, out, "--size", "8", "--workers", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "5 samples at 8x8 (2 positive)" in result.stdout
    cache = rlemask.SampleCache(out)
    with pytest.warns(UserWarning, match="have no"):
        paths, labels = rlemask.load_siim(siim)
    for path in paths:
        if path.stem not in labels:
            continue
        image, mask = rlemask.load_sample(path, labels[path.stem], img_size=8)
        row = cache.index_of(path.stem)
        np.testing.assert_array_equal(cache.images[row], image)
        np.testing.assert_array_equal(cache.masks[row], mask)
    # again: the complete cache is reused; another size needs --overwrite
    assert (
        _rlemask("cache", siim, out, "--size", "8", "--workers", "1", "--no-progress").returncode
        == 0
    )
    result = _rlemask("cache", siim, out, "--size", "16x8", "--workers", "1", "--no-progress")
    assert result.returncode == 2 and "overwrite" in result.stderr
    result = _rlemask(
        "cache", siim, out, "--size", "16x8", "--workers", "1", "--no-progress", "--overwrite"
    )
    assert result.returncode == 0, result.stderr
    assert rlemask.SampleCache(out).img_size == (16, 8)


def test_cache_bad_size(siim, tmp_path):
    result = _rlemask("cache", siim, tmp_path / "c", "--size", "big")
    assert result.returncode == 2 and "--size must be N or HxW" in result.stderr
