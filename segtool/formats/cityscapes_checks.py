"""Checks of a Cityscapes tree: the reader's rules (:mod:`.cityscapes_rules`) with validate's
error policy, every image in a worker, and the photos of ``--images leftImg8bit/``.

The rules are checked on label ids, whichever categories a reader would make of them:
unknown ids, instances of labels without instances, labelIds and instanceIds disagreeing,
an image without the files to read it from, a polygons JSON that cannot be rasterised.
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
from ..checks.registry import Collect, E, W, register
from ..checks.runner import run_checks
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from .cityscapes import PHOTO
from .cityscapes_labels import INSTANCE_BASE
from .cityscapes_predictions import named_pngs
from .cityscapes_rules import HAS_INSTANCES, Entry, check_maps, find, rasterise, read_pngs, source_of

register(
    Check(
        "cityscapes-unknown-label",
        E,
        "a labelIds or instanceIds value, or a polygons JSON label, that is no Cityscapes label",
    ),
    Check(
        "cityscapes-instance-class",
        E,
        "an instance id (label * 1000 + k) of a label without instances, or over 1000 of one label",
    ),
    Check("cityscapes-label-mismatch", E, "labelIds and instanceIds disagree: a pixel's label is not its instance's"),
    Check("cityscapes-incomplete", E, "an image has labelIds without instanceIds and no polygons JSON"),
    Check(
        "cityscapes-json-invalid",
        E,
        "a polygons JSON that cannot be rasterised: not JSON, no imgWidth/imgHeight, a bad object or polygon",
    ),
    Check(
        "cityscapes-duplicate-stem", W, "one image stem in two folders of the tree (gtFine and gtCoarse under one root)"
    ),
)


@dataclass(frozen=True)
class _Job:
    entry: Entry
    source: str
    photo: str | None


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
        if job.source == "polygons":
            labels, instances = None, rasterise(entry.files["polygons"], collect, entry.stem)
            origin = entry.files["polygons"]
        else:
            pair = read_pngs(entry, None, collect)
            labels, instances = pair if pair is not None else (None, None)
            origin = entry.files["instances"]
    except SegtoolError as exc:  # a limit
        collect("png-unreadable", exc.message, exc.path or "", entry.stem)
        return out
    if instances is None:
        return out
    found = check_maps(labels, instances, origin, collect, entry.stem)
    if found is not None:
        present, cls = found
        out.instances = int(np.count_nonzero(present >= INSTANCE_BASE))
        out.crowds = int(np.count_nonzero((present < INSTANCE_BASE) & HAS_INSTANCES[cls]))
    if job.photo is not None:
        size = photo_size(Path(job.photo))
        height, width = instances.shape
        if size == "missing":
            collect("image-file-missing", "the image's photo is missing", job.photo, entry.stem)
        elif isinstance(size, str):
            collect("image-unreadable", f"cannot open the image: {size}", job.photo, entry.stem)
        elif size != (width, height):
            msg = f"the photo is {size[0]}x{size[1]} but the annotation is {width}x{height}"
            collect("image-size", msg, job.photo, entry.stem)
    return out


def validate_cityscapes(
    root: Path,
    *,
    source: str = "auto",
    images_dir: Path | None = None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Every finding of a Cityscapes tree (and of its photos in ``images_dir``, the
    ``leftImg8bit`` folder of the same level: ``<split>/<city>/<stem>_leftImg8bit.png``)."""
    if not root.is_dir():
        raise FormatError("a cityscapes dataset is a folder (gtFine/<split>/<city>/)", str(root))
    found = FindingLog()
    collect = Collect(log=found)
    items = []
    for entry in find(root, collect):
        chosen = source_of(entry, source, collect)
        if chosen is None:
            continue
        photo = None if images_dir is None else str(images_dir / entry.folder / f"{entry.stem}{PHOTO}")
        items.append(_Job(entry, chosen, photo))
    if not items and not collect.reported and named_pngs(root) is not None:
        msg = "Cityscapes-named PNGs but no <stem>_gtFine_* annotations: predictions, which eval takes beside the ground truth"
        raise FormatError(msg, str(root))
    totals = run_checks(_check_image, items, found, jobs=jobs, progress=progress)
    stats: dict[str, Any] = {
        "images": len(items),
        "instances": totals.get("instances", 0),
        "crowd_regions": totals.get("crowds", 0),
    }
    return Report(found, stats)


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_cityscapes` with the options that concern it."""
    return validate_cityscapes(path, images_dir=options.images_dir, jobs=jobs, progress=progress)
