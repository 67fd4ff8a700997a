"""PQ error analysis (``eval panoptic --errors``): a cause for every unmatched segment and
the PQ gained if each kind of error were fixed (docs/metrics/pq-errors.md, the definitions).

Computed in PQ's own pass: a worker classifies one image's false negatives and false
positives from the overlap table PQ has just counted and the matching it has just made
(:func:`segtool.metrics.panoptic.table_stat` hands both over), and sends back one small
record: a row per unmatched segment (its cause, side, category row and what the cause's
oracle changes in that category's TP, FP, FN and summed IoU). The main process adds the
rows up in image order (bit-identical for any ``--jobs``) and re-averages PQ as
panopticapi does with each cause's changes applied.

Causes, assigned in this order (a segment takes the first that applies):
``cls`` (IoU > 0.5 with a segment of another category), ``merge`` (a prediction covering
two or more ground-truth segments of its class), ``split`` (a ground-truth segment in
which two or more predictions of its class lie), ``loc`` (a same-class pair, one covering
or lying in the other, IoU <= 0.5), then ``missed`` (ground truth) or ``bkg`` (prediction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import SegtoolError
from ..model import Segments
from . import pq_confusion
from .panoptic_result import PanopticResult, PQStat

if TYPE_CHECKING:
    from .panoptic import Matching, Pairs, Positions

CAUSES = ("cls", "merge", "split", "loc", "missed", "bkg")
CLS, MERGE, SPLIT, LOC, MISSED, BKG = range(len(CAUSES))
GT, PRED = 0, 1  # the side of an error row
I64 = npt.NDArray[np.int64]


@dataclass
class ImageErrors:
    """One image's record: ``rows`` (cause, side, category row, dTP, dFP, dFN) per unmatched
    segment with ``iou`` its dIoU (its oracle's changes to its own category), and ``cells``
    the segment-level confusion cells (ground-truth, predicted category row; -1 background)."""

    rows: npt.NDArray[np.int64]
    iou: npt.NDArray[np.float64]
    cells: npt.NDArray[np.int64]


@dataclass
class AnalysedStat(PQStat):
    """An image's PQ statistic carrying its error record back from the worker."""

    record: ImageErrors | None = None


@dataclass
class _Image:
    """The arrays one image's classification reads (every pair of segments that meet)."""

    gi: npt.NDArray[np.int64]
    pi: npt.NDArray[np.int64]
    meet: npt.NDArray[np.int64]
    iou: npt.NDArray[np.float64]
    gt_area: npt.NDArray[np.float64]
    pred_solid: npt.NDArray[np.int64]  # prediction pixels off ground-truth void
    rows: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)
    ious: list[float] = field(default_factory=list)

    def add(self, cause: int, side: int, row: int, d: tuple[int, int, int], iou: float = 0.0) -> None:
        self.rows.append((cause, side, row, *d))
        self.ious.append(iou)


def overlap(table: I64 | Pairs) -> tuple[I64, I64, I64, I64, I64, I64]:
    """(gt rows, pred columns, pixels) of the segment pairs that meet (0-based), the
    predictions' areas and pixels on void, the ground truth's pixels: from either of PQ's
    tables, read as :func:`segtool.metrics.panoptic.match` reads them."""
    if isinstance(table, np.ndarray):
        inner = table[1:, 1:]
        gi, pi = np.nonzero(inner)
        return gi, pi, inner[gi, pi], table.sum(axis=0)[1:], table[0, 1:], table.sum(axis=1)[1:]
    pred_area, gt_pixels = table.sums(rows=False)[1:], table.sums(rows=True)[1:]
    on_void = np.zeros(table.m, np.int64)
    void = (table.g == 0) & (table.p > 0)
    on_void[table.p[void] - 1] = table.count[void]
    keep = (table.g > 0) & (table.p > 0)
    return table.g[keep] - 1, table.p[keep] - 1, table.count[keep], pred_area, on_void, gt_pixels


def classify(
    gseg: Segments, pseg: Segments, table: npt.NDArray[np.int64] | Pairs, m: Matching, position: Positions
) -> ImageErrors:
    """One image's record (the causes in this module's docstring, in that order)."""
    gi, pi, meet, pred_area, on_void, gt_pixels = overlap(table)
    gt_area = np.where(gseg.area > 0, gseg.area, gt_pixels).astype(np.float64)
    solid = pred_area - on_void
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = meet / (pred_area[pi] + gt_area[gi] - meet - on_void[pi])
    im = _Image(gi, pi, meet, iou, gt_area, solid)
    fn, fp = m.gt_missed.copy(), m.pred_false.copy()
    counted = fp.copy()
    counted[m.pi] = True
    gcat, pcat = gseg.category_id, pseg.category_id
    grow, prow = position(gcat), position(pcat)
    valid = ~gseg.iscrowd[gi] & counted[pi]
    same = valid & (gcat[gi] == pcat[pi])
    covers = same & (2 * meet > gt_area[gi])
    lies = same & (2 * meet > solid[pi])
    gcause, pcause = np.full(len(gseg), -1), np.full(len(pseg), -1)
    partner = np.full(len(gseg), -1)
    # 1. cls: a false negative and a false positive of another class, IoU > 0.5
    for k in _greedy(np.flatnonzero(valid & ~same & (iou > 0.5) & fn[gi] & fp[pi]), iou):
        g, p = int(gi[k]), int(pi[k])
        if gcause[g] < 0 and pcause[p] < 0:
            gcause[g], pcause[p], partner[g] = CLS, CLS, p
            im.add(CLS, GT, int(grow[g]), (1, 0, -1), float(iou[k]))
            im.add(CLS, PRED, int(prow[p]), (0, -1, 0))
    # 2. merge: a prediction covering two or more ground-truth segments of its class
    merging = np.bincount(pi[covers], minlength=len(pseg)) >= 2
    for p in np.flatnonzero(merging & fp & (pcause < 0)).tolist():
        pcause[p] = MERGE
        im.add(MERGE, PRED, int(prow[p]), (0, -1, 0))
    for k in np.flatnonzero(covers & merging[pi]).tolist():
        g = int(gi[k])
        if fn[g] and gcause[g] < 0:
            gcause[g] = MERGE
            im.add(MERGE, GT, int(grow[g]), (1, 0, -1), float(meet[k] / gt_area[g]))
    # 3. split: two or more predictions of its class (matched, or false positives with no
    # cause yet) lie in a ground-truth segment
    part = lies & (pcause[pi] < 0)
    _split(im, gseg, part, fn, fp, gcause, pcause, grow, prow)
    # 4. loc: what is left of a same-class pair, one covering or lying in the other
    free = (covers | lies) & fn[gi] & (gcause[gi] < 0) & fp[pi] & (pcause[pi] < 0)
    for k in _greedy(np.flatnonzero(free), iou):
        g, p = int(gi[k]), int(pi[k])
        if gcause[g] < 0 and pcause[p] < 0:
            gcause[g], pcause[p] = LOC, LOC
            im.add(LOC, GT, int(grow[g]), (1, 0, -1), float(iou[k]))
            im.add(LOC, PRED, int(prow[p]), (0, -1, 0))
    # 5. what no cause explains
    for g in np.flatnonzero(fn & (gcause < 0)).tolist():
        im.add(MISSED, GT, int(grow[g]), (0, 0, -1))
    for p in np.flatnonzero(fp & (pcause < 0)).tolist():
        im.add(BKG, PRED, int(prow[p]), (0, -1, 0))
    cells = pq_confusion.image_cells(grow, prow, m.gi, m.pi, fn, fp, partner)
    rows = np.array(im.rows, np.int64).reshape(-1, 6)
    return ImageErrors(rows, np.array(im.ious, np.float64), cells)


def _greedy(cand: npt.NDArray[np.int64], iou: npt.NDArray[np.float64]) -> list[int]:
    """Candidate pairs by IoU, highest first (ties: ground-truth row, then prediction
    column, the pairs' order): the one-to-one greedy assignment's visiting order."""
    order: list[int] = cand[np.argsort(-iou[cand], kind="stable")].tolist()
    return order


def _split(
    im: _Image,
    gseg: Segments,
    part: npt.NDArray[np.bool_],
    fn: npt.NDArray[np.bool_],
    fp: npt.NDArray[np.bool_],
    gcause: npt.NDArray[np.int64],
    pcause: npt.NDArray[np.int64],
    grow: npt.NDArray[np.int64],
    prow: npt.NDArray[np.int64],
) -> None:
    """Split errors: each ground-truth segment with two or more parts; its unmatched parts
    are split false positives, and the segment, if a false negative with no cause yet, is
    credited with the IoU of the union of its parts."""
    parts = np.bincount(im.gi[part], minlength=len(gseg))
    for g in np.flatnonzero(parts >= 2).tolist():
        ks = np.flatnonzero(part & (im.gi == g))
        ps = im.pi[ks]
        for p in ps[fp[ps]].tolist():
            pcause[p] = SPLIT
            im.add(SPLIT, PRED, int(prow[p]), (0, -1, 0))
        if fn[g] and gcause[g] < 0:
            gcause[g] = SPLIT
            inter = float(im.meet[ks].sum())
            union = float(im.pred_solid[ps].sum()) + float(im.gt_area[g]) - inter
            im.add(SPLIT, GT, int(grow[g]), (1, 0, -1), inter / union)


def missing(gseg: Segments, position: Positions) -> ImageErrors:
    """An image without a prediction (``--allow-missing``): every non-crowd segment missed."""
    g = np.flatnonzero(~gseg.iscrowd)
    rows = np.zeros((len(g), 6), np.int64)
    rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 5] = MISSED, GT, position(gseg.category_id[g]), -1
    cells = np.stack([position(gseg.category_id[g]), np.full(len(g), pq_confusion.BACKGROUND)], axis=1)
    return ImageErrors(rows, np.zeros(len(g)), cells.astype(np.int64))


@dataclass
class Totals:
    """The records of every image so far, folded in image order (memory flat in the number
    of images): each cause's changes per category, unmatched segments per (side, cause,
    category), the confusion counts (category rows, background last)."""

    counts: npt.NDArray[np.int64]  # (causes, 3, k): dTP, dFP, dFN
    iou: npt.NDArray[np.float64]  # (causes, k): dIoU
    segments: npt.NDArray[np.int64]  # (2, causes, k): FNs (GT), FPs (PRED)
    cells: npt.NDArray[np.int64]  # (k + 1, k + 1)

    @classmethod
    def zeros(cls, k: int) -> Totals:
        c = len(CAUSES)
        return cls(
            np.zeros((c, 3, k), np.int64),
            np.zeros((c, k)),
            np.zeros((2, c, k), np.int64),
            np.zeros((k + 1, k + 1), np.int64),
        )

    def fold(self, record: ImageErrors) -> None:
        """Add one image's record (its own sums first: the same for any ``--jobs``)."""
        rows, k = record.rows, self.iou.shape[1]
        counts = np.zeros_like(self.counts)
        for j in range(3):
            np.add.at(counts[:, j], (rows[:, 0], rows[:, 2]), rows[:, 3 + j])
        iou = np.zeros_like(self.iou)
        np.add.at(iou, (rows[:, 0], rows[:, 2]), record.iou)
        self.counts += counts
        self.iou += iou
        np.add.at(self.segments, (rows[:, 1], rows[:, 0], rows[:, 2]), 1)
        index = np.where(record.cells < 0, k, record.cells)
        self.cells += np.bincount(index[:, 0] * (k + 1) + index[:, 1], minlength=(k + 1) ** 2).reshape(k + 1, k + 1)


class PQAnalyses:
    """Which analyses of PQ's pass to make (``errors``, ``confusion``) and, in the main
    process, the images' records folded (:class:`Totals`). Pickled to a worker it travels
    without them.

    Usage: ``a = PQAnalyses(errors=True, confusion=True)``,
    ``r = evaluate_panoptic(gt, pred, analyses=a)``, then ``a.to_dict(r)``.
    """

    def __init__(self, errors: bool = False, confusion: bool = False) -> None:
        self.errors, self.confusion = errors, confusion
        self.totals: Totals | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "totals": None}

    def __bool__(self) -> bool:
        return self.errors or self.confusion

    def bind(self, k: int, boundary: float | None) -> None:
        """Start a run over ``k`` categories; refuse what the analyses cannot score (one
        line, exit 2)."""
        if boundary is not None:
            raise SegtoolError("--errors and --confusion analyse mask PQ, not Boundary PQ: drop --boundary")
        self.totals = Totals.zeros(k)

    def image(
        self, stat: PQStat, gseg: Segments, pseg: Segments | None, table: Any, m: Any, position: Positions
    ) -> PQStat:
        """In the worker: ``stat`` with this image's record (``pseg`` None: no prediction)."""
        record = missing(gseg, position) if pseg is None else classify(gseg, pseg, table, m, position)
        return AnalysedStat(stat.tp, stat.fp, stat.fn, stat.iou, record)

    def add(self, stat: PQStat) -> None:
        """In the main process, in image order: fold the image's record."""
        if isinstance(stat, AnalysedStat) and stat.record is not None and self.totals is not None:
            self.totals.fold(stat.record)

    def to_dict(self, result: PanopticResult) -> dict[str, Any]:
        """``pq_errors`` and ``confusion``, as asked."""
        totals = self.totals or Totals.zeros(len(result.categories))
        out: dict[str, Any] = {}
        if self.errors:
            out["pq_errors"] = summary(totals, result)
        if self.confusion:
            out["confusion"] = {"iou_threshold": 0.5, **pq_confusion.matrix(totals.cells, result.categories)}
        return out


def deltas(records: list[ImageErrors], k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Every cause's changes per category: ``(causes, 3, k)`` dTP, dFP, dFN and ``(causes,
    k)`` dIoU, added in image order."""
    totals = Totals.zeros(k)
    for r in records:
        totals.fold(r)
    return totals.counts, totals.iou


def fixed(stat: PQStat, counts: npt.NDArray[np.int64], iou: npt.NDArray[np.float64]) -> PQStat:
    """``stat`` with the changes of the causes summed in ``counts``/``iou`` applied."""
    return PQStat(stat.tp + counts[0], stat.fp + counts[1], stat.fn + counts[2], stat.iou + iou)


def summary(totals: Totals, result: PanopticResult) -> dict[str, Any]:
    """Counts per cause and the PQ gained by fixing each (and all), overall (All, Things,
    Stuff) and per class: PQ re-averaged as panopticapi averages it."""
    cats = result.categories
    counts, iou = totals.counts, totals.iou
    fixes = {name: fixed(result.stat, counts[c], iou[c]) for c, name in enumerate(CAUSES)}
    fixes["all"] = fixed(result.stat, counts.sum(axis=0), iou.sum(axis=0))
    base = {g: result.average(t) for g, t in (("All", None), ("Things", True), ("Stuff", False))}
    gain: dict[str, dict[str, float]] = {g: {} for g in base}
    per_class: dict[int, dict[str, Any]] = {
        c.id: {"name": c.name, "false_negatives": {}, "false_positives": {}, "gain": {}} for c in cats
    }
    for name, stat in fixes.items():
        after = PanopticResult(cats, stat, result.images)
        for group, isthing in (("All", None), ("Things", True), ("Stuff", False)):
            avg, per = after.average(isthing)
            gain[group][name] = avg["pq"] - base[group][0]["pq"]
            if isthing is None:
                left = stat.tp + stat.fp + stat.fn > 0  # a category left with nothing: no PQ, no gain
                for j, c in enumerate(cats):
                    d = per[c.id]["pq"] - base["All"][1][c.id]["pq"]
                    per_class[c.id]["gain"][name] = d if left[j] else None
    fn_, fp_ = totals.segments[GT], totals.segments[PRED]
    for j, c in enumerate(cats):
        per_class[c.id]["false_negatives"] = {n: int(fn_[i, j]) for i, n in enumerate(CAUSES) if n != "bkg"}
        per_class[c.id]["false_positives"] = {n: int(fp_[i, j]) for i, n in enumerate(CAUSES) if n != "missed"}
    return {
        "causes": list(CAUSES),
        "false_negatives": {n: int(fn_[i].sum()) for i, n in enumerate(CAUSES) if n != "bkg"},
        "false_positives": {n: int(fp_[i].sum()) for i, n in enumerate(CAUSES) if n != "missed"},
        "gain": gain,
        "per_class": per_class,
    }
