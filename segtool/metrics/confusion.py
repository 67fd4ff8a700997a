"""The class confusion matrix of instance detections at IoU 0.5, with a background row and
column (docs/metrics/confusion.md).

Per image, the detections TIDE takes (the top ``max_dets`` by score, ties in file order)
with a score of at least the threshold, in score order:

1. matched within their class as TIDE and COCOeval match at IoU 0.5 (greedy by score, the
   non-crowd ground truth of highest IoU) -> the diagonal;
2. a detection left unmatched and not inside a crowd region of its class is then matched,
   greedily in score order, to the still unmatched non-crowd ground truth of highest IoU
   of any class when that IoU is at least 0.5 -> (its class, the detection's class);
3. what is left: detections -> the background row; non-crowd ground truth -> the
   background column. Crowd regions are never counted, nor detections they cover.

Rows are ground-truth classes, columns predicted classes, in category id order, background
last in both; the background/background cell is 0 (nothing counts there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..model import Category
from .tide import POS, ImageMatch

BACKGROUND = -(2**63)  # the background row and column in a cell list (-1 is --class-agnostic's one class)


def confusion_image(m: ImageMatch, threshold: float, pos: float = POS) -> npt.NDArray[np.int64]:
    """One image's cells as (ground-truth class, predicted class) rows, :data:`BACKGROUND`
    for none. The detections over ``threshold`` are a prefix of the score order, and the
    class matching of a prefix is the prefix of the matching (greedy in score order)."""
    k = int(np.count_nonzero(m.score >= threshold))
    gt_of, ignored, cls = m.gt_of[:k], m.ignored[:k], m.cls[:k]
    free = np.ones(len(m.gt_cls), bool)
    free[gt_of[gt_of >= 0]] = False
    rows: list[tuple[int, int]] = [(int(m.gt_cls[g]), int(c)) for g, c in zip(gt_of, cls, strict=True) if g >= 0]
    for p in np.flatnonzero((gt_of < 0) & ~ignored).tolist():
        g = int(np.argmax(m.iou[p] * free)) if len(free) else -1
        if g >= 0 and m.iou[p, g] * free[g] >= pos:
            free[g] = False
            rows.append((int(m.gt_cls[g]), int(cls[p])))
        else:
            rows.append((BACKGROUND, int(cls[p])))
    rows.extend((int(c), BACKGROUND) for c in m.gt_cls[free].tolist())
    return np.array(rows, np.int64).reshape(-1, 2)


def matrix(cells: Iterable[npt.NDArray[np.int64]], categories: Sequence[Category]) -> dict[str, Any]:
    """The matrix of every image's cells: ``ids`` and ``names`` of the rows and columns (the
    categories by id, then background: id null), ``matrix`` rows = ground truth."""
    every = np.concatenate([np.zeros((0, 2), np.int64), *cells])
    ids = sorted({c.id for c in categories} | set(every[every != BACKGROUND].tolist()))
    names = {c.id: c.name for c in categories}
    index = np.searchsorted(np.array(ids, np.int64), every)
    index[every == BACKGROUND] = len(ids)
    n = len(ids) + 1
    counts = np.bincount(index[:, 0] * n + index[:, 1], minlength=n * n).reshape(n, n)
    return {
        "ids": [*ids, None],
        "names": [*(names.get(i, str(i)) for i in ids), "background"],
        "matrix": counts.tolist(),
    }


def csv_text(result: dict[str, Any]) -> str:
    """The matrix as CSV: a header of predicted classes, a row per ground-truth class."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["ground truth \\ prediction", *result["names"]])
    for name, row in zip(result["names"], result["matrix"], strict=True):
        writer.writerow([name, *row])
    return buf.getvalue()
