"""``rlemask-keras train --strategy multiworker``: two worker processes on localhost (issue 13).

The library path is tested in ``test_keras_distribute.py``; here the command
itself runs twice, as two hosts would run it, with ``TF_CONFIG`` naming two
workers on free localhost ports.  Both workers run the command's own code
(:func:`rlemask_keras.cli.main`) through a small probe that adds one metric,
the number of images each worker trained on, and prints its value after the
last step: whether every worker fed its whole shard.  Given the generator
itself, Keras trained each worker on only half of its shard, and nothing
else showed it (``rlemask_keras.fit.fit`` now feeds the strategy the
``tf.data`` path, :func:`rlemask_keras.distribute.distribute_dataset`).
An odd number of training images gives shards of different lengths; the
shorter one borrows an image, since workers that take different numbers of
steps crash in a collective op.
The probe keeps the saved model's compile settings the command's own, so the
model is loaded in a fresh process without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from test_keras_distribute import SAMPLE_COUNT, _free_ports, _tf_config  # the tests' own helpers

pytestmark = [pytest.mark.keras, pytest.mark.backends("tensorflow")]

# the command, plus a metric counting the images of each training step; the
# saved compile config is the command's own (the probe's class is unknown to
# the fresh process that loads the model)
PROBE = textwrap.dedent(
    """
    import sys
    import keras

    # SAMPLE_COUNT

    compile_model = keras.Model.compile

    def compile_with_probe(self, *args, metrics=None, **kwargs):
        compile_model(self, *args, metrics=metrics, **kwargs)
        saved = self._compile_config
        compile_model(self, *args, metrics=[*(metrics or []), SampleCount()], **kwargs)
        self._compile_config = saved

    keras.Model.compile = compile_with_probe

    class PrintSamples(keras.callbacks.Callback):
        # the last step's logs: each worker's count so far, averaged over the
        # replicas of all workers (distribute.prepare_model); not the epoch's
        # logs, which read the variable after validation has reset it
        def on_train_batch_end(self, batch, logs=None):
            self.samples = float(logs["samples"])

        def on_train_end(self, logs=None):
            print(f"PROBE samples={self.samples}", flush=True)

    fit_model = keras.Model.fit

    def fit_with_probe(self, *args, callbacks=None, **kwargs):
        return fit_model(self, *args, callbacks=[*(callbacks or []), PrintSamples()], **kwargs)

    keras.Model.fit = fit_with_probe
    from rlemask_keras.cli import main

    sys.exit(main(sys.argv[1:]))
    """
).replace("# SAMPLE_COUNT\n", SAMPLE_COUNT)

# 9 training images: shards of 5 and 4, which must be made equally long (the
# workers step together; 2 steps against 1 crashed both in a collective op)
N_IMAGES = 11


@pytest.mark.parametrize("index", [0, 1])
def test_resume_is_refused_on_every_worker(index, tmp_path, monkeypatch):
    # refused on the non-chief only, --resume left the chief waiting for it
    from rlemask_keras.training import TrainConfig, _worker_scratch

    monkeypatch.setenv("TF_CONFIG", _tf_config([1, 2], index))
    config = TrainConfig(out=tmp_path / "run", strategy="multiworker", resume=True)
    with pytest.raises(ValueError, match="`resume`: not with `strategy` multiworker"):
        with _worker_scratch(config):
            pass


@pytest.mark.slow
def test_two_workers_train_one_model_and_only_the_chief_writes(tmp_path):
    from rlemask.synthetic import make_dataset

    data = make_dataset(tmp_path / "data", N_IMAGES, size=64, positive_fraction=0.5, seed=0)
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    ports = _free_ports(2)
    outs = [tmp_path / "out0", tmp_path / "out1"]  # one per host: who wrote what is clear
    scratch = [tmp_path / "tmp0", tmp_path / "tmp1"]  # each worker's TMPDIR
    procs = []
    for index in range(2):
        scratch[index].mkdir()
        env = dict(
            os.environ,
            TF_CONFIG=_tf_config(ports, index),
            TMPDIR=str(scratch[index]),
            CUDA_VISIBLE_DEVICES="",
            KERAS_BACKEND="tensorflow",
        )
        argv = [
            sys.executable, str(probe), "train", "--data", str(data),
            "--strategy", "multiworker", "--img-size", "64", "--filters", "8",
            "--epochs", "1", "--batch-size", "4", "--positive-fraction", "none", "--quiet",
            "--out", str(outs[index]),
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(
                argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=300)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for index, (proc, output) in enumerate(zip(procs, outputs, strict=True)):
        assert proc.returncode == 0, f"worker {index}:\n{output[-3000:]}"

    # the chief wrote the run's files; the other worker wrote nothing outside its
    # scratch folder, and removed that
    for name in ("model.keras", "history.csv", "report.json", "report.md"):
        assert (outs[0] / name).is_file(), name
    assert not outs[1].exists()
    assert f"results in {outs[0]}/:" in outputs[0]
    assert "results in" not in outputs[1] and "worker 1 of the cluster" in outputs[1]
    assert list(scratch[1].iterdir()) == []

    # every worker fed its whole shard, once each: 5 images (4 + the one borrowed)
    report = json.loads((outs[0] / "report.json").read_text())
    n_train = N_IMAGES - report["data"]["n_validation"]
    assert n_train == 9
    assert report["data"]["n_train"] == 5  # the chief's shard
    # said to be one worker's, next to the cluster's figures (the speed: an estimate)
    assert report["data"]["n_train_all_workers"] == 10 and report["data"]["n_train_distinct"] == 9
    training = report["training"]
    assert training["images_per_second_all_workers_estimate"] == 2 * training["images_per_second"]
    assert "training images/s per worker (about " in outputs[0]
    assert "training images per epoch: 5 per worker, 10 on 2 workers" in outputs[0]
    # the step's mean over the two workers of their counts (each at most 5) is
    # 5 only when both fed all 5; given the generator itself, Keras fed about half
    for index, output in enumerate(outputs):
        assert "PROBE samples=5.0" in output, f"worker {index}:\n{output[-3000:]}"

    # the saved model loads in a fresh process, with the command's compile settings
    load = (
        "import sys, rlemask_keras, keras; m = keras.models.load_model(sys.argv[1]); "
        "print(m.count_params(), [x.name for x in m.metrics])"
    )
    done = subprocess.run(
        [sys.executable, "-c", load, str(outs[0] / "model.keras")],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES=""),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert str(report["parameters"]) in done.stdout
