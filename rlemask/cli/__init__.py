"""The ``rlemask`` command: ``rlemask synth|stats|plot|cache|score|convert``.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the
function that runs it.  User errors (bad files, bad values) print one line
to stderr and exit with status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# one sub-command per module, in the order ``--help`` lists them
_COMMANDS = [
    "synth",
    "stats",
    "plot",
    "cache",
    "score",
    "convert",
]

#: exit status for errors in the user's input (argparse uses 2 as well)
USER_ERROR = 2


def add_shape_option(parser: argparse.ArgumentParser) -> None:
    """``--shape H W``: the mask size RLE strings are read with (SIIM: 1024 x 1024)."""
    parser.add_argument(
        "--shape",
        nargs=2,
        type=int,
        metavar=("H", "W"),
        default=(1024, 1024),
        help="mask height and width (default 1024 1024)",
    )


def build_parser() -> argparse.ArgumentParser:
    from rlemask import __version__

    parser = argparse.ArgumentParser(
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
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # ``rlemask score ... | head``: the reader left, which is not an error.
        # Point stdout at devnull so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as err:  # RLEError, DicomError, ... are ValueErrors
        print(f"{parser.prog} {args.command}: error: {err}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
