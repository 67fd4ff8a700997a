"""Run a command over a hostile case and list the promises it broke.

A case lives in its own folder ``root`` (inputs under ``root/in``, outputs under
``root/out``, the working directory ``root/cwd``). The whole folder is snapshotted before
and after the run without following links or opening FIFOs, so a write anywhere under it
(``../../x.png`` from an output folder lands inside ``root``) and any change to an input is
seen.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from segtool.cli import main

from .commands import Cmd

Snapshot = dict[str, str]


@dataclass
class Outcome:
    """What one run did. ``exit`` is negative for a signal death, None for a timeout."""

    exit: int | None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    before: Snapshot = field(default_factory=dict, repr=False)
    after: Snapshot = field(default_factory=dict, repr=False)

    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1][:160] if lines else ""


def digest(path: Path) -> str:
    """A file's identity for the snapshot: its kind, and for a regular file its bytes' hash."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return "link:" + os.readlink(path)
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if not stat.S_ISREG(st.st_mode):
        return f"special:{stat.S_IFMT(st.st_mode)}"
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snapshot(root: Path) -> Snapshot:
    """Every path under ``root`` (relative, as a string) → :func:`digest`."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            try:
                out[str(p.relative_to(root))] = digest(p)
            except OSError as exc:  # unreadable (a chmod 000 left by a run): still a change
                out[str(p.relative_to(root))] = f"unreadable:{exc.errno}"
    return out


def case_root(base: Path) -> Path:
    """The layout of one case: ``in/`` (inputs), ``out/`` (parent of OUTs), ``cwd/``."""
    for sub in ("in", "out", "cwd"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    return base


def run_inprocess(cmd: Cmd, root: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None) -> Outcome:
    """Run ``cmd`` with click's runner in this process, from ``root/cwd``."""
    before = snapshot(root)
    monkeypatch.chdir(root / "cwd")
    result = CliRunner().invoke(main, cmd.argv, env=env)
    out = Outcome(result.exit_code, result.stdout, result.stderr)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        out.stderr += "\nTraceback (in-process runner): " + repr(result.exception)
    out.before, out.after = before, snapshot(root)
    return out


def under(rel: str, allowed: list[str]) -> bool:
    return any(rel == a or rel.startswith(a + os.sep) for a in allowed)


def broken(out: Outcome, cmd: Cmd, root: Path, *, may_change: tuple[str, ...] = ()) -> list[str]:
    """The promises ``out`` broke, each as a short phrase for the failure table.

    Always: no signal death, no hang, an exit in ``cmd.exits`` (never 3), no traceback, a
    refusal (exit 2) is exactly one line starting with ``Error:``, no input changed, nothing
    created outside the command's outputs, and a failed run leaves no output behind.
    """
    problems = []
    if out.exit is None:
        problems.append(f"no exit within {out.seconds:.0f} s")
    elif out.exit < 0:
        problems.append(f"killed by signal {-out.exit}")
    elif out.exit not in cmd.exits:
        problems.append(f"exit {out.exit}")
    if "Traceback" in out.stderr or "Traceback" in out.stdout:
        problems.append("traceback")
    if out.exit == 2:
        lines = out.stderr.strip("\n").split("\n")
        if len(lines) != 1:
            problems.append(f"refusal on {len(lines)} stderr lines")
        elif not lines[0].startswith("Error:"):
            problems.append("refusal without 'Error:'")
    allowed = [str(p.relative_to(root)) for p in cmd.outputs] + list(may_change)
    if out.exit is None:  # killed by the harness: temporaries beside OUT are expected
        allowed.append("out")
    changed = sorted(r for r, d in out.before.items() if out.after.get(r) != d and not under(r, allowed))
    created = sorted(r for r in out.after if r not in out.before and not under(r, allowed))
    if changed:
        problems.append("input changed: " + ", ".join(changed[:4]))
    if created:
        problems.append("written outside OUT: " + ", ".join(created[:4]))
    if out.exit not in (0, 1):
        left = [str(p.relative_to(root)) for p in cmd.outputs if os.path.lexists(p)]
        left = [r for r in left if r not in out.before]
        if left and out.exit is not None and out.exit >= 0:
            problems.append("failed run left: " + ", ".join(left))
    return problems


def record(
    request: pytest.FixtureRequest, cls: str, case: str, command: str, out: Outcome, problems: list[str]
) -> None:
    """Attach the run to the test report, for the failure table (conftest.py)."""
    request.node.user_properties.append(
        (
            "hostile",
            {
                "class": cls,
                "case": case,
                "command": command,
                "exit": out.exit,
                "last": out.last_line(),
                "problems": problems,
                "seconds": round(out.seconds, 2),
            },
        )
    )


def check(request: pytest.FixtureRequest, cls: str, case: str, command: str, out: Outcome, problems: list[str]) -> None:
    record(request, cls, case, command, out, problems)
    assert not problems, f"{cls}/{case}/{command}: {problems}; exit {out.exit}; stderr: {out.stderr[-600:]!r}"
