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

# The two conventions "auto" chooses between, and how each reads its pairs:
# relative offsets (SIIM) or absolute starts (Kaggle).  Any other registered
# format is read only when named (format="coco", a plugin's).
AUTO_CANDIDATES = ("siim", "kaggle")
PAIRS_RELATIVE = {"siim": True, "kaggle": False}

# tokens that mean an empty mask besides the kernel's "", "-1" and "-"
DEFAULT_EXTRA_EMPTY = ("nan", "NaN", "NAN", "None", "<NA>")


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
        """One past the last pixel of each row under ``fmt`` (None: not pairs text)."""
        if fmt not in PAIRS_RELATIVE:
            return None
        return self.rel_end if PAIRS_RELATIVE[fmt] else self.abs_end


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
