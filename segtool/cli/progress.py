"""Progress on stderr: a bar on a terminal, a plain line now and then in a log, nothing with
``-q``.

The library calls ``progress(n)`` as images are done and, once it knows how many there are,
``progress.set_total(total)`` (:mod:`segtool.progress`), so each kind of progress here is a
callable with that method. A CI log is not a terminal: it gets no bar (a bar redraws with
carriage returns, which a log keeps as garbage) but one plain line every 10% or every 10
seconds, so a long job is seen to be alive. A short run prints nothing at all: the first
line comes only once the run has lasted :data:`QUIET_START` seconds, so that a command that
takes a second leaves the log as it was, and an error stays the one line on stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from . import output

QUIET_START = 10.0  # seconds before the first plain line
INTERVAL = 10.0  # seconds between plain lines at most, while images are being done
STEP = 10  # percent between plain lines


class Silent:
    """Progress nobody sees (``-q``, or a single image on a terminal)."""

    def __call__(self, n: int) -> None:
        pass

    def set_total(self, total: int) -> None:
        pass


class Bar:
    """rich's bar on a terminal: done / total, elapsed, time left (``?`` until the total is
    known, then the bar has an end)."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task = bar, task

    def __call__(self, n: int) -> None:
        self._bar.advance(self._task, n)

    def set_total(self, total: int) -> None:
        self._bar.update(self._task, total=total)


class Lines:
    """Plain lines for a log: ``validate: 250/500 images (50%), 12 s, about 12 s left``,
    one each time another :data:`STEP` percent is done or :data:`INTERVAL` seconds have
    passed, after :data:`QUIET_START` seconds of silence; none for a single image (its
    line would only say it is done, as the result does)."""

    def __init__(self, label: str, total: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.done = label, total, 0
        self._clock = clock
        self._start = self._last_time = clock()
        self._last_step = 0

    def set_total(self, total: int) -> None:
        self.total = total

    def __call__(self, n: int) -> None:
        self.done += n
        now = self._clock()
        if now - self._start < QUIET_START or (self.total is not None and self.total < 2):
            return
        step = self.done * 100 // (STEP * self.total) if self.total else -1
        if step > self._last_step or now - self._last_time >= INTERVAL:
            self._last_step, self._last_time = max(step, self._last_step), now
            _write(self.line(now - self._start))

    def line(self, elapsed: float) -> str:
        """The line for ``elapsed`` seconds into the run."""
        if not self.total:
            return f"{self.label}: {self.done} images, {duration(elapsed)}"
        left = elapsed / self.done * max(self.total - self.done, 0) if self.done else None
        eta = "" if left is None else f", about {duration(left)} left"
        percent = 100 * self.done // self.total
        return f"{self.label}: {self.done}/{self.total} images ({percent}%), {duration(elapsed)}{eta}"


def duration(seconds: float) -> str:
    """``12 s``, ``3 min 05 s``, ``2 h 04 min``: to the second, for people."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _write(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr gone: progress is not worth failing for
        pass


@contextmanager
def steps(label: str, total: int | None = None) -> Iterator[Silent | Bar | Lines]:
    """Progress of ``label`` on stderr; yields the callback to hand to the library.
    ``total`` when the CLI knows it; otherwise the library may tell it (``set_total``)."""
    if output.is_quiet():
        yield Silent()
    elif not output.err.is_terminal:
        yield Lines(label, total)
    elif total is not None and total < 2:
        yield Silent()
    else:
        with _bar() as bar:
            yield Bar(bar, bar.add_task(label, total=total))


def _bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=output.err,
        transient=True,
    )
