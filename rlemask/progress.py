"""Progress reports that suit where the output goes.

On a terminal, a tqdm bar.  Anywhere else (a log file, a pipe, CI), tqdm's
``\\r`` redraws pile up as one enormous line per update -- the demo's log was
365 KB of them -- so :func:`progress` prints a plain line instead, at most
every ``every`` seconds and once at the end.  Keras' ``fit`` has the same
choice built in: :func:`keras_verbose` picks it.

Examples
--------
>>> import io
>>> out = io.StringIO()              # not a terminal: plain lines
>>> with progress(total=3, desc="cache", unit="img", file=out, every=0) as bar:
...     for _ in range(3):
...         bar.update(1)
>>> print(out.getvalue().splitlines()[-1].split(" (")[0])
cache: 3/3 img
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

from tqdm import tqdm

__all__ = ["PlainProgress", "is_terminal", "keras_verbose", "progress"]


def is_terminal(file: IO[str] | None = None) -> bool:
    """Whether ``file`` (default: standard error) is an interactive terminal."""
    stream = sys.stderr if file is None else file
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed, or not a real stream
        return False


def keras_verbose(enabled: bool = True, file: IO[str] | None = None) -> int:
    """Keras' ``verbose`` for ``fit``/``predict``: 1 (a bar) on a terminal, 2 (a line an epoch)
    elsewhere, 0 when ``enabled`` is false.  Keras writes to standard output.

    Examples
    --------
    >>> import io
    >>> keras_verbose(True, io.StringIO()), keras_verbose(False)
    (2, 0)
    """
    if not enabled:
        return 0
    return 1 if is_terminal(sys.stdout if file is None else file) else 2


class PlainProgress:
    """A progress line for output that is not a terminal: ``desc: n/total unit (p%, s)``.

    The same small interface as tqdm's that this project uses: ``update``,
    ``close``, iteration, and use as a context manager.  A line is printed
    when at least ``every`` seconds have passed since the last one, and at
    :meth:`close` (if anything changed since).
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        initial: int = 0,
        file: IO[str] | None = None,
        every: float = 30.0,
    ) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total = total
        self.desc = desc
        self.unit = unit
        self.n = initial
        self.file = file
        self.every = every
        self._start = time.monotonic()
        self._last = self._start
        self._printed = initial

    def _line(self) -> str:
        elapsed = time.monotonic() - self._start
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        share = f"{100.0 * self.n / self.total:.0f}%, " if self.total else ""
        return f"{self.desc}: {done} {self.unit} ({share}{elapsed:.0f} s)"

    def _emit(self) -> None:
        print(self._line(), file=sys.stderr if self.file is None else self.file, flush=True)
        self._printed = self.n
        self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items; print a line if ``every`` seconds have passed."""
        self.n += n
        if time.monotonic() - self._last >= self.every:
            self._emit()

    def close(self) -> None:
        """Print the final line (once), if anything was counted since the last one."""
        if self.n != self._printed:
            self._emit()

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("this progress line was made without an iterable")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Silent(PlainProgress):
    def _emit(self) -> None:
        self._printed = self.n


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    initial: int = 0,
    disable: bool = False,
    file: IO[str] | None = None,
    every: float = 30.0,
) -> Any:
    """A tqdm bar on a terminal, a :class:`PlainProgress` line elsewhere, nothing if ``disable``.

    Parameters
    ----------
    iterable : iterable, optional
        Wrap it (iterate over the result), or count by hand with ``update``.
    total, desc, unit, initial
        As tqdm's.
    disable : bool
        Report nothing.
    file : file-like, optional
        Where to write (default: standard error).
    every : float
        Seconds between plain lines (a terminal's bar redraws as tqdm does).
    """
    kwargs = dict(total=total, desc=desc, unit=unit, initial=initial)
    if disable:
        return _Silent(iterable, file=file, every=every, **kwargs)
    if is_terminal(file):
        return tqdm(iterable, file=file, dynamic_ncols=True, **kwargs)
    return PlainProgress(iterable, file=file, every=every, **kwargs)
