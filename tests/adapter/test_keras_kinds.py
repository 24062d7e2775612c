"""``rlemask-keras train`` on every synthetic kind, as a user runs it: fresh processes.

For each kind of ``rlemask synth --kind`` (SIIM, Severstal, Airbus,
UW-Madison, HuBMAP): ``rlemask synth`` -> ``rlemask-keras train --data DIR
--labels CSV --competition NAME`` (tiny: 8 filters, depth 2, 1 epoch), and
the report checked against references computed here: the competition's
metric, its all-empty baseline by hand from the labels file (the share of
empty units), the validation predictions file in the competition's layout
rescored by ``rlemask.score`` to the report's score, and the per-class
post-processing ``predict`` reads.  Each kind exercises one more option:
``--policy pad`` (Airbus), ``--classifier`` (UW-Madison, Severstal), a
non-square ``--img-size HxW`` (Severstal), ``--tile`` (HuBMAP), ``--schedule``,
``--optimizer`` and ``--early-stopping`` (HuBMAP).

:func:`synth_kind` and :func:`train_kind` are the chain's first two steps,
kept as functions (and the module fixture ``trained_kind``) for the steps
that follow them (predict -> ``rlemask check`` -> ``rlemask score``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")

from commands import command  # noqa: E402

import rlemask  # noqa: E402
from rlemask.synthetic_layouts import LAYOUTS  # noqa: E402

pytestmark = [pytest.mark.keras]

#: per kind: the competition, ``rlemask synth`` arguments, extra ``train`` options
KINDS = {
    "siim": ("siim-acr-pneumothorax-segmentation", ["--images", 12, "--size", 128],
             ["--img-size", 64]),
    "severstal": ("severstal-steel-defect-detection", ["--images", 8, "--size", "64x400"],
                  ["--img-size", "32x208", "--classifier"]),
    "airbus": ("airbus-ship-detection", ["--images", 8, "--size", "128x128"],
               ["--img-size", 16, "--policy", "pad"]),
    "uw-madison": ("uw-madison-gi-tract-image-segmentation",
                   ["--images", 2, "--depth", 4, "--size", "64x64"],
                   ["--img-size", 64, "--classifier"]),
    "hubmap": ("hubmap-kidney-segmentation", ["--images", 3, "--size", "192x192"],
               ["--tile", 64, "--schedule", "cosine", "--optimizer", "adamw",
                "--early-stopping", 1]),
}  # fmt: skip
TINY = ["--filters", 8, "--depth", 2, "--epochs", 1, "--batch-size", 4, "--quiet", "--seed", 1]


def synth_kind(kind: str, root: Path) -> tuple[Path, Path]:
    """``rlemask synth --kind KIND`` (tiny) into ``root``: ``(images folder, labels file)``."""
    command("rlemask", "synth", root, "--kind", kind, *KINDS[kind][1])
    layout = LAYOUTS[kind]
    return root / layout["images"], root / layout["labels"]


def train_kind(kind: str, images: Path, labels: Path, out: Path, *extra) -> dict:
    """``rlemask-keras train --data --labels --competition`` of ``kind``; returns report.json."""
    competition, _, options = KINDS[kind]
    command("rlemask-keras", "train", "--data", images, "--labels", labels, "--competition",
            competition, "--out", out, *TINY, *options, *extra)  # fmt: skip
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=list(KINDS))
def trained_kind(request, tmp_path_factory):
    """One synthetic set and one run per kind: ``(kind, images, labels, run folder, report)``."""
    kind = request.param
    root = tmp_path_factory.mktemp(f"kind-{kind}")
    images, labels = synth_kind(kind, root / "data")
    report = train_kind(kind, images, labels, root / "run")
    return kind, images, labels, root / "run", report


def _rows_of(labels: Path, ids: set[str], kind: str, tmp: Path) -> Path:
    """The labels file's rows of the images ``ids`` only (header kept), as a new file."""
    with open(labels, newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    image = (lambda row: row[0].rsplit("_", 1)[0]) if kind == "severstal" else (lambda row: row[0])
    path = tmp / labels.name
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *(r for r in rows if image(r) in ids)])
    return path


def _empty_share(labels: Path, ids: set[str], kind: str) -> float:
    """The all-empty baseline by hand: the share of units (image, or image and class) with no
    region in the labels file, read as plain CSV (the last column is the RLE)."""
    if kind == "uw-madison":  # empty truth is skipped: an all-empty submission scores 0
        return 0.0
    with open(labels, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    units: dict[tuple[str, str], bool] = {}
    for row in rows:
        if kind == "severstal":
            image_id, cls = row[0].rsplit("_", 1)
        else:
            image_id, cls = row[0], ""
        if image_id in ids:
            region = row[-1].strip() not in ("", "-1")
            units[(image_id, cls)] = units.get((image_id, cls), False) or region
    if kind == "severstal":  # a class without a row is empty too
        units.update({(i, c): False for i in ids for c in "1234" if (i, c) not in units})
    return sum(not v for v in units.values()) / len(units)


def test_train_reports_the_competition_metric_beside_its_baseline(trained_kind, tmp_path):
    kind, images, labels, out, report = trained_kind
    competition = rlemask.competition(KINDS[kind][0])
    ev = report["evaluation"]
    assert ev["competition"] == competition.name and ev["metric"] == competition.metric
    predictions = out / "validation-predictions.csv"
    written = rlemask.read_labels(predictions)
    ids = set(written.ids)
    assert len(ids) == report["data"]["n_validation"] == ev["n_images"]
    assert ev["all_empty_baseline"] == pytest.approx(_empty_share(labels, ids, kind))
    # the file is in the competition's layout, and scores as the report says
    assert written.layout == competition.layout
    assert sorted(written.classes) == sorted(competition.classes)
    shape = tuple(ev["shape"]) if ev.get("shape") else None
    truth = _rows_of(labels, ids, kind, tmp_path)  # the validation images' rows
    again = rlemask.score(predictions, truth, competition=competition.name, shape=shape)
    assert again.score == pytest.approx(ev["score"]) == pytest.approx(ev["mean_dice"])
    assert 0.0 <= ev["score"] <= 1.0
    assert set(ev["per_class"]) == set(competition.classes)
    for row in ev["per_class"].values():
        assert {"score", "all_empty_baseline", "positive_only"} <= set(row)


def test_train_records_what_predict_applies_per_class(trained_kind):
    kind, _, _, out, report = trained_kind
    competition = rlemask.competition(KINDS[kind][0])
    post = report["postprocess"]
    assert post["competition"] == competition.name and post["reference"] == 1024
    names = list(competition.classes) or [""]
    assert post["classes"] == list(competition.classes) and list(post["per_class"]) == names
    head = "--classifier" in KINDS[kind][2]
    for rule in post["per_class"].values():
        assert set(rule) == {"top", "min_area", "bottom", "gate"}
        assert (rule["gate"] is not None) == head
    # the single-class keys of today's predict: the first class's triplet
    first = post["per_class"][names[0]]
    assert (report["thresholds"]["top"], report["thresholds"]["min_area_1024"],
            report["thresholds"]["bottom"]) == (first["top"], first["min_area"], first["bottom"])
    # the checkpoint kept the epoch of the best competition score (at fixed thresholds)
    assert report["training"]["checkpoint_monitor"] == "val_score"
    with open(out / "history.csv", newline="") as handle:
        assert "val_score" in next(csv.DictReader(handle))
    assert (out / "model.keras").is_file() and (out / "curves.png").is_file()


# -- the chain's last steps (P2-B): predict in a new process -> rlemask check -> rlemask score


def _shape_args(kind: str) -> list[str]:
    """``--shape H W`` of the synthetic images (the truth files carry no sizes)."""
    args = KINDS[kind][1]
    size = str(args[args.index("--size") + 1])
    h, _, w = size.partition("x")
    return ["--shape", h, w or h]


def test_predict_check_score_of_the_trained_run(trained_kind, tmp_path):
    kind, images, labels, out, report = trained_kind
    competition = KINDS[kind][0]
    sub = tmp_path / "submission.csv"
    tiles = ["--tile", 64, "--overlap", 16] if kind == "hubmap" else []
    command("rlemask-keras", "predict", out / "model.keras", images, "--competition",
            competition, "--out", sub, "--quiet", *tiles)  # fmt: skip
    assert command("rlemask", "check", sub, "--competition", competition).returncode == 0
    scored = command("rlemask", "score", sub, labels, "--competition", competition,
                     *_shape_args(kind))  # fmt: skip
    assert "all-empty baseline" in scored.stdout
    truth, written = rlemask.read_labels(labels), rlemask.read_labels(sub)
    assert set(written.ids) == set(truth.ids)  # every image of the folder, named as the truth
    assert written.layout == rlemask.competition(competition).layout
