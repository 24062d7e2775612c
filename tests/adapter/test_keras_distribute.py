"""rlemask_keras.distribute: strategy names, TF_CONFIG, shards, and real multi-worker
training (two processes on localhost) and JAX data parallelism, in subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytest.importorskip("keras")

from rlemask_keras.distribute import (  # noqa: E402
    STRATEGIES,
    Distribution,
    replica_batch,
    select_strategy,
    worker_from_tf_config,
)

pytestmark = pytest.mark.keras


def _tf_config(ports, index, kind="worker"):
    return json.dumps(
        {"cluster": {"worker": [f"localhost:{p}" for p in ports]},
         "task": {"type": kind, "index": index}}
    )


def test_default_strategy():
    dist = select_strategy("default")
    assert (dist.kind, dist.replicas, dist.local_replicas) == ("default", 1, 1)
    assert (dist.num_workers, dist.worker_index, dist.is_chief) == (1, 0, True)
    with dist.scope():
        pass


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match=r"one of \('default', 'mirrored', 'multiworker'\)"):
        select_strategy("horovod")
    assert STRATEGIES == ("default", "mirrored", "multiworker")


# JAX and PyTorch refuse "multiworker" before looking at TF_CONFIG (next test)
@pytest.mark.backends("tensorflow")
def test_multiworker_without_tf_config_says_what_to_set(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        select_strategy("multiworker")


@pytest.mark.parametrize(
    "backend, kind, hint",
    [
        ("torch", "mirrored", r"TensorFlow or JAX backend \(KERAS_BACKEND=tensorflow or jax\)"),
        ("torch", "multiworker", r"TensorFlow backend \(KERAS_BACKEND=tensorflow\)"),
        ("jax", "multiworker", r"TensorFlow backend \(KERAS_BACKEND=tensorflow\)"),
    ],
)
def test_strategy_the_backend_lacks_names_the_backend_and_what_to_use(
    monkeypatch, backend, kind, hint
):
    # torch once suggested JAX for "multiworker", which JAX refuses too
    from rlemask_keras import distribute

    monkeypatch.setattr(distribute, "_backend", lambda: backend)
    message = rf"strategy='{kind}' .* the {backend} backend: .*{hint}"
    with pytest.raises(ValueError, match=message):
        select_strategy(kind)
    with pytest.raises(ValueError, match=message):
        distribute.check_strategy(kind)
    assert select_strategy("default").backend == backend


def test_train_refuses_a_strategy_the_backend_lacks_before_touching_anything(
    monkeypatch, tmp_path
):
    # PyTorch "mirrored" once failed only after the data set was written and --out
    # started, so the same command run again on TensorFlow met "--out ... not empty"
    from rlemask_keras import TrainConfig, distribute, train

    monkeypatch.setattr(distribute, "_backend", lambda: "torch")
    config = TrainConfig(out=tmp_path / "run", synthetic_root=tmp_path / "data", n_images=4,
                         synthetic_size=64, img_size=32, epochs=1, strategy="mirrored")
    with pytest.raises(ValueError, match="not available with the torch backend"):
        train(config, log=lambda *args: None)
    assert list(tmp_path.iterdir()) == []


def test_worker_from_tf_config():
    assert worker_from_tf_config({}) == (0, 1)
    assert worker_from_tf_config({"TF_CONFIG": _tf_config([1, 2, 3], 2)}) == (2, 3)
    with_chief = {"cluster": {"chief": ["h:1"], "worker": ["h:2", "h:3"]},
                  "task": {"type": "worker", "index": 0}}
    assert worker_from_tf_config({"TF_CONFIG": json.dumps(with_chief)}) == (1, 3)
    with_chief["task"] = {"type": "chief", "index": 0}
    assert worker_from_tf_config({"TF_CONFIG": json.dumps(with_chief)}) == (0, 3)
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON"):
        worker_from_tf_config({"TF_CONFIG": "{not json"})
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON"):
        worker_from_tf_config({"TF_CONFIG": json.dumps({"task": {"index": 0}})})
    with pytest.raises(ValueError, match="outside the cluster's 2 worker"):
        worker_from_tf_config({"TF_CONFIG": _tf_config([1, 2], 2)})
    with pytest.raises(ValueError, match="Received: 'ps'"):
        worker_from_tf_config({"TF_CONFIG": _tf_config([1, 2], 0, kind="ps")})


@given(n_items=st.integers(0, 50), n_workers=st.integers(1, 6))
def test_shards_are_disjoint_and_cover_everything(n_items, n_workers):
    items = list(range(n_items))
    shards = [
        Distribution("multiworker", "tensorflow", n_workers, 1, n_workers, w).shard(items)
        for w in range(n_workers)
    ]
    assert sorted(i for shard in shards for i in shard) == items
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_replica_batch():
    assert replica_batch(16, 100, 1) == 16
    assert replica_batch(16, 100, 4) == 16
    assert replica_batch(16, 10, 4) == 8  # a split smaller than one batch
    with pytest.raises(ValueError, match="multiple of the 4 replicas"):
        replica_batch(10, 100, 4)
    with pytest.raises(ValueError, match="3 image"):
        replica_batch(8, 3, 4)


# -- subprocesses ------------------------------------------------------------------

# A metric for the worker scripts: the images trained on, summed over the
# replicas; pasted into each script (it must exist in the fresh process)
SAMPLE_COUNT = textwrap.dedent(
    """
    class SampleCount(keras.metrics.Metric):
        def __init__(self, name="samples", **kwargs):
            super().__init__(name=name, **kwargs)
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.total.assign_add(keras.ops.cast(keras.ops.shape(y_true)[0], "float32"))

        def result(self):
            return self.total
    """
)

WORKER = textwrap.dedent(
    """
    import json, sys
    root, cache_dir, out = sys.argv[1:4]
    from rlemask_keras.distribute import (distribute_dataset, prepare_model,
                                          select_strategy)
    dist = select_strategy("multiworker")  # first: before any TensorFlow op
    import keras
    import numpy as np
    import rlemask
    from rlemask_keras import DataGenerator, unet
    from rlemask_keras.tfdata import as_tf_dataset

    # SAMPLE_COUNT

    paths, labels = rlemask.load_siim(root)
    shard = dist.shard(sorted(paths, key=str))
    gen = DataGenerator(shard, labels, batch_size=4, img_size=32, seed=0,
                        cache=rlemask.SampleCache(cache_dir), replicas=dist.local_replicas)
    with dist.scope():
        keras.utils.set_random_seed(0)
        model = unet((32, 32, 1), filters=4, depth=2)
        model.compile("adam", loss="binary_crossentropy", metrics=[SampleCount()])
    prepare_model(dist, model)
    data = distribute_dataset(dist, as_tf_dataset(gen, epochs=1), gen.batch_size)
    history = model.fit(data, epochs=1, steps_per_epoch=len(gen), verbose=0)
    with open(out, "w") as handle:
        json.dump({
            "worker": dist.worker_index, "workers": dist.num_workers,
            "replicas": dist.replicas, "shard": gen.ids,
            "samples": history.history["samples"][-1],
            "loss": history.history["loss"][-1],
            "weights": [float(np.abs(w).sum()) for w in model.get_weights()],
        }, handle)
    """
).replace("# SAMPLE_COUNT\n", SAMPLE_COUNT)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    import rlemask
    from rlemask.synthetic import make_dataset

    root = make_dataset(tmp_path_factory.mktemp("mw"), 16, size=64, seed=0)
    paths, labels = rlemask.load_siim(root)
    cache_dir = root.parent / "cache"
    rlemask.build_cache(paths, labels, cache_dir, img_size=32, workers=1, progress=False)
    return root, cache_dir, paths


@pytest.mark.slow
def test_two_workers_on_localhost_train_one_model_each_on_its_shard(small_set, tmp_path):
    root, cache_dir, paths = small_set
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    ports = _free_ports(2)
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=_tf_config(ports, index), CUDA_VISIBLE_DEVICES="",
                   KERAS_BACKEND="tensorflow")
        out = tmp_path / f"{index}.json"
        procs.append(subprocess.Popen(
            [sys.executable, str(script), str(root), str(cache_dir), str(out)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=400)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output[-3000:]
    results = [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(2)]
    assert [r["worker"] for r in results] == [0, 1]
    assert all(r["workers"] == 2 and r["replicas"] == 2 for r in results)
    shards = [set(r["shard"]) for r in results]
    assert not shards[0] & shards[1]
    assert shards[0] | shards[1] == {p.stem for p in paths}
    # one epoch trained on every image once: each worker fed its whole shard
    assert results[0]["samples"] == results[1]["samples"] == len(paths)
    # synchronous training: one model, the same weights on both workers
    assert results[0]["weights"] == results[1]["weights"]
    assert results[0]["loss"] == pytest.approx(results[1]["loss"])


JAX_SCRIPT = textwrap.dedent(
    """
    import sys
    import keras, rlemask
    from rlemask_keras import DataGenerator, unet
    from rlemask_keras.distribute import select_strategy
    root, cache_dir = sys.argv[1:3]
    dist = select_strategy("mirrored")
    assert type(dist.strategy).__name__ == "DataParallel", dist
    assert dist.backend == "jax" and dist.replicas == dist.local_replicas >= 1
    paths, labels = rlemask.load_siim(root)
    gen = DataGenerator(paths[:8], labels, batch_size=4, img_size=32, seed=0, augment=True,
                        cache=rlemask.SampleCache(cache_dir))
    with dist.scope():
        model = unet((32, 32, 1), filters=2, depth=1)  # small: XLA compiles it
        model.compile("adam", loss="binary_crossentropy")
        history = model.fit(gen, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    try:
        select_strategy("multiworker")
    except ValueError as err:
        assert "TensorFlow backend" in str(err), err
    else:
        raise AssertionError("multiworker under JAX did not raise")
    print("ok")
    """
)


@pytest.mark.slow
def test_jax_backend_uses_keras_data_parallel(small_set, tmp_path):
    pytest.importorskip("jax")
    root, cache_dir, _ = small_set
    env = dict(os.environ, KERAS_BACKEND="jax", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT, str(root), str(cache_dir)],
        env=env, capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
