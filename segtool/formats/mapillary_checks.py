"""Checks of a Mapillary Vistas tree: the reader's rules (:mod:`.mapillary_rules`) with
validate's error policy, every image in a worker, and the photos in ``<split>/images/`` (or
``--images``).

A config that is missing or cannot be parsed, label values (or instance class bytes, or
polygon labels, or RGB colours) that are no label of the table, an image of an annotated
split without its file, PNGs of the wrong depth, labels and instances PNGs (or a polygons
file) of different sizes, a labels PNG that disagrees with the class byte of its instances
PNG, polygons files that cannot be read, and photos of another size than their annotations.
Each split's ``panoptic/`` (JSON and PNGs) is checked with coco-panoptic's rules and codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import cocopoly, masks, png
from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.records import photo_size
from ..checks.registry import Collect, E, register
from ..checks.runner import run_checks
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from ..model import ImageInfo
from ..policy import place
from .coco_records import parse_categories, parse_images, unknown_image
from .jsonstream import coco_sections, items
from .mapillary import panoptic_json, panoptic_segments, reading_of
from .mapillary_rules import Config, Entry, Layout, check_classes, find, layout, parse_polygons, read_config, read_map
from .panoptic_rules import annotation_record, pixel_ids

register(
    Check("mapillary-config-invalid", E, "config_v*.json missing, unparsable, without labels, or with a bad label"),
    Check("mapillary-unknown-class", E, "a label value, instance class byte, colour or polygon label not in the table"),
    Check("mapillary-missing", E, "a photo of an annotated split without its labels/instances/polygons file"),
    Check("mapillary-png-mode", E, "a labels PNG that is not 8-bit, or an instances PNG that is not 16-bit"),
    Check("mapillary-size-mismatch", E, "an image's labels, instances PNGs and polygons file differ in size"),
    Check("mapillary-label-mismatch", E, "a labels PNG that disagrees with the class byte of its instances PNG"),
    Check("mapillary-polygons-invalid", E, "a polygons JSON that cannot be read, or a polygon pycocotools refuses"),
)


@dataclass(frozen=True)
class _Job:
    entry: Entry
    config: Config
    photo: str | None


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    instances: int = 0
    polygons: int = 0
    panoptic: int = 0


def _maps(job: _Job, collect: Collect) -> tuple[Any, Any]:
    """The labels and instances PNGs, each checked alone (None: absent or reported)."""
    e, stem = job.entry, job.entry.stem
    labels = instances = None
    if e.labels is not None:
        labels = read_map(e.labels, 8, None, f"image {stem}", collect, stem, job.config)
        if labels is not None and not check_classes(
            labels, len(job.config.labels), e.labels, "label ids", collect, stem
        ):
            labels = None
    if e.instances is not None:
        instances = read_map(e.instances, 16, None, f"image {stem}", collect, stem, job.config)
        n = len(job.config.labels)
        if instances is not None and not check_classes(instances >> 8, n, e.instances, "class bytes", collect, stem):
            instances = None
    return labels, instances


def _polygons(job: _Job, size: tuple[int, int] | None, collect: Collect, out: _ImageOut) -> None:
    e, stem = job.entry, job.entry.stem
    assert e.polygons is not None
    found = parse_polygons(e.polygons, job.config, collect, stem)
    if found is None:
        return
    if size is not None and (found.width, found.height) != size:
        msg = f"the polygons file says {found.width}x{found.height}, the PNGs are {size[0]}x{size[1]}"
        collect("mapillary-size-mismatch", msg, e.polygons, stem)
    out.polygons = len(found.objects)
    for k, (_, flat) in enumerate(found.objects):
        why = cocopoly.polygon_problem([flat], found.height, found.width) if len(flat) >= 6 else None
        if why is not None:
            collect("mapillary-polygons-invalid", f"{place(stem, k)}: {why}", e.polygons, stem, k)


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut()
    collect = Collect(out.findings)
    e, stem = job.entry, job.entry.stem
    try:
        labels, instances = _maps(job, collect)
    except SegtoolError as exc:  # a limit
        collect("png-unreadable", exc.message, exc.path or "", stem)
        return out
    size = None
    for arr in (labels, instances):
        if arr is not None:
            size = (arr.shape[1], arr.shape[0])
    if labels is not None and instances is not None:
        if labels.shape != instances.shape:
            (h, w), (ih, iw) = labels.shape, instances.shape
            msg = f"the labels PNG is {w}x{h} but the instances PNG is {iw}x{ih}"
            collect("mapillary-size-mismatch", msg, e.instances or "", stem)
        elif (differ := int(np.count_nonzero(labels != instances >> 8))) > 0:
            msg = f"{place(stem)}: {differ} px of the labels PNG differ from the instances PNG's label ids"
            collect("mapillary-label-mismatch", msg, e.labels or "", stem)
    if instances is not None:
        things = [i for i, label in enumerate(job.config.labels) if label.instances]
        values = np.unique(instances)
        out.instances = int(np.isin(values >> 8, things).sum())
    if e.polygons is not None:
        _polygons(job, size, collect, out)
    if job.photo is not None and size is not None:
        found = photo_size(Path(job.photo))
        if found == "missing":
            collect("image-file-missing", "the image's photo is missing", job.photo, stem)
        elif isinstance(found, str):
            collect("image-unreadable", f"cannot open the image: {found}", job.photo, stem)
        elif found != size:
            msg = f"the photo is {found[0]}x{found[1]} but the annotation is {size[0]}x{size[1]}"
            collect("image-size", msg, job.photo, stem)
    return out


@dataclass(frozen=True)
class _PanopticJob:
    png: str
    image: ImageInfo
    ids: tuple[int, ...]


def _check_panoptic(job: _PanopticJob) -> _ImageOut:
    """A panoptic PNG against its listed segments, as coco-panoptic checks one."""
    out = _ImageOut()
    collect = Collect(out.findings)
    iid = job.image.id
    rgb = png.read_rgb(job.png, job.image.width, job.image.height, f"image {iid}", collect, iid)
    if rgb is not None:
        listed = np.array(job.ids, np.int64)
        runs, unknown = masks.Runs.of_ids(png.rgb_to_u32(rgb), listed)
        pixel_ids(listed, unknown, runs.areas(), iid, job.png, collect)
    out.panoptic = 1
    return out


def _panoptic_jobs(lay: Layout, collect: Collect) -> list[_PanopticJob]:
    """Each split's panoptic JSON read with coco-panoptic's rules (an empty ``bbox`` taken
    as absent, as the reader takes it), one job per annotation record."""
    out: list[_PanopticJob] = []
    for _, folder in lay.splits:
        js = panoptic_json(lay, folder)
        if not js.is_file():
            continue
        image_records, category_records = coco_sections(js)
        known = {c.id for c in parse_categories(category_records, js, default_isthing=True, report=collect)}
        images = {im.id: im for im in parse_images(image_records, js, collect)}
        for ann in items(js, "annotations.item"):
            record = annotation_record(ann, str(js), collect)
            if record is None:
                continue
            if record[0] not in images:
                unknown_image(record[0], set(images), js, collect)
                continue
            segs = panoptic_segments(ann, known, js, collect)
            out.append(_PanopticJob(str(js.parent / record[1]), images[record[0]], tuple(segs.id.tolist())))
    return out


def validate_mapillary(
    path: Path,
    *,
    images_dir: Path | None = None,
    version: str | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Every finding of a Vistas tree (one version: v2.0 when held, or ``version``);
    photos are looked for in ``images_dir`` (``<stem>.jpg``) when given, else in each
    split's ``images/``."""
    lay = layout(path, version) if path.is_dir() else None
    if lay is None:
        raise FormatError("a mapillary dataset is a folder with config_v1.2.json or config_v2.0.json", str(path))
    found = FindingLog()
    collect = Collect(log=found)
    config = read_config(lay.config, collect)
    if config is None:
        return Report(found, {"images": 0})
    items = []
    for entry in find(lay, reading_of(lay), collect):
        photo = entry.photo if images_dir is None else str(images_dir / f"{entry.stem}.jpg")
        items.append(_Job(entry, config, photo))
    totals = run_checks(_check_image, items, found, jobs=jobs, progress=progress)
    pan_jobs = _panoptic_jobs(lay, collect)  # its findings (a JSON's records) before the PNGs' ones
    pan_totals = run_checks(_check_panoptic, pan_jobs, found, jobs=jobs, progress=None)
    stats: dict[str, Any] = {
        "images": len(items),
        "version": lay.version,
        "instances": totals.get("instances", 0),
        "polygons": totals.get("polygons", 0),
        "panoptic_images": pan_totals.get("panoptic", 0),
    }
    return Report(found, stats)


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_mapillary` with the options that concern it."""
    return validate_mapillary(path, images_dir=options.images_dir, jobs=jobs, progress=progress)
