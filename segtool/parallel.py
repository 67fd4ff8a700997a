"""One way to run per-image work: in order, optionally across processes, memory bounded.

``Executor.map`` collects its whole input up front (a bounded ``buffersize`` exists only in
Python 3.14+), so the window of in-flight chunks is our own: at most ``4 × jobs`` chunks are
submitted at once, results come back in input order, and memory stays flat however many
images there are.

Workers never import the user's main module. Under forkserver and spawn, multiprocessing
re-runs the parent's ``__main__`` in every child (``spawn.get_preparation_data``) so that its
functions unpickle: a script without an ``if __name__ == "__main__":`` guard would call
segtool again in each worker and fail. A pool's workers run segtool's own functions, so
their preparation data leaves the main module out (unless :func:`imap` is given a function
of ``__main__``), decided per process start in the thread that starts it (:class:`_Worker`);
the forkserver's preload leaves it out too.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from itertools import islice
from multiprocessing import spawn
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from . import parallel_dask
from .interrupts import deferred, sigint_blocked_in_children

T = TypeVar("T")
R = TypeVar("R")


def default_jobs() -> int:
    """All usable cores."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def tune_allocator() -> None:
    """Keep freed image-sized buffers in the heap instead of returning them to the OS.

    Every image allocates a few fresh multi-MB arrays; by default glibc maps each one anew
    and unmaps it on free, so every image pays page faults to zero them again (measured: 30%
    of a panoptic → instance conversion). Raising the mmap and trim thresholds keeps the
    pages. Called by the CLI and in worker processes, never on library import. No-op where
    glibc is absent.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 * 2**20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 * 2**20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


_starting = threading.local()  # .worker: this thread is starting a pool's worker now
_install_lock = threading.Lock()
_stdlib_preparation_data: Callable[[str], dict[str, Any]] | None = None  # once installed


class _Worker(BaseProcess):
    """A pool's worker process: started as ``_start_method``'s own processes are, but the
    child does not import the main module.

    While this thread starts the process (``_Popen``, in whichever thread the pool starts it
    from: ``submit``'s, or its manager thread when it replaces a worker), the preparation
    data (:func:`_preparation_data`) leaves the main module out. A thread-local flag, so a
    process that another thread starts at the same moment is prepared as always.
    """

    _start_method: str | None = None  # set per instance by _Context; pickled to the child

    @staticmethod
    def _Popen(process_obj: BaseProcess) -> Any:
        before = getattr(_starting, "worker", False)
        _starting.worker = True
        try:
            return _concrete(getattr(process_obj, "_start_method", None))._Popen(process_obj)
        finally:
            _starting.worker = before

    def _after_fork(self) -> None:  # in the child; a staticmethod of each concrete class
        _starting.worker = False  # forked from the thread that started it: start others as always
        _concrete(self._start_method)._after_fork()


def _concrete(method: str | None) -> Any:
    """multiprocessing's own Process class for the start method ``method``."""
    ctx: Any = multiprocessing.get_context(method)
    return ctx.Process


class _Context(BaseContext):
    """The start method ``method``, its processes :class:`_Worker`."""

    def __init__(self, method: str) -> None:
        self._name = method

    def Process(self, *args: Any, **kwargs: Any) -> _Worker:  # multiprocessing's name
        process = _Worker(*args, **kwargs)
        process._start_method = self._name
        return process


def _preparation_data(name: str) -> dict[str, Any]:
    """``multiprocessing.spawn.get_preparation_data``, without the main module while this
    thread starts a :class:`_Worker`; unchanged otherwise."""
    assert _stdlib_preparation_data is not None
    data = _stdlib_preparation_data(name)
    if getattr(_starting, "worker", False):
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
    return data


def _install() -> None:
    """Put :func:`_preparation_data` in place of ``spawn.get_preparation_data``, once.

    The forkserver's, spawn's and Windows' ``Popen`` all call it by module attribute, in the
    thread that starts the process (Python 3.10 to 3.14). Every other caller gets what it
    got before, and a wrapper installed earlier by someone else stays in the chain.
    """
    global _stdlib_preparation_data
    with _install_lock:
        if _stdlib_preparation_data is None:
            _stdlib_preparation_data = spawn.get_preparation_data
            spawn.get_preparation_data = _preparation_data


def _context(*, main: bool = False) -> BaseContext:
    """forkserver on Linux: forking a process that runs threads (rich's progress bar) is
    unsafe, and spawn re-imports everything per worker. The server preloads segtool, so
    each worker forks with numpy, pycocotools and the formats already imported (halves
    pool start-up). Elsewhere the default start method. Its workers skip the main module
    (see the module's docstring) unless ``main``: a function of ``__main__`` runs in them."""
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["segtool.formats", "segtool.convert", "segtool.views"])
    else:
        ctx = multiprocessing.get_context()
    if main:
        return ctx
    _install()
    return _Context(ctx.get_start_method())


def _start_helpers() -> None:
    """Start the resource tracker and (on Linux) the forkserver, immune to Ctrl-C.

    Both serve the main process, which stops them: a Ctrl-C sent to the whole process group
    must not make them print a traceback (the forkserver imports segtool for half a second,
    with Python's default SIGINT handler). The tracker blocks signals itself while it
    starts, and unblocks them after, so it goes first.
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    if sys.platform.startswith("linux"):
        from multiprocessing import forkserver

        _context()
        with sigint_blocked_in_children():
            forkserver.ensure_running()


SMALL = 32  # fewer images than this finish before a worker pool has started
use_scheduler = parallel_dask.use_scheduler  # inside it, imap runs on a Dask cluster


def jobs_for(n_items: int, jobs: int) -> int:
    """Worker processes worth starting for ``n_items`` (results are identical either way);
    with a cluster (already started) at least 2, so the work goes there."""
    if parallel_dask.current() is not None:
        return max(jobs, 2)
    return 1 if n_items < SMALL else jobs


def warm_up(jobs: int) -> None:
    """Start the forkserver (and its preload) now, so it overlaps with reading the input."""
    if jobs > 1 and parallel_dask.current() is None:
        _start_helpers()


def _init_worker(owner: int) -> None:
    """Set up a worker process: the allocator, SIGINT left to ``owner``, an exit when
    ``owner`` dies.

    Ctrl-C reaches every process of the group; the owner stops its workers, so a worker
    ignores SIGINT (it was blocked from birth, see :func:`_start_helpers`; now it is ignored
    and unblocked). SIGTERM keeps its default: a worker ends silently.
    """
    tune_allocator()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_exit_with, args=(owner,), name="segtool-owner-watch", daemon=True).start()


def _exit_with(owner: int) -> None:
    """Block until process ``owner`` ends, then end this worker.

    When the owner is killed outright (SIGKILL, the OOM killer) nothing runs there to stop
    the pool, and a worker would wait for work forever: it holds a write end of its own task
    queue, and the forkserver and resource tracker wait for the workers. PR_SET_PDEATHSIG
    cannot help: a worker's parent is the forkserver, which outlives the owner for as long
    as any worker does. A pidfd becomes readable when the process ends (Linux 5.3); where
    there is none, the owner is polled four times a second. Once the workers are gone, the
    forkserver and the resource tracker see their pipes close and exit too.
    """
    try:
        fd = os.pidfd_open(owner)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # not Linux, an old kernel, or a sandbox forbids it
        parent = os.getppid()
        while os.getppid() == parent and _exists(owner):
            time.sleep(0.25)
        os._exit(1)
    select.select([fd], [], [])
    os._exit(1)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# Pools started by imap and not yet shut down, with the thread that runs each: what
# stop_workers() kills.
_live: dict[ProcessPoolExecutor, threading.Thread] = {}
# Each pool's lock, held by the one thread that closes its result pipe's write end (_kill).
_closing: weakref.WeakKeyDictionary[ProcessPoolExecutor, threading.Lock] = weakref.WeakKeyDictionary()


def _pool(jobs: int, *, main: bool = False) -> ProcessPoolExecutor:
    _start_helpers()
    ctx = _context(main=main)
    executor = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),))
    _closing[executor] = threading.Lock()
    _live[executor] = threading.current_thread()
    return executor


def _kill(executor: ProcessPoolExecutor, *, join: bool) -> None:
    """SIGKILL the workers of ``executor`` at once, rather than wait for their chunks.

    The pool's manager thread notices, fails the pending futures and cleans up; with
    ``join`` this waits (up to a second) until it has, so that it is not still closing its
    pipes while the interpreter exits (Python 3.11 then prints a "Bad file descriptor"
    traceback). A worker killed while sending a result would leave that thread waiting for
    the rest of the message forever (this process holds a write end of the result pipe
    too), so that end is closed: the half message then reads as end of file. Two threads may
    kill one pool at once (:func:`stop_workers` from another thread, and the clean-up of the
    :func:`imap` that this makes fail): one closes that end, never both (the same descriptor
    closed twice is EBADF, or another file's). Uses the executor's private ``_processes``,
    ``_result_queue`` and ``_executor_manager_thread`` (Python 3.10 to 3.14).
    """
    for p in tuple((getattr(executor, "_processes", None) or {}).values()):
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):  # already gone, or closed
            pass
    results = getattr(executor, "_result_queue", None)
    closing = _closing.get(executor) or threading.Lock()
    if results is not None and closing.acquire(blocking=False):  # else being closed already
        try:
            results._writer.close()
        finally:
            closing.release()
    manager = getattr(executor, "_executor_manager_thread", None)
    if join and manager is not None and manager is not threading.current_thread():
        manager.join(timeout=1.0)


def stop_workers(*, this_thread: bool = False) -> None:
    """Kill the workers of every pool :func:`imap` is running now (``this_thread``: only
    those run by the calling thread).

    For whatever is about to remove an output the workers may still be writing into: the
    CLI's signal handler (it runs before the stack unwinds), and a failed write's clean-up
    (an error in the main process leaves the pool running until the traceback that holds
    its generator is dropped, and a worker that writes a file into a folder being removed
    makes the removal fail).
    """
    parallel_dask.cancel(this_thread=this_thread)
    me = threading.current_thread()
    for executor, home in tuple(_live.items()):
        if not this_thread or home is me:
            _kill(executor, join=True)


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    return [fn(item) for item in chunk]


def tail_chunk(chunksize: int, left: int, jobs: int) -> int:
    """The next chunk's size with ``left`` items unsent: ``chunksize``, then near the end a
    share of what is left, down to 1 (PQ's last chunk of 32 kept one worker busy ~45 ms
    while the other idled; the ~10 small chunks instead cost the pool ~0.2 ms each)."""
    return max(1, min(chunksize, -(-left // (2 * max(jobs, 1)))))


def imap(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    jobs: int = 1,
    executor: Executor | None = None,
    chunksize: int = 32,
    count: int | None = None,
) -> Iterator[R]:
    """Apply ``fn`` to every item and yield the results in input order.

    ``jobs == 1`` without an executor is a plain generator (no pickling). Otherwise ``fn``
    must be a picklable module-level function (one of ``__main__`` has the workers import the
    main module, as multiprocessing does by default). Exceptions raised by ``fn`` propagate.
    Items travel ``chunksize`` at a time: 32 suits work of a few ms per image, where the
    pool's per-task cost would show (validate panoptic, --jobs 2: 1.38 s vs 1.85 s with 4);
    work of tens of ms per image (preview) passes a smaller one for an even end. ``count``
    (the number of items, if known) shrinks the last chunks (:func:`tail_chunk`).

    Inside :func:`use_scheduler` (``--scheduler``) the chunks go to a Dask cluster's workers
    instead, on the same terms (:mod:`segtool.parallel_dask`).

    A pool of its own is shut down when the results are all out; if the generator ends
    early (an error, an interrupt, a consumer that stops), its workers are killed rather
    than left to finish their chunks.
    """
    if jobs <= 1 and executor is None:
        yield from map(fn, items)
        return
    cluster = parallel_dask.current() if executor is None else None
    if cluster is not None:  # inside use_scheduler(): on the cluster's workers
        yield from parallel_dask.imap(cluster, fn, items, chunksize=chunksize)
        return
    pool = None
    if executor is None:
        pool = executor = _pool(jobs, main=getattr(fn, "__module__", None) == "__main__")
    ex: Executor = executor
    window = 4 * max(jobs, 1)
    it = iter(items)
    pending: deque[Future[list[R]]] = deque()
    unsent = [count]

    def submit() -> None:
        left = unsent[0]
        chunk = list(islice(it, chunksize if left is None else tail_chunk(chunksize, left, jobs)))
        if left is not None:
            unsent[0] = left - len(chunk)
        if chunk:
            with deferred():  # submit may start a worker: never half-started
                pending.append(ex.submit(_run_chunk, fn, chunk))

    home = threading.current_thread()
    done = False
    try:
        for _ in range(window):
            submit()
        while pending:
            results = pending.popleft().result()
            submit()
            yield from results
        done = True
    finally:
        if pool is None:
            for fut in pending:
                fut.cancel()
        else:
            # Not cancelled here: on Python < 3.12 the manager thread of a pool whose
            # workers died fails on a future cancelled under it, and hangs. Closed by the
            # garbage collector in another thread (the pool's own manager or queue thread,
            # even), this must not wait for anything.
            home_thread = threading.current_thread() is home
            if not done:
                _kill(pool, join=home_thread)
            pool.shutdown(wait=done and home_thread, cancel_futures=True)
            _live.pop(pool, None)
