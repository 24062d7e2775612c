"""asv: ``TileWriter`` against the dense path (issue 22), time and peak memory.

A 4096 x 4096 image in 512 x 512 tiles with 64 px overlap, the probability
tiles of :func:`benchmarks.compare_tiles.probability_tile`.  The 30,000 x
30,000 measurement (memory in fresh processes) is
``python -m benchmarks.compare_tiles``.
"""

from __future__ import annotations

from benchmarks import compare_tiles

SHAPE = (4096, 4096)


class TileWriterSuite:
    params = (["streamed", "dense"],)
    param_names = ["path"]

    def setup(self, path):
        self.fn = getattr(compare_tiles, path)
        self.fn((1100, 700))  # compile off the clock

    def time_encode(self, path):
        self.fn(SHAPE)

    def peakmem_encode(self, path):
        self.fn(SHAPE)
