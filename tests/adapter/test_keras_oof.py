"""oof.py: what out_of_fold refuses, before any model is loaded.

(The happy path, two folds through the command, is in tests/adapter/test_keras_cli.py.)
"""

from __future__ import annotations

import json

import pytest

from rlemask_keras.oof import out_of_fold
from rlemask_keras.run_folder import model_digest


def _run(folder, root, ids, *, sha=None):
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"a model")
    report = {"data": {"root": str(root)}, "evaluation": {"per_image": [{"id": i} for i in ids]},
              "model": {"sha256": sha or model_digest(folder / "model.keras")}}  # fmt: skip
    (folder / "report.json").write_text(json.dumps(report))
    return folder


def test_runs_that_are_not_the_folds_of_one_split_are_refused(tmp_path):
    with pytest.raises(ValueError, match="`runs`: give at least one"):
        out_of_fold([])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="`runs`: .*holds no finished rlemask-keras train run"):
        out_of_fold([tmp_path / "empty"])
    a = _run(tmp_path / "a", tmp_path / "data", ["x", "y"])
    b = _run(tmp_path / "b", tmp_path / "other", ["z"])
    with pytest.raises(ValueError, match="trained on different data sets"):
        out_of_fold([a, b])
    c = _run(tmp_path / "c", tmp_path / "data", ["y", "z"])
    with pytest.raises(ValueError, match="validation images overlap"):
        out_of_fold([a, c])


def test_a_report_of_another_model_is_refused(tmp_path):
    """Issue 19.1: a run stopped in its final phase has a report of the model before."""
    run = _run(tmp_path / "run", tmp_path / "data", ["x"], sha="0" * 64)
    with pytest.raises(ValueError, match="describes another model.*--resume"):
        out_of_fold([run])


def test_the_data_set_of_the_runs_must_still_be_there(tmp_path):
    run = _run(tmp_path / "run", tmp_path / "gone", ["x"])
    with pytest.raises(FileNotFoundError, match="`runs`: the data set the runs trained on"):
        out_of_fold([run])
