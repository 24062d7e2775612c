"""A model saved by the adapter loads and keeps training in a fresh interpreter.

Each step runs in its own subprocess, as a user meets it: the process that
loads the model has never built it, so nothing is registered unless
``import rlemask_keras`` registers it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("keras")

pytestmark = [pytest.mark.keras]

_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

BUILD = """
import numpy as np, keras, rlemask_keras
model = rlemask_keras.unet((32, 32, 1), filters=4, depth=2)
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=rlemask_keras.bce_dice_loss,
    metrics=[rlemask_keras.DiceCoefficient(name="dice"),
             rlemask_keras.DiceCoefficient(name="dice_positive", positive_only=True)],
)
rng = np.random.default_rng(0)
x = rng.random((4, 32, 32, 1), dtype=np.float32)
y = (x > 0.7).astype("float32")
model.fit(x, y, epochs=1, batch_size=2, verbose=0)
model.save(PATH)
np.save(PATH + ".x.npy", x)
np.save(PATH + ".p.npy", model.predict(x, verbose=0))
print(int(model.optimizer.iterations.numpy()))
"""

LOAD_AND_FIT = """
import numpy as np
IMPORTS
model = keras.models.load_model(PATH)
assert model.loss.__name__ == "bce_dice_loss", model.loss
steps = int(model.optimizer.iterations.numpy())
x = np.load(PATH + ".x.npy")
history = model.fit(x, (x > 0.7).astype("float32"), epochs=1, batch_size=2, verbose=0)
assert {"loss", "dice", "dice_positive"} <= set(history.history), history.history
print(steps, int(model.optimizer.iterations.numpy()))
"""


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**_ENV, **env},
    )


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("saved") / "model.keras")
    result = _python(BUILD.replace("PATH", repr(path)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split()[-1]) == 2  # 4 images, batch 2, 1 epoch
    return path


# Which import comes first decides whether the hook or the plain import registers the losses;
# that is import machinery, the same on every backend, so the other order runs on TensorFlow
# only (make test-jax / test-torch keep the backend's part: load, optimizer state, fit).
@pytest.mark.parametrize(
    "imports",
    [
        "import rlemask_keras\nimport keras",
        pytest.param(
            "import keras\nimport rlemask_keras", marks=pytest.mark.backends("tensorflow")
        ),
    ],
)
def test_fresh_process_loads_compiled_model_and_keeps_training(saved_model, imports):
    code = LOAD_AND_FIT.replace("IMPORTS", imports).replace("PATH", repr(saved_model))
    result = _python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    before, after = map(int, result.stdout.split()[-2:])
    # the optimizer state came back with the model and the new steps add to it
    assert (before, after) == (2, 4)


# import machinery, not the backend's: once, on TensorFlow (it imports no backend at all)
@pytest.mark.backends("tensorflow")
def test_import_rlemask_keras_does_not_import_tensorflow():
    result = _python(
        "import sys, rlemask_keras\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


# Keras' own lookup of registered names, the same on every backend: once, on TensorFlow
@pytest.mark.backends("tensorflow")
def test_without_import_rlemask_keras_keras_cannot_find_the_loss(saved_model):
    """Why the registration matters: Keras never imports our modules by itself."""
    code = LOAD_AND_FIT.replace("IMPORTS", "import keras").replace("PATH", repr(saved_model))
    result = _python(code)
    assert result.returncode != 0
    assert "rlemask>" in result.stderr


# the hook's loader, import machinery that no backend touches: once, on TensorFlow
@pytest.mark.backends("tensorflow")
def test_keras_keeps_its_own_loader_after_the_registration_hook():
    # the hook that registers the losses after `import keras` once left itself as
    # keras.__loader__, so importlib.resources no longer found Keras' own files
    result = _python(
        "import importlib.resources, rlemask_keras, keras\n"
        "print(type(keras.__spec__.loader).__name__ == type(keras.__loader__).__name__,\n"
        "      'AfterKeras' in type(keras.__loader__).__name__,\n"
        "      importlib.resources.files('keras').joinpath('__init__.py').is_file())"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-3:] == ["True", "False", "True"]


def _other_backends():
    import importlib.util

    here = os.environ.get("KERAS_BACKEND", "tensorflow")
    for name in ("tensorflow", "jax", "torch"):
        if name != here:
            # PyTorch and JAX are optional: tested where they are installed
            missing = importlib.util.find_spec(name) is None
            yield pytest.param(name, marks=pytest.mark.skipif(missing, reason=f"needs {name}"))


@pytest.mark.parametrize("backend", list(_other_backends()))
def test_model_saved_on_one_backend_loads_on_another(saved_model, backend):
    # the .keras file holds no backend: a model trained on PyTorch serves on TensorFlow
    code = (
        "import sys, keras, numpy as np, rlemask_keras\n"
        f"model = keras.models.load_model({saved_model!r})\n"
        f"x = np.load({saved_model!r} + '.x.npy')\n"
        "print(keras.config.backend())\n"
        f"np.testing.assert_allclose(model.predict(x, verbose=0), np.load({saved_model!r} + "
        "'.p.npy'), atol=1e-5)\n"
    )
    result = _python(code, KERAS_BACKEND=backend)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == backend


def test_head_and_multi_class_models_load_in_a_fresh_process(tmp_path, fresh_python):
    """Issue 23: the presence head, C classes and the padding layers come back on any backend.

    One model holds all three (a deep-supervised head model is the same class machinery:
    DeepSupervisionModel loads in test_keras_models' fresh process)."""
    import json

    import keras
    import numpy as np

    import rlemask_keras
    from rlemask_keras.metrics import DiceCoefficient

    rng = np.random.default_rng(4)
    x = rng.random((4, 20, 22, 1), dtype=np.float32)
    y = np.stack([x[..., 0] > 0.8, x[..., 0] < 0.1], axis=-1).astype(np.float32)
    y[0] = 0
    models = {
        "head": rlemask_keras.unet((None, None, 1), filters=4, depth=2, classes=2, classifier=True),
    }
    expected = {}
    for name, model in models.items():
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=rlemask_keras.combined_loss("bce+dice"),
            metrics=[DiceCoefficient(name="dice")],
            presence_weight=0.25,
        )
        model.fit(x, y, epochs=1, batch_size=2, verbose=0)
        model.save(tmp_path / f"{name}.keras")
        expected[name] = model.evaluate(x, y, verbose=0, return_dict=True)
        np.save(tmp_path / f"{name}.npy", model.predict(x, verbose=0)[model.mask_output])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import keras
        import rlemask_keras
        out = {}
        x, y = np.load(sys.argv[1] + "/x.npy"), np.load(sys.argv[1] + "/y.npy")
        for name in ("head",):
            model = keras.models.load_model(f"{sys.argv[1]}/{name}.keras")
            probs = model.predict(x, verbose=0)
            np.testing.assert_allclose(
                probs[model.mask_output], np.load(f"{sys.argv[1]}/{name}.npy"), atol=1e-5
            )
            logs = model.evaluate(x, y, verbose=0, return_dict=True)
            out[name] = {"cls": type(model).__name__, "outputs": model.output_names,
                         "presence": list(probs["presence"].shape), "logs": logs,
                         "steps": int(model.optimizer.iterations.numpy())}
        print(json.dumps(out))
        """
    )
    got = json.loads(fresh_python(script, tmp_path).strip().splitlines()[-1])
    assert got["head"]["cls"] == "SegmentationModel"
    assert got["head"]["outputs"] == ["mask", "presence"]
    for name in models:
        assert got[name]["presence"] == [4, 2]
        assert got[name]["steps"] == 2  # the optimizer state came back
        for key in ("loss", "presence_loss", "dice"):
            assert got[name]["logs"][key] == pytest.approx(expected[name][key], rel=1e-5), key
