"""Checks of a CVAT for images 1.1 XML, tolerantly: the reader's rules (:mod:`.cvat_rules`,
:mod:`.cvat_xml`) with validate's error policy, so each problem is a finding and every image
is read. Codes are those of other formats: ``malformed-record``, ``shape-degenerate``,
``shape-outside``, ``shape-dropped``, ``label-unknown`` (LabelMe's), ``empty-mask``
(coco-instance's), and the photo checks ``image-file-missing``, ``image-unreadable``,
``image-size`` when the images are there (``--images DIR``, or the export's ``images/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..checks.findings import Finding, Report
from ..checks.options import CheckOptions
from ..checks.records import photo_size
from ..checks.registry import Collect
from ..checks.runner import run_checks
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from . import coco_instance_checks as _codes  # noqa: F401  (registers empty-mask)
from . import labelme_checks as _shape_codes  # noqa: F401  (registers shape-*, label-unknown)
from .cvat_rules import parse_image
from .cvat_xml import ImageEntry, fragment, scan, xml_file


@dataclass(frozen=True)
class _Job:
    path: str
    entry: ImageEntry
    encoding: str
    labels: frozenset[str]
    photos: str | None


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    shapes: int = 0
    dropped: int = 0


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut()
    collect = Collect(out.findings)
    e = job.entry
    try:
        el = fragment(job.path, e, job.encoding)
    except SegtoolError as exc:
        collect("malformed-record", exc.message, job.path, e.id)
        return out
    found = parse_image(el, e.height, e.width, job.labels, job.path, collect, e.id)
    out.shapes = len(found.shapes)
    out.dropped = sum(found.dropped.values())
    if job.photos is not None:
        _photo(Path(job.photos), e, collect)
    return out


def _photo(folder: Path, e: ImageEntry, collect: Collect) -> None:
    """The image's file (in its subset's folder when there is one) and its size."""
    photo = folder / e.subset / e.name if e.subset and (folder / e.subset).is_dir() else folder / e.name
    size = photo_size(photo)
    if size == "missing":
        collect("image-file-missing", "the image file does not exist", str(photo), e.id)
    elif isinstance(size, str):
        collect("image-unreadable", f"cannot open the image: {size}", str(photo), e.id)
    elif size != (e.width, e.height):
        collect("image-size", f"the image is {size[0]}x{size[1]}, the XML says {e.width}x{e.height}", str(photo), e.id)


def validate_cvat(
    path: Path, *, images_dir: Path | None = None, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """Every finding of a CVAT for images XML (or a folder's ``annotations.xml``)."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    xml = xml_file(path)
    found = FindingLog()
    parsed = scan(xml, Collect(log=found))
    labels = frozenset(lab.name for lab in parsed.labels)
    photos = images_dir if images_dir is not None else xml.parent / "images"
    where = str(photos) if images_dir is not None or photos.is_dir() else None
    work = [_Job(str(xml), e, parsed.encoding, labels, where) for e in parsed.images]
    totals = run_checks(_check_image, work, found, jobs=jobs, progress=progress)
    counts = {"images": len(parsed.images), "shapes": totals.get("shapes", 0)}
    return Report(found, {**counts, "dropped_shapes": totals.get("dropped", 0)})


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_cvat` with the options that concern it."""
    return validate_cvat(path, images_dir=options.images_dir, jobs=jobs, progress=progress)
