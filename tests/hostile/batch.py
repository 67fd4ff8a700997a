"""Run many hostile cases in child processes (driver.py), safely and fast.

A driver imports segtool once and forks one process per command, killing it (and its
workers) after the case's time bound; its exit status shows a signal death as what it is.
Drivers run under an address-space limit (so /dev/zero or a decompression bomb cannot take
the machine's memory: a C library whose malloc fails then shows its unchecked NULL as a
signal) and without core dumps. Groups of cases run in concurrent drivers.

A test module declares its cases as :class:`Spec` s; a module-scoped fixture builds and runs
the ones pytest selected (``outcomes``), and each test asserts its own case's promises.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .build import Built
from .commands import Cmd, command, names_for
from .harness import Outcome, broken, case_root, check, snapshot

DRIVER = Path(__file__).with_name("driver.py")
FULL = bool(os.environ.get("SEGTOOL_HOSTILE_FULL"))  # the larger sweeps
PARALLEL = 2  # drivers per group: the CI machines have 2 cores
MEMORY = 4 << 30  # address space of a child: far above what these small cases need
# AddressSanitizer (make sanitize) reserves terabytes of address space for its shadow memory:
# no address-space limit there, or every child dies on start
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
Made = tuple[Cmd, tuple[str, ...]]


@dataclass(frozen=True)
class Spec:
    """One hostile run: ``make(root)`` builds the case under ``root`` and returns the command
    and the paths (relative to root) it may change besides the command's outputs."""

    cls: str
    case: str
    command: str
    make: Callable[[Path], Made]
    timeout: float = 20.0
    env: dict[str, str] = field(default_factory=dict)
    group: int = 0  # cases of different groups run in different children, concurrently
    memory: int | None = None  # a lower address-space limit for this command

    @property
    def id(self) -> str:
        return f"{self.cls}-{self.case}-{self.command}"


def matrix(
    cls: str, case: str, fmt: str, make: Callable[[Path], Built], names: tuple[str, ...] | None = None, **kw: object
) -> list[Spec]:
    """A spec per command of the matrix that applies to ``fmt``."""

    def one(name: str) -> Callable[[Path], Made]:
        def build(root: Path) -> Made:
            return command(name, make(root), root / "out" / "o"), ()

        return build

    chosen = names_for(fmt) if names is None else names_for(fmt, names)
    return [Spec(cls, case, name, one(name), **kw) for name in chosen]  # type: ignore[arg-type]


def spread(i: int, ways: int, fmt: str) -> tuple[str, ...] | None:
    """The commands variant ``i`` of ``ways`` runs: all of them with SEGTOOL_HOSTILE_FULL,
    else every ``ways``-th, so the variants of one case cover each command once between
    them (a sixth of the runs for the same coverage of code paths)."""
    if FULL:
        return None
    return tuple(n for k, n in enumerate(names_for(fmt)) if k % ways == i % ways)


@dataclass
class Ran:
    out: Outcome
    cmd: Cmd
    root: Path
    may_change: tuple[str, ...]
    error: str | None = None  # the case could not be built (a bug of this suite)


def _limits() -> None:
    """No core files, and an address-space ceiling where the OS has one (not macOS)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if UNDER_ASAN:
        return
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    except (ValueError, OSError):
        pass


def _drive(groups: dict[int, list[dict]], base: Path) -> dict[str, tuple[int | None, float]]:
    """One driver per group, all at once; every job's (exit, seconds)."""
    procs = []
    for g, jobs in groups.items():
        jobs_file, log = base / f"g{g}.jobs.json", base / f"g{g}.log"
        jobs_file.write_text(json.dumps(jobs))
        with open(base / f"g{g}.console", "wb") as console:
            cmd = [sys.executable, str(DRIVER), str(jobs_file), str(log)]
            procs.append(
                (
                    subprocess.Popen(
                        cmd, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, preexec_fn=_limits
                    ),
                    sum(j["timeout"] for j in jobs) + 60,
                    log,
                )
            )
    results: dict[str, tuple[int | None, float]] = {}
    for proc, bound, log in procs:
        try:
            proc.wait(timeout=bound)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log.exists():
            for line in log.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                results[entry["id"]] = (entry["exit"], entry["seconds"])
    return results


def _decode(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "backslashreplace")
    except FileNotFoundError:
        return ""


def run_specs(specs: list[Spec], base: Path) -> dict[str, Ran]:
    """Build every spec's case in its own folder under ``base``, run them all, and return
    each one's outcome with its snapshots."""
    built: dict[str, Ran] = {}
    groups: dict[int, list[dict]] = {}
    for n, spec in enumerate(specs):
        root = case_root(base / f"c{n}")
        try:
            cmd, may_change = spec.make(root)
        except Exception as exc:  # one broken builder must not take the module's cases with it
            built[spec.id] = Ran(Outcome(None), Cmd([]), root, (), f"{type(exc).__name__}: {exc}")
            continue
        built[spec.id] = Ran(Outcome(None, before=snapshot(root)), cmd, root, may_change)
        io = base / f"c{n}.io"
        io.mkdir()
        job = {"id": spec.id, "argv": cmd.argv, "cwd": str(root / "cwd"), "env": spec.env, "timeout": spec.timeout}
        job |= {"memory": None if UNDER_ASAN else spec.memory}
        job |= {"stdout": str(io / "stdout"), "stderr": str(io / "stderr")}
        groups.setdefault(spec.group * PARALLEL + n % PARALLEL, []).append(job)
    results = _drive(groups, base)
    for n, spec in enumerate(specs):
        ran = built[spec.id]
        if ran.error:
            continue
        code, seconds = results.get(spec.id, (None, 0.0))
        io = base / f"c{n}.io"
        ran.out = Outcome(code, _decode(io / "stdout"), _decode(io / "stderr"), seconds, ran.out.before)
        ran.out.after = snapshot(ran.root)
    return built


def selected(request: pytest.FixtureRequest) -> list[str]:
    """The param ids pytest will run in the requesting module (so ``-k`` builds only those)."""
    ids = []
    for item in request.session.items:
        if item.module is request.module and hasattr(item, "callspec"):
            ids.append(item.callspec.id)
    return ids


def check_spec(request: pytest.FixtureRequest, spec: Spec, ran: Ran) -> None:
    """Assert the spec's promises (the harness's, plus none: a class adds its own before)."""
    if ran.error:
        problems = [f"case not built: {ran.error}"]
    else:
        problems = broken(ran.out, ran.cmd, ran.root, may_change=ran.may_change)
    check(request, spec.cls, spec.case, spec.command, ran.out, problems)
