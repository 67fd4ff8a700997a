"""The public API with ``jobs=2`` from a user's program that has no ``if __name__ ==
"__main__":`` guard: a script file, ``python - < script``, ``python -c``, ``python -m``, and a
notebook-like session (code run in a fresh ``__main__`` without ``__file__``).

multiprocessing's forkserver and spawn re-run the parent's main module in every child; before
segtool's workers left it out, such a script ran its body again in each worker (which started
a pool of its own and failed), and ``python - < script`` made the workers look for a file
named ``<stdin>``. Each program prints a marker when its body runs: it must appear once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import segtool
from segtool import parallel
from segtool.validation import validate

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
COPIES = -(-(parallel.SMALL + 8) // 2)  # of the 2 sample images: enough for a worker pool
N_IMAGES = 2 * COPIES

# No guard, on purpose. The progress callback runs in this process, between results: the
# multiprocessing children alive then are the pool's workers.
SCRIPT = """\
import multiprocessing, os, tempfile
print("BODY-RAN", os.getpid(), flush=True)
import segtool

GT = {gt!r}
workers = set()

def seen(n):
    workers.update(p.pid for p in multiprocessing.active_children())

def report_workers(stage):
    print("WORKERS", stage, len(workers - {{os.getpid()}}), flush=True)
    workers.clear()

r = segtool.evaluate_panoptic(GT, GT, jobs=2, progress=seen)
print("PQ", r.to_dict()["All"]["pq"], flush=True)
report_workers("evaluate")
report = segtool.validate(GT, jobs=2, progress=seen)
print("FINDINGS", len(report.findings), flush=True)
report_workers("validate")
with tempfile.TemporaryDirectory() as out:
    opts = segtool.WriteOptions("coco-instance")
    s = segtool.convert(GT, os.path.join(out, "inst.json"), opts, jobs=2, progress=seen)
    print("CONVERTED", s.images, s.segments, flush=True)
report_workers("convert")
"""

# An interactive session or a notebook kernel: code executed in a module named __main__
# that has neither __file__ nor __spec__.
NOTEBOOK = """\
import sys, types
cell = open({script!r}).read()
main = types.ModuleType("__main__")
sys.modules["__main__"] = main
exec(compile(cell, "<cell>", "exec"), main.__dict__)
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's two panoptic images, each copied COPIES times under new image ids."""
    root = tmp_path_factory.mktemp("api_script")
    data = json.loads((SAMPLE / "panoptic_examples.json").read_text())
    (root / "pan").mkdir()
    images, anns = [], []
    for k in range(COPIES):
        for image, ann in zip(data["images"], data["annotations"], strict=True):
            iid = image["id"] * 100 + k
            shutil.copy(SAMPLE / "panoptic_examples" / ann["file_name"], root / "pan" / f"{iid}.png")
            images.append({**image, "id": iid, "file_name": f"{iid}.jpg"})
            anns.append({**ann, "image_id": iid, "file_name": f"{iid}.png"})
    gt = root / "pan.json"
    gt.write_text(json.dumps({"images": images, "annotations": anns, "categories": data["categories"]}))
    return gt


@pytest.fixture(scope="module")
def expected(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[list[str]]]:
    """What the script prints for convert and validate, computed here in one process."""
    out = tmp_path_factory.mktemp("expected") / "inst.json"
    summary = segtool.convert(dataset, out, segtool.WriteOptions("coco-instance"))
    assert summary.images == N_IMAGES and summary.segments > 0
    printed = {"CONVERTED": [[str(N_IMAGES), str(summary.segments)]], "FINDINGS": []}
    printed["FINDINGS"] = [[str(len(validate(dataset).findings))]]
    return printed


@pytest.fixture(scope="module")
def script(dataset: Path) -> Path:
    path = dataset.parent / "api_script.py"
    path.write_text(SCRIPT.format(gt=str(dataset)))
    return path


def run(args: list[str], cwd: Path, stdin: Path | None = None) -> subprocess.CompletedProcess[str]:
    if stdin is None:
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    with open(stdin) as f:
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, stdin=f)


def lines(stdout: str, key: str) -> list[list[str]]:
    return [line.split()[1:] for line in stdout.splitlines() if line.split()[:1] == [key]]


MODES = {
    "file": lambda script: ([sys.executable, str(script)], None),
    "stdin": lambda script: ([sys.executable, "-"], script),
    "-c": lambda script: ([sys.executable, "-c", script.read_text()], None),
    "-m": lambda script: ([sys.executable, "-m", script.stem], None),
    "notebook": lambda script: ([sys.executable, "-c", NOTEBOOK.format(script=str(script))], None),
}


@pytest.mark.parametrize("mode", MODES)
def test_the_api_with_jobs_from_a_program_without_a_main_guard(script, expected, mode):
    args, stdin = MODES[mode](script)
    proc = run(args, script.parent, stdin)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(lines(proc.stdout, "BODY-RAN")) == 1, proc.stdout  # not again in a worker
    assert lines(proc.stdout, "PQ") == [["1.0"]], proc.stdout
    assert lines(proc.stdout, "FINDINGS") == expected["FINDINGS"], proc.stdout
    assert lines(proc.stdout, "CONVERTED") == expected["CONVERTED"], proc.stdout
    workers = {stage: int(n) for stage, n in lines(proc.stdout, "WORKERS")}
    stages = {"evaluate", "convert", "validate"}
    assert workers.keys() == stages, proc.stdout
    assert all(1 <= n <= 2 for n in workers.values()), proc.stdout  # the work ran in workers


GUARDED = """\
import os, sys
from segtool.parallel import imap
print("BODY-RAN", flush=True)

def double(x):
    return (2 * x, os.getpid())

if __name__ == "__main__":
    out = list(imap(double, range(64), jobs=2, chunksize=4))
    assert [d for d, _ in out] == [2 * x for x in range(64)]
    print("WORKERS", len({{pid for _, pid in out}} - {{os.getpid()}}), flush=True)
"""


def test_a_function_of_a_guarded_main_module_still_runs_in_workers(tmp_path):
    """imap of a function defined in ``__main__``: the workers import the main module for it,
    as multiprocessing does by default (the guard keeps its body from running there)."""
    path = tmp_path / "guarded.py"
    path.write_text(GUARDED.format())
    proc = run([sys.executable, str(path)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert lines(proc.stdout, "WORKERS") in ([["1"]], [["2"]]), proc.stdout


PREPARED = """\
import multiprocessing.spawn, threading
from segtool import parallel

parallel._context()  # puts the wrapper in place
prepare = multiprocessing.spawn.get_preparation_data
stdlib = parallel._stdlib_preparation_data
assert prepare is parallel._preparation_data and stdlib is not None
main_keys = {"init_main_from_name", "init_main_from_path"}
as_always = stdlib("p")
assert main_keys & as_always.keys(), as_always  # this file is a main module multiprocessing imports
flagged, release = threading.Event(), threading.Event()
in_worker_start = []

def starting_a_worker():
    parallel._starting.worker = True
    flagged.set()
    release.wait(10)
    in_worker_start.append(prepare("p"))

other = threading.Thread(target=starting_a_worker)
other.start()
try:
    assert flagged.wait(10)
    assert prepare("p") == as_always
finally:
    release.set()
    other.join()
assert in_worker_start == [{k: v for k, v in as_always.items() if k not in main_keys}], in_worker_start
print("PREPARED ok")
"""


def test_other_processes_are_prepared_as_always(tmp_path):
    """Only the thread that starts a pool's worker, and only meanwhile, leaves the main module
    out: a process this program starts itself, at the same moment, gets it. Run as a script
    file, whose main module multiprocessing imports (a test runner's, pytest-xdist's worker,
    it may not)."""
    script = tmp_path / "prepared.py"
    script.write_text(PREPARED)
    proc = run([sys.executable, str(script)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert lines(proc.stdout, "PREPARED") == [["ok"]], proc.stdout
