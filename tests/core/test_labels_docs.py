"""docs/labels.md ("Label files of the field"): every competition's worked example runs."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "labels.md"


def test_label_files_page_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the page chdirs into a scratch folder; put it back after
    result = doctest.testfile(str(PAGE), module_relative=False, optionflags=doctest.ELLIPSIS,
                              raise_on_error=False, verbose=False)
    assert result.attempted > 40 and result.failed == 0, result
    headings = re.findall(r"^## (.*)$", PAGE.read_text(), re.M)
    for competition in ("SIIM", "Severstal", "Airbus", "UW-Madison", "HuBMAP", "Sartorius",
                        "Data Science Bowl", "TGS", "Contrails", "Vesuvius", "Clouds", "Carvana"):
        assert any(competition in h for h in headings), competition  # one section each
