"""--scheduler: the per-image work of every command on a real Dask cluster (a scheduler and
two workers on 127.0.0.1, started here as `dask scheduler` / `dask worker` processes) gives
what --jobs 1 gives, byte for byte, even when a worker is killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segtool import parallel_dask
from segtool.cli import main
from tests.conftest import panoptic_segments, rle, write_json, write_panoptic
from tests.helpers import assert_bad_input, invoke

distributed = pytest.importorskip("distributed")

N_IMAGES = 120  # > parallel.SMALL, and several chunks per worker
DASK = Path(sys.executable).with_name("dask")
THINGS, STUFF = (1, 2, 7), (100, 200)


def _image(rng: np.random.Generator, h: int = 48, w: int = 64) -> tuple[np.ndarray, dict[int, int]]:
    """A stuff band under the top half, then 2-5 rectangles of things (ids 10, 11, ...)."""
    ids = np.zeros((h, w), np.int64)
    ids[h // 2 :] = 1
    ids[: h // 2] = 2
    cats = {1: int(rng.choice(STUFF)), 2: int(rng.choice(STUFF))}
    for k in range(int(rng.integers(2, 6))):
        y, x = int(rng.integers(0, h - 8)), int(rng.integers(0, w - 8))
        ids[y : y + int(rng.integers(4, 20)), x : x + int(rng.integers(4, 24))] = 10 + k
        cats[10 + k] = int(rng.choice(THINGS))
    ids[rng.random((h, w)) < 0.01] = 0  # some void
    return ids, {k: v for k, v in cats.items() if (ids == k).any()}


def make_pair(folder: Path, n: int, h: int = 48, w: int = 64) -> tuple[Path, Path]:
    """A panoptic ground truth of ``n`` images and a prediction: the maps shifted a pixel,
    one thing in five given another category."""
    rng = np.random.default_rng(5)
    gts, preds = [], []
    for _ in range(n):
        ids, cats = _image(rng, h, w)
        gts.append((ids, panoptic_segments(ids, cats)))
        moved = np.roll(ids, (1, 1), axis=(0, 1))
        pcats = {k: (int(rng.choice(THINGS)) if k >= 10 and rng.random() < 0.2 else c) for k, c in cats.items()}
        pcats = {k: c for k, c in pcats.items() if (moved == k).any()}
        preds.append((moved, panoptic_segments(moved, pcats)))
    gt = write_panoptic(folder / "gt.json", [g[0] for g in gts], [g[1] for g in gts])
    pred = write_panoptic(folder / "pred.json", [p[0] for p in preds], [p[1] for p in preds])
    return gt, pred


def detections(folder: Path, pred: Path) -> Path:
    """A COCO results list of the prediction's things (RLEs by pycocotools), scores by hand."""
    from tests.conftest import ids_of

    data = json.loads(pred.read_text())
    out = []
    for ann in data["annotations"]:
        ids = ids_of(pred.with_suffix("") / ann["file_name"])
        for s in ann["segments_info"]:
            if s["category_id"] in THINGS:
                score = round(0.3 + 0.07 * (s["id"] % 10) + 0.0001 * ann["image_id"], 4)
                seg = {"image_id": ann["image_id"], "category_id": s["category_id"], "score": score}
                out.append({**seg, "segmentation": rle(ids == s["id"])})
    return write_json(folder / "dets.json", out)


@contextmanager
def local_cluster(home: Path, workers: int = 2, **config: str):
    """A scheduler and ``workers`` single-thread workers (each a nanny and its worker process)
    on 127.0.0.1, run from ``home``, ``config`` in their environment (``DASK_…`` settings):
    (its processes, its address, a client to watch it).
    Stopped after, through the scheduler, or by signals for what is left."""
    sched_file = home / "scheduler.json"
    # limits travel with the chunks; SEGTOOL_PURE_PYTHON (make test-pure) stays: the workers' kernels
    env = {k: v for k, v in os.environ.items() if k != "SEGTOOL_SCHEDULER" and not k.startswith("SEGTOOL_LIMIT_")}
    env.update(config)  # DASK_* settings
    common = {"cwd": home, "env": env, "stdout": subprocess.DEVNULL, "start_new_session": True}
    logs = [open(home / f"{name}.log", "w") for name in ["scheduler", *(f"worker{k}" for k in range(workers))]]
    scheduler = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    procs = [subprocess.Popen([*scheduler, "--scheduler-file", sched_file], stderr=logs[0], **common)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        worker = [DASK, "worker", "--scheduler-file", sched_file, "--nthreads", "1", "--nworkers", "1"]
        worker += ["--memory-limit", "1GiB", "--no-dashboard", "--host", "127.0.0.1"]
        procs += [subprocess.Popen(worker, stderr=log, **common) for log in logs[1:]]
        address = json.loads(sched_file.read_text())["address"]
        client = distributed.Client(address, set_as_default=False, timeout=60)
        try:
            client.wait_for_workers(workers, timeout=60)
            yield procs, address, client
            if procs[0].poll() is None:
                client.shutdown()  # the scheduler stops its workers and nannies: faster than a SIGTERM each
        finally:
            client.close(timeout=5)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 2  # a nanny may be starting a worker again: then SIGKILL
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)  # its own session: the nanny and its worker
                p.wait()
        for log in logs:
            log.close()


@pytest.fixture(scope="session")
def cluster():
    """The tests' cluster: two workers, run from a folder of their own. Not one of pytest's
    temporary folders: another pytest run on the machine may remove those of older runs,
    and a nanny cannot start a worker in a folder that is gone."""
    with tempfile.TemporaryDirectory(prefix="segtool-dask-") as home, local_cluster(Path(home)) as (_, address, client):
        yield address, client


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    gt, pred = make_pair(folder, N_IMAGES)
    return folder, gt, pred


def executed(client) -> int:
    """Tasks the workers have run so far (those alive now)."""
    return sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())


def both(runner, cluster, *args):
    """The command with --jobs 1 and with --scheduler: both results, and the tasks the
    cluster ran for the second."""
    address, client = cluster
    client.wait_for_workers(2, timeout=60)
    local = invoke(runner, *args, "--jobs", "1")
    before = executed(client)
    remote = invoke(runner, *args, "--scheduler", address)
    return local, remote, executed(client) - before


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_eval_panoptic_relative_paths(runner, cluster, data, monkeypatch):
    folder, _, _ = data
    monkeypatch.chdir(folder)  # the workers run elsewhere: relative paths resolve where segtool runs
    local, remote, tasks = both(runner, cluster, "eval", "panoptic", "gt.json", "pred.json", "--json", "-", "-q")
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout
    assert json.loads(local.stdout)["All"]["pq"] < 1  # a shifted prediction: not a trivial score
    assert tasks >= 2 * 2  # both workers had chunks (N_IMAGES / MAX_CHUNK of them)


def test_eval_instance(runner, cluster, data):
    folder, gt, pred = data
    dets = detections(folder, pred)
    local, remote, tasks = both(runner, cluster, "eval", "instance", gt, dets, "--json", "-", "-q")
    assert local.exit_code == 0, local.output
    assert remote.stdout == local.stdout
    assert 0 < json.loads(local.stdout)["AP"] < 1
    assert tasks > 0


def test_eval_semantic(runner, cluster, data, tmp_path):
    _, gt, pred = data
    for src, dst in ((gt, tmp_path / "gt"), (pred, tmp_path / "pred")):
        assert invoke(runner, "convert", src, dst, "--to", "semantic", "--jobs", "1", "-q").exit_code == 0
    local, remote, tasks = both(runner, cluster, "eval", "semantic", tmp_path / "gt", tmp_path / "pred", "--json", "-")
    assert local.exit_code == 0, local.output
    assert remote.stdout == local.stdout
    assert 0 < json.loads(local.stdout)["mIoU"] < 1
    assert tasks > 0


def test_validate_findings(runner, cluster, data, tmp_path):
    _, gt, _ = data
    broken = json.loads(gt.read_text())
    broken["annotations"][3]["segments_info"].append({"id": 4242, "category_id": 1, "iscrowd": 0})
    broken["annotations"][70]["segments_info"][0]["area"] += 5
    src = tmp_path / "broken.json"
    src.write_text(json.dumps(broken))
    (tmp_path / "broken").symlink_to(gt.with_suffix(""))
    local, remote, tasks = both(runner, cluster, "validate", src, "--json", "-")
    assert local.exit_code == remote.exit_code == 1, local.output
    assert remote.stdout == local.stdout
    assert tasks > 0


@pytest.mark.parametrize(("target", "name"), [("coco-instance", "out.json"), ("semantic", "out")])
def test_convert_writes_the_same_bytes(runner, cluster, data, tmp_path, target, name):
    _, gt, _ = data
    address, client = cluster
    client.wait_for_workers(2, timeout=60)
    a, b = tmp_path / "local", tmp_path / "remote"
    assert invoke(runner, "convert", gt, a / name, "--to", target, "--jobs", "1", "-q").exit_code == 0
    before = executed(client)
    r = invoke(runner, "convert", gt, b / name, "--to", target, "--scheduler", address, "-q")
    assert r.exit_code == 0, r.output
    assert executed(client) > before
    assert tree(a) == tree(b)
    assert len(tree(a)) == (1 if target == "coco-instance" else N_IMAGES + 2)  # + categories.json, images.json


def test_info_and_preview(runner, cluster, data, tmp_path):
    _, gt, pred = data
    local, remote, _ = both(runner, cluster, "info", gt, "--json", "-")
    assert local.exit_code == 0 and remote.stdout == local.stdout
    address, _ = cluster
    outs = []
    for how, extra in (("local", ["--jobs", "1"]), ("remote", ["--scheduler", address])):
        out = tmp_path / how
        r = invoke(runner, "preview", gt, out, "--pred", pred, "--sample", 40, "--html", *extra)
        assert r.exit_code == 0, r.output
        outs.append(tree(out))
    assert len(outs[0]) >= 40 and outs[0] == outs[1]


def test_an_error_in_a_worker_is_the_same_line(runner, cluster, data, tmp_path):
    """A prediction PNG missing: the worker's FormatError comes back as --jobs 1's line."""
    _, gt, pred = data
    broken = json.loads(pred.read_text())
    broken["annotations"][90]["file_name"] = "gone.png"
    src = tmp_path / "pred.json"
    src.write_text(json.dumps(broken))
    (tmp_path / "pred").symlink_to(pred.with_suffix(""))
    local, remote, _ = both(runner, cluster, "eval", "panoptic", gt, src, "-q")
    assert_bad_input(local, "gone.png")
    assert_bad_input(remote, "gone.png")
    assert remote.stderr == local.stderr


def test_imap_window_and_order(cluster):
    """parallel.imap inside use_scheduler: results in input order, and no more than 4 chunks
    per worker thread taken from the input ahead of the consumer (memory stays bounded): of
    the caller's size until one came back, then of at most MAX_CHUNK items."""
    from segtool import parallel
    from segtool.errors import one_line  # a module-level segtool function the workers import

    address, client = cluster
    client.wait_for_workers(2, timeout=60)
    pulled = []

    def items():
        for k in range(1000):
            pulled.append(k)
            yield f"image\n{k}"

    with parallel.use_scheduler(address):
        results = parallel.imap(one_line, items(), jobs=2, chunksize=8)
        first = next(results)
        ahead = len(pulled)
        rest = list(results)
    assert [first, *rest] == [f"image\\n{k}" for k in range(1000)]
    assert 8 <= ahead <= 4 * 2 * 8 + parallel_dask.MAX_CHUNK  # the window, and the chunk sent when the first came back
    assert parallel_dask.current() is None


def test_client_keeps_no_log_of_sent_tasks(cluster):
    """The client segtool connects keeps no copy of the batches it sent (distributed's
    debugging log held the last 1,000: the client's memory grew with the images)."""
    address, _ = cluster
    client = parallel_dask.connect(address)
    try:
        assert client.scheduler_comm.recent_message_log.maxlen == 0
    finally:
        client.close()


def test_environment_variable(runner, cluster, data):
    _, gt, _ = data
    address, client = cluster
    before = executed(client)
    r = runner.invoke(main, ["info", str(gt), "-q"], env={"SEGTOOL_SCHEDULER": address})
    assert r.exit_code == 0, r.output
    assert executed(client) > before


def test_unreachable_scheduler(runner, data):
    _, gt, _ = data
    t = time.monotonic()
    r = invoke(runner, "eval", "panoptic", gt, gt, "--scheduler", "tcp://127.0.0.1:9")
    assert_bad_input(r, "tcp://127.0.0.1:9")
    assert time.monotonic() - t < parallel_dask.CONNECT_TIMEOUT
    assert_bad_input(invoke(runner, "info", gt, "--scheduler", "no-port"), "no-port")


def test_without_the_extra(runner, data, monkeypatch):
    _, gt, _ = data
    monkeypatch.setitem(sys.modules, "distributed", None)  # what `import distributed` meets when absent
    assert_bad_input(invoke(runner, "info", gt, "--scheduler", "tcp://127.0.0.1:9"), "pip install 'segtool[dask]'")


def test_worker_killed_mid_run(runner, cluster, data, monkeypatch):
    """SIGKILL of one worker process while eval runs one image per task: Dask runs that
    worker's tasks again (its nanny starts a new one) and the result is unchanged."""
    _, gt, pred = data
    address, client = cluster
    client.wait_for_workers(2, timeout=60)
    expected = invoke(runner, "eval", "panoptic", gt, pred, "--json", "-", "-q", "--jobs", "1")
    monkeypatch.setattr(parallel_dask, "MAX_CHUNK", 1)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    start = executed(client)
    state = {"running": True, "killed_at": None}

    def kill_when_busy() -> None:
        done = 0
        while state["running"] and done < 10:
            time.sleep(0.01)
            done = executed(client) - start
        if state["running"]:
            os.kill(victim, signal.SIGKILL)
            state["killed_at"] = done

    watcher = threading.Thread(target=kill_when_busy)
    watcher.start()
    got = invoke(runner, "eval", "panoptic", gt, pred, "--json", "-", "-q", "--scheduler", address)
    state["running"] = False
    watcher.join()
    assert state["killed_at"] is not None, "the run ended before the kill"
    assert state["killed_at"] < N_IMAGES / 2  # one image a task: most of the run was still to come
    assert got.exit_code == 0, got.output
    assert got.stdout == expected.stdout
    client.wait_for_workers(2, timeout=60)
    assert victim not in client.run(os.getpid).values()  # a new worker process took its place


def test_scheduler_lost_mid_run(runner, data, monkeypatch):
    """The scheduler killed while eval runs (one image a task, a few done): one line naming
    it, exit 2, without waiting out the reconnection timeout."""
    _, gt, pred = data
    monkeypatch.setattr(parallel_dask, "MAX_CHUNK", 1)
    real_imap = parallel_dask.imap

    def paced(cluster: Any, fn: Any, items: Any, **kwargs: Any) -> Any:
        """Images handed out 20 ms apart: the run lasts > 2 s, so the kill lands mid-run however
        fast the images go (they once all went before the killer saw 3 done)."""

        def slowly() -> Any:
            for item in items:
                time.sleep(0.02)
                yield item

        return real_imap(cluster, fn, slowly(), **kwargs)

    monkeypatch.setattr(parallel_dask, "imap", paced)
    with tempfile.TemporaryDirectory(prefix="segtool-dask-") as folder, local_cluster(Path(folder), 1) as cluster:
        procs, address, client = cluster
        state = {"running": True, "killed": False}

        def kill_when_started() -> None:
            while state["running"] and executed(client) < 3:
                time.sleep(0.01)
            procs[0].kill()
            procs[0].wait()  # reaped: the fixture then sees it gone, not a scheduler to shut down (60 s)
            state["killed"] = state["running"]

        killer = threading.Thread(target=kill_when_started)
        killer.start()
        t = time.monotonic()
        try:
            r = invoke(runner, "eval", "panoptic", gt, pred, "-q", "--scheduler", address)
        finally:
            state["running"] = False
            killer.join()
        took = time.monotonic() - t
    assert state["killed"], "eval ended before the scheduler was killed"
    assert_bad_input(r, f"lost the Dask scheduler at {address}")
    assert took < parallel_dask.CONNECT_TIMEOUT


def _callers(tree):
    """(call, names of the enclosing functions' parameters) for every call in ``tree``."""
    import ast

    def walk(node, params):
        for child in ast.iter_child_nodes(node):
            inner = params
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = params | {a.arg for a in ast.walk(child.args) if isinstance(a, ast.arg)}
            if isinstance(child, ast.Call):
                yield child, inner
            yield from walk(child, inner)

    yield from walk(tree, frozenset())


def test_work_sent_to_workers_is_module_level():
    """Every function handed to imap (directly, through checks.runner.run_checks, or a
    writer's ``run``) is a module-level function, defined or imported at the top of its
    module: cloudpickle then sends it by reference, and a worker runs its own segtool's. A
    parameter passed on is checked where it is given."""
    import ast

    import segtool

    checked = 0
    for path in sorted(Path(segtool.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        top = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        top |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
        for call, params in _callers(tree):
            name = getattr(call.func, "id", None)
            if name in {"imap", "run_checks", "run"} and call.args and not isinstance(call.func, ast.Attribute):
                fn = call.args[0]
                where = f"{path.relative_to(path.parents[1])}:{call.lineno}"
                assert isinstance(fn, ast.Name), f"{where}: {ast.unparse(fn)} is not a function's name"
                assert fn.id in top or fn.id in params, f"{where}: {fn.id} is not a module-level function"
                checked += fn.id in top
    assert checked >= 25  # the metrics', checks', writers', info's and preview's per-image functions


def test_workers_dying_again_and_again(runner, tmp_path, monkeypatch):
    """A chunk whose worker dies more often than the scheduler allows (here: once, with
    allowed-failures 0 and no retries) fails the run in one line, exit 2, saying what to
    look at. Images big enough that a chunk keeps its worker busy; the kill waits until the
    victim runs one."""
    gt, pred = make_pair(tmp_path, 16, 240, 320)
    monkeypatch.setattr(parallel_dask, "MAX_CHUNK", 4)
    monkeypatch.setattr(parallel_dask, "RETRIES", 0)
    strict = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    with tempfile.TemporaryDirectory(prefix="segtool-dask-") as folder, local_cluster(Path(folder), 2, **strict) as c:
        _, address, client = c
        victim, pid = sorted(client.run(os.getpid).items())[0]
        state = {"running": True, "killed": False}

        def kill_when_busy() -> None:
            while state["running"] and not client.processing(workers=[victim]).get(victim):
                time.sleep(0.005)
            os.kill(pid, signal.SIGKILL)
            state["killed"] = state["running"]

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        try:
            r = invoke(runner, "eval", "panoptic", gt, pred, "-q", "--scheduler", address)
        finally:
            state["running"] = False
            killer.join()
    assert state["killed"], "eval ended before the worker was killed"
    assert_bad_input(r, "1 Dask workers died running the same images", "--memory-limit")


def test_chunk_sizes_follow_the_work():
    """Chunks of the caller's size (at most FIRST_CHUNK) until one came back, then as many
    items as take TASK_SECONDS at the average time per item so far, within 1..MAX_CHUNK."""
    sizer = parallel_dask._Sizer(32)
    assert sizer.size == parallel_dask.FIRST_CHUNK == 16
    assert parallel_dask._Sizer(4).size == 4
    sizer.took(0.016, 16)  # 1 ms an item: 0.25 s is 250 items
    assert sizer.size == 250
    sizer.took(0.0, 16)  # 0.5 ms an item on average now: more than MAX_CHUNK fit
    assert sizer.size == parallel_dask.MAX_CHUNK == 256
    slow = parallel_dask._Sizer(16)
    slow.took(4.0, 16)  # 0.25 s an item: one a task
    assert slow.size == 1
    slow.took(100.0, 1)
    assert slow.size == 1
    instant = parallel_dask._Sizer(16)
    instant.took(0.0, 16)
    assert instant.size == parallel_dask.MAX_CHUNK


def test_chunk_sizes_capped(monkeypatch):
    """MAX_CHUNK bounds every chunk, the first included (the kill tests run one image a task)."""
    monkeypatch.setattr(parallel_dask, "MAX_CHUNK", 1)
    sizer = parallel_dask._Sizer(32)
    assert sizer.size == 1
    sizer.took(0.0001, 1)
    assert sizer.size == 1
