"""Side-by-side timings of rlemask against common alternatives, printed as a markdown table.

Run ``python benchmarks/compare.py`` (or ``make compare``).  Everything is
measured in this one process, on the same inputs, as the minimum over several
repeats (timeit style), and reported as a RATIO (baseline time / rlemask time;
above 1 means rlemask is faster).

Rows come from provider modules ``benchmarks/compare_*.py`` (codecs, geometry,
loading, ...): each exposes ``rows() -> list[dict]`` with the keys

``operation`` (str), ``rlemask_s`` (float seconds), ``baseline`` (str, what it
is compared with), ``baseline_s`` (float seconds), and optionally ``target``
(float, the minimum ratio the project promises) and ``note`` (str).

A provider that fails to import (say, a missing optional package) is reported
and skipped; the others still run.  Use :func:`best_time` for timings, or
:func:`interleaved_best` to time calls of microseconds side by side
(alternating calls, per-call minimum).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import timeit
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def best_time(fn, *, repeat: int = 7, min_total: float = 0.05) -> float:
    """Minimum seconds per call of ``fn()`` over ``repeat`` rounds (timeit's autorange)."""
    timer = timeit.Timer(fn)
    number = 1
    while True:  # grow the loop count until one round takes min_total seconds
        t = timer.timeit(number)
        if t >= min_total or number >= 1_000_000:
            break
        number *= 2 if t > min_total / 10 else 10
    return min(timer.repeat(repeat=repeat, number=number)) / number


def interleaved_best(fns, *, rounds: int = 2000, budget_s: float = 3.0) -> list[float]:
    """Minimum seconds of one call of each ``fn`` in ``fns``, called in turn.

    For side-by-side comparisons of calls of microseconds on a shared
    machine: the functions are called alternately (``a, b, a, b, ...``), one
    call per timing, and each keeps its minimum.  A timing rarely spans a
    scheduler preemption, and both sides see the same background load, so
    the RATIO stays stable where separate ``best_time`` loops of 50 ms drift
    with the load.  Stops after ``rounds`` rounds or ``budget_s`` seconds.
    """
    import time

    best = [float("inf")] * len(fns)
    clock = time.perf_counter
    deadline = clock() + budget_s
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = clock()
            fn()
            t = clock() - t0
            if t < best[i]:
                best[i] = t
        if clock() > deadline:
            break
    return best


def providers() -> list[str]:
    """Names of the ``benchmarks.compare_*`` modules, sorted (codecs first)."""
    here = Path(__file__).resolve().parent
    names = [m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("compare_")]
    names.sort(key=lambda n: (n != "compare_codecs", n))
    return [f"benchmarks.{n}" for n in names]


def _fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of ``rows``."""
    lines = [
        "| operation | rlemask | baseline | baseline time | ratio | target | meets |",
        "|---|---:|---|---:|---:|---:|:-:|",
    ]
    for r in rows:
        ratio = r["baseline_s"] / r["rlemask_s"]
        target = r.get("target")
        meets = "" if target is None else ("yes" if ratio >= target else "NO")
        target_text = "" if target is None else f">= {target:g}x"
        note = f" ({r['note']})" if r.get("note") else ""
        lines.append(
            f"| {r['operation']}{note} | {_fmt_time(r['rlemask_s'])} | {r['baseline']} | "
            f"{_fmt_time(r['baseline_s'])} | {ratio:.1f}x | {target_text} | {meets} |"
        )
    return "\n".join(lines)


def main() -> int:
    import numpy as np

    rows: list[dict[str, Any]] = []
    for name in providers():
        try:
            module = importlib.import_module(name)
            rows.extend(module.rows())
        except Exception:  # one broken provider must not hide the others' rows
            print(f"<!-- {name} failed:\n{traceback.format_exc()}-->", file=sys.stderr)
    import numba

    print(
        f"rlemask comparison (numpy {np.__version__}, numba {numba.__version__}, "
        f"min of 7 repeats, same process)\n"
    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
