"""What a fix changed, one record per change, keyed by the check code it answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_outputs, plan
from ..checks.schema import Rule, problem
from ..errors import SegtoolError


@dataclass(frozen=True)
class Change:
    """One change: the finding's code, what was done (a kind, for grouping), where, and the
    values before and after when there are any."""

    code: str
    action: str
    image_id: Any = None
    segment_id: Any = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "code": self.code,
            "action": self.action,
            "detail": self.detail,
            "image_id": self.image_id,
            "segment_id": self.segment_id,
        }


@dataclass
class FixSummary:
    """Every change of a fix, and the outputs written."""

    changes: list[Change] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def counts(self) -> dict[tuple[str, str], int]:
        """Changes per (code, action)."""
        return dict(sorted(Counter((c.code, c.action) for c in self.changes).items()))

    def to_dict(self) -> dict[str, Any]:
        """``{"outputs", "changes", "by_code"}`` for ``--json``."""
        return {
            "outputs": self.outputs,
            "changes": [c.to_dict() for c in self.changes],
            "by_code": dict(sorted(Counter(c.code for c in self.changes).items())),
        }


def prepare(targets: list[Path], inputs: list[Path], overwrite: bool) -> Any:
    """Refuse writing over an input (even with --overwrite) or an existing output; then the
    atomic temporaries, so a failed fix leaves nothing behind."""
    plan(targets, inputs, overwrite=overwrite)
    return atomic_outputs(*targets, overwrite=overwrite)


def refuse_malformed(path: Path, groups: list[tuple[Any, Rule | Callable[[Any, int], str | None]]]) -> None:
    """A fix needs records of the right shape (a rule of :mod:`segtool.checks.schema`, or a
    format's own ``(record, index) -> problem``); malformed ones are a person's job first."""
    bad = 0
    for records, rule in groups:
        for i, r in enumerate(records if isinstance(records, list) else [None]):
            bad += (rule(r, i) if callable(rule) else problem(r, rule)) is not None
    if bad:
        raise SegtoolError(
            f"{bad} malformed record(s) (validate reports them as malformed-record); --fix needs them repaired first",
            str(path),
        )
