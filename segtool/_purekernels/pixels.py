"""The twin's pixel kernels: ``pack_rgb`` (RGB bytes to uint32 ids), ``pair_counts`` (the PQ
table of (ground truth, prediction) pixel counts) and ``joint_hist8`` (the joint histogram
of two 8-bit label maps), with their helpers: a lookup of every pixel's ids, as the C
file's hash map answers it, then ``np.bincount``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as _npt

from ._args import _I64, _U8, _U32, _take


def _pack(rgb: _npt.NDArray[np.uint8]) -> _npt.NDArray[np.uint32]:
    """R + 256 G + 65536 B of each RGB pixel."""
    px = rgb.reshape(-1, 3)
    packed = px[:, 2].astype(np.uint32)
    packed <<= 8
    packed |= px[:, 1]
    packed <<= 8
    packed |= px[:, 0]
    return packed


def _ranks_ok(rank: _npt.NDArray[np.int64]) -> bool:
    return bool(((rank >= 1) & (rank <= rank.size)).all())


def _id_index(
    values: _npt.NDArray[np.uint32], ids: _npt.NDArray[np.uint32], rank: _npt.NDArray[np.int64]
) -> _npt.NDArray[np.int64]:
    """Each value's rank (0 for id 0, -1 for an id not listed), as the C file's hash map:
    id 0 is never stored, and a repeated id keeps its last rank."""
    keep = ids != 0
    rev_ids, rev_rank = ids[keep][::-1], rank[keep][::-1]
    keys, first = np.unique(rev_ids, return_index=True)  # first in reverse: last as listed
    vals = rev_rank[first]
    result = np.full(values.shape, -1, np.int64)
    if keys.size:
        pos = np.minimum(np.searchsorted(keys, values), keys.size - 1)
        found = keys[pos] == values
        result[found] = vals[pos[found]]
    result[values == 0] = 0
    return result


def pair_counts(
    gt_rgb: object,
    pred_rgb: object,
    gt_ids: object,
    gt_rank: object,
    pred_ids: object,
    pred_rank: object,
    table: object,
    /,
) -> tuple[int, int] | None:
    """Add (ground truth, prediction) pixel counts into ``table`` (see segtool/_kernels.pyi)."""
    gt = _take(gt_rgb, _U8, False, "gt_rgb")
    pr = _take(pred_rgb, _U8, False, "pred_rgb")
    gids = _take(gt_ids, _U32, False, "gt_ids")
    grank = _take(gt_rank, _I64, False, "gt_rank")
    pids = _take(pred_ids, _U32, False, "pred_ids")
    prank = _take(pred_rank, _I64, False, "pred_rank")
    t = _take(table, _I64, True, "table")
    if gt.size != pr.size or gt.size % 3:
        raise ValueError("the two RGB buffers differ in size")
    if grank.size != gids.size or prank.size != pids.size:
        raise ValueError("ids and ranks differ in length")
    if t.size != (gids.size + 1) * (pids.size + 1):
        raise ValueError("table has the wrong size")
    if not _ranks_ok(grank) or not _ranks_ok(prank):
        raise ValueError("a rank lies outside 1..len(ids)")
    if max(gids.size, pids.size) > 2**28:  # the C hash map's size limit
        raise MemoryError
    g, p = _pack(gt), _pack(pr)
    # runs of one (ground truth, prediction) pair: ids looked up once a run, as the C loop does
    starts = np.flatnonzero(np.r_[True, (g[1:] != g[:-1]) | (p[1:] != p[:-1])]) if g.size else np.zeros(0, np.intp)
    lengths = np.diff(np.r_[starts, g.size])
    row, col = _id_index(g[starts], gids, grank), _id_index(p[starts], pids, prank)
    missing = np.flatnonzero((row < 0) | (col < 0))
    runs = int(missing[0]) if missing.size else starts.size  # the C loop counts the pixels before it
    width = pids.size + 1
    t += np.bincount(row[:runs] * width + col[:runs], weights=lengths[:runs], minlength=t.size).astype(np.int64)
    if not missing.size:
        return None
    side = 1 if row[runs] < 0 else 2
    at = starts[runs]
    return side, int(g[at] if side == 1 else p[at])


def joint_hist8(a: object, b: object, out: object, /) -> None:
    """Add the joint histogram of two 8-bit label maps into ``out`` (see segtool/_kernels.pyi)."""
    ga = _take(a, _U8, False, "a")
    pa = _take(b, _U8, False, "b")
    h = _take(out, _I64, True, "out")
    if ga.size != pa.size:
        raise ValueError("the two label maps differ in size")
    if h.size != 65536:
        raise ValueError("out must hold 65536 int64 counts")
    h += np.bincount(ga.astype(np.intp) * 256 + pa, minlength=65536)


def pack_rgb(rgb: object, out: object, /) -> None:
    """RGB bytes -> uint32 R + 256 G + 65536 B (see segtool/_kernels.pyi)."""
    s = _take(rgb, _U8, False, "rgb")
    d = _take(out, _U32, True, "out")
    if s.size % 3 or d.size != s.size // 3:
        raise ValueError("output must hold one uint32 per RGB pixel")
    d[:] = _pack(s)
