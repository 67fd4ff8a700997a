"""Checks of an SA-1B folder, tolerantly: the reader's rules (:mod:`.sa1b_rules`) with
validate's error policy, so each problem is a finding and every file is read (one at a time,
in workers); then each mask that passed them is measured as coco-instance measures its RLEs
(the same code: ``empty-mask``, ``area-mismatch``, ``bbox-mismatch`` and their tolerated
forms, under ``--tolerance``), and the image's photo is found: in ``--images DIR`` when
given, else beside the JSON, and compared with the record's size.

SA-1B's masks overlap by design (whole, part and subpart of one thing), so no overlap is
reported. Every code is coco-instance's (registered by :mod:`.coco_instance_checks`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import masks
from ..checks.findings import Finding, Report
from ..checks.options import CheckOptions
from ..checks.records import photo_size
from ..checks.registry import Collect
from ..checks.spill import FindingLog
from ..checks.tolerance import Tolerance
from ..errors import FormatError
from ..parallel import imap, jobs_for
from .coco_instance_checks import _ImageOut as _Measured
from .coco_instance_checks import _Job as _Measure
from .coco_instance_checks import _rles as measure_rles
from .sa1b import json_files, parse_file
from .sa1b_rules import unique_image


@dataclass(frozen=True)
class _Job:
    path: str
    number: int
    images_dir: str | None
    tolerance: Tolerance


@dataclass
class _FileOut:
    findings: list[Finding] = field(default_factory=list)
    image_id: Any = None
    parsed: bool = False
    masks: int = 0


def _check_file(job: _Job) -> _FileOut:
    out = _FileOut()
    found = parse_file(Path(job.path), Collect(out.findings), job.number)
    if found is None:
        return out
    out.image_id, out.parsed, out.masks = found.image_id, True, found.annotations
    image = {"id": found.image_id, "height": found.height, "width": found.width}
    pending = []
    for o in found.objects:
        ann: dict[str, Any] = {"id": o.id}
        if o.area is not None:
            ann["area"] = o.area
        if o.bbox is not None:
            ann["bbox"] = list(o.bbox)
        pending.append((ann, masks.to_pyco(o.rle)))
    measured = _Measured()
    measure_rles(pending, _Measure(image, (), job.path, 1.0, tolerance=job.tolerance), measured)
    out.findings += measured.findings
    folder = Path(job.images_dir) if job.images_dir is not None else Path(job.path).parent
    photo = folder / found.file_name
    size = photo_size(photo)
    report = Collect(out.findings)
    if size == "missing":
        report("image-file-missing", "the image file does not exist", str(photo), found.image_id)
    elif isinstance(size, str):
        report("image-unreadable", f"cannot open the image: {size}", str(photo), found.image_id)
    elif size != (found.width, found.height):
        msg = f"the image is {size[0]}x{size[1]}, the JSON says {found.width}x{found.height}"
        report("image-size", msg, str(photo), found.image_id)
    return out


def validate_sa1b(
    path: Path,
    *,
    images_dir: Path | None = None,
    tolerance: Tolerance | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Every finding of a folder of SA-1B JSONs (or one JSON)."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    files = json_files(path)
    where = None if images_dir is None else str(images_dir)
    work = [_Job(str(p), i, where, tolerance or Tolerance()) for i, p in enumerate(files, start=1)]
    found = FindingLog()
    seen: dict[Any, str] = {}
    collect = Collect(log=found)
    count = 0
    for job, out in zip(work, imap(_check_file, work, jobs=jobs_for(len(work), jobs)), strict=True):
        found += out.findings
        count += out.masks
        if out.parsed:
            unique_image(seen, out.image_id, job.path, collect)
        if progress is not None:
            progress(1)
    return Report(found, {"images": len(files), "masks": count})


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_sa1b` with the options that concern it."""
    return validate_sa1b(path, images_dir=options.images_dir, tolerance=options.tolerance, jobs=jobs, progress=progress)
