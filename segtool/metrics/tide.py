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
    truth kept for the analyses that look further (they stay in the worker)."""

    cls: npt.NDArray[np.int64]  # per detection, in score order
    score: npt.NDArray[np.float64]
    gt_of: npt.NDArray[np.int64]  # the non-crowd ground truth matched (index into gt_cls), -1: none
    ignored: npt.NDArray[np.bool_]  # unmatched, inside a crowd region of its class
    gt_cls: npt.NDArray[np.int64]  # the non-crowd ground truth, in file order
    iou: npt.NDArray[np.float64]  # (detections, non-crowd ground truth), every class pair

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
        if len(need):  # their pairs of this class come out the same (the same IoU, the same doubles)
            rows = full(top[need])
            sub[need] = rows if not any_crowd else rows[:, plain]
    np.maximum(sub, 0.0, out=sub)  # what is still -1: pairs of matched detections no analysis reads
    return ImageMatch(d_cls, score.take(top), gt_of, ignored, g_cls, sub), top


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
    it is a data point (not ignored) and a true positive; per non-crowd ground truth its
    class and whether matched; the IoUs of the detections that are not true positives with
    every non-crowd ground truth (row by row, flattened). Their errors are decided for all
    images at once (:func:`classify`): a few array operations over every image's rows
    rather than dozens per image."""

    cls: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]
    pushed: npt.NDArray[np.bool_]
    tp: npt.NDArray[np.bool_]
    gt_cls: npt.NDArray[np.int64]
    gt_used: npt.NDArray[np.bool_]
    wrong_iou: npt.NDArray[np.float64]


def tide_image(m: ImageMatch) -> TideImage:
    """tidecv's TIDERun._eval_image on a matched image, its part that needs the image: what
    :func:`classify` reads."""
    tp = m.gt_of >= 0
    used = np.zeros(len(m.gt_cls), bool)
    used[m.gt_of[tp]] = True
    return TideImage(m.cls, m.score, ~m.ignored, tp, m.gt_cls, used, m.iou[~tp].ravel())


def classify(images: Sequence[TideImage], pos: float = POS, bg: float = BG) -> dict[str, npt.NDArray[Any]]:
    """Every image's columns joined (:func:`_joined`), and tidecv's TIDERun._eval_image on
    them: per detection its error (each false positive and ignored detection), for a Cls
    or Loc error whether a fix makes it the true positive of its ground truth
    (BestGTMatch: the first error with the highest score) and in which class; per ground
    truth whether an error points at it (then no Miss)."""
    cat = _joined(images)
    n_det = np.array([len(i.cls) for i in images], np.int64)
    n_gt = np.array([len(i.gt_cls) for i in images], np.int64)
    wrong = np.flatnonzero(~cat["tp"])
    image = np.repeat(np.arange(len(images)), n_det)[wrong]
    gt_off = np.cumsum(n_gt) - n_gt
    width = n_gt[image]  # each wrong row's ground truth
    iou = np.concatenate([np.zeros(0), *(i.wrong_iou for i in images)])
    row = np.repeat(np.arange(len(wrong)), width)
    start = np.cumsum(width) - width
    col = np.arange(len(iou)) - start[row]
    gt = gt_off[image][row] + col
    same = cat["cls"][wrong][row] == cat["gt_cls"][gt]
    cls_iou, other = np.where(same, iou, 0.0), np.where(same, 0.0, iou)
    error = np.zeros(len(cat["cls"]), np.int8)
    fix_tp, fix_cls, usable = np.zeros(len(error), bool), cat["cls"].copy(), np.zeros(len(cat["gt_cls"]), bool)
    error[wrong[width == 0]] = _CODE["Bkg"]  # an image without ground truth
    has = np.flatnonzero(width > 0)
    if len(has):
        at = start[has]
        a_iou, b_iou = np.maximum.reduceat(cls_iou, at), np.maximum.reduceat(other, at)
        a = _first(cls_iou == a_iou[_rank(row, has)], col, at)
        b = _first(other == b_iou[_rank(row, has)], col, at)
        dupe_iou = np.maximum.reduceat(np.where(cat["gt_used"][gt], cls_iou, 0.0), at)
        loc = (bg <= a_iou) & (a_iou <= pos)
        wrong_cls = ~loc & (b_iou >= pos)
        rest = ~loc & ~wrong_cls
        dupe = rest & (dupe_iou >= pos)
        bkg = rest & ~dupe & (np.maximum(a_iou, b_iou) <= bg)
        codes = np.full(len(has), _CODE["Both"], np.int8)
        codes[loc], codes[wrong_cls], codes[dupe], codes[bkg] = _CODE["Loc"], _CODE["Cls"], _CODE["Dupe"], _CODE["Bkg"]
        dets = wrong[has]
        error[dets] = codes
        base = gt_off[image[has]]
        fix_cls[dets[wrong_cls]] = cat["gt_cls"][base[wrong_cls] + b[wrong_cls]]
        fixable = loc | wrong_cls
        target = (base + np.where(loc, a, b))[fixable]
        _best_matches(dets[fixable], target, cat["score"], cat["gt_used"], usable, fix_tp)
    return {**cat, "error": error, "fix_tp": fix_tp, "fix_cls": fix_cls, "gt_usable": usable}


def _rank(row: npt.NDArray[np.int64], has: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each pair's row as a place among the rows ``has`` (the rows with pairs)."""
    return np.searchsorted(has, row)


def _first(hit: npt.NDArray[np.bool_], col: npt.NDArray[np.int64], at: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Per row (its pairs from ``at``), the first column where ``hit``: numpy's argmax."""
    return np.minimum.reduceat(np.where(hit, col, np.iinfo(np.int64).max), at)


def _best_matches(
    dets: npt.NDArray[np.int64],
    gts: npt.NDArray[np.int64],
    score: npt.NDArray[np.float64],
    used: npt.NDArray[np.bool_],
    usable: npt.NDArray[np.bool_],
    fix_tp: npt.NDArray[np.bool_],
) -> None:
    """tidecv's BestGTMatch over the Cls and Loc errors in listing order: an unmatched
    ground truth is usable (no Miss), and the first error with its highest score is its fix."""
    ok = ~used[gts]
    usable[gts[ok]] = True
    ok &= score[dets] > -1.0  # tidecv's starting best score: one at or below it never wins
    dets, gts = dets[ok], gts[ok]
    order = np.lexsort((np.arange(len(dets)), -score[dets], gts))
    first = np.ones(len(order), bool)
    first[1:] = gts[order][1:] != gts[order][:-1]
    fix_tp[dets[order[first]]] = True


def decompose(images: Sequence[TideImage]) -> dict[str, Any]:
    """TIDE's numbers over the images in their order (tidecv lists the ground truth's
    images; segtool takes ascending image ids, as COCOeval): AP50 of its own, the main
    errors' dAP, the special ones, and the count of each error, all in AP points."""
    cat = classify(images)
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
    names = ("cls", "score", "pushed", "tp", "gt_cls", "gt_used")
    dtypes = (np.int64, np.float64, bool, bool, np.int64, bool)
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
