"""The rules of a COCO instance annotation's fields, written once for the instance reader
(:mod:`.coco_tables`) and for ``validate`` and ``--fix``.

Every field is read as pycocotools would take it, and each departure from the COCO shape is
one :class:`Problem`: ``usable`` when the reader reads past it (an area written ``"12.5"``,
an ``id`` written ``7.0`` or missing, a ``bbox`` that is not four numbers, an ``iscrowd``
of 2), else fatal (an ``id`` that is no integer, a value no float can be made of, one that
is not finite). The reader stops at the fatal ones (for the first image that has one: see
:mod:`.coco_tables`) and reads past the others; validate reports the first problem of an
annotation, usable or not, as its ``malformed-record`` finding and leaves the annotation out
of its other checks; ``--fix`` refuses a file with any.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .coco_records import INT64, integral

ID, AREA, BBOX, AREA_FINITE, BBOX_FINITE, CROWD = 1, 2, 3, 6, 7, 9  # the reader's order of checks


@dataclass(frozen=True, slots=True)
class Problem:
    """One field's departure: ``order`` (which check: the reader raises the lowest first),
    the one-line message, and whether the reader reads past it."""

    order: int
    message: str
    usable: bool


@dataclass(slots=True)
class Values:
    """An annotation's fields as the reader keeps them, and their problems in field order."""

    id: int = 0
    area: float = 0.0
    bbox: tuple[float, float, float, float] | None = None  # None: no box (zeros in the table)
    crowd: bool = False
    problems: list[Problem] = field(default_factory=list)


def references(a: Any, i: int) -> Problem | None:
    """Why annotation #``i`` cannot name an image and a category, or None: an object with
    ``image_id`` (an integer or a string) and ``category_id`` (an integer); an id written
    ``2.0`` is read as 2 (usable)."""
    if not isinstance(a, dict):
        return Problem(0, f"annotation #{i} is not an object", False)
    aid = a.get("id", i)
    for key in ("image_id", "category_id"):
        if key not in a:
            return Problem(0, f"annotation {aid!r:.40}: missing {key!r}", False)
    iid, cid = a["image_id"], a["category_id"]
    if type(iid) is not str and not (type(iid) is int and INT64[0] <= iid <= INT64[1]):
        usable = integral(iid, *INT64) is not None
        return Problem(0, f"annotation {aid!r:.40}: 'image_id' must be an integer or a string, got {iid!r:.40}", usable)
    if not (type(cid) is int and INT64[0] <= cid <= INT64[1]):
        usable = integral(cid, *INT64) is not None
        return Problem(0, f"annotation {aid!r:.40}: 'category_id' must be an integer, got {cid!r:.40}", usable)
    return None


def image_and_category(a: dict[str, Any]) -> tuple[int | str, int]:
    """The image id and category id of an annotation :func:`references` passes or finds
    usable (an id written ``2.0`` as 2)."""
    iid, cid = a["image_id"], integral(a["category_id"], *INT64)
    assert cid is not None
    if type(iid) is str:
        return iid, cid
    number = integral(iid, *INT64)
    assert number is not None
    return number, cid


def values(a: dict[str, Any], image_id: Any, k: int) -> Values:
    """The fields of annotation ``a``, ``k``-th of image ``image_id``; see the module doc."""
    out = Values()
    _id(a, image_id, k, out)
    out.area = _number(a, "area", image_id, out, AREA, AREA_FINITE)
    box = a.get("bbox")
    if box is not None:
        if type(box) is list and len(box) == 4:
            x, y, w, h = (_number_of(v, "bbox", a, image_id, out, BBOX, BBOX_FINITE) for v in box)
            out.bbox = (x, y, w, h)
        else:
            out.problems.append(
                Problem(BBOX, f"{_where(image_id, k)}: 'bbox' must be [x, y, w, h] numbers, got {box!r:.40}", True)
            )
    crowd = a.get("iscrowd", 0)
    out.crowd = bool(crowd)
    if crowd not in (0, 1):  # 0/1 or False/True
        out.problems.append(Problem(CROWD, f"{_where(image_id, k)}: 'iscrowd' must be 0 or 1, got {crowd!r:.40}", True))
    out.problems.sort(key=lambda p: p.order)
    return out


def first_problem(a: Any, i: int) -> str | None:
    """What validate and ``--fix`` say of annotation #``i`` (in the file), or None when it
    has the COCO shape: its references, then its first field problem (usable or not)."""
    refs = references(a, i)
    if refs is not None:
        return refs.message
    found = values(a, a["image_id"], i)
    return found.problems[0].message if found.problems else None


def _where(image_id: Any, k: int) -> str:
    return f"image {image_id}: annotation #{k}"


def _id(a: dict[str, Any], image_id: Any, k: int, out: Values) -> None:
    """A 64-bit integer (an integral float is taken as one, a missing id as 0)."""
    aid = a.get("id")
    if type(aid) is int and INT64[0] <= aid <= INT64[1]:
        out.id = aid
        return
    if aid is None and "id" not in a:
        out.problems.append(Problem(ID, f"{_where(image_id, k)}: no 'id'", True))
        return
    value = integral(aid, *INT64)
    if value is not None:
        out.id = value
        out.problems.append(Problem(ID, f"{_where(image_id, k)}: 'id' must be an integer, got {aid!r:.40}", True))
    elif type(aid) is int:
        msg = f"{_where(image_id, k)}: 'id' must be an integer from {INT64[0]} to {INT64[1]}, got {aid!r:.40}"
        out.problems.append(Problem(ID, msg, False))
    else:
        out.problems.append(Problem(ID, f"{_where(image_id, k)}: 'id' must be an integer, got {aid!r:.40}", False))


def _number(a: dict[str, Any], name: str, image_id: Any, out: Values, order: int, finite: int) -> float:
    """``a[name]`` as a finite float (0 when missing)."""
    if name not in a:
        return 0.0
    return _number_of(a[name], name, a, image_id, out, order, finite)


def _number_of(value: Any, name: str, a: dict[str, Any], image_id: Any, out: Values, order: int, finite: int) -> float:
    """One value as a finite float, as ``float()`` takes it: a number, or (usable) a numeric
    string or a boolean; else fatal."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: an integer beyond any float
        out.problems.append(Problem(order, f"image {image_id}: malformed annotation ({exc})", False))
        return 0.0
    if not math.isfinite(number):
        msg = f"image {image_id}: annotation {out.id}: {name!r} must be finite numbers, got {a.get(name)!r:.60}"
        out.problems.append(Problem(finite, msg, False))
        return 0.0
    if type(value) is not int and type(value) is not float:
        msg = f"image {image_id}: annotation {out.id}: {name!r} must be numbers, got {a.get(name)!r:.40}"
        out.problems.append(Problem(order, msg, True))
    return number
