"""Checks of a Label Studio JSON export, tolerantly: the reader's rules
(:mod:`.label_studio_rules`) with validate's error policy, so each problem is a finding and
every task is read. Codes are those of other formats (``malformed-record``,
``shape-degenerate``, ``shape-outside``, ``rle-undecodable``, ``image-size``), plus
``empty-mask`` for a region with no pixel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import masks
from ..checks.findings import Report
from ..checks.options import CheckOptions
from ..checks.registry import Collect
from ..checks.spill import FindingLog
from ..errors import FormatError, SegtoolError
from . import coco_instance_checks as _codes  # noqa: F401  (registers empty-mask, rle-undecodable)
from . import labelme_checks as _shape_codes  # noqa: F401  (registers shape-degenerate, shape-outside)
from .label_studio import tasks
from .label_studio_rules import region_mask


def validate_label_studio(path: Path, *, progress: Callable[[int], None] | None = None) -> Report:
    """Every finding of a Label Studio export."""
    if not path.is_file():
        raise FormatError("no such file", str(path))
    found = FindingLog()
    collect = Collect(log=found)
    try:
        parsed = tasks(path, collect)
    except SegtoolError as exc:
        collect("malformed-record", exc.message, str(path))
        parsed = []
    regions = 0
    for t in parsed:
        for r in t.regions:
            regions += 1
            try:
                rle = region_mask(r, t.height, t.width)
            except ValueError as exc:
                collect("shape-degenerate", str(exc), str(path), t.id, r.id)
                continue
            if int(masks.rle_areas([rle])[0]) == 0:
                collect("empty-mask", "the region has no pixel", str(path), t.id, r.id)
        if progress is not None:
            progress(1)
    return Report(found, {"images": len(parsed), "regions": regions})


def validate(
    path: Path, options: CheckOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Report:
    """The registry's entry: :func:`validate_label_studio`."""
    return validate_label_studio(path, progress=progress)
