"""The shape of COCO records: required fields and their types, checked before anything else.

The readers and validate use the same shapes (``formats/coco_records.py``,
``formats/panoptic_rules.py``): a record of the wrong shape (an image whose id is a list, a
segment whose bbox is a string) stops a reader (exit 2) and is one ``malformed-record``
finding in validate, which leaves it out of its other checks, so no check ever meets a value
it cannot handle: validate reports broken input, it never crashes on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .findings import Check
from .registry import E, register

register(Check("malformed-record", E, "a record lacks a required field, or a field has the wrong type"))


def is_id(v: Any) -> bool:
    """Ids are 64-bit integers (COCO) or strings (some tools); never lists, floats, booleans,
    or integers no array can hold (10^30)."""
    return (type(v) is int and -(2**63) <= v < 2**63) or type(v) is str


def is_int(v: Any) -> bool:
    """A 64-bit integer that is not a boolean."""
    return type(v) is int and -(2**63) <= v < 2**63


def is_number(v: Any) -> bool:
    """A finite int or float (JSON has no NaN, but Python's json module reads one)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _flag(v: Any) -> bool:
    return v in (0, 1)  # 0/1 or False/True


def _box(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 4 and all(map(is_number, v))


def _color(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 3 and all(is_int(c) and 0 <= c <= 255 for c in v)


def _size(v: Any) -> bool:
    return type(v) is int and 0 < v < 2**31  # what a PNG header can hold


def _file_name(v: Any) -> bool:
    """A string some file can be called: no NUL, no lone surrogate."""
    if type(v) is not str or "\0" in v:
        return False
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _segment_id(v: Any) -> bool:
    return is_int(v) and 0 < v < 1 << 24  # what an RGB PNG can hold; 0 is void


Rule = dict[str, tuple[bool, Callable[[Any], bool], str]]  # field: (required, test, what it must be)
IMAGE: Rule = {
    "id": (True, is_id, "an integer or string"),
    "width": (True, _size, "an integer 1..2147483647"),
    "height": (True, _size, "an integer 1..2147483647"),
    "file_name": (True, _file_name, "a file name (a string without NUL or lone surrogates)"),
}
CATEGORY: Rule = {
    "id": (True, is_int, "an integer"),  # what segments' category_id must match; no reader takes a string
    "name": (False, lambda v: isinstance(v, str), "a string"),
    "isthing": (False, _flag, "0 or 1"),
    "color": (False, _color, "[r, g, b] with values 0..255"),
}
PANOPTIC_ANNOTATION: Rule = {
    "image_id": (True, is_id, "an integer or string"),
    "file_name": (True, _file_name, "a file name (a string without NUL or lone surrogates)"),
    "segments_info": (True, lambda v: isinstance(v, list), "a list"),
}
SEGMENT: Rule = {
    "id": (True, _segment_id, "an integer 1..16777215"),
    "category_id": (True, is_id, "an integer or string"),
    "iscrowd": (False, _flag, "0 or 1"),
    "area": (False, is_number, "a number"),
    "bbox": (False, _box, "[x, y, w, h] numbers"),
}


_NUMBER = (int, float)
_ABSENT = object()


def segment_fine(s: Any) -> bool:
    """True only when ``problem(s, SEGMENT)`` is None: the usual record (plain ints and
    floats) tested in one go, without a call per field (PQ checks ~60 segments per image,
    and ``problem`` was a tenth of its per-image time). False when the record is unusual in
    any way: :func:`problem` then decides, and words the reason."""
    if type(s) is not dict:
        return False
    sid, cat = s.get("id"), s.get("category_id")
    if type(sid) is not int or not 0 < sid < 1 << 24:
        return False
    if not ((type(cat) is int and -(2**63) <= cat < 2**63) or type(cat) is str):
        return False
    if s.get("iscrowd", 0) not in (0, 1):
        return False
    area = s.get("area", 0)
    if type(area) not in _NUMBER or not abs(area) < 1e300:  # NaN and the infinities fail too
        return False
    box = s.get("bbox", _ABSENT)
    if box is _ABSENT:
        return True
    if type(box) is not list or len(box) != 4:
        return False
    x, y, w, h = box
    if type(x) not in _NUMBER or type(y) not in _NUMBER or type(w) not in _NUMBER or type(h) not in _NUMBER:
        return False
    return bool(abs(x) + abs(y) + abs(w) + abs(h) < 1e300)


def annotation_fine(a: Any) -> bool:
    """True only when ``problem(a, PANOPTIC_ANNOTATION)`` is None (an ASCII file name can be
    encoded); False for anything unusual, which :func:`problem` then decides."""
    if type(a) is not dict:
        return False
    iid, name = a.get("image_id"), a.get("file_name")
    if not ((type(iid) is int and -(2**63) <= iid < 2**63) or type(iid) is str):
        return False
    return type(name) is str and name.isascii() and "\0" not in name and type(a.get("segments_info")) is list


def problem(record: Any, rule: Rule) -> str | None:
    """Why ``record`` does not have the shape ``rule`` asks for, or None."""
    if not isinstance(record, dict):
        return f"expected an object, got {type(record).__name__}"
    for key, (required, test, what) in rule.items():
        if key not in record:
            if required:
                return f"no '{key}'"
        elif not test(record[key]):
            return f"'{key}' must be {what}, got {record[key]!r:.40}"
    return None
