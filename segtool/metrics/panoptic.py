"""Panoptic quality, exactly as panopticapi's ``pq_compute`` defines it.

Per image, one overlap table of (ground-truth segment, predicted segment) pixel counts,
built by merging the two run-length tables (no per-pixel Python, no 64-bit ``np.unique``):

* a match is IoU > 0.5 within one category; the union leaves out the prediction's pixels on
  ground-truth void; crowd ground truth is never matched;
* ground-truth ``area`` comes from the JSON, prediction areas from the pixels (as panopticapi);
* unmatched non-crowd ground truth is a false negative;
* an unmatched prediction is a false positive unless more than half of it lies on void plus
  the crowd region of its category (the last crowd segment of that category, as panopticapi);
* categories with no TP, FP or FN are left out of the averages.

Per-image statistics are arrays over the ground-truth categories and add up in input order,
so ``--jobs 1`` and ``--jobs N`` give bit-identical numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SegtoolError
from ..formats import coco_panoptic
from ..model import Annotation, Category, Sample, Segments
from ..parallel import imap, jobs_for


@dataclass
class PQStat:
    """True/false positives, false negatives and summed IoU per category (arrays of K)."""

    tp: npt.NDArray[np.int64]
    fp: npt.NDArray[np.int64]
    fn: npt.NDArray[np.int64]
    iou: npt.NDArray[np.float64]

    @classmethod
    def zeros(cls, k: int) -> PQStat:
        """An empty statistic over ``k`` categories."""
        return cls(np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k))

    def __iadd__(self, other: PQStat) -> PQStat:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.iou += other.iou
        return self


def _crowd_by_category(gseg: Segments) -> dict[int, int]:
    """Category → index of its crowd segment; the last one listed wins, as in panopticapi."""
    out: dict[int, int] = {}
    for k in np.flatnonzero(gseg.iscrowd).tolist():
        out[int(gseg.category_id[k])] = k
    return out


@dataclass
class Matching:
    """How one image's predicted segments meet its ground truth, as panopticapi decides:
    matched pairs (IoU > 0.5, same category, gt not crowd), missed gt, false predictions."""

    gi: npt.NDArray[np.int64]  # matched ground-truth segment (0-based row)
    pi: npt.NDArray[np.int64]  # its predicted segment
    iou: npt.NDArray[np.float64]
    gt_missed: npt.NDArray[np.bool_]  # false negatives (crowd is never one)
    pred_false: npt.NDArray[np.bool_]  # false positives (not mostly on void or same-category crowd)


def match(gseg: Segments, pseg: Segments, table: npt.NDArray[np.int64]) -> Matching:
    """Match segments given their overlap table (``Runs.overlap``: row/column 0 is void).

    The IoU's union leaves out the prediction's pixels on ground-truth void and takes the
    ground truth's area from the JSON (panopticapi's arithmetic, in its order); an unmatched
    prediction lying more than half on void plus same-category crowd is not a false positive.
    """
    pred_area = table.sum(axis=0)[1:]
    # panopticapi's union takes the ground truth's area from the JSON; a segment listed
    # without one (area 0 here) falls back to its pixel count
    gt_area = np.where(gseg.area > 0, gseg.area, table.sum(axis=1)[1:])
    on_void = table[0, 1:]
    inter = table[1:, 1:]
    gi, pi = np.nonzero(inter)
    same = ~gseg.iscrowd[gi] & (gseg.category_id[gi] == pseg.category_id[pi])
    gi, pi = gi[same], pi[same]
    meet = inter[gi, pi]
    iou = meet / (pred_area[pi] + gt_area[gi] - meet - on_void[pi])
    hit = iou > 0.5
    gt_matched = np.zeros(len(gseg), bool)
    gt_matched[gi[hit]] = True
    pred_matched = np.zeros(len(pseg), bool)
    pred_matched[pi[hit]] = True
    crowd = _crowd_by_category(gseg)
    pred_false = np.zeros(len(pseg), bool)
    for p in np.flatnonzero(~pred_matched).tolist():
        cat = int(pseg.category_id[p])
        ignored = on_void[p] + (inter[crowd[cat], p] if cat in crowd else 0)
        pred_false[p] = ignored / pred_area[p] <= 0.5
    return Matching(gi[hit], pi[hit], iou[hit], ~gt_matched & ~gseg.iscrowd, pred_false)


def image_stat(gt: Annotation, pred: Annotation, position: npt.NDArray[np.int64]) -> PQStat:
    """The PQ statistic of one image; ``position[category_id]`` is the category's row."""
    return table_stat(gt.segments, pred.segments, gt.runs.overlap(pred.runs), position)


def table_stat(gseg: Segments, pseg: Segments, table: npt.NDArray[np.int64], position: npt.NDArray[np.int64]) -> PQStat:
    """The PQ statistic of one image from its overlap table (``Runs.overlap``'s layout)."""
    stat = PQStat.zeros(int(position.max(initial=-1)) + 1)
    m = match(gseg, pseg, table)
    order = np.lexsort((pseg.id[m.pi], gseg.id[m.gi]))  # panopticapi adds in (gt id, pred id) order
    rows = position[gseg.category_id[m.gi][order]]
    np.add.at(stat.tp, rows, 1)
    np.add.at(stat.iou, rows, m.iou[order])
    np.add.at(stat.fn, position[gseg.category_id[m.gt_missed]], 1)
    np.add.at(stat.fp, position[pseg.category_id[m.pred_false]], 1)
    return stat


@dataclass(frozen=True)
class _Pair:
    gt: Sample
    pred: Sample | None
    position: npt.NDArray[np.int64]


def _parsed(sample: Sample, position: npt.NDArray[np.int64]) -> Sample:
    """A streamed sample with its ``segments_info`` parsed (here, in the worker) and its
    categories checked against the ones PQ counts; other samples as they are."""
    record = sample.source
    if not isinstance(record, coco_panoptic.PanopticRecord):
        return sample
    source = record.resolve()
    cats = source.segments.category_id
    bad = (cats < 0) | (cats >= len(position))
    bad[~bad] = position[cats[~bad]] < 0
    if bad.any():
        raise SegtoolError(f"image {sample.image.id}: unknown category id {int(cats[bad][0])}", record.path)
    return Sample(sample.image, source)


def _pair_stat(pair: _Pair) -> PQStat:
    gt_sample = _parsed(pair.gt, pair.position)
    pred_sample = None if pair.pred is None else _parsed(pair.pred, pair.position)
    pair = _Pair(gt_sample, pred_sample, pair.position)
    if pair.pred is None:  # --allow-missing: every ground-truth segment is missed
        gt = pair.gt.load()
        stat = PQStat.zeros(int(pair.position.max(initial=-1)) + 1)
        missed = ~gt.segments.iscrowd
        np.add.at(stat.fn, pair.position[gt.segments.category_id[missed]], 1)
        return stat
    table = coco_panoptic.overlap(pair.gt, pair.pred)  # two panoptic PNGs: straight from the pixels
    if table is not None:
        return table_stat(pair.gt.source.segments, pair.pred.source.segments, table, pair.position)  # type: ignore[attr-defined]
    gt, pred = pair.gt.load(), pair.pred.load()
    if pred.rles is not None or pred.runs is None or gt.runs is None:
        raise SegtoolError(f"image {gt.image.id}: panoptic evaluation needs panoptic PNGs on both sides")
    return image_stat(gt, pred, pair.position)


@dataclass
class PanopticResult:
    """PQ statistics summed over images, with panopticapi's averages."""

    categories: tuple[Category, ...]
    stat: PQStat
    images: int
    missing: int = 0

    def average(self, isthing: bool | None) -> tuple[dict[str, Any], dict[int, dict[str, float]]]:
        """panopticapi's ``pq_average``: (``{pq, sq, rq, n}``, per-category ``{pq, sq, rq}``).

        With no category to average, panopticapi divides by zero; segtool reports 0.0, n = 0.
        """
        pq = sq = rq = 0.0
        n = 0
        per_class: dict[int, dict[str, float]] = {}
        for k, c in enumerate(self.categories):
            if isthing is not None and c.isthing != isthing:
                continue
            tp, fp, fn, iou = int(self.stat.tp[k]), int(self.stat.fp[k]), int(self.stat.fn[k]), float(self.stat.iou[k])
            if tp + fp + fn == 0:
                per_class[c.id] = {"pq": 0.0, "sq": 0.0, "rq": 0.0}
                continue
            n += 1
            pq_c = iou / (tp + 0.5 * fp + 0.5 * fn)
            sq_c = iou / tp if tp != 0 else 0
            rq_c = tp / (tp + 0.5 * fp + 0.5 * fn)
            per_class[c.id] = {"pq": pq_c, "sq": sq_c, "rq": rq_c}
            pq, sq, rq = pq + pq_c, sq + sq_c, rq + rq_c
        if n == 0:
            return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}, per_class
        return {"pq": pq / n, "sq": sq / n, "rq": rq / n, "n": n}, per_class

    def to_panopticapi(self) -> dict[str, Any]:
        """The structure panopticapi's ``pq_compute`` returns."""
        out: dict[str, Any] = {}
        for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
            out[name], per_class = self.average(isthing)
            if name == "All":
                out["per_class"] = per_class
        return out

    def to_dict(self) -> dict[str, Any]:
        """panopticapi's structure plus counts per category and the number of images."""
        out = self.to_panopticapi()
        for k, c in enumerate(self.categories):
            out["per_class"][c.id].update(
                name=c.name,
                isthing=c.isthing,
                tp=int(self.stat.tp[k]),
                fp=int(self.stat.fp[k]),
                fn=int(self.stat.fn[k]),
            )
        out["images"] = self.images
        out["missing_predictions"] = self.missing
        return out


def evaluate(
    pairs: Iterable[tuple[Sample, Sample | None]],
    categories: tuple[Category, ...],
    *,
    count: int | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> PanopticResult:
    """Sum the PQ statistics of (ground truth, prediction) sample pairs.

    ``pairs`` may be a stream (``count`` says how many, to size the worker pool): only a
    window of pairs is in flight at a time.
    """
    ids = [c.id for c in categories]
    position = np.full(max(ids, default=0) + 1, -1, dtype=np.int64)
    position[ids] = np.arange(len(ids))
    total = PQStat.zeros(len(ids))
    seen = missing = 0

    def items() -> Iterator[_Pair]:
        nonlocal seen, missing
        for g, p in pairs:
            seen += 1
            missing += p is None
            yield _Pair(g, p, position)

    n = count if count is not None else len(pairs)  # type: ignore[arg-type]
    # ~1.5 ms per pair: chunks of 32 (imap's default) keep the pool's per-task cost small in
    # the process that also reads both JSONs (measured: 1.31 s vs 1.66 s median with chunks
    # of 4, 1,000 pairs, --jobs 2)
    for stat in imap(_pair_stat, items(), jobs=jobs_for(n, jobs)):
        total += stat
        if progress is not None:
            progress(1)
    return PanopticResult(categories, total, seen, missing)
