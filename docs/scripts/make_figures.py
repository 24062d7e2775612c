"""Regenerate every figure and table the docs include (``make docs-figures``).

Nothing in ``docs/_static`` is made by hand:

* ``pooled_dice.md``  — ``docs/scripts/pooled_dice.py``;
* ``compare.md``      — ``benchmarks/compare.py`` (rlemask vs pycocotools vs numpy);
* ``report_page.png`` — ``docs/scripts/report_page_screenshot.py`` (the
  error-analysis page in headless Chromium);
* ``demo_report.md``, ``demo_curves.png``, ``demo_overlays.png`` — copied from
  the output of ``make demo`` (``runs/demo``), which is run first if missing;
* ``activation.md``   — ``benchmarks/activation_experiment.py`` (run with
  ``--activation`` because it trains four models);
* ``encoder_experiment.md``, ``encoder_speed.md`` — ``benchmarks/encoder_experiment.py``
  (run with ``--encoders``: about an hour on 2 CPU cores; the speed table
  wants a machine with nothing else running);
* ``train_kinds.md`` — ``docs/scripts/train_kinds.py`` (run with ``--kinds``:
  ten training runs, one per synthetic kind with and without the presence head).

Usage: ``python docs/scripts/make_figures.py docs/_static [--activation] [--encoders] [--kinds]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_to_file(cmd: list[str], out: Path) -> None:
    print("$", " ".join(cmd), ">", out, flush=True)
    text = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    out.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("static", type=Path)
    parser.add_argument("--activation", action="store_true", help="also rerun the experiment")
    parser.add_argument(
        "--encoders", action="store_true", help="also rerun the encoder experiment (an hour)"
    )
    parser.add_argument(
        "--kinds", action="store_true", help="also rerun the table of every synthetic kind"
    )
    args = parser.parse_args(argv)
    static = args.static.resolve()
    static.mkdir(parents=True, exist_ok=True)
    py = sys.executable

    run_to_file([py, "docs/scripts/pooled_dice.py"], static / "pooled_dice.md")
    run_to_file([py, "benchmarks/compare.py"], static / "compare.md")
    # the error-analysis page, photographed in headless Chromium (make browser)
    subprocess.run([py, "docs/scripts/report_page_screenshot.py", str(static)], cwd=ROOT,
                   check=True)

    if args.kinds:  # runs/kinds/train_kinds.md (its data and runs under runs/kinds/work)
        subprocess.run([py, "docs/scripts/train_kinds.py", str(ROOT / "runs" / "kinds")],
                       cwd=ROOT, check=True)
        shutil.copyfile(ROOT / "runs" / "kinds" / "train_kinds.md", static / "train_kinds.md")

    demo = ROOT / "runs" / "demo"
    if not (demo / "report.md").exists():
        subprocess.run(
            [
                str(Path(py).with_name("rlemask-keras")),
                "train",
                "--out",
                str(demo),
                "--overwrite",
                "--target",
                "0.6",
            ],  # as make demo runs it
            cwd=ROOT,
            check=True,
        )
    shutil.copyfile(demo / "report.md", static / "demo_report.md")
    shutil.copyfile(demo / "curves.png", static / "demo_curves.png")
    shutil.copyfile(demo / "overlays.png", static / "demo_overlays.png")

    if args.activation or not (static / "activation.md").exists():
        subprocess.run(
            [py, "benchmarks/activation_experiment.py", "--out", str(static / "activation.md")],
            cwd=ROOT,
            check=True,
        )
    if args.encoders:
        experiment = [py, "benchmarks/encoder_experiment.py"]
        subprocess.run([*experiment, str(static / "encoder_experiment.md")], cwd=ROOT, check=True)
        speed = ["--n-images", "48", "--epochs", "3", "--backends", "tensorflow,jax,torch"]
        subprocess.run(
            [*experiment, str(static / "encoder_speed.md"), *speed], cwd=ROOT, check=True
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
