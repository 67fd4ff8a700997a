"""``validate --fix``: a corrected copy of a dataset, never touching the input.

Only what has one right answer is fixed: area and bbox recomputed from the mask, dangling
records removed, duplicate ids renumbered. What needs a person's decision (a PNG of the wrong
size, an undecodable RLE, overlapping instances…) is left as it is and named by the summary.
Each format's fixes live next to its reader (``formats/*_fix.py``); this package holds what
they share.
"""

from .changes import Change, FixSummary

__all__ = ["Change", "FixSummary"]
