"""SIGINT and SIGTERM as an exception, so that every ``finally`` runs.

Python turns SIGINT into ``KeyboardInterrupt`` but lets SIGTERM end the process on the spot:
no ``finally`` runs, so temporary outputs stay behind and the worker pool is orphaned. The
CLI runs inside :func:`raising`, which turns the first of either signal into
:class:`Interrupted`; the stack unwinds as for any error (temporaries removed, workers
stopped) and the CLI exits 128 + the signal number. :func:`deferred` holds both signals back
across the few milliseconds that must not be cut in two (starting a worker process).
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def launched_as_cli() -> bool:
    """Whether this process is the ``segtool`` command (the console script or
    ``python -m segtool``), not a program that imports segtool as a library."""
    argv = getattr(sys, "orig_argv", sys.argv)
    if sys.argv and sys.argv[0].replace("\\", "/").rsplit("/", 1)[-1] in ("segtool", "segtool.exe"):
        return True
    return any(a == "-m" and b == "segtool" for a, b in itertools.pairwise(argv))


def quiet_while_starting() -> None:
    """Until the CLI sets its own handlers (after ~0.4 s of imports), SIGINT or SIGTERM end
    the process with one line and exit 130 / 143, not a ``KeyboardInterrupt`` traceback from
    whatever module was being imported. Nothing has been written yet: nothing to clean.
    (The interpreter's own start, ~50 ms before any segtool code runs, stays Python's.)"""

    def leave(signum: int, frame: FrameType | None) -> None:
        os.write(2, f"{Interrupted(signum)}\n".encode())
        os._exit(128 + signum)

    if _in_main_thread():
        for signum in SIGNALS:
            signal.signal(signum, leave)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived.

    A ``BaseException``, like ``KeyboardInterrupt``: an ``except Exception`` in the library
    does not swallow it, and it is not ``KeyboardInterrupt``, so click does not turn it into
    its own ``Aborted!`` (exit 1) before the CLI sees it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum

    def __str__(self) -> str:
        return "Terminated." if self.signum == signal.SIGTERM else "Interrupted."


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def raising(before_raise: Callable[[], None] = lambda: None, *, restore: bool = True) -> Iterator[None]:
    """Inside the block the first SIGINT or SIGTERM raises :class:`Interrupted` in the main
    thread, after ``before_raise()`` (the CLI stops the worker processes there, before any
    ``finally`` removes the folder they write into).

    Later signals are ignored: a second Ctrl-C must not cut short the clean-up the first one
    started. Python runs a signal handler wherever the main thread is, finalizers included
    (a generator closed by the garbage collector), and an exception raised there is only
    printed as "Exception ignored in …" and dropped: such an :class:`Interrupted` is raised
    again at the next step, so the interrupt is never lost. On leaving, the previous
    handlers come back, or with ``restore=False`` the default actions: the CLI's last
    milliseconds (interpreter shutdown) then end quietly on a signal, never with a
    ``KeyboardInterrupt`` traceback from an exit hook. No-op outside the main thread, where
    Python cannot set handlers.
    """
    if not _in_main_thread():
        yield
        return
    first: list[int] = []  # the signal being raised
    raised = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if raised:
            return
        raised = True
        if not first:
            first.append(signum)
            before_raise()
        raise Interrupted(first[0])

    def unraisable(info: Any) -> None:
        nonlocal raised
        if isinstance(info.exc_value, Interrupted):
            raised = False
            _resend(first[0])
        else:
            previous_hook(info)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    previous_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for s, h in previous.items():
            signal.signal(s, h if restore else signal.SIG_DFL)


def _resend(signum: int) -> None:
    """Send ``signum`` to the main thread again, from another thread, 10 ms from now.

    Sent from here, the handler would run at once, still inside the finalizer that dropped
    it; a real signal, not ``_thread.interrupt_main``, also wakes a main thread that waits
    on a lock.
    """
    main = threading.main_thread().ident
    assert main is not None

    def send() -> None:
        time.sleep(0.01)
        signal.pthread_kill(main, signum)

    threading.Thread(target=send, name="segtool-resend-signal", daemon=True).start()


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back inside the block; one that arrived meanwhile is raised
    again on leaving it, to the handlers that were in place (so it raises there).

    For short steps that an exception must not split: a worker process started but not yet
    recorded by its pool could not be stopped, and prints a traceback when the pool's
    semaphores vanish under it. Done with Python handlers that only take note, not with a
    signal mask: a mask holds a signal back from one thread only, and any other thread
    (numpy's BLAS threads, the pool's manager thread) would take it. No-op outside the main
    thread.
    """
    if not _in_main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {}
    for s in SIGNALS:
        h = signal.getsignal(s)
        if h is not None and h is not signal.SIG_IGN:  # None: set outside Python; leave it
            previous[s] = signal.signal(s, note)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


@contextmanager
def sigint_blocked_in_children() -> Iterator[None]:
    """Processes started from this thread inside the block have SIGINT blocked from birth.

    A Ctrl-C goes to the whole process group; a helper process (the forkserver, and through
    it every worker) must leave it to the main process, which stops them, instead of
    printing a ``KeyboardInterrupt`` traceback. The signal mask is the one thing a process
    inherits through ``fork`` and ``exec`` that Python leaves alone at start-up (an ignored
    disposition survives too, but ignoring SIGINT here, with other threads running, would
    lose a Ctrl-C meant for this process). SIGINT and SIGTERM are also :func:`deferred`, so
    the start is not cut in two.
    """
    with deferred():
        if not _in_main_thread() or not hasattr(signal, "pthread_sigmask"):
            yield
            return
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
