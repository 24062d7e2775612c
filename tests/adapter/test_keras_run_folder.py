"""The run folder (``--out``): starting, overwriting, resuming, and the report-model link.

No Keras needed: the folders are made by hand with the files a run writes.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

pytest.importorskip("keras")  # TrainConfig.to_dict asks the model builders for defaults

from rlemask_keras import run_folder as rf  # noqa: E402
from rlemask_keras.config import TrainConfig  # noqa: E402

pytestmark = [pytest.mark.keras]


def _run(out: Path, *, epoch: int = 2, report: bool = True, **settings) -> TrainConfig:
    """A finished (or, without ``report``, final-phase-killed) run's files, made by hand."""
    config = TrainConfig(out=out, epochs=epoch, **settings)
    out.mkdir(parents=True, exist_ok=True)
    (out / rf.CONFIG).write_text(json.dumps(config.to_dict()))
    (out / f".last-{epoch}.keras").write_bytes(b"last")
    (out / rf.STATE).write_text(json.dumps(
        {"epoch": epoch, "best": 0.5, "last": f".last-{epoch}.keras", "best_model": None}))
    (out / rf.MODEL).write_bytes(b"model")
    (out / rf.HISTORY).write_text("epoch,loss\n" + "".join(f"{i},1\n" for i in range(epoch)))
    if report:
        (out / rf.REPORT_JSON).write_text(json.dumps({
            "model": {"sha256": rf.model_digest(out / rf.MODEL)},
            "training": {"epochs": epoch}, "thresholds": {}}))  # fmt: skip
    return config


def test_a_new_or_empty_folder_starts_at_epoch_0(tmp_path):
    assert rf.resume_point(TrainConfig(out=tmp_path / "new")) == (0, True)
    (tmp_path / "empty").mkdir()
    assert rf.resume_point(TrainConfig(out=tmp_path / "empty")) == (0, True)
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError, match="`out`.*not a folder"):
        rf.resume_point(TrainConfig(out=tmp_path / "file"))


def test_resume_finishes_a_run_killed_in_its_final_phase(tmp_path):
    """Issue 19.1: epochs done, no report (or a report of another model): finish it."""
    config = _run(tmp_path / "run", report=False)
    resume = dataclasses.replace(config, resume=True)
    assert rf.resume_point(resume) == (2, False)  # no training left, the final phase is
    # a report of another model (a resumed run killed after replacing model.keras)
    (tmp_path / "run" / rf.REPORT_JSON).write_text(json.dumps(
        {"model": {"sha256": "0" * 64}, "training": {"epochs": 2}}))  # fmt: skip
    assert rf.resume_point(resume) == (2, False)
    # a report of this model but of fewer epochs: the 2-epoch run's report is missing
    (tmp_path / "run" / rf.REPORT_JSON).write_text(json.dumps(
        {"model": {"sha256": rf.model_digest(tmp_path / "run" / rf.MODEL)},
         "training": {"epochs": 1}}))  # fmt: skip
    assert rf.resume_point(resume) == (2, False)
    assert rf.resume_point(dataclasses.replace(resume, epochs=3)) == (2, True)


def test_resume_refuses_a_finished_run_and_other_settings(tmp_path):
    config = _run(tmp_path / "run")
    with pytest.raises(ValueError, match="already has 2 epoch.*its report.*`epochs`"):
        rf.resume_point(dataclasses.replace(config, resume=True))
    with pytest.raises(ValueError, match="already has 2 epoch.*epochs=2 to finish its report"):
        rf.resume_point(dataclasses.replace(config, resume=True, epochs=1))
    with pytest.raises(ValueError, match="settings differ.*`filters` 4"):
        rf.resume_point(dataclasses.replace(config, resume=True, epochs=3, filters=4))
    with pytest.raises(FileNotFoundError, match="`resume`.*no run to resume"):
        rf.resume_point(TrainConfig(out=tmp_path / "other", resume=True))


def test_resume_with_the_folder_spelled_another_way(tmp_path, monkeypatch):
    """Issue 19.17: paths are stored resolved and compared resolved."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    config = _run(Path("run"), report=False, data=Path("data"))
    saved = json.loads((tmp_path / "run" / rf.CONFIG).read_text())
    assert saved["data"] == str(tmp_path / "data") and saved["out"] == str(tmp_path / "run")
    spelled = dataclasses.replace(config, out=tmp_path / "run", data=tmp_path / "data",
                                  resume=True)  # fmt: skip
    assert rf.resume_point(spelled) == (2, False)
    # a run saved before paths were resolved: its relative paths are read from here
    saved.update(data="data", out="run")
    (tmp_path / "run" / rf.CONFIG).write_text(json.dumps(saved))
    assert rf.resume_point(spelled) == (2, False)


def test_overwrite_removes_only_what_a_run_wrote(tmp_path):
    """Issue 19.2: the user's logs/ tree and other files stay."""
    out = tmp_path / "run"
    config = _run(out, tensorboard=True)
    (out / rf.LOGS / "train").mkdir(parents=True)
    (out / rf.LOGS / "train" / "events.out").write_text("tb")
    (out / rf.LOGS / "2026-11").mkdir()
    (out / rf.LOGS / "2026-11" / "lab_notebook.txt").write_text("months of notes")
    (out / "notes.md").write_text("mine")
    overwrite = dataclasses.replace(config, overwrite=True, epochs=1)
    assert rf.resume_point(overwrite) == (0, True)
    rf.start(overwrite)
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert left == [rf.CONFIG, rf.LOGS, "logs/2026-11", "logs/2026-11/lab_notebook.txt",
                    "notes.md"]  # fmt: skip
    assert json.loads((out / rf.CONFIG).read_text())["epochs"] == 1
    # nothing but TensorBoard's folders in logs/: it goes with them
    (out / "logs" / "2026-11" / "lab_notebook.txt").unlink()
    (out / "logs" / "2026-11").rmdir()
    (out / rf.LOGS / "validation").mkdir()
    rf.start(overwrite)
    assert not (out / rf.LOGS).exists()


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path):
    """A config.json (or model.keras) that no run wrote is never replaced."""
    out = tmp_path / "project"
    out.mkdir()
    (out / "config.json").write_text('{"my": "own config"}')
    config = TrainConfig(out=out, overwrite=True)
    with pytest.raises(FileExistsError, match="not the settings file of an rlemask-keras"):
        rf.resume_point(config)
    with pytest.raises(FileExistsError):
        rf.start(config)
    (out / "config.json").unlink()
    (out / "model.keras").write_text("someone's model")
    with pytest.raises(FileExistsError, match="holds model.keras but no settings file"):
        rf.resume_point(config)
    assert (out / "model.keras").read_text() == "someone's model"
    (out / "model.keras").unlink()
    (out / "notes.md").write_text("mine")
    assert rf.resume_point(config) == (0, True)  # other files do not stop a run


def test_keep_best_moves_the_best_checkpoint_and_keeps_a_finished_model(tmp_path):
    out = tmp_path
    (out / ".last-1.keras").write_bytes(b"last")
    (out / ".best-1.keras").write_bytes(b"best")
    state = {"epoch": 1, "best": 0.5, "last": ".last-1.keras", "best_model": ".best-1.keras"}
    (out / rf.STATE).write_text(json.dumps(state))
    rf.keep_best(out)
    assert (out / rf.MODEL).read_bytes() == b"best" and not (out / ".best-1.keras").exists()
    rf.keep_best(out)  # again (a resumed final phase): the model stays
    assert (out / rf.MODEL).read_bytes() == b"best"
    (out / rf.MODEL).unlink()
    rf.keep_best(out)  # no best and no model: the last checkpoint
    assert (out / rf.MODEL).read_bytes() == b"last"


def test_history_rows_past_the_state_are_dropped(tmp_path):
    (tmp_path / rf.HISTORY).write_text("epoch,loss\n0,0.5\n1,0.25\n2,0.125\n")
    rf.keep_history_rows(tmp_path, 2)
    assert rf.read_history(tmp_path) == {"loss": [0.5, 0.25]}
    rf.keep_history_rows(tmp_path / "absent", 1)  # nothing to trim


def test_a_report_without_a_model_record_is_the_model_s(tmp_path):
    (tmp_path / rf.MODEL).write_bytes(b"m")
    assert rf.report_matches_model({}, tmp_path / rf.MODEL)  # written before the record
    assert not rf.report_matches_model({"model": {"sha256": "x"}}, tmp_path / "absent.keras")
    assert rf.is_run_config(TrainConfig().to_dict()) and not rf.is_run_config({"my": 1})
