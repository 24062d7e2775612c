#!/usr/bin/env bash
# GPU check: does the input pipeline keep a GPU fed at 256 px?
#
# On a machine with an NVIDIA GPU and TensorFlow with CUDA
# (pip install "rlemask[keras-gpu]"), from the repository root:
#
#     bash benchmarks/gpu_check.sh
#
# It makes a synthetic SIIM-like set, caches it at 256 px, then in one process:
#   1. the input pipeline's own rate: augmented batches from the cache through
#      the tf.data path and through Keras' PyDataset adapter, no model;
#   2. training the default U-Net (16 filters, depth 4, SELU) with mixed
#      precision (mixed_float16) for a fixed number of steps on each path,
#      images/s over the steps after the warm-up (tracing, first batches);
# while nvidia-smi samples the GPU's utilisation every 200 ms.  It prints one
# markdown table.  Settings (environment): STEPS (200), WARMUP (20), BATCH (32),
# SIZE (256), N_IMAGES (512), OUT (a temporary folder, removed at the end).
# GPU_CHECK_ALLOW_CPU=1 lets it run without a GPU (a dry run of the script).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
export STEPS=${STEPS:-200} WARMUP=${WARMUP:-20} BATCH=${BATCH:-32} SIZE=${SIZE:-256}
export N_IMAGES=${N_IMAGES:-512}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2} KERAS_BACKEND=tensorflow
OUT=${OUT:-$(mktemp -d -t rlemask-gpu-check-XXXXXX)}
export OUT
UTIL="$OUT/gpu_util.csv"

SMI_PID=""
cleanup() {
    [ -n "$SMI_PID" ] && kill "$SMI_PID" 2>/dev/null || true
    if [ -z "${KEEP:-}" ]; then rm -rf "$OUT"; fi
}
trap cleanup EXIT

if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    # timestamp (ms since start) and utilisation, sampled every 200 ms
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits \
        -lms 200 >"$UTIL" &
    SMI_PID=$!
elif [ -z "${GPU_CHECK_ALLOW_CPU:-}" ]; then
    echo "gpu_check: nvidia-smi not found: no NVIDIA GPU here (GPU_CHECK_ALLOW_CPU=1 to dry-run)" >&2
    exit 2
fi

"$PYTHON" - <<'PY'
import json, os, time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import rlemask
from rlemask.synthetic import make_dataset
from rlemask_keras import DataGenerator, bce_dice_loss, unet
from rlemask_keras.tfdata import as_tf_dataset

steps, batch = int(os.environ["STEPS"]), int(os.environ["BATCH"])
warmup = max(1, int(os.environ["WARMUP"]))  # the first step (tracing) is never timed
size, n_images, out = int(os.environ["SIZE"]), int(os.environ["N_IMAGES"]), Path(os.environ["OUT"])
gpus = tf.config.list_physical_devices("GPU")
if not gpus and not os.environ.get("GPU_CHECK_ALLOW_CPU"):
    raise SystemExit("gpu_check: TensorFlow sees no GPU (install rlemask[keras-gpu])")
for gpu in gpus:
    tf.config.experimental.set_memory_growth(gpu, True)

t0 = time.perf_counter()
root = make_dataset(out / "data", n_images, size=1024, seed=0)
paths, labels = rlemask.load_siim(root)
cache = rlemask.build_cache(paths, labels, out / "cache", img_size=size,
                            workers=os.cpu_count() or 1, progress=False)
print(f"data + cache: {time.perf_counter() - t0:.0f} s, {n_images} images at {size} px")

def generator(**kw):
    # enough repeats of the set for every timed step to fall in one epoch
    repeats = -(-(steps + warmup + 2) * batch // n_images)
    return DataGenerator(paths * repeats, labels, batch_size=batch, img_size=size,
                         cache=cache, seed=0, augment=True, **kw)

def pipeline_rate(iterator, n):
    for _ in range(warmup):
        next(iterator)
    t = time.perf_counter()
    for _ in range(n):
        next(iterator)
    return n * batch / (time.perf_counter() - t)

from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter
workers = min(8, os.cpu_count() or 1)
adapter = PyDatasetAdapter(generator(workers=workers), shuffle=False)
adapter.on_epoch_begin()
rows = [
    ("input only: tf.data path", pipeline_rate(iter(as_tf_dataset(generator())), steps)),
    (f"input only: PyDataset, {workers} workers",
     pipeline_rate(iter(adapter.get_tf_dataset()), steps)),
]

class StepTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []
    def on_train_batch_end(self, step, logs=None):
        self.times.append(time.time())  # wall clock: compared with nvidia-smi's

keras.config.set_dtype_policy("mixed_float16" if gpus else "mixed_bfloat16")
windows = {}
for name, make_data in (
    ("tf.data", lambda g: as_tf_dataset(g)),
    (f"PyDataset, {workers} workers", lambda g: g),
):
    gen = generator(workers=workers) if name != "tf.data" else generator()
    model = unet((size, size, 1))
    model.compile(keras.optimizers.Adam(1e-3), loss=bce_dice_loss)
    timer = StepTimer()
    model.fit(make_data(gen), epochs=1, steps_per_epoch=steps + warmup, shuffle=False,
              verbose=0, callbacks=[timer])
    rate = steps * batch / (timer.times[-1] - timer.times[warmup - 1])
    windows[name] = (timer.times[warmup - 1], timer.times[-1])  # the timed steps only
    rows.append((f"training U-Net 16f d4 mixed precision, {name}", rate))

device = "CPU dry run"
if gpus:
    device = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
print(f"\nGPU check: {device}, batch {batch}, {size} px, {steps} timed steps after {warmup}\n")
print("| what | images/s |")
print("|---|---:|")
for name, rate in rows:
    print(f"| {name} | {rate:,.0f} |")
(out / "windows.json").write_text(json.dumps(windows))
PY

if [ -n "$SMI_PID" ]; then
    kill "$SMI_PID" 2>/dev/null || true
    SMI_PID=""
    "$PYTHON" - "$UTIL" "$OUT/windows.json" <<'PY'
import json, statistics, sys
from datetime import datetime
util_file, windows_file = sys.argv[1:3]
windows = json.load(open(windows_file))
samples = []
for line in open(util_file):
    parts = [p.strip() for p in line.split(",")]
    try:
        when = datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
        samples.append((when, float(parts[1]), float(parts[2])))
    except (ValueError, IndexError):
        continue
print("\n| GPU utilisation over the timed steps | mean % | median % | samples | memory used MiB |")
print("|---|---:|---:|---:|---:|")
for name, (start, end) in windows.items():
    inside = [(u, m) for t, u, m in samples if start <= t <= end]
    if inside:
        util = [u for u, _ in inside]
        print(f"| {name} | {statistics.mean(util):.0f} | {statistics.median(util):.0f} | "
              f"{len(util)} | {max(m for _, m in inside):,.0f} |")
PY
fi
