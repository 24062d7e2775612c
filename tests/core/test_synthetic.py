"""The synthetic SIIM-like data set: layout, tags, CSV spelling, determinism, labels as drawn."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage

import rlemask
from rlemask.synthetic import _REGIONS_CYCLE, _knobs, _make_case, _plan, _uids, make_dataset

CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
ROW = re.compile(r"^(?P<id>[0-9.]+), (?P<rle>-1|[0-9]+(?: [0-9]+)*)$")


def _rows(root: Path) -> list[tuple[str, str]]:
    lines = (root / "train-rle.csv").read_text().splitlines()
    out = []
    for line in lines[1:]:
        match = ROW.match(line)
        assert match, f"row not in the stage-1 spelling: {line[:80]!r}"
        out.append((match["id"], match["rle"]))
    return out


def _files(root: Path) -> dict[str, Path]:
    return {p.stem: p for p in root.rglob("*.dcm")}


# --- layout and tags ---------------------------------------------------------------------------


def test_layout_is_the_siim_mirror(synthetic_siim_small):
    root = synthetic_siim_small
    assert sorted(p.name for p in root.iterdir()) == ["dicom-images-train", "train-rle.csv"]
    files = sorted((root / "dicom-images-train").rglob("*"))
    dcms = [p for p in files if p.is_file()]
    assert len(dcms) == 16
    for path in dcms:
        rel = path.relative_to(root / "dicom-images-train")
        assert len(rel.parts) == 3 and path.suffix == ".dcm"  # study/series/id.dcm
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert rel.parts[0] == ds.StudyInstanceUID
        assert rel.parts[1] == ds.SeriesInstanceUID
        assert path.stem == ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
    assert not [p for p in root.rglob(".*")], "temporary files left behind"


def test_tags_read_back_with_pydicom(synthetic_siim):
    views, sexes = set(), set()
    for path in _files(synthetic_siim).values():
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == JPEG_BASELINE
        assert ds.file_meta.MediaStorageSOPClassUID == CR_IMAGE_STORAGE == ds.SOPClassUID
        assert ds.Modality == "CR"
        assert ds.BodyPartExamined == "CHEST"
        assert ds.PhotometricInterpretation == "MONOCHROME2"
        assert (ds.Rows, ds.Columns) == (1024, 1024)
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (8, 8, 7)
        assert ds.SamplesPerPixel == 1 and ds.PixelRepresentation == 0
        assert "NumberOfFrames" not in ds
        assert re.fullmatch(r"\d{3}Y", ds.PatientAge), ds.PatientAge
        assert 0 < int(ds.PatientAge[:3]) < 100
        assert [float(v) for v in ds.PixelSpacing] == pytest.approx([0.143, 0.143])
        assert ds.SeriesDescription == f"view: {ds.ViewPosition}"
        views.add(ds.ViewPosition)
        sexes.add(ds.PatientSex)
        arr = ds.pixel_array
        assert arr.shape == (1024, 1024) and arr.dtype == np.uint8
    assert views == {"PA", "AP"}
    assert sexes == {"M", "F"}


def test_pixel_spacing_scales_with_size(synthetic_siim_small):
    path = next(iter(_files(synthetic_siim_small).values()))
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert (ds.Rows, ds.Columns) == (256, 256)
    assert float(ds.PixelSpacing[0]) == pytest.approx(0.143 * 4)


def test_pixels_are_the_image_drawn_within_jpeg_tolerance(synthetic_siim_small):
    plan = _plan(16, 0.5, 0)
    for index in (0, 5, 11):
        case = _make_case(
            0, index, size=256, positive=plan[index] > 0, n_regions=max(plan[index], 1)
        )
        path = _files(synthetic_siim_small)[case.meta["uid"]]
        stored = rlemask.read_dicom(path)
        diff = np.abs(stored.astype(np.int16) - case.image.astype(np.int16))
        assert diff.mean() < 3.0
        assert np.percentile(diff, 99) < 20


# --- labels CSV --------------------------------------------------------------------------------


def test_csv_is_in_the_stage1_spelling(synthetic_siim):
    text = (synthetic_siim / "train-rle.csv").read_text()
    lines = text.splitlines()
    assert lines[0] == "ImageId, EncodedPixels"
    assert text.endswith("\n") and "\r" not in text
    rows = _rows(synthetic_siim)  # every value has its leading space
    assert {rle for _, rle in rows} >= {"-1"}
    assert {image_id for image_id, _ in rows} == set(_files(synthetic_siim))


def test_positive_fraction_and_several_rows_per_positive(synthetic_siim):
    rows = _rows(synthetic_siim)
    per_id: dict[str, list[str]] = {}
    for image_id, rle in rows:
        per_id.setdefault(image_id, []).append(rle)
    positives = {k: v for k, v in per_id.items() if v != ["-1"]}
    assert len(per_id) == 24 and len(positives) == 6
    assert all("-1" not in v for v in positives.values())
    assert sorted(len(v) for v in positives.values()) == [1, 1, 1, 1, 2, 3]
    # the labels reader sees the same thing
    labels = rlemask.read_rle_csv(synthetic_siim / "train-rle.csv")
    assert {k: len(v) for k, v in labels.items() if v} == {k: len(v) for k, v in positives.items()}


@pytest.mark.parametrize(
    ("n", "fraction", "expected"),
    [
        (10, 0.0, 0),
        (10, 1.0, 10),
        (20, 0.3, 6),
        (7, 0.25, 2),
        (1, 0.5, 0),
        (3, 0.5, 2),
    ],
)
def test_plan_honours_positive_fraction(n, fraction, expected):
    plan = _plan(n, fraction, seed=5)
    assert len(plan) == n
    assert sum(k > 0 for k in plan) == expected == round(n * fraction)
    positives = [k for k in plan if k > 0]
    assert positives == [_REGIONS_CYCLE[i % len(_REGIONS_CYCLE)] for i in range(expected)]


def test_positive_fraction_in_written_files(tmp_path):
    root = make_dataset(tmp_path, 10, size=64, positive_fraction=0.3, seed=2)
    ids = {image_id for image_id, rle in _rows(root) if rle != "-1"}
    assert len(ids) == 3


def test_csv_rows_decode_exactly_to_the_regions_drawn(synthetic_siim):
    """Round trip at 1024: every row is one drawn region, in drawing order."""
    rows = _rows(synthetic_siim)
    plan = _plan(24, 0.25, 0)
    n_regions_seen = 0
    for index, k in enumerate(plan):
        uid = _uids(0, index)["uid"]
        mine = [rle for image_id, rle in rows if image_id == uid]
        if k == 0:
            assert mine == ["-1"]
            continue
        case = _make_case(0, index, size=1024, positive=True, n_regions=k)
        assert case.meta["uid"] == uid
        assert len(mine) == len(case.regions) == k
        for rle, region in zip(mine, case.regions, strict=True):
            decoded = rlemask.decode(rle, shape=(1024, 1024))
            np.testing.assert_array_equal(decoded, region)
            n_regions_seen += 1
    assert n_regions_seen == 9


def test_small_set_round_trip_through_load_siim(synthetic_siim_small):
    files, labels = rlemask.load_siim(synthetic_siim_small)
    plan = _plan(16, 0.5, 0)
    by_id = {p.stem: p for p in files}
    for index, k in enumerate(plan):
        case = _make_case(0, index, size=256, positive=k > 0, n_regions=max(k, 1))
        uid = case.meta["uid"]
        assert uid in by_id
        merged = rlemask.merge(labels[uid], shape=(256, 256))
        expected = np.zeros((256, 256), np.uint8) if k == 0 else np.maximum.reduce(case.regions)
        np.testing.assert_array_equal(merged, expected)


# --- regions: where and how big ----------------------------------------------------------------


def _positive_cases(size=512, n=12, seed=11):
    for index in range(n):
        yield _make_case(
            seed,
            index,
            size=size,
            positive=True,
            n_regions=_REGIONS_CYCLE[index % len(_REGIONS_CYCLE)],
        )


def test_regions_lie_inside_the_lungs_along_their_edge():
    kinds = set()
    for case in _positive_cases():
        lungs = case.meta["lungs"]
        depth = ndimage.distance_transform_edt(lungs)  # pixels to the nearest non-lung pixel
        radius = depth.max()
        for region, info in zip(case.regions, case.meta["region_info"], strict=True):
            r = region.astype(bool)
            assert r.any()
            assert not (r & ~lungs).any(), "region outside the lung fields"
            assert depth[r].min() <= 1.0, "region does not reach the chest wall"
            assert depth[r].max() <= 0.7 * radius, "region is not a rim of the lung"
            _, n = ndimage.label(r, structure=np.ones((3, 3)))
            assert n == 1, "a region must be one 8-connected piece"
            kinds.add(info["kind"])
        assert len(case.regions) == len(case.meta["region_info"])
    assert kinds == {"lateral", "apical"}


def test_regions_never_touch_each_other():
    for case in _positive_cases():
        for i, a in enumerate(case.regions):
            grown = ndimage.binary_dilation(a.astype(bool), structure=np.ones((3, 3)))
            for b in case.regions[i + 1 :]:
                assert not (grown & b.astype(bool)).any()
        merged = np.maximum.reduce(case.regions)
        assert len(rlemask.bboxes(merged)) == len(case.regions)


def test_region_areas_span_slivers_to_large_crescents():
    shares = [r.mean() for case in _positive_cases(size=256, n=40) for r in case.regions]
    assert 0.0005 < min(shares) < 0.006
    assert 0.02 < max(shares) < 0.12
    assert all(0 < s < 0.12 for s in shares)


def test_negative_case_has_no_region():
    case = _make_case(4, 2, size=256, positive=False)
    assert case.regions == [] and case.meta["region_info"] == []


# --- what the images look like -----------------------------------------------------------------


def test_image_statistics_are_plausible_for_a_chest_radiograph():
    for index in range(4):
        case = _make_case(9, index, size=512, positive=index % 2 == 1)
        img = case.image.astype(np.float64)
        lungs = case.meta["lungs"]
        assert case.image.dtype == np.uint8 and case.image.shape == (512, 512)
        assert 0.15 < lungs.mean() < 0.5, "two lung fields cover a good part of the film"
        corners = np.concatenate([img[:40, :40].ravel(), img[:40, -40:].ravel()])
        centre_column = img[100:400, 246:266]  # mediastinum / spine
        assert corners.mean() < 70, "air outside the body is dark"
        assert img[lungs].mean() + 40 < centre_column.mean(), "lungs darker than mediastinum"
        assert 15 < img[lungs].std() < 60, "lungs carry texture, ribs and noise"
        assert img.std() > 30


def test_pneumothorax_is_darker_but_not_thresholdable():
    """Darker on average, yet a global grey-level cut finds it poorly at 128 x 128."""
    contrasts, dice = [], []
    for case in _positive_cases(size=512, n=10, seed=3):
        img = case.image.astype(np.float64)
        lungs = case.meta["lungs"]
        truth = np.maximum.reduce(case.regions).astype(bool)
        ring = ndimage.binary_dilation(truth, iterations=15) & lungs & ~truth
        contrasts.append(img[ring].mean() - img[truth].mean())
        small = img.reshape(128, 4, 128, 4).mean((1, 3))
        lungs_s = lungs.reshape(128, 4, 128, 4).mean((1, 3)) >= 0.5
        truth_s = truth.reshape(128, 4, 128, 4).mean((1, 3)) >= 0.5
        best = 0.0
        for cut in range(30, 200, 3):  # the best cut for this very image (optimistic)
            pred = lungs_s & (small < cut)
            total = pred.sum() + truth_s.sum()
            best = max(best, 2 * (pred & truth_s).sum() / total if total else 1.0)
        dice.append(best)
    assert np.mean(contrasts) > 3
    assert np.mean(dice) < 0.45


def test_difficulty_knobs_move_the_cues_monotonically():
    easy, hard = _knobs(0.0), _knobs(1.0)
    assert easy["darkening"] > hard["darkening"] and easy["line"] > hard["line"]
    assert easy["noise"] < hard["noise"] and easy["folds"] < hard["folds"]
    a = _make_case(1, 1, size=256, positive=True, difficulty=0.0)
    b = _make_case(1, 1, size=256, positive=True, difficulty=1.0)
    np.testing.assert_array_equal(a.regions[0], b.regions[0])  # same geometry
    r = a.regions[0].astype(bool)
    ring = ndimage.binary_dilation(r, iterations=6) & a.meta["lungs"] & ~r

    def contrast(case):
        return case.image[ring].mean() - case.image[r].mean()

    assert contrast(a) > contrast(b) + 5  # darker than its surroundings when easier


# --- determinism -------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_writes_byte_identical_files(tmp_path):
    a = _tree(make_dataset(tmp_path / "a", 6, size=128, positive_fraction=0.5, seed=3))
    b = _tree(make_dataset(tmp_path / "b", 6, size=128, positive_fraction=0.5, seed=3))
    assert len(a) == 7
    assert a == b


def test_different_seed_differs(tmp_path):
    a = _tree(make_dataset(tmp_path / "a", 4, size=128, seed=3))
    b = _tree(make_dataset(tmp_path / "b", 4, size=128, seed=4))
    assert set(a) & set(b) == {"train-rle.csv"}  # no shared UID or image path
    assert sorted(a.values()) != sorted(b.values())


def test_case_is_a_pure_function_of_seed_and_index():
    a = _make_case(2, 7, size=128, positive=True, n_regions=2)
    b = _make_case(2, 7, size=128, positive=True, n_regions=2)
    c = _make_case(2, 8, size=128, positive=True, n_regions=2)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.meta["uid"] == b.meta["uid"] != c.meta["uid"]
    assert not np.array_equal(a.image, c.image)


# --- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_images": 0}, "n_images"),
        ({"n_images": 2.5}, "n_images"),
        ({"size": 32}, "size"),
        ({"size": True}, "size"),
        ({"positive_fraction": 1.5}, "positive_fraction"),
        ({"positive_fraction": "0.2"}, "positive_fraction"),
        ({"seed": -1}, "seed"),
        ({"difficulty": 2}, "difficulty"),
    ],
)
def test_bad_arguments_name_the_parameter(tmp_path, kwargs, name):
    args = {"n_images": 2, "size": 64} | kwargs
    with pytest.raises(ValueError, match=rf"`{name}` must be .*; received {name}="):
        make_dataset(tmp_path, **args)
    assert not (tmp_path / "train-rle.csv").exists()


def test_existing_data_set_needs_overwrite(tmp_path):
    make_dataset(tmp_path, 2, size=64, seed=1)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_dataset(tmp_path, 2, size=64, seed=2)
    make_dataset(tmp_path, 3, size=64, seed=2, overwrite=True)
    assert len(list(tmp_path.rglob("*.dcm"))) == 3  # the old images are gone
    assert len(_rows(tmp_path)) >= 3


def test_accepts_str_and_pathlike_and_returns_path(tmp_path):
    out = make_dataset(str(tmp_path / "s"), 1, size=64)
    assert isinstance(out, Path) and out == tmp_path / "s"
