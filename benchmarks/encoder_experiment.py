"""SELU reference U-Net vs ImageNet-architecture encoders, and TensorFlow vs JAX speed.

Run as a script::

    .venv/bin/python benchmarks/encoder_experiment.py results.md \
        [--n-images 200] [--epochs 20] [--img-size 128] [--batch-size 8] \
        [--variants reference,efficientnetv2b0,resnet50] [--backends tensorflow,jax,torch]

Every variant trains on the same synthetic SIIM-like set (``rlemask.synthetic``),
the same stratified split (:func:`rlemask.split_dataset`), batches, epochs,
loss (:func:`rlemask_keras.bce_dice_loss`), optimizer (Adam 1e-3) and seed;
only the network changes.  Encoders start from random weights
(``encoder_weights=None``: no internet here), so this compares architectures,
not ImageNet pretraining.  The table gives parameters, training images/s
(epochs after the first, so graph compilation is not counted), the
validation score (mean per-image Dice at the model's resolution, threshold
0.5, an empty image predicted empty scoring 1, as in the competition) and the
Dice on positive images.

A Keras backend is fixed when Keras is first imported, so each backend runs
in its own process (this script calling itself with ``--worker``); the
processes run one after the other on the same machine, and the speed ratio
between backends comes from those runs.  One split, one seed: differences
of a few hundredths in the scores are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_VARIANTS = "reference,efficientnetv2b0,resnet50"


class _EpochTimer:
    @staticmethod
    def make(keras):
        """A Keras callback recording each epoch's wall time in ``.times``."""

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times: list[float] = []

            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self.start)

        return Timer()


def _worker(args: argparse.Namespace) -> None:
    """Train every variant on this process's backend; print one JSON line per variant."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    import rlemask
    from rlemask_keras import DataGenerator, DiceCoefficient, bce_dice_loss, unet

    paths, labels = rlemask.load_siim(args.data)
    train_paths, val_paths = rlemask.split_dataset(paths, labels, seed=args.seed)
    size = args.img_size
    train = DataGenerator(
        train_paths, labels, batch_size=args.batch_size, img_size=size, seed=args.seed
    )
    val = DataGenerator(val_paths, labels, batch_size=args.batch_size, img_size=size, shuffle=False)
    x_val = np.concatenate([val[i][0] for i in range(len(val))])
    y_val = np.concatenate([val[i][1] for i in range(len(val))])
    for variant in args.variants.split(","):
        keras.utils.set_random_seed(args.seed)
        if variant == "reference":
            model = unet((size, size, 1), filters=args.filters)
        else:
            model = unet((size, size, 1), encoder=variant, encoder_weights=None)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=bce_dice_loss,
            metrics=[DiceCoefficient(positive_only=True, name="dice_positive")],
        )
        timer = _EpochTimer.make(keras)
        model.fit(train, epochs=args.epochs, verbose=0, callbacks=[timer])
        times = timer.times
        n_train = len(train_paths)
        steady = times[1:] or times  # the first epoch compiles the graph
        prob = model.predict(x_val, verbose=0, batch_size=args.batch_size)[..., 0]
        scores = rlemask.dice_scores(prob, y_val[..., 0], threshold=0.5)
        positive = y_val.reshape(len(y_val), -1).any(1)
        row = {
            "backend": keras.backend.backend(),
            "variant": variant,
            "parameters": model.count_params(),
            "images_per_second": n_train * len(steady) / sum(steady),
            "first_epoch_s": times[0],
            "score": float(scores.mean()),
            "dice_positive": float(scores[positive].mean()) if positive.any() else float("nan"),
            "all_empty_baseline": float(1 - positive.mean()),
        }
        print("RESULT " + json.dumps(row), flush=True)


def _table(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"Synthetic set: {args.n_images} images, {args.img_size} px, {args.epochs} epochs, "
        f"batch {args.batch_size}; encoders without pretrained weights.",
        "",
        "| backend | network | parameters | images/s | first epoch (s) | score | "
        "Dice on positives |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        name = "SELU U-Net (reference)" if r["variant"] == "reference" else f"U-Net {r['variant']}"
        lines.append(
            f"| {r['backend']} | {name} | {r['parameters']:,} | {r['images_per_second']:.1f} | "
            f"{r['first_epoch_s']:.0f} | {r['score']:.3f} | {r['dice_positive']:.3f} |"
        )
    if rows:
        lines += ["", f"All-empty baseline score: {rows[0]['all_empty_baseline']:.3f}."]
    by = {(r["backend"], r["variant"]): r["images_per_second"] for r in rows}
    names = {"jax": "JAX", "torch": "PyTorch"}
    ratios = [
        f"{v}: {names[b]} / TensorFlow = {by[(b, v)] / by[('tensorflow', v)]:.2f}"
        for b in names
        for v in args.variants.split(",")
        if (b, v) in by and ("tensorflow", v) in by
    ]
    if ratios:
        lines += ["", "Training speed, same model: " + "; ".join(ratios) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", nargs="?", help="Markdown file for the table")
    parser.add_argument("--n-images", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--img-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--filters", type=int, default=8, help="reference U-Net's first width")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--data", help="an existing synthetic set (default: made in a temp dir)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args)
        return
    if args.data is None:
        from rlemask.synthetic import make_dataset

        args.data = str(
            make_dataset(
                tempfile.mkdtemp(prefix="encoder_experiment_"),
                args.n_images,
                positive_fraction=0.5,
                seed=args.seed,
            )
        )
    rows = []
    for backend in args.backends.split(","):
        cmd = [sys.executable, __file__, "--worker", "--data", args.data]
        for key in ("n_images", "epochs", "img_size", "batch_size", "filters", "seed"):
            cmd += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
        cmd += ["--variants", args.variants]
        env = {**os.environ, "KERAS_BACKEND": backend}
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{backend} worker failed:\n{done.stderr[-3000:]}")
        for line in done.stdout.splitlines():
            if line.startswith("RESULT "):
                rows.append(json.loads(line[len("RESULT ") :]))
                print(rows[-1], flush=True)
    table = _table(rows, args)
    print(table)
    if args.output:
        Path(args.output).write_text(table)


if __name__ == "__main__":
    main()
