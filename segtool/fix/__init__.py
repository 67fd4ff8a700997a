"""``validate --fix``: a corrected copy of a dataset, never touching the input.

Only what has one right answer is fixed: area and bbox recomputed from the mask, dangling
records removed, duplicate ids renumbered. What needs a person's decision (a PNG of the wrong
size, an undecodable RLE, overlapping instances…) is left as it is and named by the summary.
"""

from .changes import Change, FixSummary
from .instance import fix_instance
from .panoptic import fix_panoptic

__all__ = ["Change", "FixSummary", "fix_instance", "fix_panoptic"]
