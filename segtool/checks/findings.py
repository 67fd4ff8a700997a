"""Findings: what validation reports, with a stable code, a severity and a place.

Findings are data, not exceptions: a validation run collects all of them, never stopping
at the first, and the CLI picks the exit code from the worst severity found.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from ..policy import place


class Severity(IntEnum):
    """How bad a finding is: errors corrupt training or scores, warnings are legal but
    suspicious, info is statistics."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Check:
    """A check's stable code, severity and one-line description (for docs and --select)."""

    code: str
    severity: Severity
    summary: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place.

    A report may hold one or two for every image of a large dataset, so a finding is kept
    small: slots (no ``__dict__``), and its code and path, shared by thousands of findings,
    interned, also when a finding arrives pickled from a worker (``__reduce__`` goes
    through ``__init__``): ~180 bytes where a plain dataclass took ~600.
    """

    code: str
    severity: Severity
    message: str
    path: str = ""
    image_id: int | None = None  # as the dataset wrote it: a JSON id may be any value, a str too
    segment_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", sys.intern(self.code))
        if type(self.path) is str:
            object.__setattr__(self, "path", sys.intern(self.path))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        fields = (self.code, self.severity, self.message, self.path, self.image_id, self.segment_id)
        return (Finding, fields)

    def where(self) -> str:
        """``image 3, segment 7`` (the parts that are known), for people. The strings are the
        dataset's own: whoever prints them escapes them (``segtool.cli.output.shown``)."""
        return place(self.image_id, self.segment_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: the strings exactly as found, unescaped (JSON escapes them)."""
        return {
            "code": self.code,
            "severity": str(self.severity),
            "image_id": self.image_id,
            "segment_id": self.segment_id,
            "path": self.path,
            "message": self.message,
        }


@dataclass
class Report:
    """All findings of a validation run, with dataset statistics."""

    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def worst(self) -> Severity | None:
        """The most severe finding, or None when clean."""
        return max((f.severity for f in self.findings), default=None)

    def counts(self) -> dict[str, int]:
        """Findings per code."""
        return dict(sorted(Counter(f.code for f in self.findings).items()))

    def __repr__(self) -> str:
        n = Counter(f.severity for f in self.findings)
        images = f", {self.stats['images']} images" if "images" in self.stats else ""
        return f"Report({n[Severity.ERROR]} errors, {n[Severity.WARNING]} warnings, {n[Severity.INFO]} infos{images})"

    def summary(self) -> str:
        """One line per check code (severity, count, first example), worst first."""
        if not self.findings:
            return "no findings"
        from ..tables import text

        firsts: dict[str, Finding] = {}
        for f in self.findings:
            firsts.setdefault(f.code, f)
        order = sorted(self.counts().items(), key=lambda kv: (-firsts[kv[0]].severity, kv[0]))
        rows = [(code, str(firsts[code].severity), n, firsts[code].message) for code, n in order]
        return text(("check", "severity", "count", "first example"), rows)

    def to_dataframe(self) -> Any:
        """One row per finding (``pandas`` needed)."""
        from ..tables import dataframe

        columns = ("code", "severity", "image_id", "segment_id", "path", "message")
        return dataframe([f.to_dict() for f in self.findings], columns)

    def to_dict(self) -> dict[str, Any]:
        """``{"findings": [...], "summary": {...}}`` for ``--json``."""
        return {"findings": [f.to_dict() for f in self.findings], "summary": self.summary_dict()}

    def summary_dict(self) -> dict[str, Any]:
        """The ``summary`` of :meth:`to_dict`: counts by severity and by code, and the stats."""
        by_severity = Counter(str(f.severity) for f in self.findings)
        return {
            "errors": by_severity.get("error", 0),
            "warnings": by_severity.get("warning", 0),
            "infos": by_severity.get("info", 0),
            "by_code": self.counts(),
            **self.stats,
        }
