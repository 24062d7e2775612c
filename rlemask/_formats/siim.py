"""The SIIM relative RLE (format name ``"siim"``).

Pixels are numbered 0-based in column-major order (pixel ``p`` is row
``p % H``, column ``p // H``).  The text is pairs ``offset length``: the first
offset is the absolute start of the first run, every later offset is the gap
from the end of the previous run (>= 1 in well-formed text; 0 is accepted and
the touching runs are merged).  An empty mask is ``"-1"``.

Examples
--------
>>> import rlemask
>>> mask = rlemask.decode("1 2 7 1 7 2 9 1", shape=(6, 5), format="siim")
>>> rlemask.encode(mask, format="siim")
'1 2 7 1 7 2 9 1'
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np

from rlemask import _kernels as k
from rlemask._formats import _text
from rlemask.runs import Runs

EMPTY = "-1"


class SiimCodec:
    """Codec of the SIIM relative RLE (see the module docstring)."""

    name = "siim"

    def scan_order(self) -> str:
        return "F"

    def parse(self, rle: Any, shape: tuple[int, int]) -> Runs:
        buf = _text.to_buffer(rle, self.name)[0]
        s, ln, m, err = k._parse_pairs(buf, shape[0] * shape[1], True, 0)
        if not err:
            return Runs.from_canonical(s[:m], ln[:m], shape, "F", check=False)
        self._raise(rle, shape)

    def _raise(self, rle: Any, shape: tuple[int, int]) -> NoReturn:
        """Re-parse step by step to raise an RLEError naming the bad token."""
        tok = _text.tokens(rle, self.name)
        _text.check_pairs(tok, self.name)
        s, ln, m, err, i = k._pairs_to_runs(tok, tok.size // 2, shape[0] * shape[1], True, 0)
        if err:
            _text.raise_run_error(int(err), int(i), tok, shape, self.name, "")
        raise AssertionError("unreachable: the kernel and the parser disagree")

    def format(self, runs: Runs) -> str:
        runs = runs.as_order("F")
        if len(runs) == 0:
            return EMPTY
        return k._format_runs(runs.starts, runs.lengths, True, 0).tobytes().decode("ascii")

    def encode_mask(self, mask: Any) -> str:
        """Fast path of :func:`rlemask.encode`: mask to text without building Runs."""
        text = _text.encode_text(mask, "F", True, 0)
        if text is None:
            return self.format(Runs.from_mask(mask, order="F"))
        return text.decode("ascii") if text else EMPTY

    def decode_mask(self, rle: Any, shape: tuple[int, int]) -> np.ndarray:
        """Fast path of :func:`rlemask.decode`: one kernel parses, validates, then fills."""
        return _text.decode_text(rle, shape, self.name, True, 0, False, self._raise)

    def __repr__(self) -> str:
        return "SiimCodec()"


CODEC = SiimCodec()
