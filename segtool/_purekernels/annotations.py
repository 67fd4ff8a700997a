"""The twin of ``scan_annotations`` (segtool/_kernels.c): a COCO instance file's plain
annotations into columns, the C file's scan step for step (which record it stops at and why,
NEED or BAIL, and the same values), on :mod:`.results`' reading of JSON text. Slow (a byte
at a time in Python): readers use the scan only with the C kernels
(:data:`segtool.kernels.IMPLEMENTATION`), the JSON parser otherwise.
"""

from __future__ import annotations

from typing import Any

from .results import BAIL, NEED, _Bail, _box, _segm, _Txt, read_object, scan_list

_FIELDS = {
    b"image_id": 1,
    b"category_id": 2,
    b"bbox": 4,
    b"id": 8,
    b"area": 16,
    b"iscrowd": 32,
    b"segmentation": 64,
    b"score": 128,
}


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

    def read(bit: int) -> Any:
        if bit in (1, 2, 8):
            return t.integer()
        if bit == 4:
            return _box(t)
        if bit == 16:
            return t.double()
        if bit == 32:
            return int(t.integer() != 0)
        if bit == 64:
            return _segmentation(t)
        if bit == 128:
            raise _Bail(BAIL)  # a score is the reader's to check
        t.skip(1)
        return None

    got = read_object(t, _FIELDS, read)
    if not (1 in got and 2 in got and 4 in got):
        raise _Bail(BAIL)
    flag, h, w, line = got.get(64, (0, 0, 0, None))
    return [got.get(8, 0), got[1], got[2], got.get(32, 0), h, w], [got.get(16, 0.0), *got[4]], flag, line


def scan_annotations(data: Any, pos: Any, first: Any, final: Any, most: Any) -> tuple[Any, ...]:
    """Up to ``most`` plain annotations of a COCO instance file's list from ``data[pos:]``:
    (status, pos, n, ints, doubles, flags, lines), as the C kernel returns them."""
    return scan_list(data, pos, first, final, most, _annotation, 7)
