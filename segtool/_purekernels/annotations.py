"""The twin of ``scan_annotations`` (segtool/_kernels.c): a COCO instance file's plain
annotations into columns, the C file's scan step for step (which record it stops at and why,
NEED or BAIL, and the same values), on :mod:`.results`' reading of JSON text. Slow (a byte
at a time in Python): readers use the scan only with the C kernels
(:data:`segtool.kernels.IMPLEMENTATION`), the JSON parser otherwise.
"""

from __future__ import annotations

from typing import Any

from .results import BAIL, NEED, _Bail, _box, _segm, _Txt, scan_list

_FIELDS = {b"image_id": 1, b"category_id": 2, b"bbox": 4, b"id": 8, b"area": 16, b"iscrowd": 32, b"segmentation": 64}


def _segmentation(t: _Txt) -> tuple[int, int, int, str]:
    """``scan_ann_segm``: (flag, h, w, line): a compressed RLE's counts (flag 1), else the
    value's JSON text as written (flag 2)."""
    at = t.i
    if t.peek() == 0x7B:
        try:
            h, w, counts = _segm(t)
            return 1, h, w, counts
        except _Bail as stop:
            if stop.status != BAIL:
                raise
        t.i = at
    if t.peek() < 0:
        raise _Bail(NEED)
    a = t.i
    t.skip(1)
    return 2, 0, 0, t.s[a : t.i].decode("ascii")


def _annotation(t: _Txt) -> tuple[list[int], list[float], int, str | None]:
    """``scan_annotation``: (ints, doubles, flag, line)."""
    t.char("{")
    ints, doubles, flag, line = [0] * 6, [0.0] * 5, 0, None
    seen = 0
    if t.peek() == 0x7D:
        raise _Bail(BAIL)
    while True:
        key = t.key()
        if t.peek() < 0:
            raise _Bail(NEED)
        if key == b"score":
            raise _Bail(BAIL)
        bit = _FIELDS.get(key, 0)
        status = 4  # OK
        try:
            if bit == 1:
                ints[1] = t.integer()
            elif bit == 2:
                ints[2] = t.integer()
            elif bit == 4:
                doubles[1:] = _box(t)
            elif bit == 8:
                ints[0] = t.integer()
            elif bit == 16:
                doubles[0] = t.double()
            elif bit == 32:
                ints[3] = int(t.integer() != 0)
            elif bit == 64:
                flag, ints[4], ints[5], line = _segmentation(t)
            else:
                t.skip(1)
        except _Bail as stop:
            status = stop.status
        if seen & bit:
            raise _Bail(BAIL)  # a key twice
        seen |= bit
        if status != 4:
            raise _Bail(status)
        if not t.next("}"):
            break
    if seen & 7 != 7:
        raise _Bail(BAIL)
    return ints, doubles, flag, line


def scan_annotations(data: Any, pos: Any, first: Any, final: Any, most: Any) -> tuple[Any, ...]:
    """Up to ``most`` plain annotations of a COCO instance file's list from ``data[pos:]``:
    (status, pos, n, ints, doubles, flags, lines), as the C kernel returns them."""
    return scan_list(data, pos, first, final, most, _annotation, 7)
