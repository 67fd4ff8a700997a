"""Checks of a COCO panoptic dataset: the JSON records and every PNG, tolerantly.

Nothing here raises on a broken dataset: each problem becomes a :class:`Finding`. Only a
JSON that cannot be read at all (or is not a panoptic dataset) is a ``SegtoolError``.
Per-image checks run in worker processes; dataset-wide checks run on the JSON and on the
per-image statistics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import masks, png
from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.records import unused_categories
from ..checks.registry import INF, Collect, E, W, finding, register, unlabeled
from ..checks.schema import is_id
from ..checks.spill import FindingLog
from ..checks.tolerance import Tolerance, area_verdict, box_verdict, verdict_finding
from ..parallel import imap, jobs_for
from .coco_record_checks import dataset_records
from .coco_record_table import ImageRecords, Seen
from .coco_records import count_images, unknown_image
from .common import limit
from .jsonstream import items
from .panoptic_rules import annotation_record, pixel_ids, repeated_annotation, segment_records

register(
    Check("id-not-listed", E, "a segment id in the PNG is not listed in segments_info"),
    Check("segment-absent", E, "a segment listed in segments_info has no pixel in the PNG"),
    Check("duplicate-segment-id", E, "a segment id is listed twice in one image"),
    Check("area-mismatch", E, "a segment's area differs from its mask (pixel count; a polygon's own area)"),
    Check("bbox-mismatch", E, "a segment's bbox differs from its mask's extent (w = xmax - xmin + 1)"),
    Check("stuff-split", W, "a stuff category has several segments in one image"),
    Check("crowd-on-stuff", W, "iscrowd is set on a stuff segment"),
    Check("several-crowd", W, "one image has several crowd segments of one category (panopticapi uses the last)"),
    Check("unlabeled", INF, "fraction of unlabeled pixels in an image (panoptic id 0, semantic ignore value)"),
    Check("duplicate-annotation", E, "two annotations name the same image"),
    Check("image-without-annotation", W, "an image has no annotation record (no PNG)"),
)


@dataclass(frozen=True)
class _Job:
    image: dict[str, Any]
    ann: dict[str, Any]
    png: str
    things: frozenset[Any]
    known: frozenset[Any]
    max_unlabeled: float
    tolerance: Tolerance = field(default_factory=Tolerance)


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    used: Counter[Any] = field(default_factory=Counter)
    unlabeled: int = 0
    pixels: int = 0
    excused: set[Any] = field(default_factory=set)  # ids of malformed records, already reported


def _record_checks(job: _Job, out: _ImageOut) -> list[dict[str, Any]]:
    """Checks of segments_info alone; returns the well-formed segment records."""
    iid = job.image["id"]
    raw = job.ann["segments_info"]
    info = segment_records(raw, iid, job.png, job.known, Collect(out.findings))
    if len(info) < len(raw):  # a malformed record still names its pixels and its category: no second finding for them
        good = {id(s) for s in info}
        for s in raw:
            if isinstance(s, dict) and id(s) not in good:
                if is_id(s.get("id")):
                    out.excused.add(s["id"])
                if is_id(s.get("category_id")):
                    out.used[s["category_id"]] += 1
    crowd: Counter[Any] = Counter()
    stuff: Counter[Any] = Counter()
    for s in info:
        cat = s.get("category_id")
        out.used[cat] += 1
        if cat not in job.known:  # reported by segment_records
            continue
        if cat not in job.things:
            stuff[cat] += 1
            if s.get("iscrowd"):
                out.findings.append(
                    finding("crowd-on-stuff", f"iscrowd on stuff category {cat}", job.png, iid, s["id"])
                )
        elif s.get("iscrowd"):
            crowd[cat] += 1
    for cat, n in stuff.items():
        if n > 1:
            out.findings.append(finding("stuff-split", f"stuff category {cat} has {n} segments", job.png, iid))
    for cat, n in crowd.items():
        if n > 1:
            out.findings.append(finding("several-crowd", f"category {cat} has {n} crowd segments", job.png, iid))
    return info


def _read_ids(job: _Job, out: _ImageOut) -> Any:
    """The PNG's id map, or None after recording why it cannot be checked."""
    image = job.image
    rgb = png.read_rgb(
        job.png, image["width"], image["height"], f"image {image['id']}", Collect(out.findings), image["id"]
    )
    return None if rgb is None else png.rgb_to_u32(rgb)


def _pixel_checks(job: _Job, info: list[dict[str, Any]], ids: Any, out: _ImageOut) -> None:
    iid, path = job.image["id"], job.png
    listed = np.array(sorted({int(s["id"]) for s in info}), dtype=np.int64)
    runs, unknown = masks.Runs.of_ids(ids, listed)
    area = runs.areas()
    pixel_ids(listed, np.unique(unknown), area, iid, path, Collect(out.findings), out.excused)
    boxes = runs.bboxes()
    first = {s["id"]: s for s in reversed(info)}  # each id's first record (a search per id was quadratic)
    for k, sid in enumerate(listed.tolist()):
        rec = first[sid]
        if area[k] == 0:  # reported by pixel_ids
            continue
        if "area" in rec and rec["area"] != area[k]:  # pixel counts: the strict comparison is equality
            verdict, why = area_verdict(float(rec["area"]), float(area[k]), job.tolerance, exact=0.0)
            measured = f"the PNG has {area[k]} pixels"
            out.findings.append(verdict_finding("area", verdict, why, rec["area"], measured, path, iid, sid))
        box = rec.get("bbox")
        if box is not None and [float(v) for v in box] != boxes[k].tolist():
            verdict, why = box_verdict(box, boxes[k].tolist(), job.tolerance, polygon=False, exact=0.0)
            measured = f"the pixels span {[int(v) for v in boxes[k]]}"
            out.findings.append(verdict_finding("bbox", verdict, why, box, measured, path, iid, sid))
    out.pixels = int(ids.size)
    out.unlabeled = int(np.count_nonzero((ids & 0xFFFFFF) == 0))
    found = unlabeled(out.unlabeled, out.pixels, job.max_unlabeled, "are unlabeled", path, iid)
    out.findings += [found] if found else []


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut()
    info = _record_checks(job, out)
    ids = _read_ids(job, out)
    if ids is not None:
        _pixel_checks(job, info, ids, out)
    return out


def _annotation_jobs(
    path: Path, images: ImageRecords, make: Callable[[dict[str, Any], dict[str, Any]], _Job]
) -> tuple[FindingLog, Seen, Iterator[_Job]]:
    """Stream the annotations: one job per image, dangling and repeated annotations as findings.

    Returns the findings and the annotated images, both filled as the jobs are consumed,
    and the jobs.
    """
    found = FindingLog()
    seen = Seen(images)
    max_segments = limit("segments")

    def jobs() -> Iterator[_Job]:
        collect = Collect(log=found)
        for ann in items(path, "annotations.item"):
            record = annotation_record(ann, str(path), collect, max_segments)
            if record is None:
                iid = ann.get("image_id") if isinstance(ann, dict) and is_id(ann.get("image_id")) else None
                seen.add(iid)  # reported once, not again as an image without annotation
                continue
            iid = record[0]
            row = images.row(iid)
            if row is None:
                unknown_image(iid, images, str(path), collect)
            elif iid in seen:
                repeated_annotation(iid, str(path), collect)  # the first one is checked
            else:
                seen.add(iid)
                yield make(images.record(row), ann)

    return found, seen, jobs()


def joined(folder: str, name: str) -> str:
    """``str(Path(folder) / name)`` without a Path: pathlib interns every part it parses, in
    a table that grew by a PNG name an image. The plain join when it spells the same path
    (no ``.`` part, no repeated or trailing slash), else pathlib's."""
    plain = (
        folder not in ("", ".")
        and name not in ("", ".")
        and not name.startswith(("/", "./"))
        and not name.endswith(("/", "/."))
        and "//" not in name
        and "/./" not in name
        and not folder.endswith("/")
    )
    return f"{folder}/{name}" if plain else str(Path(folder) / name)


def validate_panoptic(
    path: Path,
    *,
    masks_dir: Path | None = None,
    images_dir: Path | None = None,
    max_unlabeled: float = 0.0,
    tolerance: Tolerance | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Every finding of a COCO panoptic dataset (JSON + PNG folder); areas and boxes compared
    within ``tolerance`` (default: :class:`Tolerance`'s).

    The annotations are streamed from the JSON and checked as they are read, and the
    findings beyond a few hundred wait on disk (:class:`FindingLog`), so memory does not
    grow with the number of images.
    """
    records_found, images, cats = dataset_records(path, images_dir)
    folder = str(masks_dir or path.with_suffix(""))
    known = frozenset(c.get("id") for c in cats)
    things = frozenset(c.get("id") for c in cats if c.get("isthing", 1))

    def make(image: dict[str, Any], ann: dict[str, Any]) -> _Job:
        file = joined(folder, str(ann.get("file_name")))
        return _Job(image, ann, file, things, known, max_unlabeled, tolerance or Tolerance())

    streamed, annotated, work = _annotation_jobs(path, images, make)
    pixel_found = FindingLog()
    used: Counter[Any] = Counter()
    unlabeled = pixels = checked = 0
    for out in imap(_check_image, work, jobs=jobs_for(len(images), jobs)):
        pixel_found += out.findings
        used.update(out.used)
        unlabeled += out.unlabeled
        pixels += out.pixels
        if progress is not None:
            progress(1)
            checked += 1
    # the total counts image records (validation.validate announces them): those with no
    # annotation to check (none, a malformed one) are done too, so the count ends at the total
    if progress is not None and (rest := (count_images(path) or 0) - checked) > 0:
        progress(rest)
    found = FindingLog(records_found)
    found += streamed
    streamed.close()
    found += (
        finding("image-without-annotation", "the image has no annotation record", str(path), iid)
        for iid in images
        if iid not in annotated
    )
    found += pixel_found
    pixel_found.close()
    found += unused_categories(cats, used, str(path))
    stats = {
        "images": len(images),
        "annotations": len(annotated),
        "unlabeled_fraction": unlabeled / pixels if pixels else 0.0,
    }
    return Report(found, stats)


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_panoptic` with the options that concern it."""
    return validate_panoptic(
        path,
        masks_dir=options.masks,
        images_dir=options.images_dir,
        max_unlabeled=options.max_unlabeled,
        tolerance=options.tolerance,
        jobs=jobs,
        progress=progress,
    )
