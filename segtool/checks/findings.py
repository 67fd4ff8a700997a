"""Findings: what validation reports, with a stable code, a severity and a place.

Findings are data, not exceptions: a validation run collects all of them, never stopping
at the first, and the CLI picks the exit code from the worst severity found.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from ..policy import place

if TYPE_CHECKING:
    from .spill import FindingLog


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


_SHARED: dict[str, str] = {}
_SHARED_MAX = 128  # codes and dataset files; a PNG's own path, one an image, is not worth keeping


def _shared(text: str) -> str:
    """One object for equal codes and paths, as ``sys.intern`` gave, but from a table that
    stays small: interning every PNG path of 20,000 images grew the interpreter's own table
    (never shrunk) with the dataset. When full, the table starts again: the strings that
    recur are soon shared again."""
    kept = _SHARED.get(text)
    if kept is not None:
        return kept
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
    _SHARED[text] = text
    return text


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
        object.__setattr__(self, "code", _shared(self.code))
        if type(self.path) is str:
            object.__setattr__(self, "path", _shared(self.path))

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
    """All findings of a validation run, with dataset statistics. The findings are a list,
    or a :class:`~segtool.checks.spill.FindingLog` (most of them on disk) for a large run:
    both are iterated, counted and indexed alike."""

    findings: list[Finding] | FindingLog = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def _log(self) -> FindingLog | None:
        from .spill import FindingLog

        return self.findings if isinstance(self.findings, FindingLog) else None

    def worst(self) -> Severity | None:
        """The most severe finding, or None when clean."""
        if (log := self._log()) is not None:
            return log.worst()
        return max((f.severity for f in self.findings), default=None)

    def counts(self) -> dict[str, int]:
        """Findings per code."""
        log = self._log()
        by_code = log.by_code if log is not None else Counter(f.code for f in self.findings)
        return dict(sorted(by_code.items()))

    def firsts(self) -> dict[str, Finding]:
        """The first finding of each code, in the order the codes first appear."""
        if (log := self._log()) is not None:
            return dict(log.firsts)
        firsts: dict[str, Finding] = {}
        for f in self.findings:
            firsts.setdefault(f.code, f)
        return firsts

    def __repr__(self) -> str:
        log = self._log()
        n = log.by_severity if log is not None else Counter(f.severity for f in self.findings)
        images = f", {self.stats['images']} images" if "images" in self.stats else ""
        return f"Report({n[Severity.ERROR]} errors, {n[Severity.WARNING]} warnings, {n[Severity.INFO]} infos{images})"

    def summary(self) -> str:
        """One line per check code (severity, count, first example), worst first."""
        if not self.findings:
            return "no findings"
        from ..tables import text

        firsts = self.firsts()
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
        log = self._log()
        if log is not None:
            by_severity = Counter({str(k): v for k, v in log.by_severity.items()})
        else:
            by_severity = Counter(str(f.severity) for f in self.findings)
        return {
            "errors": by_severity.get("error", 0),
            "warnings": by_severity.get("warning", 0),
            "infos": by_severity.get("info", 0),
            "by_code": self.counts(),
            **self.stats,
        }
