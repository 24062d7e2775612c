"""The ``rlemask-keras`` command: ``train``, ``predict`` and ``oof``.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, as ``rlemask``'s do; both commands run through
:func:`rlemask.cli.run`: user errors (bad files, bad values, an existing
output folder) print one line on stderr and exit with status 2, anything
else is a bug and keeps its traceback.  ``train``'s options are made from
:class:`rlemask_keras.config.TrainConfig`'s fields.

The library's messages name parameters (```img_size```, ``batch_size=0``);
:data:`FLAGS` is the one table that maps them to each command's flags, and
:func:`flag_message` rewrites a user error with it before it is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence

from rlemask import __version__
from rlemask.cli import run as run_command
from rlemask_keras._backend import set_threads
from rlemask_keras.config import TrainConfig, option_flag

# one sub-command per module, in the order ``--help`` lists them
_COMMANDS = ["train", "predict", "oof"]

#: TensorFlow's native start-up lines (absl / glog format: oneDNN, CPU
#: features, CUDA probing), printed before its logging honours
#: TF_CPP_MIN_LOG_LEVEL; the commands drop them unless --verbose
_NATIVE_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|[IWE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]"
    rb"|To enable the following instructions:)"
)


_PREDICTION_FLAGS = {"tta": "--tta", "batch_size": "--batch-size"}

#: each command's parameters -> its flags (or positional names): the one place
#: where the library's parameter names become what a user typed
FLAGS: dict[str, dict[str, str]] = {
    "train": {f.name: option_flag(f.name) for f in dataclasses.fields(TrainConfig)},
    "predict": {
        "models": "MODEL",
        "data": "DATA",
        "out": "--out",
        "weights": "--weights",
        "triplet": "--thresholds",
        "resolution": "--resolution",
        "progress": "--quiet",
        "competition": "--competition",
        "layout": "--layout",
        "format": "--format",
        "objects": "--objects",
        "pattern": "--pattern",
        "image_id": "--image-id",
        "tile": "--tile",
        "overlap": "--overlap",
        **_PREDICTION_FLAGS,
    },
    "oof": {"runs": "RUN_DIR", "out": "--out", **_PREDICTION_FLAGS},
}


class CommandError(ValueError):
    """A user error whose message names the command's flags (printed on one line, exit 2)."""


def flag_message(message: str, flags: Mapping[str, str]) -> str:
    """``message`` with the parameter names of ``flags`` written as the flags.

    A parameter is named in backticks (```img_size```) or as ``name=value``;
    other words stay as they are.

    Examples
    --------
    >>> flag_message("`img_size` must be even; received img_size=7 (depth=2)",
    ...              FLAGS["train"])
    '--img-size must be even; received --img-size 7 (--depth 2)'
    >>> flag_message("`models`: no such file", FLAGS["predict"])
    'MODEL: no such file'
    """

    def name(match: re.Match) -> str:
        return flags.get(match[1], match[1])

    def assignment(match: re.Match) -> str:
        flag = flags.get(match[1])
        return match[0] if flag is None else f"{flag} "

    message = re.sub(r"`(\w+)`", name, message)
    return re.sub(r"(?<![\w.*-])([a-z_][a-z0-9_]*)=(?!=)", assignment, message)


def _with_flags(func: Callable[[argparse.Namespace], int], flags: Mapping[str, str]):
    """``func`` whose user errors (ValueError, OSError) name the command's flags."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (ValueError, OSError) as err:
            raise CommandError(flag_message(str(err), flags)) from err

    return run


def add_prediction_options(parser: argparse.ArgumentParser) -> None:
    """``--tta`` and ``--batch-size``, shared by the commands that run models."""
    parser.add_argument(
        "--tta",
        choices=("none", "flip", "hflip", "flips", "d4"),
        default="none",
        help="average over symmetries: flip or hflip (and the left-right mirror), flips "
        "(the four mirrors), d4 (the eight symmetries of the square) (default: none)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=16, help="images per model call (default: 16)"
    )


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    """``--threads`` and ``--verbose``, shared by the sub-commands."""
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="intra-op threads of the Keras backend (default: 0, the backend's choice)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up log lines (hidden by default)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlemask-keras",
        description="Train and apply U-Net / U-Net++ models on SIIM-style RLE data sets.",
    )
    parser.add_argument("--version", action="version", version=f"rlemask-keras {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"rlemask_keras.cli.{name}").register(subparsers)
        command = subparsers.choices[name]
        command.set_defaults(func=_with_flags(command.get_default("func"), FLAGS[name]))
    return parser


@contextlib.contextmanager
def runtime(args: argparse.Namespace) -> Iterator[None]:
    """Set up the backend for a command: TensorFlow's logging (before its import) and threads."""
    with contextlib.ExitStack() as stack:
        if not args.verbose:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            stack.enter_context(_without_native_noise())
        if args.threads > 0:
            set_threads(args.threads)
        yield


#: The filter of :func:`_without_native_noise`, run by a separate Python
#: process: a thread of the command itself dies with it, so what a native
#: abort prints just before the end (the one line that says why) was lost.
_FILTER_PROGRAM = r"""
import os, re, sys
noise = re.compile(os.fsencode(sys.argv[1]))

def forward(piece):
    if not noise.match(piece):
        while piece:
            piece = piece[os.write(2, piece):]

pending = b""
try:
    while chunk := os.read(0, 65536):
        *pieces, pending = re.split(rb"(?<=[\r\n])", pending + chunk)
        for piece in pieces:
            forward(piece)
    forward(pending)
except OSError:  # stderr itself is gone (a closed pipe): nothing to show it on
    pass
"""


@contextlib.contextmanager
def _without_native_noise() -> Iterator[None]:
    """Pass the process's stderr (fd 2) through a filter that drops :data:`_NATIVE_NOISE`.

    TensorFlow's C++ code writes to the file descriptor, beneath Python, so
    only a pipe in its place can filter it.  The filter is a small child
    process (:data:`_FILTER_PROGRAM`), in its own session so that Ctrl-C
    reaches only the command: it forwards everything up to the pipe's end,
    even when the command is killed by a native abort.  Segments end at
    ``\\n`` or ``\\r`` so that progress bars still draw as they go.
    """
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (e.g. embedded): leave it alone
        yield
        return
    try:
        child = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _FILTER_PROGRAM, os.fsdecode(_NATIVE_NOISE.pattern)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=real,
            start_new_session=True,
        )
    except OSError:  # no interpreter to start: unfiltered, but working
        os.close(real)
        yield
        return
    os.dup2(child.stdin.fileno(), 2)
    child.stdin.close()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(real, 2)  # our last hold on the pipe: the filter reads to its end
        os.close(real)
        with contextlib.suppress(subprocess.TimeoutExpired):
            # a process started by the command may still hold the pipe; the
            # filter then ends with it, and the command need not wait
            child.wait(timeout=5)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    return run_command(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
