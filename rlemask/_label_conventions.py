"""Which RLE convention a label file uses, decided from its rows (with the evidence).

The field uses two pair conventions (FORMATS.md): SIIM's relative offsets
(``siim``) and Kaggle's absolute 1-based starts (``kaggle``).  They are told
apart by one fact: absolute starts never go backwards within a row, while
relative offsets after the first are small gaps, which read as absolute
starts go backwards at once.  A start of 0 is also SIIM-only (Kaggle counts
from 1), and where the image size is known, rows that would run past it
when read as SIIM offsets are Kaggle.  Each row only one convention reads
votes for it and the majority decides (the other rows are defects);
too little evidence (no row with several runs) or a tie leaves the format
undecided, never guessed.

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


def _votes(stats: RleStats, npix: np.ndarray | None) -> dict[str, int]:
    """Rows only one convention reads, per convention (and the figures behind them)."""
    ok = stats.code == lk.RLE_OK
    multi = ok & (stats.npairs >= 2)
    backward = multi & ((stats.flags & (lk.FLAG_UNSORTED | lk.FLAG_OVERLAP)) != 0)
    zero = ok & ((stats.flags & lk.FLAG_ZERO_START) != 0)
    forward = multi & ~backward & ~zero
    siim_past = kaggle_past = np.zeros_like(ok)
    if npix is not None:
        siim_past = ok & (stats.rel_end > npix)
        kaggle_past = ok & (stats.abs_end > npix)
    return {
        "rows": int(ok.sum()),
        "multi": int(multi.sum()),
        "backward": int(backward.sum()),
        "zero": int(zero.sum()),
        "forward": int(forward.sum()),
        "forward3": int((forward & (stats.npairs >= 3)).sum()),
        "siim_past": int(siim_past.sum()),
        "kaggle_past": int(kaggle_past.sum()),
        "siim": int((backward | zero | kaggle_past).sum()),
        "kaggle": int((forward | siim_past).sum()),
    }


def _why(v: dict[str, int]) -> str:
    parts = []
    if v["backward"]:
        parts.append(f"{v['backward']} of {v['multi']} rows with several runs go backwards "
                     "read as absolute starts")
    if v["zero"]:
        parts.append(f"{v['zero']} rows start at pixel 0 (Kaggle starts are 1-based)")
    if v["forward"]:
        parts.append(f"{v['forward']} rows with several runs have increasing, non-overlapping "
                     "starts")
    if v["siim_past"]:
        parts.append(f"{v['siim_past']} rows run past the image read as SIIM relative offsets")
    if v["kaggle_past"]:
        parts.append(f"{v['kaggle_past']} rows run past the image read as absolute starts")
    return "; ".join(parts)


def decide_format(stats: RleStats, npix: np.ndarray | None) -> tuple[str | None, str]:
    """``(format or None, evidence)`` from the rows; ``npix``: pixels per row where known.

    Each row only one convention reads is a vote for it (a row going backwards
    or starting at 0: SIIM; increasing starts over several runs, or a row
    running past the image as SIIM offsets: Kaggle).  The majority decides;
    the minority rows are then defects of the file (``inspect`` lists them).
    A tie, or too few votes for Kaggle (one two-run row can be SIIM by
    chance), leaves the format undecided.
    """
    v = _votes(stats, npix)
    if v["rows"] == 0:
        return None, "no non-empty row to decide from (every row is an empty mask)"
    why = _why(v)
    if v["siim"] > v["kaggle"]:
        return "siim", f"{why}: SIIM relative offsets"
    strong = v["siim_past"] or v["forward3"] or v["forward"] >= 2
    if v["kaggle"] > v["siim"] and strong:
        return "kaggle", f"{why}: absolute (Kaggle) starts"
    if v["kaggle"] == v["siim"] and v["siim"]:
        return None, f"conflicting: {why}"
    return None, (f"too little evidence: {v['rows']} non-empty rows, {v['multi']} with several "
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
    return f"token {tok} ({token!r}) {_RLE_WHY.get(code, 'is invalid')}"


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
