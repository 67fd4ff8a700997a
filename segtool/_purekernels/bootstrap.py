"""The twin's ``coco_bootstrap``: COCOeval.accumulate of one category re-run on many bootstrap
samples, each detection weighted by its image's count (segtool/metrics/bootstrap_ap.py).

The C loop walks a few samples at a time through each threshold's run ends; here every
step is a whole-array operation over (run ends, samples) blocks of at most ``CHUNK``
elements: the weight seen cumulated down the detections, the ignored detections' weight
taken off, each run's TP weight cumulated, ``searchsorted`` for the recall thresholds
reached, the precision's running maximum from the right. The sums over the run ends are
added row by row, in run order, as the C loop adds them (the same doubles: numpy neither
fuses a product into a sum nor reorders a row-wise add), and the integers stay int64.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as _npt

from ._args import _F64, _I64, _U8, _U32, _take

CHUNK = 1 << 20  # elements of one (run ends, samples) block
_EPS = np.spacing(1.0)


def coco_bootstrap(
    weights: object, image: object, tp: object, ignored: object, npig: object, rec_thrs: object, sums: object, /
) -> None:
    """Add per sample and IoU threshold the summed interpolated precision of one category
    (see segtool/_kernels.pyi)."""
    w = _take(weights, _U32, False, "weights")
    img = _take(image, _I64, False, "image")
    tpf = _take(tp, _U8, False, "tp")
    igf = _take(ignored, _U8, False, "ignored")
    v = _take(npig, _I64, False, "npig")
    thr = _take(rec_thrs, _F64, False, "rec_thrs")
    out = _take(sums, _F64, True, "sums")
    b_n, d_n = v.size, img.size
    n_n = w.size // b_n if b_n > 0 else 0
    t_n = out.size // b_n if b_n > 0 else (tpf.size // d_n if d_n > 0 else 0)
    if not (
        d_n < 2**31
        and thr.size < 2**31
        and w.size == n_n * b_n
        and out.size == b_n * t_n
        and tpf.size == t_n * d_n
        and igf.size == t_n * d_n
    ):
        raise ValueError("array sizes do not agree")
    if b_n and d_n and (img.min() < 0 or img.max() >= n_n):  # no sample: no weight is read
        raise ValueError("image: an index is out of range")
    if np.isnan(thr).any() or (thr[1:] < thr[:-1]).any():
        raise ValueError("rec_thrs: not ascending")
    if not b_n or not t_n:
        return
    runs = _runs(tpf.reshape(t_n, d_n) != 0, igf.reshape(t_n, d_n) != 0)
    w2, out2 = w.reshape(n_n, b_n), out.reshape(b_n, t_n)
    tables = _Tables(thr)
    step = max(1, CHUNK // max(1, d_n + 1, *(len(r[0]) for r in runs)))
    for lo in range(0, b_n, step):
        hi = min(b_n, lo + step)
        has = v[lo:hi] > 0
        if has.any():
            part = _block(w2[:, lo:hi], img, runs, v[lo:hi], tables)
            out2[lo:hi] = np.where(has[:, None], out2[lo:hi] + part, out2[lo:hi])


I64 = _npt.NDArray[np.int64]
Runs = tuple[I64, I64, I64, I64, I64]  # ends, befores, ignored places, ignored before each end / before


def _runs(tp: _npt.NDArray[np.bool_], ignored: _npt.NDArray[np.bool_]) -> list[Runs]:
    """Per threshold: the run ends (a TP whose next detection that is not ignored is an FP,
    or none), the last FP before each (-1: none), the ignored detections' places, and how
    many of them come before each end and each ``before``."""
    out = []
    for t in range(len(tp)):
        kept = np.flatnonzero(~ignored[t])
        hit = tp[t, kept]
        last = hit & np.append(~hit[1:], True)
        fps = np.append(kept[~hit], -1)  # the FPs' places, then "none" (read at -1)
        before = fps[np.cumsum(~hit) - 1]  # each point's last FP so far
        ends, befores = kept[last].astype(np.int64), before[last].astype(np.int64)
        ig = np.flatnonzero(ignored[t]).astype(np.int64)
        ig_end = np.searchsorted(ig, ends, "right").astype(np.int64)
        ig_before = np.searchsorted(ig, befores, "right").astype(np.int64)
        out.append((ends, befores, ig, ig_end, ig_before))
    return out


def _block(
    w: _npt.NDArray[np.uint32],
    image: _npt.NDArray[np.int64],
    runs: list[Runs],
    npig: _npt.NDArray[np.int64],
    tables: _Tables,
) -> _npt.NDArray[np.float64]:
    """``(b, T)`` sums of a block of samples (``w``: ``(N, b)``, ``npig``: ``(b,)``)."""
    b = w.shape[1]
    sums = np.zeros((b, len(runs)))
    # int32 where every sum fits (the same integers, half the memory to walk)
    small = image.size == 0 or int(w.max(initial=0)) * (image.size + 1) < 2**31
    dtype = np.int32 if small else np.int64
    seen = np.zeros((image.size + 1, b), dtype)  # the weight seen up to each detection (row 0: none)
    seen[1:] = w[image]
    _rows_cumsum(seen)
    vi = np.where(npig > 0, npig, 1)
    v, start = vi.astype(np.float64), tables.starts(vi)
    for t, (ends, befores, ig, ig_end, ig_before) in enumerate(runs):
        at_end, at_before = seen[ends + 1], seen[befores + 1]
        if ig.size:  # the weight of ignored detections is not seen
            ig_seen = np.zeros((ig.size + 1, b), dtype)
            ig_seen[1:] = w[image[ig]]
            _rows_cumsum(ig_seen)
            at_end -= ig_seen[ig_end]
            at_before -= ig_seen[ig_before]
        tps = np.subtract(at_end, at_before, out=at_before)
        _rows_cumsum(tps)  # each run end's TP weight, cumulated
        if start is not None and (tps <= vi).all():  # a TP weight within its sample's table
            reached = tables.table.take(tps + start)
        else:
            reached = np.searchsorted(tables.thr, tps / v, "right")
        first = np.diff(reached, axis=0, prepend=0).astype(np.float64)  # the recall thresholds reached first
        pr = np.add(at_end, _EPS, dtype=np.float64)  # COCOeval's tp / (tp + fp + eps)
        np.divide(tps, pr, out=pr)
        for j in range(len(pr) - 2, -1, -1):  # made non-increasing from the right
            np.maximum(pr[j], pr[j + 1], out=pr[j])
        total = np.zeros(b)
        for j in range(len(pr)):
            total += pr[j] * first[j]
        sums[:, t] = total
    return sums


def _rows_cumsum(values: _npt.NDArray[np.integer]) -> None:
    """``values = cumsum(values, axis=0)`` in place, a row at a time: numpy's ``cumsum``
    along the first axis walks memory with a stride; a row-wise add runs at memory speed."""
    for j in range(1, len(values)):
        np.add(values[j], values[j - 1], out=values[j])


class _Tables:
    """How many recall thresholds a TP weight ``tp`` of ``v`` ground truth reaches,
    ``searchsorted(thr, tp / v, 'right')``, looked up instead of searched: each ``v`` met gets
    the ``v + 1`` answers for ``tp = 0..v`` (the same division, the same doubles), kept for
    the next block; a lane reads its answer at its ``v``'s start plus ``tp``."""

    LIMIT = 1 << 16  # a larger count is searched

    def __init__(self, thr: _npt.NDArray[np.float64]) -> None:
        self.thr = thr
        self.table = np.zeros(0, np.int64)
        self.start: dict[int, int] = {}

    def starts(self, v: _npt.NDArray[np.int64]) -> _npt.NDArray[np.int64] | None:
        """Each lane's start, or None when a count is past ``LIMIT``."""
        if v.size and int(v.max()) > self.LIMIT:
            return None
        new = [int(x) for x in np.unique(v) if int(x) not in self.start]
        if new:
            parts, at = [self.table], self.table.size
            for x in new:
                self.start[x] = at
                parts.append(np.searchsorted(self.thr, np.arange(x + 1) / x, "right").astype(np.int64))
                at += x + 1
            self.table = np.concatenate(parts)
        return np.array([self.start[x] for x in v.tolist()], np.int64)
