"""Type checkers and IDEs see the lazy exports: the ``TYPE_CHECKING`` block of each
``__init__.py`` imports exactly the names of its lazy table, from the same modules."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import rlemask
import rlemask_keras

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [rlemask, rlemask_keras]


def _type_checking_imports(package) -> dict[str, str]:
    """``{name: module}`` of the imports under ``if TYPE_CHECKING:`` (read, not run)."""
    tree = ast.parse(Path(package.__file__).read_text())
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    ]
    assert len(blocks) == 1, "one TYPE_CHECKING block, at module level"
    names: dict[str, str] = {}
    for node in blocks[0].body:
        assert isinstance(node, ast.ImportFrom), ast.unparse(node)
        for alias in node.names:
            # `X as X`: an explicit re-export that `mypy --no-implicit-reexport` accepts
            assert alias.asname == alias.name, ast.unparse(node)
            assert alias.name not in names, f"{alias.name} imported twice"
            names[alias.name] = node.module
    return names


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_type_checking_block_lists_the_lazy_table(package):
    expected = dict(package._EXPORTS)
    for sub in getattr(package, "_SUBMODULES", ()):
        expected[sub] = package.__name__  # `from rlemask import synthetic as synthetic`
    seen = _type_checking_imports(package)
    assert seen == expected
    assert sorted(seen) == sorted(package.__all__)


def test_lazy_names_resolve_to_their_modules():
    """What the static block claims is what ``__getattr__`` returns (core only: no Keras)."""
    for name, module in rlemask._EXPORTS.items():
        assert getattr(rlemask, name) is getattr(importlib.import_module(module), name)


@pytest.mark.slow
def test_mypy_sees_the_lazy_names(tmp_path):
    """mypy resolves every lazy name to its real type, not ``Any`` (where mypy is installed).

    Without the TYPE_CHECKING block mypy would only see ``__getattr__`` and
    reveal ``Any`` for every name; about 20 s, numpy's stubs included.
    """
    pytest.importorskip("mypy")
    uses = "\n".join(f"reveal_type(rlemask.{name})" for name in rlemask.__all__)
    (tmp_path / "use.py").write_text(f"import rlemask\n{uses}\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-implicit-reexport", "--follow-imports=silent",
         "--no-incremental", str(tmp_path / "use.py")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    revealed = [
        line.split('Revealed type is "', 1)[1][:-1]
        for line in result.stdout.splitlines()
        if "note: Revealed type is" in line
    ]
    assert len(revealed) == len(rlemask.__all__), result.stdout
    untyped = [name for name, kind in zip(rlemask.__all__, revealed, strict=True) if kind == "Any"]
    assert not untyped, result.stdout


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_dir_lists_the_public_names_not_the_facades_own_imports(package):
    """``dir(package)`` is what a user can use: the public names and dunders (issue 19, 21)."""
    listed = dir(package)
    for helper in ("Any", "TYPE_CHECKING", "annotations", "importlib", "_EXPORTS"):
        assert helper not in listed
    assert set(package.__all__) <= set(listed)
    assert "__doc__" in listed and listed == sorted(listed)
    assert {n for n in listed if not n.startswith("__")} == set(package.__all__)
    assert "__version__" in dir(rlemask)
