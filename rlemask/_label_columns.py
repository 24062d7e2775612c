"""Which column of a label file is what: header aliases, header detection, layouts.

The competitions of the field spell the same three columns a dozen ways
(``ImageId``/``id``/``fname``/``record_id``, ``EncodedPixels``/``mask``/
``predicted``/``rle_mask``...).  Names are compared case-insensitively with
``_``, ``-`` and spaces ignored, so ``image_id`` is ``ImageId``.

Examples
--------
>>> from rlemask._label_columns import resolve_columns
>>> c = resolve_columns(["ImageId_ClassId", "EncodedPixels"], layout="auto")
>>> c.layout, c.id, c.rle
('wide', 0, 1)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rlemask._errors import LabelsFileError

LAYOUTS = ("single", "long", "wide")
ROLES = ("id", "rle", "class", "height", "width")

# normalised names (see _norm) of each role, the spellings of the field
ALIASES: dict[str, frozenset[str]] = {
    "id": frozenset({"imageid", "id", "fname", "recordid", "image", "filename", "img"}),
    "rle": frozenset(
        {"encodedpixels", "mask", "segmentation", "predicted", "encoding", "rlemask", "rle",
         "annotation", "rleencoding"}
    ),
    "class": frozenset({"classid", "class", "classname", "category", "label"}),
    "height": frozenset({"height", "imageheight", "imgheight", "sliceheight"}),
    "width": frozenset({"width", "imagewidth", "imgwidth", "slicewidth"}),
}
# what the first column of a wide file may be called besides ``<id alias>_<class alias>``
_WIDE_NAMES = frozenset({"imagelabel"})
# a field that can only be RLE text or an empty marker (decides "no header")
_RLE_LIKE = re.compile(r"^\s*(-1?|-?\d+(\s+\d+)*|nan)?\s*$", re.IGNORECASE)


def _norm(name: Any) -> str:
    return re.sub(r"[\s_\-]", "", str(name)).lower()


def is_wide_name(name: Any) -> bool:
    """``ImageId_ClassId``, ``Image_Label``, ``id_class``: an id column with the class in it."""
    text = str(name).strip()
    if _norm(text) in _WIDE_NAMES:
        return True
    for at in [m.start() for m in re.finditer("_", text)]:
        head, tail = _norm(text[:at]), _norm(text[at + 1 :])
        if head in ALIASES["id"] and tail in ALIASES["class"]:
            return True
    return False


def role_of(name: Any) -> str | None:
    """The role a column name plays (``"id"``, ``"rle"``...) or None."""
    key = _norm(name)
    for role in ROLES:
        if key in ALIASES[role]:
            return role
    return "id" if is_wide_name(name) else None


def looks_like_header(fields: Sequence[str]) -> bool:
    """True when the first row names columns; False when it already holds data.

    A row is data when no field is a known column name and its last field is
    RLE text or an empty marker (SIIM's own ``train-rle-sample.csv`` has no
    header).
    """
    if any(role_of(f) is not None for f in fields):
        return True
    return not (2 <= len(fields) <= 3 and _RLE_LIKE.match(fields[-1]))


@dataclass(frozen=True)
class Columns:
    """Positions of the roles in a row, the layout and the header as read."""

    names: tuple[str, ...]  # the header's names; "column 1".. without a header
    header: bool
    layout: str
    id: int
    rle: int
    cls: int | None = None
    height: int | None = None
    width: int | None = None

    def positions(self) -> dict[str, int]:
        """Role -> column position for the roles present."""
        roles = {"id": self.id, "rle": self.rle, "class": self.cls,
                 "height": self.height, "width": self.width}
        return {k: v for k, v in roles.items() if v is not None}

    def by_name(self) -> dict[str, str]:
        """Role -> column name (JSON-ready, for reports)."""
        return {k: self.names[v] for k, v in self.positions().items()}


def _explicit(names: Sequence[str], columns: Mapping[str, Any], where: str) -> dict[str, int]:
    unknown = sorted(set(columns) - set(ROLES))
    if unknown:
        raise ValueError(
            f"`columns` maps the roles {', '.join(ROLES)} to column names; received the "
            f"unknown role(s) {unknown} in columns={dict(columns)!r}"
        )
    found: dict[str, int] = {}
    stripped = [str(n).strip() for n in names]
    for role, col in columns.items():
        if isinstance(col, int) and not isinstance(col, bool):
            if not 0 <= col < len(names):
                raise ValueError(
                    f"`columns`: {role!r} -> position {col} is outside the {len(names)} columns "
                    f"of {where}; received columns={dict(columns)!r}"
                )
            found[role] = col
        elif str(col).strip() in stripped:
            found[role] = stripped.index(str(col).strip())
        else:
            raise LabelsFileError(
                f"{where}: no column named {col!r} (for {role!r}); the header is {list(names)}"
            )
    return found


def resolve_columns(
    names: Sequence[str],
    *,
    layout: str = "auto",
    columns: Mapping[str, Any] | None = None,
    header: bool = True,
    where: str = "the file",
) -> Columns:
    """Map a header (or a header-less row's width) to the roles and the layout.

    Parameters
    ----------
    names : sequence of str
        The header's column names (for a header-less file: the first row).
    layout : {"auto", "single", "long", "wide"}
        ``"auto"``: long when a class column exists, wide when the id column
        is named like ``ImageId_ClassId``, else single.
    columns : mapping, optional
        Role -> column name (or 0-based position) for what the aliases miss.
    header : bool
        Whether ``names`` is a header (False: positions 0, 1 (, 2) are
        id, rle or id, class, rle).
    where : str
        The file or argument, for messages.

    Raises
    ------
    LabelsFileError
        No id or RLE column; the message lists the header and the aliases.
    ValueError
        A bad ``layout`` or ``columns``.
    """
    if layout not in ("auto", *LAYOUTS):
        raise ValueError(
            f"`layout` must be one of 'auto', {', '.join(map(repr, LAYOUTS))}; "
            f"received layout={layout!r}"
        )
    names = [str(n).strip() for n in names]
    found: dict[str, int] = {}
    if header:
        for i, name in enumerate(names):
            role = role_of(name)
            if role is not None and role not in found:
                found[role] = i
    else:
        order = ("id", "rle") if len(names) == 2 else ("id", "class", "rle")
        found = {role: i for i, role in enumerate(order) if i < len(names)}
    if columns:
        found.update(_explicit(names, columns, where))
    missing = [r for r in ("id", "rle") if r not in found]
    if missing:
        raise LabelsFileError(
            f"{where}: the header must name an id and an RLE column; no "
            f"{' and no '.join(missing)} column in {names}; known "
            f"names: id {sorted(ALIASES['id'])}, rle {sorted(ALIASES['rle'])} (case, '_' "
            "and spaces ignored); pass columns={'id': ..., 'rle': ...} to name them"
        )
    wide_id = header and is_wide_name(names[found["id"]])
    if layout == "auto":
        layout = "long" if "class" in found else "wide" if wide_id else "single"
    if layout == "long" and "class" not in found:
        raise LabelsFileError(
            f"{where}: layout='long' needs a class column; the header is {names} "
            f"(known names {sorted(ALIASES['class'])}; or pass columns={{'class': ...}})"
        )
    shown = tuple(names) if header else tuple(f"column {i + 1}" for i in range(len(names)))
    return Columns(
        names=shown,
        header=header,
        layout=layout,
        id=found["id"],
        rle=found["rle"],
        cls=found.get("class") if layout == "long" else None,
        height=found.get("height"),
        width=found.get("width"),
    )
