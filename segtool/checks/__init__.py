"""Dataset validation: every consistency problem as a finding with a stable code.

The generic parts live here (findings, the code registry, record shapes, image and category
records); each format's own checks live next to its reader (``formats/*_checks.py``) and
register their codes when imported. ``CHECKS`` is complete on first access: it imports them
all through the format registry.
"""

from typing import Any

from .findings import Check, Finding, Report, Severity
from .options import CheckOptions

__all__ = ["CHECKS", "Check", "CheckOptions", "Finding", "Report", "Severity"]


def __getattr__(name: str) -> Any:
    if name == "CHECKS":
        from .. import formats
        from .registry import CHECKS

        formats.load_checks()
        return CHECKS
    raise AttributeError(name)
