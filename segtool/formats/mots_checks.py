"""Checks of a MOTS dataset: the reader's rules (:mod:`.mots_rules`) with validate's error
policy, every image in a worker, and the photos (``images/``, or ``--images``).

Objects of no class, overlapping objects of a txt frame (MOTS forbids them), txt lines that
cannot be read (a bad field, an id that is not class_id * 1000 + track, a size that differs
from the frame's, an RLE that cannot be decoded, an id twice in a frame), unreadable or
8-bit PNGs, and a photo of another size than its map.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.registry import Collect, E, register
from ..checks.runner import run_checks
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from . import mots
from .mots_rules import (
    PHOTO_SUFFIXES,
    Classes,
    Entry,
    check_photo,
    png_parts,
    read_png,
    txt_parts,
)

register(
    Check("mots-unknown-class", E, "a MOTS object whose class is no line of labels.txt (or not 1, 2, 10 without one)"),
    Check("mots-overlap", E, "two objects of one MOTS txt frame share pixels (MOTS forbids overlap)"),
    Check(
        "mots-line-invalid",
        E,
        "a MOTS txt line that cannot be read: bad fields, id not class_id * 1000 + track, "
        "a size unlike its frame's, an undecodable RLE, an id twice in a frame",
    ),
)


@dataclass(frozen=True)
class _Job:
    entry: Entry
    classes: Classes


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    objects: int = 0
    ignore_regions: int = 0


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut()
    collect = Collect(out.findings)
    entry = job.entry
    if entry.size is None:
        try:
            values = read_png(entry, None, collect)
        except SegtoolError as exc:  # a limit
            collect("png-unreadable", exc.message, exc.path or entry.labels, entry.id)
            return out
        if values is None:
            return out
        size = (values.shape[1], values.shape[0])
        parts = png_parts(values, job.classes, entry.labels, collect, entry.id)
    else:
        size = entry.size
        parts = txt_parts(entry, job.classes, collect)
    check_photo(entry.photo, size, collect, entry.id, "annotation")
    if parts is not None:
        out.objects = len(parts.ids)
        out.ignore_regions = int(parts.ignored > 0)
    return out


def _photo(folder: Path, image_id: str) -> str:
    """The photo of ``image_id`` in ``--images DIR``: the first suffix found, else ``.png``."""
    for suffix in PHOTO_SUFFIXES:
        if (folder / f"{image_id}{suffix}").is_file():
            return str(folder / f"{image_id}{suffix}")
    return str(folder / f"{image_id}.png")


def validate_mots(
    path: Path, *, images_dir: Path | None = None, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """Every finding of a MOTS dataset; photos are looked for in ``images_dir`` (``<image
    id>.<png|jpg>``) when given, else in ``images/`` beside ``instances/``."""
    found = FindingLog()
    collect = Collect(log=found)
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    entries, classes, _ = mots.entries(path, collect)
    items = []
    for entry in entries:
        if images_dir is not None:
            entry = Entry(
                entry.id,
                entry.file_name,
                entry.labels,
                _photo(images_dir, entry.id),
                entry.size,
                entry.objects,
                entry.lines,
            )
        items.append(_Job(entry, classes))
    totals = run_checks(_check_image, items, found, jobs=jobs, progress=progress)
    stats = {
        "images": len(items),
        "objects": totals.get("objects", 0),
        "ignore_regions": totals.get("ignore_regions", 0),
    }
    return Report(found, stats)


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_mots` with the options that concern it."""
    return validate_mots(path, images_dir=options.images_dir, jobs=jobs, progress=progress)
