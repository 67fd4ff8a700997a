"""Evaluation entry points: read ground truth and predictions, pair images, compute metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import SegtoolError
from .formats import coco_panoptic
from .metrics.panoptic import PanopticResult
from .metrics.panoptic import evaluate as _evaluate_pq


def evaluate_panoptic(
    gt: Path | str,
    pred: Path | str,
    *,
    gt_masks: Path | str | None = None,
    pred_masks: Path | str | None = None,
    allow_missing: bool = False,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> PanopticResult:
    """PQ, SQ and RQ of a COCO panoptic prediction set against its ground truth.

    Images are those with a ground-truth annotation record (as panopticapi). A ground-truth
    image without a prediction is an error unless ``allow_missing``, when its segments all
    count as false negatives.

    Example:
        >>> r = evaluate_panoptic("panoptic_val2017.json", "predictions.json")
        >>> r.to_dict()["All"]["pq"]
    """
    gt_path, pred_path = Path(gt), Path(pred)
    gt_ds = coco_panoptic.read(gt_path, masks=Path(gt_masks) if gt_masks else None)
    preds = coco_panoptic.read_predictions(pred_path, gt_ds, masks=Path(pred_masks) if pred_masks else None)
    annotated = [s for s in gt_ds.samples if getattr(s.source, "png", None) is not None]
    missing = [s.image.id for s in annotated if s.image.id not in preds]
    if missing and not allow_missing:
        raise SegtoolError(
            f"no prediction for {len(missing)} ground-truth image(s), e.g. image id {missing[0]}; "
            "pass --allow-missing to count them as all false negatives",
            str(pred_path),
        )
    pairs = [(s, preds.get(s.image.id)) for s in annotated]
    return _evaluate_pq(pairs, gt_ds.categories, jobs=jobs, progress=progress)


def pq_compute(
    gt_json_file: str, pred_json_file: str, gt_folder: str | None = None, pred_folder: str | None = None
) -> dict[str, Any]:
    """Drop-in for ``panopticapi.evaluation.pq_compute``: same arguments, same return value.

    Example:
        >>> from segtool import pq_compute   # instead of: from panopticapi.evaluation import pq_compute
        >>> pq_compute("gt.json", "pred.json")["All"]["pq"]
    """
    result = evaluate_panoptic(gt_json_file, pred_json_file, gt_masks=gt_folder, pred_masks=pred_folder)
    return result.to_panopticapi()
