"""Per-image work on an existing dask.distributed cluster: :func:`segtool.parallel.imap`'s
other door, taken while :func:`segtool.parallel.use_scheduler` has set an address.

The same contract as the local pool, so the callers (metrics, formats, preview) do not
change and the results are the same bits: chunks of items go out, at most ``4 x`` the
cluster's worker threads of them in flight at once (memory stays bounded on both sides),
and the results come back in input order. Only the transport differs:

- ``fn`` travels by reference (cloudpickle pickles a module-level function as its module
  and name), so the workers run their own installed segtool: the same version is needed
  there, and the inputs at the same paths (a shared filesystem or mounted object store).
- A chunk also carries what the local workers inherit from their parent: the directory
  segtool runs in (relative paths resolve there on the worker when it exists) and the
  ``--limit`` settings (``SEGTOOL_LIMIT_*``, read from the environment on every call).
- A chunk whose worker died (killed, out of memory) is rescheduled by Dask itself, up to
  ``distributed.scheduler.allowed-failures`` times; ``retries`` runs a chunk that failed
  (``fn`` raised, or its workers kept dying) :data:`RETRIES` more time(s). Per-image work is
  deterministic and writes whole files, so a second run gives the same bytes.
- ``pure=False``: two equal chunks are two tasks, never one result shared by key.

Dask is imported here only, and this module only when a scheduler is set: without the
``segtool[dask]`` extra, segtool runs as before and ``--scheduler`` says what to install.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from itertools import islice
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .errors import SegtoolError, one_line
from .limits import ENV_PREFIX

T = TypeVar("T")
R = TypeVar("R")

CONNECT_TIMEOUT = 10.0  # seconds: an address that does not answer is an error, not a hang
RETRIES = 1  # extra runs of a chunk that failed: fn raised (a flaky mount), or its workers kept dying
WINDOW_PER_THREAD = 4  # chunks in flight per worker thread, as the local pool's 4 x jobs
FIRST_CHUNK = 16  # items per task until the workers have said how long an item takes
TASK_SECONDS = 0.25  # then chunks sized to this much work: Dask costs ~5 ms of CPU a task
MAX_CHUNK = 256  # items per task at most: a lost worker's chunks are redone, keep them short
INSTALL = "pip install 'segtool[dask]'"

_client: Any = None  # the distributed.Client of use_scheduler(), while one is set
_env_lock = threading.Lock()
# The futures each imap has in flight, by the thread that runs it: what cancel() cancels.
_live: dict[int, tuple[threading.Thread, deque[Any]]] = {}


@contextmanager
def use_scheduler(address: str | None) -> Iterator[None]:
    """Inside the block, :func:`segtool.parallel.imap` sends its chunks to the Dask scheduler
    at ``address`` (``--scheduler``; None: local processes as always), from every thread.
    Connected on entry, so an address that does not answer fails before any work; the
    cluster keeps running after (it is not ours)."""
    global _client
    if address is None:
        yield
        return
    with _quiet():
        before, _client = _client, connect(address)
        try:
            yield
        finally:
            client, _client = _client, before
            close(client)


@contextmanager
def _quiet() -> Iterator[None]:
    """distributed's own log records silenced in this process (its tracebacks on stderr when
    the connection drops): what went wrong reaches the user as one error line."""
    try:
        import distributed  # noqa: F401  (creates its loggers, each with a level of its own)
    except ImportError:  # connect() says what to install
        pass
    names = [n for n in logging.root.manager.loggerDict if n == "distributed" or n.startswith("distributed.")]
    logs = [logging.getLogger(n) for n in names]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for log, level in zip(logs, levels, strict=True):
            log.setLevel(level)


def current() -> Any:
    """The client of the innermost :func:`use_scheduler`, or None."""
    return _client


def connect(address: str) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``, or a one-line error: Dask
    not installed (what to install), or nothing answering there within
    :data:`CONNECT_TIMEOUT` (the address named)."""
    try:
        import dask
        import distributed
    except ImportError:
        raise SegtoolError(f"--scheduler {address}: Dask is not installed ({INSTALL})") from None
    _reachable(address)
    try:
        client_class: Any = distributed.Client  # its __init__ has no annotations
        # distributed keeps the client's last 1,000 batches sent to the scheduler for debugging
        # (BatchedSend.recent_message_log): each chunk's pickled task, ~30 kB for 16 images,
        # so the client's memory grew with the run (x1.32 from 5,000 to 20,000 images, x1.08
        # without it: docs/scale.md). Read when the client connects; nothing else changes.
        with dask.config.set({"distributed.admin.low-level-log-length": 0}):
            return client_class(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, ValueError, TimeoutError) as exc:
        raise SegtoolError(f"cannot reach the Dask scheduler at {address}: {one_line(str(exc))}") from None


def _reachable(address: str) -> None:
    """Fail at once on a TCP address that refuses or does not resolve.

    distributed retries a refused connection until its timeout, and a Client whose
    construction failed prints a traceback when the garbage collector closes it: a plain
    socket first answers in milliseconds, with nothing left behind. Other schemes (tls,
    ucx, inproc) are left to distributed.
    """
    url = urlsplit(address if "://" in address else f"tcp://{address}")
    if url.scheme != "tcp":
        return
    try:
        host, port = url.hostname, url.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise SegtoolError(f"--scheduler {address}: not an address (expected tcp://HOST:PORT)")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise SegtoolError(f"cannot reach the Dask scheduler at {address}: {one_line(reason)}") from None


def close(client: Any) -> None:
    """Disconnect ``client``."""
    try:
        client.close(timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError):  # the scheduler went away first
        pass


def threads(client: Any) -> int:
    """The worker threads the cluster has now (0 while it has no workers): one round trip
    to the scheduler."""
    workers = client.scheduler_info().get("workers", {})
    return sum(int(w.get("nthreads", 1)) for w in workers.values())


def _window(client: Any) -> Callable[[], int]:
    """The number of chunks to keep in flight, asked of the scheduler at most once a second
    (workers join and leave; a round trip per chunk would cost more than small chunks)."""
    asked = [0.0, 0]

    def window() -> int:
        now = time.monotonic()
        if now - asked[0] >= 1.0:
            asked[:] = [now, WINDOW_PER_THREAD * max(1, threads(client))]
        return int(asked[1])

    return window


def _cancel(futures: list[Any]) -> None:
    """Cancel ``futures`` if their scheduler is still there to hear it."""
    if futures:
        try:
            futures[0].client.cancel(futures)
        except (OSError, TimeoutError, RuntimeError):  # connection gone, or the client closed
            pass


def run_chunk(cwd: str, env: dict[str, str], fn: Callable[[T], R], chunk: list[T]) -> tuple[float, list[R]]:
    """On a worker: ``fn`` of every item of ``chunk``, where the client ran (``cwd``, if this
    machine has it) and under its limits (``env``: every ``SEGTOOL_LIMIT_*`` it had), and the
    seconds that took (the client sizes the next chunks by it).

    The directory and the environment are the worker process's own, so they are set under
    a lock, and only when they differ: the threads of one worker running one client's
    chunks set the same values."""
    with _env_lock:
        if os.getcwd() != cwd and os.path.isdir(cwd):
            os.chdir(cwd)
        for key in [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in env]:
            del os.environ[key]
        os.environ.update(env)
    start = time.perf_counter()
    results = [fn(item) for item in chunk]
    return time.perf_counter() - start, results


class _Sizer:
    """Items per chunk: :data:`FIRST_CHUNK` (or the caller's smaller ``chunksize``) until a
    chunk has come back, then as many as take :data:`TASK_SECONDS` on a worker at the
    average time per item so far, within 1..:data:`MAX_CHUNK`.

    Dask spends a few ms of CPU per task (scheduler, worker and client): in chunks of 16
    images of ~0.6 ms each, a local 2-worker cluster was 0.8x as fast as ``--jobs 1``.
    Results do not depend on the chunks (they come back in input order)."""

    def __init__(self, chunksize: int) -> None:
        self.size = max(1, min(chunksize, FIRST_CHUNK, MAX_CHUNK))
        self.seconds = 0.0
        self.items = 0

    def took(self, seconds: float, items: int) -> None:
        self.seconds += seconds
        self.items += items
        per_item = self.seconds / self.items
        fit = int(TASK_SECONDS / per_item) if per_item > 0 else MAX_CHUNK
        self.size = max(1, min(fit, MAX_CHUNK))


def imap(client: Any, fn: Callable[[T], R], items: Iterable[T], *, chunksize: int) -> Iterator[R]:
    """``fn`` of every item, run on the cluster of ``client``, the results in input order.

    A chunk is submitted whenever the oldest one's results have been taken, so no more than
    :data:`WINDOW_PER_THREAD` x the cluster's threads chunks (at least that many for one
    thread, when it has none yet) are in flight or waiting to be taken. An exception raised
    by ``fn`` propagates (after :data:`RETRIES` further runs); if the generator ends early,
    the chunks not yet run are cancelled.
    """
    from distributed import KilledWorker  # a client exists: distributed is there
    from distributed.comm.core import CommClosedError

    sizer = _Sizer(chunksize)
    context = (os.getcwd(), {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)})
    it = iter(items)
    pending: deque[Any] = deque()
    key = id(pending)
    _live[key] = (threading.current_thread(), pending)

    window = _window(client)

    def fill() -> None:
        while len(pending) < window():
            chunk = list(islice(it, sizer.size))
            if not chunk:
                return
            pending.append(client.submit(run_chunk, *context, fn, chunk, pure=False, retries=RETRIES))

    try:
        fill()
        while pending:
            try:
                results = pending[0].result()
            except (CancelledError, CommClosedError) as exc:  # the scheduler went away (we cancel last)
                reason = getattr(exc, "reason", None) or type(exc).__name__
                raise SegtoolError(f"lost the Dask scheduler at {client.scheduler.address} ({reason})") from None
            except KilledWorker as exc:  # the same images took down one worker after another
                raise SegtoolError(
                    f"{exc.allowed_failures + 1} Dask workers died running the same images (out of memory? "
                    f"see {exc.last_worker.address}'s log; dask worker --memory-limit)"
                ) from None
            pending.popleft()
            seconds, chunk_results = results
            sizer.took(seconds, len(chunk_results))
            fill()
            yield from chunk_results
    finally:
        _live.pop(key, None)
        _cancel(list(pending))


def cancel(*, this_thread: bool = False) -> None:
    """Cancel the chunks every :func:`imap` has in flight (``this_thread``: only those of the
    calling thread's), for :func:`segtool.parallel.stop_workers`. A chunk already running
    on a worker finishes there (Dask cannot stop a running task); its result is dropped."""
    me = threading.current_thread()
    for home, pending in tuple(_live.values()):
        if not this_thread or home is me:
            _cancel(list(pending))
