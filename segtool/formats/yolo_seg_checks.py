"""Checks of a YOLO segmentation dataset, tolerantly: the reader's rules
(:mod:`.yolo_seg_rules`) with validate's error policy, so each problem is a finding and
every label file is read (one at a time, in workers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.registry import INF, Collect, E, finding, register
from ..checks.runner import run_checks
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from .yolo_seg_rules import image_files, image_size, label_files, label_path, layout, parse_labels, read_text

register(
    Check("yolo-coordinate-outside", E, "a YOLO label line has a coordinate outside [0, 1] (Ultralytics refuses it)"),
    Check("yolo-odd-coordinates", E, "a YOLO label line has an odd number of coordinates (not x y pairs)"),
    Check("yolo-too-few-points", E, "a YOLO label line has fewer than 3 points: not a polygon"),
    Check("yolo-class-unknown", E, "a YOLO label line's class is not in the data.yaml's names"),
    Check("yolo-label-orphan", INF, "a YOLO label file has no image (Ultralytics never reads it)"),
    Check("yolo-image-unlabelled", INF, "an image has no label file (Ultralytics takes it as background)"),
)


@dataclass(frozen=True)
class _Job:
    image: str
    image_id: int
    names: tuple[tuple[int, str], ...]


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    objects: int = 0


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut()
    collect = Collect(out.findings)
    try:
        image_size(Path(job.image))
    except (OSError, SegtoolError) as exc:
        why = exc.message if isinstance(exc, SegtoolError) else str(exc)
        out.findings.append(finding("image-unreadable", f"cannot open the image: {why}", job.image, job.image_id))
    label = label_path(Path(job.image))
    if not label.is_file():
        out.findings.append(finding("yolo-image-unlabelled", "no label file", str(label), job.image_id))
        return out
    try:
        text = read_text(label)
    except SegtoolError as exc:
        collect("malformed-record", exc.message, str(label), job.image_id)
        return out
    out.objects = len(parse_labels(text, dict(job.names), str(label), collect, job.image_id))
    return out


def validate_yolo(path: Path, *, jobs: int = 1, progress: Callable[[int], None] | None = None) -> Report:
    """Every finding of a YOLO segmentation dataset (its data.yaml, or the folder holding it)."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    lay = layout(path)
    images = image_files(lay)
    names = tuple(lay.names.items())
    work = [_Job(str(p), i, names) for i, p in enumerate(images, start=1)]
    found = FindingLog()
    totals = run_checks(_check_image, work, found, jobs=jobs, progress=progress)
    objects = totals.get("objects", 0)
    labelled = {label_path(p) for p in images}
    found += [
        finding("yolo-label-orphan", "no image of this stem in the split's images folder", str(p))
        for p in label_files(lay)
        if p not in labelled
    ]
    return Report(found, {"images": len(images), "objects": objects, "classes": len(names)})


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_yolo`."""
    return validate_yolo(path, jobs=jobs, progress=progress)
