"""report.py: report.json's content in one call, written last; what the summary says."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("keras")  # TrainConfig.to_dict asks the model builders for defaults

import rlemask  # noqa: E402
from rlemask_keras import report as rep  # noqa: E402
from rlemask_keras.config import TrainConfig  # noqa: E402
from rlemask_keras.training import RunData, Training  # noqa: E402

pytestmark = [pytest.mark.keras]
MONITOR = rep.CHECKPOINT_MONITOR


def _evaluation():
    truth = {"a": ["1 2"], "b": []}
    return {
        "report": rlemask.evaluate(truth, truth, shape=(4, 4)),
        "thresholds": {"top": 0.5, "min_area": 0, "min_area_1024": 0, "bottom": 0.4,
                       "grid_score": 1.0, "grid_size": 1},  # fmt: skip
        "plain_threshold_score": 0.9,
        "predict_images_per_second": 7.0,
    }


def _report(skipped=(), target=None):
    labels = {"a": ["1 2"], "b": [], "c": []}
    paths = [Path(f"/d/{k}.dcm") for k in labels]
    data = RunData(Path("/d"), paths, labels, paths[:1], paths[1:], "fold 0 of 2", None,
                   Path("/d/cache"), [dict(s) for s in skipped])  # fmt: skip
    history = {"loss": [1.0, 0.5], "val_dice": [0.2, 0.7], MONITOR: [float("nan"), 0.6]}
    return rep.build_report(config=TrainConfig(epochs=2, target=target),
                            evaluation=_evaluation(), history=history, data=data,
                            training=Training(12.0, 30.0), parameters=123,
                            model_sha256="ab" * 32, wall_seconds=40.0)  # fmt: skip


def test_build_report_holds_everything_in_one_call():
    report = _report(target=0.5)
    assert report["model"] == {"file": "model.keras", "sha256": "ab" * 32, "epoch": 2}
    assert report["training"]["best_epoch"] == 2 and report["training"]["val_dice_at_best"] == 0.7
    assert report["data"] == {"root": "/d", "n_images": 3, "n_positive": 1, "n_train": 1,
                              "n_validation": 2, "split": "fold 0 of 2", "cache": "/d/cache",
                              "skipped": []}  # fmt: skip
    assert report["parameters"] == 123 and report["target"]["met"] is True
    assert report["config"]["epochs"] == 2 and report["wall_seconds"] == 40.0


def test_best_epoch_and_speed_leave_out_nan_and_the_first_epoch():
    assert rep.best_epoch({MONITOR: [float("nan")] * 3}, 3)[0] == 1
    assert math.isnan(rep.best_epoch({MONITOR: [float("nan")] * 3}, 3)[1])
    assert rep.images_per_second([5.0, None, 2.0], [10, 10, 10]) == 5.0
    assert rep.images_per_second([4.0], [8]) == 2.0  # the only epoch counts


def test_report_json_is_written_last_and_both_files_say_what_was_skipped(tmp_path, monkeypatch):
    written = []
    real = rep.atomic_write

    def recording(path, *args, **kwargs):
        written.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(rep, "atomic_write", recording)
    skipped = [{"id": "c", "path": "/d/c.dcm", "error": "truncated"}]
    report = _report(skipped)
    rep.write_reports(tmp_path, report, _evaluation()["report"])
    assert written == ["report.md", "report.json"]  # report.json marks the phase done
    assert json.loads((tmp_path / "report.json").read_text())["data"]["skipped"] == skipped
    assert "| skipped (unreadable) | /d/c.dcm (truncated) |" in (tmp_path / "report.md").read_text()
    text = rep.summary(report, tmp_path)
    assert "skipped 1 unreadable image: /d/c.dcm (truncated)" in text
    assert f"  {tmp_path / 'report.json'}" in text and "2 epochs, 12.0 training images/s" in text


@pytest.mark.parametrize("n", [1, 7])
def test_plural(n):
    assert rep.plural(n, "run") == (f"{n} run" if n == 1 else f"{n} runs")
