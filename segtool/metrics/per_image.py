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
from .instance_accumulate import ImageEval, accumulate_category
from .panoptic_result import PQStat
from .slices import Slices

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
    where the image has no class to average, or no labelled pixel)."""
    tp = np.diag(cm[:, :-1])
    union = cm.sum(axis=1) + cm[:, :-1].sum(axis=0) - tp
    present = union > 0
    total = int(cm.sum())
    return {
        **_head(image),
        "mIoU": float(np.mean(tp[present] / union[present])) if present.any() else None,
        "pixel_accuracy": float(tp.sum() / total) if total else None,
    }


def instance_row(image: ImageInfo, e: ImageEval, max_det: int, scored: frozenset[int] | None) -> dict[str, Any]:
    """TP/FP/FN at IoU 0.5 (area ``all``) and the image's AP (see the module doc).
    ``scored``: the categories the evaluation scores (None: every one in the image)."""
    matched, ignored = e.matched[0], e.ignored[0]  # area "all": (T, D)
    tp = int((matched[0] & ~ignored[0]).sum())
    fp = int((~matched[0] & ~ignored[0]).sum())
    npig = {c: v for c, v in e.npig.items() if scored is None or c in scored}
    fn = int(sum(int(v[0]) for v in npig.values())) - tp
    values: list[npt.NDArray[np.float64]] = []
    for c, counts in npig.items():
        if counts[0] <= 0:
            continue  # COCOeval leaves the category out of this image's AP (-1)
        sel = np.flatnonzero(e.category_id == c)
        precision, _ = accumulate_category(
            e.score[sel], e.matched[:1, :, sel], e.ignored[:1, :, sel], e.rank[sel], counts[:1], (max_det,)
        )
        values.append(precision.ravel())
    ap = float(np.mean(np.concatenate(values))) if values else None
    return {**_head(image), "tp": tp, "fp": fp, "fn": fn, "AP": ap}


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
            self.rows.append(self.row(image, stat))
        if self.slices is not None:
            for k in self.slices.of_image(image.id):
                add(self.sums[k], stat)
                self.images[k] += 1
                self.missing[k] += missing

    def results(self, make: Callable[[S, int, int], Any]) -> dict[str, Any] | None:
        """``make(sum, images, missing)`` per slice, by name; None without slices."""
        if self.slices is None:
            return None
        return {name: make(self.sums[k], self.images[k], self.missing[k]) for k, name in enumerate(self.slices.names)}

    def image_rows(self) -> list[dict[str, Any]] | None:
        """The per-image rows, or None when they were not asked for."""
        return self.rows if self.per_image else None
