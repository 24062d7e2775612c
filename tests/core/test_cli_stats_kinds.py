"""``rlemask stats`` on every kind of data set and on label files alone.

The numbers are checked against a slow reference written here: masks
decoded pixel by pixel from the CSV text (``reference_rle``), images decoded
in full for their sizes, regions counted by ``skimage.measure.label``.
"""

from __future__ import annotations

import csv
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import reference_rle as ref
import tifffile
from conftest import run_rlemask
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from skimage.measure import label as skimage_label

import rlemask
from rlemask.cli import main
from rlemask.cli.stats import dataset_stats, format_stats, labels_stats
from rlemask.synthetic_kinds import make_kind

SUFFIX_KIND = {".jpg": "jpeg", ".png": "png", ".tiff": "tiff", ".tif": "tiff", ".dcm": "dicom"}


# -- the slow reference -------------------------------------------------------------------
def reference_rows(path: Path) -> dict[str, dict[str | None, list[str]]]:
    """``{id: {class or None: [non-empty rle, ...]}}`` read with the csv module, by hand."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        header, *body = list(csv.reader(fh))
    out: dict[str, dict[str | None, list[str]]] = {}
    for row in body:
        if header[0] == "ImageId_ClassId":  # Severstal: "0002cc93b.jpg_1"
            image_id, cls = row[0].rsplit("_", 1)
            rle = row[1]
        elif len(header) == 3:  # UW-Madison: id, class, segmentation
            image_id, cls, rle = row
        else:
            (image_id, rle), cls = row[:2], None
        per_class = out.setdefault(image_id.strip(), {})
        rows = per_class.setdefault(cls, [])
        if rle.strip() not in ("", "-1"):
            rows.append(rle)
    return out


def _percentiles(values):
    if not values:
        return None
    out = {f"p{q}": float(np.percentile(values, q)) for q in (0, 5, 25, 50, 75, 95, 100)}
    return {**out, "mean": float(np.mean(values))}


def _hist(values):
    return {str(k): values.count(k) for k in sorted(set(values))}


def reference_counts(masks: dict[str, dict[str | None, list[np.ndarray]]], classes):
    """The label part of the summary from row masks: ``masks[id][class] = [mask per row]``."""
    def part(pick):
        rows, regions, px, pct = [], [], [], []
        for per_class in masks.values():
            chosen = [m for c, ms in per_class.items() if pick(c) for m in ms]
            rows.append(len(chosen))
            if not chosen:
                regions.append(0)
                continue
            union = np.any(chosen, axis=0)
            regions.append(int(skimage_label(union, connectivity=2).max()))
            px.append(float(union.sum()))
            pct.append(100.0 * union.sum() / union.size)
        positive = sum(r > 0 for r in rows)
        return {"positive": positive,
                "positive_share": positive / len(rows) if rows else None,
                "rle_rows_per_image": _hist(rows), "regions_per_image": _hist(regions),
                "area_px": _percentiles(px), "area_percent": _percentiles(pct)}

    out = part(lambda c: True)
    out["labelled"] = len(masks)
    out["negative"] = len(masks) - out["positive"]
    out["per_class"] = {c: part(lambda k, c=c: k == c) for c in classes}
    return out


def assert_counts(stats, expected):
    for key, value in expected.items():
        if key == "per_class":
            assert stats[key].keys() == value.keys()
            for c in value:
                assert_counts(stats[key][c], value[c])
        elif isinstance(value, dict) and key.startswith("area"):
            assert stats[key].keys() == value.keys()
            for q in value:
                assert stats[key][q] == pytest.approx(value[q]), (key, q)
        else:
            assert stats[key] == value, key


def reference_dataset(root: Path, csv_path: Path, pattern: str):
    """Image formats and sizes (pixels decoded) and the row masks of every image."""
    rows = reference_rows(csv_path)
    files = sorted(root.glob(pattern))
    ids = {p.name if p.suffix == ".jpg" else p.stem: p for p in files}  # HuBMAP: the stem
    if pattern.endswith("png"):  # UW-Madison: case123_day20_slice_0001
        ids = {f"{p.parents[1].name}_{'_'.join(p.name.split('_')[:2])}": p for p in files}
    sizes, masks = {}, {}
    for image_id, path in ids.items():
        pixels = tifffile.imread(path) if path.suffix == ".tiff" else np.asarray(Image.open(path))
        shape = pixels.shape[:2]
        sizes[image_id] = shape
        masks[image_id] = {c: [ref.kaggle_decode(r, shape) for r in rles]
                           for c, rles in rows[image_id].items()}
    return ids, sizes, masks


KINDS = {  # kind: (make_kind arguments, the images' glob, labels file)
    "severstal": ({"n_images": 4, "size": (32, 200)}, "train_images/*.jpg", "train.csv"),
    "airbus": ({"n_images": 6, "size": (96, 96), "positive_fraction": 0.8}, "train_v2/*.jpg",
               "train_ship_segmentations_v2.csv"),
    "uw-madison": ({"n_images": 1, "depth": 5, "size": (40, 56)}, "train/**/*.png", "train.csv"),
    "hubmap": ({"n_images": 2, "size": (300, 260)}, "train/*.tiff", "train.csv"),
}


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    """One small synthetic data set of each kind of ``KINDS``."""
    out = {}
    for kind, (kwargs, _, _) in KINDS.items():
        out[kind] = make_kind(tmp_path_factory.mktemp(kind), kind, seed=3, **kwargs)
    return out


# -- in process: the numbers --------------------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
def test_dataset_stats_equal_the_reference(kinds, kind):
    root = kinds[kind]
    _, pattern, labels_name = KINDS[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dataset = rlemask.load_dataset(root, root / labels_name)
    stats = dataset_stats(dataset, data=root)
    ids, sizes, masks = reference_dataset(root, root / labels_name, pattern)
    assert stats["images"] == len(ids) == len(dataset.ids) and stats["unreadable"] == 0
    assert stats["image_formats"] == {SUFFIX_KIND[Path(p).suffix]: len(ids) for p in ids.values()}
    expected_sizes = {f"{h}x{w}" for h, w in sizes.values()}
    assert set(stats["image_sizes"]) == expected_sizes
    assert sum(stats["image_sizes"].values()) == len(ids)
    assert stats["metadata"] is None  # no DICOMs: no DICOM metadata
    assert stats["positive"] > 0  # the reference is checked on regions, not only on zeros
    classes = sorted({c for per in masks.values() for c in per if c is not None})
    assert sorted(stats["classes"]) == classes
    assert_counts(stats, reference_counts(masks, stats["classes"]))
    assert stats["format"] == "kaggle" and "absolute (Kaggle)" in stats["format_evidence"]
    assert stats["layout"] == {"severstal": "wide", "airbus": "single",
                               "uw-madison": "long", "hubmap": "single"}[kind]
    assert stats["areas_at"] == {"header_size": stats["positive"], "1024x1024": 0}
    json.dumps(stats)  # JSON-ready
    # an instance layout: a row per ship, so rows per image are ships per image
    if kind == "airbus":
        assert stats["rows_are_objects"] == any(len(m[None]) > 1 for m in masks.values())
        assert stats["rows_are_objects"], "the seed should give an image two ships"


@st.composite
def label_tables(draw):
    """Row masks of a few images: ``(masks[id][class] = [mask, ...], classes, shape)``."""
    shape = (draw(st.integers(2, 9)), draw(st.integers(2, 9)))
    classes = draw(st.sampled_from([(None,), ("a",), ("a", "b", "c")]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    masks = {}
    for i in range(draw(st.integers(1, 5))):
        masks[f"img{i}"] = {
            c: [rng.random(shape) < draw(st.sampled_from([0.05, 0.3, 0.7]))
                for _ in range(draw(st.integers(0, 3)))]
            for c in classes
        }
    return masks, classes, shape


def _write_table(path: Path, masks, classes) -> None:
    lines = ["ImageId,EncodedPixels"] if classes == (None,) else ["id,class,segmentation"]
    for image_id, per_class in masks.items():
        for c, ms in per_class.items():
            texts = [ref.kaggle_encode(m) for m in ms] or [""]
            lines += [f"{image_id},{t}" if c is None else f"{image_id},{c},{t}" for t in texts]
    path.write_text("\n".join(lines) + "\n")


@settings(max_examples=30, deadline=None)
@given(label_tables())
def test_labels_stats_equal_the_reference(table):
    """Overlapping rows, empty rows, rows that are empty masks, one or three classes."""
    masks, classes, shape = table
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "labels.csv"
        _write_table(path, masks, classes)
        labels = rlemask.read_labels(path, format="kaggle")
        stats = labels_stats(labels, shape=shape)
    truth = {i: {c: [m for m in ms if m.any()] for c, ms in per.items()}
             for i, per in masks.items()}
    names = [] if classes == (None,) else list(classes)
    assert_counts(stats, reference_counts(truth, names))
    assert stats["images"] == 0 and stats["metadata"] is None
    assert stats["areas_at"] == {"header_size": 0, f"{shape[0]}x{shape[1]}": stats["positive"]}
    many = any(len(ms) > 1 for per in truth.values() for ms in per.values())
    assert stats["rows_are_objects"] == many
    format_stats(stats)  # every summary prints


def test_dataset_of_dicoms_has_metadata(real_dir):
    """The real SIIM sample through load_dataset: DICOM headers summarised, siim read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dataset = rlemask.load_dataset(real_dir / "siim" / "dicom",
                                       real_dir / "siim" / "train-rle-sample.asuiu.csv")
    stats = dataset_stats(dataset, data="siim")
    assert stats["images"] == 10 and stats["image_formats"] == {"dicom": 10}
    assert stats["image_sizes"] == {"1024x1024": 10}
    assert stats["metadata"]["size"] == {"1024x1024": 10}
    assert stats["metadata"]["transfer_syntax"] == {"1.2.840.10008.1.2.4.50": 10}
    assert stats["format"] == "siim" and "SIIM relative offsets" in stats["format_evidence"]
    assert stats["positive"] == 5 and stats["negative"] == 5
    assert "metadata" in format_stats(stats)


def test_labels_alone_of_real_severstal(real_dir):
    """Per-class positives of the real Severstal file, counted by hand from its rows."""
    path = real_dir / "severstal" / "test_pseudo_labels_khornlund.csv"
    stats = labels_stats(rlemask.read_labels(path), shape=(256, 1600))
    rows = reference_rows(path)
    assert stats["labelled"] == len(rows) == 1801 and stats["layout"] == "wide"
    for c in ("1", "2", "3", "4"):
        assert stats["per_class"][c]["positive"] == sum(bool(r[c]) for r in rows.values())
    assert stats["positive"] == sum(any(r.values()) for r in rows.values())
    assert stats["invalid_labels"] == 0
    assert stats["areas_at"] == {"header_size": 0, "256x1600": stats["positive"]}


# -- the command --------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "as_json"), [("severstal", True), ("uw-madison", False)])
def test_stats_command_on_a_kind(kinds, kind, as_json):
    """The command prints what dataset_stats computes: as JSON, or as the table."""
    root = kinds[kind]
    result = run_rlemask("stats", root, *(["--json"] if as_json else []))
    assert result.returncode == 0, result.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dataset = rlemask.load_dataset(root, root / KINDS[kind][2])
    stats = dataset_stats(dataset, data=str(root))
    if as_json:
        assert json.loads(result.stdout) == json.loads(json.dumps(stats))
        return
    assert result.stdout == format_stats(stats) + "\n"
    assert f"formats       png: {stats['images']}" in result.stdout
    for c in stats["classes"]:
        assert f"class {c}" in result.stdout
    assert "metadata" not in result.stdout
    # stderr is a pipe: plain progress lines, never tqdm's \r redraws
    assert "\r" not in result.stderr and f"masks: {stats['images']}/" in result.stderr


def test_stats_of_a_real_airbus_file_alone(real_dir):
    """One row per ship: 25 ships on 10 images, 14 on ``0a1a7f395.jpg`` (SOURCES.md says 12;
    the file has 14 rows of it)."""
    path = real_dir / "airbus" / "train_ship_segmentations_v2.sample.csv"
    result = run_rlemask("stats", path, "--shape", 768, 768, "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    rows = reference_rows(path)
    ships = [len(r[None]) for r in rows.values()]
    assert stats["labelled"] == 10 and sum(ships) == 25 and max(ships) == 14
    assert stats["rle_rows_per_image"] == _hist(ships) and stats["rows_are_objects"]
    assert stats["layout"] == "single" and stats["format"] == "kaggle"
    masks = {i: {None: [ref.kaggle_decode(t, (768, 768)) for t in r[None]]}
             for i, r in rows.items()}
    assert_counts(stats, reference_counts(masks, []))
    assert stats["areas_at"] == {"header_size": 0, "768x768": stats["positive"]}


def test_stats_command_errors(tmp_path, capsys):
    path = tmp_path / "labels.csv"
    path.write_text("ImageId,EncodedPixels\na,5 3\n")  # one run: siim and kaggle both fit
    assert main(["stats", str(path)]) == 2
    err = capsys.readouterr().err
    assert "RLE format" in err and "undecided" in err
    assert "--format siim or --format kaggle" in err and "format=" not in err
    assert main(["stats", str(path), "--format", "kaggle", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["positive"] == 1
    assert main(["stats", str(path), "--labels", str(path)]) == 2
    assert "is a file: give a folder with --labels" in capsys.readouterr().err


def test_sizes_come_from_headers_and_bad_rows_are_counted(tmp_path):
    """A PNG cut after its header still has a size (no pixel is decoded); a row past its
    image is an invalid label, not a crash; a file that is no image is unreadable."""
    folder = tmp_path / "train"
    folder.mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (6, 400), np.uint8)
    for name in ("cut.png", "whole.png", "long.png"):
        Image.fromarray(noise).save(folder / name)
    (folder / "cut.png").write_bytes((folder / "cut.png").read_bytes()[:200])  # IHDR kept
    with pytest.raises(OSError):  # its pixels cannot be decoded
        np.asarray(Image.open(folder / "cut.png"))
    (folder / "junk.png").write_bytes(b"not an image")
    (tmp_path / "labels.csv").write_text(
        "ImageId,EncodedPixels\ncut.png,1 2 11 2\nwhole.png,\nlong.png,1 2401\njunk.png,1 2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dataset = rlemask.load_dataset(tmp_path, tmp_path / "labels.csv", format="kaggle")
    stats = dataset_stats(dataset, data=tmp_path, shape=(2, 4))
    assert stats["images"] == 4 and stats["image_formats"] == {"png": 3}
    assert stats["image_sizes"] == {"6x400": 3}
    assert stats["unreadable"] == 1 and stats["unreadable_files"][0].endswith("junk.png")
    assert stats["invalid_labels"] == 1 and stats["invalid_label_ids"] == ["long.png"]
    # cut.png at its header's 6 x 400; junk.png (no header) at --shape 2 x 4
    assert stats["areas_at"] == {"header_size": 2, "2x4": 1}
    assert stats["area_px"]["p0"] == 2 and stats["area_px"]["p100"] == 4
    assert stats["area_percent"]["p100"] == pytest.approx(100 * 2 / 8)
    assert stats["regions_per_image"] == {"0": 1, "1": 1, "2": 1}
    table = format_stats(stats)
    assert "invalid RLE   1 images, e.g. long.png" in table
    assert "1 positive images read at 2x4 (no image header" in table


def test_long_histograms_are_lumped_in_the_table_only():
    from rlemask.cli.stats import _histogram_cells

    assert _histogram_cells({"0": 3, "1": 1, "2": 1}) == "0: 3, 1: 1, 2: 1"
    wide = {str(k): k + 1 for k in range(15)}
    assert _histogram_cells(wide) == ", ".join(f"{k}: {k + 1}" for k in range(9)) + ", 9-14: 75"
