"""COCO results files (a list of detections), read as pycocotools' ``COCO.loadRes`` reads them.

Each detection: ``image_id``, ``category_id``, ``score`` and a ``segmentation`` (RLE or
polygons) and/or ``bbox``. As in ``loadRes``: detection ids are 1..N in file order;
``iscrowd`` is 0; when the *first* detection has a non-empty ``bbox``, every detection's area
is its box's w·h (even for segm evaluation) and a missing segmentation is its box as a
polygon; otherwise areas are mask areas and missing boxes come from the masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pycocotools import mask as mask_utils

from .. import limits, masks
from ..errors import SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Segments
from ..pairing import Predictions
from .common import Detection, compressed_rle, int_field, limit, load_json
from .jsonstream import sketch

NAME = "coco-results"
MEMORY = "<in-memory detections>"


def detect(path: Path) -> Detection:
    """Strong for a JSON list (a results file) or a dataset whose annotations carry scores."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return Detection("no", "not a .json file")
    try:
        data = sketch(path)
    except SegtoolError as exc:
        return Detection("no", exc.message)
    if isinstance(data, list):
        return Detection("strong", "a list of detections")
    anns = data.get("annotations") if isinstance(data, dict) else None
    if isinstance(anns, list) and anns and isinstance(anns[0], dict) and "score" in anns[0]:
        if "segments_info" not in anns[0]:
            return Detection("strong", "annotations carry a score")
    return Detection("no", "neither a list of detections nor scored annotations")


@dataclass(frozen=True)
class Detections:
    """One image's raw detections, turned into RLEs only where they are loaded (in a worker
    process, or where they are scored), so reading a large results file stays cheap."""

    decodes_pixels: ClassVar[bool] = False  # RLE strings and polygons only: light per-image work

    dets: tuple[tuple[int, dict[str, Any]], ...]  # (1-based id in the file, detection)
    by_box: bool
    iou_type: str
    path: str

    def load(self, image: ImageInfo) -> Annotation:
        """The detections as loadRes makes them: ids 1..N in file order, iscrowd 0, areas
        from the boxes or the masks, boxes given or from the masks, scores."""
        return _annotation(self, image)


def read_predictions(path: Path, gt: Dataset, iou_type: str = "segm", **_: Any) -> Predictions:
    """A results file as predictions by image id (see :func:`read_file`)."""
    return Predictions(read_file(path, gt, iou_type), "id", str(path))


def accepts(predictions: Any) -> bool:
    """In-memory detections: a list of COCO detection dicts (pycocotools' ``loadRes`` input)."""
    return isinstance(predictions, list)


def from_memory(
    predictions: list[Any], gt: Dataset | tuple[Category, ...], iou_type: str = "segm", **_: Any
) -> Predictions:
    """In-memory detections, checked and grouped as a results file's."""
    if not isinstance(gt, Dataset):
        raise SegtoolError("in-memory detections are scored against a ground-truth dataset (eval instance)")
    return Predictions(group(predictions, gt, iou_type, MEMORY), "id", MEMORY)


def read_file(path: Path, gt: Dataset, iou_type: str = "segm") -> dict[int, Detections]:
    """Detections by image id; an image or category the ground truth lacks is an error, and
    so is a value loadRes would stumble on: a score that is not a finite number, a box that
    is not four finite numbers (or none, when the first detection's box gives every area)."""
    data = load_json(path)
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    if not isinstance(data, list):
        raise SegtoolError("expected a COCO results list (or a dataset with 'annotations')", str(path))
    return group(data, gt, iou_type, str(path))


def group(data: list[Any], gt: Dataset, iou_type: str, where: str) -> dict[int, Detections]:
    """Detections grouped by image id, each checked (see :func:`read_file`); errors name ``where``."""
    path = Path(where)
    images = {s.image.id: s.image for s in gt.samples}
    known = {c.id for c in gt.categories}
    by_box = bool(data) and isinstance(data[0], dict) and bool(data[0].get("bbox"))
    grouped: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for i, det in enumerate(data):
        # the common case in one expression (this runs once per detection); anything else
        # goes through the checks that name the problem
        plain = type(det) is dict
        iid = det.get("image_id") if plain else None
        cid = det.get("category_id") if plain else None
        score = det.get("score") if plain else None
        box = det.get("bbox") if plain else None
        if not (
            type(iid) is int
            and iid in images
            and type(cid) is int
            and cid in known
            and (type(score) is float or type(score) is int)
            and score - score == 0  # finite
            and (box is None if not by_box else is_box(box))
            and ("segmentation" in det or by_box)
        ):
            iid = _check(i, det, images, known, by_box, path)
        grouped.setdefault(iid, []).append((i + 1, det))
    limit_segments = limit("segments")
    for iid, dets in grouped.items():
        if len(dets) > limit_segments:
            limits.check("segments", len(dets), f"image {iid}: detections", path)
    return {iid: Detections(tuple(dets), by_box, iou_type, where) for iid, dets in grouped.items()}


def is_box(box: Any) -> bool:
    """``[x, y, w, h]``: four finite numbers."""
    return type(box) is list and len(box) == 4 and all((type(v) is float or type(v) is int) and v - v == 0 for v in box)


def _check(i: int, det: Any, images: dict[int, Any], known: set[int], by_box: bool, path: Path) -> int:
    """The image id of a detection record that is not plainly valid, or its one-line error."""
    if not isinstance(det, dict) or not {"image_id", "category_id", "score"} <= det.keys():
        raise SegtoolError(f"detection #{i} lacks image_id, category_id or score", str(path))
    iid, cid = (int_field(det, key, f"detection #{i}", path) for key in ("image_id", "category_id"))
    if iid not in images:
        raise SegtoolError(f"detection #{i}: image id {iid}, which the ground truth does not have", str(path))
    if cid not in known:
        raise SegtoolError(f"detection #{i}: unknown category id {cid}", str(path))
    score = det["score"]
    if type(score) not in (int, float) or not math.isfinite(score):
        raise SegtoolError(f"detection #{i}: 'score' must be a finite number, got {score!r:.40}", str(path))
    box = det.get("bbox")
    if by_box and not is_box(box):
        raise SegtoolError(
            f"detection #{i}: 'bbox' must be [x, y, w, h], four finite numbers (the first detection has a box, "
            f"so every area comes from one), got {box!r:.60}",
            str(path),
        )
    if box and not is_box(box):
        raise SegtoolError(
            f"detection #{i}: 'bbox' must be [x, y, w, h], four finite numbers, got {box!r:.60}", str(path)
        )
    if "segmentation" not in det and not box:
        raise SegtoolError(f"detection #{i} has neither segmentation nor bbox", str(path))
    return iid


def _annotation(src: Detections, image: ImageInfo) -> Annotation:
    h, w = image.height, image.width
    try:
        masks.check_size(h, w)
    except ValueError as exc:
        raise SegtoolError(f"image {image.id}: {exc}", src.path) from None
    rles = []
    for det_id, det in src.dets:
        box, segm = det.get("bbox"), det.get("segmentation")
        if segm is None and box:
            x, y, bw, bh = box
            segm = [[x, y, x, y + bh, x + bw, y + bh, x + bw, y]]
        try:
            rles.append(compressed_rle(segm, h, w))
        except ValueError as exc:
            raise SegtoolError(f"detection #{det_id - 1} (image {image.id}): {exc}", src.path) from None
    bad, pixel_area = masks.guarded_areas(rles)
    if bad is not None:
        raise SegtoolError(
            f"detection #{src.dets[bad][0] - 1} (image {image.id}): undecodable compressed RLE", src.path
        )
    if src.by_box:
        area = np.array([float(d["bbox"][2]) * float(d["bbox"][3]) for _, d in src.dets])
    else:
        area = pixel_area.astype(np.float64)
    # boxes: the detection's own, else its mask's (loadRes); what bbox evaluation compares
    boxes = np.zeros((len(rles), 4))
    given = [bool(d.get("bbox")) for _, d in src.dets]
    for k, (_, d) in enumerate(src.dets):
        if given[k]:
            boxes[k] = [float(v) for v in d["bbox"]]
    if not all(given):
        rest = [k for k, g in enumerate(given) if not g]
        boxes[rest] = np.asarray(mask_utils.toBbox([masks.to_pyco(rles[k]) for k in rest]), np.float64).reshape(-1, 4)
    segments = Segments.build(
        id=[i for i, _ in src.dets],
        category_id=[d["category_id"] for _, d in src.dets],
        area=area,
        bbox=boxes,
        score=[float(d["score"]) for _, d in src.dets],
    )
    return Annotation(image, segments, rles=tuple(rles), origin=src.path)
