"""Outputs are confined, exclusive and atomic (segtool/atomic.py): no dataset name leaves OUT,
no output is or holds or sits inside an input, report files need --overwrite, two runs on one
destination cannot both succeed, and a killed run's leftovers are cleaned by the next run."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from segtool.atomic import atomic_outputs, inside, refuse_inputs
from segtool.cli import main
from segtool.errors import SegtoolError
from tests.conftest import PANOPTIC_EXAMPLES, ids_of, write_json, write_panoptic

LEAVING = [
    "../x.png",
    "a/../../x.png",
    "a/..",
    "..",
    "/etc/x.png",
    "//server/x.png",
    "C:\\x.png",
    "C:x.png",
    "\\\\server\\share\\x.png",
    "..\\x.png",
    "sub\\..\\..\\x.png",
    "",
    ".",
    "./",
    "a\0b.png",
]
STAYING = {"a.png": "a.png", "sub/a.png": "sub/a.png", "./a.png": "a.png", "a..b.png": "a..b.png", "...png": "...png"}


@pytest.mark.parametrize("name", LEAVING)
def test_inside_refuses_names_that_leave_the_folder(tmp_path, name):
    with pytest.raises(SegtoolError, match="leaves the output folder"):
        inside(tmp_path, name)


@pytest.mark.parametrize("name", list(STAYING))
def test_inside_keeps_names_within_the_folder(tmp_path, name):
    assert inside(tmp_path, name) == tmp_path / STAYING[name]


def test_refuse_inputs_every_relation(tmp_path):
    src = tmp_path / "in"
    (src / "deep").mkdir(parents=True)
    gt = write_json(tmp_path / "gt.json", {})
    (tmp_path / "link").symlink_to(gt)
    for target in (src, tmp_path, src / "x.png", src / "deep" / "x", gt, tmp_path / "link"):
        with pytest.raises(SegtoolError):
            refuse_inputs([target], [src, gt])
    refuse_inputs([tmp_path / "out.json", tmp_path / "other"], [src, gt])  # beside an input is fine


def test_a_second_writer_of_one_destination_is_refused(tmp_path):
    target = tmp_path / "out.json"
    with atomic_outputs(target) as (tmp,):
        tmp.write_text("first")
        with pytest.raises(SegtoolError, match="another segtool run"), atomic_outputs(target):
            pass
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no lock file, no temporary


def test_a_run_finishing_first_makes_the_second_fail_without_overwrite(tmp_path):
    target = tmp_path / "out.json"
    with atomic_outputs(target, overwrite=False) as (tmp,):
        tmp.write_text("first")
    with pytest.raises(SegtoolError, match="already exists"), atomic_outputs(target, overwrite=False):
        pass
    assert target.read_text() == "first"


def test_the_lock_is_held_across_processes(tmp_path):
    target = tmp_path / "out.json"
    holder = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from segtool.atomic import atomic_outputs
        with atomic_outputs(Path({str(target)!r})) as (tmp,):
            print("locked", flush=True)
            sys.stdin.readline()
            tmp.write_text("holder")
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(SegtoolError, match="another segtool run"), atomic_outputs(target):
            pass
    finally:
        proc.communicate("go\n", timeout=30)
    assert target.read_text() == "holder"


def test_the_next_run_removes_a_killed_runs_temporaries_and_restores_the_moved_output(tmp_path):
    target = tmp_path / "out"
    (tmp_path / ".out.segtool-abcd1234.tmp").mkdir()  # a killed run's temporary folder
    (tmp_path / ".out.old-4242").mkdir()  # the old output it had moved aside
    (tmp_path / ".out.old-4242" / "kept.png").write_text("old")
    other = tmp_path / ".out.json.segtool-abcd1234.tmp"  # another target's temporary: not ours
    other.write_text("x")
    with pytest.raises(SegtoolError, match="already exists"), atomic_outputs(target, overwrite=False):
        pass
    assert (target / "kept.png").read_text() == "old"  # the old output is back in place
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "out"]


def test_a_failed_run_removes_the_folders_it_created_only(tmp_path):
    (tmp_path / "a").mkdir()
    target = tmp_path / "a" / "b" / "c" / "out.json"
    with pytest.raises(RuntimeError), atomic_outputs(target) as (tmp,):
        tmp.write_text("half")
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a"]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def dataset(tmp_path):
    """A valid two-image panoptic dataset (PNGs data/pan/img1.png, img2.png)."""
    a = np.array([[1, 1, 2], [1, 2, 2]])
    segs = [
        [
            {"id": 1, "category_id": 1, "iscrowd": 0, "area": 3, "bbox": [0, 0, 2, 2]},
            {"id": 2, "category_id": 2, "iscrowd": 0, "area": 3, "bbox": [1, 0, 2, 2]},
        ],
        [{"id": 1, "category_id": 1, "iscrowd": 0, "area": 6, "bbox": [0, 0, 3, 2]}],
    ]
    return write_panoptic(tmp_path / "data" / "pan.json", [a, np.ones_like(a)], segs)


def needs_fixing(dataset: Path, file_name: str) -> None:
    """Image 1's segment 2 unlisted (its PNG must be re-encoded), under ``file_name``."""
    data = json.loads(dataset.read_text())
    data["annotations"][0]["segments_info"].pop()
    data["annotations"][0]["file_name"] = file_name
    write_json(dataset, data)


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_fix_never_writes_outside_out_nor_reencodes_an_input(runner, tmp_path, dataset, kind):
    victim = tmp_path / "victim" / "1.png"
    victim.parent.mkdir()
    victim.write_bytes((dataset.with_suffix("") / "img1.png").read_bytes())
    needs_fixing(dataset, "../../victim/1.png" if kind == "dotdot" else str(victim))
    before = digest(tmp_path)
    r = runner.invoke(main, ["validate", str(dataset), "--fix", str(tmp_path / "out" / "fixed.json")])
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and "leaves the output folder" in r.stderr
    assert digest(tmp_path) == before  # the victim untouched, nothing written anywhere
    assert not (tmp_path / "out").exists()


def test_fix_keeps_sub_folders_of_file_names(runner, tmp_path, dataset):
    folder = dataset.with_suffix("")
    (folder / "sub").mkdir()
    (folder / "img1.png").rename(folder / "sub" / "1.png")
    needs_fixing(dataset, "sub/1.png")
    out = tmp_path / "out" / "fixed.json"
    r = runner.invoke(main, ["validate", str(dataset), "--fix", str(out)])
    assert r.exit_code == 1, r.output  # the unlisted id is an error finding, fixed in the copy
    ids = ids_of(out.with_suffix("") / "sub" / "1.png")
    assert ids.tolist() == [[1, 1, 0], [1, 0, 0]]  # segment 2's pixels made void


def report_commands(gt: Path, tmp_path: Path) -> dict[str, list[str]]:
    out = str(tmp_path / "converted.json")
    return {
        "info": ["info", str(gt)],
        "validate": ["validate", str(gt)],
        "convert": ["convert", str(gt), out, "--to", "coco-instance"],
        "eval": ["eval", "panoptic", str(gt), str(gt)],
        "preview": ["preview", str(gt), str(tmp_path / "pv"), "--no-names"],
    }


@pytest.mark.parametrize("command", ["info", "validate", "convert", "eval", "preview"])
@pytest.mark.parametrize("onto", ["gt-json", "gt-png", "inside-png-folder", "existing"])
def test_report_files_never_replace_an_input_nor_an_existing_file(runner, tmp_path, dataset, command, onto):
    existing = write_json(tmp_path / "old.json", {"keep": 1})
    report = {
        "gt-json": dataset,
        "gt-png": dataset.with_suffix("") / "img1.png",
        "inside-png-folder": dataset.with_suffix("") / "report.json",
        "existing": existing,
    }[onto]
    before = digest(tmp_path)
    args = report_commands(dataset, tmp_path)[command]
    for flag in ("--json", *(["--csv"] if command == "eval" else [])):
        r = runner.invoke(main, [*args, flag, str(report)])
        assert r.exit_code == 2, (flag, r.output)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("Error: ")
        assert digest(tmp_path) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "old.json"]
    if onto == "existing":
        r = runner.invoke(main, [*args, "--json", str(report), "--overwrite"])
        assert r.exit_code == 0, r.output
        assert "keep" not in json.loads(existing.read_text())


def test_a_report_onto_the_commands_own_output_is_refused(runner, tmp_path, dataset):
    out = tmp_path / "converted.json"
    r = runner.invoke(main, ["convert", str(dataset), str(out), "--to", "coco-instance", "--json", str(out)])
    assert r.exit_code == 2 and "same path" in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("command", ["convert", "preview"])
def test_outputs_inside_an_input_folder_are_refused(runner, tmp_path, command):
    sem = tmp_path / "sem"
    r = runner.invoke(main, ["convert", str(PANOPTIC_EXAMPLES), str(sem), "--to", "semantic"])
    assert r.exit_code == 0, r.output
    before = digest(tmp_path)
    if command == "convert":
        args = ["convert", str(sem), str(sem / "x" / "pan.json"), "--to", "coco-panoptic"]
    else:
        args = ["preview", str(sem), str(sem / "previews")]
    r = runner.invoke(main, [*args, "--overwrite"])
    assert r.exit_code == 2 and "inside the input folder" in r.stderr, r.output
    assert digest(tmp_path) == before
    assert sorted(os.listdir(sem)) == sorted(before_names(before, "sem"))


def before_names(digests: dict[str, str], folder: str) -> set[str]:
    return {k.split("/")[1] for k in digests if k.startswith(folder + "/")}


def test_outputs_are_checked_against_every_input_the_command_names(runner, tmp_path, dataset):
    """--images and --categories are inputs too: an output inside or onto them is refused."""
    photos = tmp_path / "photos"
    photos.mkdir()
    before = digest(tmp_path)
    r = runner.invoke(
        main, ["validate", str(dataset), "--images", str(photos), "--fix", str(photos / "fixed" / "pan.json")]
    )
    assert r.exit_code == 2 and "inside the input folder" in r.stderr, r.output
    sem = tmp_path / "sem"
    assert runner.invoke(main, ["convert", str(dataset), str(sem), "--to", "semantic"]).exit_code == 0
    cats = sem / "categories.json"
    moved = tmp_path / "cats.json"
    cats.rename(moved)
    before = digest(tmp_path)
    r = runner.invoke(
        main, ["convert", str(sem), str(moved), "--to", "coco-instance", "--categories", str(moved), "--overwrite"]
    )
    assert r.exit_code == 2 and "would replace an input" in r.stderr, r.output
    assert digest(tmp_path) == before


def test_an_error_while_writing_names_the_output_not_its_temporary(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(OSError) as caught, atomic_outputs(target) as (tmp,):
        tmp.mkdir()
        raise OSError(27, "File too large", str(tmp / "sub" / "a.png"))
    assert caught.value.filename == str(target / "sub" / "a.png")
    with pytest.raises(OSError) as caught, atomic_outputs(target) as (tmp,):
        raise OSError(28, "No space left on device")  # as write() raises it: no file name
    assert caught.value.filename == str(target)


@pytest.mark.parametrize("device", ["/dev/null", "/dev/stdout", "fifo"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_a_device_or_pipe_is_never_replaced_by_an_output(runner, tmp_path, device, overwrite):
    """An output is renamed into place: over /dev/null that would replace the device node
    with a regular file (it happened with --json /dev/null --overwrite). Refused, one line."""
    import os
    import stat

    if device == "fifo":
        device = str(tmp_path / "fifo")
        os.mkfifo(device)
    before = os.lstat(device)
    args = ["info", str(PANOPTIC_EXAMPLES), "--json", device, *(["--overwrite"] if overwrite else [])]
    r = runner.invoke(main, args)
    assert r.exit_code == 2, r.output
    after = os.lstat(device)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert not stat.S_ISREG(os.lstat(device).st_mode)  # still the device, link or pipe
