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


class PredictTiledSuite:
    """``predict_tiled`` (the colour model) and ``TileDataset`` on a 4096^2 HuBMAP TIFF."""

    timeout = 300

    def setup_cache(self):
        import tempfile

        from rlemask.synthetic_kinds import make_kind

        return str(make_kind(tempfile.mkdtemp(prefix="rlemask-bench-"), "hubmap", size=4096))

    def setup(self, root):
        from pathlib import Path

        import rlemask

        self.root = Path(root)
        (self.tiff,) = (self.root / "train").iterdir()
        self.data = rlemask.load_dataset(self.root, self.root / "train.csv")
        rlemask.TileDataset(self.data, 1024)  # compile off the clock

    def time_predict_tiled(self, root):
        import rlemask

        rlemask.predict_tiled(self.tiff, compare_tiles.colour_model, tile=512, overlap=64,
                              channels=3)

    def time_predict_tiled_skip_glass(self, root):
        import rlemask

        rlemask.predict_tiled(self.tiff, compare_tiles.colour_model, tile=512, overlap=64,
                              channels=3, skip=compare_tiles.glass)

    def time_tile_dataset_index(self, root):
        import rlemask

        rlemask.TileDataset(self.data, 512)
