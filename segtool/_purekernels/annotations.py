"""The twin of ``scan_annotations`` (segtool/_kernels.c): a COCO instance file's plain
annotations into columns, the C file's scan step for step (which record it stops at and why,
NEED or BAIL, and the same values), on :mod:`.results`' reading of JSON text. Slow (a byte
at a time in Python): readers use the scan only with the C kernels
(:data:`segtool.kernels.IMPLEMENTATION`), the JSON parser otherwise.
"""

from __future__ import annotations

import struct
from typing import Any

from ._args import _SSIZE, _U8, _int, _take
from .results import BAIL, END, MORE, NEED, _Bail, _box, _segm, _Txt

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
    s = _take(data, _U8, False, "data").tobytes()
    pos, first, final, most = _int(pos, _SSIZE), bool(first), bool(final), _int(most, _SSIZE)
    if pos < 0 or pos > len(s) or most < 1:
        raise ValueError("pos is out of range" if pos < 0 or pos > len(s) else "most must be >= 1")
    t = _Txt(s, pos)
    ints: list[int] = []
    doubles: list[float] = []
    flags = bytearray()
    lines: list[str | None] = []
    status = MORE
    if first and t.peek() == 0x5D:
        t.i += 1
        status = END
    while status == MORE and len(flags) < most:
        start = t.i
        try:
            rec_ints, rec_doubles, flag, line = _annotation(t)
            more = t.next("]")
        except _Bail as stop:
            status = NEED if stop.status == NEED and not final else BAIL
            t.i = start
            break
        ints += [*rec_ints, start]
        doubles += rec_doubles
        flags.append(flag)
        lines.append(line)
        if not more:
            status = END
    n = len(flags)
    return status, t.i, n, struct.pack(f"={7 * n}q", *ints), struct.pack(f"={5 * n}d", *doubles), bytes(flags), lines
