"""``PluginRegistry``, the one registry class (formats use it; any other registry can)."""

from __future__ import annotations

import importlib.metadata

import pytest

from rlemask._registry import PluginRegistry


def _checked(name, plugin):
    if not callable(plugin):
        raise TypeError(f"a {name!r} plugin must be callable; received {plugin!r}")
    return plugin


def test_builtins_registrations_and_entry_points(monkeypatch):
    loaded = []

    class EntryPoint:
        name = "from-package"

        def load(self):
            loaded.append(self.name)
            return len

    def entry_points(**kwargs):
        assert kwargs == {"group": "example.things"}
        return [EntryPoint(), EntryPoint()]  # a name twice: the first wins

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    things = PluginRegistry("thing", "example.things", {"upper": "builtins:str"}, _checked)
    things.register("mine", abs)
    assert things.names() == ["from-package", "mine", "upper"]
    assert loaded == []  # listing loads nothing
    assert things.get("upper") is str and things.get("mine") is abs
    assert things.get("from-package") is len and things.get("from-package") is len
    assert loaded == ["from-package"]  # loaded once
    with pytest.raises(ValueError, match="thing 'upper' is already registered; pass replace"):
        things.register("upper", repr)
    things.register("upper", repr, replace=True)
    assert things.get("upper") is repr
    with pytest.raises(TypeError, match="must be callable"):
        things.register("bad", 3)
    with pytest.raises(ValueError, match="`name` must be a non-empty str"):
        things.register("", abs)
    with pytest.raises(ValueError, match=r"unknown thing 'nope'; available things: from-package"):
        things.get("nope")


def test_snapshot_and_restore():
    things = PluginRegistry("thing", "example.none", {})
    state = things.snapshot()
    things.register("temporary", abs)
    things.restore(state)
    assert things.names() == []
