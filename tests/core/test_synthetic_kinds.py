"""make_kind and `rlemask synth --kind`: each layout, labels at each image's own shape."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

import rlemask
from rlemask.synthetic_kinds import (
    UW_CLASSES,
    airbus_case,
    hubmap_mask_tile,
    hubmap_plan,
    make_kind,
    severstal_case,
    uw_volume,
)

HEX9 = re.compile(r"^[0-9a-f]{9}$")


def header_and_rows(path):
    lines = path.read_text().split("\n")
    assert lines[-1] == "" and "\r" not in path.read_text()  # one \n per row, none inside
    return lines[0], [line.split(",") for line in lines[1:-1]]


@pytest.fixture(scope="module")
def severstal(tmp_path_factory):
    return make_kind(tmp_path_factory.mktemp("sev"), "severstal", n_images=4, seed=2)


@pytest.fixture(scope="module")
def airbus(tmp_path_factory):
    return make_kind(tmp_path_factory.mktemp("air"), "airbus", n_images=4, seed=1,
                     positive_fraction=0.5)


@pytest.fixture(scope="module")
def uw(tmp_path_factory):
    return make_kind(tmp_path_factory.mktemp("uw"), "uw-madison", n_images=2, depth=6, seed=0)


def test_severstal_layout_and_labels(severstal):
    images = sorted((severstal / "train_images").iterdir())
    assert len(images) == 4 and all(HEX9.match(p.stem) and p.suffix == ".jpg" for p in images)
    header, rows = header_and_rows(severstal / "train.csv")
    assert header == "ImageId_ClassId,EncodedPixels"
    assert len(rows) == 16  # v1: four rows per image, blank when empty
    names = [p.name for p in images]
    expected = {f"{n}_{c}" for n in names for c in range(1, 5)}
    assert {r[0] for r in rows} == expected
    assert any(r[1] == "" for r in rows) and any(r[1] for r in rows)
    labels = rlemask.read_labels(severstal / "train.csv")
    assert labels.classes == ("1", "2", "3", "4")
    assert sorted(labels.ids) == names  # ids keep ".jpg": they are the file names
    order = [r[0].rsplit("_", 1)[0] for r in rows[::4]]
    for i, name in enumerate(order):
        shape = rlemask.image_shape(severstal / "train_images" / name)
        assert shape == (256, 1600)
        assert rlemask.read_image(severstal / "train_images" / name, channels=3).shape[2] == 3
        _, truth = severstal_case(2, i, shape)
        assert np.array_equal(labels.masks(name, shape=shape), truth)
        assert truth.sum(axis=0).max() <= 1  # classes never overlap


def test_airbus_layout_and_ships(airbus):
    images = sorted((airbus / "train_v2").iterdir())
    assert len(images) == 4 and all(HEX9.match(p.stem) for p in images)
    header, rows = header_and_rows(airbus / "train_ship_segmentations_v2.csv")
    assert header == "ImageId,EncodedPixels"
    labels = rlemask.read_labels(airbus / "train_ship_segmentations_v2.csv")
    by_id: dict[str, int] = {}
    for image_id, rle in rows:
        by_id.setdefault(image_id, 0)
        by_id[image_id] += rle != ""
    assert sum(n > 0 for n in by_id.values()) == 2  # round(4 * 0.5) images with ships
    blank = [r for r in rows if r[1] == ""]
    assert all(by_id[r[0]] == 0 for r in blank)  # one blank row only for an image with none
    assert len(blank) == 2 and len({r[0] for r in blank}) == 2
    seen = [r[0] for r in rows]
    for i, name in enumerate(dict.fromkeys(seen)):
        shape = rlemask.image_shape(airbus / "train_v2" / name)
        assert shape == (768, 768)
        ships = labels.objects(name, shape=shape)
        _, truth = airbus_case(1, i, shape, positive=by_id[name] > 0)
        assert [s.to_mask().tolist() for s in ships] == [t.tolist() for t in truth]
        union = sum(t.astype(int) for t in truth) if truth else np.zeros(shape, int)
        assert union.max() <= 1  # no overlap
        _, n = ndimage.label(union > 0, structure=np.ones((3, 3)))
        assert n == len(truth)  # and no two ships touch


def test_uw_madison_layout_and_volumes(uw):
    header, rows = header_and_rows(uw / "train.csv")
    assert header == "id,class,segmentation"
    pngs = sorted((uw / "train").rglob("*.png"))
    assert len(pngs) == 12 and len(rows) == 36  # 2 volumes x 6 slices, 3 classes each
    pattern = re.compile(r"train/(case\d+)/(\1_day\d+)/scans/slice_(\d{4})_(\d+)_(\d+)_1\.50_1\.50")
    labels = rlemask.read_labels(uw / "train.csv")
    assert labels.classes == UW_CLASSES
    shapes = set()
    for path in pngs:
        m = pattern.search(path.relative_to(uw).as_posix())
        assert m, path
        width, height = int(m[4]), int(m[5])
        assert rlemask.image_shape(path) == (height, width)  # W then H in the name
        image = rlemask.read_image(path, dtype=np.float32)
        assert image.max() < 0.3  # 16-bit MRI values scaled by the bit depth, not stretched
        shapes.add((height, width))
        image_id = f"{m[2]}_slice_{m[3]}"
        assert [r[1] for r in rows if r[0] == image_id] == list(UW_CLASSES)
    assert len(shapes) == 2  # sizes vary by case, non-square included
    for v, (case_day, shape) in enumerate(sorted(
        {(p.parent.parent.name, rlemask.image_shape(p)) for p in pngs}
    )):
        _, truth = uw_volume(0, v, shape, 6)
        got = np.stack([labels.masks(f"{case_day}_slice_{k + 1:04d}", shape=shape)
                        for k in range(6)])
        assert np.array_equal(got, truth)
        present = truth.any(axis=(2, 3))  # (slices, classes)
        assert (present.sum(axis=0) >= 2).all()  # each organ spans several slices


def test_hubmap_small_layout_streamed_label_equals_dense(tmp_path):
    root = make_kind(tmp_path, "hubmap", n_images=1, size=(1100, 1500), seed=3)
    (tiff,) = sorted((root / "train").iterdir())
    assert HEX9.match(tiff.stem) and tiff.suffix == ".tiff"
    header, rows = header_and_rows(root / "train.csv")
    assert header == "id,encoding" and len(rows) == 1 and rows[0][0] == tiff.stem
    shape = rlemask.image_shape(tiff)
    assert shape == (1100, 1500)
    plan = hubmap_plan(3, 0, shape)
    dense = hubmap_mask_tile(plan, (0, 0, *shape))
    assert dense.any()
    assert rows[0][1] == rlemask.encode(dense, format="kaggle")
    labels = rlemask.read_labels(root / "train.csv")
    assert np.array_equal(labels.mask(tiff.stem, shape=shape), dense)
    image = rlemask.read_region(tiff, (0, 0, 600, 700), channels=3)
    assert image.shape == (600, 700, 3)
    glom = dense[:600, :700].astype(bool)
    if glom.any():  # glomeruli are darker (purple) than the tissue around them
        assert image[glom].mean() < image[~glom].mean()


@pytest.mark.slow
def test_hubmap_default_is_at_least_8000_pixels(tmp_path):
    root = make_kind(tmp_path, "hubmap")
    (tiff,) = (root / "train").iterdir()
    shape = rlemask.image_shape(tiff)
    assert min(shape) >= 8000
    labels = rlemask.read_labels(root / "train.csv")
    runs = labels.objects(tiff.stem, shape=shape)[0]
    window = (4096, 4096, 512, 512)
    plan = hubmap_plan(0, 0, shape)
    assert np.array_equal(runs.crop(*window).to_mask(), hubmap_mask_tile(plan, window))


def test_same_seed_same_bytes_and_siim_default(tmp_path, airbus):
    again = make_kind(tmp_path / "again", "airbus", n_images=4, seed=1, positive_fraction=0.5)
    name = "train_ship_segmentations_v2.csv"
    assert (again / name).read_bytes() == (airbus / name).read_bytes()
    for p in (airbus / "train_v2").iterdir():
        assert (again / "train_v2" / p.name).read_bytes() == p.read_bytes()
    siim = make_kind(tmp_path / "siim", n_images=2, size=64)
    assert (siim / "train-rle.csv").read_text().splitlines()[0] == "ImageId, EncodedPixels"


def test_bad_arguments_and_overwrite(tmp_path, severstal):
    with pytest.raises(ValueError, match="`kind`"):
        make_kind(tmp_path, "carvana")
    with pytest.raises(ValueError, match="`size`"):
        make_kind(tmp_path, "airbus", size=(10, 768))
    with pytest.raises(ValueError, match="`n_images`"):
        make_kind(tmp_path, "airbus", n_images=0)
    with pytest.raises(FileExistsError, match="overwrite"):
        make_kind(severstal, "severstal", n_images=1)
    again = make_kind(tmp_path / "s", "severstal", n_images=2)
    make_kind(again, "severstal", n_images=1, overwrite=True)
    assert len(list((again / "train_images").iterdir())) == 1


def test_synth_command_writes_a_kind(tmp_path):
    out = tmp_path / "uw"
    res = subprocess.run(
        [sys.executable, "-m", "rlemask", "synth", str(out), "--kind", "uw-madison",
         "--images", "1", "--depth", "3", "--size", "40x56"],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "header 'id,class,segmentation', 9 rows" in res.stdout
    assert len(list(out.rglob("slice_*_56_40_1.50_1.50.png"))) == 3
    res = subprocess.run(
        [sys.executable, "-m", "rlemask", "synth", str(tmp_path / "x"), "--kind", "airbus",
         "--difficulty", "0.2"], capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 2 and "--difficulty" in res.stderr and "Traceback" not in res.stderr


def test_label_files_agree_with_write_labels(tmp_path, severstal, airbus, uw):
    """The CSVs written with the csv module are what rlemask.write_labels writes for the truth."""
    names = [r[0].rsplit("_", 1)[0] for r in header_and_rows(severstal / "train.csv")[1][::4]]
    truth = {name: severstal_case(2, i, (256, 1600))[1] for i, name in enumerate(names)}
    rlemask.write_labels(tmp_path / "sev.csv", truth, layout="wide")
    assert (tmp_path / "sev.csv").read_bytes() == (severstal / "train.csv").read_bytes()

    csv_name = "train_ship_segmentations_v2.csv"
    rows = header_and_rows(airbus / csv_name)[1]
    ids = list(dict.fromkeys(r[0] for r in rows))
    ships = {name: airbus_case(1, i, (768, 768), positive=any(r[1] for r in rows if r[0] == name))
             [1] or None for i, name in enumerate(ids)}
    rlemask.write_labels(tmp_path / "air.csv", ships, objects=True)
    ours, theirs = (airbus / csv_name).read_text(), (tmp_path / "air.csv").read_text()
    assert sorted(ours.splitlines()) == sorted(theirs.splitlines())  # objects in any order

    labels = rlemask.read_labels(uw / "train.csv")
    rlemask.write_labels(tmp_path / "uw.csv", labels, layout="long",
                         columns={"id": "id", "class": "class", "rle": "segmentation"})
    assert (tmp_path / "uw.csv").read_bytes() == (uw / "train.csv").read_bytes()


def test_layouts_match_the_real_files(real_dir, severstal, airbus, uw):
    """Header spelling, id scheme and class order as in the competitions' own files."""
    def first_rows(path, n=7):
        return path.read_text().splitlines()[:n]

    real = first_rows(real_dir / "severstal" / "test_pseudo_labels_khornlund.csv")
    ours = first_rows(severstal / "train.csv")
    assert real[0] == ours[0]
    pattern = re.compile(r"^[0-9a-f]{9}\.jpg_[1-4],")
    assert all(pattern.match(r) for r in real[1:] + ours[1:])
    assert [r.split(",")[0][-1] for r in ours[1:5]] == ["1", "2", "3", "4"]
    real = first_rows(real_dir / "airbus" / "train_ship_segmentations_v2.sample.csv")
    ours = first_rows(airbus / "train_ship_segmentations_v2.csv")
    assert real[0] == ours[0]
    assert all(re.match(r"^[0-9a-f]{9}\.jpg,", r) for r in real[1:] + ours[1:])
    real = first_rows(real_dir / "uw-madison" / "submission_predicted_azkalot1.csv")
    ours = first_rows(uw / "train.csv")
    assert real[0].split(",")[:2] == ours[0].split(",")[:2]  # the submission says "predicted"
    id_class = re.compile(r"^case\d+_day\d+_slice_\d{4},(large_bowel|small_bowel|stomach),")
    assert all(id_class.match(r) for r in real[1:] + ours[1:])
    assert [r.split(",")[1] for r in real[1:4]] == [r.split(",")[1] for r in ours[1:4]]
    real = first_rows(real_dir / "hubmap-kidney" / "submission_empty_optimox.csv")
    assert re.match(r"^[0-9a-f]{9},$", real[1])  # the ids our TIFFs are named with
