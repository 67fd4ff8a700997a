"""Class "env": the machine refuses a write. An output folder that is read-only, an output
whose parent is a file, a file-size limit (RLIMIT_FSIZE, 10 kB: the write fails with EFBIG,
as it would on a full quota), and stdout on /dev/full (ENOSPC).

Each run is the real CLI in its own interpreter (``python -m segtool``). Promise: exit 2,
one ``Error:`` line giving the OS's reason, nothing half-written, and no folder the run
created left behind (OUT lies under a chain of folders that do not exist yet).

Not simulated: a full disk for OUT itself (it needs a small filesystem, i.e. a mount, i.e.
root); the file-size limit takes the same path through the writers (a write that fails).
The read-only cases skip when the user can write anyway (root).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from . import build
from .build import Built
from .commands import Cmd, command
from .harness import Outcome, broken, case_root, check, snapshot

CLS = "env"
FSIZE = 10_000
REASONS = {
    "readonly": "Permission denied",
    "parent-file": "Not a directory",
    "fsize": "File too large",
    "stdout-full": "No space left on device",
}


def run_subprocess(cmd: Cmd, root: Path, *, fsize: int | None = None, stdout: str | None = None) -> Outcome:
    """``python -m segtool`` with ``cmd`` from ``root/cwd``; stdout to a file if given."""

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    before = snapshot(root)
    t = time.monotonic()
    out_file = open(stdout, "wb") if stdout else subprocess.PIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "segtool", *cmd.argv],
            cwd=root / "cwd",
            stdin=subprocess.DEVNULL,
            stdout=out_file,
            stderr=subprocess.PIPE,
            preexec_fn=limits,
            timeout=60,
        )
        code, so, se = proc.returncode, proc.stdout or b"", proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, so, se = None, exc.stdout or b"", exc.stderr or b""
    finally:
        if stdout:
            out_file.close()  # type: ignore[union-attr]
    dec = lambda b: b.decode("utf-8", "backslashreplace")  # noqa: E731
    return Outcome(code, dec(so), dec(se), time.monotonic() - t, before, snapshot(root))


def noisy(root: Path) -> Built:
    """A panoptic dataset whose every output exceeds 10 kB (random ids do not compress)."""
    rng = np.random.default_rng(17)
    maps = [rng.integers(1, 200, (256, 256)) * 3 + 1 for _ in (1, 2)]
    return build.panoptic_of_maps(root, maps, lambda v: (1, 2, 100)[v // 3 % 3])


WRITES = ("convert-panoptic", "convert-instance", "convert-semantic", "validate-fix", "preview")
REPORTS = {
    "info-json": lambda b, f: ["info", str(b.src), "--json", str(f)],
    "eval-csv": lambda b, f: ["eval", "panoptic", str(b.src), str(b.src), "--csv", str(f)],
}


def _where(kind: str, root: Path) -> Path:
    """The folder OUT goes in, made hostile; OUT itself is created below it by the run."""
    if kind == "readonly":
        ro = root / "out" / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        if os.access(ro, os.W_OK):
            pytest.skip("this user can write to a read-only folder (root): nothing to test")
        return ro
    if kind == "parent-file":
        return build.write_text(root / "out" / "afile", "a file, not a folder\n")
    return root / "out"


def _case(kind: str, name: str) -> Callable[[Path], tuple[Cmd, Path]]:
    def make(root: Path) -> tuple[Cmd, Path]:
        b = noisy(root) if kind == "fsize" else build.panoptic(root)
        where = _where(kind, root)
        first_new = where / "new"  # created by the run, so it must remove it on failure
        if name in REPORTS:
            report = first_new / "deeper" / "report.txt"
            return Cmd(REPORTS[name](b, report), [first_new], frozenset({2})), first_new
        jobs = "2" if name.endswith("-j2") else "1"
        c = command(name.removesuffix("-j2"), b, first_new / "deeper" / "o", jobs=jobs)
        return Cmd(c.argv, [first_new], frozenset({2})), first_new

    return make


CASES = {f"{kind}-{name}": (kind, name) for kind in ("readonly", "parent-file") for name in (*WRITES, *REPORTS)}
CASES |= {f"fsize-{name}": ("fsize", name) for name in (*WRITES, "convert-panoptic-j2")}


@pytest.mark.parametrize("case", [pytest.param(c, id=f"env-{c}") for c in CASES])
def test_refused_write(request, tmp_path, case):
    kind, name = CASES[case]
    root = case_root(tmp_path / "w")
    cmd, _ = _case(kind, name)(root)
    out = run_subprocess(cmd, root, fsize=FSIZE if kind == "fsize" else None)
    problems = broken(out, cmd, root)
    if out.exit == 2 and REASONS[kind] not in out.stderr:
        problems.append(f"no OS reason ({REASONS[kind]!r}) in the message")
    if out.exit == 2 and str(root / "out") not in out.stderr:
        problems.append("the message names no output path")
    if ".segtool-" in out.stderr:  # a temporary that no longer exists: name the output
        problems.append("the message names a temporary path")
    if kind == "readonly":
        (root / "out" / "ro").chmod(0o755)
    check(request, CLS, case, name, out, problems)


STDOUT = {
    "info": lambda b: ["info", str(b.src), "--json", "-"],
    "validate": lambda b: ["validate", str(b.src), "--json", "-"],
    "eval": lambda b: ["eval", "panoptic", str(b.src), str(b.src), "--json", "-"],
}


@pytest.mark.parametrize("name", [pytest.param(n, id=f"env-stdout-full-{n}") for n in STDOUT])
def test_stdout_on_a_full_device(request, tmp_path, name):
    """``--json -`` into /dev/full: the write fails with ENOSPC; one line, exit 2."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    root = case_root(tmp_path / "w")
    cmd = Cmd(STDOUT[name](build.panoptic(root)), [], frozenset({2}))
    out = run_subprocess(cmd, root, stdout="/dev/full")
    problems = broken(out, cmd, root)
    if REASONS["stdout-full"] not in out.stderr:
        problems.append("no OS reason ('No space left on device') in the message")
    check(request, CLS, f"stdout-full-{name}", name, out, problems)
