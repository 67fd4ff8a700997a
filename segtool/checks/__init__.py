"""Dataset validation: every consistency problem as a finding with a stable code.

Importing this package registers every format's checks, so ``CHECKS`` is complete.
"""

from . import instance, panoptic, records, semantic
from .findings import Check, Finding, Report, Severity
from .registry import CHECKS

__all__ = ["CHECKS", "Check", "Finding", "Report", "Severity", "instance", "panoptic", "records", "semantic"]
