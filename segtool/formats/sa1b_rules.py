"""The rules of an SA-1B per-image JSON, written once for the reader (:mod:`.sa1b`) and for
``validate`` (:mod:`.sa1b_checks`), each with its own error policy (:mod:`segtool.policy`).

A file is ``{"image": {image_id, width, height, file_name}, "annotations": [...]}``; an
annotation is ``{id, segmentation: {size, counts}, bbox, area, predicted_iou,
stability_score, crop_box, point_coords}``, its segmentation a COCO compressed RLE. Problems
are reported under coco-instance's check codes (one code, one meaning, whichever format):

* ``malformed-record``: not an object, no ``image`` object or ``annotations`` list, an image
  side or id that is no integer, a file name no file can have; an annotation's ``id``,
  ``area`` or ``bbox`` as :mod:`.instance_rules` reads them (usable or fatal alike);
* ``bad-segmentation``: a segmentation that is not a compressed RLE (``{size, counts}`` with
  string counts);
* ``rle-size``: an RLE's size differs from the image's (``[height, width]``);
* ``rle-undecodable``: counts that pycocotools would misread or that do not add up to
  height x width (:func:`segtool.masks.bad_compressed`, before pycocotools sees them).

An annotation with any fatal problem is left out (the strict policy stops at it); the other
keys of an annotation (``predicted_iou``, ``stability_score``, ``crop_box``,
``point_coords`` and any other) are kept as its ``extra``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import masks
from ..errors import SegtoolError
from ..policy import Policy, place
from .common import SIDE, file_name, image_id, int_field
from .instance_rules import values

CORE = ("id", "segmentation", "bbox", "area")  # the annotation keys read into the model


@dataclass(frozen=True, slots=True)
class Sa1bObject:
    """One annotation: its id, compressed RLE (``str`` counts), stored area and box (None
    when absent) and its other keys."""

    id: int
    rle: dict[str, Any]
    area: float | None
    bbox: tuple[float, float, float, float] | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sa1bFile:
    """One SA-1B JSON: its image record and the annotations that passed the rules."""

    image_id: int | str
    file_name: str
    height: int
    width: int
    objects: tuple[Sa1bObject, ...]
    image_extra: dict[str, Any] = field(default_factory=dict)
    annotations: int = 0  # as listed in the file, the left-out ones included


def _image(data: Any, path: str, report: Policy, number: int) -> tuple[int | str, str, int, int, dict[str, Any]] | None:
    """The image record's id, file name, height and width, and its other keys."""
    if not isinstance(data, dict):
        report("malformed-record", f"expected a JSON object, got a {type(data).__name__}", path, number)
        return None
    image, anns = data.get("image"), data.get("annotations")
    if not isinstance(image, dict) or not isinstance(anns, list):
        report("malformed-record", "an SA-1B JSON has an 'image' object and an 'annotations' list", path, number)
        return None
    p = Path(path)
    try:
        iid = image_id(image, "image_id", "image", p) if "image_id" in image else number
        height = int_field(image, "height", "image", p, SIDE)
        width = int_field(image, "width", "image", p, SIDE)
        name = file_name(image.get("file_name", f"{p.stem}.jpg"), "image", p)
        masks.check_size(height, width)  # the pixels limit, pycocotools' 32-bit counts
    except (SegtoolError, ValueError) as exc:
        report("malformed-record", exc.message if isinstance(exc, SegtoolError) else str(exc), path, number)
        return None
    extra = {k: v for k, v in image.items() if k not in ("image_id", "file_name", "height", "width")}
    return iid, name, height, width, extra


def parse(data: Any, path: str, report: Policy, number: int) -> Sa1bFile | None:
    """The file's image and annotations (``number``: the image's place in the folder, its id
    when the record has none), every problem handed to ``report``; None when the file is
    not an SA-1B JSON at all."""
    head = _image(data, path, report, number)
    if head is None:
        return None
    iid, name, height, width, image_extra = head
    listed: list[Any] = data["annotations"]
    kept: list[Sa1bObject] = []
    rles: list[dict[str, Any]] = []
    for k, a in enumerate(listed):
        obj = _annotation(a, k, iid, height, width, path, report)
        if obj is not None:
            kept.append(obj)
            rles.append(obj.rle)
    bad = masks.bad_compressed(rles).tolist() if rles else []
    objects = []
    for obj, broken in zip(kept, bad, strict=True):
        if broken:
            msg = f"{place(iid, obj.id)}: the compressed RLE cannot be decoded"
            report("rle-undecodable", msg, path, iid, obj.id)
            continue
        objects.append(obj)
    return Sa1bFile(iid, name, height, width, tuple(objects), image_extra, len(listed))


def _annotation(
    a: Any, k: int, iid: int | str, height: int, width: int, path: str, report: Policy
) -> Sa1bObject | None:
    """Annotation #``k``, or None when a rule leaves it out."""
    if not isinstance(a, dict):
        report("malformed-record", f"image {iid}: annotation #{k} is not an object", path, iid)
        return None
    found = values(a, iid, k)  # id, area, bbox as the COCO instance reader takes them
    for problem in found.problems:
        if not report("malformed-record", problem.message, path, iid, usable=problem.usable):
            return None
    aid = found.id if "id" in a else k + 1
    segm = a.get("segmentation")
    if not (isinstance(segm, dict) and isinstance(segm.get("counts"), str) and "size" in segm):
        msg = f"{place(iid, aid)}: 'segmentation' must be a compressed RLE {{size, counts}}, got {segm!r:.40}"
        report("bad-segmentation", msg, path, iid, aid)
        return None
    if segm["size"] != [height, width]:
        msg = f"{place(iid, aid)}: RLE size {segm['size']!r:.40} differs from the image size [{height}, {width}]"
        report("rle-size", msg, path, iid, aid)
        return None
    extra = {key: v for key, v in a.items() if key not in CORE}
    area = found.area if "area" in a else None
    return Sa1bObject(aid, {"size": [height, width], "counts": segm["counts"]}, area, found.bbox, extra)


def unique_image(seen: dict[Any, str], iid: Any, path: str, report: Policy) -> bool:
    """Whether ``iid`` is no other file's image id (``seen``: the ids so far, with their
    files; this one added); else ``duplicate-image-id`` is reported."""
    if iid in seen:
        report("duplicate-image-id", f"image id {iid!r:.40} is also the image of {seen[iid]}", path, iid)
        return False
    seen[iid] = path
    return True
