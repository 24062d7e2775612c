"""The measured table of docs/training.md, "Every kind of data set": one run per kind and head.

For each kind of ``rlemask synth --kind`` a synthetic set of a few hundred
images (UW-Madison: slices of 16 volumes; HuBMAP: 128 px tiles of 4 images),
then ``rlemask-keras train --labels ... --competition ...`` at 128 px (Severstal
at 64 x 400, the same pixels as 160 x 160), without and with ``--classifier``;
the table gives each run's validation score in the competition's metric, its
all-empty baseline, the score on the images with a region, and each class's
score -- all read from the runs' ``report.json``.

Usage: ``python docs/scripts/train_kinds.py OUT_DIR [--epochs N]`` writes
``OUT_DIR/train_kinds.md`` (and keeps the data sets and runs under OUT_DIR/work).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent

#: kind -> (competition, synth arguments, train arguments)
KINDS = {
    "siim": ("siim-acr-pneumothorax-segmentation", ["--images", 200, "--size", 256],
             ["--img-size", 128]),
    "severstal": ("severstal-steel-defect-detection", ["--images", 200, "--size", "128x800"],
                  ["--img-size", "64x400"]),
    "airbus": ("airbus-ship-detection", ["--images", 200, "--size", 256], ["--img-size", 128]),
    "uw-madison": ("uw-madison-gi-tract-image-segmentation",
                   ["--images", 16, "--depth", 12, "--size", "128x128"], ["--img-size", 128]),
    "hubmap": ("hubmap-kidney-segmentation", ["--images", 4, "--size", "1024x1024"],
               ["--tile", 128]),
}  # fmt: skip
LABELS = {"siim": ("dicom-images-train", "train-rle.csv"), "severstal": ("train_images",
          "train.csv"), "airbus": ("train_v2", "train_ship_segmentations_v2.csv"),
          "uw-madison": ("train", "train.csv"), "hubmap": ("train", "train.csv")}  # fmt: skip


def _run(name: str, *args) -> None:
    subprocess.run([str(BIN / name), *map(str, args)], check=True, capture_output=True)


def measure(work: Path, epochs: int) -> list[dict]:
    rows = []
    for kind, (competition, synth, options) in KINDS.items():
        data = work / kind
        if not data.exists():
            _run("rlemask", "synth", data, "--kind", kind, *synth)
        images, labels = (data / part for part in LABELS[kind])
        for head in (False, True):
            out = work / f"run-{kind}{'-head' if head else ''}"
            t0 = time.perf_counter()
            _run("rlemask-keras", "train", "--data", images, "--labels", labels,
                 "--competition", competition, "--out", out, "--overwrite", "--epochs", epochs,
                 "--filters", 8, "--batch-size", 8, "--quiet", *options,
                 *(["--classifier"] if head else []))  # fmt: skip
            report = json.loads((out / "report.json").read_text(encoding="utf-8"))
            rows.append({"kind": kind, "head": head, "seconds": time.perf_counter() - t0,
                         "n_val": report["data"]["n_validation"], **report["evaluation"]})
            print(kind, head, report["evaluation"]["score"], flush=True)
    return rows


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def table(rows: list[dict], epochs: int) -> str:
    lines = [
        "| kind (metric) | head | validation images | score | all-empty | positive images | "
        "per class | time |", "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        per_class = ", ".join(f"{c} {_num(v['score'])}" for c, v in r["per_class"].items())
        lines.append(
            f"| {r['kind']} ({r['metric']}) | {'yes' if r['head'] else 'no'} | {r['n_val']} | "
            f"{_num(r['score'])} | {_num(r['all_empty_baseline'])} | "
            f"{_num(r['positive_only'])} | {per_class or '-'} | {r['seconds']:.0f} s |"
        )
    lines += ["", f"{epochs} epochs, 8 filters, depth 4, batch 8, seed 0; made by "
              "`docs/scripts/train_kinds.py`."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    work = args.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    rows = measure(work, args.epochs)
    (args.out / "train_kinds.md").write_text(table(rows, args.epochs), encoding="utf-8")


if __name__ == "__main__":
    main()
