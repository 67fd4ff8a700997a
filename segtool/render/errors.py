"""The error view: which predicted segments matched, which are false positives, which ground
truth segments were missed, colored over the photo.

Panoptic predictions (and semantic ones, seen as one segment per class) are matched exactly
as ``eval panoptic`` does (:func:`segtool.metrics.panoptic.match`). Instance predictions,
which may overlap, are matched as COCO does at IoU 0.5: by descending score, each takes the
best still-unmatched ground truth of its category; one matching a crowd region is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import masks, rlepairs
from ..errors import SegtoolError
from ..metrics.panoptic import Pairs, match
from ..model import Segments
from .overlay import overlay
from .palette import FN, FP, TP


@dataclass
class Outcome:
    """Per segment: ground truth missed (FN); prediction matched (TP) or false (FP).
    A prediction that is neither is ignored (mostly on void or crowd)."""

    gt_missed: npt.NDArray[np.bool_]
    pred_matched: npt.NDArray[np.bool_]
    pred_false: npt.NDArray[np.bool_]
    pq: float | None = None  # panoptic matching only: this image's PQ over its categories

    def counts(self) -> tuple[int, int, int]:
        """(TP, FP, FN)."""
        return int(self.pred_matched.sum()), int(self.pred_false.sum()), int(self.gt_missed.sum())


def panoptic_outcome(
    gt_index: npt.NDArray[np.int32], gseg: Segments, pred_index: npt.NDArray[np.int32], pseg: Segments
) -> Outcome:
    """Match as panopticapi does, and this image's PQ (categories without TP, FP or FN left out).

    The overlap is the sparse pairs of segments that meet (a dense table of 10^5 segments a
    side would take 75 GiB); ``match`` gives the same outcome from either."""
    pairs = Pairs.of_runs(masks.Runs(gt_index, len(gseg), "C"), masks.Runs(pred_index, len(pseg), "C"))
    m = match(gseg, pseg, pairs)
    matched = np.zeros(len(pseg), bool)
    matched[m.pi] = True
    cats = np.unique(np.concatenate([gseg.category_id, pseg.category_id]))
    pos = {int(c): i for i, c in enumerate(cats.tolist())}
    tp, fp, fn, iou = (np.zeros(len(cats)) for _ in range(4))
    np.add.at(tp, [pos[int(c)] for c in gseg.category_id[m.gi]], 1)
    np.add.at(iou, [pos[int(c)] for c in gseg.category_id[m.gi]], m.iou)
    np.add.at(fp, [pos[int(c)] for c in pseg.category_id[m.pred_false]], 1)
    np.add.at(fn, [pos[int(c)] for c in gseg.category_id[m.gt_missed]], 1)
    seen = (tp + fp + fn) > 0
    pq = float(np.mean(iou[seen] / (tp[seen] + 0.5 * fp[seen] + 0.5 * fn[seen]))) if seen.any() else None
    return Outcome(m.gt_missed, matched, m.pred_false, pq)


def instance_outcome(
    gt_rles: list[masks.RLE], gseg: Segments, pred_rles: list[masks.RLE], pseg: Segments, threshold: float = 0.5
) -> Outcome:
    """Greedy COCO-style matching at one IoU ``threshold`` (> 0), predictions by descending
    score, each taking the free ground truth of its category with the highest IoU (the first
    on ties). IoUs are computed only for the pairs whose masks share a pixel, found from
    their runs (an (n, m) matrix of 10^5 a side would take 80 GB)."""
    n, m = len(gseg), len(pseg)
    matched_gt = np.zeros(n, bool)
    pred_matched = np.zeros(m, bool)
    ignored = np.zeros(m, bool)
    if n and m:
        score = pseg.score if pseg.score is not None else np.zeros(m)
        candidates = _candidates(gt_rles, gseg, pred_rles, pseg)
        for p in np.argsort(-score, kind="stable").tolist():
            gts, ious = candidates.get(p, _NONE)
            good = ious >= threshold
            free = good & ~gseg.iscrowd[gts] & ~matched_gt[gts]
            if free.any():
                g = int(gts[np.argmax(np.where(free, ious, -1))])
                matched_gt[g] = pred_matched[p] = True
            elif (good & gseg.iscrowd[gts]).any():
                ignored[p] = True
    return Outcome(~matched_gt & ~gseg.iscrowd, pred_matched, ~pred_matched & ~ignored)


_NONE = (np.zeros(0, np.int64), np.zeros(0))


def _candidates(
    gt_rles: list[masks.RLE], gseg: Segments, pred_rles: list[masks.RLE], pseg: Segments
) -> dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
    """Per prediction, the ground truth of its category it shares pixels with (in order) and
    their IoUs: pycocotools' doubles (crowd: over the prediction's area), from the pixels
    shared, or from ``masks.iou`` for a mask with a zero-length run inside (where
    pycocotools' loop stops early)."""
    h, w = gt_rles[0]["size"]
    masks.check_size(h, w)  # the guard masks.iou kept: one size, decodable strings
    if any(list(r["size"]) != [h, w] for r in (*pred_rles, *gt_rles)):
        raise ValueError(f"an RLE's size differs from the image size [{h}, {w}]")
    bad = masks.check_compressed([*pred_rles, *gt_rles])
    if bad is not None:
        raise ValueError(f"RLE #{bad} cannot be decoded")
    pairs = rlepairs.shared_across(pred_rles, gt_rles)
    if pairs is None:
        raise SegtoolError(
            f"{len(pseg):,} predictions and {len(gseg):,} ground-truth masks of one image pile up: more than"
            f" {rlepairs.PAIR_WORK:,} pairs of their pixel runs meet, too many to match"
        )
    same = pseg.category_id[pairs.i] == gseg.category_id[pairs.j]
    pi, gi, inter = pairs.i[same], pairs.j[same], pairs.pixels[same]
    crowd = gseg.iscrowd[gi]
    union = np.where(crowd, pairs.area_a[pi], pairs.area_a[pi] + pairs.area_b[gi] - inter)
    odd = pairs.inner_zero_a[pi] | pairs.inner_zero_b[gi]
    ious = rlepairs.as_pycocotools(pred_rles, gt_rles, pi, gi, inter / union, odd, crowd)
    if not pi.size:
        return {}
    bounds = np.flatnonzero(np.diff(pi)) + 1  # the pairs come sorted by prediction
    heads = pi[np.concatenate([[0], bounds])].tolist()
    return dict(zip(heads, zip(np.split(gi, bounds), np.split(ious, bounds), strict=True), strict=True))


def error_view(
    photo: npt.NDArray[np.uint8],
    gt_index: npt.NDArray[np.int32],
    pred_index: npt.NDArray[np.int32],
    outcome: Outcome,
    alpha: float,
    outline: bool = True,
) -> npt.NDArray[np.uint8]:
    """Missed ground truth in blue, matched predictions in green, false positives in red.

    Where they cover the same pixel, a miss shows over a match and a false positive over both.
    ``outline`` False: no outlines (a thumbnail's, where a two-pixel outline would cover a
    small segment's color).
    """
    gt_code = np.concatenate([[0], np.where(outcome.gt_missed, 1, 0)]).astype(np.int32)
    pred_code = np.concatenate([[0], np.select([outcome.pred_matched, outcome.pred_false], [2, 3], 0)]).astype(np.int32)
    # matched predictions first, missed ground truth over them, false positives over both
    codes = pred_code[pred_index]
    codes = np.where((codes != 3) & (gt_code[gt_index] > 0), 1, codes)
    return overlay(photo, codes, np.stack([FN, TP, FP]), alpha=max(alpha, 0.55), outline=outline, void_hatch=False)
