"""The twin of ``scan_panoptic`` (segtool/_kernels.c): a COCO panoptic annotation list's
plain records as (image id, segments, end, start) and file names, the C file's scan step for
step (which record it stops at and why, NEED or BAIL), on :mod:`.results`' reading of JSON
text. Slow (a byte at a time in Python): readers use the scan only with the C kernels
(:data:`segtool.kernels.IMPLEMENTATION`), the JSON parser otherwise.
"""

from __future__ import annotations

from typing import Any

from .results import BAIL, KEY_TEXT, NEED, OK, _Bail, _Txt, scan_list

_FIELDS = {b"image_id": 1, b"file_name": 2, b"segments_info": 4}


def _segments_info(t: _Txt) -> int:
    """``scan_segments_info``: the list's items passed over, counted."""
    t.char("[")
    c = t.peek()
    if c < 0:
        raise _Bail(NEED)
    if c == 0x5D:
        t.i += 1
        return 0
    count = 0
    while True:
        t.skip(2)
        count += 1
        if not t.next("]"):
            return count


def _record(t: _Txt) -> tuple[list[int], list[float], int, str | None]:
    """``scan_pan_record``: ([image id, segments, end], no doubles, flag 0, file name)."""
    t.char("{")
    ints, name, seen = [0, 0, 0], "", 0
    while True:
        key = t.key()
        c = t.peek()
        if c < 0:
            raise _Bail(NEED)
        bit = _FIELDS.get(key, 0)
        status = OK
        try:
            if bit == 1:
                ints[0] = t.integer()
            elif bit == 2:
                if c != 0x22:
                    raise _Bail(BAIL)
                a, b, _ = t.string(KEY_TEXT)
                name = t.s[a:b].decode("ascii")
            elif bit == 4:
                ints[1] = _segments_info(t)
            else:
                t.skip(1)
        except _Bail as stop:
            status = stop.status
        if seen & bit:
            raise _Bail(BAIL)  # a key twice
        seen |= bit
        if status != OK:
            raise _Bail(status)
        if not t.next("}"):
            break
    if seen != 7:
        raise _Bail(BAIL)
    ints[2] = t.i
    return ints, [], 0, name


def scan_panoptic(data: Any, pos: Any, first: Any, final: Any, most: Any) -> tuple[Any, ...]:
    """Up to ``most`` plain records of a COCO panoptic annotation list from ``data[pos:]``:
    (status, pos, n, ints, names), as the C kernel returns them."""
    status, pos, n, ints, _, _, names = scan_list(data, pos, first, final, most, _record, 4)
    return status, pos, n, ints, names
