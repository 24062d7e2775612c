"""Running the installed commands in fresh processes, as users do (shared by the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: the folder of the interpreter running the tests, where the commands are installed
BIN = Path(sys.executable).parent


def command(name: str, *args, check: bool = True) -> subprocess.CompletedProcess:
    """Run an installed command (``rlemask`` / ``rlemask-keras``) in a fresh process.

    TensorFlow's ``TF_CPP_*`` variables are left out, so the commands' own
    filtering of its start-up lines is what is tested.  With ``check``, a
    non-zero exit fails the test with the ends of both streams.
    """
    exe = BIN / name
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", name.replace("-", "_")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    result = subprocess.run(
        [*argv, *map(str, args)], capture_output=True, text=True, timeout=600, env=env
    )
    if check:
        assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result
