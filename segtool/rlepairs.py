"""Which masks of one image share pixels, and how many, without an n x n IoU matrix.

``validate`` computed the IoU of every pair of an image's instances (20,000 instances:
14.9 s; 10^5: an 80 GB matrix), and ``preview --pred`` every (prediction, ground truth)
pair. Here all masks are decoded at once into their runs of pixels (column-major flat
positions, :func:`decode`); sorted by start, the runs that begin inside a run are the next
ones in that order, so the pairs of runs that meet come from one ``searchsorted`` and are
expanded in blocks. Their lengths, summed per pair of masks, are the pixels shared: exact,
in time linear in the runs and in the pairs of runs that meet (:func:`shared_pixels`
within one list, :func:`shared_across` between two).

Two bounds keep one image's work and findings in proportion to what it may list:

- at most ``most`` pairs are kept (the first ones in annotation order; validate passes the
  ``segments`` limit, so the listing grows like the annotations);
- at most :data:`PAIR_WORK` pairs of runs are examined. Past that the masks pile deep
  (10^5 masks of the whole image meet in 5 * 10^9 pairs, which no listing can show): within
  one list the pairs are then counted mask by mask, each against the runs of the later
  ones, until that much work is spent (exact for the masks examined, none for the rest;
  :attr:`Shared.note` says so); across two lists, :func:`shared_across` returns None.

The pixels are the masks' own. pycocotools' ``iou`` stops early on an RLE with a
zero-length run inside (it never writes one; a file's uncompressed counts may), so its
IoU can miss shared pixels: :func:`decode` flags those masks for callers that must give
pycocotools' numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import masks, rleowner
from .masks import RLE

PAIR_WORK = 1 << 24  # pairs of runs (or runs visited, instance by instance) per image: ~2 s
BLOCK = 1 << 20  # pairs of runs expanded at once: ~40 MB of temporaries


@dataclass(frozen=True)
class Shared:
    """Pairs ``(a[k], b[k])`` of instances (``a < b``, in ``(a, b)`` order) sharing
    ``pixels[k] > 0`` pixels, every instance's ``area`` and whether it has a zero-length
    run inside (see :func:`decode`), and what was left out (or None)."""

    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]
    pixels: npt.NDArray[np.int64]
    area: npt.NDArray[np.int64]
    inner_zero: npt.NDArray[np.bool_]
    note: str | None = None


def capped(most: int) -> str:
    """What :attr:`Shared.note` says when more than ``most`` pairs share pixels."""
    return f"more than {most:,} pairs of instances share pixels: the first {most:,} are checked"


def as_pycocotools(
    a: list[RLE],
    b: list[RLE],
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    iou: npt.NDArray[np.float64],
    odd: npt.NDArray[np.bool_],
    crowd: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """``iou`` of pairs ``(a[i[k]], b[j[k]])`` (``i`` sorted), with those where ``odd`` (a
    mask with a zero-length run inside) taken from ``masks.iou``: pycocotools' loop stops
    early on them, and eval and the reference tools see its number, not the pixels'."""
    iou = iou.copy()
    which = np.flatnonzero(odd)
    for ks in np.split(which, np.flatnonzero(np.diff(i[which])) + 1) if which.size else []:
        iou[ks] = masks.iou([a[int(i[ks[0]])]], [b[g] for g in j[ks].tolist()], crowd[ks])[0]
    return iou


def decode(rles: list[RLE]) -> tuple[rleowner.Runs, npt.NDArray[np.bool_]]:
    """The runs of compressed RLEs of one image, already checked by the strict decoder, and
    which have a zero-length run after the first count (pycocotools' ``iou`` stops early on
    them: callers that must give its numbers ask it for those).

    COCO's ``rleFrString`` (as :func:`segtool.rleowner.counts`) on every string in one
    numpy pass: a loop per mask cost 65 µs each, most of validate's time at 20,000 masks.
    Values of 8 characters, which the strict decoder takes (a 7th group of 0 or 1, then a
    '0'), read as pycocotools reads them. Raises ``RuntimeError`` on a string it refused.
    """
    k = len(rles)
    texts = [t.encode("ascii", "replace") if isinstance(t, str) else bytes(t) for t in (r["counts"] for r in rles)]
    total = int(rles[0]["size"][0]) * int(rles[0]["size"][1]) if k else 0
    c = np.frombuffer(b"".join(texts), np.uint8).astype(np.int64) - 48
    ends = np.cumsum([len(t) for t in texts], dtype=np.int64)
    ends_value = (c & 0x20) == 0
    last = np.flatnonzero(ends_value)  # the last character of each value
    if k and (not last.size or c.min() < 0 or c.max() > 63 or not ends_value[ends[ends > 0] - 1].all()):
        raise RuntimeError("an RLE the strict decoder refuses reached rlepairs.decode")
    first = np.concatenate([[0], last[:-1] + 1])
    length = last - first + 1
    shift = 5 * (np.arange(c.size) - np.repeat(first, length))
    x = np.add.reduceat((c & 0x1F) << shift, first) if last.size else np.zeros(0, np.int64)
    x = np.where(c[last] & 0x10, x - (1 << (5 * length)), x)  # sign-extend
    owner = np.searchsorted(ends, last, side="right")  # the RLE of each value
    sizes = np.bincount(owner, minlength=k)
    starts = np.cumsum(sizes) - sizes
    j = np.arange(x.size) - np.repeat(starts, sizes)
    # from the third value on, each is stored relative to the one two before: running sums
    # of the odd values, and of the even ones after the first, within each RLE
    odd, head = (j & 1) == 1, j == 0
    later_odd = _within(np.where(odd, x, 0), starts, sizes)
    later_even = _within(np.where(odd | head, 0, x), starts, sizes)
    counts = np.where(head, x, np.where(odd, later_odd, later_even))
    stop = _within(counts, starts, sizes)  # one past each run, in the flat image
    if k and (not sizes.all() or counts.min() < 0 or (np.add.reduceat(counts, starts) != total).any()):
        raise RuntimeError("an RLE the strict decoder refuses reached rlepairs.decode")
    ones = odd & (counts > 0)
    area = np.bincount(owner[ones], weights=counts[ones], minlength=k).astype(np.int64)
    inner_zero = np.bincount(owner[(j > 0) & (counts == 0)], minlength=k) > 0
    return rleowner.Runs(stop[ones] - counts[ones], stop[ones], owner[ones].astype(np.int64), area), inner_zero


def _within(
    values: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Running sums of ``values`` restarting at each group (``sizes[g]`` values from ``starts[g]``)."""
    run = np.cumsum(values)
    within: npt.NDArray[np.int64] = run - np.repeat(np.concatenate([[0], run])[starts], sizes)
    return within


def shared_pixels(rles: list[RLE], most: int) -> Shared:
    """Instances of ``rles`` (compressed RLEs of one image, already checked decodable) that
    share pixels, with the pixels shared: the first ``most`` pairs (see the module)."""
    runs, inner_zero = decode(rles)
    order = np.argsort(runs.start, kind="stable")
    start, end, owner = runs.start[order], runs.end[order], runs.owner[order]
    first = np.arange(1, start.size + 1)
    later = np.searchsorted(start, end)  # the runs after each, up to here, start inside it
    total = int((later - first).sum())
    if total > PAIR_WORK:
        return _by_instance(runs, inner_zero, most, total)
    n = max(len(rles), 1)
    keys, pixels = np.zeros(0, np.int64), np.zeros(0, np.int64)
    cut = False
    for r, t in _ranges(first, later):
        length = np.minimum(end[r], end[t]) - start[t]
        key = np.minimum(owner[r], owner[t]) * n + np.maximum(owner[r], owner[t])
        keys, pixels = _summed(np.concatenate([keys, key]), np.concatenate([pixels, length]))
        if keys.size > most:  # a pair left out here has `most` smaller ones: never listed
            keys, pixels, cut = keys[:most], pixels[:most], True
    return Shared(keys // n, keys % n, pixels, runs.area, inner_zero, capped(most) if cut else None)


def shared_across(a: list[RLE], b: list[RLE]) -> Across | None:
    """Masks ``a[i]`` and ``b[j]`` of one image (checked decodable) that share pixels, with
    the pixels shared; None when more than :data:`PAIR_WORK` pairs of their runs meet.

    A run of ``a`` meets the runs of ``b`` that start inside it, and those that start
    before it and end past its start: ranges of ``b``'s runs sorted by start (and the other
    way round), so only pairs across the two lists are visited."""
    (ra, zero_a), (rb, zero_b) = decode(a), decode(b)
    oa, ob = np.argsort(ra.start, kind="stable"), np.argsort(rb.start, kind="stable")
    sa, ea, wa = ra.start[oa], ra.end[oa], ra.owner[oa]
    sb, eb, wb = rb.start[ob], rb.end[ob], rb.owner[ob]
    from_a = (np.searchsorted(sb, sa, side="left"), np.searchsorted(sb, ea, side="left"))  # s_a <= s_b < e_a
    from_b = (np.searchsorted(sa, sb, side="right"), np.searchsorted(sa, eb, side="left"))  # s_b < s_a < e_b
    if int((from_a[1] - from_a[0]).sum() + (from_b[1] - from_b[0]).sum()) > PAIR_WORK:
        return None
    n = max(len(b), 1)
    keys, pixels = np.zeros(0, np.int64), np.zeros(0, np.int64)
    for r, t in _ranges(*from_a):
        key, length = wa[r] * n + wb[t], np.minimum(ea[r], eb[t]) - sb[t]
        keys, pixels = _summed(np.concatenate([keys, key]), np.concatenate([pixels, length]))
    for r, t in _ranges(*from_b):
        key, length = wa[t] * n + wb[r], np.minimum(eb[r], ea[t]) - sa[t]
        keys, pixels = _summed(np.concatenate([keys, key]), np.concatenate([pixels, length]))
    return Across(keys // n, keys % n, pixels, ra.area, rb.area, zero_a, zero_b)


@dataclass(frozen=True)
class Across:
    """Pairs ``(i[k], j[k])`` of masks of two lists sharing ``pixels[k] > 0``, in ``(i, j)``
    order; the masks' areas, and which have a zero-length run inside (see :func:`decode`)."""

    i: npt.NDArray[np.int64]
    j: npt.NDArray[np.int64]
    pixels: npt.NDArray[np.int64]
    area_a: npt.NDArray[np.int64]
    area_b: npt.NDArray[np.int64]
    inner_zero_a: npt.NDArray[np.bool_]
    inner_zero_b: npt.NDArray[np.bool_]


def _ranges(lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> Iterator[tuple[npt.NDArray[np.int64], ...]]:
    """Every ``(r, c)`` with ``lo[r] <= c < hi[r]``, in order, in blocks of :data:`BLOCK`."""
    width = np.maximum(hi - lo, 0)
    bounds = np.cumsum(width)
    total = int(bounds[-1]) if bounds.size else 0
    for q0 in range(0, total, BLOCK):
        q = np.arange(q0, min(q0 + BLOCK, total), dtype=np.int64)
        r = np.searchsorted(bounds, q, side="right")
        yield r, lo[r] + q - (bounds[r] - width[r])


def _summed(keys: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Distinct ``keys``, sorted, with the sum of their ``values``."""
    if not keys.size:
        return keys, values
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[first], np.add.reduceat(values, first)


def _by_instance(runs: rleowner.Runs, inner_zero: npt.NDArray[np.bool_], most: int, total: int) -> Shared:
    """Instances piled deep: each instance's shared pixels with every later one, from the
    count of its pixels before each position (one search per later run), in annotation
    order, until :data:`PAIR_WORK` runs are visited or more than ``most`` pairs found."""
    n = runs.area.size
    group = np.searchsorted(runs.owner, np.arange(n + 1))  # decode keeps an instance's runs together, in order
    a, b, pixels = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    work = pairs = 0
    for i in range(n - 1):
        if work > PAIR_WORK or pairs > most:
            break
        lo, hi = int(group[i]), int(group[i + 1])
        work += runs.owner.size - lo
        if lo == hi:
            continue
        mine = _Prefix(runs.start[lo:hi], runs.end[lo:hi])
        shared = mine(runs.end[hi:]) - mine(runs.start[hi:])
        per = np.bincount(runs.owner[hi:] - i - 1, weights=shared, minlength=n - i - 1).astype(np.int64)
        other = np.flatnonzero(per)
        a.append(np.full(other.size, i, np.int64))
        b.append(other + i + 1)
        pixels.append(per[other])
        pairs += other.size
    else:
        i = n
    note = None
    if pairs > most:
        note = capped(most)
    elif i < n - 1:
        note = (
            f"instances pile up: {total:,} pairs of pixel runs meet, more than the {PAIR_WORK:,} validate"
            f" examines per image; overlaps are checked for the first {i} of {n} instances only"
        )
    a_, b_, px = (np.concatenate(col)[:most] for col in (a, b, pixels))
    return Shared(a_, b_, px, runs.area, inner_zero, note)


@dataclass(frozen=True)
class _Prefix:
    """Pixels of one instance (its sorted runs ``[start, end)``) before each position."""

    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]

    def __call__(self, x: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        before = np.concatenate([[0], np.cumsum(self.end - self.start)])
        k = np.searchsorted(self.start, x, side="right") - 1  # the last run starting at or before x
        kk = np.maximum(k, 0)
        return np.where(k < 0, 0, before[kk] + np.minimum(x, self.end[kk]) - self.start[kk])
