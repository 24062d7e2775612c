"""``PluginRegistry``: named plugins from three sources, for every registry of the house.

A registry knows its built-ins by import path (``"rlemask._formats.siim:CODEC"``,
so that listing them imports nothing), takes run-time registrations
(``register``), and finds installed packages' entry points of its group,
loaded lazily: the first time an unknown name is looked up, or when the names
are listed.  The format registry (:mod:`rlemask._formats`) and the metric
registry (:mod:`rlemask.metric_registry`) are two instances, each with its own
group, built-ins and check.

Examples
--------
>>> from rlemask._registry import PluginRegistry
>>> colours = PluginRegistry("colour", "example.colours", {"red": "builtins:str"})
>>> colours.register("blue", lambda: "blue")
>>> colours.names()
['blue', 'red']
>>> colours.get("red") is str
True
>>> colours.get("green")
Traceback (most recent call last):
...
ValueError: unknown colour 'green'; available colours: blue, red
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Mapping
from typing import Any


def _accept(name: str, plugin: Any) -> Any:
    return plugin


class PluginRegistry:
    """Plugins by name: built-ins by import path, registrations, entry points.

    Parameters
    ----------
    kind : str
        What a plugin is, for messages (``"format"``, ``"metric"``).
    group : str
        The entry-point group (``"rlemask.formats"``).
    builtin : mapping of str to str
        Name -> ``"module:attribute"`` of the built-in plugins.
    check : callable, optional
        ``check(name, plugin) -> plugin``: validates (and may build) what is
        registered or loaded; raises ``TypeError``/``ValueError``.
    unknown : str, optional
        The words of the unknown-name message (default ``kind``), e.g.
        ``"RLE format"`` for ``"unknown RLE format 'x'"``.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        builtin: Mapping[str, str],
        check: Callable[[str, Any], Any] = _accept,
        *,
        unknown: str | None = None,
    ):
        self.kind = kind
        self.group = group
        self.builtin = dict(builtin)
        self._check = check
        self._unknown = unknown or kind
        self._registered: dict[str, Any] = {}  # built-ins and plugins once loaded, too
        self._entry_points: dict[str, importlib.metadata.EntryPoint] | None = None

    def _discover(self) -> dict[str, importlib.metadata.EntryPoint]:
        if self._entry_points is None:
            found: dict[str, importlib.metadata.EntryPoint] = {}
            for ep in importlib.metadata.entry_points(group=self.group):
                found.setdefault(ep.name, ep)
            self._entry_points = found
        return self._entry_points

    def register(self, name: str, plugin: Any, *, replace: bool = False) -> None:
        """Register ``plugin`` as ``name``; ``replace=True`` to replace one (built-ins too)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"`name` must be a non-empty str; received name={name!r}")
        if not replace and (name in self._registered or name in self.builtin):
            raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True")
        self._registered[name] = self._check(name, plugin)

    def names(self) -> list[str]:
        """Sorted names of every available plugin (built-ins, registered, entry points)."""
        return sorted(set(self.builtin) | set(self._registered) | set(self._discover()))

    def get(self, name: str) -> Any:
        """The plugin registered as ``name``; ValueError listing the names when unknown."""
        plugin = self._registered.get(name)
        if plugin is not None:
            return plugin
        if name in self.builtin:
            module, _, attr = self.builtin[name].partition(":")
            plugin = getattr(importlib.import_module(module), attr)
        elif isinstance(name, str) and name in self._discover():
            plugin = self._discover()[name].load()
        else:
            raise ValueError(
                f"unknown {self._unknown} {name!r}; available {self.kind}s: "
                f"{', '.join(self.names())}"
            )
        plugin = self._check(name, plugin)
        self._registered[name] = plugin
        return plugin

    def snapshot(self) -> tuple[dict[str, Any], dict | None]:
        """The registrations and discovered entry points, for :meth:`restore` (tests)."""
        return dict(self._registered), self._entry_points

    def restore(self, state: tuple[dict[str, Any], dict | None]) -> None:
        self._registered, self._entry_points = dict(state[0]), state[1]

    def __repr__(self) -> str:
        return f"PluginRegistry({self.kind!r}, {self.group!r}, {len(self.builtin)} built-ins)"
