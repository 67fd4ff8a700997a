"""COCO instance AP/AR (segm and bbox), identical to pycocotools' ``COCOeval``.

The same semantics, step by step: ground truth ignored when crowd or outside the area range
(using the JSON ``area``); detections sorted by score (mergesort: ties keep file order),
at most ``maxDets[-1]`` per image and category; IoU from pycocotools' own ``iou`` (crowd:
intersection over the detection's area); greedy matching per IoU threshold that prefers
non-ignored ground truth and, among equal IoUs, the later one; unmatched detections outside
the area range ignored; 101-point interpolated precision; ``summarize()``'s 12 numbers.

Where pycocotools loops in Python per detection, threshold and ground truth, segtool loops
once per detection and decides all (area range × threshold) lanes at once, and accumulates
with whole-array operations. Per-image work is independent, so it runs in parallel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from ..masks import to_pyco
from ..model import Category
from ..parallel import imap, jobs_for

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RNG = ((0**2, 1e5**2), (0**2, 32**2), (32**2, 96**2), (96**2, 1e5**2))
AREA_LBL = ("all", "small", "medium", "large")
MAX_DETS = (1, 10, 100)
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


@dataclass(frozen=True)
class Params:
    """COCOeval's parameters (``iouType`` segm or bbox)."""

    iou_type: str = "segm"
    max_dets: tuple[int, ...] = MAX_DETS
    area_rng: tuple[tuple[float, float], ...] = AREA_RNG
    area_lbl: tuple[str, ...] = AREA_LBL


@dataclass
class Objects:
    """Ground truth or detections of one image, as parallel arrays plus their shapes."""

    ids: npt.NDArray[np.int64]
    category_id: npt.NDArray[np.int64]
    area: npt.NDArray[np.float64]
    iscrowd: npt.NDArray[np.bool_]
    shapes: list[Any]  # compressed RLEs (segm) or [x, y, w, h] boxes (bbox)
    score: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


@dataclass
class ImageEval:
    """Per (category, area range) of one image: what accumulate needs."""

    # category id -> (scores (D,), matched (A, T, D), ignored (A, T, D), non-ignored gt count (A,))
    by_category: dict[int, tuple[Any, Any, Any, Any]]


def _ious(
    dt: Objects, d: npt.NDArray[np.int64], gt: Objects, g: npt.NDArray[np.int64], iou_type: str
) -> npt.NDArray[np.float64]:
    if len(d) == 0 or len(g) == 0:
        return np.zeros((len(d), len(g)))
    crowd = [int(c) for c in gt.iscrowd[g]]
    if iou_type == "segm":
        ds = [to_pyco(dt.shapes[i]) for i in d]
        gs = [to_pyco(gt.shapes[i]) for i in g]
    else:
        ds = np.asarray([dt.shapes[i] for i in d], dtype=np.float64)
        gs = np.asarray([gt.shapes[i] for i in g], dtype=np.float64)
    return np.asarray(mask_utils.iou(ds, gs, crowd), dtype=np.float64).reshape(len(d), len(g))


def _match(
    ious: npt.NDArray[np.float64],
    gt_ids: npt.NDArray[np.int64],
    crowd: npt.NDArray[np.bool_],
    ignore: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """COCOeval.evaluateImg's greedy matching, for every lane at once.

    ``ignore`` is ``(L, G)``: one lane per (area range, threshold). Returns the matched
    ground-truth id per lane and detection (0: none) and whether that match is ignored.
    """
    lanes, g = ignore.shape
    d = ious.shape[0]
    thr = np.minimum(np.tile(IOU_THRS, lanes // len(IOU_THRS)), 1 - 1e-10)[:, None]
    taken = np.zeros((lanes, g), dtype=bool)
    match = np.zeros((lanes, d), dtype=np.int64)
    match_ig = np.zeros((lanes, d), dtype=bool)
    rows = np.arange(lanes)
    for k in range(d):
        ok = (ious[k][None, :] >= thr) & ~(taken & ~crowd[None, :])
        for group in (~ignore, ignore):  # prefer non-ignored ground truth, then ignored
            cand = ok & group
            has = cand.any(axis=1)
            if not has.any():
                continue
            vals = np.where(cand, ious[k][None, :], -1.0)
            best = g - 1 - np.argmax(vals[:, ::-1], axis=1)  # the last of equal maxima
            sel, gi = rows[has], best[has]
            match[sel, k] = gt_ids[gi]  # an id of 0 reads as "no match", as in pycocotools
            match_ig[sel, k] = ignore[sel, gi]
            taken[sel, gi] = True
            ok[sel] = False  # a lane that matched takes nothing from the ignored group
    return match, match_ig


def evaluate_image(gt: Objects, dt: Objects, params: Params) -> ImageEval:
    """COCOeval.computeIoU + evaluateImg for every category and area range of one image."""
    out: dict[int, tuple[Any, Any, Any, Any]] = {}
    max_det = params.max_dets[-1]
    a_lo = np.array([r[0] for r in params.area_rng])[:, None]
    a_hi = np.array([r[1] for r in params.area_rng])[:, None]
    t = len(IOU_THRS)
    for cat in np.union1d(gt.category_id, dt.category_id).tolist():
        g = np.flatnonzero(gt.category_id == cat)
        d = np.flatnonzero(dt.category_id == cat)
        d = d[np.argsort(-dt.score[d], kind="mergesort")][:max_det]
        ious = _ious(dt, d, gt, g, params.iou_type)
        g_ignore = gt.iscrowd[g][None, :] | (gt.area[g][None, :] < a_lo) | (gt.area[g][None, :] > a_hi)  # (A, G)
        lanes_ignore = np.repeat(g_ignore, t, axis=0)  # (A*T, G)
        match, match_ig = _match(ious, gt.ids[g], gt.iscrowd[g], lanes_ignore)
        d_out = (dt.area[d][None, :] < a_lo) | (dt.area[d][None, :] > a_hi)  # (A, D)
        matched = (match != 0).reshape(len(a_lo), t, len(d))
        ignored = match_ig.reshape(len(a_lo), t, len(d)) | (
            (match == 0).reshape(len(a_lo), t, len(d)) & d_out[:, None, :]
        )
        out[cat] = (dt.score[d], matched, ignored, (~g_ignore).sum(axis=1))
    return ImageEval(out)


@dataclass
class InstanceResult:
    """``precision`` (T, R, K, A, M) and ``recall`` (T, K, A, M), as COCOeval.eval."""

    categories: tuple[Category, ...]
    params: Params
    precision: npt.NDArray[np.float64]
    recall: npt.NDArray[np.float64]
    images: int

    def _summarize(self, ap: bool, iou_thr: float | None = None, area: str = "all", max_dets: int = 100) -> float:
        aind = [i for i, lbl in enumerate(self.params.area_lbl) if lbl == area]
        mind = [i for i, m in enumerate(self.params.max_dets) if m == max_dets]
        s = self.precision if ap else self.recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == IOU_THRS)[0]]
        s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    def stats(self) -> list[float]:
        """The 12 numbers of ``COCOeval.summarize()``, in its order."""
        m = self.params.max_dets
        return [
            self._summarize(True),
            self._summarize(True, 0.5, max_dets=m[2]),
            self._summarize(True, 0.75, max_dets=m[2]),
            self._summarize(True, area="small", max_dets=m[2]),
            self._summarize(True, area="medium", max_dets=m[2]),
            self._summarize(True, area="large", max_dets=m[2]),
            self._summarize(False, max_dets=m[0]),
            self._summarize(False, max_dets=m[1]),
            self._summarize(False, max_dets=m[2]),
            self._summarize(False, area="small", max_dets=m[2]),
            self._summarize(False, area="medium", max_dets=m[2]),
            self._summarize(False, area="large", max_dets=m[2]),
        ]

    def per_category_ap(self) -> dict[int, float | None]:
        """AP per category (IoU .50:.95, all areas, the largest maxDets), as detectron2 reports it."""
        out: dict[int, float | None] = {}
        for k, c in enumerate(self.categories):
            p = self.precision[:, :, k, 0, -1]
            out[c.id] = float(np.mean(p[p > -1])) if np.any(p > -1) else None
        return out

    def to_dict(self) -> dict[str, Any]:
        """``stats`` in summarize() order, the same under names, and AP per category."""
        stats = self.stats()
        return {
            "iou_type": self.params.iou_type,
            "stats": stats,
            **dict(zip(STAT_NAMES, stats, strict=True)),
            "per_class": {
                c.id: {"name": c.name, "AP": ap}
                for c, ap in zip(self.categories, self.per_category_ap().values(), strict=True)
            },
            "images": self.images,
        }


def _accumulate_one(scores: Any, matched: Any, ignored: Any, rank: Any, npig: int, max_det: int) -> tuple[Any, Any]:
    """Precision (T, R) and recall (T,) of one (category, area range, maxDets) cell."""
    keep = rank < max_det
    order = np.argsort(-scores[keep], kind="mergesort")
    dtm = matched[:, keep][:, order]
    dtig = ignored[:, keep][:, order]
    tps = dtm & ~dtig
    fps = ~dtm & ~dtig
    tp_sum = np.cumsum(tps, axis=1).astype(float)
    fp_sum = np.cumsum(fps, axis=1).astype(float)
    t, nd = tp_sum.shape
    rc = tp_sum / npig
    pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    recall = rc[:, -1] if nd else np.zeros(t)
    pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1] if nd else pr
    precision = np.zeros((t, len(REC_THRS)))
    for i in range(t):
        inds = np.searchsorted(rc[i], REC_THRS, side="left")
        ok = inds < nd
        precision[i, ok] = pr[i, inds[ok]]
    return precision, recall


def accumulate(evals: list[ImageEval], categories: tuple[Category, ...], params: Params) -> InstanceResult:
    """COCOeval.accumulate over per-image results given in ascending image id order."""
    t, r, k_n, a_n, m_n = len(IOU_THRS), len(REC_THRS), len(categories), len(params.area_rng), len(params.max_dets)
    precision = -np.ones((t, r, k_n, a_n, m_n))
    recall = -np.ones((t, k_n, a_n, m_n))
    for k, cat in enumerate(categories):
        parts = [e.by_category[cat.id] for e in evals if cat.id in e.by_category]
        if not parts:
            continue
        scores = np.concatenate([p[0] for p in parts])
        rank = np.concatenate([np.arange(len(p[0])) for p in parts])
        for a in range(a_n):
            matched = np.concatenate([p[1][a] for p in parts], axis=1)
            ignored = np.concatenate([p[2][a] for p in parts], axis=1)
            npig = int(sum(int(p[3][a]) for p in parts))
            if npig == 0:
                continue
            for m, max_det in enumerate(params.max_dets):
                precision[:, :, k, a, m], recall[:, k, a, m] = _accumulate_one(
                    scores, matched, ignored, rank, npig, max_det
                )
    return InstanceResult(categories, params, precision, recall, len(evals))


@dataclass(frozen=True)
class _Job:
    gt: Any  # a Sample, or Objects already built
    dt: Objects
    params: Params


def _image_job(job: _Job) -> ImageEval:
    gt = job.gt if isinstance(job.gt, Objects) else gt_objects(job.gt.load(), job.params.iou_type)
    return evaluate_image(gt, job.dt, job.params)


def gt_objects(ann: Any, iou_type: str) -> Objects:
    """Ground truth of a loaded annotation: RLEs (or boxes), JSON areas, crowd flags, ids."""
    from .. import views

    segs = ann.segments
    if ann.rles is not None:
        rles = list(ann.rles)
    else:  # a panoptic or semantic source: its segments' masks, areas from the pixels
        res = views.resolve(ann)
        rles, segs = res.runs().rles(), res.measured()
    shapes = rles if iou_type == "segm" else [list(b) for b in segs.bbox]
    return Objects(segs.id, segs.category_id, segs.area, segs.iscrowd, shapes)


def evaluate(
    gt_samples: list[Any],
    detections: dict[int, Objects],
    categories: tuple[Category, ...],
    params: Params,
    *,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> InstanceResult:
    """COCOeval (evaluate + accumulate) over ground-truth samples in ascending image id order."""
    empty = Objects(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool), [], np.zeros(0))
    samples = sorted(gt_samples, key=lambda s: s.image.id)
    items = [_Job(s, detections.get(s.image.id, empty), params) for s in samples]
    evals = []
    for e in imap(_image_job, items, jobs=jobs_for(len(items), jobs)):
        evals.append(e)
        if progress is not None:
            progress(1)
    return accumulate(evals, tuple(sorted(categories, key=lambda c: c.id)), params)
