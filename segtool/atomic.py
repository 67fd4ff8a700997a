"""Atomic outputs: write into a temporary sibling, then rename into place.

A failed or interrupted run leaves nothing half-written: the temporary sibling is removed,
and an existing destination is only replaced once the new output is complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputExistsError, SegtoolError


def check_writable(*targets: Path, overwrite: bool) -> None:
    """Refuse existing targets unless ``overwrite``."""
    for t in targets:
        if t.exists() and not overwrite:
            raise OutputExistsError("already exists (pass --overwrite to replace it)", str(t))


def refuse_inputs(targets: list[Path], inputs: list[Path]) -> None:
    """Writing onto (or around) an input would modify it: refuse, even with --overwrite."""
    resolved = [p.resolve() for p in inputs]
    for t in targets:
        rt = t.resolve()
        for p in resolved:
            if rt == p or rt in p.parents:
                raise SegtoolError("the destination would replace an input; choose another path", str(t))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_outputs(*targets: Path) -> Iterator[list[Path]]:
    """Yield temporary sibling paths, one per target; on success rename them into place.

    Targets are replaced in order; an existing target is moved aside first and deleted
    only after every rename succeeded, so the old output survives a failure.
    """
    for t in targets:
        t.parent.mkdir(parents=True, exist_ok=True)
    temps = [Path(tempfile.mkdtemp(prefix=f".{t.name}.", suffix=".tmp", dir=t.parent)) for t in targets]
    # mkdtemp reserves a unique name; writers decide whether it is a file or a folder
    for tmp in temps:
        tmp.rmdir()
    try:
        yield temps
        aside: list[Path] = []
        for tmp, t in zip(temps, targets, strict=True):
            if t.exists() or t.is_symlink():
                old = t.with_name(f".{t.name}.old-{os.getpid()}")
                _remove(old)
                os.replace(t, old)
                aside.append(old)
            if tmp.exists():
                os.replace(tmp, t)
        for old in aside:
            _remove(old)
    finally:
        for tmp in temps:
            _remove(tmp)
