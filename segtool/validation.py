"""``validate`` and ``fix`` as library calls: the format registry finds each format's checks
and fixes, so neither this module nor the CLI names a format.

Example:
    >>> import segtool
    >>> report = segtool.validate("sample_data/panoptic_examples.json")
    >>> report.worst() is None   # no finding at all
    True
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import formats
from .checks.findings import Report
from .checks.options import CheckOptions
from .checks.spill import FindingLog, keeping
from .errors import SegtoolError
from .fix.changes import FixSummary
from .model import Dataset
from .progress import announce, wants_total


def _source(path_or_dataset: Path | str | Dataset) -> Path:
    """The files to check: a path, or the files a Dataset was read from (checks read the
    files themselves, so that a broken record is a finding, not a read error)."""
    if isinstance(path_or_dataset, Dataset):
        if not path_or_dataset.path:
            raise SegtoolError("validate checks files: this dataset was not read from any (write it first)")
        return Path(path_or_dataset.path)
    return Path(path_or_dataset)


def validate(
    path_or_dataset: Path | str | Dataset,
    *,
    format: str | None = None,
    options: CheckOptions | None = None,
    select: Collection[str] = (),
    ignore: Collection[str] = (),
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    **option_values: Any,
) -> Report:
    """Every finding of a dataset, never stopping at the first (a file that cannot be read
    as a dataset at all raises ``SegtoolError``). ``select``/``ignore`` keep or drop check
    codes; options are :class:`CheckOptions` fields, given as ``options`` or by name.
    ``progress(n)`` is called as images are checked (one with ``set_total`` is told how many
    first: :mod:`segtool.progress`)."""
    path = _source(path_or_dataset)
    name = format or formats.detect(path)
    opts = replace(options or CheckOptions(), **option_values)
    if wants_total(progress):
        announce(progress, formats.image_count(name, path))
    if not select and not ignore:
        report: Report = formats.validator(name)(path, opts, jobs=jobs, progress=progress)
        return report

    def keep(code: str) -> bool:
        return (not select or code in select) and code not in ignore

    with keeping(keep):  # a format that logs its findings drops the others as they come
        report = formats.validator(name)(path, opts, jobs=jobs, progress=progress)
    if isinstance(report.findings, FindingLog):
        return report  # filtered as it was filled
    return Report([f for f in report.findings if keep(f.code)], report.stats)


def fix(
    path: Path | str,
    out: Path | str,
    *,
    format: str | None = None,
    options: CheckOptions | None = None,
    overwrite: bool = False,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    **option_values: Any,
) -> FixSummary:
    """Write a corrected copy of the dataset at ``path`` to ``out`` (the input is never
    touched); what needs a person's decision is left as it is."""
    name = format or formats.detect(Path(path))
    opts = replace(options or CheckOptions(), **option_values)
    if wants_total(progress):
        announce(progress, formats.image_count(name, Path(path)))
    summary: FixSummary = formats.fixer(name)(
        Path(path), Path(out), opts, overwrite=overwrite, jobs=jobs, progress=progress
    )
    return summary
