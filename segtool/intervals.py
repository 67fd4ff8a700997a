"""Masks as foreground intervals, and mask IoU from them, equal to pycocotools' ``iou``.

The counts of a compressed RLE are alternating background/foreground run lengths in
column-major order, so a mask is a sorted list of disjoint ``[start, end)`` intervals.
Decoding them is what the safety check of every RLE does anyway (pycocotools' ``iou`` loops
forever on counts that do not fill the image); keeping the intervals makes IoU a matter of
``searchsorted``: each ground-truth mask's coverage function, evaluated at the ends of every
detection's intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .masks import checked_counts


@dataclass(frozen=True)
class Intervals:
    """Foreground intervals of ``n`` masks of one image size, sorted by (mask, start)."""

    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    owner: npt.NDArray[np.int64]
    n: int
    pixels: int  # height × width

    def areas(self) -> npt.NDArray[np.int64]:
        """Foreground pixels of each mask."""
        return np.bincount(self.owner, weights=self.ends - self.starts, minlength=self.n).astype(np.int64)


def decode(rles: list[dict[str, Any]]) -> tuple[npt.NDArray[np.bool_], Intervals]:
    """Which RLEs are bad (see :func:`segtool.masks.checked_counts`), and the intervals of
    the good ones (a bad RLE has none)."""
    counts, offsets, bad = checked_counts(rles)
    n = len(rles)
    pixels = int(rles[0]["size"][0] * rles[0]["size"][1]) if n else 0
    per = np.diff(offsets)
    first = offsets[:-1]
    rle_of = np.repeat(np.arange(n), per)
    running = np.cumsum(counts)
    ends = running - np.repeat(np.concatenate([[0], running])[first], per)  # positions within each mask
    local = np.arange(len(counts)) - np.repeat(first, per)
    fg = (local % 2 == 1) & (counts > 0) & ~bad[rle_of]
    return bad, Intervals(ends[fg] - counts[fg], ends[fg], rle_of[fg], n, pixels)


def iou(dt: Intervals, gt: Intervals, crowd: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """``(D, G)`` IoU of every detection with every ground truth, as pycocotools computes it:
    intersection / union as doubles; for a crowd ground truth, intersection / detection area;
    0 where nothing is shared."""
    d, g = dt.n, gt.n
    out = np.zeros((d, g))
    if d == 0 or g == 0 or len(dt.starts) == 0 or len(gt.starts) == 0:
        return out
    block = np.int64(max(dt.pixels, gt.pixels) + 1)  # each ground truth on its own stretch of a line
    gs, ge = gt.starts + gt.owner * block, gt.ends + gt.owner * block
    covered = np.concatenate([[0], np.cumsum(ge - gs)])
    shift = np.arange(g, dtype=np.int64) * block

    def coverage(x: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        k = np.searchsorted(ge, x, side="right")  # intervals wholly before x
        part = np.maximum(x - gs[np.minimum(k, len(gs) - 1)], 0)
        return covered[k] + np.where(k < len(gs), part, 0)

    a = (dt.starts[:, None] + shift[None, :]).ravel()
    b = (dt.ends[:, None] + shift[None, :]).ravel()
    per_interval = (coverage(b) - coverage(a)).reshape(len(dt.starts), g)
    inter = np.zeros((d, g), np.int64)
    heads = np.flatnonzero(np.concatenate([[True], dt.owner[1:] != dt.owner[:-1]]))
    inter[dt.owner[heads]] = np.add.reduceat(per_interval, heads, axis=0)  # owners are sorted
    area_d, area_g = dt.areas(), gt.areas()
    union = np.where(crowd[None, :], area_d[:, None], area_d[:, None] + area_g[None, :] - inter)
    shared = inter > 0
    out[shared] = inter[shared] / union[shared]
    return out
