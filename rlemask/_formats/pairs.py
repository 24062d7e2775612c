"""``PairsCodec``: every format whose text is whitespace-separated ``start length`` pairs.

The SIIM and Kaggle formats (and most RLE texts of the field) differ only in
constants: whether a start is ABSOLUTE or RELATIVE to the end of the previous
run, the index of the first pixel (0 or 1), whether the row-major scan is
available as an ``order`` option, and which texts mean an empty mask.  One
class holds the parsing, printing, fast paths and error messages; a format
module is one line that names its constants (:mod:`rlemask._formats.siim`,
:mod:`rlemask._formats.kaggle`), and a plugin can do the same::

    import rlemask
    rlemask.register_format(
        "mine", rlemask.PairsCodec("mine", relative=False, base=0, empty="")
    )

Examples
--------
>>> import numpy as np, rlemask
>>> zero_based = rlemask.PairsCodec("starts0", relative=False, base=0, empty="-1")
>>> rlemask.register_format("starts0", zero_based, replace=True)
>>> rlemask.encode(np.eye(2, dtype=bool), format="starts0")
'0 1 3 1'
>>> zero_based.is_empty(" -1"), zero_based.is_empty("0 1")
(True, False)
>>> zero_based.check_syntax("0 1 3")
Traceback (most recent call last):
...
rlemask._errors.RLEError: starts0 RLE: odd number of tokens (3); token 2 (3) has no length after it
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from rlemask import _kernels as k
from rlemask._formats import _text
from rlemask._validation import check_mask, check_order, is_empty_rle
from rlemask.runs import Runs

# the markers every format reads as empty (DESIGN.md): None, NaN, blank, "-1"
_ALWAYS_EMPTY = ("", "-1")


class PairsCodec:
    """Codec of a pairs-text RLE, parameterised by the format's constants.

    Parameters
    ----------
    name : str
        The format name (used in messages and by the registry).
    relative : bool
        ``True``: every start after the first is the gap from the end of the
        previous run (SIIM); ``False``: absolute starts (Kaggle).
    base : {0, 1}
        Index of the first pixel in the text.
    empty : str
        The text written for an empty mask (``"-1"``, ``""``).
    also_empty : sequence of str
        Further texts read as an empty mask (surrounding whitespace ignored),
        beyond ``empty`` and the markers of every format (None, NaN, ``""``,
        ``"-1"``).
    order_option : bool
        ``True``: the codec takes ``order="F"`` (column-major, the default)
        or ``order="C"`` (row-major); ``False``: column-major only, and an
        ``order`` option is a ``TypeError``.

    Attributes
    ----------
    empty : str
        The empty marker written.
    empty_tokens : tuple of str
        Every text read as an empty mask (stripped).
    warmup_options : tuple of dict
        The option sets :func:`rlemask.warmup` compiles the kernels for.

    Examples
    --------
    >>> from rlemask import get_format
    >>> kaggle = get_format("kaggle")
    >>> kaggle.relative, kaggle.base, kaggle.empty, kaggle.empty_tokens
    (False, 1, '', ('', '-1', '-'))
    """

    def __init__(
        self,
        name: str,
        *,
        relative: bool,
        base: int,
        empty: str,
        also_empty: Sequence[str] = (),
        order_option: bool = False,
    ):
        if base not in (0, 1) or isinstance(base, bool):
            raise ValueError(f"`base` must be 0 or 1; received base={base!r}")
        for marker in (empty, *also_empty):
            if not isinstance(marker, str) or _is_pairs_text(marker):
                raise ValueError(
                    "an empty marker must be a str that is not pairs text; "
                    f"received {marker!r}"
                )
        self.name = name
        self.relative = bool(relative)
        self.base = int(base)
        self.empty = empty
        self._also_empty = tuple(also_empty)
        tokens = (*_ALWAYS_EMPTY, empty.strip(), *(t.strip() for t in also_empty))
        self.empty_tokens = tuple(dict.fromkeys(tokens))  # unique, in this order
        self._empty_bytes = frozenset(t.encode("utf-8", "replace") for t in self.empty_tokens)
        self.order_option = bool(order_option)
        self.warmup_options = ({}, {"order": "C"}) if order_option else ({},)

    # ------------------------------------------------------------------ options
    def scan_order(self, **options: Any) -> str:
        """The scan order of the runs for ``options`` (``"F"`` unless ``order="C"``)."""
        if not options:
            return "F"
        if self.order_option and list(options) == ["order"]:
            return check_order(options["order"])
        known = ("order",) if self.order_option else ()
        unknown = sorted(set(options) - set(known))
        raise TypeError(
            f"the {self.name!r} format takes no option {', '.join(unknown)} "
            f"(its options: {', '.join(known) or 'none'}); received {options}"
        )

    # ------------------------------------------------------------ format knowledge
    def is_empty(self, rle: Any) -> bool:
        """Whether ``rle`` is an empty mask in this format (any marker in ``empty_tokens``)."""
        if isinstance(rle, str):
            return rle.strip() in self.empty_tokens
        if isinstance(rle, (bytes, bytearray)):
            return bytes(rle).strip() in self._empty_bytes
        return is_empty_rle(rle)

    def check_syntax(self, rle: Any) -> None:
        """Raise :class:`rlemask.RLEError` unless ``rle`` is pairs of ints or an empty marker.

        The check that needs no mask shape (what a labels-file reader can do
        per row): every token an integer, an even count.
        """
        if not self.is_empty(rle):
            _text.check_pairs(_text.tokens(rle, self.name), self.name)

    # ------------------------------------------------------------------ codec
    def parse(self, rle: Any, shape: tuple[int, int], **options: Any) -> Runs:
        order = self.scan_order(**options)
        if self.is_empty(rle):
            empty = np.empty(0, np.int64)
            return Runs.from_canonical(empty, empty, shape, order, check=False)
        buf = _text.to_buffer(rle, self.name)[0]
        s, ln, m, err = k._parse_pairs(buf, shape[0] * shape[1], self.relative, self.base)
        if err:
            self._raise(rle, shape)
        return Runs.from_canonical(s[:m], ln[:m], shape, order, check=False)

    def format(self, runs: Runs, **options: Any) -> str:
        runs = runs.as_order(self.scan_order(**options))
        if len(runs) == 0:
            return self.empty
        text = k._format_runs(runs.starts, runs.lengths, self.relative, self.base)
        return text.tobytes().decode("ascii")

    def decode_mask(self, rle: Any, shape: tuple[int, int], **options: Any) -> np.ndarray:
        """Fast path of :func:`rlemask.decode`: one kernel parses, validates, then fills.

        The kernel validates every pair before it writes a pixel and only
        reports that the text is malformed; the step-by-step parse then
        raises the RLEError naming the token.
        """
        row_major = self.scan_order(**options) == "C"
        if self.is_empty(rle):
            return np.zeros(shape, np.uint8)
        buf = _text.to_buffer(rle, self.name)[0]
        out = np.empty(shape, np.uint8)  # the kernel writes every pixel
        if k._decode_pairs(buf, out.view(np.int8), self.relative, self.base, row_major):
            self._raise(rle, shape)
        return out

    def encode_mask(self, mask: Any, **options: Any) -> str:
        """Fast path of :func:`rlemask.encode`: the text straight from a kernel.

        Skips building :class:`rlemask.Runs` for the layouts a kernel reads in
        memory order: a C-contiguous ``uint8``/``bool`` mask whose width is a
        multiple of 8 (up to 2040) for column-major runs, and the contiguous
        scan of either order.
        """
        order = self.scan_order(**options)
        arr = check_mask(mask)
        text = None
        if order == "F":
            h, w = arr.shape
            if arr.dtype == np.uint8 and arr.flags.c_contiguous and w % 8 == 0 and w <= 2040:
                text = k._encode_words_text(arr, arr.view(np.uint64), self.relative, self.base)
            elif arr.flags.f_contiguous:
                text = k._encode_linear_text(arr.ravel(order="F"), self.relative, self.base)
        elif arr.flags.c_contiguous:
            text = k._encode_linear_text(arr.ravel(), self.relative, self.base)
        if text is None:
            return self.format(Runs.from_mask(arr, order=order), **options)
        return text.tobytes().decode("ascii") if text.size else self.empty

    def _raise(self, rle: Any, shape: tuple[int, int]) -> NoReturn:
        """Re-parse step by step to raise an RLEError naming the bad token."""
        tok = _text.tokens(rle, self.name)
        _text.check_pairs(tok, self.name)
        npix = shape[0] * shape[1]
        s, ln, m, err, i = k._pairs_to_runs(tok, tok.size // 2, npix, self.relative, self.base)
        if err:
            first = f"starts are {self.base}-based, must be >= {self.base}" if self.base else ""
            _text.raise_run_error(int(err), int(i), tok, shape, self.name, first)
        raise AssertionError("unreachable: the kernel and the parser disagree")

    def __repr__(self) -> str:
        return (
            f"PairsCodec({self.name!r}, relative={self.relative}, base={self.base}, "
            f"empty={self.empty!r}, also_empty={self._also_empty!r}, "
            f"order_option={self.order_option})"
        )


def _is_pairs_text(marker: str) -> bool:
    """Whether ``marker`` is well-formed pairs text (so it cannot mean an empty mask)."""
    parts = marker.split()
    return bool(parts) and len(parts) % 2 == 0 and all(p.lstrip("+-").isdigit() for p in parts)
