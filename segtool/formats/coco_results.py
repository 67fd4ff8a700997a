"""COCO results files (a list of detections), read as pycocotools' ``COCO.loadRes`` reads them.

Each detection: ``image_id``, ``category_id``, ``score`` and a ``segmentation`` (RLE or
polygons) and/or ``bbox``. As in ``loadRes``: detection ids are 1..N in file order;
``iscrowd`` is 0; when the *first* detection has a non-empty ``bbox``, every detection's area
is its box's w·h (even for segm evaluation) and a missing segmentation is its box as a
polygon; otherwise areas are mask areas and missing boxes come from the masks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from .. import masks
from ..errors import SegtoolError
from ..metrics.instances import Objects
from ..model import Dataset
from .common import load_json


def read(path: Path, gt: Dataset, iou_type: str = "segm") -> dict[int, Objects]:
    """Detections by image id; an image or category the ground truth lacks is an error."""
    data = load_json(path)
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    if not isinstance(data, list):
        raise SegtoolError("expected a COCO results list (or a dataset with 'annotations')", str(path))
    images = {s.image.id: s.image for s in gt.samples}
    known = {c.id for c in gt.categories}
    by_box = bool(data) and isinstance(data[0], dict) and bool(data[0].get("bbox"))
    grouped: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for i, det in enumerate(data):
        if not isinstance(det, dict) or not {"image_id", "category_id", "score"} <= det.keys():
            raise SegtoolError(f"detection #{i} lacks image_id, category_id or score", str(path))
        if det["image_id"] not in images:
            raise SegtoolError(
                f"detection #{i}: image id {det['image_id']}, which the ground truth does not have", str(path)
            )
        if det["category_id"] not in known:
            raise SegtoolError(f"detection #{i}: unknown category id {det['category_id']}", str(path))
        if "segmentation" not in det and "bbox" not in det:
            raise SegtoolError(f"detection #{i} has neither segmentation nor bbox", str(path))
        grouped.setdefault(det["image_id"], []).append((i + 1, det))
    return {iid: _objects(dets, images[iid], by_box, iou_type, path) for iid, dets in grouped.items()}


def _objects(dets: list[tuple[int, dict[str, Any]]], image: Any, by_box: bool, iou_type: str, path: Path) -> Objects:
    h, w = image.height, image.width
    shapes, areas = [], []
    for det_id, det in dets:
        box = det.get("bbox")
        segm = det.get("segmentation")
        if segm is None and box:
            x, y, bw, bh = box
            segm = [[x, y, x, y + bh, x + bw, y + bh, x + bw, y]]
        rle = None
        if iou_type == "segm" or not by_box:
            try:
                rle = masks.to_compressed(segm, h, w)
            except ValueError as exc:
                raise SegtoolError(f"detection #{det_id - 1} (image {image.id}): {exc}", str(path)) from None
        if by_box:
            areas.append(float(box[2]) * float(box[3]))
        else:
            areas.append(float(mask_utils.area(masks.to_pyco(rle))))
        if iou_type == "segm":
            shapes.append(rle)
        else:
            shapes.append([float(v) for v in box] if box else mask_utils.toBbox(masks.to_pyco(rle)).tolist())
    return Objects(
        ids=np.array([i for i, _ in dets], dtype=np.int64),
        category_id=np.array([d["category_id"] for _, d in dets], dtype=np.int64),
        area=np.array(areas, dtype=np.float64),
        iscrowd=np.zeros(len(dets), dtype=bool),
        shapes=shapes,
        score=np.array([float(d["score"]) for _, d in dets], dtype=np.float64),
    )
