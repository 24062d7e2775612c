"""The examples of the user docs run as written (doctests against a synthetic tree)."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("page", ["getting-started.md", "scaling.md", "formats.md", "plugins.md"])
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write "siim/", "submission.csv", caches
    result = doctest.testfile(
        str(DOCS / page), module_relative=False, optionflags=doctest.ELLIPSIS,
        raise_on_error=False, verbose=False,
    )
    assert result.attempted > 0, f"{page}: no example found"
    assert result.failed == 0, f"{page}: {result.failed} of {result.attempted} examples failed"
