"""Fix a COCO instance JSON: exact areas and boxes, no dangling or empty annotations, unique ids.

Annotations of unknown images or categories are removed; repeated annotation ids after the
first are renumbered above the largest id; degenerate polygon parts are dropped (the whole
annotation when none is left), as are masks with no pixel; area and bbox are recomputed the
way COCO defines them (a polygon's own area and extent, an RLE's pixels). Malformed RLEs
and segmentations of unknown shape are left as they are: only a person can repair them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import masks
from ..checks.options import CheckOptions
from ..checks.schema import CATEGORY, IMAGE
from ..fix.changes import Change, FixSummary, prepare, refuse_malformed
from .coco_instance_checks import TOL
from .coco_polygons import outline_problem, polygon_geometry
from .common import dump_json, load_json, require_dict
from .instance_rules import first_problem


def _geometry(ann: dict[str, Any], image: dict[str, Any], changes: list[Change]) -> tuple[float, list[float]] | None:
    """(area, bbox) of the annotation's mask, after dropping degenerate polygon parts;
    None when nothing is left to measure (the caller removes or keeps it as it is)."""
    iid, aid = image.get("id"), ann.get("id")
    h, w = image.get("height", 0), image.get("width", 0)
    segm = ann.get("segmentation")
    if isinstance(segm, list) and segm:
        good = _usable_polygons(segm, h, w)
        if len(good) < len(segm):
            changes.append(
                Change(
                    "degenerate-polygon",
                    "dropped degenerate polygons",
                    iid,
                    aid,
                    f"{len(segm) - len(good)} of {len(segm)}",
                )
            )
            ann["segmentation"] = good
        return polygon_geometry(good) if good else None
    if isinstance(segm, dict) and "counts" in segm and "size" in segm:
        try:
            rle = masks.to_pyco(masks.to_compressed(segm, h, w))
            return float(masks.rle_areas([rle])[0]), masks.rle_boxes([rle])[0].tolist()  # guarded
        except ValueError:  # malformed or undecodable: left for a person
            return None
    return None


def _usable_polygons(polys: list[Any], h: int, w: int) -> list[Any]:
    """The polygons validate accepts: each well formed (``outline_problem``) and, when the
    image's size is one pycocotools may take, not refused by ``masks.polygon_problem``
    (points more than an image size outside it, edges too long), alone or all together
    (then none is kept). An image over the ``pixels`` limit leaves polygons as they are:
    they are not at fault, and the fix computes their area and box without rasterising."""
    good = [p for p in polys if outline_problem(p) is None]
    try:
        masks.check_size(h, w)
    except ValueError:
        return good
    good = [p for p in good if masks.polygon_problem([p], h, w) is None]
    return good if not good or masks.polygon_problem(good, h, w) is None else []


def _fix_annotation(ann: dict[str, Any], image: dict[str, Any], changes: list[Change]) -> dict[str, Any] | None:
    """The corrected annotation, or None when it is to be removed."""
    iid, aid = image.get("id"), ann.get("id")
    ann = dict(ann)
    segm = ann.get("segmentation")
    if segm is None or segm == []:
        return ann  # a box without a mask: nothing to measure
    geometry = _geometry(ann, image, changes)
    if geometry is None:
        if isinstance(segm, list):
            changes.append(Change("degenerate-polygon", "removed the annotation (no usable polygon)", iid, aid))
            return None
        return ann  # malformed RLE or unknown shape: left for a person
    area, box = geometry
    if area == 0:
        changes.append(Change("empty-mask", "removed the annotation (no pixel)", iid, aid))
        return None
    if "area" not in ann or abs(float(ann["area"]) - area) > TOL * max(1.0, area):
        changes.append(Change("area-mismatch", "recomputed area", iid, aid, f"{ann.get('area')} → {area:g}"))
        ann["area"] = area
    given = ann.get("bbox")
    if not (
        isinstance(given, list)
        and len(given) == 4
        and max(abs(float(a) - b) for a, b in zip(given, box, strict=True)) <= TOL
    ):
        changes.append(Change("bbox-mismatch", "recomputed bbox", iid, aid, f"{given} → {[round(v, 2) for v in box]}"))
        ann["bbox"] = box
    return ann


def fix_instance(
    path: Path,
    out: Path,
    *,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> FixSummary:
    """Write a corrected copy of the COCO instance JSON ``path`` to ``out``."""
    data = require_dict(load_json(path), path, ("images", "annotations", "categories"))
    refuse_malformed(
        path,
        [(data["images"], IMAGE), (data["categories"], CATEGORY), (data["annotations"], first_problem)],
    )
    summary = FixSummary(outputs=[str(out)])
    images: dict[Any, dict[str, Any]] = {}
    for im in data["images"]:
        if isinstance(im, dict):
            images.setdefault(im.get("id"), im)
    known = {c.get("id") for c in data["categories"] if isinstance(c, dict)}
    numeric: list[int] = [a["id"] for a in data["annotations"] if isinstance(a, dict) and isinstance(a.get("id"), int)]
    next_id = max(numeric, default=0) + 1
    seen: set[Any] = set()
    fixed = []
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            continue
        iid, aid = ann.get("image_id"), ann.get("id")
        if iid not in images:
            summary.changes.append(Change("annotation-unknown-image", "removed the annotation", iid, aid))
            continue
        if ann.get("category_id") not in known:
            summary.changes.append(Change("unknown-category", "removed the annotation", iid, aid))
            continue
        record = _fix_annotation(ann, images[iid], summary.changes)
        if record is None:
            continue
        if aid in seen:
            summary.changes.append(Change("duplicate-annotation-id", "renumbered", iid, aid, f"{aid} → {next_id}"))
            record["id"] = next_id
            next_id += 1
        seen.add(record["id"])
        fixed.append(record)
        if progress is not None:
            progress(1)
    with prepare([out], [path], overwrite) as (tmp,):
        dump_json({**data, "annotations": fixed}, tmp)
    return summary


def fix(
    path: Path,
    out: Path,
    options: CheckOptions,
    *,
    overwrite: bool = False,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> FixSummary:
    """The registry's entry: :func:`fix_instance` (one process: no pixels to decode)."""
    return fix_instance(path, out, overwrite=overwrite, progress=progress)
