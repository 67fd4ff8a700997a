"""Which instance owns each pixel, from compressed RLEs, without an ``(H, W, n)`` stack.

:func:`segtool.views.resolve` decodes every mask of an image into one ``(H, W, n)`` array:
fast for the usual tens of instances, but 10,000 instances of a 300x300 image ask for 900
MB and 10^5 of a megapixel image for 100 GB. Here each RLE is read as its runs of pixels
(column-major, as COCO counts them); the run boundaries of all instances cut the image
into elementary stretches, each covered by the same instances throughout, and each
stretch goes to the instance of highest priority covering it. The work is linear in the
runs and the pixels; the owners are the ones the stack gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .masks import RLE

MAX_CHARS = 7  # characters of one value in a valid COCO RLE string (a count < 2^32 needs 7)


def counts(rle: RLE) -> npt.NDArray[np.int64] | None:
    """The counts of a compressed RLE (COCO's ``rleFrString``: 5-bit groups, a sign bit, and
    each count after the third a difference to the one two before), or None when the
    string is not a valid RLE of its size (callers then go the checked way)."""
    text = rle["counts"]
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    c = np.frombuffer(raw, np.uint8).astype(np.int64) - 48
    if not c.size:
        return None
    last = np.flatnonzero((c & 0x20) == 0)  # the last character of each value
    if not last.size or last[-1] != c.size - 1 or (c < 0).any() or (c > 63).any():
        return None
    first = np.concatenate([[0], last[:-1] + 1])
    length = last - first + 1
    if length.max() > MAX_CHARS:
        return None
    shift = 5 * (np.arange(c.size) - np.repeat(first, length))
    x = np.add.reduceat((c & 0x1F) << shift, first)
    x = np.where(c[last] & 0x10, x - (1 << (5 * length)), x)  # sign-extend
    out = x.copy()
    out[1::2] = np.cumsum(x[1::2])
    out[2::2] = np.cumsum(x[2::2])
    h, w = rle["size"]
    if (out < 0).any() or int(out.sum()) != h * w:
        return None
    return out


@dataclass(frozen=True)
class Runs:
    """The pixel runs of many instances, in column-major flat positions ``[start, end)``."""

    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    owner: npt.NDArray[np.int64]  # instance of each run
    area: npt.NDArray[np.int64]  # pixels of each instance

    @classmethod
    def of(cls, rles: tuple[RLE, ...] | list[RLE]) -> Runs | None:
        """Runs of compressed RLEs of one image, or None if one does not decode."""
        starts, ends, owners, areas = [], [], [], []
        for i, rle in enumerate(rles):
            cnt = counts(rle)
            if cnt is None:
                return None
            edge = np.cumsum(cnt)
            s, e = edge[0::2][: len(edge) // 2], edge[1::2]
            keep = e > s
            starts.append(s[keep])
            ends.append(e[keep])
            owners.append(np.full(int(keep.sum()), i, np.int64))
            areas.append(int((e - s).sum()))
        empty = np.zeros(0, np.int64)
        return cls(
            np.concatenate([empty, *starts]),
            np.concatenate([empty, *ends]),
            np.concatenate([empty, *owners]),
            np.array(areas, np.int64),
        )


@dataclass(frozen=True)
class Cover:
    """Elementary stretches ``[cuts[k], cuts[k + 1])`` and the runs covering each."""

    cuts: npt.NDArray[np.int64]
    first: npt.NDArray[np.int64]  # the first stretch of each run
    stop: npt.NDArray[np.int64]  # one past its last stretch
    depth: npt.NDArray[np.int64]  # how many runs cover each stretch

    @classmethod
    def of(cls, runs: Runs, pixels: int) -> Cover:
        """Cut the image at every run boundary."""
        cuts = np.unique(np.concatenate([runs.start, runs.end, [0, pixels]]))
        first = np.searchsorted(cuts, runs.start)
        stop = np.searchsorted(cuts, runs.end)
        step = np.zeros(cuts.size, np.int64)
        np.add.at(step, first, 1)
        np.add.at(step, stop, -1)
        return cls(cuts, first, stop, np.cumsum(step)[:-1])


def owners(runs: Runs, cover: Cover, rank: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The instance owning each stretch (-1: none): of those covering it, the one of lowest
    ``rank`` (rank 0 wins). Expanded in one piece when instances overlap little; otherwise
    each run, best first, takes the stretches still free, found past the ones taken."""
    n_stretch = cover.depth.size
    width = cover.stop - cover.first
    best = np.full(n_stretch, np.iinfo(np.int64).max, np.int64)
    run_rank = rank[runs.owner]
    if int(width.sum()) <= 4 * (n_stretch + width.size) + (1 << 20):
        stretch = np.repeat(cover.stop - width.cumsum(), width) + np.arange(int(width.sum()))
        np.minimum.at(best, stretch, np.repeat(run_rank, width))
    else:  # heavy overlap: each stretch is taken once
        free = list(range(n_stretch + 1))  # free[k]: a stretch >= k not yet taken, path-compressed

        def find(k: int) -> int:
            root = k
            while free[root] != root:
                root = free[root]
            while free[k] != root:
                free[k], k = root, free[k]
            return root

        for r in np.argsort(run_rank, kind="stable").tolist():
            k, stop, value = find(int(cover.first[r])), int(cover.stop[r]), int(run_rank[r])
            while k < stop:
                best[k] = value
                free[k] = k + 1
                k = find(k + 1)
    order = np.argsort(rank, kind="stable")  # rank -> instance
    taken = best < rank.size
    out = np.full(n_stretch, -1, np.int64)
    out[taken] = order[best[taken]]
    return out


def index_map(cover: Cover, owner: npt.NDArray[np.int64], height: int, width: int) -> npt.NDArray[np.int32]:
    """The ``(H, W)`` index map (instance ``i`` → ``i + 1``, 0 void), a transposed view."""
    flat = np.repeat((owner + 1).astype(np.int32), np.diff(cover.cuts))
    return flat.reshape(width, height).T


def overlapping_pairs(runs: Runs, cover: Cover, limit: int = 1 << 22) -> list[tuple[int, int, int]]:
    """(i, j, pixels shared) of instances that share pixels, i < j, sorted, for an error
    message: exact while the runs cover at most ``limit`` stretches in all (past that, the
    pairs met in the first contested stretches)."""
    lengths = np.diff(cover.cuts)
    width = cover.stop - cover.first
    if int(width.sum()) <= limit:
        stretch = np.repeat(cover.stop - width.cumsum(), width) + np.arange(int(width.sum()))
        owner = np.repeat(runs.owner, width)
        hot = cover.depth[stretch] > 1
        stretch, owner = stretch[hot], owner[hot]
    else:  # instances piled deep: the first 64 contested stretches tell enough
        hot_stretches = np.flatnonzero(cover.depth > 1)[:64]
        found = [(k, np.flatnonzero((cover.first <= k) & (cover.stop > k))) for k in hot_stretches.tolist()]
        stretch = np.concatenate([np.full(len(r), k, np.int64) for k, r in found])
        owner = np.concatenate([runs.owner[r] for _, r in found])
    order = np.lexsort((owner, stretch))
    stretch, owner = stretch[order], owner[order]
    bounds = np.flatnonzero(np.diff(stretch)) + 1
    shared: dict[tuple[int, int], int] = {}
    for k, who in zip(stretch[np.concatenate([[0], bounds])].tolist(), np.split(owner, bounds), strict=True):
        ids = np.unique(who).tolist()
        for x, a in enumerate(ids):
            for b in ids[x + 1 :]:
                shared[(a, b)] = shared.get((a, b), 0) + int(lengths[k])
    return [(a, b, px) for (a, b), px in sorted(shared.items())]
