"""Per-image rows and per-slice sums, out of the statistics each evaluation already computes
image by image (docs/metrics/per-image.md). Nothing here reads pixels or scores twice.

* panoptic: one image's PQ statistic averaged as ``pq_compute`` averages a one-image JSON
  (categories with no TP, FP or FN left out; ``None`` when no category is left);
* instance: TP/FP/FN at IoU 0.5, area ``all``, the last maxDets (100), from COCOeval's
  matching of the image; AP: ``COCOeval`` with ``params.imgIds = [id]``, ``stats[0]`` (IoU
  .50:.95, all areas, maxDets 100), ``None`` where COCOeval prints -1 (no ground truth);
* semantic: the image's own confusion matrix: mIoU over the classes in its ground truth or
  prediction, pixel accuracy over its labelled ground-truth pixels.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from ..model import ImageInfo
from .instance_accumulate import REC_THRS, ImageEval
from .panoptic_result import PQStat
from .slices import Sliced, Slices

S = TypeVar("S")


def _head(image: ImageInfo) -> dict[str, Any]:
    return {"image_id": image.id, "file_name": image.file_name}


def panoptic_row(image: ImageInfo, stat: PQStat) -> dict[str, Any]:
    """pq/sq/rq of one image as panopticapi's ``pq_average`` over its categories (summed in
    category order, as it sums), and its TP/FP/FN."""
    tp, fp, fn, iou = stat.tp, stat.fp, stat.fn, stat.iou
    seen = np.flatnonzero(tp + fp + fn)
    tp_s, fp_s, fn_s, iou_s = tp[seen], fp[seen], fn[seen], iou[seen]
    denom = tp_s + 0.5 * fp_s + 0.5 * fn_s
    pq = sum((iou_s / denom).tolist())
    sq = sum(np.where(tp_s != 0, iou_s / np.maximum(tp_s, 1), 0.0).tolist())
    rq = sum((tp_s / denom).tolist())
    n = len(seen)
    values = {k: (v / n if n else None) for k, v in (("pq", pq), ("sq", sq), ("rq", rq))}
    return {**_head(image), **values, "tp": int(tp.sum()), "fp": int(fp.sum()), "fn": int(fn.sum())}


def semantic_row(image: ImageInfo, cm: npt.NDArray[np.int64]) -> dict[str, Any]:
    """mIoU and pixel accuracy of one image's ``(K, K + 1)`` confusion matrix (``None``
    where the image has no class to average, or no labelled pixel). Two reductions of the
    matrix and small arrays after them: a row costs ~5% of scoring an image."""
    k = cm.shape[0]
    gt = np.add.reduce(cm, axis=1)
    tp = cm.ravel()[:: k + 2][:k]  # the diagonal
    union = gt + np.add.reduce(cm, axis=0)[:k] - tp
    present = union > 0
    total = int(gt.sum())
    ious = tp[present] / union[present]
    return {
        **_head(image),
        "mIoU": float(ious.sum() / ious.size) if ious.size else None,
        "pixel_accuracy": float(tp.sum() / total) if total else None,
    }


class InstanceRows:
    """Instance rows, computed together once every image is in: what each image adds is
    its detections' categories and IoU-0.5/area-``all`` flags, and its non-ignored ground
    truth per category; the TP/FP/FN and AP of all images then come out of one pass of
    whole-array operations (per image they would cost more than the matching itself).
    ``scored``: the categories the evaluation scores (None: every one)."""

    def __init__(self, scored: frozenset[int] | None) -> None:
        self.scored = scored
        self.images: list[ImageInfo] = []
        self.cats: list[npt.NDArray[np.int64]] = []
        self.flags: list[npt.NDArray[np.bool_]] = []  # (2T, D): matched, then ignored
        self.gt: list[tuple[list[int], list[int]]] = []  # categories with non-ignored ground truth, counts

    def add(self, image: ImageInfo, e: ImageEval) -> None:
        """One image's results (its detections sorted by category, then score, at most
        maxDets of each: evaluateImg's cut)."""
        self.images.append(image)
        self.cats.append(e.category_id)
        self.flags.append(np.concatenate([e.matched[0], e.ignored[0]]))
        pairs = sorted(
            (c, int(v[0])) for c, v in e.npig.items() if v[0] > 0 and (self.scored is None or c in self.scored)
        )
        self.gt.append(([c for c, _ in pairs], [n for _, n in pairs]))

    def rows(self) -> list[dict[str, Any]]:
        """A row per image, in the order they were added (see the module doc)."""
        n = len(self.images)
        ndet = np.array([len(c) for c in self.cats], np.int64)
        det_img = np.repeat(np.arange(n), ndet)
        t2 = self.flags[0].shape[0] if self.flags else 2
        flags = np.concatenate(self.flags, axis=1) if self.flags else np.zeros((t2, 0), bool)
        m, ig = flags[: t2 // 2], flags[t2 // 2 :]
        tp = np.bincount(det_img, weights=m[0] & ~ig[0], minlength=n).astype(np.int64)
        fp = np.bincount(det_img, weights=~m[0] & ~ig[0], minlength=n).astype(np.int64)
        ap = _image_aps(self, det_img, m, ig)
        rows = []
        for k, image in enumerate(self.images):
            fn = sum(self.gt[k][1]) - int(tp[k])
            rows.append({**_head(image), "tp": int(tp[k]), "fp": int(fp[k]), "fn": fn, "AP": ap[k]})
        return rows


def _image_aps(
    rows: InstanceRows, det_img: npt.NDArray[np.int64], m: npt.NDArray[np.bool_], ig: npt.NDArray[np.bool_]
) -> list[float | None]:
    """COCOeval's accumulate on each image alone, area ``all``, then ``summarize``'s mean
    over (T, R, the image's categories with non-ignored ground truth), for every image at
    once: a segment per (image, such category).

    Per segment: TP and FP cumulated over its detections in score order (an ignored one
    adds to neither), precision ``tp / (tp + fp + eps)`` made non-increasing from the end,
    sampled at the first detection whose recall reaches each of the 101 recall thresholds
    (0 past the last). A detection is sampled by the thresholds its recall reaches and the
    one before it did not: the mean is those precisions weighted by their counts, with no
    (T, D, R) table. Each image's detections come sorted by category, then score, as
    COCOeval's sort of one image's scores leaves them (mergesort: ties in file order)."""
    n = len(rows.images)
    seg_n = np.array([len(c) for c, _ in rows.gt], np.int64)  # segments per image
    out: list[float | None] = [None if k == 0 else 0.0 for k in seg_n.tolist()]  # COCOeval's -1; or no detection
    cats = np.concatenate([*rows.cats, np.zeros(0, np.int64)])
    seg_cat = np.array([c for cs, _ in rows.gt for c in cs], np.int64)
    if not cats.size or not seg_cat.size:
        return out
    seg_img = np.repeat(np.arange(n), seg_n)
    npig = np.array([v for _, vs in rows.gt for v in vs], np.float64)
    known = np.unique(np.concatenate([cats, seg_cat]))
    width = known.size
    seg_key = seg_img * width + np.searchsorted(known, seg_cat)  # ascending: images in order, categories sorted
    det_key = det_img * width + np.searchsorted(known, cats)
    pos = np.minimum(np.searchsorted(seg_key, det_key), seg_key.size - 1)
    keep = np.flatnonzero(seg_key[pos] == det_key)  # detections of a category with ground truth in their image
    if not keep.size:
        return out
    seg = pos[keep]
    nd = np.bincount(seg, minlength=seg_key.size)
    first = np.cumsum(nd) - nd
    starts = np.zeros(keep.size, bool)
    starts[first[nd > 0]] = True
    mk, igk = m[:, keep], ig[:, keep]
    tp = _segment_cumsum(mk & ~igk, first, seg).astype(np.float64)
    fp = _segment_cumsum(~mk & ~igk, first, seg).astype(np.float64)
    rc = tp / npig[seg]
    pr = _segment_suffix_max(tp / (fp + tp + np.spacing(1)), seg, seg_key.size)
    reached = np.searchsorted(REC_THRS, rc.ravel(), "right").reshape(rc.shape)  # thresholds <= recall
    before = np.where(starts, 0, np.roll(reached, 1, axis=1))
    per_det = (pr * (reached - before)).sum(axis=0)
    sums = np.bincount(det_img[keep], weights=per_det, minlength=n)
    scale = pr.shape[0] * REC_THRS.size
    for k in np.flatnonzero(seg_n).tolist():
        out[k] = float(sums[k] / (scale * seg_n[k]))
    return out


def _segment_cumsum(
    flags: npt.NDArray[np.bool_], first: npt.NDArray[np.int64], seg: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Cumulative sums along axis 1 restarted at each segment's first column."""
    c = np.cumsum(flags, axis=1, dtype=np.int64)
    before = np.concatenate([np.zeros((c.shape[0], 1), np.int64), c], axis=1)[:, first]  # (T, K)
    out: npt.NDArray[np.int64] = c - before[:, seg]
    return out


def _segment_suffix_max(values: npt.NDArray[np.float64], seg: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.float64]:
    """Each value replaced by the largest from it to its segment's end (along axis 1),
    exactly: on the values' ranks, each segment lifted above the ones after it."""
    uniq, rank = np.unique(values, return_inverse=True)
    lift = (k - 1 - seg) * uniq.size
    top = np.maximum.accumulate((rank.reshape(values.shape) + lift)[:, ::-1], axis=1)[:, ::-1]
    return uniq[top - lift]


class Tally(Generic[S]):
    """Rows per image (``per_image``) and a statistic summed per slice, fed in the order the
    images were handed out (:meth:`expect`, then :meth:`add` as results come back)."""

    def __init__(
        self,
        per_image: bool,
        slices: Slices | None,
        zero: Callable[[], S],
        row: Callable[[ImageInfo, Any], dict[str, Any]],
    ) -> None:
        self.per_image, self.slices, self.row = per_image, slices, row
        self.rows: list[dict[str, Any]] = []
        n = len(slices.names) if slices is not None else 0
        self.sums = [zero() for _ in range(n)]
        self.images, self.missing = [0] * n, [0] * n
        self.waiting: deque[tuple[ImageInfo, bool]] = deque()

    @property
    def wanted(self) -> bool:
        """Whether anything is asked (otherwise the evaluation skips the tally)."""
        return self.per_image or self.slices is not None

    def expect(self, image: ImageInfo, missing: bool) -> None:
        """An image handed out for scoring (``missing``: it has no prediction)."""
        if self.wanted:
            self.waiting.append((image, missing))

    def add(self, stat: Any, add: Callable[[S, Any], object]) -> None:
        """The next image's statistic: its row, and ``add(slice sum, stat)`` for each of its
        slices."""
        if not self.wanted:
            return
        image, missing = self.waiting.popleft()
        self.add_for(image, missing, stat, add)

    def add_for(self, image: ImageInfo, missing: bool, stat: Any, add: Callable[[S, Any], object]) -> None:
        """:meth:`add` for a named image (results that come back out of order)."""
        if self.per_image:
            self.take_row(image, stat)
        if self.slices is not None:
            for k in self.slices.of_image(image.id):
                add(self.sums[k], stat)
                self.images[k] += 1
                self.missing[k] += missing

    def take_row(self, image: ImageInfo, stat: Any) -> None:
        """An image's row (made here; a subclass may make them all at the end)."""
        self.rows.append(self.row(image, stat))

    def results(self, make: Callable[[S, int, int], Any]) -> dict[str, Any] | None:
        """``make(sum, images, missing)`` per slice, by name; None without slices."""
        if self.slices is None:
            return None
        made = ((name, make(self.sums[k], self.images[k], self.missing[k])) for k, name in enumerate(self.slices.names))
        return Sliced(self.slices.identity(), made)

    def image_rows(self) -> list[dict[str, Any]] | None:
        """The per-image rows, or None when they were not asked for."""
        return self.rows if self.per_image else None
