"""The registry of run-length text formats, and the plugin contract.

Built-in formats: ``"siim"``, ``"kaggle"`` and ``"coco"`` (see FORMATS.md and
each module's docstring).  Another package adds a format either at run time
with :func:`register_format`, or by being installed: it declares an entry
point in the group ``rlemask.formats`` whose name is the format name and
whose object is a codec (or a class that builds one with no arguments)::

    # the plugin's pyproject.toml
    [project.entry-points."rlemask.formats"]
    myformat = "mypackage.rle:MyCodec"

Entry points are loaded lazily: the first time a format name is looked up that
is not registered yet, or when :func:`formats` lists the names.

Plugin contract
---------------
A pairs-text format (``start length`` pairs, relative or absolute, 0- or
1-based) needs no code: ``rlemask.PairsCodec(name, relative=, base=, empty=)``
is a complete codec (:mod:`rlemask._formats.pairs`).  Any other codec is any
object with:

``name`` : str
    The format name.
``parse(rle, shape, **options) -> rlemask.Runs``
    Parse one encoded mask.  ``rle`` is what the format stores (``str`` or
    ``bytes`` for text formats; ``coco`` also takes a dict).  ``shape`` is a
    validated ``(H, W)`` tuple of positive ints.  Empty markers of the format
    (``""``, ``"-1"``, what ``is_empty`` accepts) give empty runs;
    :func:`rlemask.decode` already handles them, and ``None`` and NaN, before
    the codec is called.  Malformed input raises
    :class:`rlemask.RLEError` naming the token position and value.  Never
    write a mask here: return :class:`rlemask.Runs`, built with its
    constructor (validates, merges touching runs) or with
    :meth:`rlemask.Runs.from_canonical` (int64 arrays that are already
    canonical: ``check=True`` verifies that in one pass; ``check=False`` only
    for runs a validating kernel has just produced).
``format(runs, **options) -> str | dict``
    Print canonical :class:`rlemask.Runs`; an empty mask prints the format's
    empty marker.  If ``runs.order`` is not the order the format needs, call
    ``runs.as_order(...)``.
``is_empty(rle) -> bool`` (optional)
    Whether ``rle`` is an empty mask in this format.  Without it the markers
    of every format are used (``None``, NaN, ``""``, ``"-1"``); a codec that
    has it must still accept those (:class:`rlemask.PairsCodec` does).
``empty`` : str (optional, text formats)
    The text written for an empty mask (labels-file writers use it).
``check_syntax(rle) -> None`` (optional, text formats)
    Raise :class:`rlemask.RLEError` unless ``rle`` is well-formed without
    knowing the mask shape (ints, an even count); labels-file readers call it
    on every row.  Formats without it are checked when decoded.
``warmup_options`` : sequence of dict (optional)
    Option sets for which :func:`rlemask.warmup` compiles the codec's
    kernels (``({},)`` for one set); codecs without it are not warmed.
``scan_order(**options) -> "F" | "C"`` (optional, default ``"F"``)
    The scan order ``format`` wants, so that :func:`rlemask.encode` builds the
    runs directly in that order.
``decode_mask(rle, shape, **options) -> numpy.ndarray`` (optional fast path)
    Used by :func:`rlemask.decode` instead of ``parse(...).to_mask()`` when
    present: must return the same C-contiguous ``uint8`` 0/1 array and raise
    the same errors, validating everything before writing a pixel.
``encode_mask(mask, **options) -> str | dict`` (optional fast path)
    Used by :func:`rlemask.encode` instead of
    ``format(Runs.from_mask(mask, order=scan_order(...)))`` when present: must
    return the same value and raise the same errors (validate the mask with
    ``Runs.from_mask``'s rules: 2-D, bool or integer, any layout).

Options are the keyword arguments the user passes to ``decode``/``encode``
(e.g. ``order="C"`` for kaggle); a codec must reject options it does not know
with ``TypeError`` (plain keyword-only parameters do this).

Examples
--------
>>> import rlemask
>>> rlemask.formats()[:3]
['coco', 'kaggle', 'siim']
>>> rlemask.get_format("siim").name
'siim'
"""

from __future__ import annotations

from typing import Any

from rlemask._registry import PluginRegistry
from rlemask._validation import is_empty_rle

ENTRY_POINT_GROUP = "rlemask.formats"

# built-ins by import path, so that listing them imports nothing
_BUILTIN: dict[str, str] = {
    "siim": "rlemask._formats.siim:CODEC",
    "kaggle": "rlemask._formats.kaggle:CODEC",
    "coco": "rlemask._formats.coco:CODEC",
}


def _check_codec(name: str, codec: Any) -> Any:
    if isinstance(codec, type):
        codec = codec()
    missing = [a for a in ("parse", "format") if not callable(getattr(codec, a, None))]
    if missing:
        raise TypeError(
            f"a codec for format {name!r} must have callable `parse` and `format`; "
            f"missing {', '.join(missing)}; received {codec!r}"
        )
    return codec


#: the formats: built-ins, run-time registrations, entry points of ENTRY_POINT_GROUP
_FORMATS = PluginRegistry("format", ENTRY_POINT_GROUP, _BUILTIN, _check_codec, unknown="RLE format")


def register_format(name: str, codec: Any, *, replace: bool = False) -> None:
    """Register ``codec`` under ``name`` (see the plugin contract in this module).

    Parameters
    ----------
    name : str
        The format name used by ``decode(..., format=name)``.
    codec : object or class
        An object with ``parse`` and ``format`` (a class is instantiated with
        no arguments).
    replace : bool
        Allow replacing an already registered format (built-ins included).

    Raises
    ------
    ValueError
        ``name`` is taken and ``replace`` is false.
    TypeError
        ``codec`` lacks ``parse`` or ``format``.

    Examples
    --------
    >>> import rlemask
    >>> class Upper:
    ...     name = "siim-upper"
    ...     def parse(self, rle, shape, **options):
    ...         return rlemask.get_format("siim").parse(rle, shape)
    ...     def format(self, runs, **options):
    ...         return rlemask.get_format("siim").format(runs).upper()
    >>> rlemask.register_format("siim-upper", Upper, replace=True)
    >>> rlemask.encode(rlemask.decode("1 2", (2, 2)), format="siim-upper")
    '1 2'
    """
    _FORMATS.register(name, codec, replace=replace)


def formats() -> list[str]:
    """Sorted names of the available formats (built-ins, registered, entry points).

    Examples
    --------
    >>> import rlemask
    >>> {"siim", "kaggle", "coco"} <= set(rlemask.formats())
    True
    """
    return _FORMATS.names()


def get_format(name: str) -> Any:
    """The codec registered as ``name``.

    Raises
    ------
    ValueError
        Unknown name; the message lists the available formats.

    Examples
    --------
    >>> import rlemask
    >>> rlemask.get_format("kaggle").scan_order(order="C")
    'C'
    """
    return _FORMATS.get(name)


def scan_order(codec: Any, options: dict) -> str:
    """The scan order ``codec`` wants for ``options`` (``"F"`` when it does not say)."""
    fn = getattr(codec, "scan_order", None)
    return fn(**options) if fn is not None else "F"


def is_empty(codec: Any, rle: Any) -> bool:
    """Whether ``rle`` means an empty mask for ``codec``: its ``is_empty``, when it has one,
    else the markers of every format (``None``, NaN, ``""``, ``"-1"``).

    Examples
    --------
    >>> import rlemask
    >>> is_empty(rlemask.get_format("kaggle"), " - "), is_empty(rlemask.get_format("siim"), "-")
    (True, False)
    """
    fn = getattr(codec, "is_empty", None)
    return fn(rle) if fn is not None else is_empty_rle(rle)
