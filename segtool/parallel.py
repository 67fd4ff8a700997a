"""One way to run per-image work: in order, optionally across processes, memory bounded.

``Executor.map`` collects its whole input up front (a bounded ``buffersize`` exists only in
Python 3.14+), so the window of in-flight chunks is our own: at most ``4 × jobs`` chunks are
submitted at once, results come back in input order, and memory stays flat however many
images there are.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from itertools import islice
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_jobs() -> int:
    """All usable cores."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    return [fn(item) for item in chunk]


def imap(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    jobs: int = 1,
    executor: Executor | None = None,
    chunksize: int = 4,
) -> Iterator[R]:
    """Apply ``fn`` to every item and yield the results in input order.

    ``jobs == 1`` without an executor is a plain generator (no pickling). Otherwise ``fn``
    must be a picklable module-level function. Exceptions raised by ``fn`` propagate.
    """
    if jobs <= 1 and executor is None:
        yield from map(fn, items)
        return
    own = executor is None
    if executor is None:
        method = "forkserver" if sys.platform.startswith("linux") else None
        ctx = multiprocessing.get_context(method)
        executor = ProcessPoolExecutor(jobs, mp_context=ctx)
    window = 4 * max(jobs, 1)
    it = iter(items)
    pending: deque[Future[list[R]]] = deque()

    def submit() -> None:
        chunk = list(islice(it, chunksize))
        if chunk:
            pending.append(executor.submit(_run_chunk, fn, chunk))

    try:
        for _ in range(window):
            submit()
        while pending:
            results = pending.popleft().result()
            submit()
            yield from results
    finally:
        for fut in pending:
            fut.cancel()
        if own:
            executor.shutdown(wait=True, cancel_futures=True)


def call(fn: Callable[..., R], *args: Any) -> R:
    """Apply ``fn`` to a packed argument tuple (lets ``imap`` carry options with each item)."""
    return fn(*args)
