"""Checks of a COCO instance (detection) JSON: every annotation's mask, area and box, and
overlaps between instances, tolerantly (each problem is a finding, nothing raises).

COCO stores a polygon's own geometric area and float extent, not those of its rasterised
mask (checked on real COCO val2017 annotations: equal to 1e-12). So polygons are checked
against the shoelace area and their points' extent, RLEs against their pixels, exactly; a
difference within the tolerance (:mod:`segtool.checks.tolerance`: rounding, one-pixel box
conventions, a polygon's pixel count) is info, not an error. A box-only annotation (no
mask) is checked for an area larger than its box.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import masks
from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.records import unused_categories
from ..checks.registry import INF, Collect, E, W, finding, register
from ..checks.schema import is_id
from ..checks.spill import FindingLog
from ..checks.tolerance import Tolerance, Verdict, area_verdict, box_area_verdict, box_verdict, outline, verdict_finding
from ..parallel import imap, jobs_for
from ..rlepairs import as_pycocotools, capped, shared_pixels
from .coco_polygons import outline_problem, polygon_geometry
from .coco_record_checks import dataset_records
from .coco_record_table import Seen
from .coco_records import count_images, references
from .common import limit
from .instance_rules import first_problem
from .jsonstream import Passes

register(
    Check(
        "degenerate-polygon",
        E,
        "a polygon with fewer than 3 points, an odd number of coordinates, coordinates that are not finite"
        " numbers, or no area; or polygons pycocotools must not rasterise: reaching more than one image size"
        " beyond the image, or with edges longer than 64 image perimeters (2^20 pixels at most)",
    ),
    Check(
        "rle-size",
        E,
        "an RLE's size differs from its image's, or its counts do not add up to it, or the image is larger than"
        " the pixels limit or than pycocotools' 32-bit counts hold",
    ),
    Check("rle-undecodable", E, "a compressed RLE string cannot be decoded"),
    Check("bad-segmentation", E, "a segmentation that is neither polygons nor an RLE"),
    Check("area-mismatch", E, "a segment's area differs from its mask (pixel count; a polygon's own area)"),
    Check("bbox-mismatch", E, "a segment's bbox differs from its mask's extent (w = xmax - xmin + 1)"),
    Check("duplicate-annotation-id", E, "two annotations share an id"),
    Check("mask-outside", W, "a polygon has points outside the image"),
    Check("empty-mask", W, "a mask with no pixel"),
    Check("crowd-polygon", W, "a crowd annotation given as polygons (COCO uses RLE for crowd)"),
    Check("overlap", W, "two instances of one image share pixels (IoU above --max-overlap)"),
    Check("no-annotations", INF, "an image without annotations"),
    Check(
        "area-exceeds-box",
        E,
        "a box-only annotation (no mask) whose area is larger than its box (w × h; beyond the tolerance,"
        " (w + 1) × (h + 1))",
    ),
)
TOL = 1e-6  # the strict comparison (--tolerance 0; --fix recomputes beyond it)
DENSE_INSTANCES = 128  # up to this many instances the IoU matrix is as quick as the runs (measured)


@dataclass(frozen=True)
class _Job:
    image: dict[str, Any]
    anns: tuple[dict[str, Any], ...]
    path: str
    max_overlap: float
    over_limit: Counter[Any] | None = None  # categories of an image with too many annotations (not checked)
    tolerance: Tolerance = field(default_factory=Tolerance)


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    used: Counter[Any] = field(default_factory=Counter)
    image_id: Any = None


def _polygon(ann: dict[str, Any], job: _Job, out: _ImageOut) -> dict[str, Any] | None:
    iid, aid = job.image.get("id"), ann.get("id")
    h, w = job.image.get("height", 0), job.image.get("width", 0)
    polys = ann["segmentation"]
    if ann.get("iscrowd"):
        out.findings.append(finding("crowd-polygon", "crowd annotation given as polygons", job.path, iid, aid))
    problem = next((why for why in map(outline_problem, polys) if why), None)
    if problem:
        out.findings.append(finding("degenerate-polygon", problem, job.path, iid, aid))
        return None
    area, box = polygon_geometry(polys)
    if box[0] < 0 or box[1] < 0 or box[0] + box[2] > w or box[1] + box[3] > h:
        out.findings.append(finding("mask-outside", f"points outside the {w}x{h} image", job.path, iid, aid))
    too_large = masks.polygon_problem(polys, h, w)  # before pycocotools: its cost grows with the edges
    if too_large:
        out.findings.append(finding("degenerate-polygon", too_large, job.path, iid, aid))
        return None
    _compare(ann, area, box, job, out, "polygon", outline(polys))
    return masks.rasterize(polys, h, w)


def _rles(pending: list[tuple[dict[str, Any], dict[str, Any]]], job: _Job, out: _ImageOut) -> list[Any]:
    """Check an image's RLE annotations together: one numpy decode of every string (before
    pycocotools' C code sees them), one call each for areas and boxes. Returns the usable ones."""
    iid = job.image.get("id")
    bad = masks.bad_compressed([r for _, r in pending])
    for (ann, _), broken in zip(pending, bad.tolist(), strict=True):
        if broken:
            out.findings.append(
                finding("rle-undecodable", "the compressed RLE cannot be decoded", job.path, iid, ann.get("id"))
            )
    good = [p for p, broken in zip(pending, bad.tolist(), strict=True) if not broken]
    if not good:
        return []
    areas = masks.rle_areas([r for _, r in good]).tolist()
    boxes = masks.rle_boxes([r for _, r in good]).tolist()
    for (ann, _), area, box in zip(good, areas, boxes, strict=True):
        if area == 0:
            out.findings.append(finding("empty-mask", "the mask has no pixel", job.path, iid, ann.get("id")))
        else:
            _compare(ann, float(area), box, job, out, "mask")
    return good


def _compare(
    ann: dict[str, Any],
    area: float,
    box: list[float],
    job: _Job,
    out: _ImageOut,
    what: str,
    perimeter: float | None = None,
) -> None:
    """The stored area and bbox against the mask's: exact, within ``job.tolerance`` (info),
    or not (the error). ``perimeter``: a polygon's outline (its area is then its own, and its
    pixel count is tolerated: :func:`~segtool.checks.tolerance.pixel_slack`); None for an RLE's
    pixels."""
    iid, aid = job.image.get("id"), ann.get("id")
    if "area" in ann:
        verdict, why = area_verdict(float(ann["area"]), area, job.tolerance, outline=perimeter, exact=TOL)
        if verdict is not Verdict.EXACT:  # (the message only then: most areas are exact)
            measured = f"the {what}'s is {area:g}"
            out.findings.append(verdict_finding("area", verdict, why, ann["area"], measured, job.path, iid, aid))
    given = ann.get("bbox")
    if not (isinstance(given, list) and len(given) == 4) or given == box:
        return
    verdict, why = box_verdict(given, box, job.tolerance, polygon=perimeter is not None, exact=TOL)
    if verdict is not Verdict.EXACT:
        spans = f"the {what} spans {[round(v, 2) for v in box]}"
        out.findings.append(verdict_finding("bbox", verdict, why, given, spans, job.path, iid, aid))


def _box_only(ann: dict[str, Any], job: _Job, out: _ImageOut) -> None:
    """A box without a mask (sahi's ground truth): its area cannot exceed its box."""
    box, area = ann.get("bbox"), ann.get("area")
    if not (isinstance(box, list) and len(box) == 4) or area is None:
        return
    verdict = box_area_verdict(float(area), box, job.tolerance, exact=TOL)
    if verdict is Verdict.EXACT:
        return
    iid, aid, w, h = job.image.get("id"), ann.get("id"), float(box[2]), float(box[3])
    if verdict is Verdict.MISMATCH:
        msg = f"area is {area} but its box {box} holds {w * h:g} (w × h), and it has no mask"
        out.findings.append(finding("area-exceeds-box", msg, job.path, iid, aid))
    else:
        msg = f"area is {area}, more than w × h = {w * h:g} of its box {box}: within (w + 1) × (h + 1), the tolerance"
        out.findings.append(finding("area-tolerated", msg, job.path, iid, aid))


def _overlaps(rles: list[tuple[dict[str, Any], dict[str, Any]]], job: _Job, out: _ImageOut) -> None:
    """Pairs of non-crowd instances whose IoU (pycocotools') exceeds ``max_overlap``, with
    pixels shared and IoU, in annotation order. Only pairs that share pixels are examined,
    so a ``max_overlap`` below 0 acts as 0."""
    plain = [(a, r) for a, r in rles if not a.get("iscrowd")]
    if len(plain) < 2:
        return
    a, b, ious, area, note = _pair_ious([r for _, r in plain], limit("segments"))
    for i, j, iou in zip(a.tolist(), b.tolist(), ious.tolist(), strict=True):
        if iou > job.max_overlap:
            pixels = round(iou * (area[i] + area[j]) / (1 + iou))
            ids = (plain[i][0].get("id"), plain[j][0].get("id"))
            msg = f"annotations {ids[0]} and {ids[1]} share {pixels} px (IoU {iou:.3f})"
            out.findings.append(finding("overlap", msg, job.path, job.image.get("id"), ids[0]))
    if note is not None:
        out.findings.append(finding("overlap", note, job.path, job.image.get("id")))


def _pair_ious(rles: list[Any], most: int) -> tuple[Any, ...]:
    """(i, j, IoU) of the first ``most`` pairs of masks (i < j, in order) whose IoU is above
    0, pycocotools' doubles; every mask's area; a note when some were left out. Up to
    :data:`DENSE_INSTANCES` masks, the IoU matrix (8 masks of 640x480: 0.15 ms where the
    runs take 0.27); more, the pairs that share pixels, from their runs
    (:mod:`segtool.rlepairs`): 1,024 squares of a grid, 16 ms where the matrix takes 32."""
    if len(rles) <= DENSE_INSTANCES:
        matrix = masks.iou(rles, rles, np.zeros(len(rles), bool))
        i, j = np.nonzero(np.triu(matrix, 1) > 0)
        note = capped(most) if i.size > most else None
        return i[:most], j[:most], matrix[i[:most], j[:most]], masks.rle_areas(rles).astype(float).tolist(), note
    shared = shared_pixels(rles, most)
    i, j, pixels, area = shared.a, shared.b, shared.pixels, shared.area
    odd = shared.inner_zero[i] | shared.inner_zero[j]
    ious = as_pycocotools(rles, rles, i, j, pixels / (area[i] + area[j] - pixels), odd, np.zeros(i.size, bool))
    keep = ious > 0  # pycocotools' loop may stop before a pixel shared
    return i[keep], j[keep], ious[keep], area.astype(float).tolist(), shared.note


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut(image_id=job.image.get("id"))
    if job.over_limit is not None:  # reported while streaming; its categories still count as used
        out.used = job.over_limit
        return out
    h, w = job.image.get("height", 0), job.image.get("width", 0)
    rles = []
    pending: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for ann in job.anns:
        out.used[ann.get("category_id")] += 1
        segm = ann.get("segmentation")
        if segm is None or segm == []:
            _box_only(ann, job, out)  # a box without a mask
            continue
        if isinstance(segm, list):
            rle = _polygon(ann, job, out)
        elif isinstance(segm, dict) and "counts" in segm and "size" in segm:
            try:
                pending.append((ann, masks.to_pyco(masks.to_compressed(segm, h, w))))
            except masks.MalformedRLE as exc:
                out.findings.append(finding("rle-undecodable", str(exc), job.path, job.image.get("id"), ann.get("id")))
            except ValueError as exc:
                out.findings.append(finding("rle-size", str(exc), job.path, job.image.get("id"), ann.get("id")))
            continue
        else:
            out.findings.append(
                finding("bad-segmentation", "neither polygons nor an RLE", job.path, job.image.get("id"), ann.get("id"))
            )
            rle = None
        if rle is not None:
            rles.append((ann, rle))
    rles += _rles(pending, job, out)
    _overlaps(rles, job, out)
    return out


class _Ids:
    """Annotation ids seen, for the duplicate check: integers in an 8-byte array (a COCO file
    has tens per image: as Python ints in a list they were most of validate's memory growth),
    anything else in a list."""

    def __init__(self) -> None:
        self.ints = array("q")
        self.other: list[Any] = []

    def add(self, value: Any) -> None:
        """Record one annotation's id."""
        if type(value) is int and -(2**63) <= value < 2**63:
            self.ints.append(value)
        else:
            self.other.append(value)


def _duplicate_ids(ids: _Ids, path: str) -> list[Finding]:
    """Annotation ids used more than once (integer ids are compared in numpy, not a dict)."""
    arr = np.sort(np.frombuffer(ids.ints, dtype=np.int64)) if len(ids.ints) else np.zeros(0, np.int64)
    repeated, counts = np.unique(arr[1:][arr[1:] == arr[:-1]], return_counts=True)
    dupes = dict(zip(repeated.tolist(), (counts + 1).tolist(), strict=True))
    dupes.update({k: n for k, n in Counter(ids.other).items() if n > 1})
    return [
        finding("duplicate-annotation-id", f"annotation id {aid} is used {n} times", path, None, aid)
        for aid, n in dupes.items()
    ]


def _image_jobs(
    path: Path,
    images: Mapping[Any, dict[str, Any]],
    known: set[Any],
    max_overlap: float,
    found: FindingLog,
    ids: _Ids,
) -> Iterator[_Job]:
    """Stream the annotations and yield one job per image as soon as all of its annotations
    have been read (counted in a first, light pass), so a file grouped by image (as most
    tools write them) is checked with flat memory. Dangling annotations become findings; every
    annotation id is appended to ``ids``. An image with more annotations than the
    ``segments`` limit is one ``malformed-record`` finding: its annotations are not kept or
    checked (per-annotation work stays bounded), only their ids and categories count."""
    passes = Passes(path)  # two passes, one open of the file
    expected = Counter(
        a.get("image_id") for i, a in enumerate(passes.items("annotations.item")) if first_problem(a, i) is None
    )
    most = limit("segments")
    over = {iid: Counter[Any]() for iid, n in expected.items() if n > most and iid in images}
    pending: dict[Any, list[dict[str, Any]]] = {}
    collect, source = Collect(log=found), str(path)
    for i, ann in enumerate(passes.items("annotations.item", last=True)):
        why = first_problem(ann, i)  # the reader's rules (instance_rules), usable problems too
        if why is not None:
            where = (ann.get("image_id"), ann.get("id")) if isinstance(ann, dict) else (None, None)
            collect("malformed-record", why, source, *[v if is_id(v) else None for v in where])
            continue
        ids.add(ann.get("id"))
        iid = ann.get("image_id")
        if not references(iid, ann.get("category_id"), ann.get("id"), images, known, source, collect):
            continue
        if iid in over:  # counted, not kept: the finding at its first annotation, a job at its last
            if not over[iid]:
                msg = f"image {iid!r:.40}: {expected[iid]:,} annotations, over the limit of {most:,}"
                found.append(finding("malformed-record", f"{msg} (raise it with --limit segments=N)", str(path), iid))
            over[iid][ann.get("category_id")] += 1
            expected[iid] -= 1
            if not expected[iid]:
                yield _Job(images[iid], (), str(path), max_overlap, over[iid])
            continue
        group = pending.setdefault(iid, [])
        group.append(ann)
        if len(group) == expected[iid]:
            yield _Job(images[iid], tuple(pending.pop(iid)), str(path), max_overlap)


def validate_instance(
    path: Path,
    *,
    images_dir: Path | None = None,
    max_overlap: float = 0.0,
    tolerance: Tolerance | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Every finding of a COCO instance JSON, its annotations streamed (see :func:`_image_jobs`);
    areas and boxes compared within ``tolerance`` (default: :class:`Tolerance`'s)."""
    records_found, images, cats = dataset_records(path, images_dir)
    ids = _Ids()
    streamed, per_image = FindingLog(), FindingLog()  # mostly on disk: memory flat in the images
    used: Counter[Any] = Counter()
    annotated = Seen(images)
    work = _image_jobs(path, images, {c.get("id") for c in cats}, max_overlap, streamed, ids)
    if tolerance is not None:
        work = (replace(job, tolerance=tolerance) for job in work)
    for out in imap(_check_image, work, jobs=jobs_for(len(images), jobs)):
        per_image += out.findings
        used.update(out.used)
        annotated.add(out.image_id)
        if progress is not None:
            progress(1)
    # the total counts image records (validation.validate announces them): those without
    # annotations are done too, so the count ends at the total
    if progress is not None and (rest := (count_images(path) or 0) - len(annotated)) > 0:
        progress(rest)
    annotations = sum(used.values())
    found = FindingLog(records_found)
    found += _duplicate_ids(ids, str(path))
    found += streamed
    found += (
        finding("no-annotations", "the image has no annotations", str(path), iid)
        for iid in images
        if iid not in annotated
    )
    found += per_image
    found += unused_categories(cats, used, str(path))
    return Report(found, {"images": len(images), "annotations": annotations})


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_instance` with the options that concern it."""
    return validate_instance(
        path,
        images_dir=options.images_dir,
        max_overlap=options.max_overlap,
        tolerance=options.tolerance,
        jobs=jobs,
        progress=progress,
    )
