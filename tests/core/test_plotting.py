"""Figures: expected axes and artists, and PNGs that are really PNGs."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

import rlemask
from rlemask.plotting import (
    FN_COLOUR,
    FP_COLOUR,
    TP_COLOUR,
    plot_dataset_overview,
    plot_prediction_grid,
    plot_prediction_overlay,
    plot_with_mask_and_bbox,
    save_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_set(synthetic_siim_small):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files, labels = rlemask.load_siim(synthetic_siim_small)
    return files, labels


def _rectangles(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000
    with Image.open(path) as img:
        img.verify()


# --- plot_with_mask_and_bbox -------------------------------------------------------------------


def test_mask_and_bbox_one_rectangle_per_region(small_set):
    files, labels = small_set
    three = next(f for f in files if len(labels[f.stem]) == 3)
    fig = plot_with_mask_and_bbox(three, labels[three.stem])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    ax0, ax1 = fig.axes
    assert len(ax0.get_images()) == 1  # the radiograph
    assert len(ax1.get_images()) == 2  # radiograph + mask overlay
    boxes = _rectangles(ax1)
    assert len(boxes) == 3 and not _rectangles(ax0)
    assert three.stem in ax0.get_title()
    assert "3 RLE rows" in ax1.get_title() and "3 connected regions" in ax1.get_title()
    mask = rlemask.merge(labels[three.stem], shape=(256, 256))
    assert f"{int(mask.sum())} px" in ax1.get_title()
    # each rectangle frames exactly one bbox (half-pixel outside the pixel centres)
    expected = sorted((x - 0.5, y - 0.5, w, h) for x, y, w, h in rlemask.bboxes(mask))
    got = sorted((r.get_x(), r.get_y(), r.get_width(), r.get_height()) for r in boxes)
    assert got == expected
    overlay = ax1.get_images()[1].get_array()
    assert overlay.shape == (256, 256, 4)
    np.testing.assert_array_equal(np.asarray(overlay)[..., 3] > 0, mask == 1)


def test_mask_and_bbox_negative_image_and_single_string(small_set):
    files, labels = small_set
    negative = next(f for f in files if not labels[f.stem])
    fig = plot_with_mask_and_bbox(negative, [])
    assert not _rectangles(fig.axes[1])
    assert "no pneumothorax" in fig.axes[1].get_title()
    fig = plot_with_mask_and_bbox(negative, " -1")
    assert not _rectangles(fig.axes[1])
    one = next(f for f in files if len(labels[f.stem]) == 1)
    fig = plot_with_mask_and_bbox(str(one), labels[one.stem][0], figsize=(8, 4))
    assert len(_rectangles(fig.axes[1])) == 1
    assert tuple(fig.get_size_inches()) == (8, 4)


def test_mask_and_bbox_bad_rle_raises_rle_error(small_set):
    files, _ = small_set
    with pytest.raises(rlemask.RLEError):
        plot_with_mask_and_bbox(files[0], ["3 x"])


def test_mask_and_bbox_missing_file(tmp_path):
    with pytest.raises((rlemask.DicomError, OSError)):
        plot_with_mask_and_bbox(tmp_path / "nope.dcm", [])


# --- prediction overlays -----------------------------------------------------------------------


def _toy():
    image = np.linspace(0, 1, 40 * 40, dtype=np.float32).reshape(40, 40)
    truth = np.zeros((40, 40), np.uint8)
    truth[10:20, 10:20] = 1  # 100 px
    pred = np.zeros((40, 40), np.float32)
    pred[15:25, 10:20] = 0.9  # 50 px TP, 50 px FP, 50 px FN
    pred[30, 30] = 0.4  # below the threshold
    return image, truth, pred


def test_overlay_colours_legend_and_dice():
    image, truth, pred = _toy()
    fig = plot_prediction_overlay(image, truth, pred, title="case")
    ax = fig.axes[0]
    assert ax.get_title() == "case\nDice 0.500"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["true positive (50 px)", "false positive (50 px)", "false negative (50 px)"]
    rgba = np.asarray(ax.get_images()[1].get_array())
    assert tuple(rgba[12, 12, :3]) == pytest.approx(FN_COLOUR)
    assert tuple(rgba[17, 12, :3]) == pytest.approx(TP_COLOUR)
    assert tuple(rgba[22, 12, :3]) == pytest.approx(FP_COLOUR)
    assert rgba[30, 30, 3] == 0  # 0.4 < threshold: nothing drawn
    assert len({TP_COLOUR, FP_COLOUR, FN_COLOUR}) == 3


def test_overlay_threshold_and_channel_axis():
    image, truth, pred = _toy()
    fig = plot_prediction_overlay(
        image[..., None], truth[..., None], pred[..., None], threshold=0.3
    )
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[1] == "false positive (51 px)"


def test_overlay_draws_into_a_given_axes():
    image, truth, pred = _toy()
    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    out = plot_prediction_overlay(image, truth, pred, ax=ax, legend=False)
    assert out is fig and ax.get_legend() is None and len(ax.get_images()) == 2


def test_overlay_shape_mismatch_names_the_argument():
    image, truth, pred = _toy()
    with pytest.raises(ValueError, match="`pred` must have the image's shape"):
        plot_prediction_overlay(image, truth, pred[:20])
    with pytest.raises(ValueError, match="`image` must be a 2-D array"):
        plot_prediction_overlay(np.zeros((2, 3, 4)), truth, pred)


def test_prediction_grid_panels_legend_and_mean_dice():
    image, truth, pred = _toy()
    images = np.stack([image] * 5)
    truths = np.stack([truth, truth, truth, np.zeros_like(truth), np.zeros_like(truth)])
    preds = np.stack([pred, truth.astype(np.float32), pred, np.zeros_like(pred), pred])
    fig = plot_prediction_grid(
        images, truths, preds, ids=[f"image-{i}" for i in range(5)], ncols=2, title="val"
    )
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 5 and len(fig.axes) == 6  # 3 x 2 grid, one spare cell hidden
    assert [ax.get_title().split("\n")[0] for ax in visible] == [f"image-{i}" for i in range(5)]
    expected = np.mean([0.5, 1.0, 0.5, 1.0, 0.0])
    assert fig._suptitle.get_text() == f"val · mean per-image Dice {expected:.3f} over 5 images"
    assert len(fig.legends) == 1
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["true positive", "false positive", "false negative"]


def test_prediction_grid_rejects_mismatched_lengths():
    image, truth, pred = _toy()
    with pytest.raises(ValueError, match="same length"):
        plot_prediction_grid([image, image], [truth], [pred, pred])
    with pytest.raises(ValueError, match="`ids`"):
        plot_prediction_grid([image], [truth], [pred], ids=["a", "b"])
    with pytest.raises(ValueError, match="ncols"):
        plot_prediction_grid([image], [truth], [pred], ncols=0)


# --- data-set overview -------------------------------------------------------------------------


def test_overview_thumbnails_and_statistics(small_set):
    files, labels = small_set
    fig = plot_dataset_overview(files, labels, n=6, seed=1)
    assert len(fig.axes) == 6 + 3
    thumbs, (share, regions, areas) = fig.axes[:6], fig.axes[6:]
    states = [ax.get_title().split("\n")[1] for ax in thumbs]
    assert sum(s != "negative" for s in states) == 3  # half positives
    heights = [p.get_height() for p in share.patches]
    assert heights == [8, 8]  # negative, positive
    counts = {
        int(t.get_text()): p.get_height()
        for t, p in zip(regions.get_xticklabels(), regions.patches, strict=True)
    }
    assert counts == {1: 5, 2: 2, 3: 1}
    assert sum(p.get_height() for p in areas.patches) == 8
    assert areas.get_xscale() == "log"


@pytest.fixture
def rows_not_regions(tmp_path, make_dicom, box_rle):
    """Four positives whose RLE rows and connected regions differ.

    ``two_rows_one_region``: two overlapping rows; ``one_row_two_regions``: one row
    holding two separate blobs; ``plain``: one row, one region; three chained rows.
    """
    from functools import partial

    rle = partial(box_rle, (32, 32))
    labels = {
        "two_rows_one_region": [rle((2, 10, 2, 10)), rle((6, 14, 6, 14))],
        "one_row_two_regions": [rle((2, 6, 2, 6), (20, 26, 20, 26))],
        "plain": [rle((4, 8, 4, 8))],
        "three_rows_one_region": [rle((2, 10, 2, 10)), rle((4, 12, 4, 12)), rle((9, 16, 9, 16))],
    }
    files = [make_dicom(tmp_path / f"{key}.dcm", np.full((32, 32), 90, np.uint8))
             for key in labels]
    return files, labels


def test_rows_and_connected_regions_are_counted_apart(rows_not_regions):
    # "region" means a connected region: a row is not one (issue 9)
    files, labels = rows_not_regions
    by_id = {f.stem: f for f in files}
    title = plot_with_mask_and_bbox(by_id["two_rows_one_region"],
                                    labels["two_rows_one_region"]).axes[1].get_title()
    assert title.startswith("2 RLE rows\n1 connected region,")
    title = plot_with_mask_and_bbox(by_id["one_row_two_regions"],
                                    labels["one_row_two_regions"]).axes[1].get_title()
    assert title.startswith("1 RLE row\n2 connected regions,")

    fig = plot_dataset_overview(files, labels, n=4, seed=0)
    states = sorted(ax.get_title().split("\n")[1] for ax in fig.axes[:4])
    assert states == ["1 RLE row, 1 region", "1 RLE row, 2 regions", "2 RLE rows, 1 region",
                      "3 RLE rows, 1 region"]
    regions = fig.axes[5]
    counts = {
        int(t.get_text()): p.get_height()
        for t, p in zip(regions.get_xticklabels(), regions.patches, strict=True)
    }
    assert counts == {1: 3, 2: 1}  # by rows it would be {1: 2, 2: 1, 3: 1}
    assert "connected regions" in regions.get_title()


def test_overview_is_deterministic_for_a_seed(small_set):
    files, labels = small_set

    def titles(seed):
        fig = plot_dataset_overview(files, labels, n=4, seed=seed)
        return [ax.get_title() for ax in fig.axes[:4]]

    assert titles(3) == titles(3)
    assert titles(3) != titles(4) or titles(3) != titles(5)


def test_overview_counts_unlabelled_images(small_set):
    files, labels = small_set
    partial = dict(list(labels.items())[:10])
    fig = plot_dataset_overview(files, partial, n=0)
    assert len(fig.axes) == 3
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "negative",
        "positive",
        "unlabelled",
    ]
    assert fig.axes[0].patches[2].get_height() == 6


def test_overview_rejects_empty_list():
    with pytest.raises(ValueError, match="file_path_list"):
        plot_dataset_overview([], {})


# --- saving ------------------------------------------------------------------------------------


def test_save_figure_writes_a_valid_png_atomically(tmp_path, small_set):
    files, labels = small_set
    fig = plot_with_mask_and_bbox(files[0], labels[files[0].stem], figsize=(6, 3))
    out = save_figure(fig, tmp_path / "fig.png", dpi=50)
    assert out == tmp_path / "fig.png"
    _assert_png(out)
    with Image.open(out) as img:
        assert img.size == (300, 150)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]  # no temporary left


def test_save_figure_format_from_suffix_and_failure_leaves_nothing(tmp_path):
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1])
    svg = save_figure(fig, tmp_path / "line.svg")
    assert svg.read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "line.nosuchformat")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.svg"]


def test_public_names_and_no_pyplot():
    code = (
        "import sys, numpy as np, rlemask\n"
        "m = np.zeros((8, 8), np.uint8)\n"
        "rlemask.plot_prediction_overlay(m, m, m)\n"
        "rlemask.plot_prediction_grid([m], [m], [m])\n"
        "assert callable(rlemask.save_figure)\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --- any kind of data set, one colour per class (issue 22) ---------------------------------


@pytest.fixture
def steel_set(tmp_path):
    """Two 20 x 60 PNG strips with four classes (v1 Severstal layout), kaggle RLE."""
    import reference_rle as ref
    from PIL import Image

    rows = ["ImageId_ClassId,EncodedPixels"]
    boxes = {("a.png", "1"): (2, 8, 3, 20), ("a.png", "3"): (10, 18, 30, 50),
             ("b.png", "3"): (0, 5, 0, 5), ("b.png", "3b"): (12, 20, 40, 60)}
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((20, 60), 120, np.uint8)).save(tmp_path / name)
        for c in "1234":
            found = [b for (n, k), b in boxes.items() if n == name and k.startswith(c)]
            if not found:
                rows.append(f"{name}_{c},")
            for r0, r1, c0, c1 in found:
                mask = np.zeros((20, 60), np.uint8)
                mask[r0:r1, c0:c1] = 1
                rows.append(f"{name}_{c},{ref.kaggle_encode(mask)}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    return rlemask.load_dataset(tmp_path, tmp_path / "train.csv", format="kaggle")


def _overlay_colours(ax) -> set[tuple[float, float, float]]:
    rgba = ax.get_images()[-1].get_array()
    painted = np.asarray(rgba)[..., 3] > 0
    return {tuple(np.round(px[:3], 3)) for px in np.asarray(rgba)[painted]}


def test_one_colour_per_class_and_boxes_per_class(steel_set):
    from rlemask.plotting import CLASS_COLOURS, plot_sample

    fig = plot_sample(steel_set, "a.png")
    ax = fig.axes[1]
    expected = {tuple(np.round(np.float32(CLASS_COLOURS[k]), 3)) for k in (0, 2)}  # 1 and 3
    assert _overlay_colours(ax) == expected
    boxes = _rectangles(ax)
    assert len(boxes) == 2
    assert {tuple(np.round(b.get_edgecolor()[:3], 3)) for b in boxes} == {
        tuple(np.round(CLASS_COLOURS[k], 3)) for k in (0, 2)}
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["1: 102 px", "2: 0 px", "3: 160 px", "4: 0 px"]
    assert fig.axes[0].get_title() == "a.png\n60 x 20"
    # two rows of class 3 on b: two regions, both in class 3's colour
    fig = plot_sample(steel_set, "b.png")
    assert len(_rectangles(fig.axes[1])) == 2
    assert fig.axes[1].get_title().endswith("3: 2")


def test_large_images_are_shown_reduced_with_boxes_at_scale(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((400, 800), np.uint8)).save(tmp_path / "big.png")
    mask = np.zeros((400, 800), np.uint8)
    mask[100:200, 400:600] = 1
    fig = plot_with_mask_and_bbox(tmp_path / "big.png", [rlemask.encode(mask, format="kaggle")],
                                  format="kaggle", max_side=200)
    ax = fig.axes[1]
    assert ax.get_images()[0].get_array().shape == (100, 200)
    (box,) = _rectangles(ax)
    # the box of rows 100..199, columns 400..599 in a picture four times smaller
    assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (
        99.5, 24.5, 50.0, 25.0)
    assert "20000 px" in ax.get_title()  # counted at full size


def test_overview_of_a_multi_class_data_set(steel_set):
    fig = plot_dataset_overview(steel_set, n=2)
    assert len(fig.axes) == 2 + 3
    share = fig.axes[2]
    assert [t.get_text() for t in share.get_xticklabels()] == ["negative", "1", "2", "3", "4"]
    assert [p.get_height() for p in share.patches] == [0, 1, 0, 2, 0]
    regions = fig.axes[3]
    counts = {int(t.get_text()): p.get_height()
              for t, p in zip(regions.get_xticklabels(), regions.patches, strict=True)}
    assert counts == {2: 2}
    with pytest.raises(TypeError, match="`labels` is required"):
        plot_dataset_overview([Path("a.png")])
