"""Checks of a KITTI (or KITTI-STEP) tree: the reader's rules (:mod:`.kitti_rules`) with
validate's error policy, every map in a worker, and the photos (``image_2/``, ``images/`` or
``--images``).

Values of no class (a label id above 33, a trainId 19..254), a semantic PNG that disagrees
with the instance PNG beside it, maps that cannot be read or are of the wrong mode, and a
photo of another size than its map.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.registry import Collect, E, register
from ..checks.runner import run_checks
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from .kitti_rules import (
    INSTANCE,
    PHOTO_SUFFIXES,
    SEMANTIC,
    SPLIT,
    STEP_MAPS,
    Entry,
    categories,
    check_photo,
    check_semantic,
    class_table,
    find,
    layout,
    partition,
    read_label_colors,
    read_map,
)

register(
    Check(
        "kitti-unknown-class",
        E,
        "a KITTI map value whose class is no Cityscapes label id (0..33), or a KITTI-STEP trainId 19..254",
    ),
    Check("kitti-labels-invalid", E, "a KITTI label_colors.txt that cannot be parsed: the Cityscapes table is used"),
    Check(
        "kitti-label-mismatch",
        E,
        "a KITTI semantic PNG whose label ids differ from those of the instance PNG beside it",
    ),
)


@dataclass(frozen=True)
class _Job:
    entry: Entry
    kind: str
    table: tuple[tuple[int, ...], tuple[bool, ...]]


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    instances: int = 0
    crowds: int = 0


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut()
    collect = Collect(out.findings)
    entry = job.entry
    try:
        values = read_map(entry, job.kind, None, collect)
    except SegtoolError as exc:  # a limit
        collect("png-unreadable", exc.message, exc.path or entry.labels, entry.id)
        return out
    if values is None:
        return out
    size = (values.shape[1], values.shape[0])
    check_photo(entry.photo, size, collect, entry.id)
    if job.kind == "instance":
        check_semantic(values, entry, size, collect)
    parts = partition(values, job.kind, job.table, entry.labels, collect, entry.id)
    if parts is not None:
        out.crowds = int(parts.crowd.sum())
        things = np.asarray(job.table[1], bool)[parts.classes]
        out.instances = int(np.count_nonzero(things & ~parts.crowd))
    return out


def validate_kitti(
    root: Path, *, images_dir: Path | None = None, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """Every finding of a KITTI tree; photos are looked for in ``images_dir`` (``<id>.png``,
    or another photo suffix) when given, else beside the maps as the layout places them."""
    lay = layout(root) if root.is_dir() else None
    if lay is None:
        raise FormatError(
            f"a kitti dataset is a folder with {SPLIT}/{INSTANCE}/, {SPLIT}/{SEMANTIC}/ or {STEP_MAPS}/", str(root)
        )
    found = FindingLog()
    lines = read_label_colors(lay.labels, Collect(log=found)) if lay.kind != "step" else None
    cats = categories(lay.kind, all_labels=True, lines=lines)
    table = class_table(lay.kind, cats, None if lines is None else len(lines))
    items = []
    for entry in find(lay):
        if images_dir is not None:
            photo = next(
                (images_dir / f"{entry.id}{s}" for s in PHOTO_SUFFIXES if (images_dir / f"{entry.id}{s}").is_file()),
                None,
            )
            entry = Entry(
                entry.id, entry.labels, entry.semantic, str(photo) if photo else str(images_dir / f"{entry.id}.png")
            )
        items.append(_Job(entry, lay.kind, table))
    totals = run_checks(_check_image, items, found, jobs=jobs, progress=progress)
    stats = {"images": len(items), "instances": totals.get("instances", 0), "crowd_regions": totals.get("crowds", 0)}
    return Report(found, stats)


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_kitti` with the options that concern it."""
    return validate_kitti(path, images_dir=options.images_dir, jobs=jobs, progress=progress)
