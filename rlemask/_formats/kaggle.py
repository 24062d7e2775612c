"""The standard Kaggle RLE (format name ``"kaggle"``).

Pairs ``start length`` with ABSOLUTE, 1-based starts, column-major by default
(``order="F"``); ``order="C"`` is the row-major variant some competitions use.
Runs must be sorted and must not overlap (touching runs are merged).  An empty
mask is ``""``; ``"-1"`` is also read as empty.

Examples
--------
>>> import rlemask
>>> mask = rlemask.decode("2 2 11 1 19 2 30 1", shape=(6, 5), format="kaggle")
>>> rlemask.encode(mask, format="kaggle", order="C")
'4 1 6 1 9 1 11 1 22 1 30 1'
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np

from rlemask import _kernels as k
from rlemask._formats import _text
from rlemask._validation import check_order
from rlemask.runs import Runs

EMPTY = ""


class KaggleCodec:
    """Codec of the Kaggle absolute 1-based RLE (see the module docstring)."""

    name = "kaggle"

    def scan_order(self, *, order: str = "F") -> str:
        return check_order(order)

    def parse(self, rle: Any, shape: tuple[int, int], *, order: str = "F") -> Runs:
        order = check_order(order)
        buf = _text.to_buffer(rle, self.name)[0]
        s, ln, m, err = k._parse_pairs(buf, shape[0] * shape[1], False, 1)
        if not err:
            return Runs.from_canonical(s[:m], ln[:m], shape, order, check=False)
        self._raise(rle, shape)

    def _raise(self, rle: Any, shape: tuple[int, int]) -> NoReturn:
        """Re-parse step by step to raise an RLEError naming the bad token."""
        tok = _text.tokens(rle, self.name)
        _text.check_pairs(tok, self.name)
        s, ln, m, err, i = k._pairs_to_runs(tok, tok.size // 2, shape[0] * shape[1], False, 1)
        if err:
            _text.raise_run_error(
                int(err), int(i), tok, shape, self.name, "starts are 1-based, must be >= 1"
            )
        raise AssertionError("unreachable: the kernel and the parser disagree")

    def format(self, runs: Runs, *, order: str = "F") -> str:
        runs = runs.as_order(check_order(order))
        if len(runs) == 0:
            return EMPTY
        return k._format_runs(runs.starts, runs.lengths, False, 1).tobytes().decode("ascii")

    def encode_mask(self, mask: Any, *, order: str = "F") -> str:
        """Fast path of :func:`rlemask.encode`: mask to text without building Runs."""
        order = check_order(order)
        text = _text.encode_text(mask, order, False, 1)
        if text is None:
            return self.format(Runs.from_mask(mask, order=order), order=order)
        return text.decode("ascii") if text else EMPTY

    def decode_mask(self, rle: Any, shape: tuple[int, int], *, order: str = "F") -> np.ndarray:
        """Fast path of :func:`rlemask.decode`: one kernel parses, validates, then fills."""
        row_major = check_order(order) == "C"
        return _text.decode_text(rle, shape, self.name, False, 1, row_major, self._raise)

    def __repr__(self) -> str:
        return "KaggleCodec()"


CODEC = KaggleCodec()
