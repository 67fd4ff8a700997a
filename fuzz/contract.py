"""The contract every fuzz target checks, and what a fuzz run needs around it.

Contract: a target's call returns, or raises :class:`segtool.errors.SegtoolError` (or, for
the low-level PNG decoder and the C kernels, whose documented error is ``ValueError``, a
``ValueError``); never another exception, never a warning, never a crash, never a hang. Anything else
propagates out of the target, which is how both atheris and hypothesis see a failure.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from segtool.errors import SegtoolError

# Categories Python's default filters do not print (outside __main__): not a user's problem.
_HIDDEN = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)

LOW_LEVEL: tuple[type[BaseException], ...] = (SegtoolError, ValueError)
READER: tuple[type[BaseException], ...] = (SegtoolError,)

# Hang: one input that runs this long is a failure (pycocotools loops forever on RLE counts
# that do not add up; the guard must stop them first). Generous: CI machines are slow.
HANG_SECONDS = float(os.environ.get("FUZZ_HANG_SECONDS", "20"))


def call(fn: Callable[..., Any], *args: Any, allowed: tuple[type[BaseException], ...] = LOW_LEVEL, **kw: Any) -> Any:
    """``fn(*args, **kw)``, or None when it raised one of ``allowed``; other exceptions
    propagate. A warning it lets out is a failure too: a warning is text on stderr that the
    one-line error promise does not allow (and the test suite runs with warnings as errors)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return fn(*args, **kw)
        except allowed:
            return None
        finally:
            shown = [w for w in caught if not issubclass(w.category, _HIDDEN)]
            if shown:
                w = shown[0]
                raise AssertionError(f"a warning escaped: {w.category.__name__}: {w.message} ({w.filename}:{w.lineno})")


@contextmanager
def watchdog(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Kill the process (exit 1, every thread's traceback on stderr) when the block runs
    longer than ``seconds``. A C loop that never returns cannot be interrupted by a Python
    signal handler; faulthandler's timer thread still fires."""
    faulthandler.dump_traceback_later(seconds, exit=True, file=sys.stderr)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def fuzz_limits() -> None:
    """Limits small enough that no fuzzed header makes a run allocate gigabytes: a fuzzer
    reaches the limit paths either way. Set before segtool reads them (env, see limits.py)."""
    os.environ.setdefault("SEGTOOL_LIMIT_PIXELS", "4000000")
    os.environ.setdefault("SEGTOOL_LIMIT_SEGMENTS", "20000")
    os.environ.setdefault("SEGTOOL_LIMIT_CATEGORIES", "2000")
