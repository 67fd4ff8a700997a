"""Precision-recall curves from COCOeval's ``precision`` array (T, R, K, A, M): -1 marks a
category without ground truth, 0 a recall level never reached (as COCOeval fills it).

Overall: the mean over categories with ground truth at IoU .50, .75 and averaged over
.50:.95 (area ``all``, the largest maxDets), the curves whose areas are AP50, AP75 and AP.
Per class: each category's curve averaged over the IoU thresholds, whose area is its AP;
the ``n`` categories of lowest AP are drawn, where a model needs work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..metrics.instance_result import IOU_THRS

Curve = tuple[str, npt.NDArray[np.float64]]
PER_CLASS = 8  # categories drawn in the per-class chart


def _mean_over_classes(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64] | None:
    """(R, K) -> (R,): the mean over the categories that have ground truth."""
    valid = (p > -1).all(axis=0)
    return p[:, valid].mean(axis=1) if valid.any() else None


def overall(precision: npt.NDArray[np.float64], iou_thrs: Sequence[float]) -> list[Curve]:
    """The overall curves at .50:.95 (first, drawn thick), .50 and .75 where evaluated."""
    p = precision[:, :, :, 0, -1]  # (T, R, K)
    out: list[Curve] = []
    mean = _mean_over_classes(p.mean(axis=0)) if (p > -1).any() else None
    if mean is not None:
        out.append(("IoU .50:.95", mean))
    for thr in (0.5, 0.75):
        hit = [t for t, v in enumerate(iou_thrs) if abs(v - thr) < 1e-9]
        curve = _mean_over_classes(p[hit[0]]) if hit else None
        if curve is not None:
            out.append((f"IoU {thr:.2f}", curve))
    return out


def per_class(precision: npt.NDArray[np.float64], names: Sequence[str], n: int = PER_CLASS) -> list[Curve]:
    """The ``n`` categories of lowest AP (ties by category order), each averaged over IoU."""
    p = precision[:, :, :, 0, -1]
    rows = []
    for k, name in enumerate(names):
        if (p[:, :, k] > -1).all():
            curve = p[:, :, k].mean(axis=0)
            rows.append((float(curve.mean()), k, f"{name} (AP {curve.mean():.3f})", curve))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [(label, curve) for _, _, label, curve in rows[:n]]


def of_result(result: Any) -> tuple[list[Curve], list[Curve]] | None:
    """Both sets of curves of an instance result that carries COCOeval's or LVISEval's
    arrays (LVIS has no maxDets axis: one, 300), None for one that does not (Cityscapes')."""
    precision = getattr(result, "precision", None)
    if precision is None or np.ndim(precision) not in (4, 5):
        return None
    p = np.asarray(precision, dtype=np.float64)
    p = p[..., None] if p.ndim == 4 else p
    names = [c.name for c in result.categories]
    return overall(p, [float(t) for t in IOU_THRS]), per_class(p, names)
