"""Findings: what validation reports, with a stable code, a severity and a place.

Findings are data, not exceptions: a validation run collects all of them, never stopping
at the first, and the CLI picks the exit code from the worst severity found.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


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


@dataclass(frozen=True)
class Finding:
    """One problem at one place."""

    code: str
    severity: Severity
    message: str
    path: str = ""
    image_id: int | None = None  # as the dataset wrote it: a JSON id may be any value, a str too
    segment_id: int | None = None

    def where(self) -> str:
        """``image 3, segment 7`` (the parts that are known), for people. The strings are the
        dataset's own: whoever prints them escapes them (``segtool.cli.output.shown``)."""
        parts = (("image", self.image_id), ("segment", self.segment_id))
        return ", ".join(f"{name} {value}" for name, value in parts if value is not None)

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

    def to_dict(self) -> dict[str, Any]:
        """``{"findings": [...], "summary": {...}}`` for ``--json``."""
        by_severity = Counter(str(f.severity) for f in self.findings)
        return {
            "findings": [f.to_dict() for f in self.findings],
            "summary": {
                "errors": by_severity.get("error", 0),
                "warnings": by_severity.get("warning", 0),
                "infos": by_severity.get("info", 0),
                "by_code": self.counts(),
                **self.stats,
            },
        }
