"""Outputs that are confined, exclusive and atomic.

Nothing in a dataset is trusted (docs/security.md), so every path segtool writes is checked
before any work starts:

- a name taken from a dataset (a ``file_name``) must stay inside the output it is written to
  (:func:`inside`);
- no output may be an input, contain one, or lie inside an input folder, even with
  ``--overwrite`` (:func:`refuse_inputs`);
- an existing output needs ``--overwrite`` (:func:`check_writable`), checked again under the
  output's lock, so two runs on one destination cannot both succeed.

Then :func:`atomic_outputs` writes into temporary siblings and renames them into place: a
failed or interrupted run leaves nothing half-written, no folder it created, and the old
output intact. A run killed outright (SIGKILL) leaves its temporaries behind; the next run on
the same destination removes them, and puts back an old output that was moved aside.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO

from .errors import OutputExistsError, SegtoolError
from .parallel import stop_workers


def inside(base: Path, name: str, what: str = "file_name") -> Path:
    """``base / name``, refusing a dataset-given ``name`` that would leave ``base``.

    Absolute names, drive letters, ``..`` components, NUL bytes and empty names are refused:
    a ``file_name`` of ``../../x.png`` or ``/home/me/x.png`` must never become a write
    outside the output (nor onto an input). Sub-folders (``train/0001.png``) are kept.

    Example:
        >>> inside(Path("out"), "train/0001.png")
        PosixPath('out/train/0001.png')
        >>> inside(Path("out"), "../x.png")
        Traceback (most recent call last):
        ...
        segtool.errors.SegtoolError: ../x.png: file_name leaves the output folder (absolute, or with '..'); refused
    """
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    parts = [p for p in posix.parts if p not in ("", ".")]
    if (
        not parts
        or "\0" in name
        or posix.is_absolute()
        or windows.drive
        or windows.root
        or ".." in posix.parts
        or ".." in windows.parts
    ):
        raise SegtoolError(f"{what} leaves the output folder (absolute, or with '..'); refused", name)
    return base.joinpath(*parts)


def _resolved(paths: list[Path]) -> list[Path]:
    return [Path(os.path.realpath(p)) for p in paths]


def refuse_inputs(targets: list[Path], inputs: list[Path]) -> None:
    """Refuse an output that is an input, contains one, or lies inside an input folder.

    Replacing a destination replaces everything under it, and writing inside an input
    folder changes that input: neither is allowed, even with ``--overwrite``. Symlinks are
    resolved, so a link to an input counts as the input.
    """
    ins = _resolved(inputs)
    for t, rt in zip(targets, _resolved(targets), strict=True):
        for p in ins:
            if rt == p or rt in p.parents:
                raise SegtoolError("the destination would replace an input; choose another path", str(t))
            if p in rt.parents and p.is_dir():
                raise SegtoolError(f"the destination lies inside the input folder {p}; choose another path", str(t))


def refuse_clashes(targets: list[Path]) -> None:
    """Refuse two outputs of one run that are the same path or nest (``--json`` onto DST)."""
    rts = _resolved(targets)
    for i, a in enumerate(rts):
        for j, b in enumerate(rts):
            if i != j and (a == b or a in b.parents):
                raise SegtoolError(f"two outputs of this run are the same path or nest ({targets[j]})", str(targets[i]))


def dataset_inputs(path: Path | str | None, masks: Path | str | None = None) -> list[Path]:
    """The paths a dataset argument reads: itself and, for a JSON, its PNG folder (``masks``,
    else the sibling folder named by its stem, when one exists)."""
    if path is None:
        return []
    path = Path(path)
    out = [path]
    if masks is not None:
        out.append(Path(masks))
    elif path.suffix.lower() == ".json" and path.with_suffix("").is_dir():
        out.append(path.with_suffix(""))
    return out


def plan(targets: list[Path], inputs: list[Path], *, overwrite: bool) -> None:
    """Every check an output passes before any work starts: not an input (nor around or
    inside one), not another output of the same run, not existing unless ``overwrite``."""
    refuse_inputs(targets, inputs)
    refuse_clashes(targets)
    check_writable(*targets, overwrite=overwrite)


def check_writable(*targets: Path, overwrite: bool) -> None:
    """Refuse existing targets unless ``overwrite``, and always a device, FIFO or socket
    (``/dev/null``, ``/dev/stdout``): an output is renamed into place, which would replace
    the device node itself, not write to it."""
    for t in targets:
        if _special(t):
            raise SegtoolError(
                "is a device, pipe or socket, not a file an output can replace (use --json - for stdout)", str(t)
            )
        if (t.exists() or t.is_symlink()) and not overwrite:
            raise OutputExistsError("already exists (pass --overwrite to replace it)", str(t))


def _special(target: Path) -> bool:
    """A device, FIFO or socket, or a path under /dev or /proc (``/dev/stdout`` links to
    ``/proc/self/fd/1``, which may be a regular file when stdout is redirected to one)."""
    if target.exists() and not (target.is_file() or target.is_dir()):
        return True
    if str(target.absolute()).startswith(("/dev/", "/proc/")):
        return True
    return target.is_symlink() and os.readlink(target).startswith(("/dev/", "/proc/"))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing ancestors; return those created, deepest first."""
    missing = []
    p = folder.absolute()
    while not p.exists() and not p.is_symlink() and p != p.parent:
        missing.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_created(created: list[Path]) -> None:
    for p in created:  # deepest first; a folder something else wrote into stays
        try:
            p.rmdir()
        except OSError:
            break


def _lock(target: Path) -> IO[bytes]:
    """An exclusive lock on ``target``'s name, held until the returned file is closed.

    A lock file beside the target (``.NAME.lock``) with ``flock``: the kernel drops it when
    its process dies, so a killed run never blocks the next one. The path is re-checked
    after locking, because a finishing run unlinks the file it locked.
    """
    path = target.with_name(f".{target.name}.lock")
    while True:
        fh = open(path, "ab")  # closed by _unlock, through the caller's ExitStack
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise SegtoolError(
                    "another segtool run is writing this destination; try again after it", str(target)
                ) from None
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fh
        fh.close()


def _leftovers(target: Path) -> tuple[list[Path], list[Path]]:
    """A killed run's temporaries of ``target`` and the old outputs it had moved aside.

    Matched exactly (8 random characters, a pid), so the temporaries of another target whose
    name starts with this one's are never taken.
    """
    name = re.escape(target.name)
    temp, old = re.compile(rf"\.{name}\.segtool-[a-z0-9_]{{8}}\.tmp"), re.compile(rf"\.{name}\.old-\d+")
    try:
        names = sorted(os.listdir(target.parent))
    except OSError:
        return [], []
    folder = target.parent
    return [folder / n for n in names if temp.fullmatch(n)], [folder / n for n in names if old.fullmatch(n)]


def _recover(target: Path) -> None:
    """Clean up after a killed run on ``target`` (called under its lock).

    Its temporaries go. An old output it had moved aside is put back when the target is
    missing (the kill came between the two renames), else removed.
    """
    temps, olds = _leftovers(target)
    for left in temps:
        _remove(left)
    for old in olds:
        if not target.exists() and not target.is_symlink():
            os.replace(old, target)
        else:
            _remove(old)


def _unlock(target: Path, fh: IO[bytes]) -> None:
    try:
        os.unlink(target.with_name(f".{target.name}.lock"))
    except FileNotFoundError:
        pass
    fh.close()


@contextmanager
def atomic_outputs(*targets: Path, overwrite: bool = True) -> Iterator[list[Path]]:
    """Yield temporary sibling paths, one per target; on success rename them into place.

    Each target is locked first (a second run on it fails with exit 2), and with
    ``overwrite=False`` an existing target is refused under the lock. Targets are replaced in
    order; an existing target is moved aside first and deleted only after every rename
    succeeded, so the old output survives a failure. On failure the temporaries and every
    parent folder this call created are removed.
    """
    created: list[Path] = []
    with ExitStack() as stack:
        try:
            for t in targets:
                created += _make_parents(t.parent)
            for t in targets:
                fh = _lock(t)
                stack.callback(_unlock, t, fh)
                _recover(t)
            check_writable(*targets, overwrite=overwrite)
            temps = [Path(tempfile.mkdtemp(prefix=f".{t.name}.segtool-", suffix=".tmp", dir=t.parent)) for t in targets]
        except BaseException:
            stack.close()
            _remove_created(created)
            raise
        # mkdtemp reserves a unique name; writers decide whether it is a file or a folder
        for tmp in temps:
            tmp.rmdir()
        try:
            yield temps
            _replace(temps, list(targets))
        except BaseException as exc:
            if isinstance(exc, OSError):
                _name_the_output(exc, temps, list(targets))
            stop_workers(this_thread=True)  # a worker still writing into a temporary would defeat its removal
            for tmp in temps:
                _remove(tmp)
            stack.close()
            _remove_created(created)
            raise


def _name_the_output(exc: OSError, temps: list[Path], targets: list[Path]) -> None:
    """Make an error while writing name the output, not its temporary (which is gone by the
    time the user reads the message), nor nothing (``write()`` failing with EFBIG or ENOSPC
    carries no file name)."""
    for attr in ("filename", "filename2"):
        name = getattr(exc, attr)
        if not isinstance(name, str | bytes):
            continue
        text = os.fsdecode(name)
        for tmp, t in zip(temps, targets, strict=True):
            if text == str(tmp) or text.startswith(str(tmp) + os.sep):
                setattr(exc, attr, str(t) + text[len(str(tmp)) :])
    if exc.filename is None and exc.filename2 is None:
        exc.filename = str(targets[0])


def _replace(temps: list[Path], targets: list[Path]) -> None:
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
