"""``rlemask.score`` on the real files of ../shared/real/: against themselves and perturbed copies.

Each perturbed score is compared with a slow reference that decodes every
object densely (in the test, with a plain loop) -- or, for SIIM, with
``rlemask.evaluate``, the SIIM special case.
"""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

import rlemask

SWEEP = [Fraction(50 + 5 * i, 100) for i in range(10)]


def rows_of(path) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def trim_last_run(rle: str) -> str:
    tokens = rle.split()
    return " ".join(tokens[:-2]) if len(tokens) > 2 else rle


def dense(rle: str, npix: int) -> np.ndarray:
    """Kaggle text -> linear 0/1 array, pixel by pixel (the obvious reference)."""
    out = np.zeros(npix, bool)
    values = [int(v) for v in rle.split()]
    for start, length in zip(values[0::2], values[1::2], strict=True):
        out[start - 1 : start - 1 + length] = True
    return out


def paint(rles: list[str], npix: int) -> np.ndarray:
    """Label vector of one side's objects (object k painted k + 1), checking they are disjoint."""
    label = np.zeros(npix, np.int64)
    for k, rle in enumerate(rles):
        values = [int(v) for v in rle.split()]
        for start, length in zip(values[0::2], values[1::2], strict=True):
            assert not label[start - 1 : start - 1 + length].any(), "objects overlap"
            label[start - 1 : start - 1 + length] = k + 1
    return label


def ref_sweep_image(truth: list[str], pred: list[str], npix: int, f2: bool) -> float:
    """TP / (TP + FP + FN) (or F2) per threshold from the dense intersection table."""
    if not truth and not pred:
        return 1.0
    n, m = len(truth), len(pred)
    table = np.bincount(paint(truth, npix) * (m + 1) + paint(pred, npix),
                        minlength=(n + 1) * (m + 1)).reshape(n + 1, m + 1)
    area_t, area_p = table[1:].sum(axis=1), table[:, 1:].sum(axis=0)
    scores = []
    for thr in SWEEP:
        tp = sum(
            1
            for i in range(n)
            for j in range(m)
            if table[i + 1, j + 1]
            and Fraction(int(table[i + 1, j + 1]),
                         int(area_t[i] + area_p[j] - table[i + 1, j + 1])) > thr
        )
        fp, fn = m - tp, n - tp
        scores.append(5 * tp / (5 * tp + 4 * fn + fp) if f2 else tp / (tp + fp + fn))
    return float(np.mean(scores))


def grouped(rows) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for image_id, rle in rows:
        out.setdefault(image_id, [])
        if rle.strip():
            out[image_id].append(rle)
    return out


@pytest.mark.parametrize(
    ("name", "competition", "f2"),
    [
        ("dsb2018/stage1_submission_jessecambon.csv", "data-science-bowl-2018", False),
        ("airbus/train_ship_segmentations_v2.sample.csv", "airbus-ship-detection", True),
    ],
)
def test_instance_files_against_themselves_and_a_perturbed_copy(
    real_dir, tmp_path, name, competition, f2
):
    path = real_dir / name
    assert rlemask.score(path, path, competition=competition).score == 1.0
    header, rows = rows_of(path)
    perturbed = []
    for i, (image_id, rle) in enumerate(rows):
        if i % 4 == 1:
            continue  # a missed object
        perturbed.append([image_id, trim_last_run(rle) if i % 3 == 0 else rle])
    sub = write(tmp_path / "sub.csv", header, perturbed)
    report = rlemask.score(sub, path, competition=competition)
    truth, pred = grouped(rows), grouped(perturbed)
    npix = max(int(v[-2]) + int(v[-1]) for v in (r.split() for _, r in rows if r.strip()))
    expected = {i: ref_sweep_image(truth[i], pred.get(i, []), npix, f2) for i in truth}
    got = {row["image_id"]: row["score"] for row in report.per_image}
    assert got == pytest.approx(expected)
    assert report.score == pytest.approx(np.mean(list(expected.values())))
    assert 0.0 < report.score < 1.0


def test_siim_dice_equals_evaluate_on_the_real_submission(real_dir, tmp_path):
    header, rows = rows_of(real_dir / "siim" / "stage1_submission_asuiu_kaggle1.csv.gz")
    path = write(tmp_path / "truth.csv", header, rows)  # evaluate reads plain CSV only
    perturbed, k, n = [], 0, 0
    for image_id, rle in rows:
        if rle.strip() != "-1":
            k += 1
            if k % 3 == 0:
                rle = "-1"  # a missed region
            elif k % 3 == 1:
                rle = trim_last_run(rle)  # a region cut short (relative offsets: still valid)
        else:
            n += 1
            if n % 10 == 0:
                rle = "100 20"  # a false alarm on an empty image
        perturbed.append([image_id, rle])
    sub = write(tmp_path / "sub.csv", header, perturbed)
    expected = rlemask.evaluate(sub, path)
    report = rlemask.score(sub, path, metric="dice", format="siim", shape=(1024, 1024))
    assert report.score == pytest.approx(expected.mean_dice)
    assert report.all_empty_baseline == pytest.approx(expected.all_empty_baseline)
    assert report.positive_only == pytest.approx(expected.dice_positive)
    assert [r["score"] for r in report.per_image] == pytest.approx(
        [r.dice for r in expected.per_image]
    )
    assert 0.5 < report.score < 1.0
    comp = rlemask.score(sub, path, competition="siim-acr-pneumothorax-segmentation")
    assert comp.score == report.score
    assert rlemask.score(path, path, competition="siim-acr-pneumothorax-segmentation").score == 1


def test_severstal_class_dice_against_a_dense_reference(real_dir, tmp_path):
    path = real_dir / "severstal" / "test_pseudo_labels_khornlund.csv"
    competition = "severstal-steel-defect-detection"
    assert rlemask.score(path, path, competition=competition).score == 1.0
    header, rows = rows_of(path)
    perturbed, expected, k = [], [], 0
    npix = 256 * 1600
    for key, rle in rows:
        if rle.strip():
            k += 1
            new = "" if k % 5 == 0 else trim_last_run(rle)
            t, p = dense(rle, npix), dense(new, npix)
            expected.append(2 * (t & p).sum() / (t.sum() + p.sum()))
        else:
            new = ""
            expected.append(1.0)
        perturbed.append([key, new])
    sub = write(tmp_path / "sub.csv", header, perturbed)
    report = rlemask.score(sub, path, competition=competition)
    assert report.score == pytest.approx(np.mean(expected))
    assert set(report.per_class) == {"1", "2", "3", "4"}
    assert report.all_empty_baseline == pytest.approx(np.mean([not r.strip() for _, r in rows]))


def test_score_command_with_a_competition(real_dir):
    path = real_dir / "dsb2018" / "stage1_submission_jessecambon.csv"
    result = subprocess.run(
        [sys.executable, "-m", "rlemask", "score", str(path), str(path),
         "--competition", "data-science-bowl-2018", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["score"] == 1.0 and data["metric"] == "iou-sweep"
    assert data["all_empty_baseline"] == 0.0 and data["n_images"] == 65


def test_score_command_reads_each_side_in_its_own_format(tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text("ImageId,EncodedPixels\na,1 2 7 1 7 2 9 1\nb,-1\n")  # siim
    sub = tmp_path / "sub.csv"
    sub.write_text("ImageId,EncodedPixels\na,2 2 11 1 19 2 30 1\nb,\n")  # the same, kaggle
    result = subprocess.run(
        [sys.executable, "-m", "rlemask", "score", str(sub), str(truth), "--metric", "dice",
         "--truth-format", "siim", "--sub-format", "kaggle", "--shape", "6", "5"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "score                   1.0000" in result.stdout
    assert "all-empty baseline      0.5000" in result.stdout


def test_uw_madison_file_against_itself(real_dir):
    path = real_dir / "uw-madison" / "submission_predicted_azkalot1.csv"
    # the file has no height/width columns: every slice read as 360 x 360 (all rows fit)
    r = rlemask.score(path, path, competition="uw-madison-gi-tract-image-segmentation",
                      shape=(360, 360))
    assert r.score == 1.0 and r.all_empty_baseline == 0.0
    assert r.options["empty"] == "skip" and r.options["classes"] == "union"
    assert len(r.extra["per_volume"]) == 44  # case-days
    assert set(r.per_class) == {"large_bowel", "small_bowel", "stomach"}


def test_report_page(real_dir, tmp_path):
    path = real_dir / "airbus" / "train_ship_segmentations_v2.sample.csv"
    r = rlemask.score(path, path, competition="airbus-ship-detection")
    page = r.to_html(tmp_path / "page")
    assert page.name == "index.html"
    assert "00a1aab5b.jpg" in page.read_text()


def test_score_command_names_its_flags(tmp_path, capsys):
    from rlemask.cli import main

    path = tmp_path / "one.csv"
    path.write_text("ImageId,EncodedPixels\na,1 2\n")
    assert main(["score", str(path), str(path), "--metric", "dice"]) == 2
    err = capsys.readouterr().err
    assert "undecided" in err and "--format or --truth-format" in err and "format=" not in err
