"""Fix a COCO panoptic dataset: exact areas and boxes, no dangling segments or annotations.

Per image (in worker processes): duplicate segment records and records with no pixel are
removed; crowd flags on stuff are cleared; segments of unknown categories and PNG ids nobody lists become void (id 0, which
is what an unlisted id means to panopticapi anyway); area and bbox are recomputed from the
pixels. A PNG whose pixels did not change is copied byte for byte; one that did is
re-encoded. A PNG that is missing, unreadable or of the wrong size is left as it is.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import masks, png
from ..atomic import inside
from ..checks.options import CheckOptions
from ..checks.schema import CATEGORY, IMAGE, PANOPTIC_ANNOTATION, SEGMENT
from ..errors import SegtoolError
from ..fix.changes import Change, FixSummary, prepare, refuse_malformed
from ..parallel import imap, jobs_for
from ..policy import QUIET
from .coco_panoptic import masks_dir
from .common import dump_json, load_json, require_dict


@dataclass(frozen=True)
class _Job:
    image: dict[str, Any]
    ann: dict[str, Any]
    src: str
    dst: str
    known: frozenset[Any]
    things: frozenset[Any]


def _records(job: _Job, changes: list[Change]) -> list[dict[str, Any]]:
    """Well-formed segment records, first of each id, of known categories."""
    iid = job.image.get("id")
    seen: set[Any] = set()
    kept = []
    for s in job.ann.get("segments_info") or []:
        if not isinstance(s, dict) or "id" not in s:
            continue
        if s["id"] in seen:
            changes.append(Change("duplicate-segment-id", "removed the repeated record", iid, s["id"]))
            continue
        seen.add(s["id"])
        if s.get("category_id") not in job.known:
            changes.append(Change("unknown-category", "removed the segment, its pixels made void", iid, s["id"]))
            continue
        if s.get("iscrowd") and s.get("category_id") not in job.things:
            changes.append(Change("crowd-on-stuff", "set iscrowd to 0", iid, s["id"]))
            s = {**s, "iscrowd": 0}
        kept.append(s)
    return kept


def _ids(job: _Job) -> Any:
    """The PNG's ids when it can be fixed (readable, RGB, right size), else None."""
    image = job.image
    rgb = png.read_rgb(job.src, image["width"], image["height"], f"image {image['id']}", QUIET)
    return None if rgb is None else png.rgb_to_u32(rgb)


def _fix_image(job: _Job) -> tuple[dict[str, Any], list[Change]]:
    changes: list[Change] = []
    iid = job.image.get("id")
    info = _records(job, changes)
    ids = _ids(job)
    if ids is None:  # nothing to measure: keep the records we could vet, copy what exists
        if Path(job.src).is_file():
            shutil.copyfile(job.src, job.dst)
        return {**job.ann, "segments_info": info}, changes
    runs, dead = masks.Runs.of_ids(ids, np.array([int(s["id"]) for s in info], dtype=np.int64))
    area, boxes = runs.areas(), runs.bboxes()
    removed = {c.segment_id for c in changes if c.code == "unknown-category"}
    changes += [
        Change("id-not-listed", "made its pixels void", iid, sid) for sid in dead.tolist() if sid not in removed
    ]
    out = []
    for k, s in enumerate(info):
        if area[k] == 0:
            changes.append(Change("segment-absent", "removed the record", iid, s["id"]))
            continue
        s = dict(s)
        if s.get("area") != int(area[k]):
            changes.append(Change("area-mismatch", "recomputed area", iid, s["id"], f"{s.get('area')} → {area[k]}"))
            s["area"] = int(area[k])
        box = [int(v) for v in boxes[k]]
        if not isinstance(s.get("bbox"), list) or [float(v) for v in s["bbox"]] != boxes[k].tolist():
            changes.append(Change("bbox-mismatch", "recomputed bbox", iid, s["id"], f"{s.get('bbox')} → {box}"))
            s["bbox"] = box
        out.append(s)
    if dead.size:
        ids = ids & 0xFFFFFF
        png.save(masks.id2rgb(np.where(np.isin(ids, dead), 0, ids)), job.dst)
    else:
        shutil.copyfile(job.src, job.dst)
    return {**job.ann, "segments_info": out}, changes


def _job(
    image: dict[str, Any],
    ann: dict[str, Any],
    src_folder: Path,
    out_folder: Path,
    known: frozenset[Any],
    things: frozenset[Any],
    path: Path,
) -> _Job:
    """One image's work; a ``file_name`` that would leave the PNG folder is refused (it
    would read, and write, a file elsewhere: an input, or anything)."""
    name = str(ann.get("file_name"))
    try:
        dst = inside(out_folder, name)
    except SegtoolError as exc:
        raise SegtoolError(f"image {image.get('id')}: {exc}", str(path)) from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    return _Job(image, ann, str(inside(src_folder, name)), str(dst), known, things)


def fix_panoptic(
    path: Path,
    out: Path,
    *,
    masks: Path | None = None,
    overwrite: bool = False,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> FixSummary:
    """Write a corrected copy of the panoptic dataset ``path`` to ``out`` (+ its PNG folder)."""
    data = require_dict(load_json(path), path, ("images", "annotations", "categories"))
    segments = [
        s
        for a in (data["annotations"] if isinstance(data["annotations"], list) else [])
        if isinstance(a, dict) and isinstance(a.get("segments_info"), list)
        for s in a["segments_info"]
    ]
    refuse_malformed(
        path,
        [
            (data["images"], IMAGE),
            (data["categories"], CATEGORY),
            (data["annotations"], PANOPTIC_ANNOTATION),
            (segments, SEGMENT),
        ],
    )
    src_folder = masks_dir(path, masks)
    targets = [out, out.with_suffix("")]
    summary = FixSummary(outputs=[str(t) for t in targets])
    images = {im.get("id"): im for im in data["images"] if isinstance(im, dict)}
    cats = [c for c in data["categories"] if isinstance(c, dict)]
    known = frozenset(c.get("id") for c in cats)
    things = frozenset(c.get("id") for c in cats if c.get("isthing", 1))
    anns: dict[Any, dict[str, Any]] = {}
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            continue
        iid = ann.get("image_id")
        if iid not in images:
            summary.changes.append(Change("annotation-unknown-image", "removed the annotation", iid))
        elif iid in anns:
            summary.changes.append(Change("duplicate-annotation", "removed the repeated annotation", iid))
        else:
            anns[iid] = ann
    with prepare(targets, [path, src_folder], overwrite) as (tmp_json, tmp_folder):
        tmp_folder.mkdir()
        items = [_job(images[iid], ann, src_folder, tmp_folder, known, things, path) for iid, ann in anns.items()]
        fixed = []
        for record, changes in imap(_fix_image, items, jobs=jobs_for(len(items), jobs)):
            fixed.append(record)
            summary.changes += changes
            if progress is not None:
                progress(1)
        dump_json({**data, "annotations": fixed}, tmp_json)
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
    """The registry's entry: :func:`fix_panoptic` with the options that concern it."""
    return fix_panoptic(path, out, masks=options.masks, overwrite=overwrite, jobs=jobs, progress=progress)
