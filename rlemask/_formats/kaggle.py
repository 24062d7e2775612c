"""The standard Kaggle RLE (format name ``"kaggle"``).

Pairs ``start length`` with ABSOLUTE, 1-based starts, column-major by default
(``order="F"``); ``order="C"`` is the row-major variant some competitions use.
Runs must be sorted and must not overlap (touching runs are merged).  An empty
mask is written ``""``; ``"-1"`` and ``"-"`` (the contrails competition's
marker) are also read as empty.

Examples
--------
>>> import rlemask
>>> mask = rlemask.decode("2 2 11 1 19 2 30 1", shape=(6, 5), format="kaggle")
>>> rlemask.encode(mask, format="kaggle", order="C")
'4 1 6 1 9 1 11 1 22 1 30 1'
>>> int(rlemask.decode("-", shape=(6, 5), format="kaggle").sum())
0
"""

from __future__ import annotations

from rlemask._formats.pairs import PairsCodec

CODEC = PairsCodec("kaggle", relative=False, base=1, empty="", also_empty=("-",), order_option=True)
