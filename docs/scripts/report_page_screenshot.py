"""The error-analysis page's screenshot on the Evaluation page (``docs/_static/report_page.png``).

Builds a synthetic SIIM set (40 images of 512 x 512, a quarter positive),
scores a perturbed copy of its labels with :func:`rlemask.score`, writes the
page with :meth:`rlemask.ScoreReport.to_html` and photographs it in headless
Chromium (Debian's ``chromium``, driven by Playwright: ``make browser``).

Usage: ``python docs/scripts/report_page_screenshot.py docs/_static``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import rlemask
from rlemask.synthetic import make_dataset

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SIZE = 512


def _submission(truth: rlemask.Labels, path: Path) -> None:
    """Positives missed, shifted or kept; a few false alarms on negatives.  Seeded."""
    rng = np.random.default_rng(4)
    lines = ["ImageId,EncodedPixels"]
    for image_id in truth.ids:
        mask = truth.mask(image_id, None, (SIZE, SIZE))
        draw = rng.random()
        if mask.any():
            pred = np.zeros_like(mask) if draw < 0.3 else np.roll(mask, 3 + int(12 * draw), axis=1)
        else:
            pred = np.zeros_like(mask)
            if draw < 0.15:
                pred[150:230, 300:380] = 1
        lines.append(f"{image_id},{rlemask.encode(pred) if pred.any() else '-1'}")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("static", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_dataset(Path(tmp) / "siim", n_images=40, size=SIZE,
                            positive_fraction=0.25, seed=2)
        truth = rlemask.read_labels(root / "train-rle.csv")
        _submission(truth, Path(tmp) / "submission.csv")
        report = rlemask.score(Path(tmp) / "submission.csv", root / "train-rle.csv",
                               shape=(SIZE, SIZE))
        page = report.to_html(Path(tmp) / "page", data=root, thumbnail_size=120)
        out = args.static / "report_page.png"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": 1200, "height": 1250})
            tab.goto(page.as_uri())
            tab.wait_for_load_state("load")
            # the thumbnails in view (the others load lazily, when scrolled to)
            tab.wait_for_function("""() => Array.from(document.images).filter(
                i => i.getBoundingClientRect().top < innerHeight).every(i => i.complete)""")
            tab.screenshot(path=str(out))
            browser.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
