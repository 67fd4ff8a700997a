"""Where failing inputs go: fuzz/crashes/ (git-ignored; ``FUZZ_CRASHES`` elsewhere), one file per input."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CRASHES = Path(os.environ.get("FUZZ_CRASHES") or Path(__file__).resolve().parent / "crashes")


def save_crash(name: str, data: bytes, how: str) -> Path:
    """Keep a failing input as fuzz/crashes/NAME-HOW-SHA1; ``python -m fuzz repro NAME FILE``
    runs it again."""
    CRASHES.mkdir(exist_ok=True)
    out = CRASHES / f"{name}-{how}-{hashlib.sha1(data).hexdigest()[:12]}"
    out.write_bytes(data)
    return out


def current_file(name: str) -> Path:
    """Where the hypothesis engine writes the input it is about to run, so the input that
    killed the process (a signal, the hang watchdog) can be recovered by the parent."""
    return CRASHES / f".current-{name}"
