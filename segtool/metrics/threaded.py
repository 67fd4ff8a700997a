"""Per-image work on threads of this process, results in input order: the second core for
work whose heavy part is C that lets go of the GIL (eval instance's RLE decoding and mask
IoU, segtool/_kernels.c), where worker processes would cost more in shipping each image
than they save (see :func:`segtool.metrics.instances.evaluate`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def thread_map(fn: Callable[[T], R], items: Iterable[T], threads: int) -> Iterator[R]:
    """``map(fn, items)`` on ``threads`` threads, a few items ahead. ``items`` is read in
    this thread only. What raises first in input order raises: an error of ``items`` itself
    (a stream that fails part-way) waits until the items before it are done, as with
    ``map``, so the same problem is reported whichever way the work runs."""
    if threads <= 1:
        yield from map(fn, items)
        return
    it = iter(items)
    pending: deque[Future[R]] = deque()
    failed: Exception | None = None
    more = True
    with ThreadPoolExecutor(threads, thread_name_prefix="segtool-image") as pool:
        try:
            while True:
                while more and failed is None and len(pending) < 2 * threads:
                    try:
                        item = next(it)
                    except StopIteration:
                        more = False
                    except Exception as exc:  # raised after the items before it
                        failed = exc
                    else:
                        pending.append(pool.submit(fn, item))
                if not pending:
                    break
                yield pending.popleft().result()
        finally:
            for future in pending:  # an error or a consumer that stopped: no more work
                future.cancel()
    if failed is not None:
        raise failed
