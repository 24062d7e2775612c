"""The ``rlemask`` command's help and error style: flags with defaults, no reST, one-line errors."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from rlemask.cli import _COMMANDS, build_parser

_REST = ("``", ":func:", ":mod:", ":class:", ":data:", ":meth:")


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    raise AssertionError("no sub-commands")


@pytest.fixture(scope="module")
def commands():
    return _subparsers(build_parser())


def test_every_command_is_listed(commands):
    assert list(commands) == _COMMANDS


@pytest.mark.parametrize("name", _COMMANDS)
def test_every_option_has_help_with_its_default(commands, name):
    parser = commands[name]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        flag = "/".join(action.option_strings) or action.dest
        assert action.help, f"rlemask {name} {flag}: no help text"
        if action.option_strings:  # options say their default, or that they are required
            assert "default" in action.help or action.required, (
                f"rlemask {name} {flag}: the help does not give the default: {action.help!r}"
            )


@pytest.mark.parametrize("name", _COMMANDS)
def test_no_rest_markup_in_help(commands, name):
    text = commands[name].format_help()
    assert not [mark for mark in _REST if mark in text], text


def test_help_as_users_see_it():
    result = subprocess.run(
        [sys.executable, "-m", "rlemask", "convert", "--help"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0
    assert "--from NAME" in result.stdout and "(default:" in result.stdout
    assert "siim)" in result.stdout and "--coco-layout" in result.stdout
    assert "``" not in result.stdout


def test_argparse_errors_are_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "rlemask", "cache", "DATA", "OUT", "--size", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("rlemask cache: error: argument --size: --size must be")


def test_building_the_command_line_loads_no_kernels_or_pydicom():
    """``rlemask --help`` stays quick: each command's parser is built without numba or pydicom."""
    script = (
        "import sys; from rlemask.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('numba', 'pydicom', 'matplotlib', 'pandas', 'tensorflow') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
