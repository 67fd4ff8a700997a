"""Checks of a folder of binary mask PNGs: the reader's rules (:mod:`.mask_folder_rules`)
with validate's error policy, every mask decoded (one image at a time, in workers).

Names that follow no pattern, class fields a categories file (``--categories``, or the
folder's ``masks.json``) does not list, masks that are not binary, masks of another size
than the first of their image or than its photo, and empty masks (coco-instance's
``empty-mask``). The photo is looked for in ``--images DIR`` when given (a missing one is
``image-file-missing``), else in the sibling ``images/`` folder when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..checks.findings import Check, Finding, Report
from ..checks.options import CheckOptions
from ..checks.records import photo_size
from ..checks.registry import Collect, E, register
from ..checks.runner import run_checks
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from . import coco_instance_checks  # noqa: F401 - registers empty-mask, which an empty mask reports
from .mask_folder import photos
from .mask_folder_rules import (
    META,
    PHOTO_SUFFIXES,
    Classes,
    Entry,
    class_of,
    classes,
    find,
    layout,
    read_categories,
    read_mask,
    read_meta,
)

register(
    Check("masks-bad-name", E, "a mask PNG whose name follows neither <image>_<class>_<n>.png nor <class>_<n>.png"),
    Check("masks-unknown-class", E, "a mask's class field is not in the categories file (or the name has none)"),
    Check("masks-size-mismatch", E, "a mask of another size than the other masks of its image, or than its photo"),
    Check("masks-not-binary", E, "a mask PNG with more than two colours, or two of which none is black"),
)


@dataclass(frozen=True)
class _Job:
    entry: Entry
    table: Classes
    photo: str | None
    photo_required: bool


@dataclass
class _ImageOut:
    findings: list[Finding] = field(default_factory=list)
    masks: int = 0
    crowds: int = 0
    empty: int = 0


def _check_image(job: _Job) -> _ImageOut:
    out = _ImageOut()
    collect = Collect(out.findings)
    stem = job.entry.stem
    size: tuple[int, int] | None = None
    for path, name in job.entry.masks:
        out.masks += 1
        out.crowds += name.crowd
        class_of(name, job.table, path, collect)
        try:
            mask = read_mask(path, size, collect, stem)
        except SegtoolError as exc:  # a limit
            collect("png-unreadable", exc.message, exc.path or path, stem)
            continue
        if mask is None:
            continue
        if size is None:
            size = (mask.shape[1], mask.shape[0])
        if not mask.any():
            out.empty += 1
            collect("empty-mask", "the mask has no foreground pixel (all black)", path, stem)
    if size is not None and job.photo is not None:
        _check_photo(job.photo, size, job.photo_required, collect, stem)
    return out


def _check_photo(photo: str, size: tuple[int, int], required: bool, collect: Collect, stem: str) -> None:
    found = photo_size(Path(photo))
    if found == "missing":
        if required:
            collect("image-file-missing", "the image's photo is missing", photo, stem)
    elif isinstance(found, str):
        collect("image-unreadable", f"cannot open the image: {found}", photo, stem)
    elif found != size:
        msg = f"the photo is {found[0]}x{found[1]} but the masks are {size[0]}x{size[1]}"
        collect("masks-size-mismatch", msg, photo, stem)


def _photo(stem: str, images_dir: Path | None, sibling: dict[str, str]) -> str | None:
    if images_dir is None:
        return sibling.get(stem)
    for suffix in PHOTO_SUFFIXES:
        if (images_dir / f"{stem}{suffix}").is_file():
            return str(images_dir / f"{stem}{suffix}")
    return str(images_dir / f"{stem}.jpg")


def validate_masks(
    root: Path,
    *,
    categories: Path | None = None,
    images_dir: Path | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Every finding of a folder of mask PNGs (see the module's doc)."""
    if not root.is_dir() or (layout(root) == 0 and not (root / META).is_file()):
        raise FormatError("a masks dataset is a folder of mask PNGs (or of one folder per image)", str(root))
    found = FindingLog()
    entries = find(root, Collect(log=found))
    meta = read_meta(root, Collect(log=found))[0]
    table = classes(entries, read_categories(categories) if categories is not None else meta)
    sibling = photos(root)
    items = [_Job(e, table, _photo(e.stem, images_dir, sibling), images_dir is not None) for e in entries]
    totals = run_checks(_check_image, items, found, jobs=jobs, progress=progress)
    stats = {
        "images": len(items),
        "masks": totals.get("masks", 0),
        "crowd_regions": totals.get("crowds", 0),
        "empty_masks": totals.get("empty", 0),
    }
    return Report(found, stats)


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_masks` with the options that concern it."""
    return validate_masks(
        path, categories=options.categories, images_dir=options.images_dir, jobs=jobs, progress=progress
    )
