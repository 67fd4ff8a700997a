"""TIDE's error decomposition (Bolya et al., ECCV 2020), equal to tidecv 1.0.1.

tidecv scores detections with rules of its own, not COCOeval's, and the numbers only agree
when every one of them is followed (docs/metrics/tide.md):

- per image, the top ``max_dets`` (100) detections of all classes by score (ties in file
  order), greedily matched in that order to the unmatched non-crowd ground truth of their
  class with the highest IoU (the first of equal ones) when it is at least 0.5;
- an unmatched detection whose crowd IoU (intersection over its own area) with a crowd
  region of its class exceeds 0.5 is ignored: not a data point of AP, still an error;
- each unmatched (or ignored) detection gets one error, tested in this order: Loc (IoU with
  ground truth of its class in [0.1, 0.5]), Cls (IoU >= 0.5 with one of another class),
  Dupe (IoU >= 0.5 with a matched one of its class), Bkg (IoU <= 0.1 with all), else Both;
  an image without non-crowd ground truth makes them all Bkg;
- Cls and Loc errors on an unmatched ground truth compete for it: the first one with the
  highest score is the one a fix turns into a true positive, the others vanish, and that
  ground truth is no Miss; Miss: unmatched ground truth that no such error points at;
- AP per class is tidecv's own (101 recall points, precision made monotone), in points
  (x 100); mAP over the classes with ground truth or data points; fixing one error type
  re-lists the data points (the errors first, then the true positives), so score ties fall
  as tidecv's do; dAP = max(fixed mAP - mAP, 0), FalsePos and FalseNeg unclamped.

:func:`match_image` is the per-image matching the confusion matrix and calibration share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
POS, BG = 0.5, 0.1  # tidecv's positive and background IoU thresholds
MAIN = ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")  # tidecv's order of TIDE._error_types
SPECIAL = ("FalsePos", "FalseNeg")
_CODE = {"Cls": 1, "Loc": 2, "Both": 3, "Dupe": 4, "Bkg": 5}  # per detection; 0: none (a true positive)
_RECALLS = np.arange(101) / 100  # tidecv's x_range: x / 100 for x in 0..100


@dataclass
class ImageMatch:
    """One image's detections as TIDE takes them (top ``max_dets`` by score, ties in file
    order), matched at IoU >= ``pos`` within their class; IoUs with the non-crowd ground
    truth kept for the analyses that look further (they stay in the worker). ``cls_iou``:
    the IoUs within the class (0 across classes), ``best`` its row maxima (what
    :func:`tide_image` reads again)."""

    cls: npt.NDArray[np.int64]  # per detection, in score order
    score: npt.NDArray[np.float64]
    gt_of: npt.NDArray[np.int64]  # the non-crowd ground truth matched (index into gt_cls), -1: none
    ignored: npt.NDArray[np.bool_]  # unmatched, inside a crowd region of its class
    gt_cls: npt.NDArray[np.int64]  # the non-crowd ground truth, in file order
    iou: npt.NDArray[np.float64]  # (detections, non-crowd ground truth), every class pair
    cls_iou: npt.NDArray[np.float64] | None = None
    best: npt.NDArray[np.float64] | None = None

    @property
    def gt_used(self) -> npt.NDArray[np.bool_]:
        used = np.zeros(len(self.gt_cls), bool)
        used[self.gt_of[self.gt_of >= 0]] = True
        return used


def match_image(
    cls: npt.NDArray[np.int64],
    score: npt.NDArray[np.float64],
    index: npt.NDArray[np.int64],
    gt_cls: npt.NDArray[np.int64],
    crowd: npt.NDArray[np.bool_],
    iou: npt.NDArray[np.float64],
    max_dets: int,
    full: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]] | None = None,
    loc_too: bool = True,
    pos: float = POS,
    bg: float = BG,
) -> tuple[ImageMatch, npt.NDArray[np.int64]]:
    """tidecv's TIDEExample: ``iou`` is (detections, ground truth), crowd columns as crowd
    IoU (pycocotools' ``iscrowd``); ``index``: the detections' places in the file, which
    break ties of score. Pairs of different classes may be -1 (COCOeval's matrix) when
    ``full`` gives the complete rows of some detections: only unmatched ones need them
    (Cls, Bkg, Both, confusion), and of those not a Loc error (decided within the class),
    unless ``loc_too`` (the confusion matrix looks at them all). Returns the match and the
    detections kept (their rows in ``iou``, in score order)."""
    top = np.lexsort((index, -score))[:max_dets]
    d_cls = cls.take(top)
    any_crowd = bool(crowd.any())
    if any_crowd:
        plain, regions = np.flatnonzero(~crowd), np.flatnonzero(crowd)
        sub, g_cls = iou.take(top, 0).take(plain, 1), gt_cls.take(plain)
    else:  # the usual case: every column plain, no index to take
        sub, g_cls = iou.take(top, 0), gt_cls
    same = d_cls[:, None] == g_cls[None, :]
    cls_iou = np.where(same, sub, 0.0)
    best = cls_iou.max(axis=1) if g_cls.size else np.zeros(len(top))
    gt_of = _greedy(cls_iou, best, pos)
    unmatched = gt_of < 0
    ignored = np.zeros(len(top), bool)
    if any_crowd:
        hit = (iou[np.ix_(top, regions)] > pos) & (d_cls[:, None] == gt_cls[regions][None, :])
        ignored = unmatched & hit.any(axis=1)
    if full is not None and g_cls.size:  # pairs of other classes only: this class's are exact
        wanted = unmatched if loc_too else unmatched & ~((bg <= best) & (best <= pos))
        need = np.flatnonzero(wanted)
        if len(need):
            rows = full(top[need])
            sub[need] = np.where(same[need], sub[need], rows if not any_crowd else rows[:, plain])
    np.maximum(sub, 0.0, out=sub)  # what is still -1: pairs of matched detections no analysis reads
    return ImageMatch(d_cls, score.take(top), gt_of, ignored, g_cls, sub, cls_iou, best), top


def _greedy(cls_iou: npt.NDArray[np.float64], best: npt.NDArray[np.float64], pos: float) -> npt.NDArray[np.int64]:
    """Each detection in turn takes the untaken column of highest IoU (the first of equal
    ones) when it is at least ``pos`` (``best``: each row's maximum). A row's first maximum
    stays its choice while that column is untaken (taking others only lowers them), so it
    is looked at again only then."""
    gt_of = np.full(len(cls_iou), -1, np.int64)
    rows = np.flatnonzero(best >= pos)  # the only rows that can match
    if not len(rows) or not cls_iou.size:
        return gt_of
    firsts = cls_iou[rows].argmax(axis=1).tolist()
    if len(set(firsts)) == len(firsts):  # no column wanted twice: each row takes its first maximum
        gt_of[rows] = firsts
        return gt_of
    taken = np.zeros(cls_iou.shape[1], bool)
    for p, g in zip(rows.tolist(), firsts, strict=True):
        if taken[g]:
            row = np.where(taken, 0.0, cls_iou[p])
            g = int(np.argmax(row))
            if row[g] < pos:
                continue
        gt_of[p] = g
        taken[g] = True
    return gt_of


@dataclass
class TideImage:
    """What one image adds to TIDE: per detection (score order) its class, score, whether
    it is a data point (not ignored) and a true positive, its error, and for a Cls or Loc
    error whether a fix makes it the true positive of its ground truth, in which class;
    per non-crowd ground truth its class, whether matched and whether an error points at it."""

    cls: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]
    pushed: npt.NDArray[np.bool_]
    tp: npt.NDArray[np.bool_]
    error: npt.NDArray[np.int8]
    fix_tp: npt.NDArray[np.bool_]
    fix_cls: npt.NDArray[np.int64]
    gt_cls: npt.NDArray[np.int64]
    gt_used: npt.NDArray[np.bool_]
    gt_usable: npt.NDArray[np.bool_]


def tide_image(m: ImageMatch, pos: float = POS, bg: float = BG) -> TideImage:
    """tidecv's TIDERun._eval_image on a matched image: the error of each false positive
    (and ignored detection), BestGTMatch's winners, the ground truth an error can fix."""
    n, n_g = len(m.cls), len(m.gt_cls)
    tp = m.gt_of >= 0
    used = np.zeros(n_g, bool)
    used[m.gt_of[tp]] = True
    error = np.zeros(n, np.int8)
    fix_tp, fix_cls, usable = np.zeros(n, bool), m.cls.copy(), np.zeros(n_g, bool)
    wrong = np.flatnonzero(~tp)
    if n_g == 0:
        error[wrong] = _CODE["Bkg"]
    elif len(wrong):
        iou = m.iou[wrong]
        if m.cls_iou is None or m.best is None:
            same = m.cls[wrong][:, None] == m.gt_cls
            cls_iou = np.where(same, iou, 0.0)
            a_iou = cls_iou.max(axis=1)
        else:
            cls_iou, a_iou = m.cls_iou[wrong], m.best[wrong]
            same = m.cls[wrong][:, None] == m.gt_cls
        iou[same] = 0.0  # now the IoUs with ground truth of other classes
        b = iou.argmax(axis=1)
        b_iou = iou[np.arange(len(wrong)), b]
        loc = (bg <= a_iou) & (a_iou <= pos)
        wrong_cls = ~loc & (b_iou >= pos)
        rest = ~loc & ~wrong_cls
        dupe = rest & (cls_iou[:, used].max(axis=1, initial=0.0) >= pos)
        bkg = rest & ~dupe & (np.maximum(a_iou, b_iou) <= bg)
        codes = np.full(len(wrong), _CODE["Both"], np.int8)
        codes[loc], codes[wrong_cls], codes[dupe], codes[bkg] = _CODE["Loc"], _CODE["Cls"], _CODE["Dupe"], _CODE["Bkg"]
        error[wrong] = codes
        fixable = loc | wrong_cls
        if fixable.any():
            fix_cls[wrong[wrong_cls]] = m.gt_cls[b[wrong_cls]]
            target = np.where(loc, cls_iou.argmax(axis=1), b)[fixable]
            _best_matches(wrong[fixable], target, m.score, used, usable, fix_tp)
    return TideImage(m.cls, m.score, ~m.ignored, tp, error, fix_tp, fix_cls, m.gt_cls, used, usable)


def _best_matches(
    dets: npt.NDArray[np.int64],
    gts: npt.NDArray[np.int64],
    score: npt.NDArray[np.float64],
    used: npt.NDArray[np.bool_],
    usable: npt.NDArray[np.bool_],
    fix_tp: npt.NDArray[np.bool_],
) -> None:
    """tidecv's BestGTMatch over the Cls and Loc errors in score order: an unmatched ground
    truth is usable (no Miss), and the first error with its highest score is its fix."""
    best_score = np.full(len(used), -1.0)
    best = np.full(len(used), -1, np.int64)
    for d, g in zip(dets.tolist(), gts.tolist(), strict=True):
        if not used[g]:
            usable[g] = True
            if best_score[g] < score[d]:
                best_score[g], best[g] = score[d], d
    ok = ~used[gts]
    fix_tp[dets[ok]] = best[gts[ok]] == dets[ok]


def decompose(images: Sequence[TideImage]) -> dict[str, Any]:
    """TIDE's numbers over the images in their order (tidecv lists the ground truth's
    images; segtool takes ascending image ids, as COCOeval): AP50 of its own, the main
    errors' dAP, the special ones, and the count of each error, all in AP points."""
    cat = _joined(images)
    pushed, tp, err = cat["pushed"], cat["tp"], cat["error"]
    g_cls = cat["gt_cls"]
    classes = np.unique(np.concatenate([g_cls, cat["cls"][pushed]]))
    npos = _per_class(classes, g_cls)
    n = len(cat["cls"])
    listed = np.arange(n)
    # the orders tidecv's stable sorts give, by score descending, then (a fix lists the
    # errors first, then the true positives) group, then listing order: made once, each
    # mAP then only groups them by class
    plain = np.lexsort((listed, -cat["score"]))
    fixes = np.lexsort((listed, tp, -cat["score"]))
    own, fix = np.searchsorted(classes, cat["cls"]), np.searchsorted(classes, cat["fix_cls"])  # class places
    base = _map(npos, own, tp, pushed, plain)
    main: dict[str, float] = {}
    for name in MAIN:
        if name == "Miss":
            missed = _per_class(classes, g_cls[~cat["gt_used"] & ~cat["gt_usable"]])
            ap = _map(npos - missed, own, tp, pushed, fixes)
        else:
            fixed = err == _CODE[name]
            keep = np.where(fixed, cat["fix_tp"], pushed)
            ap = _map(npos, np.where(fixed, fix, own), tp | fixed, keep, fixes)
        main[name] = max(ap - base, 0.0)
    # FalsePos: scores replaced by 1 for the true positives, 0 for the others
    fp_fixed = _map(npos, own, tp, pushed, np.lexsort((listed, tp, -tp.astype(np.float64))))
    fn = _per_class(classes, g_cls[~cat["gt_used"]])
    fn_fixed = _map(npos - fn, own, tp, pushed, fixes)
    counts = {k: int(np.count_nonzero(err == c)) for k, c in _CODE.items()}
    counts["Miss"] = int(np.count_nonzero(~cat["gt_used"] & ~cat["gt_usable"]))
    return {
        "ap": base,
        "main": main,
        "special": {"FalsePos": fp_fixed - base, "FalseNeg": fn_fixed - base},
        "counts": {k: counts[k] for k in MAIN},
    }


def _joined(images: Sequence[TideImage]) -> dict[str, npt.NDArray[Any]]:
    names = ("cls", "score", "pushed", "tp", "error", "fix_tp", "fix_cls", "gt_cls", "gt_used", "gt_usable")
    dtypes = (np.int64, np.float64, bool, bool, np.int8, bool, np.int64, np.int64, bool, bool)
    return {
        k: np.concatenate([np.zeros(0, t), *(getattr(i, k) for i in images)]).astype(t, copy=False)
        for k, t in zip(names, dtypes, strict=True)
    }


def _per_class(classes: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """How many of ``values`` fall in each of ``classes`` (sorted, a superset)."""
    return np.bincount(np.searchsorted(classes, values), minlength=len(classes)).astype(np.int64)[: len(classes)]


def _map(
    npos: npt.NDArray[np.int64],
    place: npt.NDArray[np.int64],
    correct: npt.NDArray[np.bool_],
    keep: npt.NDArray[np.bool_],
    order: npt.NDArray[np.int64],
) -> float:
    """tidecv's ClassedAPDataObject.get_mAP over the kept data points: per class (``place``:
    each point's class, a place in the sorted classes ``npos`` counts the ground truth of),
    the points in ``order`` (the order of its stable sort); the mean over classes with
    ground truth or points (0 when there is none)."""
    k_n = len(npos)
    rows = order[keep[order]]
    at = place[rows].astype(np.int16 if k_n < 2**15 else np.int64)  # a radix sort for up to 32k classes
    by_class = np.argsort(at, kind="stable")
    rows = rows[by_class]
    bounds = np.searchsorted(at[by_class], np.arange(k_n + 1))
    aps = _aps(correct[rows], bounds, npos)
    used = [float(aps[k]) for k in range(k_n) if npos[k] > 0 or bounds[k + 1] > bounds[k]]
    return float(sum(used) / len(used)) if used else 0.0


def _aps(correct: npt.NDArray[np.bool_], bounds: npt.NDArray[np.int64], npos: npt.NDArray[np.int64]) -> F64:
    """:func:`_ap` of every class at once: ``correct`` holds the classes' points one class
    after the other (class k: ``bounds[k]:bounds[k + 1]``). The same doubles: each class's
    precision made monotone within the class, and the recall levels sampled where a class's TP count
    first reaches the smallest count whose recall ``hits / npos`` does."""
    k_n, m = len(npos), len(correct)
    out = np.zeros(k_n)
    if not m:
        return out
    seg = np.repeat(np.arange(k_n), np.diff(bounds))
    hits = np.cumsum(correct, dtype=np.int64)
    hits -= np.concatenate([[0], hits])[bounds[:-1]][seg]  # TPs so far within the class
    precision = hits / (np.arange(m) - bounds[:-1][seg] + 1)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if hi > lo:  # made monotone within the class, from its end
            back = precision[lo:hi][::-1]
            np.maximum.accumulate(back, out=back)
    big = max(m, int(npos.max(initial=0))) + 2
    keys = hits + seg * big  # non-decreasing: the TP counts within each class, classes apart
    has = np.flatnonzero(npos > 0)
    need = np.zeros((len(has), len(_RECALLS)), np.int64)  # per class and level, the fewest TPs that reach it
    for n in np.unique(npos[has]).tolist():
        need[npos[has] == n] = np.searchsorted(np.arange(n + 1) / n, _RECALLS, side="left")
    at = np.searchsorted(keys, need + (has * big)[:, None], side="left")
    y = np.where(at < bounds[has + 1][:, None], precision[np.minimum(at, m - 1)], 0.0)
    out[has] = np.cumsum(y, axis=1)[:, -1] / len(_RECALLS) * 100  # summed in order, as sum() does
    return out
