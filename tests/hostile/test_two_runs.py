"""Class "two runs on one OUT": two processes started together on the same new destination,
without --overwrite. Promise: exactly one succeeds and the other exits 2 in one line; OUT is
complete and from one run (byte for byte what a lone run writes), and nothing else is left
beside it (no temporaries, no second copy).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from . import build
from .build import Built
from .commands import command
from .harness import Outcome, case_root, check, digest, snapshot

CLS = "two-runs"
COMMANDS = ("convert-panoptic", "convert-semantic", "preview", "validate-fix")


def dataset(root: Path, seed: int = 5) -> Built:
    """30 images of 48x64, so a run lasts long enough for the two to overlap."""
    rng = np.random.default_rng(seed)
    maps = [np.repeat(rng.integers(1, 6, (6, 8)) * 10, 8, axis=0).repeat(8, axis=1) for _ in range(30)]
    return build.panoptic_of_maps(root, maps, lambda v: (1, 2, 100)[v // 10 % 3])


def start(argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "segtool", *argv],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def tree(folder: Path) -> dict[str, str]:
    """Relative path → digest of everything under ``folder`` (a file: itself)."""
    if folder.is_file():
        return {".": digest(folder)}
    return snapshot(folder)


@pytest.mark.parametrize(
    ("name", "overwrite"),
    [pytest.param(n, False, id=f"two-runs-{n}") for n in COMMANDS]
    + [pytest.param(n, True, id=f"two-runs-{n}-overwrite") for n in ("convert-panoptic", "preview")],
)
def test_one_run_wins(request, tmp_path, name, overwrite):
    """Without --overwrite on a new OUT: one run, the other refused. With --overwrite on an
    existing OUT (from another dataset): either may win or be refused, never both half."""
    ref_root, root = case_root(tmp_path / "ref"), case_root(tmp_path / "w")
    ref = command(name, dataset(ref_root), ref_root / "out" / "o", jobs="2")
    lone = subprocess.run([sys.executable, "-m", "segtool", *ref.argv], cwd=ref_root / "cwd", capture_output=True)
    assert lone.returncode in (0, 1), lone.stderr  # the reference itself must work
    cmd = command(name, dataset(root), root / "out" / "o", jobs="2")
    if overwrite:
        old = command(name, dataset(root / "old", seed=6), root / "out" / "o", jobs="2")
        subprocess.run([sys.executable, "-m", "segtool", *old.argv], cwd=root / "cwd", capture_output=True, check=False)
        assert (root / "out" / "o").exists()
        cmd.argv.append("--overwrite")
    before = snapshot(root)
    procs = [start(cmd.argv, root / "cwd") for _ in range(2)]
    errs = [p.communicate(timeout=120)[1].decode("utf-8", "backslashreplace") for p in procs]
    results = [(p.returncode, e) for p, e in zip(procs, errs, strict=True)]
    codes = sorted(c for c, _ in results)
    loser = [e for c, e in results if c == 2]
    problems = []
    if overwrite and (not set(codes) <= {0, 1, 2} or codes[0] not in (0, 1)):
        problems.append(f"exits {codes}, expected at least one success")
    if not overwrite and codes not in ([0, 2], [1, 2]):
        problems.append(f"exits {codes}, expected one success and one 2")
    if loser and len(loser[0].strip().splitlines()) != 1:
        problems.append(f"the refused run said {len(loser[0].strip().splitlines())} lines")
    want, got = tree(ref_root / "out" / "o"), tree(root / "out" / "o")
    if want != got:
        differ = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        problems.append("OUT differs from a lone run's: " + ", ".join(differ[:4]))
    extra = sorted(r for r in snapshot(root) if r not in before and not r.startswith("out/o"))
    if extra:
        problems.append("left beside OUT: " + ", ".join(extra[:4]))
    out = Outcome(codes[-1], stderr=(loser or [results[-1][1]])[0])
    case = name + ("-overwrite" if overwrite else "")
    check(request, CLS, case, " ".join(cmd.argv[:1]), out, problems)
