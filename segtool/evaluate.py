"""Evaluation entry points: read ground truth and predictions through the format registry,
pair them (:mod:`segtool.pairing`), compute metrics. No format is named here.

``gt`` may be a path or a :class:`Dataset`; ``pred`` a path, a :class:`Dataset`, or
predictions held in memory: a list of COCO detection dicts (instance), or a mapping of
image id to (id map, segments_info) (panoptic), so a training loop scores without writing
files. ``progress(n)`` is called as images are scored; one with a ``set_total`` method is
told their number first (:mod:`segtool.progress`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import formats, pairing, relabel
from .errors import SegtoolError
from .evaluate_inputs import (
    PathLike,
    Steps,
    boundary_params,
    boundary_ratio,
    check_pred_masks,
    checked_slices,
    dataset,
    label_map,
    predictions_for,
)
from .gcpause import gc_paused
from .metrics import partial as _partial
from .metrics.analyses import Analyses
from .metrics.cityscapes_instance import CityscapesInstanceResult
from .metrics.cityscapes_instance import evaluate as _evaluate_cityscapes
from .metrics.instance_result import InstanceResult, Params
from .metrics.instance_scoring import InstanceScorer
from .metrics.lvis import LVISResult
from .metrics.panoptic import evaluate as _evaluate_pq
from .metrics.panoptic_result import PanopticResult
from .metrics.pq_errors import PQAnalyses
from .metrics.semantic import SemanticResult
from .metrics.semantic import evaluate as _evaluate_semantic
from .metrics.shard import Shard, predictions
from .metrics.slices import SlicesLike
from .model import Dataset
from .progress import announce


@gc_paused
def evaluate_panoptic(
    gt: PathLike | Dataset,
    pred: Any,
    *,
    gt_masks: PathLike | None = None,
    pred_masks: PathLike | None = None,
    allow_missing: bool = False,
    read_options: dict[str, Any] | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    boundary: bool = False,
    dilation_ratio: float | None = None,
    per_image: bool = False,
    slices: SlicesLike | None = None,
    shard: str | Shard | None = None,
    partial: PathLike | None = None,
    analyses: PQAnalyses | None = None,
) -> PanopticResult:
    """PQ, SQ and RQ of panoptic predictions against their ground truth, as panopticapi.

    From files, images are those with a ground-truth annotation record (as panopticapi),
    and both JSONs are streamed (neither is held, see :func:`pairing.stream`). A
    ground-truth image without a prediction is an error unless ``allow_missing``, when its
    segments all count as false negatives. ``read_options``: how the ground truth is read
    (``labels``: a label map, which the predictions' categories go through as well).
    ``boundary``: Boundary PQ (Cheng et al. 2021): matching and SQ on min(mask IoU,
    boundary IoU), boundaries ``dilation_ratio`` (0.02) of the image diagonal wide
    (docs/metrics/boundary.md). ``per_image``, ``slices``: see :func:`evaluate_semantic`.

    ``shard`` (``"I/N"``): score shard I of N only; ``partial``: write its partial
    statistics there, which :func:`segtool.metrics.partial_merge.merge` adds up into the
    unsharded result (docs/metrics/partials.md).

    ``analyses``: PQ's error causes and gains, and the segment-level confusion matrix, made in
    the same pass; read them with ``analyses.to_dict(result)`` (docs/metrics/pq-errors.md).

    Example:
        >>> r = evaluate_panoptic("panoptic_val2017.json", "predictions.json")
        >>> r.to_dict()["All"]["pq"]
    """
    if analyses and (shard is not None or partial is not None):
        raise SegtoolError("--errors and --confusion are not sharded: make them in an unsharded run")
    ratio = boundary_ratio(boundary, dilation_ratio)
    plan = _partial.Plan.of(shard, partial, read_options, allow_missing=allow_missing)
    labels = label_map(read_options)
    if isinstance(gt, Dataset):
        gt_side = pairing.of_samples(gt.samples, gt.path, gt.categories)
    else:
        fmt = "coco-panoptic" if Path(gt).suffix.lower() == ".json" else None  # even with no annotations yet
        reading = {**(read_options or {}), "labels": labels}
        gt_side = formats.stream(Path(gt), fmt, masks=Path(gt_masks) if gt_masks else None, **reading)
    if isinstance(pred, str | Path):
        pred_side = formats.stream_predictions(
            Path(pred), by="panoptic", masks=Path(pred_masks) if pred_masks else None
        )
        pred_side = pred_side if labels is None else relabel.stream(pred_side, labels, gt_side.categories)
    else:
        held = (
            pairing.Predictions.of(pred) if isinstance(pred, Dataset) else formats.from_memory(pred, gt_side.categories)
        )
        held = held if labels is None else relabel.predictions(held, labels, gt_side.categories)
        pred_side = pairing.of_sources(held.sources, held.path)
    parts = checked_slices(slices, (gt_side.ids if gt_side.known is None else gt_side.known).tolist())
    every = gt_side.ids
    if plan is not None:  # this shard's images on both sides, every image the ground truth lists still known
        known = gt_side.known if gt_side.known is not None else gt_side.ids
        gt_side, pred_side = plan.shard.stream(gt_side, known), plan.shard.stream(pred_side)
    stream = pairing.stream(gt_side, pred_side, allow_missing=allow_missing)
    announce(progress, stream.count)
    result = _evaluate_pq(
        stream.pairs,
        stream.categories,
        count=stream.count,
        jobs=jobs,
        progress=progress,
        boundary=ratio,
        per_image=per_image,
        slices=parts,
        analyses=analyses,
    )
    if plan is not None:
        plan.save(lambda s, d: _partial.of_panoptic(result, s, d, plan.params), every.tolist(), stream.categories, gt)
    return result


@gc_paused
def evaluate_semantic(
    gt: PathLike | Dataset,
    pred: Any,
    *,
    gt_format: str | None = None,
    pred_format: str | None = None,
    categories: PathLike | None = None,
    ignore_value: int = 255,
    allow_missing: bool = False,
    read_options: dict[str, Any] | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    boundary: bool = False,
    dilation_ratio: float | None = None,
    per_image: bool = False,
    slices: SlicesLike | None = None,
    shard: str | Shard | None = None,
    partial: PathLike | None = None,
) -> SemanticResult:
    """Pixel accuracy, class accuracy, IoU per class, mIoU and fwIoU.

    GT is any dataset (a semantic folder, or a panoptic/instance dataset seen as a label
    map); PRED is a folder of label PNGs matched by file stem (``categories.json`` optional),
    or a dataset matched by image id. Classes are the ground truth's categories.
    ``boundary``: also the Boundary IoU per class and its mean (boundaries
    ``dilation_ratio`` (0.02) of the image diagonal wide; docs/metrics/boundary.md).

    ``per_image``: the result's ``per_image`` rows, one per ground-truth image (those
    without a prediction too); ``slices`` (a JSON file or a mapping of name to image ids):
    the result's ``slices``, each the result of its images alone
    (docs/metrics/per-image.md). An id no ground-truth image has is an error.

    ``shard`` (``"I/N"``): score shard I of N only; ``partial``: write its partial
    statistics there, which :func:`segtool.metrics.partial_merge.merge` adds up into the
    unsharded result (docs/metrics/partials.md).

    Example:
        >>> evaluate_semantic("labels/val", "predictions/").to_dict()["mIoU"]
    """
    ratio = boundary_ratio(boundary, dilation_ratio)
    cats = Path(categories) if categories else None
    plan = _partial.Plan.of(shard, partial, read_options, ignore_value=ignore_value, allow_missing=allow_missing)
    labels = label_map(read_options)
    reading = {**(read_options or {}), "labels": labels}
    gt_ds = dataset(gt, gt_format, categories=cats, ignore_value=ignore_value, **reading)
    preds = predictions_for(pred, gt_ds, pred_format, labels, categories=cats, ignore_value=ignore_value)
    parts = checked_slices(slices, [s.image.id for s in gt_ds.samples])
    samples = gt_ds.samples
    if plan is not None:  # this shard's images; predictions of the others passed over
        samples, preds = predictions(plan.shard, gt_ds.samples, preds)
    pairs = pairing.pair(samples, preds, allow_missing=allow_missing)
    announce(progress, len(pairs))
    result = _evaluate_semantic(
        pairs,
        gt_ds.categories,
        ignore_value,
        jobs=jobs,
        progress=progress,
        boundary=ratio,
        per_image=per_image,
        slices=parts,
    )
    if plan is not None:
        every_id = [s.image.id for s in gt_ds.samples]
        plan.save(lambda s, d: _partial.of_semantic(result, s, d, plan.params), every_id, gt_ds.categories, gt)
    return result


@gc_paused
def evaluate_instance(
    gt: PathLike | Dataset,
    pred: Any,
    *,
    iou_type: str = "segm",
    gt_format: str | None = None,
    params: Params | None = None,
    dilation_ratio: float | None = None,
    read_options: dict[str, Any] | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    lvis: bool | None = None,
    img_ids: Sequence[Any] | None = None,
    cat_ids: Sequence[int] | None = None,
    class_agnostic: bool = False,
    shard: str | Shard | None = None,
    partial: PathLike | None = None,
    protocol: str = "coco",
    analyses: Analyses | None = None,
    per_image: bool = False,
    slices: SlicesLike | None = None,
) -> InstanceResult | LVISResult | CityscapesInstanceResult:
    """COCO AP/AR of detections against ground truth: pycocotools' COCOeval numbers; for
    an LVIS ground truth, lvis-api's federated LVISEval numbers (an :class:`LVISResult`).

    GT is any dataset segtool reads (usually a COCO instance JSON); PRED is a COCO results
    list (``image_id``, ``category_id``, ``segmentation`` and/or ``bbox``, ``score``) as a
    file or in memory, or panoptic predictions whose segments carry a ``score``. Ground-truth
    images without detections have none (as COCOeval).

    A prediction file that its format streams is read one image at a time, each image scored
    as it comes and its ground truth then let go (see :func:`pairing.ranked`): only the
    packed per-detection results stay. Detections not grouped by image are held as they are
    read (or, when that shows only late in the file, read again whole).

    ``iou_type="boundary"``: Boundary AP, faster-coco-eval's ``iouType="boundary"`` (IoU =
    min(mask IoU, Boundary IoU), ``dilation_ratio`` of the image diagonal, 0.02 by default;
    docs/metrics/boundary.md).

    ``lvis``: score with LVIS' federated rules (None: when the ground truth is LVIS, its
    images listing ``neg_category_ids`` / ``not_exhaustive_category_ids``). ``img_ids``,
    ``cat_ids``, ``class_agnostic``: COCOeval's ``params.imgIds``, ``catIds``, ``useCats=0``
    (LVISEval's ``img_ids``, ``cat_ids``; it has no class-agnostic evaluation).
    ``per_image``, ``slices``: see :func:`evaluate_semantic` (COCOeval's or, for LVIS, LVISEval's rules).
    ``analyses``: TIDE, the confusion matrix and calibration made in the same pass (masks
    or boxes, not LVIS); read them with ``analyses.to_dict()`` (:mod:`.metrics.analyses`).

    ``protocol="cityscapes"``: cityscapesScripts' instance-level AP and AP50 instead (a
    :class:`CityscapesInstanceResult`; docs/metrics/cityscapes-instance.md), of a Cityscapes
    tree's objects; PRED a results list whose category ids are label ids, or the reference's
    folder of ``<city>_<seq>_<frame>*.txt`` lists of mask PNGs.

    ``shard`` (``"I/N"``): score shard I of N only; ``partial``: write its partial
    statistics there, which :func:`segtool.metrics.partial_merge.merge` adds up into the
    unsharded result (docs/metrics/partials.md).

    Example:
        >>> r = evaluate_instance("instances_val2017.json", "segm_results.json")
        >>> r.stats   # the 12 numbers of COCOeval.summarize()
    """
    if protocol != "coco":
        coco: dict[str, Any] = {"iou_type": iou_type != "segm", "params": params, "dilation_ratio": dilation_ratio}
        coco.update(lvis=lvis, img_ids=img_ids, cat_ids=cat_ids, class_agnostic=class_agnostic)
        return _by_protocol(protocol, gt, pred, gt_format, read_options, jobs, progress, coco)
    params = boundary_params(params or Params(iou_type=iou_type), dilation_ratio)
    check_pred_masks(pred, params.iou_type)
    done = Steps(progress)
    labels = label_map(read_options)
    reading = {**(read_options or {}), "labels": labels}
    gt_ds = dataset(gt, gt_format, **reading)
    params = analyses.bind(params, gt_ds.categories) if analyses else params
    score = InstanceScorer.of(gt_ds, params, jobs, lvis, img_ids, cat_ids, class_agnostic)
    score = score.sharded(_partial.Plan.of(shard, partial, read_options), img_ids, cat_ids)
    if analyses and score.lvis:
        raise SegtoolError("TIDE, confusion and calibration follow COCOeval's rules, not LVIS'; add --no-lvis")
    if analyses and (shard is not None or partial is not None):
        raise SegtoolError("TIDE, confusion and calibration are not sharded: make them in an unsharded run")
    score = score.reporting(per_image, checked_slices(slices, [s.image.id for s in gt_ds.samples]))
    if isinstance(pred, str | Path) and labels is None:
        name = formats.detect_predictions(Path(pred))
        if name in formats.names_with("stream_predictions"):
            given = [gt_ds]  # handed over: the stream lets its samples go as they are scored
            del gt_ds
            try:
                return _instance_streamed(given, Path(pred), name, score, done)
            except pairing.Unstreamable:  # read whole below, the images already scored not counted again
                gt_ds = given[0] if given else dataset(gt, gt_format, **reading)
    preds = predictions_for(pred, gt_ds, None, labels, iou_type=params.iou_type)
    held = pairing.ranked_pairs(pairing.pair(gt_ds.samples, preds, allow_missing=True))
    announce(progress, held.count)
    return score(held.pairs, gt_ds.categories, held.count, done.again())


def _by_protocol(
    protocol: str,
    gt: PathLike | Dataset,
    pred: Any,
    gt_format: str | None,
    read_options: dict[str, Any] | None,
    jobs: int,
    progress: Callable[[int], None] | None,
    coco: dict[str, Any],
) -> CityscapesInstanceResult:
    """:func:`evaluate_instance` with ``protocol="cityscapes"`` (COCOeval's options, ``coco``,
    left as they are). The ground truth is read with every label, so that the regions of
    its void labels are known as void and a caravan object is not."""
    if protocol != "cityscapes":
        raise SegtoolError(f"unknown protocol {protocol!r}: coco or cityscapes")
    given = [k for k, v in coco.items() if v is not None and v is not False]
    given += [k for k in ("labels", "train_ids") if (read_options or {}).get(k)]  # it reads label ids
    if given:
        raise SegtoolError(f"{given[0]} does not apply to the Cityscapes protocol (its classes and rules are fixed)")
    gt_ds = dataset(gt, gt_format, **{**(read_options or {}), "all_labels": True})
    pairs = pairing.pair(gt_ds.samples, predictions_for(pred, gt_ds, None, None, iou_type="segm"), allow_missing=True)
    announce(progress, len(pairs))
    return _evaluate_cityscapes(pairs, gt_ds.categories, count=len(pairs), jobs=jobs, progress=progress)


def _instance_streamed(
    given: list[Dataset], pred: Path, fmt: str, score: InstanceScorer, done: Steps
) -> InstanceResult | LVISResult:
    """:func:`evaluate_instance` with predictions streamed; the ground truth (taken out of
    ``given``) is then held by the pairing alone, which lets each image go once scored."""
    gt_ds = given.pop()
    categories = gt_ds.categories
    iou_type = score.params.iou_type
    stream = pairing.ranked(
        gt_ds.samples, formats.stream_predictions(pred, fmt, by="instance", gt=gt_ds, iou_type=iou_type)
    )
    del gt_ds
    announce(done.progress, stream.count)
    return score(stream.pairs, categories, stream.count, done)


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
