"""Missing extras: one line naming the extra to install, never a masked real bug (issue 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rlemask._optional import (
    EXTRAS,
    MissingExtraError,
    explain,
    extra_for,
    install_hint,
    require,
)

ROOT = Path(__file__).resolve().parents[2]
KERAS_HINT = (
    'pip install "rlemask[keras]" (or "rlemask[keras-cpu]" for a CPU-only TensorFlow, '
    '"rlemask[keras-gpu]" for TensorFlow with CUDA)'
)


def test_extras_are_pyprojects_extras():
    """Every hint installs an extra that exists, and each extra installs what it names."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for name, extra in EXTRAS.items():
        assert name in declared
        assert f'"rlemask[{name}]"' in extra.install
    assert {"keras-cpu", "keras-gpu"} <= set(declared)
    assert '"rlemask[keras-cpu]"' in install_hint("keras")
    assert '"rlemask[keras-gpu]"' in install_hint("keras")


def test_require_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if Dask were not installed
    with pytest.raises(MissingExtraError) as info:
        require("distributed", "building a cache on a Dask cluster")
    assert str(info.value) == (
        "building a cache on a Dask cluster needs Dask, but 'distributed' is not installed: "
        'pip install "rlemask[dask]"'
    )
    assert isinstance(info.value, ImportError)  # existing `except ImportError` still works
    assert info.value.__suppress_context__  # one message, not two chained tracebacks


def test_submodule_of_a_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    # an earlier test may have imported the submodules: drop them, or they are served cached
    for name in [m for m in sys.modules if m.startswith("pandas.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(MissingExtraError, match=r"'pandas' is not installed: pip install "):
        require("pandas.api.types", "x")


def test_require_refuses_a_module_of_no_extra():
    with pytest.raises(ValueError, match=r"received module='numpy'"):
        require("numpy", "x")


def test_other_missing_modules_keep_their_error(monkeypatch):
    """A module that no extra provides is a bug in the code: it is not dressed up."""
    monkeypatch.setitem(sys.modules, "rlemask_no_such_module", None)
    with pytest.raises(ModuleNotFoundError) as info, extra_for("x"):
        import rlemask_no_such_module  # noqa: F401
    assert not isinstance(info.value, MissingExtraError)
    assert explain(info.value) is None
    assert explain(ValueError("keras")) is None


def test_explain():
    err = ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")
    assert explain(err, "training") == (
        f"training needs Keras 3 and TensorFlow, but 'tensorflow' is not installed: {KERAS_HINT}"
    )
    jax = ModuleNotFoundError("No module named 'jax.numpy'", name="jax.numpy")
    assert explain(jax).endswith("'jax' is not installed: pip install \"rlemask[jax]\"")
    done = MissingExtraError("already explained", name="keras")
    assert explain(done, "ignored") == "already explained"


def test_cache_without_dask(monkeypatch):
    from rlemask.cache import _dask_results

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingExtraError, match=r'pip install "rlemask\[dask\]"'):
        _dask_results(object(), [])


# Keras: as users meet it, in fresh processes with the import blocked
_BLOCK_KERAS = "import sys; sys.modules['keras'] = None; sys.modules['tensorflow'] = None\n"


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK_KERAS + code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_keras_names_without_keras():
    result = _python(
        "import rlemask_keras\n"
        "print(rlemask_keras.TrainConfig.__name__)\n"  # needs no Keras: still works
        "for name in ('unet', 'DataGenerator', 'dice_loss'):\n"
        "    try:\n"
        "        getattr(rlemask_keras, name)\n"
        "    except ImportError as err:\n"
        "        print(type(err).__name__, err)\n"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "TrainConfig"
    assert lines[1:] == [
        f"MissingExtraError rlemask_keras.{name} needs Keras 3 and TensorFlow, "
        f"but 'keras' is not installed: {KERAS_HINT}"
        for name in ("unet", "DataGenerator", "dice_loss")
    ]


def test_keras_command_without_keras(tmp_path):
    out = tmp_path / "run"
    result = _python(
        "from rlemask_keras.cli import main\n"
        f"sys.exit(main(['train', '--out', {str(out)!r}, '--epochs', '1']))\n"
    )
    assert result.returncode == 2
    assert result.stderr == (
        "rlemask-keras train: error: this command needs Keras 3 and TensorFlow, "
        f"but 'keras' is not installed: {KERAS_HINT}\n"
    )
    assert not out.exists()
