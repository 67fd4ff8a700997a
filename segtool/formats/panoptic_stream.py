"""Ground truth and predictions of COCO panoptic paired image by image, streamed from both
JSONs, for PQ: neither JSON is held, only ~40 bytes per image (ids and sizes)."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import limits
from ..errors import FormatError, SegtoolError
from ..model import Category, ImageInfo, Sample
from .coco_panoptic import PanopticRecord, _image_id, masks_dir
from .common import file_name, limit, parse_categories, parse_image
from .jsonstream import items, list_items, section, sketch


@dataclass
class PairStream:
    """Ground truth and predictions paired image by image, streamed from both JSONs."""

    categories: tuple[Category, ...]
    count: int  # pairs (ground-truth images with an annotation record)
    missing: int  # of which without a prediction
    pairs: Iterator[tuple[Sample, Sample | None]]


def _records_prefix(path: Path) -> str:
    """Where a prediction file's annotation records are: a bare list, or ``annotations``."""
    head = sketch(path)
    if isinstance(head, list):
        return "item"
    if not isinstance(head, dict):
        raise FormatError(f"expected a JSON object at the top level, got a {type(head).__name__}", str(path))
    if not isinstance(head.get("annotations"), list):
        raise FormatError("expected an 'annotations' list", str(path))
    return "annotations.item"


def stream_pairs(
    gt: Path, pred: Path, *, gt_masks: Path | None = None, pred_masks: Path | None = None, allow_missing: bool = False
) -> PairStream:
    """Pair ground truth and predictions by image id without holding either JSON.

    A first, light pass reads only the image ids of both (to report unknown and missing
    images before any work). The second pass walks the ground truth and reads predictions
    as it needs them: when both list images in the same order (the usual case) nothing is
    held; otherwise the predictions read ahead wait in a dict until their image comes.
    """
    category_records = section(gt, "categories")
    head = sketch(gt)
    if not isinstance(category_records, list) or not isinstance(head, dict) or not isinstance(head.get("images"), list):
        raise FormatError("not a COCO dataset: expected a JSON object with lists images, categories", str(gt))
    categories = parse_categories(category_records, gt, default_isthing=True)
    # Everything the first pass keeps is 8-byte numbers: ~40 bytes per image in all, so
    # memory does not grow with the dataset in any way that matters (4,000 images: 160 kB).
    images = _ImageTable.read(gt)
    prefix = _records_prefix(pred)
    gt_ids = _ids(items(gt, "annotations.item"), gt, "an annotation")
    pred_ids = _ids(items(pred, prefix), pred, "a prediction")
    for ids, where, what in ((gt_ids, gt, "annotation"), (pred_ids, pred, "prediction")):
        stray = ids[~images.has(ids)]
        if stray.size:
            owner = "'images' does not list" if what == "annotation" else "the ground truth does not have"
            raise SegtoolError(f"{what} for image id {int(stray[0])}, which {owner}", str(where))
        ordered = np.sort(ids)
        twice = ordered[1:][ordered[1:] == ordered[:-1]]
        if twice.size:
            first = int(ids[np.isin(ids, twice)][0])
            raise SegtoolError(
                f"image id {first} has several {what} records; which one counts is ambiguous", str(where)
            )
    pred_ids.sort()
    missing = gt_ids[~np.isin(gt_ids, pred_ids)]
    if missing.size and not allow_missing:
        raise SegtoolError(
            f"no prediction for {missing.size} ground-truth image(s), e.g. image id {int(missing[0])}; "
            "pass --allow-missing to count them as all false negatives",
            str(pred),
        )
    gt_folder, pred_folder = masks_dir(gt, gt_masks), masks_dir(pred, pred_masks)

    max_segments = limit("segments")

    def sample(ann: dict[str, Any], folder: Path, path: Path) -> Sample:
        name = file_name(ann["file_name"], f"annotation of image {ann['image_id']}", path)
        image = images.info(int(ann["image_id"]), name)
        return Sample(image, PanopticRecord(str(folder / name), ann, str(path), max_segments))

    def pairs() -> Iterator[tuple[Sample, Sample | None]]:
        pending: dict[Any, dict[str, Any]] = {}
        ahead = items(pred, prefix)
        for a in items(gt, "annotations.item"):
            iid = a["image_id"]
            k = int(np.searchsorted(pred_ids, iid))
            if k == len(pred_ids) or pred_ids[k] != iid:
                yield sample(a, gt_folder, gt), None
                continue
            while iid not in pending:
                p = next(ahead)
                pending[p["image_id"]] = p
            yield sample(a, gt_folder, gt), sample(pending.pop(iid), pred_folder, pred)

    return PairStream(categories, len(gt_ids), int(missing.size), pairs())


@dataclass
class _ImageTable:
    """The ground truth's image records as sorted arrays of id, height and width (what PQ
    needs of them), read one record at a time."""

    ids: npt.NDArray[np.int64]
    height: npt.NDArray[np.int64]
    width: npt.NDArray[np.int64]

    @classmethod
    def read(cls, path: Path) -> _ImageTable:
        """Stream ``images``, checking each record as :func:`parse_images` does."""
        cols = [array("q"), array("q"), array("q")]
        max_pixels = limits.current().pixels
        try:
            for i, rec in enumerate(list_items(path, "images")):
                im = parse_image(rec, i, path, max_pixels)
                for col, v in zip(cols, (im.id, im.height, im.width), strict=True):
                    col.append(v)
        except OverflowError:
            raise SegtoolError("an image id or size does not fit in 64 bits", str(path)) from None
        ids, height, width = (np.frombuffer(c, np.int64) if len(c) else np.zeros(0, np.int64) for c in cols)
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        twice = ids[1:][ids[1:] == ids[:-1]]
        if twice.size:
            raise SegtoolError(f"image id {int(twice[0])} appears twice", str(path))
        return cls(ids, height[order], width[order])

    def has(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of ``ids`` the table lists."""
        return np.isin(ids, self.ids)

    def info(self, iid: int, file_name: str) -> ImageInfo:
        """The record of image ``iid`` (listed), named by its annotation's file."""
        k = int(np.searchsorted(self.ids, iid))
        return ImageInfo(iid, file_name, int(self.height[k]), int(self.width[k]))


def _ids(records: Iterator[Any], path: Path, what: str) -> npt.NDArray[np.int64]:
    """The checked image ids of a stream of annotation records, as one int64 array."""
    out = array("q")
    try:
        for rec in records:
            out.append(_image_id(rec, path, what))
    except OverflowError:
        raise SegtoolError(f"{what}: an image id does not fit in 64 bits", str(path)) from None
    return np.frombuffer(out, np.int64).copy() if len(out) else np.zeros(0, np.int64)
