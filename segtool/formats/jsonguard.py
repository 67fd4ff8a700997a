"""Refuse JSON that no parser should see: too deep, numbers too long, repeated top-level keys.

Parsers have no safe answer to these. ijson's C backend (yajl) crashes the process on an
integer of 4,301 digits (CPython refuses to convert it and yajl does not check); the json
module recurses once per level (``RecursionError`` at ~1,000) and ijson builds a prefix per
level (10^5 levels took 21 GB); and when a top-level key repeats, the json module keeps the
last value while a stream keeps the first ``images`` and every ``annotations`` list. So
every byte of a JSON file goes through :class:`Scanner` before a parser sees it, and a file
that breaks a limit (:mod:`segtool.limits`) or repeats a top-level key is bad input.

The scan is whole-array work over 1 MB chunks and looks outside strings only (digits and
brackets inside strings, such as compressed RLE counts, are data): a few comparisons pick
out the quotes, brackets and backslashes (one ``flatnonzero``); quote parity tells which
brackets lie outside strings, and their running sum is the depth; a number outside strings
lies in a gap between two of them, so only gaps longer than the limit are looked into. Measured on the benchmarks' 1,000-image COCO files (a
loaded 2-core machine): 3 ms per MB of RLE instances and detections, 7 ms per MB of
panoptic records, 30-60% of one ``json.loads`` or one ijson pass of the same file; a
file is scanned once per run (:func:`check_file` remembers it).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from .. import limits
from ..errors import SegtoolError

CHUNK = 1 << 20
QUOTE, BACKSLASH = 0x22, 0x5C
_NUMBER = bytes(1 if c in b"0123456789+-.eE" else 0 for c in range(256))
_WS = b" \t\r\n"


class Scanner:
    """Feed a JSON text's bytes in order (:meth:`feed`), then :meth:`finish`; raises
    :class:`~segtool.limits.LimitError` or :class:`~segtool.errors.SegtoolError` naming
    ``path`` at the first chunk that breaks a rule.

    Only valid JSON is scanned faithfully; after the first syntax error the scan may misjudge
    what is a string, but a parser stops at that error, before what follows it.
    """

    def __init__(self, path: object) -> None:
        lim = limits.current()
        self.path = path
        self.max_depth = lim.json_depth
        self.max_number = lim.number_chars
        self._run = b"\x01" * (self.max_number + 1)
        self.offset = 0  # of the current chunk in the text
        self.in_string = False  # at the start of the current chunk
        self.escaped = False  # the current chunk's first byte is escaped by a backslash
        self.depth = 0  # at the start of the current chunk
        self.run = 0  # number characters ending the text so far, outside strings
        self.last = b""  # the last non-blank byte so far
        self.top = b""  # the first non-blank byte: b"{" for an object
        self.keys: list[tuple[int, int]] = []  # top-level keys: offsets of their two quotes
        self.open_key = -1  # offset of a top-level key's opening quote, its closing one still to come
        self.close = -1  # offset of the bracket that closes the top-level value, once seen
        self.names: list[str] = []  # the top-level keys, decoded by :meth:`finish`

    def feed(self, chunk: bytes) -> None:
        """Scan the next bytes of the text."""
        if not chunk:
            return
        if not self.top:
            self.top = chunk.lstrip(_WS)[:1]
        b = np.frombuffer(chunk, np.uint8)
        folded = (b | 0x20) - np.uint8(0x7B)  # 0 for [ and {, 2 for ] and }
        folded &= 0xFD
        special = folded == 0
        special |= b == QUOTE
        special |= b == BACKSLASH
        where = np.flatnonzero(special)
        raw = b[where]
        if self.escaped or (raw == BACKSLASH).any():
            where, raw = self._unescape(where, raw, len(chunk))
        quote = raw == QUOTE
        parity = np.cumsum(quote, dtype=np.uint8) & 1  # odd: inside a string, or its opening quote
        outside = parity == (1 if self.in_string else 0)  # before the byte, and after it
        step = ((raw | 0x20) == 0x7B).astype(np.int8)  # [ and {
        step -= (raw | 0x20) == 0x7D  # ] and }
        step *= outside
        depth = np.cumsum(step, dtype=np.int64)
        depth += self.depth
        if depth.size and int(depth.max()) > self.max_depth:
            limits.check("json_depth", int(depth.max()), "JSON nested too deep", self.path)
        if self.top == b"{":
            self._top_keys(chunk, where, quote & ~outside, quote & outside, depth)
        if self.close < 0 and depth.size:
            ends = np.flatnonzero((depth == 0) & (step < 0))
            if ends.size:
                self.close = self.offset + int(where[ends[0]])
        self._numbers(chunk, where, outside)
        self.in_string ^= bool(quote.sum() & 1)
        if depth.size:
            self.depth = int(depth[-1])
        self.last = self._before(chunk, len(chunk)) or self.last
        self.offset += len(chunk)

    def _unescape(
        self, where: npt.NDArray[np.int64], raw: npt.NDArray[np.uint8], size: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
        """Drop backslashes and what they escape: within a run of backslashes the 1st, 3rd …
        escape the byte after them (in valid JSON a backslash is inside a string). Runs of
        backslashes are runs of neighbours in ``where``, so this works on indices into it."""
        keep = raw != BACKSLASH
        start_escaped, self.escaped = self.escaped, False
        slash = np.flatnonzero(~keep)
        if start_escaped and where.size and where[0] == 0:
            keep[0] = False  # escaped by the previous chunk's backslash
            if slash.size and slash[0] == 0:
                slash = slash[1:]  # an escaped backslash escapes nothing
        if slash.size:
            first = np.ones(slash.size, bool)
            first[1:] = (np.diff(slash) != 1) | (np.diff(where[slash]) != 1)
            run_start = np.maximum.accumulate(np.where(first, np.arange(slash.size), 0))
            escaper = slash[(np.arange(slash.size) - run_start) % 2 == 0]
            if escaper.size and where[escaper[-1]] == size - 1:
                self.escaped = True
            nxt = escaper + 1
            nxt = nxt[nxt < where.size]
            keep[nxt[where[nxt] == where[nxt - 1] + 1]] = False
        return where[keep], raw[keep]

    def _top_keys(
        self,
        chunk: bytes,
        where: npt.NDArray[np.int64],
        opening: npt.NDArray[np.bool_],
        closing: npt.NDArray[np.bool_],
        depth: npt.NDArray[np.int64],
    ) -> None:
        """Record where the top-level object's keys are: strings at depth 1 that follow
        ``{`` or ``,``. A handful per file, so a loop over them costs nothing."""
        closes = where[closing]
        if self.open_key >= 0 and closes.size:
            self.keys.append((self.open_key, self.offset + int(closes[0])))
            self.open_key = -1
        for pos in where[opening & (depth == 1)].tolist():
            if self._before(chunk, pos) not in (b"{", b","):
                continue  # a string value
            k = int(np.searchsorted(closes, pos))
            if k < closes.size:
                self.keys.append((self.offset + pos, self.offset + int(closes[k])))
            else:
                self.open_key = self.offset + pos

    def _before(self, chunk: bytes, pos: int) -> bytes:
        """The last non-blank byte before ``pos`` (from earlier chunks when there is none)."""
        hi = pos
        while hi > 0:
            lo = max(0, hi - 64)
            window = chunk[lo:hi].rstrip(_WS)
            if window:
                return window[-1:]
            hi = lo
        return self.last

    def _numbers(self, chunk: bytes, where: npt.NDArray[np.int64], outside: npt.NDArray[np.bool_]) -> None:
        """Refuse a number longer than the limit. Outside strings, the bytes between two
        quotes or brackets hold only numbers, literals, commas, colons and blanks, so only
        such gaps longer than the limit are looked into (a run going on from the previous
        chunk is carried over)."""
        n = len(chunk)
        bounds = np.concatenate([[-1], where, [n]])
        free = np.concatenate([[not self.in_string], outside])
        gap = np.diff(bounds) - 1
        wide = np.flatnonzero(free & (gap > self.max_number))
        flags = None
        if wide.size > 32:  # many: flag the whole chunk once
            flags = chunk.translate(_NUMBER)
        for k in wide.tolist():
            lo, hi = int(bounds[k]) + 1, int(bounds[k + 1])
            part = flags[lo:hi] if flags is not None else chunk[lo:hi].translate(_NUMBER)
            at = part.find(self._run)
            if at >= 0:
                self._too_long(len(part[at:]) - len(part[at:].lstrip(b"\x01")))
        head = chunk[: self.max_number + 2].translate(_NUMBER)
        lead = len(head) - len(head.lstrip(b"\x01"))
        if not self.in_string and self.run + lead > self.max_number:
            self._too_long(self.run + lead)
        if not free[-1]:
            self.run = 0
            return
        tail = chunk[-(self.max_number + 2) :].translate(_NUMBER)
        trail = len(tail) - len(tail.rstrip(b"\x01"))
        self.run = self.run + trail if trail == n else trail

    def _too_long(self, chars: int) -> None:
        limits.check("number_chars", chars, "a JSON number too long", self.path)

    def finish(self, text: Callable[[int, int], bytes], *, names: bool = False) -> None:
        """End of the text: refuse a repeated top-level key. ``text(a, z)`` returns the
        bytes from offset ``a`` to ``z`` inclusive. With ``names``, the decoded keys are
        kept in :attr:`names` (in file order) even when there is only one."""
        if self.run > self.max_number:
            self._too_long(self.run)
        if len(self.keys) < (1 if names else 2):
            return
        seen: set[str] = set()
        for a, z in self.keys:
            try:
                key = json.loads(text(a, z))
            except ValueError:
                self.names = []
                return  # invalid JSON: the parser words it
            if key in seen:
                raise SegtoolError(
                    f"top-level key {key!r} appears twice (which one counts is ambiguous)", str(self.path)
                )
            seen.add(key)
            self.names.append(key)


def check_bytes(data: bytes, path: object) -> None:
    """Scan a whole JSON text held in memory (UTF-8)."""
    scan = Scanner(path)
    view = memoryview(data)
    for start in range(0, len(data), CHUNK):
        scan.feed(bytes(view[start : start + CHUNK]))
    scan.finish(lambda a, z: data[a : z + 1])


_checked: set[tuple[Any, ...]] = set()


def file_key(f: BinaryIO) -> tuple[Any, ...]:
    """A version of an open file (device, inode, size, times) with the limits in force.

    Raises for what is not a regular file: a device or a pipe has no end to scan to.
    """
    st = os.fstat(f.fileno())
    if not stat.S_ISREG(st.st_mode):
        raise SegtoolError("not a regular file", getattr(f, "name", None))
    return stat_key(st)


def stat_key(st: os.stat_result) -> tuple[Any, ...]:
    """:func:`file_key` of a file's ``stat``: what finds a remembered version of it without
    opening it again."""
    lim = limits.current()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, lim.json_depth, lim.number_chars)


def check_file(f: BinaryIO, path: object) -> None:
    """Scan an open JSON file once per version of it; the file is left at offset 0.

    A stream reads a file several times (a section per pass), so the scan is remembered.
    """
    key = file_key(f)
    if key in _checked:
        return
    f.seek(0)
    scan = Scanner(path)
    while chunk := f.read(CHUNK):
        scan.feed(chunk)

    def text(a: int, z: int) -> bytes:
        f.seek(a)
        return f.read(z - a + 1)

    scan.finish(text)
    f.seek(0)
    remember(key)


def remember(key: tuple[Any, ...]) -> None:
    """Record a version of a file as scanned."""
    if len(_checked) > 256:
        _checked.clear()
    _checked.add(key)


def scanned(key: tuple[Any, ...]) -> bool:
    """Whether this version of a file was scanned already."""
    return key in _checked
