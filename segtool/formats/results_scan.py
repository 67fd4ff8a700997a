"""A COCO results list read straight into columns by the C scan (``scan_results`` in
segtool/_kernels.c), for :func:`.coco_results.stream_predictions`: no dict per detection.

Parsing the list with ijson and walking one dict per detection was most of reading a
results file (27,343 detections of the benchmark: ~75 ms parsing, ~30 ms per-record Python;
the scan takes ~35 ms). The file is read in chunks (memory does not grow with it), the
scan's columns are checked a batch at a time with whole-array tests, and each image's
:class:`.results_rows.Detections` is made as :func:`.results_rows.group_rows` makes it:
the same ids, columns and packed lines.

Whatever the scan does not read (a record that is not plain, see the C file) or a check
does not pass (an unknown image or category, a value that is not finite, an RLE of another
size, an image whose detections are apart), is read by the JSON parser from that batch's
first record on, through ``slow`` (the reader's ijson path), whose checks and messages then
apply; from the file's start when no image has been handed out yet. So every result, and
every refusal, is the parser's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import numpy as np
import numpy.typing as npt

from .. import kernels, limits
from ..pairing import ImageId
from . import jsonguard
from .coco_tables import JSON
from .common import limit
from .jsonfile import layout, reading
from .results_rows import Detections

MORE, END, NEED, BAIL = 0, 1, 2, 3  # scan_results' status
CHUNK = 1 << 22  # bytes read at a time
MOST = 4096  # records scanned at a time: a batch is at least this many, ending where an image's do
_BLANK = b" \t\r\n"
NO_SEGM = JSON + "null"  # the packed line of a detection without a segmentation (pack(None))

Slow = Callable[[Iterator[Any], int, "bool | None"], Iterator[tuple[ImageId, Detections]]]


def usable(path: Path) -> bool:
    """Whether the scan reads ``path``: the C kernels (the twin is slower than ijson) and a
    UTF-8 file whose top level is a list (a dataset's ``annotations`` go to the parser)."""
    if kernels.IMPLEMENTATION != "C":
        return False
    found = layout(path)
    return found.encoding == "utf-8" and found.checked().kind == "array"


class _Fallback(Exception):
    """The batch from ``row`` (the file's detection number), at byte ``offset``, goes to
    the parser."""

    def __init__(self, row: int, offset: int) -> None:
        self.row, self.offset = row, offset


class _Batch:
    """Scanned records not yet handed out, as columns (pieces joined when checked)."""

    def __init__(self) -> None:
        self.ints: list[npt.NDArray[np.int64]] = []
        self.doubles: list[npt.NDArray[np.float64]] = []
        self.flags: list[npt.NDArray[np.uint8]] = []
        self.counts: list[str | None] = []

    def add(self, ints: bytes, doubles: bytes, flags: bytes, counts: list[str | None], base: int) -> None:
        rows = np.frombuffer(ints, np.int64).reshape(-1, 5).copy()
        rows[:, 4] += base  # offsets in the file
        self.ints.append(rows)
        self.doubles.append(np.frombuffer(doubles, np.float64).reshape(-1, 5))
        self.flags.append(np.frombuffer(flags, np.uint8))
        self.counts += counts

    def __len__(self) -> int:
        return len(self.counts)

    def joined(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
        ints, doubles, flags = np.concatenate(self.ints), np.concatenate(self.doubles), np.concatenate(self.flags)
        self.ints, self.doubles, self.flags = [ints], [doubles], [flags]
        return ints, doubles, flags

    def keep(self, cut: int) -> None:
        """Drop the first ``cut`` records (handed out)."""
        self.ints, self.doubles, self.flags = [self.ints[0][cut:]], [self.doubles[0][cut:]], [self.flags[0][cut:]]
        del self.counts[:cut]


class _Reader:
    """The scan over one open file, and the checks of its batches (see the module doc)."""

    def __init__(self, images: dict[ImageId, Any], known: set[int], iou_type: str, where: str) -> None:
        self.images, self.iou_type, self.where = images, iou_type, where
        self.known = np.fromiter((c for c in known if type(c) is int and -(2**63) <= c < 2**63), np.int64)
        self.by_box: bool | None = None
        self.row = 0  # the file's detection number of the batch's first record
        self.batch = _Batch()

    def records(self, f: BinaryIO) -> Iterator[tuple[ImageId, Detections]]:
        buf = f.read(CHUNK)
        start = len(buf) - len(buf.lstrip(_BLANK))
        if buf[start : start + 1] != b"[":
            raise _Fallback(0, 0)
        pos, base, first, final = start + 1, 0, True, False
        while True:
            status, pos, n, ints, doubles, flags, counts = kernels.scan_results(buf, pos, first, final, MOST)
            if n:
                first = False
                self.batch.add(ints, doubles, flags, counts, base)
            if status == BAIL or (status == END and not _blank_to_end(buf[pos:], f)):
                raise self._fallback(base + pos)
            if status == END or len(self.batch) >= MOST:
                yield from self._hand_out(status == END)
            if status == END:
                return
            if status == NEED:
                more = f.read(CHUNK)
                final = not more
                buf, base, pos = buf[pos:] + more, base + pos, 0

    def _fallback(self, offset: int = -1) -> _Fallback:
        """The parser reads from the batch's first record (at ``offset`` when the batch
        holds none)."""
        if len(self.batch):
            offset = int(self.batch.joined()[0][0, 4])
        return _Fallback(self.row, offset)

    def _hand_out(self, last: bool) -> Iterator[tuple[ImageId, Detections]]:
        """The batch's images, checked: all of them when ``last``, else all but the last
        (whose detections may go on)."""
        if not len(self.batch):
            return
        ints, doubles, flags = self.batch.joined()
        iid = ints[:, 0]
        starts = np.flatnonzero(np.concatenate([[True], iid[1:] != iid[:-1]]))
        cut = len(iid) if last else int(starts[-1])
        if cut == 0:
            return  # one image so far: read on
        starts = starts[starts < cut]
        ends = np.append(starts[1:], cut)
        made = self._images(ints[:cut], doubles[:cut], flags[:cut], starts, ends)
        self.batch.keep(cut)
        self.row += cut
        most = limit("segments")
        for image, det in made:
            if len(det.ids) > most:
                limits.check("segments", len(det.ids), f"image {image}: detections", Path(self.where))
        yield from made

    def _images(
        self,
        ints: npt.NDArray[np.int64],
        doubles: npt.NDArray[np.float64],
        flags: npt.NDArray[np.uint8],
        starts: npt.NDArray[np.intp],
        ends: npt.NDArray[np.intp],
    ) -> list[tuple[ImageId, Detections]]:
        """Each image's Detections, or :class:`_Fallback` when a record is not plainly valid."""
        ids = ints[starts, 0].tolist()
        infos: list[Any] = [self.images.get(i) for i in ids]
        if len(set(ids)) != len(ids) or any(im is None for im in infos):
            raise self._fallback()  # an image apart, or one the ground truth lacks
        if self.by_box is None:
            self.by_box = bool(flags[0] & 1)  # the file's first detection decides
        by_box = self.by_box
        boxed, segm = (flags & 1).astype(bool), (flags & 2).astype(bool)
        score, boxes = doubles[:, 0], doubles[:, 1:]
        lengths = ends - starts
        h = np.repeat(np.array([im.height for im in infos], np.int64), lengths)
        w = np.repeat(np.array([im.width for im in infos], np.int64), lengths)
        ok = (
            np.isin(ints[:, 1], self.known).all()
            and np.isfinite(score).all()
            and np.isfinite(boxes[boxed]).all()
            and (boxed.all() if by_box else segm.all())
            and (ints[segm, 2] == h[segm]).all()
            and (ints[segm, 3] == w[segm]).all()
        )
        if not ok:
            raise self._fallback()
        lines = self.batch.counts
        if not segm.all():
            lines = [NO_SEGM if c is None else c for c in lines]
        n = len(ints)
        det_ids = np.arange(self.row + 1, self.row + n + 1, dtype=np.int64)
        category = ints[:, 1].copy()
        score = score.copy()
        box_col = boxes.copy() if by_box or boxed.any() else None
        out = []
        for iid, lo, hi in zip(ids, starts.tolist(), ends.tolist(), strict=True):
            mine = None if by_box or box_col is None else boxed[lo:hi]
            some = mine is None or bool(mine.any())
            det = Detections(
                det_ids[lo:hi],
                category[lo:hi],
                score[lo:hi],
                box_col[lo:hi] if box_col is not None and some else None,
                mine if some else None,
                "\n".join(lines[lo:hi]),  # type: ignore[arg-type]  # no None left
                by_box,
                self.iou_type,
                self.where,
            )
            out.append((iid, det))
        return out


def _blank_to_end(rest: bytes, f: BinaryIO) -> bool:
    """Whether only blanks follow the list's ``]`` (``rest`` of the chunk, then the file)."""
    while True:
        if rest.strip(_BLANK):
            return False
        rest = f.read(CHUNK)
        if not rest:
            return True


def sources(
    path: Path, images: dict[ImageId, Any], known: set[int], iou_type: str, where: str, slow: Slow
) -> Iterator[tuple[ImageId, Detections]]:
    """Each image's detections, in file order, as ``slow`` (the parser's path: records,
    the file's detection number of the first, the first detection's ``bbox`` decision or
    None) would give them."""
    reader = _Reader(images, known, iou_type, where)
    handed = False
    with reading(path) as f:  # one open, the parser's too (its errors as the parser's reader words them)
        jsonguard.check_file(f, path)
        f.seek(0)
        try:
            for item in reader.records(f):
                handed = True
                yield item
            return
        except _Fallback as stop:
            row, offset = stop.row, stop.offset
        if not handed:  # from the start, as if the scan had not been
            f.seek(0)
            yield from slow(ijson.items(f, "item", use_float=True), 0, None)
        else:  # the rest of the list: `[` + the text from the batch's first record
            f.seek(offset)
            yield from slow(ijson.items(_Prefixed(f), "item", use_float=True), row, reader.by_box)


class _Prefixed:
    """A file read from where it stands, ``[`` first."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.head = f, b"["

    def read(self, n: int = -1) -> bytes:
        if self.head and n != 0:
            head, self.head = self.head, b""
            return head + self.f.read(max(n - 1, 0) if n >= 0 else -1)
        return self.f.read(n)
