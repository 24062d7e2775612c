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

from rlemask._formats.pairs import PairsCodec

CODEC = PairsCodec("siim", relative=True, base=0, empty="-1")
