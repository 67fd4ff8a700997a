"""Checks of a LabelMe folder, tolerantly: the reader's rules (:mod:`.labelme_rules`) with
validate's error policy, so each problem is a finding and the files are all read.

Each JSON is parsed once with its mask shapes decoded (one file at a time, in workers), its
shapes checked, and its image found: embedded (``imageData``), or the file ``imagePath``
names in ``--images DIR`` when given, else beside the JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.records import photo_size
from ..checks.registry import INF, Collect, E, W, finding, register
from ..checks.runner import run_checks
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from .common import load_json
from .labelme import LABELS, label_files
from .labelme_rules import NOT_CATEGORIES, category_names, parse, read_label_names

register(
    Check("shape-dropped", INF, "a line, linestrip or point shape: not an area, so it is dropped"),
    Check(
        "shape-degenerate",
        E,
        "a shape with too few points for its type (a polygon fewer than 3), coordinates that are not finite"
        " or reach more than one image size beyond the image, an unknown shape_type, or a mask shape whose"
        " base64 PNG does not decode, is not one channel, differs from its box or lies outside the image",
    ),
    Check("shape-outside", W, "a shape has points outside the image (labelme clips them)"),
    Check("label-unknown", E, "a shape's label is not in the labels file (--categories or the folder's labels.txt)"),
)


@dataclass(frozen=True)
class _Job:
    path: str
    image_id: int
    images_dir: str | None
    known: frozenset[str] | None  # the labels file's labels, when there is one


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    used: Counter[str] = field(default_factory=Counter)
    shapes: int = 0
    dropped: int = 0


def _check_file(job: _Job) -> _ImageOut:
    out = _ImageOut()
    collect = Collect(out.findings)
    try:
        data = load_json(Path(job.path))
    except SegtoolError as exc:
        collect("malformed-record", exc.message, job.path, job.image_id)
        return out
    found = parse(data, job.path, collect, job.image_id)
    if found is None:
        return out
    out.shapes = len(found.shapes)
    out.dropped = sum(found.dropped.values())
    for s in found.shapes:
        out.used[s.label] += 1
        if job.known is not None and s.label not in job.known and s.label not in NOT_CATEGORIES:
            msg = f"shape {s.index}: label {s.label!r} is not in the labels file"
            out.findings.append(finding("label-unknown", msg, job.path, job.image_id))
    if not found.embedded and found.image_path:
        folder = Path(job.images_dir) if job.images_dir is not None else Path(job.path).parent
        photo = folder / found.image_path
        size = photo_size(photo)
        if size == "missing":
            out.findings.append(finding("image-file-missing", "imagePath names no file", str(photo), job.image_id))
        elif isinstance(size, str):
            out.findings.append(finding("image-unreadable", f"cannot open the image: {size}", str(photo), job.image_id))
        elif size != (found.width, found.height):
            msg = f"the image is {size[0]}x{size[1]}, the JSON says {found.width}x{found.height}"
            out.findings.append(finding("image-size", msg, str(photo), job.image_id))
    return out


def validate_labelme(
    path: Path,
    *,
    categories: Path | None = None,
    images_dir: Path | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Every finding of a folder of LabelMe JSONs (or one JSON)."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    files = label_files(path)
    labels = categories or (path / LABELS if path.is_dir() and (path / LABELS).is_file() else None)
    known = frozenset(category_names(read_label_names(labels), set())) if labels is not None else None
    where = None if images_dir is None else str(images_dir)
    work = [_Job(str(p), i, where, known) for i, p in enumerate(files, start=1)]
    found = FindingLog()
    totals = run_checks(_check_file, work, found, jobs=jobs, progress=progress)
    used: Counter[str] = totals.get("used", Counter())
    shapes, dropped = totals.get("shapes", 0), totals.get("dropped", 0)
    if known is not None and labels is not None:
        found += [
            finding("unused-category", f"label {name!r} is never used", str(labels))
            for name in sorted(known)
            if not used[name]
        ]
    return Report(found, {"images": len(files), "shapes": shapes, "dropped_shapes": dropped})


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_labelme` with the options that concern it."""
    return validate_labelme(
        path, categories=options.categories, images_dir=options.images_dir, jobs=jobs, progress=progress
    )
