"""Which instances of one image share pixels, and how many, without an n x n IoU matrix.

``validate`` used to compute the IoU of every pair of an image's instances: 8.3 s for
20,000 instances, and an 80 GB matrix for 10^5. Here each mask is read as its runs of
pixels (column-major flat positions, :class:`segtool.rleowner.Runs`); sorted by start, the
runs that begin inside a run are the next ones in that order, so the pairs of runs that
meet are found by one ``searchsorted`` and expanded in blocks. Their lengths, summed per
pair of instances, are the shared pixels: exact, in time linear in the runs and in the
pairs of runs that meet.

Two bounds keep one image's work and findings in proportion to what it may list:

- at most ``most`` pairs of instances are kept (the first ones in annotation order; the
  caller passes the ``segments`` limit, so the listing grows like the annotations);
- at most :data:`PAIR_WORK` pairs of runs are examined. Past that the instances pile deep
  (10^5 masks of the whole image meet in 5 * 10^9 pairs, which no listing can show), and
  the pairs are counted instance by instance, each against the runs of the later ones,
  until that much work is spent: exact for the instances examined, none for the rest.

Either way :attr:`Shared.note` says what was left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import rleowner
from ..masks import RLE

PAIR_WORK = 1 << 24  # pairs of runs (or runs visited, instance by instance) per image: ~2 s
BLOCK = 1 << 20  # pairs of runs expanded at once: ~40 MB of temporaries


@dataclass(frozen=True)
class Shared:
    """Pairs ``(a[k], b[k])`` of instances (``a < b``, in ``(a, b)`` order) sharing
    ``pixels[k] > 0`` pixels, every instance's ``area``, and what was left out (or None)."""

    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]
    pixels: npt.NDArray[np.int64]
    area: npt.NDArray[np.int64]
    note: str | None = None


def runs_of(rles: list[RLE]) -> rleowner.Runs:
    """The runs of RLEs the strict decoder (``masks.check_compressed``) accepted.

    That decoder also takes a value spelled in 8 characters (a 7th group of 0 or 1 continued
    by a '0' group: pycocotools reads it as the 7-character one), which
    :func:`segtool.rleowner.counts` refuses; such strings are respelled first.
    """
    runs = rleowner.Runs.of(rles)
    if runs is None:
        runs = rleowner.Runs.of([_respelled(r) for r in rles])
    if runs is None:  # a string the strict decoder took and rleowner refuses: a bug
        raise RuntimeError("an RLE accepted by the strict decoder has no runs")
    return runs


def _respelled(rle: RLE) -> RLE:
    """``rle`` with each 8-character value written in 7 (the same counts)."""
    text = rle["counts"]
    c = np.frombuffer(text.encode("ascii", "replace") if isinstance(text, str) else bytes(text), np.uint8)
    last = np.flatnonzero(((c.astype(np.int64) - 48) & 0x20) == 0)
    first = np.concatenate([[0], last[:-1] + 1])
    eighth = last[last - first == 7]
    if not eighth.size:
        return rle
    c = c.copy()
    c[eighth - 1] -= 32  # the 7th character (0 or 1) ends the value; the '0' after it goes
    keep = np.ones(c.size, bool)
    keep[eighth] = False
    return {"size": rle["size"], "counts": c[keep].tobytes()}


def shared_pixels(rles: list[RLE], most: int) -> Shared:
    """Instances of ``rles`` (compressed RLEs of one image, already checked decodable) that
    share pixels, with the pixels shared: the first ``most`` pairs (see the module)."""
    runs = runs_of(rles)
    order = np.argsort(runs.start, kind="stable")
    start, end, owner = runs.start[order], runs.end[order], runs.owner[order]
    later = np.searchsorted(start, end) - np.arange(1, start.size + 1)  # runs starting inside each
    total = int(later.sum())
    if total > PAIR_WORK:
        return _by_instance(runs, most, total)
    n = max(len(rles), 1)
    bounds = np.cumsum(later)
    keys, pixels = np.zeros(0, np.int64), np.zeros(0, np.int64)
    cut = False
    for q0 in range(0, total, BLOCK):
        q = np.arange(q0, min(q0 + BLOCK, total), dtype=np.int64)
        r = np.searchsorted(bounds, q, side="right")  # the earlier run of pair q
        t = r + 1 + q - (bounds[r] - later[r])  # the later one: it starts inside run r
        length = np.minimum(end[r], end[t]) - start[t]
        key = np.minimum(owner[r], owner[t]) * n + np.maximum(owner[r], owner[t])
        keys, pixels = _summed(np.concatenate([keys, key]), np.concatenate([pixels, length]))
        if keys.size > most:  # a pair left out here has `most` smaller ones: never listed
            keys, pixels, cut = keys[:most], pixels[:most], True
    note = None
    if cut:
        note = f"more than {most:,} pairs of instances share pixels: the first {most:,} are checked"
    return Shared(keys // n, keys % n, pixels, runs.area, note)


def _summed(keys: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Distinct ``keys``, sorted, with the sum of their ``values``."""
    if not keys.size:
        return keys, values
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[first], np.add.reduceat(values, first)


def _by_instance(runs: rleowner.Runs, most: int, total: int) -> Shared:
    """Instances piled deep: each instance's shared pixels with every later one, from the
    count of its pixels before each position (one search per later run), in annotation
    order, until :data:`PAIR_WORK` runs are visited or more than ``most`` pairs found."""
    n = runs.area.size
    group = np.searchsorted(runs.owner, np.arange(n + 1))  # Runs.of keeps an instance's runs together, in order
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
        note = f"more than {most:,} pairs of instances share pixels: the first {most:,} are checked"
    elif i < n - 1:
        note = (
            f"instances pile up: {total:,} pairs of pixel runs meet, more than the {PAIR_WORK:,} validate"
            f" examines per image; overlaps are checked for the first {i} of {n} instances only"
        )
    a_, b_, px = (np.concatenate(col)[:most] for col in (a, b, pixels))
    return Shared(a_, b_, px, runs.area, note)


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
