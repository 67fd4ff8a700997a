"""The registry of check codes: each format's checks add theirs here."""

from __future__ import annotations

from .findings import Check, Finding, Severity

E, W, INF = Severity.ERROR, Severity.WARNING, Severity.INFO
CHECKS: dict[str, Check] = {}


def register(*checks: Check) -> None:
    """Add checks; a code has one meaning whichever format reports it."""
    for c in checks:
        if c.code in CHECKS and CHECKS[c.code] != c:
            raise ValueError(f"check code {c.code} registered twice with different meanings")
        CHECKS[c.code] = c


def finding(
    code: str, message: str, path: str = "", image_id: int | None = None, segment_id: int | None = None
) -> Finding:
    """A finding with the check's own severity."""
    return Finding(code, CHECKS[code].severity, message, path, image_id, segment_id)
