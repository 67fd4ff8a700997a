"""A COCO instance file's ``annotations`` read straight into :class:`.coco_tables.InstanceRows`
by the C scan (``scan_annotations`` in segtool/_kernels.c): no dict per annotation.

Parsing the list with ijson and walking a dict per annotation was most of reading a ground
truth (5,000 images, 132,000 annotations: ~0.37 s parsing, ~0.2 s per-record Python, of
~2.6 s CPU for mask AP). The scan reads the file in chunks from where the list starts (memory
does not grow with it); its columns are checked a batch at a time with whole-array tests and
added to the rows a run of one image at a time, the same values, lines and runs that
:meth:`.coco_tables.InstanceRows.add_all` gives the plain annotations it reads one by one.

When a record is not plain (see the C file), the rest of the file does not parse, or a check does not pass (an image or category
the file does not list, a value that is not finite, an RLE of another size than its image's),
nothing read is kept: the caller reads the whole list with the JSON parser, whose checks and
messages then apply. So every result, and every refusal, is the parser's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .. import kernels
from .coco_tables import JSON, InstanceRows, pack
from .jsonfile import Layout, layout, reading
from .jsonstream import parses_outside

MORE, END, NEED, BAIL = 0, 1, 2, 3  # scan_annotations' status
CHUNK = 1 << 22  # bytes read at a time
MOST = 8192  # records scanned at a time
NO_SEGM = JSON + "[]"  # the line of an annotation without a segmentation (pack([]))


class _Bail(Exception):
    """The scan cannot read the list: the parser reads it."""


def scanned(path: Path, found: Layout, rows: InstanceRows) -> bool:
    """Add every annotation of ``path`` (its layout ``found``) to ``rows`` (fresh) by the scan;
    False when the scan cannot, and then ``rows`` must be dropped for a fresh one."""
    start = found.starts.get("annotations", -1)
    if kernels.IMPLEMENTATION != "C" or found.keys.get("annotations") != b"[" or start < 0:
        return False
    try:
        with reading(path) as f:
            if layout(path) is not found:  # another version of the file since: the parser reads it
                return False
            f.seek(start + 1)
            end = start + 1 + _scan(f.read, rows)
            return parses_outside(f, start, end)  # else the parser refuses the file
    except _Bail:
        return False


def _scan(read: Callable[[int], bytes], rows: InstanceRows) -> int:
    """Scan the list from past its '[' into ``rows``; how many bytes it took."""
    buf = read(CHUNK)
    pos, first, final, batches, base = 0, True, False, _Batches(rows), 0
    while True:
        status, pos, n, ints, doubles, flags, lines = kernels.scan_annotations(buf, pos, first, final, MOST)
        first = False
        if n:
            batches.add(ints, doubles, flags, lines)
        if status == BAIL:
            raise _Bail
        if status == END:
            batches.end()
            return base + pos
        if status == NEED:
            more = read(CHUNK)
            final = not more
            base, buf, pos = base + pos, buf[pos:] + more, 0


class _Batches:
    """Scanned records checked and added to ``rows``, a batch at a time."""

    def __init__(self, rows: InstanceRows) -> None:
        self.rows = rows
        self.known = np.fromiter((c for c in rows.known if type(c) is int and -(2**63) <= c < 2**63), np.int64)
        self.heights = np.array([im.height for im in rows.images], np.int64)
        self.widths = np.array([im.width for im in rows.images], np.int64)
        self.run_id: int | None = None  # the image of the run going on at the end of the last batch
        self.run_pos = -1
        self.total = 0

    def add(self, ints: bytes, doubles: bytes, flags: bytes, lines: list[str | None]) -> None:
        cols = np.frombuffer(ints, np.int64).reshape(-1, 7)
        nums = np.frombuffer(doubles, np.float64).reshape(-1, 5)
        kinds = np.frombuffer(flags, np.uint8)
        iid = cols[:, 1]
        heads = np.flatnonzero(np.concatenate([[True], iid[1:] != iid[:-1]]))
        positions = self.rows.positions
        pos_of = [positions.get(i) for i in iid[heads].tolist()]
        if any(p is None for p in pos_of) or not np.isin(cols[:, 2], self.known).all():
            raise _Bail  # an image or a category the file does not list: the parser says so
        if not np.isfinite(nums).all():
            raise _Bail  # an area or box the parser's checks refuse
        pos = np.repeat(np.array(pos_of, np.intp), np.diff(np.append(heads, len(iid))))
        rle = kinds == 1
        h, w = self.heights[pos], self.widths[pos]
        if not ((cols[rle, 4] == h[rle]).all() and (cols[rle, 5] == w[rle]).all()):
            raise _Bail  # an RLE of another size: packed as its JSON by the parser's reader
        if not rle.all():
            lines = _lines(lines, kinds, h, w)
        self._columns(cols, nums)
        self._runs(heads.tolist(), pos_of, lines)

    def _columns(self, cols: npt.NDArray[np.int64], nums: npt.NDArray[np.float64]) -> None:
        rows = self.rows
        rows.ids.frombytes(np.ascontiguousarray(cols[:, 0]).tobytes())
        rows.category.frombytes(np.ascontiguousarray(cols[:, 2]).tobytes())
        rows.area.frombytes(np.ascontiguousarray(nums[:, 0]).tobytes())
        rows.bbox.frombytes(np.ascontiguousarray(nums[:, 1:]).tobytes())
        rows.crowd.extend((cols[:, 3] != 0).astype(np.uint8).tobytes())

    def _runs(self, heads: list[int], pos_of: list[int | None], lines: list[str | None]) -> None:
        """Each run of one image's rows noted as add_all notes it (a run may go on from the
        last batch), their lines added to it."""
        runs, base = self.rows.runs, self.total
        ends = [*heads[1:], len(lines)]
        for lo, hi, p in zip(heads, ends, pos_of, strict=True):
            if p != self.run_pos:
                runs.at(p, base + lo)  # type: ignore[arg-type]  # checked: no None
                self.run_pos = p  # type: ignore[assignment]
            runs.lines.extend(lines[lo:hi])  # type: ignore[arg-type]  # no None left
        self.total += len(lines)

    def end(self) -> None:
        self.rows.runs.end(self.total)


def _lines(
    lines: list[str | None], kinds: npt.NDArray[np.uint8], h: npt.NDArray[np.int64], w: npt.NDArray[np.int64]
) -> list[str | None]:
    """The packed line of each record: an RLE's counts as they are, another segmentation
    packed from its parsed JSON (as the parser's reader packs it), none as ``[]``."""
    out = list(lines)
    for k in np.flatnonzero(kinds != 1).tolist():
        text = lines[k]
        out[k] = NO_SEGM if text is None else pack(json.loads(text), int(h[k]), int(w[k]))
    return out
