"""Pause Python's cyclic garbage collector while bulk work builds objects that form no cycles.

Reading a COCO JSON creates millions of dicts and lists; each few hundred allocations the
collector wakes and walks the live ones, again and again (measured: 15% of mask AP on 1,000
images, more when the caller holds many objects). Nothing segtool builds needs the cycle
collector (reference counting frees it), so the entry points run with it paused and
restore the caller's setting after.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block; re-enable it after if it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def gc_paused(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` inside :func:`paused`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with paused():
            return fn(*args, **kwargs)

    return wrapper
