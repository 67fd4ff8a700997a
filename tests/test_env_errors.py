"""Environment errors are not bugs: a full disk, a read-only folder, too many open files, a
closed stdout.

Promise: an ``OSError`` reaching the CLI, from the main process or from a worker, is one line
``Error: <file>: <OS reason>`` and exit 2 (``--debug`` shows the traceback); never exit 3,
never a traceback. A stdout whose reader has gone (``| head``) changes nothing but where the
output goes: the run ends silently with the exit code its results give (tests/test_cli_ci.py
has the rest). Expected reasons are the C library's ``strerror`` texts.

Real processes where the OS can be made to refuse: RLIMIT_NOFILE through ``preexec_fn``; a
small tmpfs (ENOSPC) and a read-only bind mount (EROFS) in a private user and mount
namespace (``unshare -rm``), skipped where the system does not allow one. File-size limits,
an output whose parent is a file and stdout on /dev/full are covered by tests/hostile.
"""

from __future__ import annotations

import errno
import os
import resource
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import UnidentifiedImageError

from segtool import formats
from segtool.cli import main, os_error_line
from segtool.parallel import imap
from tests.conftest import panoptic_segments, write_panoptic

# (exception, expected stderr): the file of a rename is its destination; no file, no prefix
OS_ERRORS = [
    (OSError(errno.ENOSPC, "No space left on device", "/out/o.json"), "Error: /out/o.json: No space left on device"),
    (OSError(errno.EFBIG, "File too large"), "Error: File too large"),
    (PermissionError(errno.EACCES, "Permission denied", "/ro/new"), "Error: /ro/new: Permission denied"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/new"), "Error: /ro/new: Read-only file system"),
    (
        OSError(errno.EXDEV, "Invalid cross-device link", "/a/.o.tmp", None, "/b/o.json"),
        "Error: /b/o.json: Invalid cross-device link",
    ),
    (OSError(errno.EMFILE, "Too many open files"), "Error: Too many open files"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "a\nb"), "Error: a\\nb: No such file or directory"),
    (UnidentifiedImageError("cannot identify image file 'x.png'"), "Error: cannot identify image file 'x.png'"),
]


def raising_on_detect(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def detect(*args: object, **kwargs: object) -> str:
        raise exc

    monkeypatch.setattr(formats, "detect", detect)


@pytest.mark.parametrize(("exc", "line"), OS_ERRORS, ids=[type(e).__name__ + str(e.errno) for e, _ in OS_ERRORS])
def test_an_os_error_is_one_line_exit_2(runner, monkeypatch, tmp_path, exc, line):
    raising_on_detect(monkeypatch, exc)
    r = runner.invoke(main, ["info", str(tmp_path)])
    assert (r.exit_code, r.stderr) == (2, line + "\n")


def test_debug_shows_the_os_error_itself(runner, monkeypatch, tmp_path):
    exc = OSError(errno.ENOSPC, "No space left on device", "/out/o.json")
    raising_on_detect(monkeypatch, exc)
    assert runner.invoke(main, ["--debug", "info", str(tmp_path)]).exception is exc


def test_memory_error_stays_a_bug(runner, monkeypatch, tmp_path):
    raising_on_detect(monkeypatch, MemoryError())
    r = runner.invoke(main, ["info", str(tmp_path)])
    assert r.exit_code == 3 and r.stderr.startswith("Error: internal error (MemoryError")


def no_space(x: int) -> int:
    if x == 5:
        raise OSError(errno.ENOSPC, "No space left on device", f"/out/{x}.png")
    return x


def test_a_workers_os_error_arrives_whole():
    with pytest.raises(OSError) as info:
        list(imap(no_space, range(40), jobs=2, chunksize=2))
    assert type(info.value) is OSError and (info.value.errno, info.value.filename) == (errno.ENOSPC, "/out/5.png")
    assert os_error_line(info.value) == "/out/5.png: No space left on device"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 panoptic images of 64 x 64 (over parallel.SMALL, so --jobs 2 starts a pool)."""
    rng = np.random.default_rng(5)
    maps, segs = [], []
    for _ in range(40):
        ids = rng.integers(1, 9, (8, 8)).repeat(8, 0).repeat(8, 1)
        maps.append(ids)
        segs.append(panoptic_segments(ids, {k: (1, 2, 100)[k % 3] for k in range(1, 9)}))
    return write_panoptic(tmp_path_factory.mktemp("env") / "pan.json", maps, segs)


def one_error_line(stderr: str, reason: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and lines[0].endswith(reason), stderr


def test_too_many_open_files(dataset, tmp_path):
    """14 descriptors: enough to start, too few for a pool's pipes."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (14, 14))

    out = tmp_path / "out"
    argv = ["convert", str(dataset), str(out / "o.json"), "--to", "coco-panoptic", "--jobs", "2"]
    r = subprocess.run(
        [sys.executable, "-m", "segtool", *argv], capture_output=True, text=True, preexec_fn=limit, timeout=60
    )
    assert r.returncode == 2
    one_error_line(r.stderr, "Too many open files")
    assert not out.exists() or os.listdir(out) == []


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


namespaced = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _namespaces_work(),
    reason="needs a private user and mount namespace (unshare -rm)",
)


def in_namespace(setup: str, mount: Path, argv: list[str], tmp_path: Path) -> tuple[int, str, list[str]]:
    """``python -m segtool ARGV`` after the shell command ``setup`` in a private mount
    namespace; returns its exit code, its stderr, and what is left in ``mount`` (seen from
    inside: the mount vanishes with the namespace)."""
    err, left = tmp_path / "stderr.txt", tmp_path / "left.txt"
    script = f'{setup} || exit 99; "$@" 2>{shlex.quote(str(err))}; code=$?; ls -A {shlex.quote(str(mount))} >{shlex.quote(str(left))}; exit $code'
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", sys.executable, "-m", "segtool", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    if proc.returncode == 99:
        pytest.skip(f"could not set up the mount: {setup}")
    return proc.returncode, err.read_text(), left.read_text().split()


@namespaced
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_full_disk(dataset, tmp_path, jobs):
    """A 64 kB tmpfs fills up with the PNGs: written by the main process with --jobs 1, by
    the workers with --jobs 2."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    setup = f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(mnt))}"
    argv = ["convert", str(dataset), str(mnt / "new" / "o.json"), "--to", "coco-panoptic", "--jobs", jobs]
    code, stderr, left = in_namespace(setup, mnt, argv, tmp_path)
    assert code == 2
    one_error_line(stderr, "No space left on device")
    assert left == []  # no temporary, no lock, no folder the run created


@namespaced
def test_a_read_only_folder(dataset, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    q = shlex.quote(str(ro))
    argv = ["convert", str(dataset), str(ro / "new" / "o.json"), "--to", "coco-instance", "--jobs", "2"]
    code, stderr, left = in_namespace(f"mount --bind {q} {q} && mount -o remount,bind,ro {q}", ro, argv, tmp_path)
    assert code == 2
    one_error_line(stderr, f"{ro / 'new'}: Read-only file system")
    assert left == []


def closed_stdout(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader is closed before anything is written."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run(
            [sys.executable, "-m", "segtool", *argv], stdout=w, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(w)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
@pytest.mark.parametrize("how", [["--json", "-"], ["--per-class"]], ids=["json", "table"])
def test_stdout_closed_early(dataset, how):
    """``segtool info x --json - | head -c 10``: no traceback, no message, exit 0 as if read."""
    r = closed_stdout(["info", str(dataset), "--jobs", "1", *how])
    assert (r.returncode, r.stderr) == (0, "")
