"""The paired bootstrap of COCO AP and AR (:mod:`.bootstrap`, docs/compare.md): COCOeval's
``accumulate`` + ``summarize`` re-run on each bootstrap sample from the evaluation's own
per-image results, without scoring an image again.

A sample is each image's count (``counts``, a row of a ``(B, N)`` matrix). For AP, each
detection weighs its image's count: TP and FP cumulate with those weights, the precision is
made non-increasing from the right, and a point is sampled by the recall thresholds its
recall reaches and the point before it did not (COCOeval's ``searchsorted(rc, recThrs,
'left')``). A detection drawn w times is one point whose TP jumps by w: the w points
COCOeval would have in between have the same interpolated precision (a TP raises precision,
so the last of the copies dominates the others), and an FP copy reaches no threshold.
Likewise within a run of TPs the precision never falls, so only the run's end is a point.
That loop is the kernel ``coco_bootstrap`` (segtool/_kernels.c, and its numpy twin), called
once per category on every sample. The AR lines are sums of each image's TP counts: one
matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import kernels
from ..model import Category
from ..parallel import imap
from .instance_accumulate import REC_THRS, Collected
from .instance_result import Params

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]


@dataclass
class CategoryFlags:
    """One category's detections in COCOeval's accumulate order (score, then image order),
    at most maxDets per image: each one's image index, and its TP and ignored flags per IoU
    threshold (area range ``all``; an ignored detection is neither TP nor FP), ``(T, D)``
    contiguous, as ``coco_bootstrap`` reads them."""

    image: I64
    tp: U8
    ignored: U8

    @property
    def hits(self) -> bool:
        """Whether some detection is a TP at some threshold (else every precision is 0)."""
        return bool(self.tp.any())


@dataclass
class InstanceStats:
    """What the AP bootstrap needs: per category its :class:`CategoryFlags`, per image its
    non-ignored ground truth per category and area range (``areas``, ``(N, K, A)``); per AR
    line of ``summarize`` (name, each image's TP count per category summed over the
    ``thresholds`` ``(N, K)``, its area range)."""

    runs: list[CategoryFlags]
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


def _instance_sums(item: tuple[F64, list[CategoryFlags], F64]) -> F64:
    """A share of the samples (``counts``, the categories' flags, their ``npig``): per sample
    and IoU threshold, the interpolated precisions summed over recall thresholds and
    categories, a category at a time in category order (``coco_bootstrap`` adds into ``ap``)."""
    counts, runs, npig = item
    t_n = len(runs[0].tp) if runs else len(REC_THRS)
    ap = np.zeros((counts.shape[0], t_n))
    weights = np.ascontiguousarray(counts.T, np.uint32)  # (N, b): each image's count per sample
    per_cat = np.ascontiguousarray(npig.T, np.int64)  # (K, b): exact, sums of integers
    for k, run in enumerate(runs):
        if run.hits and (per_cat[k] > 0).any():  # else every precision sampled is 0
            kernels.coco_bootstrap(weights, run.image, run.tp, run.ignored, per_cat[k], REC_THRS, ap)
    return ap


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
        tp = np.ascontiguousarray(m & ~ig, np.uint8)
        runs.append(CategoryFlags(np.ascontiguousarray(image[sel], np.int64), tp, np.ascontiguousarray(ig, np.uint8)))
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
