"""No import circles between the project's modules, counting imports inside functions.

The graph is read from the source with :mod:`ast` (nothing is imported), so a
circle that only closes when some function runs is found too.

Rules of the graph (the project's import rule, docs/contributing.md):

* A node is a module of ``rlemask`` or ``rlemask_keras`` (``pkg/__init__.py``
  is the package's node).
* An edge is every ``import`` / ``from ... import`` of a project module, at any
  depth (module level, inside functions, classes or ``try`` blocks), relative
  imports resolved, and every ``importlib.import_module("<literal>")``.
  ``from pkg import name`` is an edge to ``pkg.name`` when that is a module
  (``from rlemask import _kernels``), else to ``pkg``.
* The lazy facades ``rlemask/__init__.py`` and ``rlemask_keras/__init__.py``
  are the allowed exception: their lazy tables (``_EXPORTS``) are not edges,
  so a module that imports a public name through the facade
  (``from rlemask import decode``) imports the facade, a node with no outgoing
  project edge.  That is sound because the facade runs none of the imports at
  ``import`` time: by the time a function asks the facade for ``decode``, its
  own module is fully initialised.  What a facade imports itself (a leaf such
  as ``rlemask._optional``) is an edge like any other.
* Imports under ``if TYPE_CHECKING:`` are not edges (they never run).
* Tables resolved by name are plugin tables like entry points, not imports:
  the registries' built-ins (``"rlemask._formats.siim:CODEC"``, the metrics'),
  the commands' ``_COMMANDS``.  A module is loaded from them when a name is
  first looked up, after its caller is fully imported; ``import_module`` with
  a non-literal argument is not an edge.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("rlemask", "rlemask_keras")
FACADES = frozenset(PACKAGES)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def project_modules() -> dict[str, Path]:
    """``{dotted name: file}`` of every module of the two packages."""
    return {
        _module_name(p): p
        for pkg in PACKAGES
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str | None, level: int, here: str, is_package: bool) -> str:
    """The absolute module of ``from <level dots><module> import ...`` written in ``here``."""
    if level == 0:
        return module or ""
    base = here.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imported(tree: ast.AST, here: str, is_package: bool, modules: set[str]) -> set[str]:
    """The project modules that the code of ``tree`` imports (see the module docstring)."""
    found: set[str] = set()

    def add(name: str) -> None:
        # `import rlemask.a.b` names rlemask.a.b; keep the longest project module of it
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, here, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(sub if sub in modules else base)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Attribute, ast.Name))
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            add(node.args[0].value)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """``{module: project modules it imports}`` for both packages, itself excluded."""
    files = project_modules()
    names = set(files)
    graph = {}
    for name, path in files.items():
        edges = _imported(_tree(path), name, path.name == "__init__.py", names)
        graph[name] = edges - {name}
    return graph


def find_cycle(graph: dict[str, set[str]], nodes=None) -> list[str] | None:
    """One import circle ``[a, b, ..., a]`` among ``nodes`` (default: all), or ``None``."""
    nodes = sorted(graph) if nodes is None else sorted(nodes)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in nodes:
        if node not in state and (cycle := dfs(node)) is not None:
            return cycle
    return None


# ---------------------------------------------------------------- the walker itself


def _graph_of(sources: dict[str, str]) -> dict[str, set[str]]:
    names = set(sources)
    return {
        name: _imported(ast.parse(src), name, name in FACADES or name.endswith(".pkg"), names)
        - {name}
        for name, src in sources.items()
    }


def test_walker_sees_imports_inside_functions_and_literal_import_module():
    graph = _graph_of(
        {
            "rlemask": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    import rlemask.a\n",
            "rlemask.a": "def f():\n    from rlemask import b\n",
            "rlemask.b": "import importlib\n"
            "def g():\n    importlib.import_module('rlemask.c')\n",
            "rlemask.c": "class K:\n    def m(self):\n        from . import a\n",
            "rlemask.d": "from rlemask import decode\nimportlib.import_module(name)\n",
        }
    )
    assert graph == {
        "rlemask": set(),  # TYPE_CHECKING imports never run
        "rlemask.a": {"rlemask.b"},
        "rlemask.b": {"rlemask.c"},
        "rlemask.c": {"rlemask.a"},  # a relative import inside a method
        "rlemask.d": {"rlemask"},  # a public name through the facade; a dynamic name
    }
    assert find_cycle(graph) == ["rlemask.a", "rlemask.b", "rlemask.c", "rlemask.a"]
    del graph["rlemask.c"]
    assert find_cycle(graph) is None


def test_walker_resolves_relative_imports_in_packages():
    graph = _graph_of(
        {
            "rlemask.pkg": "from .leaf import x\nfrom . import other\n",
            "rlemask.pkg.leaf": "from ..top import y\n",
            "rlemask.pkg.other": "",
            "rlemask.top": "",
        }
    )
    assert graph["rlemask.pkg"] == {"rlemask.pkg.leaf", "rlemask.pkg.other"}
    assert graph["rlemask.pkg.leaf"] == {"rlemask.top"}


def test_graph_covers_every_module():
    graph = import_graph()
    assert {"rlemask", "rlemask.codec", "rlemask.runs", "rlemask_keras"} <= set(graph)
    # the codecs really are edges of the graph (the walker is not blind)
    assert "rlemask.runs" in graph["rlemask.codec"]
    assert "rlemask._formats.pairs" in graph["rlemask._formats.siim"]


# ---------------------------------------------------------------- the project's graph


def _package_cycle(package: str) -> list[str] | None:
    """A circle among ``package``'s modules (the core never imports the adapter, so
    every circle lies inside one package)."""
    graph = import_graph()
    inside = {m for m in graph if m.split(".")[0] == package}
    return find_cycle({m: graph[m] & inside for m in inside})


def test_core_has_no_import_circle():
    cycle = _package_cycle("rlemask")
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_adapter_has_no_import_circle():
    cycle = _package_cycle("rlemask_keras")
    assert cycle is None, "import circle: " + " -> ".join(cycle)


# ---------------------------------------------------------------- required dependencies

# distribution name -> the name it is imported by
_IMPORT_NAME = {"pillow": "PIL", "scikit-image": "skimage", "pyyaml": "yaml"}


def _third_party_imports() -> set[str]:
    """Top-level names of every non-project module the two packages import, anywhere."""
    names: set[str] = set()
    for path in project_modules().values():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(PACKAGES)


def test_every_required_dependency_is_imported():
    """A required dependency no module imports belongs in an extra (issue 18: scikit-image)."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {re.split(r"[<>=\[; ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    imported = _third_party_imports()
    unused = sorted(d for d in required if _IMPORT_NAME.get(d, d.replace("-", "_")) not in imported)
    assert unused == [], f"required but never imported: {unused}"
    assert "scikit-image>=0.22" in project["optional-dependencies"]["dev"]
