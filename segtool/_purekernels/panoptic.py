"""The twin of ``scan_panoptic`` (segtool/_kernels.c): a COCO panoptic annotation list's
plain records as (image id, segments, end, start) and file names, the C file's scan step for
step (which record it stops at and why, NEED or BAIL), on :mod:`.results`' reading of JSON
text. Slow (a byte at a time in Python): readers use the scan only with the C kernels
(:data:`segtool.kernels.IMPLEMENTATION`), the JSON parser otherwise.
"""

from __future__ import annotations

from typing import Any

from .results import BAIL, KEY_TEXT, NEED, _Bail, _Txt, read_object, scan_list

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


def _name(t: _Txt) -> str:
    """A file name: a string without escapes."""
    if t.peek() != 0x22:
        raise _Bail(BAIL)
    a, b, _ = t.string(KEY_TEXT)
    return t.s[a:b].decode("ascii")


def _record(t: _Txt) -> tuple[list[int], list[float], int, str | None]:
    """``scan_pan_record``: ([image id, segments, end], no doubles, flag 0, file name)."""

    def read(bit: int) -> Any:
        if bit == 1:
            return t.integer()
        if bit == 2:
            return _name(t)
        if bit == 4:
            return _segments_info(t)
        t.skip(1)
        return None

    got = read_object(t, _FIELDS, read)
    if len(got) != 3:
        raise _Bail(BAIL)
    return [got[1], got[4], t.i], [], 0, got[2]


def scan_panoptic(data: Any, pos: Any, first: Any, final: Any, most: Any) -> tuple[Any, ...]:
    """Up to ``most`` plain records of a COCO panoptic annotation list from ``data[pos:]``:
    (status, pos, n, ints, names), as the C kernel returns them."""
    status, pos, n, ints, _, _, names = scan_list(data, pos, first, final, most, _record, 4)
    return status, pos, n, ints, names
