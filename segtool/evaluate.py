"""Evaluation entry points: read ground truth and predictions, pair images, compute metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import formats
from .errors import SegtoolError
from .formats import coco_panoptic, panoptic_stream, semantic
from .gcpause import gc_paused
from .metrics.instances import InstanceResult, PanopticDetections, Params
from .metrics.instances import evaluate as _evaluate_instance
from .metrics.panoptic import PanopticResult
from .metrics.panoptic import evaluate as _evaluate_pq
from .metrics.semantic import SemanticResult
from .metrics.semantic import evaluate as _evaluate_semantic


@gc_paused
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
    count as false negatives. Both JSONs are streamed (see ``panoptic_stream.stream_pairs``),
    so memory does not grow with the number of images.

    Example:
        >>> r = evaluate_panoptic("panoptic_val2017.json", "predictions.json")
        >>> r.to_dict()["All"]["pq"]
    """
    stream = panoptic_stream.stream_pairs(
        Path(gt),
        Path(pred),
        gt_masks=Path(gt_masks) if gt_masks else None,
        pred_masks=Path(pred_masks) if pred_masks else None,
        allow_missing=allow_missing,
    )
    return _evaluate_pq(stream.pairs, stream.categories, count=stream.count, jobs=jobs, progress=progress)


def _pair(gt_samples: list[Any], preds: dict[int, Any], allow_missing: bool, pred_path: Path) -> list[tuple[Any, Any]]:
    """(ground truth, prediction) pairs; a missing prediction is an error unless allowed."""
    missing = [s.image.id for s in gt_samples if s.image.id not in preds]
    if missing and not allow_missing:
        raise SegtoolError(
            f"no prediction for {len(missing)} ground-truth image(s), e.g. image id {missing[0]}; "
            "pass --allow-missing to count them as all false negatives",
            str(pred_path),
        )
    return [(s, preds.get(s.image.id)) for s in gt_samples]


@gc_paused
def evaluate_semantic(
    gt: Path | str,
    pred: Path | str,
    *,
    gt_format: str | None = None,
    pred_format: str | None = None,
    categories: Path | str | None = None,
    ignore_value: int = 255,
    allow_missing: bool = False,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> SemanticResult:
    """Pixel accuracy, class accuracy, IoU per class, mIoU and fwIoU.

    GT is any dataset (a semantic folder, or a panoptic/instance dataset seen as a label
    map); PRED is a folder of label PNGs matched by file stem (``categories.json`` optional),
    or a dataset matched by image id. Classes are the ground truth's categories.

    Example:
        >>> evaluate_semantic("labels/val", "predictions/").to_dict()["mIoU"]
    """
    gt_path, pred_path = Path(gt), Path(pred)
    cats = Path(categories) if categories else None
    gt_ds = formats.read(gt_path, gt_format, categories=cats, ignore_value=ignore_value)
    if pred_path.is_dir() and (pred_format in (None, "semantic")):
        preds = semantic.read_predictions(pred_path, gt_ds, ignore_value=ignore_value)
    else:
        pred_ds = formats.read(pred_path, pred_format, categories=cats, ignore_value=ignore_value)
        known = {s.image.id for s in gt_ds.samples}
        stray = [s.image.id for s in pred_ds.samples if s.image.id not in known]
        if stray:
            raise SegtoolError(
                f"prediction for image id {stray[0]}, which the ground truth does not have", str(pred_path)
            )
        preds = {s.image.id: s for s in pred_ds.samples}
    pairs = _pair(list(gt_ds.samples), preds, allow_missing, pred_path)
    return _evaluate_semantic(pairs, gt_ds.categories, ignore_value, jobs=jobs, progress=progress)


@gc_paused
def evaluate_instance(
    gt: Path | str,
    pred: Path | str,
    *,
    iou_type: str = "segm",
    gt_format: str | None = None,
    params: Params | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> InstanceResult:
    """COCO AP/AR of a results list against ground truth: pycocotools' COCOeval numbers.

    GT is any dataset segtool reads (usually a COCO instance JSON); PRED is a COCO results
    list (``image_id``, ``category_id``, ``segmentation`` and/or ``bbox``, ``score``).

    Example:
        >>> r = evaluate_instance("instances_val2017.json", "segm_results.json")
        >>> r.stats()   # the 12 numbers of COCOeval.summarize()
    """
    from .formats import coco_results

    params = params or Params(iou_type=iou_type)
    if params.iou_type not in ("segm", "bbox"):
        raise SegtoolError(f"--iou-type must be segm or bbox, got {params.iou_type!r}")
    panoptic = _is_panoptic(Path(pred))
    if panoptic and params.iou_type == "bbox":
        raise SegtoolError("bbox evaluation of panoptic predictions is not supported; use --iou-type segm", str(pred))
    gt_ds = formats.read(Path(gt), gt_format)
    detections: dict[int, Any]
    if panoptic:
        preds = coco_panoptic.read_predictions(Path(pred), gt_ds)
        detections = {iid: PanopticDetections(s) for iid, s in preds.items()}
    else:
        detections = coco_results.read(Path(pred), gt_ds, params.iou_type)
    return _evaluate_instance(list(gt_ds.samples), detections, gt_ds.categories, params, jobs=jobs, progress=progress)


def _is_panoptic(path: Path) -> bool:
    """A prediction file whose annotations carry ``segments_info`` (a panoptic prediction)."""
    from .formats.jsonstream import sketch

    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    data = sketch(path)
    anns = data.get("annotations") if isinstance(data, dict) else None
    return isinstance(anns, list) and bool(anns) and isinstance(anns[0], dict) and "segments_info" in anns[0]


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
