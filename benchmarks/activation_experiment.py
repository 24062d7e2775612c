"""SELU vs ReLU vs ELU (and U-Net++) on the same synthetic split, same budget.

Run as a script::

    .venv/bin/python benchmarks/activation_experiment.py results.md \
        [--n-images 300] [--epochs 25] [--img-size 128] [--filters 8] [--seed 0]

Every model is trained by :func:`rlemask_keras.training.train` (the code of
``rlemask-keras train``) on the same synthetic data set, with the same
stratified split, sampler schedule, augmentation, epochs, batch size and
seed; only the activation (or the architecture) changes.  Each run is
evaluated like the command does: best checkpoint on validation Dice,
probabilities resized to the original 1024 x 1024, triplet thresholds chosen
on the validation split.  The table written to the output file gives the
validation competition score (next to the all-empty baseline), the Dice on
positive images, training images/s and the parameter count.

The default budget is small (the demo's data and model, 25 epochs instead of
40: two to three CPU minutes per U-Net, about twice that for U-Net++, on 2
cores), so the table says which variant learns fastest at this budget, not
which one ends best.
One split and one seed: differences of a few hundredths are noise.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

VARIANTS = (
    ("U-Net", "unet", "selu"),
    ("U-Net", "unet", "relu"),
    ("U-Net", "unet", "elu"),
    ("U-Net++", "unet++", "selu"),
)


def run(args: argparse.Namespace) -> str:
    from rlemask_keras.training import TrainConfig, synthetic_dataset, train

    work = Path(args.work or tempfile.mkdtemp(prefix="activation_experiment_"))
    # the demo's synthetic set when it exists (same seed and size): reused, not remade
    data = synthetic_dataset(args.synthetic_root, args.n_images, size=1024, seed=args.seed)
    rows = []
    baseline = None
    for label, model, activation in VARIANTS:
        config = TrainConfig(
            data=data,
            model=model,
            activation=activation,
            epochs=args.epochs,
            img_size=args.img_size,
            filters=args.filters,
            depth=args.depth,
            batch_size=args.batch_size,
            seed=args.seed,
            out=work / f"{model}-{activation}",
            overwrite=True,
            cache_dir=data / f"cache-{args.img_size}",
            progress=False,
        )
        t0 = time.perf_counter()
        report = train(config, log=lambda *a: None)
        ev = report["evaluation"]
        baseline = ev["all_empty_baseline"]
        rows.append(
            (
                f"{label} {activation.upper()}",
                ev["mean_dice"],
                ev["dice_positive"],
                report["training"]["best_val_dice_positive"],
                report["training"]["images_per_second"],
                report["parameters"],
                time.perf_counter() - t0,
            )
        )
        print(
            f"{rows[-1][0]}: score {ev['mean_dice']:.4f}, positive Dice "
            f"{ev['dice_positive']:.4f}, {rows[-1][4]:.1f} images/s",
            flush=True,
        )

    lines = [
        f"Activation experiment: {args.n_images} synthetic images (1024 px, seed {args.seed}), "
        f"{args.epochs} epochs at {args.img_size} px, {args.filters} filters, depth {args.depth}, "
        f"batch {args.batch_size}; {os.cpu_count()} CPU cores. Validation scored at 1024 px; "
        f"all-empty baseline {baseline:.4f}.",
        "",
        "| model | val competition score | Dice on positives "
        "| checkpoint's val Dice on positives (0.5, model px) "
        "| training images/s | parameters | wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, score, pos, best, ips, params, wall in rows:
        lines.append(
            f"| {name} | {score:.4f} | {pos:.4f} | {best:.4f} | {ips:.1f} | {params:,} "
            f"| {wall:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="markdown file to write the table to")
    parser.add_argument("--n-images", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--img-size", type=int, default=128)
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--synthetic-root", type=Path, default=Path("runs"), help="where the data set is made"
    )
    parser.add_argument("--work", type=Path, help="run folders (default: a temporary one)")
    args = parser.parse_args(argv)

    from rlemask._atomic import atomic_write

    table = run(args)
    with atomic_write(args.output, "w", encoding="utf-8") as handle:
        handle.write(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
