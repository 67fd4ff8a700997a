"""Pixel arithmetic: RGB⇄id, dense index maps, area/bbox by bincount, run tables, RLE strings.

Everything here is whole-array numpy; nothing loops over pixels in Python. What goes through
pycocotools (polygons, RLE decoding, IoU) lives in :mod:`segtool.cocomask`, behind its
guards, and is re-exported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

# The pycocotools side, guarded (segtool.cocomask), where callers have always found it.
from .cocomask import RLE as RLE
from .cocomask import MalformedRLE as MalformedRLE
from .cocomask import bad_compressed as bad_compressed
from .cocomask import check_compressed as check_compressed
from .cocomask import check_size as check_size
from .cocomask import decode as decode
from .cocomask import encode_empty as encode_empty
from .cocomask import guarded_areas as guarded_areas
from .cocomask import iou as iou
from .cocomask import rle_areas as rle_areas
from .cocomask import rle_boxes as rle_boxes
from .cocomask import to_compressed as to_compressed
from .cocomask import to_pyco as to_pyco
from .cocopoly import POLYGON_MAX_COORD as POLYGON_MAX_COORD
from .cocopoly import polygon_problem as polygon_problem
from .cocopoly import polygons as polygons
from .cocopoly import rasterize as rasterize

# label values below this are counted by bincount (a table of 512 kB at most); larger ones by search
DENSE_VALUES = 1 << 16


def rgb2id(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.int32]:
    """``(H, W, 3)`` uint8 → ``(H, W)`` int32 ids, id = R + 256·G + 256²·B (COCO panoptic)."""
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    return r | (g << 8) | (b << 16)


def id2rgb(ids: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.uint8]:
    """``(H, W)`` ids < 2**24 → ``(H, W, 3)`` uint8 RGB, the inverse of :func:`rgb2id`."""
    as_u4 = np.ascontiguousarray(ids, dtype="<u4")
    return np.ascontiguousarray(as_u4.view(np.uint8).reshape(*ids.shape, 4)[..., :3])


def areas(index: npt.NDArray[np.int32], n: int) -> npt.NDArray[np.int64]:
    """Pixel count of segments 1..n of an index map (length ``n``)."""
    return np.bincount(index.ravel(), minlength=n + 1)[1 : n + 1].astype(np.int64)


class Runs:
    """Runs of equal values of an index map, grouped by segment: one pass gives every
    segment's area, COCO box and RLE, and two run tables give an overlap table.

    ``order`` is ``"F"`` (column-major, what COCO RLE counts need) or ``"C"`` (row-major,
    no transposed copy: what loading a PNG uses). Runs are also cut at the end of each
    column (row) so each lies in one line, for boxes; RLE counts rejoin them, so the RLEs
    equal pycocotools' ``encode`` byte for byte.
    """

    def __init__(self, index: npt.NDArray[np.int32], n: int, order: str = "F") -> None:
        self._setup(*_line_runs(index, order), n, index.shape, order)

    @classmethod
    def of_ids(
        cls, ids: npt.NDArray[np.integer[Any]], segment_ids: npt.NDArray[np.int64]
    ) -> tuple[Runs, npt.NDArray[np.int64]]:
        """Runs of a raw panoptic id map, with runs mapped to segment ``k`` (``segment_ids[k-1]``).

        Ids are looked up per run, not per pixel, so a 640×480 map costs a few thousand
        look-ups. Also returns the raw ids present but not in ``segment_ids`` (0 excluded).
        """
        raw, starts, ends = _line_runs(ids, "C")
        raw &= 0xFFFFFF  # ids are 24-bit; decoders may leave an alpha byte above them
        order = np.argsort(segment_ids, kind="stable")
        ordered = segment_ids[order]
        pos = np.minimum(np.searchsorted(ordered, raw), max(len(ordered) - 1, 0))
        found = ordered[pos] == raw if len(ordered) else np.zeros(len(raw), bool)
        dense = np.where(found, order[pos] + 1, 0) if len(ordered) else np.zeros(len(raw), np.int64)
        unknown = np.unique(raw[~found & (raw != 0)]).astype(np.int64)
        runs = cls.__new__(cls)
        runs._setup(dense, starts, ends, len(segment_ids), ids.shape, "C")
        return runs, unknown

    def _setup(
        self,
        values: npt.NDArray[Any],
        starts: npt.NDArray[np.int64],
        ends: npt.NDArray[np.int64],
        n: int,
        shape: tuple[int, ...],
        order: str,
    ) -> None:
        self.shape, self.n, self.order = (int(shape[0]), int(shape[1])), n, order
        self._positional = (values, ends - starts)
        by_value = np.argsort(values, kind="stable")
        self.values, self.starts, self.ends = values[by_value], starts[by_value], ends[by_value]
        self.group = np.searchsorted(self.values, np.arange(1, n + 2))

    def positional(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Segment index and start of each run, in position (column-major) order."""
        values, lengths = self._positional
        return values, np.concatenate([[0], np.cumsum(lengths)[:-1]])

    def overlap(self, other: Runs) -> npt.NDArray[np.int64]:
        """``(n + 1, m + 1)`` pixel counts of (this segment, other segment) pairs; row and
        column 0 are void. Built by merging the two run lists, never touching pixels."""
        if other.order != self.order:
            other = Runs(other.index_map(), other.n, self.order)
        a_val, a_start = self.positional()
        b_val, b_start = other.positional()
        cuts = np.concatenate([a_start, b_start])
        cuts.sort(kind="stable")  # two sorted runs: a merge, not a hash-based np.unique
        cuts = cuts[np.concatenate([[True], cuts[1:] != cuts[:-1]])]
        lengths = np.diff(np.concatenate([cuts, [self.shape[0] * self.shape[1]]]))
        ia = np.searchsorted(a_start, cuts, side="right") - 1
        ib = np.searchsorted(b_start, cuts, side="right") - 1
        width = other.n + 1
        keys = a_val[ia] * width + b_val[ib]
        table = np.bincount(keys, weights=lengths, minlength=(self.n + 1) * width)
        return table.astype(np.int64).reshape(self.n + 1, width)

    def index_map(self) -> npt.NDArray[np.int32]:
        """The ``(H, W)`` int32 index map these runs describe (a transposed view)."""
        return self.paint(np.arange(self.n + 1, dtype=np.int32))

    def paint(self, lut: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """``lut[index_map]`` without touching each pixel twice: one value per run, repeated.

        ``lut`` has ``n + 1`` entries (entry 0 for void). Returns a transposed ``(H, W)`` view.
        """
        values, lengths = self._positional
        h, w = self.shape
        rest = lut.shape[1:]  # a table of colours paints (H, W, 3) as well
        flat = np.repeat(lut[values], lengths, axis=0)
        if self.order == "C":
            return flat.reshape(h, w, *rest)
        return flat.reshape(w, h, *rest).swapaxes(0, 1)

    def areas(self) -> npt.NDArray[np.int64]:
        """Pixel count per segment."""
        return np.diff(np.concatenate([[0], np.cumsum(self.ends - self.starts)])[self.group])

    def bboxes(self) -> npt.NDArray[np.float64]:
        """COCO ``[x, y, w, h]`` per segment (w = xmax - xmin + 1; zeros if absent)."""
        h, w = self.shape
        line = h if self.order == "F" else w  # pixels per column (F) or per row (C)
        a, b = self.group[:-1], self.group[1:]
        out = np.zeros((self.n, 4))
        present = b > a
        if not present.any():
            return out
        a, b = a[present], b[present]
        # runs lie in one line: the line index is one coordinate, the offset in it the other
        lo = np.minimum.reduceat(self.starts % line, a)
        hi = np.maximum.reduceat((self.ends - 1) % line, a)
        first, last = self.starts[a] // line, self.starts[b - 1] // line
        if self.order == "F":
            x0, x1, y0, y1 = first, last, lo, hi
        else:
            x0, x1, y0, y1 = lo, hi, first, last
        out[present] = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1)
        return out

    def all_counts(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Uncompressed COCO RLE counts of every segment, concatenated, and each segment's
        offset into them (length ``n + 1``)."""
        total = self.shape[0] * self.shape[1]
        seg_runs = slice(self.group[0], self.group[-1])  # void (0) runs sort first: skip them
        s, e, v = self.starts[seg_runs], self.ends[seg_runs], self.values[seg_runs]
        joined = (s[1:] == e[:-1]) & (v[1:] == v[:-1])  # a run cut at a column end, rejoined
        first = np.ones(len(s), dtype=bool)
        first[1:] = ~joined
        last = np.ones(len(s), dtype=bool)
        last[:-1] = ~joined
        starts, ends, seg = s[first], e[last], v[first] - 1
        r = np.bincount(seg, minlength=self.n)  # merged runs per segment
        # per segment: [s0, e0-s0, s1-e0, …, e_last-s_last, total-e_last]; 1 + 2r values
        offsets = np.concatenate([[0], np.cumsum(1 + 2 * r)])
        counts = np.empty(offsets[-1], dtype=np.int64)
        edges = np.stack([starts, ends], axis=1).ravel()
        prev = np.concatenate([[0], edges[:-1]])
        begins = np.concatenate([[0], np.cumsum(2 * r)[:-1]])  # first edge of each segment
        prev[begins[r > 0]] = 0
        pos = np.repeat(offsets[:-1], 2 * r) + (np.arange(len(edges)) - np.repeat(begins, 2 * r))
        counts[pos] = edges - prev
        last_end = np.zeros(self.n, dtype=np.int64)
        last_end[r > 0] = ends[np.cumsum(r)[r > 0] - 1]
        counts[offsets[1:] - 1] = total - last_end
        # pycocotools drops a final zero run (a mask that reaches the last pixel)
        keep = np.ones(len(counts), dtype=bool)
        keep[offsets[1:] - 1] = counts[offsets[1:] - 1] > 0
        new_offsets = np.concatenate([[0], np.cumsum(np.add.reduceat(keep, offsets[:-1]) if self.n else [])])
        return counts[keep], new_offsets.astype(np.int64)

    def rles(self) -> list[RLE]:
        """Compressed RLEs (counts as ``str``) of every segment, byte-identical to
        ``pycocotools.mask.encode``, built for all segments at once."""
        if self.n == 0:
            return []
        if self.order != "F":  # COCO counts are column-major
            return Runs(self.index_map(), self.n, "F").rles()
        counts, offsets = self.all_counts()
        text, bounds = compress_counts(counts, offsets)
        size = list(self.shape)
        return [{"size": size, "counts": text[bounds[k] : bounds[k + 1]]} for k in range(self.n)]


def compress_counts(counts: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64]) -> tuple[str, list[int]]:
    """pycocotools' ``rleToString`` for many RLEs at once, vectorised.

    Each count (minus the count two before it, from the third of its RLE on) is written as
    little-endian 5-bit groups, bit 0x20 marking that another group follows, plus 48.
    ``offsets`` delimit the RLEs in ``counts``; returns the concatenated text and the
    character offset of each RLE in it.
    """
    local = np.arange(len(counts)) - np.repeat(offsets[:-1], np.diff(offsets))
    x = counts.copy()
    delta = local > 2
    x[delta] -= counts[np.flatnonzero(delta) - 2]
    chars = np.zeros((len(x), 7), dtype=np.uint8)  # 7 groups of 5 bits hold any int32 count
    length = np.zeros(len(x), dtype=np.int64)
    active = np.ones(len(x), dtype=bool)
    for j in range(7):
        c = x & 0x1F
        x = x >> 5
        more = np.where(c & 0x10, x != -1, x != 0) & active
        chars[:, j] = (c | np.where(more, 0x20, 0)) + 48
        length += active
        active = more
    text = chars[np.arange(7)[None, :] < length[:, None]].tobytes().decode("ascii")
    return text, np.concatenate([[0], np.cumsum(length)])[offsets].tolist()


def _line_runs(
    image: npt.NDArray[Any], order: str
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Maximal runs of equal values in column-major (``F``) or row-major (``C``) order, also
    cut at each line end: (value, start, end) of each run, in position order."""
    line = image.shape[0] if order == "F" else image.shape[1]
    flat = image.T.ravel() if order == "F" else image.ravel()
    cut = flat[1:] != flat[:-1]
    cut[line - 1 :: line] = True
    starts = np.concatenate([[0], np.flatnonzero(cut) + 1])
    ends = np.concatenate([starts[1:], [flat.size]])
    return flat[starts].astype(np.int64), starts, ends
