"""Checks of a Pascal VOC tree: the reader's rules (:mod:`.voc_rules`) with validate's error
policy, every image in a worker, and the photos in ``JPEGImages/`` (or ``--images``).

Class values outside the label table, objects whose pixels are of several classes (or of
void only), class and object PNGs of different sizes, listed images with nothing to read,
a label map that cannot be parsed, and a photo of another size than its PNGs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.records import photo_size
from ..checks.registry import Collect, E, register
from ..checks.runner import run_checks
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from .voc import OBJECT_COLORS
from .voc_rules import VOID, VOID_NAMES, Entry, find, partition, read_index, read_table

register(
    Check("voc-unknown-class", E, "a SegmentationClass value (or RGB colour) that is no class of the label table"),
    Check("voc-instance-class", E, "a SegmentationObject object whose pixels are of several classes, or of void only"),
    Check("voc-size-mismatch", E, "the SegmentationClass and SegmentationObject PNGs of an image differ in size"),
    Check("voc-missing", E, "an ImageSets/Segmentation list names an image with no class PNG and no photo"),
    Check("voc-labelmap-invalid", E, "labelmap.txt (or class_names.txt) that cannot be parsed: the VOC table is used"),
)


@dataclass(frozen=True)
class _Job:
    entry: Entry
    colors: tuple[tuple[tuple[int, int, int], int], ...]
    n_classes: int
    void: tuple[int, ...]
    photo: str | None


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    objects: int = 0
    crowds: int = 0


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut()
    collect = Collect(out.findings)
    entry = job.entry
    if entry.labels is None:
        return out
    try:
        labels = read_index(entry.labels, None, dict(job.colors), f"image {entry.stem}", collect, entry.stem)
        objects = None
        if entry.objects is not None:
            objects = read_index(entry.objects, None, OBJECT_COLORS, f"image {entry.stem}", collect, entry.stem)
    except SegtoolError as exc:  # a limit
        collect("png-unreadable", exc.message, exc.path or "", entry.stem)
        return out
    if labels is None:
        return out
    if job.void:
        labels = np.where(np.isin(labels, job.void), VOID, labels)
    parts = partition(labels, objects, job.n_classes, (entry.labels, entry.objects or ""), collect, entry.stem)
    if parts is not None and objects is not None:
        out.objects = sum(1 for i in parts.ids if i < VOID)
        out.crowds = sum(parts.crowd)
    if job.photo is not None:
        size = photo_size(Path(job.photo))
        height, width = labels.shape
        if size == "missing":
            collect("image-file-missing", "the image's photo is missing", job.photo, entry.stem)
        elif isinstance(size, str):
            collect("image-unreadable", f"cannot open the image: {size}", job.photo, entry.stem)
        elif size != (width, height):
            msg = f"the photo is {size[0]}x{size[1]} but the annotation is {width}x{height}"
            collect("image-size", msg, job.photo, entry.stem)
    return out


def validate_voc(
    root: Path, *, images_dir: Path | None = None, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """Every finding of a VOC tree; photos are looked for in ``images_dir`` (``<stem>.jpg``)
    when given, else those found in ``JPEGImages/`` are checked."""
    if not root.is_dir():
        raise FormatError("a voc dataset is a folder (VOCdevkit/VOC2012/)", str(root))
    found = FindingLog()
    collect = Collect(log=found)
    table = read_table(root, collect)
    colors = tuple(table.color_index().items())
    void = tuple(i for i, n in enumerate(table.names) if n in VOID_NAMES and i != VOID)
    items = []
    for entry in find(root, collect):
        photo = entry.photo if images_dir is None else str(images_dir / f"{entry.stem}.jpg")
        items.append(_Job(entry, colors, len(table.names), void, photo))
    totals = run_checks(_check_image, items, found, jobs=jobs, progress=progress)
    stats: dict[str, Any] = {
        "images": len(items),
        "objects": totals.get("objects", 0),
        "crowd_regions": totals.get("crowds", 0),
    }
    return Report(found, stats)


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_voc` with the options that concern it."""
    return validate_voc(path, images_dir=options.images_dir, jobs=jobs, progress=progress)
