"""Atomic file writing: a crash never leaves a half-written file behind.

A write goes to a hidden temporary file next to the target, named
``.<target>.<pid>@<host>.<random>.tmp``, which is renamed over the target
when the write succeeds.  A process killed mid-write cannot remove its
temporary file, so every write first removes the *stale* temporaries of the
same target (never those of another target): a temporary is stale when

* its writer ran on this host, in this boot and pid namespace (a container
  sharing the folder numbers its processes apart), and that process no
  longer exists (checked with ``os.kill(pid, 0)``; not on Windows, where
  that call would end the process), or
* its writer cannot be checked (another host or container, an unrecognised name such as
  the ``.<target>.<random>.tmp`` of rlemask 0.1) and it has not been
  modified for :data:`STALE_SECONDS`.

A live write in another process is therefore never touched: its process
exists, and a writer elsewhere keeps its file's modification time fresh.
Files are created with mode ``0o666`` less the process umask, like ``open``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

#: Age (seconds since the last modification) after which a temporary whose
#: writer cannot be checked is considered abandoned: one day.
STALE_SECONDS = 24 * 3600



def _writer_tag() -> str:
    """Eight hex digits naming where a pid can be checked: host, boot and pid namespace.

    The hostname alone is not enough: containers sharing a folder (and often a
    hostname) each number their processes in their own pid namespace, where
    another container's live writer looks dead; pids also restart at a boot.
    The namespace and boot ids are Linux facts; elsewhere the hostname is all.
    """
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append(f"pidns:{os.stat('/proc/self/ns/pid').st_ino}")
    with contextlib.suppress(OSError):
        parts.append("boot:" + Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    return hashlib.sha1("\0".join(parts).encode("utf-8", "replace")).hexdigest()[:8]


_HOST = _writer_tag()
# what follows ".<target>." in a temporary's name, before ".tmp"
_OWNER = re.compile(r"(?P<pid>\d+)@(?P<host>[0-9a-f]{8})\.[0-9a-f]+")
_LEGACY = re.compile(r"[a-z0-9_]{8}")  # tempfile.mkstemp's names (rlemask 0.1)


def _process_exists(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate it there: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists, owned by someone else
        return True
    return True


def _is_stale(tmp: Path, owner: re.Match | None, now: float) -> bool:
    if owner is not None and owner["host"] == _HOST:
        pid = int(owner["pid"])
        return pid != os.getpid() and not _process_exists(pid)
    try:
        return now - tmp.stat().st_mtime > STALE_SECONDS
    except FileNotFoundError:  # removed meanwhile
        return False


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the stale temporary files of earlier writes of ``path``.

    Returns the paths removed.  Errors (a file removed meanwhile, no
    permission) are ignored: cleaning up must never make a write fail.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> remove_stale_temporaries(d / "a.csv")
    []
    """
    path = Path(path)
    prefix = f".{path.name}."
    removed = []
    now = time.time()
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return removed
    for name in names:
        # the middle must be one of our two name shapes: ".a.csv.bak.<...>.tmp"
        # also starts with ".a.csv." but belongs to another target
        middle = name[len(prefix) : -len(".tmp")]
        owner = _OWNER.fullmatch(middle)
        if owner is None and not _LEGACY.fullmatch(middle):
            continue
        tmp = path.parent / name
        if _is_stale(tmp, owner, now):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _create_temporary(path: Path) -> tuple[int, Path]:
    # O_BINARY (Windows only) always: text mode newline handling is fdopen's job
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{os.getpid()}@{_HOST}.{secrets.token_hex(4)}.tmp"
        try:
            # 0o666: the kernel applies the umask, as for any new file
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path}: cannot create a temporary file next to it")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file next to ``path``; rename it over ``path`` on success.

    The temporary file lives in the same folder so that ``os.replace`` is a
    rename on one file system (atomic on POSIX and Windows).  On any exception
    the temporary file is removed and ``path`` is untouched.  Stale
    temporaries left by killed writes of the same ``path`` are removed first
    (see the module docstring).  A new file's mode is ``0o666`` less the
    umask; a file replaced keeps its mode.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_write(d / "a.txt") as f:
    ...     _ = f.write("hello")
    >>> (d / "a.txt").read_text()
    'hello'
    """
    path = Path(path)
    remove_stale_temporaries(path)
    fd, tmp = _create_temporary(path)
    try:
        with contextlib.suppress(FileNotFoundError):
            # a file replaced keeps its permissions (one the user made 0600 stays private)
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
