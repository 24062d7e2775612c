"""The error-analysis page: how long it takes to build and what it weighs (issue 24).

Run ``python benchmarks/compare_report_page.py [--synthetic DIR]``.  Two cases,
each printed against its goal:

* **the real SIIM stage-1 labels** (``../shared/real/siim/train-rle.stage1.csv.gz``,
  12,047 images) scored against a perturbed copy, no images on disk: the page
  (every row, thumbnails left out and said so) in under 5 s;
* **a synthetic SIIM set of 1,000 images** (1024 x 1024 DICOMs, written once
  into ``--synthetic DIR`` and reused) against a perturbed copy, with
  thumbnails: under 30 s, page weight under 20 MB.

Page weight is what a browser loads when the page opens: ``index.html`` and
the thumbnails.  The full-size overlays, loaded only when a thumbnail is
clicked, are counted beside it.  The time of ``rlemask.score`` is printed
apart from the page's own.

The perturbed copy: of the images with a region, a quarter lose every row
(false negatives), a quarter keep their first row only; one in twenty
images without a region gains a square (false positives).  Seeded.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rlemask
from rlemask.report_overlays import draw_overlay
from rlemask.report_page import _write_page

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "siim"
GOALS = {"real_s": 5.0, "synthetic_s": 30.0, "weight_mb": 20.0}


def _rows(text: str) -> dict[str, list[str]]:
    """``{image_id: [rle, ...]}`` of a stage-1 labels file (``-1`` rows: an empty list)."""
    reader = csv.reader(io.StringIO(text))
    next(reader)
    rows: dict[str, list[str]] = {}
    for image_id, rle in reader:
        rle = rle.strip()
        rows.setdefault(image_id, [])
        if rle != "-1":
            rows[image_id].append(rle)
    return rows


def perturbed(truth: dict[str, list[str]], seed: int = 0) -> str:
    """A submission of known errors (see the module docstring), as CSV text."""
    rng = np.random.default_rng(seed)
    square = np.zeros((1024, 1024), np.uint8)
    square[400:480, 300:380] = 1
    fp = rlemask.encode(square)
    lines = ["ImageId,EncodedPixels"]
    for image_id, rles in truth.items():
        draw = rng.random()
        if rles:
            kept = [] if draw < 0.25 else rles[:1] if draw < 0.5 else rles
        else:
            kept = [fp] if draw < 0.05 else []
        lines += [f"{image_id},{rle}" for rle in kept] or [f"{image_id},-1"]
    return "\n".join(lines) + "\n"


def _weight(page: Path) -> tuple[float, float]:
    """MB loaded on opening (HTML + thumbnails), and MB of the full-size overlays."""
    files = page.parent / f"{page.stem}_files"
    thumbs = sum(p.stat().st_size for p in files.glob("t*.png")) if files.is_dir() else 0
    full = sum(p.stat().st_size for p in files.glob("f*.png")) if files.is_dir() else 0
    return (page.stat().st_size + thumbs) / 1e6, full / 1e6


def _case(name: str, sub: Path, truth: Path, out: Path, data: Path | None, goal_s: float,
          **score_options) -> dict:
    t0 = time.perf_counter()
    report = rlemask.score(sub, truth, **score_options)
    t1 = time.perf_counter()
    page, n_thumbnails = _write_page(report, out, data=data, max_thumbnails=None,
                                     thumbnail_size=160, full_size=True, title=None, seed=0)
    t2 = time.perf_counter()
    loaded, full = _weight(page)
    print(f"{name}: {len(report.per_image):,} rows, {n_thumbnails:,} thumbnails")
    print(f"  score {t1 - t0:6.2f} s   page {t2 - t1:6.2f} s   both {t2 - t0:6.2f} s   "
          f"(goal {goal_s:.0f} s: {goal_s / (t2 - t0):.1f}x inside it)")
    print(f"  page weight {loaded:6.2f} MB (goal {GOALS['weight_mb']:.0f} MB)   "
          f"full-size overlays {full:6.1f} MB more, loaded on click")
    return {"score_s": t1 - t0, "page_s": t2 - t1, "loaded_mb": loaded, "full_mb": full}


def browser_times(page: Path) -> dict | None:
    """Seconds to open ``page`` in headless Chromium, sort it by score and filter it."""
    chromium = "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.access(chromium, os.X_OK):
        return None
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        tab = browser.new_page()
        t0 = time.perf_counter()
        tab.goto(page.as_uri())
        tab.wait_for_load_state("load")
        t1 = time.perf_counter()
        tab.click("#rows th[aria-sort] button")  # by score, now descending
        tab.evaluate("document.body.offsetHeight")  # the layout it causes, included
        t2 = time.perf_counter()
        tab.uncheck("#filters input[value=tn]")
        tab.evaluate("document.body.offsetHeight")
        t3 = time.perf_counter()
        browser.close()
    return {"open_s": t1 - t0, "sort_s": t2 - t1, "filter_s": t3 - t2}


def real_case(work: Path) -> dict | None:
    source = REAL / "train-rle.stage1.csv.gz"
    if not source.is_file():
        print(f"real SIIM labels: skipped, {source} is absent")
        return None
    text = gzip.decompress(source.read_bytes()).decode("utf-8")
    truth = work / "train-rle.csv"
    truth.write_text(text)
    sub = work / "submission.csv"
    sub.write_text(perturbed(_rows(text)))
    result = _case("real SIIM stage-1 labels, no images", sub, truth, work / "real-page", None,
                   GOALS["real_s"])
    seconds = browser_times(work / "real-page" / "index.html")
    if seconds is not None:
        print(f"  in Chromium: open {seconds['open_s']:.2f} s, sort by score "
              f"{seconds['sort_s']:.2f} s, filter {seconds['filter_s']:.2f} s")
    return result


def synthetic_case(root: Path, work: Path) -> dict:
    from rlemask.synthetic import make_dataset

    truth = root / "train-rle.csv"
    if not truth.is_file():
        print(f"writing 1,000 synthetic 1024 x 1024 DICOMs into {root} (once) ...")
        make_dataset(root, n_images=1000, size=1024, positive_fraction=0.25, seed=0)
    sub = work / "synthetic-submission.csv"
    sub.write_text(perturbed(_rows(truth.read_text())))
    return _case("synthetic SIIM, 1,000 images with thumbnails", sub, truth,
                 work / "synthetic-page", root, GOALS["synthetic_s"], shape=(1024, 1024))


def _warm_up(work: Path) -> None:
    """Compile the kernels (codecs, scoring, region boxes) before anything is timed."""
    rlemask.warmup()
    square = np.zeros((1024, 1024), np.uint8)
    square[2:40, 2:50] = 1
    csv_text = f"ImageId, EncodedPixels\na, {rlemask.encode(square)}\nb, -1\n"
    (work / "warm-up.csv").write_text(csv_text)  # the files' own path: reading, detection
    report = rlemask.score(work / "warm-up.csv", work / "warm-up.csv")
    report.to_html(work / "warm-up", max_thumbnails=2)
    rlemask.bboxes(square)  # the region boxes of the overlays


def _overlay_pngs_pillow(image, truth, pred) -> None:
    full, thumb = draw_overlay(image, truth, pred, 160)
    full.save(io.BytesIO(), "PNG", compress_level=1)
    thumb.save(io.BytesIO(), "PNG")


def _overlay_png_matplotlib(image, truth, pred) -> None:
    fig = rlemask.plot_prediction_overlay(image, truth, pred, legend=False)
    fig.savefig(io.BytesIO(), format="png", dpi=100)


def rows() -> list[dict]:
    """Rows of ``benchmarks/compare.py``: one overlay, Pillow against matplotlib; the real case.

    The 1,000-image synthetic case writes 1,000 DICOMs first (minutes): run
    this script for it.
    """
    from benchmarks.compare import best_time

    rng = np.random.default_rng(1234)
    image = rng.integers(0, 256, (1024, 1024), dtype=np.uint8)
    truth = np.zeros((1024, 1024), np.uint8)
    truth[300:600, 100:260] = 1
    pred = np.roll(truth, 40, axis=0)
    out = [{
        "operation": "report page: one 1024 x 1024 overlay, full-size PNG + thumbnail (Pillow)",
        "rlemask_s": best_time(lambda: _overlay_pngs_pillow(image, truth, pred), repeat=3),
        "baseline": "matplotlib figure of the overlay, savefig PNG",
        "baseline_s": best_time(lambda: _overlay_png_matplotlib(image, truth, pred), repeat=3),
    }]
    with tempfile.TemporaryDirectory() as tmp:
        _warm_up(Path(tmp))
        with contextlib.redirect_stdout(io.StringIO()):
            real = real_case(Path(tmp))
    if real is not None:
        out.append({
            "operation": "report page of the real SIIM stage-1 labels (12,047 rows, no images)",
            "rlemask_s": real["score_s"] + real["page_s"],
            "baseline": "the goal (score + page)", "baseline_s": GOALS["real_s"], "target": 1.0,
            "note": f"page weight {real['loaded_mb']:.1f} MB",
        })
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=Path,
                        default=Path(tempfile.gettempdir()) / "rlemask-report-synthetic-1000",
                        help="folder of the 1,000-image synthetic set (written if missing)")
    args = parser.parse_args(argv)
    print(f"rlemask report page, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _warm_up(work)
        real_case(work)
        synthetic_case(args.synthetic, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
