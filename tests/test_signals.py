"""SIGINT, SIGTERM and SIGKILL sent to real ``segtool`` processes while a worker pool runs.

Promise for SIGINT and SIGTERM, sent to the main process alone or to its whole process group
(what Ctrl-C does), at any moment: exit 130 / 143 within 2 s, exactly one line on stderr
(no traceback from any process: main, workers, forkserver), no process of the run left, and
nothing in the output folder (no destination, no temporary, no lock). For SIGKILL of the main
process: its workers, the forkserver and the resource tracker are all gone within 3 s.

Processes are found by scanning /proc for the run's session (each run starts a new one), so
the module is Linux only. ``SEGTOOL_SIGNAL_RUNS=N`` repeats every scenario N times (races).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest

from segtool import SegtoolError, formats, parallel
from segtool.cli import main
from segtool.interrupts import Interrupted, deferred, raising
from segtool.parallel import imap
from tests.conftest import panoptic_segments, write_panoptic

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="scans /proc")

RUNS = int(os.environ.get("SEGTOOL_SIGNAL_RUNS", "1"))
HELPERS = 2  # the resource tracker and the forkserver, started before the workers


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 small panoptic images of 20 overlapping rectangles: with --jobs 2, preview runs
    its pool for ~2 s and convert for ~0.5 s, long enough to be signalled mid-run."""
    rng = np.random.default_rng(3)
    maps, segs = [], []
    for _ in range(300):
        ids = np.ones((96, 128), np.int64)
        cats = {1: 100}
        for k in range(2, 22):
            y, x = rng.integers(0, 88), rng.integers(0, 120)
            ids[y : y + rng.integers(4, 48), x : x + rng.integers(4, 64)] = k
            cats[k] = (1, 2, 7)[k % 3]
        maps.append(ids)
        segs.append(panoptic_segments(ids, cats))
    return write_panoptic(tmp_path_factory.mktemp("signals") / "pan.json", maps, segs)


def session(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state, ppid, pgrp, session, ...
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def wait_until(cond: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


class Run:
    """``python -m segtool ARGS`` in a new session, stderr to a file (an orphan holding a
    pipe would block a reader)."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.err = cwd / "stderr.txt"
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "segtool", *args],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        self.pid = self.proc.pid

    def others(self) -> list[int]:
        return [p for p in session(self.pid) if p != self.pid]

    def cleanup(self) -> None:
        """Kill whatever a failed test left (only this run's session)."""
        for pid in session(self.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def temp_files(out: Path) -> int:
    """Files written so far into the run's temporary output (a sibling of ``out``)."""
    return sum(len(files) for tmp in out.parent.glob(f".{out.name}.*.tmp") for _, _, files in os.walk(tmp))


COMMANDS = {
    "preview": lambda src, out: ["preview", str(src), str(out), "--jobs", "2", "--no-names"],
    "semantic": lambda src, out: ["convert", str(src), str(out), "--to", "semantic", "--jobs", "2"],
    "panoptic": lambda src, out: ["convert", str(src), str(out) + ".json", "--to", "coco-panoptic", "--jobs", "2"],
}
# When to signal: the forkserver is up but no worker yet (the input is being read); two
# workers are running; the temporary output already holds 100 files (writing).
MOMENTS: dict[str, Callable[[Run, Path], bool]] = {
    "reading": lambda run, out: len(run.others()) >= HELPERS,
    "pool": lambda run, out: len(run.others()) >= HELPERS + 2,
    "writing": lambda run, out: temp_files(out) >= 100,
}
SCENARIOS = [
    ("preview", "pool", signal.SIGINT, False),
    ("preview", "pool", signal.SIGINT, True),
    ("preview", "pool", signal.SIGTERM, False),
    ("preview", "writing", signal.SIGTERM, True),
    ("semantic", "reading", signal.SIGINT, True),
    ("semantic", "writing", signal.SIGINT, False),
    ("panoptic", "writing", signal.SIGINT, True),
]


@pytest.mark.parametrize("repeat", range(RUNS))
@pytest.mark.parametrize(
    ("command", "moment", "signum", "group"),
    [
        pytest.param(*s, id=f"{s[0]}-{s[1]}-{signal.Signals(s[2]).name}-{'group' if s[3] else 'main'}")
        for s in SCENARIOS
    ],
)
def test_interrupt(dataset, tmp_path, command, moment, signum, group, repeat):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "result"
    run = Run(COMMANDS[command](dataset, out), tmp_path)
    try:
        assert wait_until(lambda: MOMENTS[moment](run, out) or run.proc.poll() is not None, 30)
        assert run.proc.poll() is None, f"the run ended before the signal: {run.err.read_text()}"
        sent = time.monotonic()
        (os.killpg if group else os.kill)(run.pid, signum)
        code = run.proc.wait(timeout=10)
        took = time.monotonic() - sent
        gone = wait_until(lambda: not session(run.pid), 2)
        stderr = run.err.read_text()
        assert code == 128 + signum, stderr
        assert stderr == ("Interrupted.\n" if signum == signal.SIGINT else "Terminated.\n")
        assert took < 2, took
        assert gone, [Path(f"/proc/{p}/cmdline").read_bytes()[:120] for p in session(run.pid)]
        assert sorted(os.listdir(out_dir)) == []  # no destination, no temporary, no lock
    finally:
        run.cleanup()


@pytest.mark.parametrize("repeat", range(RUNS))
@pytest.mark.parametrize("moment", ["reading", "pool"])
def test_sigkill_takes_every_helper_process_along(dataset, tmp_path, moment, repeat):
    """SIGKILL runs no code in the main process: its workers notice on their own (a pidfd
    on the main process), then the forkserver (once done importing, if it was) and the
    resource tracker see their pipes close. The temporary output stays (the next run on
    that destination removes it)."""
    out = tmp_path / "out"
    run = Run(COMMANDS["preview"](dataset, out), tmp_path)
    try:
        assert wait_until(lambda: MOMENTS[moment](run, out) or run.proc.poll() is not None, 30)
        assert run.proc.poll() is None, run.err.read_text()
        os.kill(run.pid, signal.SIGKILL)
        run.proc.wait(timeout=10)
        assert wait_until(lambda: not session(run.pid), 3), [
            Path(f"/proc/{p}/cmdline").read_bytes()[:120] for p in session(run.pid)
        ]
    finally:
        run.cleanup()


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_a_worker_ends_with_its_owner(tmp_path, pidfd):
    """The watch each worker runs on its owner (the main process), with a pidfd and with
    the polling fallback (no pidfd: not Linux, an old kernel, a sandbox)."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    code = "import os, sys, segtool.parallel as p\n"
    code += "" if pidfd else "del os.pidfd_open\n"
    code += f"print('watching', flush=True)\np._exit_with({owner.pid})\n"
    watcher = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None and watcher.stdout.readline() == "watching\n"
        time.sleep(0.3)
        assert watcher.poll() is None  # the owner lives: the watch waits
        owner.kill()
        owner.wait()
        assert watcher.wait(timeout=3) == 1
    finally:
        for proc in (owner, watcher):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        watcher.stdout.close()  # type: ignore[union-attr]


# In-process: the machinery the CLI runs in (segtool.interrupts, segtool.parallel).


def test_first_signal_raises_later_ones_do_not_cut_the_cleanup_short():
    calls = []
    cleaned = False
    with pytest.raises(Interrupted) as info:
        with raising(lambda: calls.append("stop")):
            try:
                signal.raise_signal(signal.SIGTERM)
                pytest.fail("not interrupted")
            finally:
                signal.raise_signal(signal.SIGINT)  # a second Ctrl-C during the clean-up
                cleaned = True
    assert cleaned and calls == ["stop"]
    assert info.value.signum == signal.SIGTERM and info.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the previous handlers are back
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_dropped_by_a_finalizer_is_raised_again():
    """Python runs the handler wherever the main thread is; inside a generator closed by
    its last reference going, the exception is only printed ("Exception ignored") and lost."""

    def reader():
        try:
            yield 1
        finally:
            signal.raise_signal(signal.SIGINT)  # arrives while the generator is being closed

    with pytest.raises(Interrupted) as info:
        with raising():
            next(reader())  # the generator is dropped, and closed, right here
            time.sleep(2)  # interrupted again within ~10 ms
    assert info.value.signum == signal.SIGINT


def test_deferred_holds_a_signal_until_the_block_ends():
    reached = False
    with raising():
        with pytest.raises(Interrupted):
            with deferred():
                signal.raise_signal(signal.SIGTERM)
                reached = True
    assert reached


def slow_unless_zero(x: int) -> int:
    if x == 0:
        raise SegtoolError("zero is bad", "0.png")
    time.sleep(30)
    return x


def test_a_failing_chunk_kills_the_other_workers_instead_of_waiting_for_them():
    """Before: the pool was shut down gracefully, so the error waited 30 s for the sleeping
    chunk on the other worker. (Half of that is the bound: starting a worker under the
    sanitizer on a loaded machine, beside another test process, took 3.2 s.)"""
    parallel.warm_up(2)  # the forkserver's start is not what is timed
    t = time.monotonic()
    with pytest.raises(SegtoolError):
        list(imap(slow_unless_zero, range(4), jobs=2, chunksize=1))
    assert time.monotonic() - t < 15


def test_stop_workers_kills_a_running_pool():
    it = imap(slow_unless_zero, range(1, 5), jobs=2, chunksize=1)
    with pytest.raises(BrokenProcessPool):
        threading.Timer(0.5, parallel.stop_workers).start()
        next(it)  # would take 5 s
    it.close()


def nap(x: int) -> int:
    time.sleep(1)
    return x


def test_stop_workers_of_this_thread_spares_the_pools_of_others():
    parallel.warm_up(2)  # workers start at once: they nap when the timer fires
    it = imap(nap, range(1, 5), jobs=2, chunksize=1)
    threading.Timer(0.5, parallel.stop_workers, kwargs={"this_thread": True}).start()
    assert next(it) == 1  # the timer's thread runs no pool: this one went on
    it.close()


def test_keyboard_interrupt_from_the_library_is_one_line_exit_130(runner, monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(formats, "detect", interrupted)
    r = runner.invoke(main, ["info", str(tmp_path)])
    assert (r.exit_code, r.stderr) == (130, "Interrupted.\n")


@pytest.mark.parametrize("repeat", range(3 * RUNS))
def test_a_write_failing_mid_pool_leaves_nothing(dataset, tmp_path, repeat):
    """The main process fails to write (a 40-block file-size limit) while two workers still
    write PNGs into the temporary folder: the workers are stopped before it is removed, so
    nothing is left, and the error is one line naming the output."""
    import resource

    out = tmp_path / "o.json"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (40 * 512, 40 * 512))

    cmd = [sys.executable, "-m", "segtool", *COMMANDS["panoptic"](dataset, tmp_path / "o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "File too large" in proc.stderr
    assert sorted(os.listdir(tmp_path)) == [], sorted(os.listdir(tmp_path))
    assert not out.exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_imports_is_one_line(signum):
    """Importing segtool as the ``segtool`` command puts quiet handlers in place before the
    heavy imports: a signal then is one line and 128 + signum, not an import traceback. A
    program that imports segtool as a library keeps Python's own behaviour."""
    code = (
        "import sys; sys.argv[0] = {argv0!r}; import segtool, os, time; os.kill(os.getpid(), {signum}); time.sleep(5)"
    )
    cli = subprocess.run(
        [sys.executable, "-c", code.format(argv0="/usr/bin/segtool", signum=int(signum))],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 128 + signum, cli.stderr
    assert cli.stderr == ("Interrupted.\n" if signum == signal.SIGINT else "Terminated.\n")
    lib = subprocess.run(
        [sys.executable, "-c", code.format(argv0="-c", signum=int(signal.SIGINT))], capture_output=True, text=True
    )
    assert lib.returncode == -signal.SIGINT and "KeyboardInterrupt" in lib.stderr


def test_the_next_run_cleans_what_a_killed_run_left(dataset, tmp_path):
    """SIGKILL mid-write leaves a temporary output and a lock file beside the destination;
    the next run on it (no --overwrite: nothing was ever written there) removes them and
    completes."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "result"
    run = Run(COMMANDS["semantic"](dataset, out), tmp_path)
    try:
        assert wait_until(lambda: temp_files(out) >= 50 or run.proc.poll() is not None, 30)
        assert run.proc.poll() is None, run.err.read_text()
        os.kill(run.pid, signal.SIGKILL)
        run.proc.wait(timeout=10)
        assert wait_until(lambda: not session(run.pid), 3)
    finally:
        run.cleanup()
    left = sorted(os.listdir(out_dir))
    assert any(n.endswith(".tmp") for n in left) and ".result.lock" in left, left
    again = subprocess.run(
        [sys.executable, "-m", "segtool", *COMMANDS["semantic"](dataset, out)], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert sorted(os.listdir(out_dir)) == ["result"]
    assert len(list(out.glob("*.png"))) == 300
