"""A COCO panoptic file's annotation records found by the C scan (``scan_panoptic`` in
segtool/_kernels.c): each record's image id, file name and JSON text, without a parser
building a dict per record and per segment.

PQ's stream goes over a file's records twice: first for every image id (the pairing needs
them all before the first image is sent), then for the records themselves. With ijson both
passes built every record and its segments as Python objects in the one process that reads
both files, ~0.07 s at 1,000 images while the workers waited for their first images. Here
the scan finds the records; the second pass hands each one's text to the worker that loads
its PNG, which parses it (:class:`.coco_panoptic.PanopticRecord`): what the scan accepts is
plain JSON that the json module reads as ijson does (tests/test_kernels_scan_panoptic.py).
The file is read a megabyte at a time (a record larger than that whole): with 4 MB chunks the
reading process's peak grew by 13% from 5,000 to 20,000 images, the files passing 4 MB.

The rest of the file (everything but the list) is parsed by ijson as well, events only, so
a file the parser refuses anywhere is refused as before. When a record is not plain, has
more segments than the limit, or the rest does not parse, or the kernels are pure Python,
there is no scan (None): the stream reads the file with the JSON parser, whose checks and
messages then apply. So every result, and every refusal, is the parser's.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from .. import kernels
from ..errors import SegtoolError
from . import jsonguard
from .jsonfile import Layout, layout, open_file, parsing
from .jsonstream import parses_outside

MORE, END, NEED, BAIL = 0, 1, 2, 3  # scan_panoptic's status
CHUNK = 1 << 20  # bytes read at a time: a buffer per side, more than a few records
MOST = 8192  # records scanned at a time
_WS = b" \t\r\n"


class _Bail(Exception):
    """The scan cannot read the list: the parser reads the file."""


Batch = tuple[bytes, npt.NDArray[np.int64], list[str]]  # text, (image id, segments, end, start) rows, names


class RecordScan:
    """One open of the file, scanned once for its image ids (:attr:`ids`); :meth:`records`
    goes over the records again on the same open and closes it (a later pass opens the file
    again, as :class:`~.jsonstream.Passes` does)."""

    def __init__(self, path: Path, f: BinaryIO, start: int, max_segments: int) -> None:
        self.path, self._file, self._start = path, f, start
        self._version = jsonguard.file_key(f)
        ids: list[npt.NDArray[np.int64]] = []
        for _, rows, _ in self._batches(f):
            if rows[:, 1].max() > max_segments:
                raise _Bail  # the parser words the limit
            ids.append(rows[:, 0].copy())
        self.ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        if not parses_outside(f, start, self._end):
            raise _Bail
        weakref.finalize(self, f.close)

    def records(self) -> Iterator[tuple[int, str, bytes]]:
        """Each record's image id, file name and JSON text, in file order."""
        try:
            with parsing(self.path):
                f = self._file if not self._file.closed else open_file(self.path)
                with f:
                    if jsonguard.file_key(f) != self._version:  # truncated, appended to, replaced
                        raise _Bail
                    yield from self._checked(f)
        except _Bail:
            raise SegtoolError("the file changed while it was read", str(self.path)) from None

    def _checked(self, f: BinaryIO) -> Iterator[tuple[int, str, bytes]]:
        """The records again, their image ids those of the first pass."""
        done = 0
        for text, rows, names in self._batches(f):
            n = len(names)
            if not np.array_equal(rows[:, 0], self.ids[done : done + n]):
                raise _Bail
            done += n
            for (iid, _, end, start), name in zip(rows.tolist(), names, strict=True):
                yield iid, name, text[start:end]
        if done != len(self.ids):
            raise _Bail

    def _batches(self, f: BinaryIO) -> Iterator[Batch]:
        """The records, a batch at a time, from the list's '['; notes where the list ends."""
        f.seek(self._start + 1)
        base, buf, pos, first, final = self._start + 1, f.read(CHUNK), 0, True, False
        while True:
            status, pos, n, ints, names = kernels.scan_panoptic(buf, pos, first, final, MOST)
            first = first and n == 0 and status == NEED  # still before the first record
            if n:
                yield buf, np.frombuffer(ints, np.int64).reshape(-1, 4), names
            if status == BAIL:
                raise _Bail
            if status == END:
                self._end = base + pos
                return
            if status == NEED:  # a record runs past the text read: read on (more for a large one)
                more = f.read(max(CHUNK, len(buf) - pos))
                final = not more
                base, buf, pos = base + pos, buf[pos:] + more, 0


def scan(path: Path, found: Layout, max_segments: int) -> RecordScan | None:
    """The records of ``path`` (its layout ``found``: a dataset's ``annotations`` or a bare
    list) by the scan, or None when the parser must read them."""
    if kernels.IMPLEMENTATION != "C":
        return None
    if found.kind == "object":
        start = found.starts.get("annotations", -1) if found.keys.get("annotations") == b"[" else -1
    else:
        start = 0 if found.kind == "array" else -1
    if start < 0:
        return None
    f = open_file(path)
    try:
        with parsing(path):  # a read error as the parser's reader words it
            jsonguard.check_file(f, path)
            if layout(path) is not found:  # another version of the file since: the parser reads it
                raise _Bail
            if found.kind == "array":
                head = f.read(jsonguard.CHUNK)
                start = len(head) - len(head.lstrip(_WS))
            return RecordScan(path, f, start, max_segments)
    except _Bail:
        f.close()
        return None
    except BaseException:
        f.close()
        raise
