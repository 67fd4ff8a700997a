"""The twin of ``scan_results`` (segtool/_kernels.c): a COCO results list's plain records
into columns, the C file's recursive scan step for step (which record it stops at and why,
NEED or BAIL, and the same values). Slow (a byte at a time in Python): readers use the scan
only with the C kernels (:data:`segtool.kernels.IMPLEMENTATION`), the JSON parser otherwise.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from typing import Any

from ._args import _SSIZE, _U8, _int, _take

MORE, END, NEED, BAIL, OK = 0, 1, 2, 3, 4
DEPTH, TOKEN, INT_DIGITS = 64, 64, 15
KEY_TEXT, COUNTS_TEXT, ANY_TEXT = 0, 1, 2
_BLANK = b" \n\r\t"
_ESCAPES = {KEY_TEXT: b"", COUNTS_TEXT: b'\\/"', ANY_TEXT: b'\\/"bfnrt'}


def _digit(c: int) -> bool:
    return 0x30 <= c <= 0x39


class _Bail(Exception):
    """The scan stops: ``status`` NEED (the text ends too soon) or BAIL."""

    def __init__(self, status: int) -> None:
        self.status = status


class _Txt:
    def __init__(self, s: bytes, i: int) -> None:
        self.s, self.n, self.i = s, len(s), i

    def peek(self) -> int:
        """The C file's ``scan_peek``: the next non-blank byte, or -1."""
        s, n, i = self.s, self.n, self.i
        while i < n and s[i] in _BLANK:
            i += 1
        self.i = i
        return s[i] if i < n else -1

    def char(self, c: str) -> None:
        got = self.peek()
        if got != ord(c):
            raise _Bail(NEED if got < 0 else BAIL)
        self.i += 1

    def string(self, kind: int) -> tuple[int, int, bool]:
        """``scan_string``: (first byte, end, escaped)."""
        s, j, esc = self.s, self.i + 1, False
        while j < self.n:
            c = s[j]
            if c == 0x22:
                a, self.i = self.i + 1, j + 1
                return a, j, esc
            if c < 0x20 or c >= 0x80:
                raise _Bail(BAIL)
            if c == 0x5C:
                if kind == KEY_TEXT:
                    raise _Bail(BAIL)
                j += 1
                if j >= self.n:
                    raise _Bail(NEED)
                if s[j] not in _ESCAPES[kind]:
                    raise _Bail(BAIL)
                esc = True
            j += 1
        raise _Bail(NEED)

    def number(self) -> tuple[int, bool, int]:
        """``scan_number``: (token start, integer token, its value)."""
        s, n, i = self.s, self.n, self.i
        j = i + (i < n and s[i] == 0x2D)
        if j >= n:
            raise _Bail(NEED)
        d0 = j
        if s[j] == 0x30:
            j += 1
        elif 0x31 <= s[j] <= 0x39:
            while j < n and _digit(s[j]) and j - d0 < INT_DIGITS:
                j += 1
        else:
            raise _Bail(BAIL)
        if j < n and _digit(s[j]):
            raise _Bail(BAIL)  # 16 digits or more, or a leading zero
        integer = True
        v = int(s[i:j]) if i != j else 0
        if j < n and s[j] == 0x2E:
            integer = False
            j += 1
            if j >= n:
                raise _Bail(NEED)
            if not _digit(s[j]):
                raise _Bail(BAIL)
            while j < n and _digit(s[j]):
                j += 1
        exponent = j < n and s[j] in b"eE"
        if exponent:
            integer = False
            j += 1
            if j < n and s[j] in b"+-":
                j += 1
            if j >= n:
                raise _Bail(NEED)
            if not _digit(s[j]):
                raise _Bail(BAIL)
            while j < n and _digit(s[j]):
                j += 1
        if j >= n:
            raise _Bail(NEED)
        if j - i > TOKEN:
            raise _Bail(BAIL)
        if exponent and math.isinf(float(s[i:j])):
            raise _Bail(BAIL)  # beyond a double: yajl refuses it, the json module reads inf
        self.i = j
        return i, integer, v

    def integer(self) -> int:
        _, integer, v = self.number()
        if not integer:
            raise _Bail(BAIL)
        return v

    def double(self) -> float:
        a, integer, v = self.number()
        if integer:
            return float(v)
        return float(self.s[a : self.i])

    def next(self, close: str) -> bool:
        """``scan_next``: True after ',', False after ``close``."""
        c = self.peek()
        if c == 0x2C or c == ord(close):
            self.i += 1
            return c == 0x2C
        raise _Bail(NEED if c < 0 else BAIL)

    def key(self) -> bytes:
        c = self.peek()
        if c != 0x22:
            raise _Bail(NEED if c < 0 else BAIL)
        a, b, _ = self.string(KEY_TEXT)
        self.char(":")
        return self.s[a:b]

    def skip(self, depth: int) -> None:
        c = self.peek()
        if c < 0:
            raise _Bail(NEED)
        if c == 0x22:
            self.string(ANY_TEXT)
            return
        if c == 0x2D or 0x30 <= c <= 0x39:
            self.number()
            return
        if c in b"tfn":
            word = {0x74: b"true", 0x66: b"false", 0x6E: b"null"}[c]
            have = self.s[self.i : self.i + len(word)]
            if word[: len(have)] != have:
                raise _Bail(BAIL)
            if len(have) < len(word):
                raise _Bail(NEED)
            self.i += len(word)
            return
        if c not in b"{[" or depth >= DEPTH:
            raise _Bail(BAIL)
        close = "}" if c == 0x7B else "]"
        self.i += 1
        if self.peek() == ord(close):
            self.i += 1
            return
        while True:
            if c == 0x7B:
                self.key()
            self.skip(depth + 1)
            if not self.next(close):
                return


def _box(t: _Txt) -> list[float]:
    t.char("[")
    box = []
    for k in range(4):
        if t.peek() < 0:
            raise _Bail(NEED)
        box.append(t.double())
        t.char("," if k < 3 else "]")
    return box


def _segm(t: _Txt) -> tuple[int, int, str]:
    t.char("{")
    size: tuple[int, int] | None = None
    counts: str | None = None
    while True:
        key = t.key()
        if t.peek() < 0:
            raise _Bail(NEED)
        if key == b"size":
            if size is not None:
                raise _Bail(BAIL)
            size = (0, 0)  # seen
            t.char("[")
            if t.peek() < 0:
                raise _Bail(NEED)
            h = t.integer()
            t.char(",")
            if t.peek() < 0:
                raise _Bail(NEED)
            w = t.integer()
            t.char("]")
            size = (h, w)
        elif key == b"counts":
            if counts is not None:
                raise _Bail(BAIL)
            counts = ""
            c = t.peek()
            if c != 0x22:
                raise _Bail(NEED if c < 0 else BAIL)
            a, b, esc = t.string(COUNTS_TEXT)
            raw = t.s[a:b]
            counts = re.sub(rb"\\(.)", rb"\1", raw).decode("ascii") if esc else raw.decode("ascii")
        else:
            t.skip(2)
        if not t.next("}"):
            if size is None or counts is None:
                raise _Bail(BAIL)
            return size[0], size[1], counts


def read_object(t: _Txt, fields: dict[bytes, int], read: Callable[[int], Any]) -> dict[int, Any]:
    """The C scans' walk over one record: ``{``, then each key and its value as ``read(bit)``
    reads it (``fields``: the key's bit; 0 for any other key, which ``read`` passes over), up
    to ``}``; the values by bit. A key twice bails once its value is read, before that
    value's own status: the order in which the C scans check them."""
    t.char("{")
    got: dict[int, Any] = {}
    while True:
        key = t.key()
        if t.peek() < 0:
            raise _Bail(NEED)
        bit = fields.get(key, 0)
        status, value = OK, None
        try:
            value = read(bit)
        except _Bail as stop:
            status = stop.status
        if bit and bit in got:
            raise _Bail(BAIL)  # a key twice
        if bit:
            got[bit] = value
        if status != OK:
            raise _Bail(status)
        if not t.next("}"):
            return got


_FIELDS = {b"image_id": 1, b"category_id": 2, b"score": 4, b"bbox": 8, b"segmentation": 16}


def _record(t: _Txt) -> tuple[list[int], list[float], int, str | None]:
    """``scan_record``: (ints, doubles, flags, counts)."""

    def read(bit: int) -> Any:
        if bit in (1, 2):
            return t.integer()
        if bit == 4:
            return t.double()
        if bit == 8:
            return _box(t)
        if bit == 16:
            return _segm(t)
        t.skip(1)
        return None

    got = read_object(t, _FIELDS, read)
    if not (1 in got and 2 in got and 4 in got):
        raise _Bail(BAIL)
    h, w, counts = got.get(16, (0, 0, None))
    box = got.get(8, [0.0] * 4)
    return [got[1], got[2], h, w], [got[4], *box], (1 if 8 in got else 0) | (2 if 16 in got else 0), counts


Record = Callable[[_Txt], tuple[list[int], list[float], int, str | None]]


def scan_list(data: Any, pos: Any, first: Any, final: Any, most: Any, record: Record, width: int) -> tuple[Any, ...]:
    """The walk over a JSON list that scan_results and scan_annotations share: up to ``most``
    items read by ``record`` (each its ints, then its offset: ``width`` int64s; its doubles;
    a flag byte; a text or None), stopping before the first it bails on. (status, pos, n,
    ints, doubles, flags, texts), as the C kernels return them."""
    s = _take(data, _U8, False, "data").tobytes()
    pos, first, final, most = _int(pos, _SSIZE), bool(first), bool(final), _int(most, _SSIZE)
    if pos < 0 or pos > len(s) or most < 1:
        raise ValueError("pos is out of range" if pos < 0 or pos > len(s) else "most must be >= 1")
    t = _Txt(s, pos)
    ints: list[int] = []
    doubles: list[float] = []
    flags = bytearray()
    texts: list[str | None] = []
    status = MORE
    if first and t.peek() == 0x5D:
        t.i += 1
        status = END
    while status == MORE and len(flags) < most:
        start = t.i
        try:
            rec_ints, rec_doubles, rec_flags, text = record(t)
            more = t.next("]")
        except _Bail as stop:
            status = NEED if stop.status == NEED and not final else BAIL
            t.i = start
            break
        ints += [*rec_ints, start]
        doubles += rec_doubles
        flags.append(rec_flags)
        texts.append(text)
        if not more:
            status = END
    n = len(flags)
    packed = struct.pack(f"={width * n}q", *ints), struct.pack(f"={len(doubles)}d", *doubles)
    return status, t.i, n, *packed, bytes(flags), texts


def scan_results(data: Any, pos: Any, first: Any, final: Any, most: Any) -> tuple[Any, ...]:
    """Up to ``most`` plain records of a COCO results list from ``data[pos:]``: (status,
    pos, n, ints, doubles, flags, counts), as the C kernel returns them."""
    return scan_list(data, pos, first, final, most, _record, 5)
