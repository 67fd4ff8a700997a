"""The twin's COCOeval kernels: ``coco_match``, the greedy matching, sequential over
detections only (every (area range, threshold) lane and every ground truth of a detection
is one array operation; NaN IoUs or thresholds take the C loop element by element), and
``coco_accumulate``, COCOeval.accumulate as cumulative sums, a running maximum from the
right and ``searchsorted``, per lane.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as _npt

from ._args import _F64, _I64, _U8, _take


def coco_match(
    ious: object,
    dt_cat: object,
    gt_cat: object,
    gt_ids: object,
    crowd: object,
    ignore: object,
    thrs: object,
    match: object,
    match_ig: object,
    /,
) -> None:
    """COCOeval's greedy matching for every (area range, IoU threshold) lane of one image
    (see segtool/_kernels.pyi)."""
    iou = _take(ious, _F64, False, "ious")
    dc = _take(dt_cat, _I64, False, "dt_cat")
    gc = _take(gt_cat, _I64, False, "gt_cat")
    gid = _take(gt_ids, _I64, False, "gt_ids")
    cr = _take(crowd, _U8, False, "crowd")
    ig = _take(ignore, _U8, False, "ignore")
    thr = _take(thrs, _F64, False, "thrs")
    mt = _take(match, _I64, True, "match")
    mi = _take(match_ig, _U8, True, "match_ig")
    nd, ng, nt = dc.size, gc.size, thr.size
    na = ig.size // ng if ng > 0 else 0
    if not (
        iou.size == nd * ng
        and gid.size == ng
        and cr.size == ng
        and ig.size == na * ng
        and mt.size == na * nt * nd
        and mi.size == na * nt * nd
    ):
        raise ValueError("array sizes do not agree")
    if not na * nt * nd:
        return
    iou2, mt3, mi3 = iou.reshape(nd, ng), mt.reshape(na, nt, nd), mi.reshape(na, nt, nd)
    iga = ig.reshape(na, 1, ng)
    if np.isnan(iou2).any() or np.isnan(thr).any():
        _match_lanes(iou2, dc, gc, gid, cr, iga[:, 0], thr, mt3, mi3)
        return
    reusable = (cr != 0)[None, None, :]
    taken = np.zeros((na, nt, ng), bool)
    passes = (iga == 0, iga == 1)  # an ignore flag other than 0 or 1 matches in neither pass
    lane = np.ogrid[:na, :nt]
    for d in range(nd):
        row = iou2[d]
        base = (gc == dc[d])[None, None, :] & (row[None, None, :] >= thr[None, :, None]) & ~(taken & ~reusable)
        best = np.full((na, nt), -1, np.intp)
        for flags in passes:
            open_ = (best < 0)[..., None] & base & flags
            if not open_.any():
                continue
            top = np.where(open_, row, -np.inf).max(axis=2, keepdims=True)
            hit = open_ & (row == top)  # the last of equal best IoUs wins (C: `>=`)
            last = ng - 1 - np.argmax(hit[..., ::-1], axis=2)
            best = np.where(hit.any(axis=2), last, best)
        found = best >= 0
        pick = np.where(found, best, 0)
        mt3[..., d] = np.where(found, gid[pick], 0)
        mi3[..., d] = np.where(found, iga[lane[0], 0, pick], 0)
        taken[lane[0], lane[1], pick] |= found


def _match_lanes(
    iou: _npt.NDArray[np.float64],
    dc: _npt.NDArray[np.int64],
    gc: _npt.NDArray[np.int64],
    gid: _npt.NDArray[np.int64],
    cr: _npt.NDArray[np.uint8],
    ig: _npt.NDArray[np.uint8],
    thr: _npt.NDArray[np.float64],
    mt: _npt.NDArray[np.int64],
    mi: _npt.NDArray[np.uint8],
) -> None:
    """The C loop, element by element (NaN IoUs or thresholds: comparisons with NaN are
    false, so the C loop's choices depend on the order it meets them)."""
    na, nt, nd = mt.shape
    ng = gc.size
    for a in range(na):
        for t in range(nt):
            taken = [False] * ng
            for d in range(nd):
                best = -1
                for pass_ in range(2):
                    if best >= 0:
                        break
                    bar = thr[t]
                    for g in range(ng):
                        if gc[g] != dc[d] or ig[a, g] != pass_ or (taken[g] and not cr[g]) or iou[d, g] < bar:
                            continue
                        bar = iou[d, g]
                        best = g
                mt[a, t, d] = gid[best] if best >= 0 else 0
                mi[a, t, d] = ig[a, best] if best >= 0 else 0
                if best >= 0:
                    taken[best] = True


def coco_accumulate(
    matched: object, ignored: object, npig: object, rec_thrs: object, precision: object, recall: object, /
) -> None:
    """COCOeval.accumulate for one category and maxDets (see segtool/_kernels.pyi)."""
    dtm = _take(matched, _U8, False, "matched")
    dtig = _take(ignored, _U8, False, "ignored")
    np_ = _take(npig, _I64, False, "npig")
    thr = _take(rec_thrs, _F64, False, "rec_thrs")
    prec = _take(precision, _F64, True, "precision")
    reca = _take(recall, _F64, True, "recall")
    na, nr = np_.size, thr.size
    nt = reca.size // na if na > 0 else 0
    lanes = na * nt
    n = dtm.size // lanes if lanes > 0 else 0
    if not (dtm.size == lanes * n and dtig.size == lanes * n and prec.size == lanes * nr and reca.size == lanes):
        raise ValueError("array sizes do not agree")
    if not lanes:
        return
    m3, ig3 = dtm.reshape(na, nt, n) != 0, dtig.reshape(na, nt, n) != 0
    p3, r2 = prec.reshape(na, nt, nr), reca.reshape(na, nt)
    counted = ~ig3
    tps = np.cumsum(counted & m3, axis=2, dtype=np.float64)
    fps = np.cumsum(counted & ~m3, axis=2, dtype=np.float64)
    # searchsorted(rc, thr, 'left') with the C loop's pointer, which never moves back: a
    # running maximum over the thresholds (a NaN threshold leaves the pointer where it was)
    nan_thr = np.isnan(thr)
    for a in np.flatnonzero(np_ > 0).tolist():
        total = float(np_[a])
        for t in range(nt):
            if not n:
                r2[a, t] = 0.0
                p3[a, t] = 0.0
                continue
            tp, fp = tps[a, t], fps[a, t]
            rc = tp / total
            pr = np.maximum.accumulate((tp / (fp + tp + np.spacing(1)))[::-1])[::-1]
            r2[a, t] = rc[-1]
            at = np.searchsorted(rc, thr, side="left")
            at[nan_thr] = 0
            at = np.maximum.accumulate(at)
            p3[a, t] = np.where(at < n, pr[np.minimum(at, n - 1)], 0.0)
