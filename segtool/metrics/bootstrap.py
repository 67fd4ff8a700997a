"""A paired bootstrap over images, from per-image sufficient statistics (docs/compare.md).

A bootstrap sample is a multiset of the N images drawn with replacement; it is written as
``counts`` (how many times each image is drawn), a row of a ``(B, N)`` matrix. Each metric
is then a function of statistics *summed* over the multiset, so a sample costs a weighted
sum, never a second look at pixels:

* PQ: per image and category (IoU sum, TP, FP, FN), summed: ``counts @ stat``;
* semantic: per image and class (intersection, ground-truth pixels, predicted pixels) and
  labelled pixels, summed the same way;
* COCO AP: COCOeval's per-image evaluations (every detection's matched/ignored flags per
  IoU threshold, kept by the evaluation itself) re-accumulated with each detection weighted
  by its image's count: the copies of an image sit together in the score order, as COCOeval
  would put the images of a resampled dataset whose copies have adjacent ids.

"Paired": A and B are scored on the same draws (:func:`indices`, one seed), so the
interval of ``B - A`` holds what the images have in common out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..model import Category
from ..parallel import imap
from .instance_accumulate import REC_THRS, Collected
from .instance_result import Params

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
CHUNK = 1 << 20  # elements of one (samples, thresholds, detections) block of the AP bootstrap


def indices(n: int, samples: int, seed: int) -> I64:
    """The draws: ``(samples, n)`` image indices, uniform with replacement, from
    ``numpy.random.default_rng(seed)`` (the same seed gives the same draws)."""
    if n <= 0 or samples <= 0:
        return np.zeros((max(samples, 0), max(n, 0)), np.int64)
    return np.random.default_rng(seed).integers(0, n, size=(samples, n), dtype=np.int64)


def counts_of(draws: I64, n: int) -> F64:
    """Each draw's multiset as counts per image: ``(samples, n)``, float (for matrix products;
    integers up to 2**53 are exact)."""
    b = draws.shape[0]
    flat = (draws + n * np.arange(b, dtype=np.int64)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def interval(values: F64, level: float) -> list[float] | None:
    """The percentile interval: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of
    the bootstrap values (numpy's linear interpolation), samples where the metric is
    undefined (NaN) left out; None when every one is."""
    kept = values[~np.isnan(values)]
    if not kept.size:
        return None
    lo, hi = np.percentile(kept, percentiles(level))
    return [float(lo), float(hi)]


def percentiles(level: float) -> list[float]:
    """The percentiles of a ``level`` interval (2.5 and 97.5 for 0.95), rounded to 1e-9 so
    that 0.95 gives 2.5, not 2.500000000000002."""
    return [round(50 * (1 - level), 9), round(50 * (1 + level), 9)]


# --- panoptic -------------------------------------------------------------------------


def panoptic(counts: F64, stat: Mapping[str, F64], isthing: npt.NDArray[np.bool_]) -> dict[str, F64]:
    """PQ/SQ/RQ (All, Things ``_th``, Stuff ``_st``) of each sample, as panopticapi's
    ``pq_average`` on the summed statistics. ``stat``: ``tp``, ``fp``, ``fn``, ``iou``, each
    ``(N, K)``; a group without a category seen in a sample scores 0, as segtool's eval."""
    tp, fp, fn, iou = (counts @ stat[k] for k in ("tp", "fp", "fn", "iou"))
    seen = (tp + fp + fn) > 0
    denom = np.where(seen, tp + 0.5 * fp + 0.5 * fn, 1.0)
    per = {
        "PQ": iou / denom,
        "SQ": np.where(tp > 0, iou / np.maximum(tp, 1), 0.0),
        "RQ": tp / denom,
    }
    out: dict[str, F64] = {}
    for suffix, group in (("", None), ("_th", True), ("_st", False)):
        cols = np.ones(isthing.shape, bool) if group is None else isthing == group
        used = seen & cols[None, :]
        n = used.sum(axis=1)
        for name, values in per.items():
            total = np.where(used, values, 0.0).sum(axis=1)
            out[name + suffix] = np.where(n > 0, total / np.maximum(n, 1), 0.0)
    return out


# --- semantic -------------------------------------------------------------------------


def semantic_stats(confusion: npt.NDArray[np.int64]) -> dict[str, F64]:
    """One image's ``(K, K + 1)`` confusion matrix reduced to what the averages need:
    ``tp``, ``gt`` (ground-truth pixels, the unlabelled column included), ``pred``."""
    cm = confusion
    return {
        "tp": np.diag(cm[:, :-1]).astype(np.float64),
        "gt": cm.sum(axis=1).astype(np.float64),
        "pred": cm[:, :-1].sum(axis=0).astype(np.float64),
    }


def semantic(counts: F64, stat: Mapping[str, F64]) -> dict[str, F64]:
    """mIoU, fwIoU, pixel and mean accuracy of each sample, as :class:`.semantic.SemanticResult`
    on the summed matrix; ``stat``: ``tp``, ``gt``, ``pred``, each ``(N, K)``."""
    tp, gt, pred = (counts @ stat[k] for k in ("tp", "gt", "pred"))
    union = gt + pred - tp
    has_iou, has_gt = union > 0, gt > 0
    iou = np.where(has_iou, tp / np.where(has_iou, union, 1.0), 0.0)
    acc = np.where(has_gt, tp / np.where(has_gt, gt, 1.0), 0.0)
    total = gt.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    n_iou, n_gt = has_iou.sum(axis=1), has_gt.sum(axis=1)
    return {
        "mIoU": np.where(n_iou > 0, iou.sum(axis=1) / np.maximum(n_iou, 1), 0.0),
        "fwIoU": np.where(total > 0, (np.where(has_gt, gt, 0.0) / safe[:, None] * iou).sum(axis=1), 0.0),
        "pixel_accuracy": np.where(total > 0, tp.sum(axis=1) / safe, 0.0),
        "mean_accuracy": np.where(n_gt > 0, acc.sum(axis=1) / np.maximum(n_gt, 1), 0.0),
    }


# --- instance (COCO AP) ---------------------------------------------------------------


@dataclass
class CategoryRuns:
    """One category's detections in COCOeval's accumulate order (score, then image order),
    at most maxDets per image: each one's image index, and its TP and FP flags per IoU
    threshold (area range ``all``; an ignored detection is neither)."""

    image: I64
    tp: npt.NDArray[np.bool_]  # (T, D)
    ignored: npt.NDArray[np.bool_]  # (T, D): neither TP nor FP

    def __post_init__(self) -> None:
        # Per threshold, the runs of TPs: a run ends at a TP whose next data point (not
        # ignored) is an FP or none. Within a run the precision never falls (each TP adds
        # the same weight to TP and to the weight seen), so the interpolated precision of
        # every point of a run is that of its last point, and the recall thresholds the
        # run reaches are all sampled there: only run ends are points of the curves.
        # Rows of every threshold, stacked: ``end`` (a run's last TP), ``before`` (the
        # last FP before the run, -1: none); the TP weight of a run is the weight seen
        # at ``end`` less the weight seen at ``before``.
        ends, befores, lengths, self.ig = [], [], [], []
        for t in range(len(self.tp)):
            kept = np.flatnonzero(~self.ignored[t])
            tp = self.tp[t, kept]
            last = tp & np.append(~tp[1:], True)
            fps = np.append(kept[~tp], -1)  # the FPs' places, then "none" (read at -1)
            before = fps[np.cumsum(~tp) - 1]  # each point's last FP so far
            ends.append(kept[last])
            befores.append(before[last])
            lengths.append(int(last.sum()))
            ig = np.flatnonzero(self.ignored[t])  # and the ignored before each end and each ``before``
            self.ig.append((ig, np.searchsorted(ig, ends[-1], "right"), np.searchsorted(ig, befores[-1], "right")))
        self.end = np.concatenate([np.zeros(0, np.int64), *ends]).astype(np.int64)
        self.before = np.concatenate([np.zeros(0, np.int64), *befores]).astype(np.int64)
        self.bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)  # rows of threshold t


@dataclass
class InstanceStats:
    """What the AP bootstrap needs: per category its :class:`CategoryRuns`, per image its
    non-ignored ground truth per category and area range (``areas``, ``(N, K, A)``); per AR
    line of ``summarize`` (name, each image's TP count per category summed over the
    ``thresholds`` ``(N, K)``, its area range)."""

    runs: list[CategoryRuns]
    areas: F64
    recall: list[tuple[str, F64, int]]
    thresholds: int


def instance(counts: F64, stats: InstanceStats, jobs: int = 1, memo: dict[str, Any] | None = None) -> dict[str, F64]:
    """AP (IoU .50:.95), AP50, AP75 and the AR lines of each sample, as COCOeval's
    ``accumulate`` + ``summarize`` on the multiset: categories without non-ignored ground
    truth in the sample left out of the means (NaN when none is left: COCOeval's -1).
    ``jobs``: worker processes, each taking a share of the samples. ``memo``: a dict kept
    across one comparison's calls (A's, B's): the ground truth's sums, the same, made once."""
    gt = _ground_truth_sums(counts, stats.areas, {} if memo is None else memo)  # (B, K, A)
    npig = np.ascontiguousarray(gt[:, :, 0])
    present = npig > 0
    parts = np.array_split(np.arange(counts.shape[0]), max(1, min(jobs, counts.shape[0])))
    items = [(counts[p], stats.runs, npig[p]) for p in parts if p.size]
    done = list(imap(_instance_sums, items, jobs=jobs, chunksize=1)) if items else []
    t_n = len(stats.runs[0].tp) if stats.runs else len(REC_THRS)
    ap = np.concatenate(done) if done else np.zeros((0, t_n))
    n = present.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # the mean over categories, recall thresholds
        per_t = ap * np.where(n > 0, 1.0 / (n * len(REC_THRS)), np.nan)[:, None]
    out = {"AP": per_t.mean(axis=1), "AP50": per_t[:, 0], "AP75": per_t[:, 5]}
    if stats.recall:  # every AR line's TP counts summed over the multiset in one product
        k_n = npig.shape[1]
        tps = _weighted_sums(counts, np.concatenate([hits for _, hits, _ in stats.recall], axis=1))
        for j, (name, _, area) in enumerate(stats.recall):
            out[name] = _recall(tps[:, j * k_n : (j + 1) * k_n], gt[:, :, area], stats.thresholds)
    return out


def _ground_truth_sums(counts: F64, areas: F64, memo: dict[str, Any]) -> F64:
    """``(B, K, A)``: the non-ignored ground truth per category and area range summed over
    each sample (exact: integers); ``memo``'s when it holds these counts' sums of ``areas``."""
    held = memo.get("ground_truth")
    if held is not None and held[0] is counts and np.array_equal(held[1], areas):
        return held[2]  # type: ignore[no-any-return]
    n_img, k_n, a_n = areas.shape
    out = _weighted_sums(counts, areas.reshape(n_img, k_n * a_n)).reshape(-1, k_n, a_n)
    memo["ground_truth"] = (counts, areas, out)
    return out


def _recall(tp: F64, n: F64, t_n: int) -> F64:
    """One AR line per sample: recall per category and threshold averaged over the categories
    with ground truth ``n`` (NaN when none has: COCOeval's -1); ``tp``: the TP counts summed
    over the ``t_n`` thresholds (a category's recalls share ``n``), ``(B, K)``."""
    has = n > 0
    rec = np.where(has, tp / np.where(has, n, 1.0), 0.0).sum(axis=1)
    cells = has.sum(axis=1) * t_n
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cells > 0, rec / cells, np.nan)


def _weighted_sums(counts: F64, values: F64) -> F64:
    """``counts @ values`` for counts and values that are small integers: over the rows and
    columns that are not all zero, in single precision when every sum is below 2**24 (so
    exact: an integer sum of products of integers), which halves BLAS' time."""
    rows, cols = np.flatnonzero(values.any(axis=1)), np.flatnonzero(values.any(axis=0))
    out = np.zeros((counts.shape[0], values.shape[1]))
    if not rows.size or not cols.size:
        return out
    part = values[np.ix_(rows, cols)]
    exact = float(counts.max(initial=0.0)) * float(part.sum(axis=0).max()) < 2**24
    dtype = np.float32 if exact else np.float64
    out[:, cols] = counts[:, rows].astype(dtype) @ part.astype(dtype)
    return out


def _instance_sums(item: tuple[F64, list[CategoryRuns], F64]) -> F64:
    """A share of the samples (``counts``, the runs, their ``npig``): per sample and IoU
    threshold, the interpolated precisions summed over recall thresholds and categories."""
    counts, runs, npig = item
    b = counts.shape[0]
    t_n = len(runs[0].tp) if runs else len(REC_THRS)
    ap = np.zeros((b, t_n))
    tables = _Tables()
    weights = np.ascontiguousarray(counts.T, np.int32)  # (N, b): each image's count per sample
    for k, run in enumerate(runs):
        if not len(run.end) or not (npig[:, k] > 0).any():
            continue  # no TP anywhere: every precision sampled is 0
        step = max(1, CHUNK // max(1, len(run.end), run.image.size + 1))
        for lo in range(0, b, step):
            ap[lo : lo + step] += _category_ap(weights[:, lo : lo + step], run, npig[lo : lo + step, k], tables)
    return ap


def _category_ap(weights: npt.NDArray[np.int32], run: CategoryRuns, npig: F64, tables: _Tables) -> F64:
    """Per sample and threshold: the sum over the 101 recall thresholds of the interpolated
    precision (COCOeval's ``q``); 0 where the sample has no ground truth of the category
    (the caller leaves those out).

    Each detection weighs its image's count: TP and FP cumulate with those weights, the
    precision is made non-increasing from the end, and a point is sampled by the recall
    thresholds its recall reaches and the point before it did not (COCOeval's
    ``searchsorted(rc, recThrs, 'left')``), so no (threshold, recall-threshold) table is
    made. A detection drawn w times is one point whose TP jumps by w: the w points COCOeval
    would have in between have the same interpolated precision (a TP raises precision, so
    the last of the copies dominates the others), and an FP copy reaches no threshold; the
    same holds for the TPs of a run (:class:`CategoryRuns`): only its end is a point.

    ``weights``: ``(N, b)``, each image's count in each sample. Arrays are (run ends,
    samples), the weights cumulated as 32-bit integers (exact: at most the detections times
    the largest count), a row at a time: numpy's ``cumsum`` along an axis other than the
    last walks memory with a stride, and along the last it cannot vectorise; a row-wise
    add runs at memory speed."""
    b, t_n = weights.shape[1], len(run.tp)
    seen = np.zeros((run.image.size + 1, b), np.int32)  # the weight seen up to each detection (row 0: none)
    seen[1:] = weights[run.image]
    _rows_cumsum(seen, seen)
    at_end, at_before = seen[run.end + 1], seen[run.before + 1]
    reached_at = tables.starts(npig)
    sums = np.zeros((b, t_n))
    for t in range(t_n):
        lo, hi = int(run.bounds[t]), int(run.bounds[t + 1])
        if lo == hi:
            continue
        ig, ig_end, ig_before = run.ig[t]
        if len(ig):  # the weight of ignored detections is not seen
            ig_seen = np.zeros((len(ig) + 1, b), np.int32)
            ig_seen[1:] = weights[run.image[ig]]
            _rows_cumsum(ig_seen, ig_seen)
            at_end[lo:hi] -= ig_seen[ig_end]
            at_before[lo:hi] -= ig_seen[ig_before]
        part = np.subtract(at_end[lo:hi], at_before[lo:hi], out=at_before[lo:hi])  # each run's TP weight
        _rows_cumsum(part, part)  # cumulated
        reached = tables.table.take(part + reached_at)
        first = np.empty_like(reached)  # the recall thresholds each run end reaches first
        first[0] = reached[0]
        np.subtract(reached[1:], reached[:-1], out=first[1:])
        pr = np.add(at_end[lo:hi], np.spacing(1), dtype=np.float64)  # COCOeval's tp / (tp + fp + eps)
        np.divide(part, pr, out=pr)
        for j in range(len(pr) - 2, -1, -1):
            np.maximum(pr[j], pr[j + 1], out=pr[j])
        sums[:, t] = np.einsum("kb,kb->b", pr, first)
    return np.where((npig > 0)[:, None], sums, 0.0)


def _rows_cumsum(values: npt.NDArray[Any], out: npt.NDArray[Any]) -> None:
    """``out = cumsum(values, axis=0)``, a row at a time (see :func:`_category_ap`)."""
    if values is not out:
        out[:1] = values[:1]
    for j in range(1, len(values)):
        np.add(values[j], out[j - 1], out=out[j])


class _Tables:
    """How many recall thresholds a recall ``tp / npig`` reaches (COCOeval's ``searchsorted``
    side), as doubles: a sample's TP count is an integer from 0 to its ``npig``, so each
    ``npig`` met gets a table of the ``npig + 1`` answers (the same division, the same
    doubles as COCOeval's ``tp / npig``), kept for the next category; a TP count looks its
    answer up at its sample's start."""

    def __init__(self) -> None:
        self.table = np.zeros(0)
        self.start: dict[int, int] = {}

    def starts(self, npig: F64) -> npt.NDArray[np.int32]:
        n = np.maximum(npig, 1.0).astype(np.int64)  # no ground truth: no TP either, tp is 0
        new = [int(v) for v in np.unique(n) if int(v) not in self.start]
        if new:
            parts = [self.table]
            at = len(self.table)
            for v in new:
                self.start[v] = at
                parts.append(np.searchsorted(REC_THRS, np.arange(v + 1) / v, "right").astype(np.float64))
                at += v + 1
            self.table = np.concatenate(parts)
        return np.array([self.start[v] for v in n.tolist()], np.int32)


def instance_stats(found: Collected, categories: tuple[Category, ...], params: Params, npig: F64) -> InstanceStats:
    """:class:`InstanceStats` of an evaluation's collected per-image results (what
    :func:`.instance_accumulate.keeping` hands over): each category's detections put in
    :func:`.instance_accumulate.accumulate`'s order (image rank, then a stable sort by
    score), cut at the last maxDets; ``npig``: ``(N, K, A)`` per image rank, category and
    area range."""
    cat_id, score, rank = found.columns()
    ids = np.array([c.id for c in categories], np.int64)
    at = np.minimum(np.searchsorted(ids, cat_id), max(len(ids) - 1, 0))
    cat = np.where(ids[at] == cat_id, at, len(ids)) if len(ids) else np.zeros(len(cat_id), np.int64)
    image = np.repeat(
        np.frombuffer(found.image_rank, np.int64) if len(found.image_rank) else np.zeros(0, np.int64),
        np.frombuffer(found.image_count, np.int64) if len(found.image_count) else np.zeros(0, np.int64),
    )
    rows = found.order()
    by_cat = np.argsort(cat if rows is None else cat[rows], kind="stable")
    if rows is not None:
        by_cat = rows[by_cat]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(cat, minlength=len(ids) + 1))])
    max_det = params.max_dets[-1]
    runs = []
    for k in range(len(ids)):
        sel = by_cat[bounds[k] : bounds[k + 1]]
        sel = sel[rank[sel] < max_det]
        sel = sel[np.argsort(-score[sel], kind="mergesort")]
        matched, ignored = found.flags_of(sel)
        m, ig = matched[0], ignored[0]  # area range "all"
        runs.append(CategoryRuns(image[sel], m & ~ig, ig))
    matched, ignored = found.flags_of(np.arange(len(cat)))
    hit = (matched & ~ignored).sum(axis=1)  # (A, D): at how many thresholds each is a TP
    recall = []
    n_img, n_cat = npig.shape[0], len(ids)
    for name, area, md in _recall_lines(params):
        use = (rank < md) & (cat < n_cat)
        flat = np.bincount(image[use] * n_cat + cat[use], hit[area][use], minlength=n_img * n_cat).astype(np.float64)
        recall.append((name, flat.reshape(n_img, n_cat), area))
    return InstanceStats(runs, npig, recall, matched.shape[1])


def _recall_lines(params: Params) -> list[tuple[str, int, int]]:
    """``summarize``'s AR lines as (name, area range index, maxDets): AR1, AR10, AR100 over
    every area, then ARs, ARm, ARl at the last maxDets."""
    m, area = params.max_dets, {lbl: i for i, lbl in enumerate(params.area_lbl)}
    return [
        ("AR1", area["all"], m[0]),
        ("AR10", area["all"], m[1]),
        ("AR100", area["all"], m[2]),
        ("ARs", area["small"], m[2]),
        ("ARm", area["medium"], m[2]),
        ("ARl", area["large"], m[2]),
    ]
