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
  would put the images of a resampled dataset whose copies have adjacent ids
  (:mod:`.bootstrap_ap`, its functions re-exported here).

"Paired": A and B are scored on the same draws (:func:`indices`, one seed), so the
interval of ``B - A`` holds what the images have in common out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from .bootstrap_ap import F64, I64, InstanceStats, instance, instance_stats

__all__ = [
    "F64",
    "I64",
    "InstanceStats",
    "counts_of",
    "indices",
    "instance",
    "instance_stats",
    "interval",
    "panoptic",
    "percentiles",
    "semantic",
    "semantic_stats",
]


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
