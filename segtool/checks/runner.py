"""A format's per-image checks run in worker processes, and their outcomes folded.

Every format's validate checks its images one by one (in workers: decoding dominates) and
then adds up what each image reported. An image's outcome is a dataclass with a
``findings`` list and counts (numbers, or ``Counter`` s of categories used); this runs the
checks in order and folds the outcomes, so each format writes only its per-image check.
The findings go, as each image's arrive, into the caller's :class:`FindingLog` (after
those it holds already): a small head in memory, the rest on disk (issue 15).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..parallel import imap, jobs_for
from .spill import FindingLog

J = TypeVar("J")


def run_checks(
    check: Callable[[J], Any],
    work: Sequence[J],
    found: FindingLog,
    *,
    jobs: int,
    progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    """``check`` of every item of ``work`` (in worker processes, in order), one progress
    step each: the findings of all appended to ``found``, in order, and the outcomes' other
    fields summed (numbers added, Counters merged), by field name."""
    totals: dict[str, Any] = {}
    for out in imap(check, work, jobs=jobs_for(len(work), jobs)):
        for f in dataclasses.fields(out):
            value = getattr(out, f.name)
            if f.name == "findings":
                found.extend(value)
            elif isinstance(value, Counter):
                totals.setdefault(f.name, Counter()).update(value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                totals[f.name] = totals.get(f.name, 0) + value
        if progress is not None:
            progress(1)
    return totals
