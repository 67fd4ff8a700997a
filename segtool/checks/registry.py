"""The registry of check codes: each format's checks add theirs here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..policy import place
from .findings import Check, Finding, Severity

if TYPE_CHECKING:
    from .spill import FindingLog

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


def unlabeled(
    unlabeled_px: int, pixels: int, max_unlabeled: float, what: str, path: str, image_id: Any
) -> Finding | None:
    """The ``unlabeled`` finding of one image: info for any unlabeled pixel by default, a
    warning above ``--max-unlabeled`` when one is set, nothing at or below it."""
    fraction = unlabeled_px / pixels if pixels else 0.0
    if not (fraction > max_unlabeled or (max_unlabeled == 0 and fraction > 0)):
        return None
    severity = Severity.WARNING if max_unlabeled > 0 else Severity.INFO
    return Finding("unlabeled", severity, f"{100 * fraction:.2f}% of the pixels {what}", path, image_id)


class Collect:
    """The error policy of ``validate`` (:mod:`segtool.policy`): every problem a reader meets
    becomes a finding under its check code, and the reader goes on. A reader's message
    starts with its place ("image 3: ...", for the one line of a strict error); a finding
    keeps the place in its own fields, so the message goes without it."""

    def __init__(self, found: list[Finding] | None = None, *, log: FindingLog | None = None) -> None:
        self.found: list[Finding] = [] if found is None else found
        self.log = log  # when given, findings go there instead (a large run's, mostly on disk)
        self.reported = 0  # findings reported, also those a log's --select/--ignore drops

    def __call__(
        self, code: str, message: str, path: str, image_id: Any = None, segment_id: Any = None, *, usable: bool = False
    ) -> bool:
        for prefix in (f"{place(image_id, segment_id)}: ", f"{place(image_id)}: "):
            if image_id is not None and message.startswith(prefix):  # a finding carries its place apart
                message = message[len(prefix) :]
                break
        self.reported += 1
        (self.found if self.log is None else self.log).append(finding(code, message, path, image_id, segment_id))
        # a record of the wrong shape is left out of the other checks, so that no check meets
        # a value it cannot handle (and one cause gives one finding); others stay in
        return usable and code != "malformed-record"
