"""Which RLE convention a label file uses, decided from its rows (with the evidence).

The field uses two pair conventions (FORMATS.md): SIIM's relative offsets
(``siim``) and Kaggle's absolute 1-based starts (``kaggle``).  They are told
apart by one fact: absolute starts never go backwards within a row, while
relative offsets after the first are small gaps, which read as absolute
starts go backwards at once.  A start of 0 is also SIIM-only (Kaggle counts
from 1), and where the image size is known, rows that would run past it
when read as SIIM offsets are Kaggle.  Too little evidence (no row with
several runs) leaves the format undecided, never guessed.

Examples
--------
>>> import numpy as np
>>> from rlemask import _labels_kernels as lk
>>> from rlemask._label_conventions import rle_stats, decide_format
>>> texts = [b"668913 24 1000 24 986 46", b"-1"]
>>> buf = np.frombuffer(b"".join(texts), np.uint8)
>>> ends = np.cumsum([len(t) for t in texts])
>>> stats = rle_stats(buf, ends - [len(t) for t in texts], ends)
>>> decide_format(stats, None)[0]
'siim'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlemask import _labels_kernels as lk
from rlemask._formats import get_format

# The two conventions "auto" chooses between (FORMATS.md); any other registered
# format is read only when named (format="coco", a plugin's).
AUTO_CANDIDATES = ("siim", "kaggle")

# tokens that mean an empty mask in any label file, besides the codecs' own markers
DEFAULT_EXTRA_EMPTY = ("-", "nan", "NaN", "NAN", "None", "<NA>")


def pairs_rule(fmt: str | None) -> tuple[bool, int] | None:
    """``(relative, base)`` of a pairs-text format from its codec, or None (not pairs text)."""
    if fmt is None:
        return None
    codec = get_format(fmt)
    relative, base = getattr(codec, "relative", None), getattr(codec, "base", None)
    if relative is None or base not in (0, 1):
        return None
    return bool(relative), int(base)


def empty_markers(fmt: str) -> tuple[str, ...]:
    """The texts the format's codec reads as an empty mask (its registry entry says)."""
    tokens = getattr(get_format(fmt), "empty_tokens", None)
    return tuple(tokens) if tokens is not None else ()


@dataclass
class RleStats:
    """What :func:`rlemask._labels_kernels._rle_stats` says of every row."""

    code: np.ndarray
    tok: np.ndarray
    npairs: np.ndarray
    first: np.ndarray
    flags: np.ndarray
    abs_end: np.ndarray
    rel_end: np.ndarray

    def end(self, fmt: str | None) -> np.ndarray | None:
        """One past the last pixel of each row under ``fmt`` (None: not pairs text).

        The scanner measures absolute starts as 1-based and relative offsets
        as 0-based; a format of the other base shifts every end by one.
        """
        rule = pairs_rule(fmt)
        if rule is None:
            return None
        relative, base = rule
        return self.rel_end - base if relative else self.abs_end + (1 - base)


def rle_stats(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> RleStats:
    """Describe each RLE field ``buf[starts[r]:ends[r]]`` (one compiled pass)."""
    starts = np.ascontiguousarray(starts, np.int64)
    ends = np.ascontiguousarray(ends, np.int64)
    return RleStats(*lk._rle_stats(buf, starts, ends))


def mark_empty_tokens(
    stats: RleStats, buf: bytes, starts: np.ndarray, ends: np.ndarray, tokens: tuple[str, ...]
) -> None:
    """Rows whose whole text is one of ``tokens`` become empty (in place)."""
    lens = ends - starts
    for token in tokens:
        raw = token.strip().encode("utf-8")
        rows = np.flatnonzero((lens == len(raw)) & (stats.code != lk.RLE_EMPTY))
        for row in rows.tolist():
            if buf[starts[row] : ends[row]] == raw:
                stats.code[row] = lk.RLE_EMPTY


def _counts(stats: RleStats) -> dict[str, int]:
    ok = stats.code == lk.RLE_OK
    multi = ok & (stats.npairs >= 2)
    backward = multi & ((stats.flags & (lk.FLAG_UNSORTED | lk.FLAG_OVERLAP)) != 0)
    zero = ok & ((stats.flags & lk.FLAG_ZERO_START) != 0)
    forward = multi & ~backward
    return {
        "rows": int(ok.sum()),
        "multi": int(multi.sum()),
        "backward": int(backward.sum()),
        "zero": int(zero.sum()),
        "forward": int(forward.sum()),
        "forward3": int((forward & (stats.npairs >= 3)).sum()),
    }


def decide_format(stats: RleStats, npix: np.ndarray | None) -> tuple[str | None, str]:
    """``(format or None, evidence)`` from the rows; ``npix``: pixels per row where known."""
    c = _counts(stats)
    ok = stats.code == lk.RLE_OK
    if c["rows"] == 0:
        return None, "no non-empty row to decide from (every row is an empty mask)"
    siim_past = kaggle_past = 0
    if npix is not None:
        siim_past = int((ok & (stats.rel_end > npix)).sum())
        kaggle_past = int((ok & (stats.abs_end > npix)).sum())
    if c["backward"] or c["zero"]:
        why = []
        if c["backward"]:
            why.append(f"{c['backward']} of {c['multi']} rows with several runs go backwards "
                       "read as absolute starts")
        if c["zero"]:
            why.append(f"{c['zero']} rows start at pixel 0 (Kaggle starts are 1-based)")
        if siim_past:
            return None, (f"conflicting: {'; '.join(why)}, but {siim_past} rows run past the "
                          "image read as SIIM relative offsets")
        return "siim", f"{'; '.join(why)}: only SIIM relative offsets read them"
    if siim_past and not kaggle_past:
        return "kaggle", (f"{siim_past} rows would run past the image read as SIIM relative "
                          "offsets and all fit as absolute (Kaggle) starts")
    if c["forward3"] >= 1 or c["forward"] >= 2:
        return "kaggle", (f"all {c['forward']} rows with several runs have increasing, "
                          "non-overlapping starts: absolute (Kaggle) starts")
    return None, (f"too little evidence: {c['rows']} non-empty rows, {c['multi']} with several "
                  "runs (a single run reads the same way in both conventions, shifted by one)")


_RLE_WHY = {
    lk.RLE_BAD_TOKEN: "is not an integer",
    lk.RLE_TOO_LONG: "has more than 18 digits",
    lk.RLE_NEGATIVE: "is negative",
    lk.RLE_BAD_LENGTH: "is a run length; lengths must be positive",
}


def rle_problem(stats: RleStats, buf: bytes, start: int, end: int, row: int) -> str:
    """The message for a row whose syntax the scanner refused."""
    code = int(stats.code[row])
    tok = int(stats.tok[row])
    if code == lk.RLE_ODD:
        return f"odd number of tokens ({tok + 1}); the last has no length after it"
    token = buf[start:end].split()[tok].decode("utf-8", "replace") if tok < len(
        buf[start:end].split()) else "?"
    return f"RLE token {tok} ({token!r}) {_RLE_WHY.get(code, 'is invalid')}"


def pairs_text_problem(text: str, fmt: str) -> str:
    """What :func:`rlemask.read_labels` would refuse in one RLE text of ``fmt`` ("" if nothing).

    ``"not pairs"`` when ``fmt`` is not pairs text (nothing can be said
    without a shape).
    """
    rule = pairs_rule(fmt)
    if rule is None:
        return "not pairs"
    raw = text.encode("utf-8")
    arr = np.frombuffer(raw, np.uint8)
    stats = rle_stats(arr, np.zeros(1, np.int64), np.full(1, len(raw), np.int64))
    if stats.code[0] > lk.RLE_EMPTY:
        return rle_problem(stats, raw, 0, len(raw), 0)
    relative, base = rule
    bits = int(stats.flags[0])
    if not relative and bits & (lk.FLAG_UNSORTED | lk.FLAG_OVERLAP):
        return "absolute starts that go backwards or overlap"
    if base == 1 and bits & lk.FLAG_ZERO_START:
        return "a start of 0 (starts are 1-based)"
    return ""
