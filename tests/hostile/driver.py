"""Child process of the hostile suite: import segtool once, then fork a process per command
and run it exactly as the ``segtool`` entry point would (click in standalone mode, real file
descriptors, a normal interpreter exit). Each command gets its own process, so a signal
death, a hang or leaked state touches only that command, and a run costs what the command
costs, not ~0.4 s of imports.

Usage (by tests/hostile/batch.py): ``python driver.py JOBS.json LOG.jsonl``; each job is
{id, argv, cwd, env, stdout, stderr, timeout, fsize}. The log gets one line per job:
{"id", "exit" (negative: killed by that signal; null: killed after ``timeout``), "seconds"}.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import NoReturn


def child(job: dict) -> NoReturn:
    """In the forked process: its own process group (so a hang's workers die with it),
    the job's environment and limits, stdout/stderr to files, then the CLI. Never returns:
    whatever happens ends in ``os._exit`` (this process must not go on with the loop)."""
    code = 70
    try:
        os.setpgid(0, 0)
        if job.get("memory"):
            resource.setrlimit(resource.RLIMIT_AS, (job["memory"], job["memory"]))
        if job.get("fsize"):
            resource.setrlimit(resource.RLIMIT_FSIZE, (job["fsize"], job["fsize"]))
        os.environ.update(job.get("env") or {})
        os.chdir(job["cwd"])
        for fd, name in ((1, "stdout"), (2, "stderr")):
            f = os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
        code = run_cli(job["argv"])
        atexit._run_exitfuncs()  # the interpreter's exit, minus tearing down every module
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except BaseException:
        traceback.print_exc()
        code = 120  # what CPython exits with when flushing stdout fails at exit
    finally:
        os._exit(code)


def run_cli(argv: list[str]) -> int:
    """The CLI as the entry point runs it; the exit code the interpreter would give."""
    from segtool.cli import main as cli

    try:
        cli.main(args=argv, prog_name="segtool", standalone_mode=True)
        return 0
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # the entry point would die of it: traceback, exit 1
        traceback.print_exc()
        return 1


def wait(pid: int, timeout: float) -> int | None:
    """The child's exit code (negative for a signal), or None after killing it at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.005)
    try:  # workers or a forkserver the command left behind
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def preload() -> None:
    """Import every segtool module (and Pillow's plugins) once, before the forks, so each
    command starts warm: what is measured is the command, not its imports."""
    import importlib
    import pkgutil

    from PIL import Image

    import segtool

    for m in pkgutil.walk_packages(segtool.__path__, "segtool."):
        if not m.name.endswith("__main__"):
            importlib.import_module(m.name)
    Image.init()


def main() -> None:
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # this folder's modules (build, harness…) must not shadow anything
    with open(sys.argv[1], encoding="utf-8") as f:
        jobs = json.load(f)
    preload()

    with open(sys.argv[2], "a", encoding="utf-8") as log:
        for job in jobs:
            sys.stdout.flush()
            sys.stderr.flush()
            t = time.monotonic()
            pid = os.fork()
            if pid == 0:
                log.close()
                child(job)
            try:
                os.setpgid(pid, pid)  # also here, so no kill can come before the child's own call
            except OSError:
                pass
            code = wait(pid, job["timeout"])
            log.write(json.dumps({"id": job["id"], "exit": code, "seconds": time.monotonic() - t}) + "\n")
            log.flush()


if __name__ == "__main__":
    main()
