"""The ``rlemask`` command: ``rlemask synth|stats|plot|cache|score|convert``.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the
function that runs it.

The command speaks in its own terms -- arguments and flags (``DATA``,
``--csv``, ``--overwrite``), never the Python parameters behind them: the
shared helpers below check what the user typed before the library sees it.
Every user error (bad files, bad values, bad flags) prints one line to stderr
and exits with status 2; warnings print as one line each
(``rlemask stats: warning: ...``, no source path); anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlemask import __version__
from rlemask._formats import formats
from rlemask._optional import explain
from rlemask._validation import MAX_PIXELS
from rlemask.datasets import CSV_NAMES, find_labels_csv, load_siim

# one sub-command per module, in the order ``--help`` lists them
_COMMANDS = [
    "synth",
    "stats",
    "plot",
    "cache",
    "score",
    "check",
    "inspect",
    "report",
    "convert",
]

#: exit status for errors in the user's input (argparse uses 2 as well)
USER_ERROR = 2


class CommandError(ValueError):
    """A user error whose message already names the command's arguments and flags."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``rlemask cache: error: ... (see --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        line = f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)"
        self.exit(USER_ERROR, line + "\n")


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def add_shape_option(parser: argparse.ArgumentParser) -> None:
    """``--shape H W``: the mask size RLE strings are read with (SIIM: 1024 x 1024)."""
    parser.add_argument(
        "--shape",
        nargs=2,
        type=int,
        metavar=("H", "W"),
        default=(1024, 1024),
        help="mask height and width in pixels (default: 1024 1024, the SIIM size)",
    )


def rle_format(text: str) -> str:
    """argparse ``type`` of ``--format`` / ``--from`` / ``--to``: a registered format."""
    known = formats()
    if text not in known:
        raise argparse.ArgumentTypeError(
            f"unknown RLE format {text!r}; available: {', '.join(known)}"
        )
    return text


def add_format_option(parser: argparse.ArgumentParser, what: str = "the labels CSV") -> None:
    """``--format NAME``: the RLE format of the files read."""
    parser.add_argument(
        "--format", type=rle_format, default="siim", metavar="NAME",
        help=f"RLE format of {what}: siim, kaggle, ... (default: siim)",
    )


def add_data_options(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """``DATA`` and ``--csv PATH``, for the commands that read a SIIM-style folder."""
    parser.add_argument(
        "data", metavar="DATA", nargs="?" if optional else None,
        help="data-set folder: DICOM files (any nesting) and a labels CSV",
    )
    parser.add_argument(
        "--csv", metavar="PATH",
        help="labels CSV (default: train-rle.csv or stage_2_train.csv found under DATA)",
    )


def _check_shape(args: argparse.Namespace) -> str | None:
    """The ``--shape`` error message, or None when it fits."""
    h, w = args.shape
    if h < 1 or w < 1:
        return f"--shape {h} {w}: height and width must be positive"
    if h * w > MAX_PIXELS:
        return f"--shape {h} {w}: {h * w} pixels is more than the 2**40 a mask may have"
    return None


def load_data(args: argparse.Namespace) -> tuple[list[Path], dict[str, list[str]], Path]:
    """``load_siim`` on ``DATA`` / ``--csv``, with errors that name them.

    Returns the image paths, the labels and the labels CSV used.
    """
    data = Path(args.data)
    if not data.is_dir():
        raise CommandError(f"DATA {args.data!r} is not a folder")
    if args.csv is not None:
        csv_path = Path(args.csv)
        if not csv_path.is_file():
            raise CommandError(f"--csv {args.csv!r} is not a file")
    else:
        try:
            csv_path = find_labels_csv(data)
        except FileNotFoundError:
            raise CommandError(
                f"no labels CSV ({' or '.join(CSV_NAMES)}) under DATA {args.data!r}; "
                "name it with --csv PATH"
            ) from None
    paths, labels = load_siim(data, csv=csv_path, format=getattr(args, "format", "siim"))
    return paths, labels, csv_path


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rlemask",
        description="Run-length encoded masks: data sets, plots, scoring, conversion.",
    )
    parser.add_argument("--version", action="version", version=f"rlemask {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"rlemask.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    return run(build_parser(), argv)


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command's ``func``; returns the exit status.

    The runner of both commands, ``rlemask`` and ``rlemask-keras``.
    """
    args = parser.parse_args(argv)
    prog = f"{parser.prog} {args.command}"
    if getattr(args, "shape", None) is not None and (problem := _check_shape(args)):
        print(f"{prog}: error: {problem}", file=sys.stderr)
        return USER_ERROR

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{prog}: warning: {_one_line(message)}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            return int(args.func(args) or 0)
    except BrokenPipeError:
        # ``rlemask score ... | head``: the reader left, which is not an error.
        # Point stdout at devnull so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as err:  # RLEError, DicomError, ... are ValueErrors
        print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
        return USER_ERROR
    except ModuleNotFoundError as err:
        message = explain(err, "this command")  # None: not an extra's package, a real bug
        if message is None:
            raise
        print(f"{prog}: error: {message}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
