"""Parallel map, atomic outputs, error pickling, docs coverage."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from segtool import SegtoolError, WriteOptions, convert, format_names, parallel
from segtool.atomic import atomic_outputs
from segtool.cli import main
from segtool.errors import OverlapError
from segtool.parallel import imap
from tests.conftest import PANOPTIC_EXAMPLES

DOCS = Path(__file__).parent.parent / "docs"


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise SegtoolError("three is bad", "three.png")
    return x


def test_imap_keeps_input_order_across_processes():
    assert list(imap(square, range(50), jobs=2, chunksize=3)) == [x * x for x in range(50)]


def test_imap_is_lazy_about_its_input():
    """At most a bounded window of the input is consumed ahead of the results."""
    pulled = []

    def source():
        for i in range(10_000):
            pulled.append(i)
            yield i

    it = imap(square, source(), jobs=2, chunksize=2)
    assert next(it) == 0
    assert len(pulled) <= 4 * 2 * 2 + 2
    it.close()


class _Recording(ThreadPoolExecutor):
    """A thread pool that notes the size of every chunk handed to it."""

    def __init__(self) -> None:
        super().__init__(2)
        self.chunks: list[int] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.chunks.append(len(args[1]))  # parallel._run_chunk(fn, chunk)
        return super().submit(fn, *args, **kwargs)


def test_last_chunks_shrink_when_the_count_is_known():
    """With ``count``, each chunk is min(32, what is left / (2 x jobs), rounded up), down to
    1; without it, 32 to the end."""
    with _Recording() as ex:
        assert list(imap(square, range(200), jobs=2, executor=ex, count=200)) == [x * x for x in range(200)]
    # by hand, left -> ceil(left / 4) capped at 32: 200, 168, 136 -> 32; 104 -> 26, 78 -> 20,
    # 58 -> 15, 43 -> 11, 32 -> 8, 24 -> 6, 18 -> 5, 13 -> 4, 9 -> 3, 6 -> 2, then 4 x 1
    assert ex.chunks == [32, 32, 32, 26, 20, 15, 11, 8, 6, 5, 4, 3, 2, 1, 1, 1, 1]
    with _Recording() as ex:
        assert list(imap(square, range(200), jobs=2, executor=ex)) == [x * x for x in range(200)]
    assert ex.chunks == [32] * 6 + [8]
    with _Recording() as ex:  # a count that is wrong changes chunk sizes only, never results
        assert list(imap(square, range(50), jobs=2, executor=ex, count=10)) == [x * x for x in range(50)]
    assert sum(ex.chunks) == 50


def test_worker_errors_arrive_intact():
    with pytest.raises(SegtoolError) as info:
        list(imap(fail_on_three, range(8), jobs=2, chunksize=1))
    assert str(info.value) == "three.png: three is bad"


def test_errors_survive_pickling():
    for exc in (SegtoolError("msg", "a.png"), OverlapError("o"), SegtoolError("no path")):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc) and back.path == exc.path


@pytest.mark.parametrize("target", ["coco-instance", "semantic", "coco-panoptic"])
def test_jobs_1_and_2_write_identical_bytes(tmp_path, target, monkeypatch):
    monkeypatch.setattr(parallel, "SMALL", 0)  # use the pool even for 2 images
    dst = "out.json" if target != "semantic" else "out"
    for jobs in (1, 2):
        convert(PANOPTIC_EXAMPLES, tmp_path / str(jobs) / dst, WriteOptions(target), jobs=jobs)
    files1 = sorted(p.relative_to(tmp_path / "1") for p in (tmp_path / "1").rglob("*") if p.is_file())
    files2 = sorted(p.relative_to(tmp_path / "2") for p in (tmp_path / "2").rglob("*") if p.is_file())
    assert files1 == files2 and files1
    for rel in files1:
        assert (tmp_path / "1" / rel).read_bytes() == (tmp_path / "2" / rel).read_bytes(), rel


def test_atomic_outputs_leave_nothing_on_failure_and_keep_the_old(tmp_path):
    old = tmp_path / "out.json"
    old.write_text("old")
    with pytest.raises(RuntimeError), atomic_outputs(old, tmp_path / "out") as tmp:
        tmp[0].write_text("new")
        tmp[1].mkdir()
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    assert old.read_text() == "old"
    with atomic_outputs(old, tmp_path / "out") as tmp:
        tmp[0].write_text("new")
        tmp[1].mkdir()
    assert old.read_text() == "new" and (tmp_path / "out").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.json"]


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_a_docs_page(command):
    page = DOCS / f"{command}.md"
    assert page.is_file() and f"segtool {command}" in page.read_text()


@pytest.mark.parametrize("fmt", format_names())
def test_every_format_has_a_docs_page(fmt):
    page = DOCS / "formats" / f"{fmt}.md"
    assert page.is_file() and "## Read" in page.read_text() and "## Write" in page.read_text()
    assert "lossy" in page.read_text()


def test_small_datasets_run_in_process(monkeypatch):
    assert parallel.jobs_for(5, 8) == 1 and parallel.jobs_for(1000, 8) == 8


def test_every_check_code_is_documented():
    from segtool.checks import CHECKS

    page = (DOCS / "validate.md").read_text()
    for code in CHECKS:
        assert f"| `{code}` |" in page, code


def test_gc_paused_restores_the_callers_setting():
    import gc

    from segtool.gcpause import gc_paused

    seen = []

    @gc_paused
    def probe():
        seen.append(gc.isenabled())
        raise ValueError("boom")

    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        with pytest.raises(ValueError):
            probe()
        assert gc.isenabled() is enabled
    gc.enable()
    assert seen == [False, False]
