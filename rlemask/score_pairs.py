"""``ScorePairs``: the objects of a truth and a submission, aligned key by key.

A *key* is what a metric scores one number for: an image (``cls`` is
``None``), or an image and a class.  For each key, each side holds a list of
objects -- the rows of the label file, as RLE texts or :class:`rlemask.Runs`.
The metrics of :mod:`rlemask.field_metrics` ask a :class:`ScorePairs` for
what they need, computed on the runs:

* :meth:`ScorePairs.dice_counts` -- per key, the areas of the union of each
  side's objects and of their intersection (Dice, global Dice);
* :meth:`ScorePairs.match` -- per key, objects matched one to one at IoU
  thresholds (the IoU and F2 sweeps), never comparing two objects whose
  bounding boxes do not overlap;
* :meth:`ScorePairs.union` -- one key's mask as Runs (Hausdorff).

Texts are parsed in blocks of keys (one kernel call per block of up to
:data:`BLOCK_KEYS` keys), so memory stays flat in the number of images.
Without a shape, masks are read as one line of ``2**40`` pixels: Dice and
IoU of two texts of the same scan order need no geometry, and the boxes are
then the objects' pixel spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlemask import _kernels
from rlemask import _runs_kernels as rk
from rlemask._errors import RLEError
from rlemask._validation import MAX_PIXELS, check_shape, is_empty_rle
from rlemask.runs import Runs

__all__ = ["BLOCK_KEYS", "LINEAR_SHAPE", "ScorePairs", "is_empty_object"]

#: keys parsed per kernel call
BLOCK_KEYS = 256
#: the shape a text is read with when no geometry is known: one long column
LINEAR_SHAPE = (MAX_PIXELS, 1)
# the formats the batch parser reads: (relative offsets, index base)
_FAST = {"siim": (True, 0), "kaggle": (False, 1)}

def is_empty_object(value: Any) -> bool:
    """An empty row: the markers of :func:`rlemask._validation.is_empty_rle` and ``"-"``.

    ``"-"`` is the contrails competition's empty marker.

    Examples
    --------
    >>> [is_empty_object(v) for v in ("", " -1", "-", None, "1 1")]
    [True, True, True, True, False]
    """
    if isinstance(value, str) and value.strip() == "-":
        return True
    if isinstance(value, Runs):
        return len(value) == 0
    return is_empty_rle(value)


@dataclass
class _Block:
    """One side of a block of keys, parsed: CSR runs, boxes and areas."""

    starts: np.ndarray
    lengths: np.ndarray
    run_ptr: np.ndarray
    key_ptr: np.ndarray
    boxes: np.ndarray
    area: np.ndarray


class ScorePairs:
    """Truth and submission objects of the same keys (see the module docstring).

    Parameters
    ----------
    keys : sequence of (str, str or None)
        ``(image_id, cls)`` of every scored key, in report order.
    truth, submission : sequence of sequences
        Per key, the objects of each side: RLE texts (``str``) or
        :class:`rlemask.Runs`; empty markers are dropped.
    truth_format, submission_format : str
        RLE format of each side's texts.
    shapes : sequence of (int, int) or None, or None
        Per key, the mask shape ``(H, W)``; ``None`` (for all or one key):
        read linearly (see the module docstring).
    names : (str, str)
        How errors name the two sides (file paths, or "truth"/"submission").

    Examples
    --------
    >>> pairs = ScorePairs([("a", None)], [["1 4"]], [["3 4"]], "kaggle", "kaggle")
    >>> pairs.dice_counts().tolist()
    [[4, 4, 2]]
    """

    def __init__(
        self,
        keys: Sequence[tuple[str, Any]],
        truth: Sequence[Sequence[Any]],
        submission: Sequence[Sequence[Any]],
        truth_format: str = "kaggle",
        submission_format: str = "kaggle",
        shapes: Sequence[Any] | None = None,
        names: tuple[str, str] = ("truth", "submission"),
    ):
        if not (len(keys) == len(truth) == len(submission)):
            raise ValueError(
                "`keys`, `truth` and `submission` must have one entry per key; received "
                f"{len(keys)}, {len(truth)} and {len(submission)}"
            )
        self.keys = [(str(i), c) for i, c in keys]
        self.sides = (
            [[o for o in objs if not is_empty_object(o)] for objs in truth],
            [[o for o in objs if not is_empty_object(o)] for objs in submission],
        )
        self.formats = (truth_format, submission_format)
        if shapes is None:
            shapes = [None] * len(self.keys)
        elif len(shapes) != len(self.keys):
            raise ValueError(
                f"`shapes` must have one entry per key; received {len(shapes)} "
                f"for {len(self.keys)} keys"
            )
        self.shapes = [None if s is None else check_shape(s) for s in shapes]
        self.names = names

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.keys)

    def subset(self, index: Sequence[int]) -> ScorePairs:
        """The pairs of the keys at ``index``, in that order."""
        out = object.__new__(ScorePairs)
        out.keys = [self.keys[i] for i in index]
        out.sides = tuple([side[i] for i in index] for side in self.sides)
        out.formats = self.formats
        out.shapes = [self.shapes[i] for i in index]
        out.names = self.names
        return out

    def with_empty_submission(self) -> ScorePairs:
        """The same truth with no submitted object anywhere (the all-empty baseline)."""
        out = self.subset(range(len(self)))
        out.sides = (out.sides[0], [[] for _ in out.keys])
        return out

    def truth_empty(self) -> np.ndarray:
        """Per key, whether the truth has no object (bool array)."""
        return np.array([not objs for objs in self.sides[0]], bool)

    def n_objects(self, side: int) -> int:
        return sum(len(objs) for objs in self.sides[side])

    # ------------------------------------------------------------------ parsing
    def _where(self, side: int, k: int) -> str:
        image_id, cls = self.keys[k]
        cls_text = "" if cls is None else f", class {cls!r}"
        return f"{self.names[side]}, image {image_id!r}{cls_text}"

    def _shape(self, k: int) -> tuple[int, int]:
        return self.shapes[k] or LINEAR_SHAPE

    def _runs_of(self, side: int, k: int, item: Any) -> Runs:
        """One object as column-major Runs of key ``k``'s shape (errors name the key)."""
        shape = self._shape(k)
        if isinstance(item, Runs):
            if self.shapes[k] is not None and item.shape != shape:
                raise ValueError(
                    f"{self._where(side, k)}: Runs of shape {item.shape}, expected {shape}"
                )
            if self.shapes[k] is None and item.order != "F":
                raise ValueError(
                    f"{self._where(side, k)}: row-major Runs need a `shape` to be compared"
                )
            item = item.as_order("F")
            if self.shapes[k] is None:  # read as one line of pixels, as texts are
                return Runs._trusted(item.starts, item.lengths, LINEAR_SHAPE, "F")
            return item
        try:
            return Runs.from_text(item, shape, format=self.formats[side]).as_order("F")
        except (RLEError, TypeError) as err:
            raise RLEError(f"{self._where(side, k)}: {err}") from None

    def _block(self, side: int, k0: int, k1: int) -> _Block:
        objs = self.sides[side][k0:k1]
        counts = np.fromiter((len(o) for o in objs), np.int64, k1 - k0)
        key_ptr = np.zeros(k1 - k0 + 1, np.int64)
        np.cumsum(counts, out=key_ptr[1:])
        obj_key = np.repeat(np.arange(k1 - k0, dtype=np.int64), counts)
        shapes = [self._shape(k) for k in range(k0, k1)]
        key_npix = np.array([h * w for h, w in shapes], np.int64).reshape(-1)
        key_m = np.array([h for h, _ in shapes], np.int64).reshape(-1)
        flat = [o for group in objs for o in group]
        fast = _FAST.get(self.formats[side])
        if fast is not None and all(type(o) is str for o in flat):
            text = "\n".join(flat) + "\n"  # object i: its text and the newline after it
            if text.isascii():
                buf = np.frombuffer(text.encode("ascii"), np.uint8)
                ptr = np.zeros(len(flat) + 1, np.int64)
                np.cumsum(np.fromiter((len(o) + 1 for o in flat), np.int64, len(flat)),
                          out=ptr[1:])
                s, ln, run_ptr, err, bad = _kernels._parse_objects(
                    buf, ptr, obj_key, key_npix, fast[0], fast[1]
                )
                if err:
                    key = k0 + int(obj_key[bad])
                    self._runs_of(side, key, flat[int(bad)])  # raises the codec's message
                    raise AssertionError("the batch parser and the codec disagree")
                boxes, area = rk._boxes(s, ln, run_ptr, obj_key, key_m)
                return _Block(s, ln, run_ptr, key_ptr, boxes, area)
        runs = [
            self._runs_of(side, k0 + int(obj_key[i]), item) for i, item in enumerate(flat)
        ]
        run_ptr = np.zeros(len(runs) + 1, np.int64)
        np.cumsum(np.fromiter((len(r) for r in runs), np.int64, len(runs)), out=run_ptr[1:])
        empty = np.empty(0, np.int64)
        s = np.concatenate([r.starts for r in runs]) if runs else empty
        ln = np.concatenate([r.lengths for r in runs]) if runs else empty
        boxes, area = rk._boxes(s, ln, run_ptr, obj_key, key_m)
        return _Block(s, ln, run_ptr, key_ptr, boxes, area)

    def _blocks(self):
        for k0 in range(0, len(self), BLOCK_KEYS):
            k1 = min(k0 + BLOCK_KEYS, len(self))
            yield k0, k1, self._block(0, k0, k1), self._block(1, k0, k1)

    # ------------------------------------------------------------------ queries
    def dice_counts(self) -> np.ndarray:
        """Per key ``(|T|, |P|, |T & P|)`` of the unions of each side's objects: (n, 3) int64."""
        out = np.zeros((len(self), 3), np.int64)
        for k0, k1, t, p in self._blocks():
            out[k0:k1] = rk._dice_counts(
                t.starts, t.lengths, t.run_ptr, t.key_ptr, p.starts, p.lengths, p.run_ptr,
                p.key_ptr,
            )
            del t, p  # before the next block is parsed: one block in memory at a time
        return out

    def match(self, thresholds: Sequence[tuple[int, int]]) -> dict[str, np.ndarray]:
        """Objects matched one to one at each IoU threshold ``num / den``.

        Returns a dict of arrays: ``tp`` (n_keys, n_thresholds), ``n_true``,
        ``n_pred``, ``truth_area``, ``pred_area`` (n_keys,) and ``compared``
        (the number of object pairs whose IoU was computed).
        """
        num = np.array([t[0] for t in thresholds], np.int64)
        den = np.array([t[1] for t in thresholds], np.int64)
        n = len(self)
        tp = np.zeros((n, num.size), np.int64)
        n_true = np.zeros(n, np.int64)
        n_pred = np.zeros(n, np.int64)
        areas = np.zeros((n, 2), np.int64)
        compared = 0
        for k0, k1, t, p in self._blocks():
            res = rk._match_counts(
                t.starts, t.lengths, t.run_ptr, t.boxes, t.area, t.key_ptr,
                p.starts, p.lengths, p.run_ptr, p.boxes, p.area, p.key_ptr, num, den,
            )
            tp[k0:k1], n_true[k0:k1], n_pred[k0:k1], areas[k0:k1] = res[:4]
            compared += int(res[4])
            del t, p, res  # before the next block is parsed: one block in memory at a time
        return {
            "tp": tp, "n_true": n_true, "n_pred": n_pred,
            "truth_area": areas[:, 0], "pred_area": areas[:, 1],
            "compared": np.int64(compared),
        }

    def union(self, side: int, k: int) -> Runs:
        """Key ``k``'s objects of ``side`` (0 truth, 1 submission) OR-ed, as Runs."""
        out = Runs([], [], self._shape(k))
        for item in self.sides[side][k]:
            out = out | self._runs_of(side, k, item)
        return out

    def objects(self, side: int, k: int) -> list[Runs]:
        """Key ``k``'s objects of ``side`` as column-major Runs."""
        return [self._runs_of(side, k, item) for item in self.sides[side][k]]
