"""Checks of a CamVid tree: the reader's rules (:mod:`.camvid_rules`) with validate's error
policy, every image in a worker: list lines that name no file or a missing label PNG,
list files naming images absent from this copy (a warning), values or colours outside the
label table, a label PNG of another size than its photo, a ``label_colors.txt`` that
cannot be parsed, and missing or unreadable photos.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.records import photo_size
from ..checks.registry import Collect, E, W, register
from ..checks.runner import run_checks
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from .camvid_rules import Entry, Table, find, read_classes, table_for

register(
    Check("camvid-missing", E, "a list line whose label PNG (or, without one, whose photo) is missing"),
    Check(
        "camvid-list-invalid", E, "a list line that is not '<folder>/<photo> [<folder>/<label>]', or repeats an image"
    ),
    Check(
        "camvid-absent", W, "list lines written for another tree (SegNet's /SegNet/CamVid/...) whose files are not here"
    ),
    Check("camvid-unknown-class", E, "an index label PNG value that is no class of the label table"),
    Check(
        "camvid-unknown-color", E, "an RGB label PNG colour that is in no class's colour (label_colors.txt or CamVid's)"
    ),
    Check("camvid-size-mismatch", E, "a label PNG of another size than its photo"),
    Check(
        "camvid-labelmap-invalid", E, "label_colors.txt that cannot be parsed (a bad line, a repeated name or colour)"
    ),
)


@dataclass(frozen=True)
class _Job:
    entry: Entry
    table: Table
    photo: str
    expected: bool  # a missing photo is a finding (its split has a photo folder, or --images)


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut()
    collect = Collect(out.findings)
    entry = job.entry
    size = photo_size(Path(job.photo))
    if size == "missing":
        if job.expected:
            collect("image-file-missing", "the image's photo is missing", job.photo, entry.id)
    elif isinstance(size, str):
        collect("image-unreadable", f"cannot open the image: {size}", job.photo, entry.id)
    if entry.labels is None:
        return out
    try:
        read_classes(entry.labels, size if isinstance(size, tuple) else None, job.table, collect, entry.id)
    except SegtoolError as exc:  # a limit
        collect("png-unreadable", exc.message, exc.path or "", entry.id)
    return out


def validate_camvid(
    root: Path, *, images_dir: Path | None = None, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """Every finding of a CamVid tree; photos are looked for in ``images_dir``
    (``<stem>.png``) when given, else where the lists put them. A missing photo is
    reported when its split has a photo folder (a tree of labels alone, as segtool writes
    it, has none) or ``images_dir`` is given."""
    if not root.is_dir():
        raise FormatError("a camvid dataset is a folder (the SegNet layout: train/, trainannot/, train.txt)", str(root))
    found_list = FindingLog()
    collect = Collect(log=found_list)
    found = find(root, collect)
    for lst, n in found.absent.items():
        msg = f"{n} lines name images whose photo and label are not in this tree (a partial copy?)"
        collect("camvid-absent", msg, lst)
    first = next((e.labels for e in found.entries if e.labels is not None), None)
    table = table_for(root, first, collect)
    items = []
    for entry in found.entries:
        photo = entry.photo if images_dir is None else str(images_dir / Path(entry.photo).name)
        expected = images_dir is not None or Path(entry.photo).parent.is_dir()
        items.append(_Job(entry, table, photo, expected))
    run_checks(_check_image, items, found_list, jobs=jobs, progress=progress)
    stats: dict[str, Any] = {
        "images": len(items),
        "absent": sum(found.absent.values()),
        "table": table.origin,
    }
    return Report(found_list, stats)


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_camvid` with the options that concern it."""
    return validate_camvid(path, images_dir=options.images_dir, jobs=jobs, progress=progress)
