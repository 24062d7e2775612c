"""``rlemask stats`` and ``rlemask cache``, run as a user would (subprocess)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import run_rlemask

import rlemask


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
    result = run_rlemask("stats", siim, "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["images"] == 6 and stats["labelled"] == 5 and stats["unlabelled"] == 1
    assert stats["positive"] == 2 and stats["negative"] == 3
    assert stats["positive_share"] == pytest.approx(0.4)
    # img1 has 2 RLE rows and 2 separate connected regions; img0 one of each
    assert stats["rle_rows_per_image"] == {"0": 3, "1": 1, "2": 1}
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
    # the warnings about the unlabelled image and the orphan row go to stderr,
    # one readable line each: no source path, no warning class (issue 9)
    assert "1 of 6 images have no row" in result.stderr
    assert "1 of 6 ids in train-rle.csv have no image" in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("rlemask stats: warning: ") for line in lines)
    assert "UserWarning" not in result.stderr and ".py:" not in result.stderr


def test_stats_counts_rows_and_connected_regions_apart(tmp_path, make_dicom, box_rle):
    from functools import partial

    from rlemask.cli.stats import compute_stats

    rle = partial(box_rle, (32, 32))

    labels = {
        "overlapping_rows": [rle((2, 10, 2, 10)), rle((6, 14, 6, 14))],  # 2 rows, 1 region
        "two_blobs": [rle((2, 6, 2, 6), (20, 26, 20, 26))],  # 1 row, 2 regions
        "empty": [],
    }
    paths = [make_dicom(tmp_path / f"{k}.dcm", np.zeros((32, 32), np.uint8)) for k in labels]
    stats = compute_stats(paths, labels, data=tmp_path, labels_csv="x.csv")
    assert stats["rle_rows_per_image"] == {"0": 1, "1": 1, "2": 1}
    assert stats["regions_per_image"] == {"0": 1, "1": 1, "2": 1}
    one = compute_stats(paths[:1], {"overlapping_rows": labels["overlapping_rows"]},
                        data=tmp_path, labels_csv="x.csv")
    assert one["rle_rows_per_image"] == {"2": 1} and one["regions_per_image"] == {"1": 1}


def test_stats_table(siim):
    result = run_rlemask("stats", siim)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "images        6" in out
    assert "positive      2  (40.0 % of labelled)" in out
    assert "RLE rows      0: 3, 1: 1, 2: 1  (images by non-empty rows)" in out
    assert "regions       0: 3, 1: 1, 2: 1  (images by connected regions" in out
    assert "JPEG Baseline" in out and "PA: 4" in out
    # stderr is a pipe here: the progress report is plain lines, never tqdm's \r redraws
    assert "\r" not in result.stderr and "headers: 6/6 img (100%" in result.stderr


def test_stats_of_a_labels_csv_alone(siim, tmp_path):
    """Issue 19.21: `rlemask stats labels.csv` printed zeros (no images to size the masks)."""
    alone = tmp_path / "labels.csv"
    alone.write_bytes((siim / "train-rle.csv").read_bytes())
    result = run_rlemask("stats", alone, "--json", "--shape", 32, 32)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["images"] == 0 and stats["labelled"] == 6 and stats["positive"] == 2
    assert stats["regions_per_image"] == {"0": 4, "1": 1, "2": 1}
    assert stats["area_px"]["p0"] == 64 and stats["area_px"]["p100"] == 80
    assert stats["areas_at"] == {"header_size": 0, "32x32": 2}
    table = run_rlemask("stats", alone, "--shape", 32, 32)
    assert "2 positive images read at 32x32 (no image header" in table.stdout
    # without --shape: SIIM's 1024 x 1024, said in the output
    default = json.loads(run_rlemask("stats", alone, "--json").stdout)
    assert default["areas_at"] == {"header_size": 0, "1024x1024": 2}
    assert default["area_percent"]["p0"] == pytest.approx(100 * 64 / 1024**2)


def test_stats_with_explicit_csv(siim, tmp_path):
    other = tmp_path / "labels.csv"
    other.write_text("ImageId,EncodedPixels\nimg0,-1\nimg1,-1\n")
    result = run_rlemask("stats", siim, "--json", "--csv", other)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["labelled"] == 2 and stats["positive"] == 0
    assert stats["area_px"] is None


def test_stats_user_errors_exit_2(tmp_path):
    result = run_rlemask("stats", tmp_path)
    assert result.returncode == 2
    # the command speaks in its arguments and flags, not Python parameters (issue 9)
    assert result.stderr.startswith("rlemask stats: error: no labels CSV")
    # any kind of data set: the general flag (a SIIM folder's --csv still works)
    assert "name it with --labels CSV" in result.stderr and "csv=" not in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    result = run_rlemask("stats", tmp_path / "missing")
    assert result.returncode == 2
    assert f"DATA {str(tmp_path / 'missing')!r} is not a folder" in result.stderr
    assert "parameter" not in result.stderr
    result = run_rlemask("stats", tmp_path, "--csv", tmp_path / "nope.csv")
    assert result.returncode == 2 and "--csv" in result.stderr and "not a file" in result.stderr


def test_cache_command_builds_and_reopens(siim, tmp_path):
    out = tmp_path / "cache"
    result = run_rlemask("cache", siim, out, "--size", "8", "--workers", "1", "--no-progress")
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
        np.testing.assert_array_equal(cache[row][0], image)
        np.testing.assert_array_equal(cache[row][1], mask)
    # again: the complete cache is reused; another size needs --overwrite
    assert (
        run_rlemask("cache", siim, out, "--size", "8", "--workers", "1", "--no-progress").returncode
        == 0
    )
    result = run_rlemask("cache", siim, out, "--size", "16x8", "--workers", "1", "--no-progress")
    assert result.returncode == 2 and "add --overwrite to replace it" in result.stderr
    assert "overwrite=True" not in result.stderr
    result = run_rlemask(
        "cache", siim, out, "--size", "16x8", "--workers", "1", "--no-progress", "--overwrite"
    )
    assert result.returncode == 0, result.stderr
    assert rlemask.SampleCache(out).img_size == (16, 8)


def test_cache_bad_size(siim, tmp_path):
    result = run_rlemask("cache", siim, tmp_path / "c", "--size", "big")
    assert result.returncode == 2 and "--size must be N or HxW" in result.stderr


def test_cache_verify_and_dask_scheduler(siim, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "cache"
    result = run_rlemask("cache", siim, out, "--size", "8", "--no-progress",
                         "--scheduler", "local", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "5 samples at 8x8 (2 positive)" in result.stdout
    assert "distributed." not in result.stderr  # no log lines of Dask's
    # the same bytes as a build in one process
    local = tmp_path / "local"
    assert run_rlemask("cache", siim, local, "--size", "8", "--workers", "1",
                       "--no-progress").returncode == 0
    for name in ("images.npy", "masks.npy"):
        assert (out / name).read_bytes() == (local / name).read_bytes()

    result = run_rlemask("cache", "--verify", out)
    assert result.returncode == 0, result.stderr
    assert "every array matches its checksum" in result.stdout
    data = bytearray((out / "images.npy").read_bytes())
    data[-1] ^= 0x10
    (out / "images.npy").write_bytes(bytes(data))
    result = run_rlemask("cache", "--verify", out)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "images.npy: checksum mismatch" in result.stderr
