"""TrainConfig: its checks name parameters, its settings file stores resolved paths."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

pytest.importorskip("keras")  # TrainConfig.to_dict asks the model builders for defaults

from rlemask_keras.config import ON_ERROR, TrainConfig, option_flag  # noqa: E402

pytestmark = [pytest.mark.keras]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"img_size": 100, "depth": 3}, "`img_size` must be divisible by 2**depth = 8 (depth=3); "
                                        "received img_size=100"),
        ({"batch_size": 0}, "`batch_size` must be a positive integer; received batch_size=0"),
        ({"folds": 2, "fold": 2}, "`fold` must be in 0..1 (folds=2)"),
        ({"deep_supervision": True}, "`deep_supervision` needs `model` unet++"),
        ({"resume": True, "overwrite": True}, "`resume` cannot be combined with `overwrite`"),
        ({"on_error": "ignore"}, "`on_error` must be one of raise, skip"),
    ],
)  # fmt: skip
def test_checks_name_the_parameter_not_the_flag(settings, message):
    with pytest.raises(ValueError) as info:
        TrainConfig(**settings).check()
    assert str(info.value).startswith(message)
    assert "--" not in str(info.value)
    assert info.value.field == next(iter(settings)) or info.value.field in settings


def test_a_bad_loss_names_the_parameter_and_the_known_names():
    pytest.importorskip("keras")
    from rlemask_keras.losses import names

    with pytest.raises(ValueError, match="`loss` bce\\+hinge: .*hinge") as info:
        TrainConfig(loss="bce+hinge").check()
    for name in names():
        assert name in str(info.value)


def test_the_settings_file_stores_resolved_paths(tmp_path, monkeypatch):
    """Issue 19.17: a run folder read from another directory means the same files."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    settings = TrainConfig(data=Path("link"), out=Path("runs/a"), cache_dir=Path("c")).to_dict()
    assert settings["data"] == str(tmp_path / "real")
    assert settings["out"] == str(tmp_path / "runs" / "a")
    assert settings["cache_dir"] == str(tmp_path / "c")
    assert settings["synthetic_root"] == str(tmp_path / "runs")


def test_differences_compare_resolved_paths_and_name_parameters(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    saved = json.loads(json.dumps(TrainConfig(data=Path("data")).to_dict()))
    same = TrainConfig(data=tmp_path / "data", epochs=99, resume=True)  # resumable settings
    assert same.differences(saved) == []
    other = dataclasses.replace(same, data=tmp_path / "other", filters=4)
    assert other.differences(saved) == [
        f"`data` {tmp_path / 'other'} (the run has {tmp_path / 'data'})",
        "`filters` 4 (the run has 8)",
    ]
    # a setting added since the run was saved is taken at its default there
    del saved["on_error"]
    assert same.differences(saved) == []
    assert dataclasses.replace(same, on_error="skip").differences(saved) == [
        "`on_error` skip (the run has raise)"
    ]


def test_every_field_has_its_flag():
    assert option_flag("img_size") == "--img-size"
    assert option_flag("cache_dir") == "--cache" and option_flag("progress") == "--quiet"
    assert ON_ERROR == ("raise", "skip")
    for field in dataclasses.fields(TrainConfig):
        assert field.metadata["help"], field.name
