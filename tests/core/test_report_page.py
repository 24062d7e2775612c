"""The error-analysis page (rlemask.report_page): its table, its overlays, and the page in Chromium.

Pages are built from real score reports (``rlemask.score``) of small synthetic
sets of ``rlemask synth --kind``: SIIM DICOMs (one class), Severstal strips
(four classes, per-class Dice) and Airbus tiles (one row per ship, F2 sweep
with matched objects).  The browser tests drive Debian's Chromium with
Playwright and skip, saying so, where either is missing (``make browser``
installs Chromium; Playwright comes with the dev extra, ``make install``).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import rlemask
from rlemask import report_overlays, report_page
from rlemask.report_overlays import COLOURS, overlay_image
from rlemask.report_page import OUTCOMES, write_report_page
from rlemask.synthetic import make_dataset
from rlemask.synthetic_kinds import make_kind

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


# -- the synthetic sets and their real score reports ------------------------------
def _outcome(truth_area: int, pred_area: int) -> str:
    """The definition of the page's outcomes, written out."""
    if truth_area and pred_area:
        return "tp"
    if truth_area:
        return "fn"
    return "fp" if pred_area else "tn"


def _perturbed(mask: np.ndarray, i: int) -> np.ndarray:
    """A prediction of known outcome: positives dropped, shifted or kept; negatives hit or not."""
    if mask.any():
        return [np.zeros_like(mask), np.roll(mask, 5, axis=1), mask][i % 3]
    if i % 2 == 0:
        pred = np.zeros_like(mask)
        pred[10:20, 12:30] = 1
        return pred
    return mask


@pytest.fixture(scope="module")
def siim(tmp_path_factory):
    """16 SIIM-like DICOMs of 128 px, half positive, a perturbed submission, its Dice report."""
    root = make_dataset(tmp_path_factory.mktemp("siim"), n_images=16, size=128,
                        positive_fraction=0.5, seed=3)
    truth = rlemask.read_labels(root / "train-rle.csv")
    lines = ["ImageId,EncodedPixels"]
    for i, image_id in enumerate(truth.ids):
        pred = _perturbed(truth.mask(image_id, None, (128, 128)), i)
        lines.append(f"{image_id},{rlemask.encode(pred) if pred.any() else '-1'}")
    sub = root / "submission.csv"
    sub.write_text("\n".join(lines) + "\n")
    report = rlemask.score(sub, root / "train-rle.csv", shape=(128, 128))
    return SimpleNamespace(root=root, sub=sub, report=report, data=root)  # load_dataset


def _scored(root: Path, truth_csv: Path, lines: list[str], **options):
    """``rlemask.score`` of the submission ``lines`` (CSV) against ``truth_csv``."""
    (root / "sub.csv").write_text("\n".join(lines) + "\n")
    return rlemask.score(root / "sub.csv", truth_csv, **options)


@pytest.fixture(scope="module")
def severstal(tmp_path_factory):
    """``rlemask synth --kind severstal``: 6 strips of 32 x 200, 4 classes (v1 layout);
    per-class Dice of a perturbed copy."""
    root = make_kind(tmp_path_factory.mktemp("severstal"), "severstal", n_images=6,
                     size=(32, 200), seed=1)
    truth = rlemask.read_labels(root / "train.csv")
    lines = ["ImageId_ClassId,EncodedPixels"]
    for i, image_id in enumerate(truth.ids):
        for cls in truth.classes:
            pred = _perturbed(truth.mask(image_id, cls, (32, 200)), i + int(cls))
            lines.append(f"{image_id}_{cls},{rlemask.encode(pred, format='kaggle')}")
    report = _scored(root, root / "train.csv", lines, metric="class-dice", shape=(32, 200))
    return SimpleNamespace(root=root, report=report, data=root / "train_images")


@pytest.fixture(scope="module")
def airbus(tmp_path_factory):
    """``rlemask synth --kind airbus``: 8 tiles of 96 x 96, one row per ship; the F2 sweep of a
    copy missing every other ship (the first of each image) and with one false alarm."""
    root = make_kind(tmp_path_factory.mktemp("airbus"), "airbus", n_images=8, size=(96, 96),
                     seed=2, positive_fraction=0.75)
    truth = rlemask.read_labels(root / "train_ship_segmentations_v2.csv")
    lines, false_alarm = ["ImageId,EncodedPixels"], True
    for image_id in truth.ids:
        ships = truth.objects(image_id, None, (96, 96))
        kept = [np.roll(ship.to_mask(), 1, axis=1) for ship in ships[1::2]]
        if not ships and false_alarm:
            kept, false_alarm = [_perturbed(np.zeros((96, 96), np.uint8), 0)], False
        lines += [f"{image_id},{rlemask.encode(m, format='kaggle')}" for m in kept] or [
            f"{image_id},"]
    report = _scored(root, root / "train_ship_segmentations_v2.csv", lines, metric="f2-sweep",
                     shape=(96, 96))
    data = rlemask.load_dataset(root / "train_v2", report.truth)  # a Dataset, not a folder
    return SimpleNamespace(root=root, report=report, data=data)


# -- reading a page back ------------------------------------------------------------
class _Table(HTMLParser):
    """The rows of ``#rows`` (attributes and cell texts), the images, and ``#counts``."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self.counts = [], [], ""
        self._in_table = self._in_cell = self._in_counts = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "rows":
            self._in_table = True
        elif self._in_table and tag == "tr" and "data-outcome" in attrs:
            self.rows.append({"attrs": attrs, "cells": [], "data_v": None})
        elif self._in_table and tag == "td" and self.rows:
            self.rows[-1]["cells"].append("")
            self._in_cell = True
            if "data-v" in attrs:
                self.rows[-1]["data_v"] = attrs["data-v"]
        elif tag == "img" and self._in_table:
            self.images.append(attrs)
        elif tag == "p" and attrs.get("id") == "counts":
            self._in_counts = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag == "td":
            self._in_cell = False
        elif tag == "p":
            self._in_counts = False

    def handle_data(self, data):
        if self._in_cell and self.rows:
            self.rows[-1]["cells"][-1] += data
        if self._in_counts:
            self.counts += data


def _parse(page: Path) -> _Table:
    table = _Table()
    table.feed(page.read_text(encoding="utf-8"))
    return table


def _worst_first(per_image):
    return sorted(per_image, key=lambda r: (math.isnan(r["score"]), 0 if math.isnan(r["score"])
                                            else r["score"], r["image_id"], r["class"] or ""))


# -- the table, read without a browser (what a reader without JavaScript gets) ------------
def test_table_holds_every_row_worst_first_with_its_outcome(siim, tmp_path):
    page = write_report_page(siim.report, tmp_path / "page", data=siim.data)
    table = _parse(page)
    expected = _worst_first(siim.report.per_image)
    assert len(table.rows) == len(expected) == 16
    for row, ref in zip(table.rows, expected, strict=True):
        cells = row["cells"]
        assert cells[1] == ref["image_id"]
        assert float(row["data_v"]) == ref["score"]
        assert [int(cells[3]), int(cells[4])] == [ref["truth_area"], ref["pred_area"]]
        # the areas against the masks decoded from the labels themselves
        truth = siim.report.truth.mask(ref["image_id"], None, (128, 128))
        assert int(truth.sum()) == ref["truth_area"]
        code = _outcome(ref["truth_area"], ref["pred_area"])
        assert row["attrs"]["data-outcome"] == code
        assert cells[-1] == OUTCOMES[code]
    assert {r["attrs"]["data-outcome"] for r in table.rows} == {"tp", "fp", "fn", "tn"}
    # 16 rows: every one is among the 50 worst, so every one has its thumbnail
    assert len(table.images) == 16 and all(i["loading"] == "lazy" for i in table.images)
    assert "holds all 16 rows (16 images)" in table.counts
    assert "16 thumbnails (at most 200): one for every row" in table.counts
    for image in table.images:
        assert (page.parent / image["src"]).is_file()


def test_page_states_the_scores_beside_the_baselines(severstal, tmp_path):
    report = severstal.report
    text = write_report_page(report, tmp_path / "p").read_text()
    for value in (report.score, report.all_empty_baseline, report.positive_only):
        assert f"{value:.4f}" in text
    for cls, scores in report.per_class.items():
        row = re.search(rf"<tr><th scope=\"row\">class {cls}</th>(.*?)</tr>", text).group(1)
        assert re.findall(r">([0-9.]+|n/a)<", row) == [
            report_page._fmt(scores[k]) for k in ("score", "all_empty_baseline", "positive_only")
        ]
    assert "empty=" in text  # the empty rule is always stated


def test_without_image_data_thumbnails_are_left_out_and_said_so(siim, tmp_path):
    (tmp_path / "index_files").mkdir()  # an earlier page's overlays
    page = write_report_page(siim.report, tmp_path)
    table = _parse(page)
    assert table.images == [] and "No thumbnails: no image data was given" in table.counts
    assert not (tmp_path / "index_files").exists()
    assert "overlay" not in [c for c in page.read_text().split("<th")[1:2]]


def test_without_image_data_masks_can_be_drawn_on_grey(airbus, tmp_path):
    page = write_report_page(airbus.report, tmp_path / "grey.html", max_thumbnails=3)
    table = _parse(page)
    assert len(table.images) == 3 and "3 drawn on a neutral grey" in table.counts
    thumb = np.asarray(Image.open(page.parent / table.images[0]["src"]).convert("RGB"))
    neutral = round((128 * 60 // 256) * 255 / 59)  # the neutral grey at the 60 levels kept
    assert (thumb == neutral).all(axis=-1).mean() > 0.5
    assert page.parent.joinpath("grey_files").is_dir()


def test_matched_objects_are_columns_where_the_metric_matches(airbus, severstal, tmp_path):
    with_objects = _parse(write_report_page(airbus.report, tmp_path / "a"))
    by_id = {r["image_id"]: r for r in airbus.report.per_image}
    for row in with_objects.rows:
        ref = by_id[row["cells"][0]]
        assert [int(c) for c in row["cells"][4:7]] == [ref["tp"], ref["fp"], ref["fn"]]
    assert sum(int(r["cells"][6]) for r in with_objects.rows) >= 2  # the missed ships
    without = _parse(write_report_page(severstal.report, tmp_path / "s"))
    assert len(without.rows[0]["cells"]) == 6  # id, class, score, areas, outcome
    assert {r["cells"][1] for r in without.rows} == {"1", "2", "3", "4"}


def test_a_rewrite_replaces_the_overlays_and_a_failure_keeps_the_old_page(
    siim, tmp_path, monkeypatch
):
    write_report_page(siim.report, tmp_path, data=siim.data)
    files = tmp_path / "index_files"
    assert len(list(files.glob("t*.png"))) == 16 and len(list(files.glob("f*.png"))) == 16
    write_report_page(siim.report, tmp_path, data=siim.data, max_thumbnails=4, full_size=False)
    assert len(list(files.glob("t*.png"))) == 4 and not list(files.glob("f*.png"))
    before = (tmp_path / "index.html").read_text()

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_page, "draw_overlay", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report_page(siim.report, tmp_path, data=siim.data)
    assert (tmp_path / "index.html").read_text() == before
    assert len(list(files.glob("t*.png"))) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html", "index_files"]


def test_a_page_inside_its_data_folder_does_not_read_its_own_overlays(severstal, tmp_path):
    images = tmp_path / "train_images"
    shutil.copytree(severstal.data, images)
    write_report_page(severstal.report, images / "page", data=images)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # load_dataset warns of images without labels rows
        page = write_report_page(severstal.report, images / "page", data=images)
    assert len(_parse(page).images) == 24


def test_to_html_is_the_page(siim, tmp_path):
    page = siim.report.to_html(tmp_path / "run" / "report.html", data=siim.data,
                               max_thumbnails=2)
    assert page == tmp_path / "run" / "report.html"
    assert len(_parse(page).images) == 2
    assert (tmp_path / "run" / "report_files").is_dir()


def test_images_given_as_a_list_of_paths_or_a_mapping(siim, tmp_path):
    paths = sorted(siim.root.rglob("*.dcm"))[:5]  # a validation split: ids are the stems
    table = _parse(write_report_page(siim.report, tmp_path / "a", data=paths))
    assert len(table.images) == 16 and "11 drawn on a neutral grey" in table.counts
    by_id = {p.stem: p for p in paths[:2]}
    table = _parse(write_report_page(siim.report, tmp_path / "b", data=by_id))
    assert "14 drawn on a neutral grey" in table.counts


def test_a_report_without_masks_says_why_it_has_no_thumbnails(siim, tmp_path):
    report = SimpleNamespace(**{**vars(siim.report), "submission": {"a": "1 2"}})
    table = _parse(write_report_page(report, tmp_path, data=siim.data))
    assert table.images == [] and len(table.rows) == 16
    assert "No thumbnails: the report's submission holds no masks" in table.counts


def test_a_report_of_mappings_draws_their_rows(tmp_path):
    truth, pred = np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)
    truth[1:4, 1:4] = 1
    pred[2:5, 2:6] = 1
    report = rlemask.score({"a": [rlemask.Runs.from_mask(pred)], "b": [], "x": []},
                           {"a": [rlemask.encode(truth)], "b": [], "c": []}, shape=(8, 8),
                           format="siim")
    page = report.to_html(tmp_path, max_thumbnails=3)
    assert len(_parse(page).images) == 3
    text = page.read_text()
    assert "1 truth id without a submission row, scored as empty: c." in text
    assert "1 submission id not in the truth, not scored: x." in text
    index = [r["image_id"] for r in report.per_image].index("a")
    full = np.asarray(Image.open(tmp_path / "index_files" / f"f{index:06d}.png"))
    painted = full < 4 * report_overlays.LEVELS  # not a box outline
    assert ((full // report_overlays.LEVELS) == truth + 2 * pred)[painted].all()


def test_rows_the_empty_rule_skipped_come_last_and_say_so(tmp_path):
    truth = np.zeros((8, 8), np.uint8)
    truth[1:4, 1:4] = 1
    text = rlemask.encode(truth)
    report = rlemask.score({"a": [text], "b": [], "c": []}, {"a": [text], "b": [], "c": [text]},
                           shape=(8, 8), format="siim", empty="skip")
    table = _parse(write_report_page(report, tmp_path))
    assert [r["cells"][0] for r in table.rows] == ["c", "a", "b"]  # 0, 1, then skipped
    assert table.rows[-1]["cells"][1] == "skipped" and table.rows[-1]["data_v"] == ""


def test_bad_arguments_name_the_parameter(siim, tmp_path):
    with pytest.raises(TypeError, match="`report` must be a rlemask.ScoreReport"):
        write_report_page({"score": 1.0}, tmp_path)
    with pytest.raises(ValueError, match=r"`max_thumbnails` must be an int >= 0"):
        write_report_page(siim.report, tmp_path, max_thumbnails=-1)
    with pytest.raises(ValueError, match=r"`thumbnail_size` must be an int >= 16"):
        write_report_page(siim.report, tmp_path, thumbnail_size=8)
    (tmp_path / "taken").write_text("")
    with pytest.raises(ValueError, match="`path` must be a folder or an .html file"):
        write_report_page(siim.report, tmp_path / "taken")
    with pytest.raises(ValueError, match="`data` must be a folder"):
        write_report_page(siim.report, tmp_path, data=tmp_path / "nowhere")
    with pytest.raises(TypeError, match="`data` must be a folder, a rlemask Dataset"):
        write_report_page(siim.report, tmp_path, data=42)


# -- which rows get thumbnails ------------------------------------------------------
def _reference_selection(rows, limit):
    """The issue's rule written out: worst first, every FP and FN, a sample; ``limit`` at most."""
    scored = [i for i, r in enumerate(rows) if not math.isnan(r.score)]
    worst = scored[: min(report_page.N_WORST, limit)]
    errors = [i for i, r in enumerate(rows) if r.outcome in ("fp", "fn") and i not in worst]
    must = worst + errors[: max(0, limit - len(worst))]
    n_rest = len(rows) - len(must)
    return set(must), min(limit, len(must) + min(report_page.N_SAMPLE, n_rest))


@given(
    st.lists(st.tuples(st.sampled_from([0.0, 0.3, 0.5, 1.0, math.nan]),
                       st.integers(0, 2), st.integers(0, 2)), max_size=160),
    st.integers(0, 220), st.integers(0, 3),
)
def test_thumbnails_go_to_the_worst_rows_the_errors_and_a_sample(entries, limit, seed):
    per_image = [{"image_id": f"i{k:03d}", "class": None, "score": s, "truth_area": t,
                  "pred_area": p, "tp": None, "fp": None, "fn": None}
                 for k, (s, t, p) in enumerate(entries)]
    rows = report_page._rows(SimpleNamespace(per_image=per_image))
    chosen = report_page._select(rows, limit, seed)
    positions = {rows.index(r) for r in chosen.rows}
    must, n_expected = _reference_selection(rows, limit)
    assert must <= positions and len(positions) == n_expected
    assert chosen.all_errors == all(rows.index(r) in positions for r in rows
                                    if r.outcome in ("fp", "fn"))
    assert report_page._select(rows, limit, seed) == chosen  # seeded


# -- the overlays ---------------------------------------------------------------------
def test_overlay_colours_are_the_three_okabe_ito_blends_with_a_box_per_region():
    grey = np.full((40, 60), 200, np.uint8)
    truth = np.zeros((40, 60), np.uint8)
    pred = np.zeros((40, 60), np.uint8)
    truth[5:15, 5:25] = 1
    pred[10:20, 15:35] = 1
    pred[30:35, 50:55] = 1  # a second region of the prediction
    out = np.asarray(overlay_image(grey, truth, pred).convert("RGB")).astype(int)
    level = 200 * 60 // 256
    g = level * 255 / 59  # the grey kept: 60 levels

    def blend(colour):
        return np.round(0.5 * g + 0.5 * np.asarray(colour)).astype(int)

    assert (out[2, 2] == round(g)).all()  # nothing
    assert (out[7, 10] == blend(COLOURS["truth"])).all()  # truth only
    assert (out[17, 30] == blend(COLOURS["prediction"])).all()  # prediction only
    assert (out[12, 20] == blend(COLOURS["both"])).all()  # both
    # boxes: each region outlined in its side's pure colour (the truth's top and left
    # edges, which no prediction box crosses; all of the second prediction region's)
    assert (out[5, 5:25] == COLOURS["truth"]).all() and (out[5:15, 5] == COLOURS["truth"]).all()
    y0, y1, x0, x1 = 30, 35, 50, 55
    edge = np.concatenate([out[y0, x0:x1], out[y1 - 1, x0:x1], out[y0:y1, x0], out[y0:y1, x1 - 1]])
    assert (edge == COLOURS["prediction"]).all()
    assert (out[32, 52] == blend(COLOURS["prediction"])).all()  # inside: not a filled box
    plain = np.asarray(overlay_image(grey, truth, pred, boxes=False).convert("RGB")).astype(int)
    assert (plain[5, 5] == blend(COLOURS["truth"])).all()
    with pytest.raises(ValueError, match="must have the image's shape"):
        overlay_image(grey, truth[:5], pred)


def test_large_images_are_drawn_reduced_keeping_every_region(siim, tmp_path, monkeypatch):
    monkeypatch.setattr(report_overlays, "MAX_OVERLAY_SIDE", 32)  # as a 30,000 px image at 4,096
    page = write_report_page(siim.report, tmp_path, data=siim.data, max_thumbnails=16)
    for row in siim.report.per_image:
        if not row["truth_area"]:
            continue
        index = siim.report.per_image.index(row)
        full = np.asarray(Image.open(tmp_path / "index_files" / f"f{index:06d}.png"))
        assert full.shape == (32, 32)
        truth = rlemask.resize_mask(siim.report.truth.mask(row["image_id"], None, (128, 128)),
                                    32, method="any")
        pred = rlemask.resize_mask(siim.report.submission.mask(row["image_id"], None, (128, 128)),
                                   32, method="any")
        painted = full < 4 * report_overlays.LEVELS  # not a box outline
        states = (full // report_overlays.LEVELS)[painted]
        assert (states == (truth + 2 * pred)[painted]).all() and painted.mean() > 0.5
    assert page.is_file()


def test_wide_images_get_wide_thumbnails(severstal, tmp_path):
    table = _parse(write_report_page(severstal.report, tmp_path, data=severstal.data))
    sizes = {(int(i["width"]), int(i["height"])) for i in table.images}
    assert sizes == {(200, 32)}  # 32 x 200 fits 320 x 160 unscaled


# -- the command ------------------------------------------------------------------------
def test_report_command_writes_the_page(siim, tmp_path):
    out = tmp_path / "page"
    done = subprocess.run(
        [sys.executable, "-m", "rlemask", "report", str(siim.sub), str(siim.root / "train-rle.csv"),
         "--out", str(out), "--shape", "128", "128", "--data", str(siim.root),
         "--thumbnails", "5"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"{out / 'index.html'}: 16 rows, 5 thumbnails" in done.stdout
    assert "all-empty baseline" in done.stdout  # the score's own table follows
    table = _parse(out / "index.html")
    assert len(table.rows) == 16 and len(table.images) == 5



def test_report_command_names_its_flags_in_errors(siim, tmp_path, capsys):
    from rlemask.cli import main

    args = [str(siim.sub), str(siim.root / "train-rle.csv"), "--out", str(tmp_path)]
    assert main(["report", *args, "--data", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip().endswith("--data '" + str(tmp_path / "nowhere")
                                                    + "' is not a folder")
    assert main(["report", *args, "--thumbnails", "-1"]) == 2
    assert "--thumbnails -1: must be 0 or more" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "none.csv"), *args[1:]]) == 2
    assert "SUB" in capsys.readouterr().err
    assert not (tmp_path / "index.html").exists()


# -- in Chromium --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"browser tests: no Chromium at {CHROMIUM} (make browser installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests: Playwright for Python is not installed (make install: "
                    "the dev extra)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, page_path: Path, **context):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
    page = ctx.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    # nothing from the network: every request is for the page's own files
    page.on("request", lambda r: None if r.url.startswith(("file://", "data:")) else
            problems.append(f"fetched: {r.url}"))
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


_VISIBLE_ROWS = "Array.from(document.querySelectorAll('#rows tbody tr')).filter(r => !r.hidden)"


def _column(page, index: int) -> list[str]:
    """The visible rows' ``data-v`` or text in column ``index`` (negative: from the end)."""
    cell = f"r.cells[{index} < 0 ? r.cells.length + ({index}) : {index}]"
    return page.evaluate(f"{_VISIBLE_ROWS}.map(r => {cell}.dataset.v ?? {cell}.textContent)")


# the thumbnails in view have finished loading, or failed to
_VISIBLE_THUMBNAILS_DONE = """() => Array.from(document.querySelectorAll('#rows img')).filter(
    i => i.offsetParent !== null && i.getBoundingClientRect().top < innerHeight).every(
    i => i.complete)"""


def _visible_thumbnails_loaded(page) -> bool:
    return page.evaluate("""() => {
        const shown = Array.from(document.querySelectorAll('#rows img')).filter(img => {
            const box = img.getBoundingClientRect();
            return box.bottom > 0 && box.top < innerHeight && img.offsetParent !== null;
        });
        return shown.length > 0 && shown.every(img => img.complete && img.naturalWidth > 0);
    }""")


def test_page_sorts_filters_and_shows_its_thumbnails_in_chromium(siim, browser, tmp_path):
    page_path = write_report_page(siim.report, tmp_path / "page", data=siim.data)
    page, problems = _open(browser, page_path)
    page.wait_for_function(_VISIBLE_THUMBNAILS_DONE)
    assert _visible_thumbnails_loaded(page)
    page.screenshot(path=str(tmp_path / "siim.png"))
    assert (tmp_path / "siim.png").stat().st_size > 10_000

    score = 2  # overlay, image id, score, ...
    page.click("#rows th:nth-child(3) button")  # sorted ascending already: now descending
    scores = [float(v) for v in _column(page, score)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 16
    page.click("#rows th:nth-child(3) button")
    assert [float(v) for v in _column(page, score)] == sorted(scores)
    page.click("#rows th:nth-child(4) button")  # truth area
    areas = [int(v) for v in _column(page, 3)]
    assert areas == sorted(areas)
    page.click("#rows th:nth-child(2) button")  # image id: digits compare as numbers
    ids = _column(page, 1)

    def natural(text):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]

    assert ids == sorted(ids, key=natural) and len(set(ids)) == 16

    for code in ("tp", "fp", "tn"):
        page.uncheck(f"#filters input[value={code}]")
    outcomes = _column(page, -1)
    n_fn = sum(_outcome(r["truth_area"], r["pred_area"]) == "fn" for r in siim.report.per_image)
    assert outcomes == ["false negative"] * n_fn and n_fn > 0
    assert page.inner_text("#shown") == f"Showing {n_fn} of 16 rows"
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function(_VISIBLE_THUMBNAILS_DONE)
    assert _visible_thumbnails_loaded(page)
    assert problems == []


def test_a_long_table_shows_a_thousand_rows_at_a_time_in_chromium(browser, tmp_path):
    per_image = [{"image_id": f"i{k:05d}", "class": None, "score": (k * 7919 % 1200) / 1200,
                  "truth_area": k % 3, "pred_area": k % 2, "tp": None, "fp": None, "fn": None}
                 for k in range(1200)]
    report = SimpleNamespace(score=0.5, metric="dice", options={"empty": 1.0}, n_images=1200,
                             all_empty_baseline=0.5, positive_only=0.4, per_class={},
                             per_image=per_image, truth=None, submission=None, shape=None)
    page, problems = _open(browser, write_report_page(report, tmp_path))
    assert len(_column(page, 1)) == 1000
    assert page.inner_text("#shown") == (
        "Showing the first 1,000 of 1,200 matching rows (1,200 in all)")
    page.click("#rows th:nth-child(2) button")  # score (no overlay column): now descending
    every = sorted((r["score"] for r in per_image), reverse=True)
    assert [float(v) for v in _column(page, 1)] == every[:1000]
    page.uncheck("#filters input[value=tn]")  # 1,200 - 200 true negatives: 1,000 left
    assert page.inner_text("#shown") == "Showing 1,000 of 1,200 rows"
    assert not page.is_visible("#more")
    page.check("#filters input[value=tn]")
    page.click("#more button:last-child")  # show all
    assert len(_column(page, 1)) == 1200 and not page.is_visible("#more")
    assert problems == []


def test_classes_filter_in_chromium(severstal, browser, tmp_path):
    page_path = write_report_page(severstal.report, tmp_path, data=severstal.data)
    page, problems = _open(browser, page_path)
    page.select_option("#filters select[name=class]", "3")
    classes = _column(page, 2)
    assert classes == ["3"] * 6
    assert page.inner_text("#shown") == "Showing 6 of 24 rows"
    page.screenshot(path=str(tmp_path / "severstal.png"), full_page=True)
    assert problems == []


def test_page_reads_without_javascript(airbus, browser, tmp_path):
    page_path = write_report_page(airbus.report, tmp_path, data=airbus.data)
    page, problems = _open(browser, page_path, java_script_enabled=False)
    assert page.locator("#rows tbody tr").count() == len(airbus.report.per_image)
    assert page.is_visible("#rows") and not page.is_visible("#filters")
    assert page.locator("#rows th button").count() == 0  # no sort buttons without the script
    page.screenshot(path=str(tmp_path / "airbus-nojs.png"))
    assert problems == []
