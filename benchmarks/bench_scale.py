"""Scale: validate and eval panoptic at 5,000-20,000 images, on a local Dask cluster and --jobs 2.

Usage:
  python benchmarks/bench_scale.py [--sizes 5000 10000 20000] [--data bench_out/scale320]
  python benchmarks/bench_scale.py --per-core [--per-core-sizes 1000 5000]

Issue 15's "Measured" points. The data are bench_eval's generated panoptic ground truth and
prediction (3-5 stuff bands and 20-40 occluding things per image, the prediction shifted,
10% of its segments dropped, 10% relabelled) at 320x240, drawn by ``generate``: the same
random streams and pixels as common.make_panoptic + bench_eval.make_predictions (checked
against bench_out/data1000 by ``--check-generator``), but each shape drawn in its bounding
box only, and streamed: one image pair in memory at a time, the annotations appended to
JSON-lines files, so 20,000 images cost no more memory than 10. The largest size is drawn
once; each size's COCO JSON is its first N lines, its PNG folders links to the shared ones.

For each size, ``segtool validate`` and ``segtool eval panoptic`` run as fresh CLI processes
(start-up included), on a local cluster (a ``dask scheduler`` and two ``dask worker
--nthreads 1`` on 127.0.0.1, started anew for each size and command so each peak is its own)
and with --jobs 2. Recorded: wall time, images/s, the client's peak RSS (its own VmHWM,
written at exit by a wrapper) and the largest peak RSS of a worker process (VmHWM of each
nanny's children for the cluster, read after the run; of the client's pool processes for
--jobs 2, polled every 50 ms while they live). Then the ratios at the largest size over the
smallest: time per image (linear: ~1.0) and peak memory (flat: ~1.0). The --json outputs
of --scheduler and --jobs 2 must be byte-identical.

``--per-core`` runs bench_eval.py's PQ, mask AP and mIoU parts (hotcoco with its default
threads, segtool with its default --jobs, i.e. all cores; bench_eval checks the numbers
against panopticapi, pycocotools and hotcoco as always) at 1,000 and 5,000 images of
640x480 (bench_out/data1000 is bench_eval's own; data5000 is drawn here, the same stream
extended) and prints the ratios segtool/hotcoco: wall-clock time at the default --jobs, and
per core, the CPU time of segtool --jobs 1 (all its work in one process) against hotcoco's
(all its threads), the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from common import STUFF, THINGS, categories

BIN = Path(sys.executable).parent
HERE = Path(__file__).parent
XOR = 0x5A5A5A

# ---------------------------------------------------------------- generation (streamed)


def draw_gt(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """common.make_image's picture from the same draws: small ids (1.. in drawing order), the
    raw id of each small id, and (small id, category) of the segments present, ascending."""
    ids = np.zeros((h, w), np.int32)
    cats: dict[int, int] = {}
    next_id = 1
    cuts = np.sort(rng.integers(0, h, size=rng.integers(2, 5)))
    for top, bottom in zip([0, *cuts], [*cuts, h], strict=True):
        ids[top:bottom] = next_id
        cats[next_id] = int(rng.choice(STUFF))
        next_id += 1
    for _ in range(rng.integers(20, 41)):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        ry, rx = rng.integers(5, h // 4), rng.integers(5, w // 4)
        y0, y1, x0, x1 = max(cy - ry, 0), min(cy + ry + 1, h), max(cx - rx, 0), min(cx + rx + 1, w)
        box = ids[y0:y1, x0:x1]
        if rng.random() < 0.6:  # the same float expression as make_image's, on its box only
            yy, xx = np.arange(y0, y1, dtype=np.int64)[:, None], np.arange(x0, x1, dtype=np.int64)[None, :]
            box[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = next_id
        else:
            box[...] = next_id
        cats[next_id] = int(rng.choice(THINGS))
        next_id += 1
    ids[rng.random((h, w)) < 0.002] = 0
    raw = np.array([0] + [k * 40503 % (2**24 - 1) + 1 for k in range(1, next_id)], np.int64)
    present = np.flatnonzero(np.bincount(ids.ravel(), minlength=next_id))
    return ids, raw, [(int(k), cats[int(k)]) for k in present if k]


def segments(ids: np.ndarray, raw: np.ndarray, present: list[tuple[int, int]]) -> list[dict]:
    """make_image's segments_info: raw id, category, area and bbox of each present segment."""
    from scipy.ndimage import find_objects

    area = np.bincount(ids.ravel(), minlength=len(raw))
    boxes = find_objects(ids)
    out = []
    for k, cat in present:
        ys, xs = boxes[k - 1]
        bbox = [xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start]
        out.append({"id": int(raw[k]), "category_id": cat, "iscrowd": 0, "area": int(area[k]), "bbox": bbox})
    return out


def draw_pred(rng: np.random.Generator, ids: np.ndarray, raw: np.ndarray, segs: list[dict]) -> tuple[np.ndarray, list]:
    """bench_eval.make_predictions' prediction from the same draws, by lookup on small ids:
    shifted by up to 3 pixels, 10% of segments void, 10% of things another category."""
    shifted = np.roll(ids, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
    lut = np.zeros(len(raw), np.int64)
    small = {int(raw[k]): k for k in range(1, len(raw))}
    out = []
    for s in segs:
        r = rng.random()
        if r < 0.1:
            continue
        cat = int(rng.choice(THINGS)) if r < 0.2 and s["category_id"] in THINGS else s["category_id"]
        lut[small[s["id"]]] = s["id"] ^ XOR
        out.append({"id": s["id"] ^ XOR, "category_id": cat, "iscrowd": 0})
    return lut[shifted], out


def save_rgb(ids: np.ndarray, path: Path) -> None:
    Image.fromarray(np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)).save(path)


def generate(folder: Path, n: int, h: int, w: int) -> None:
    """``folder/{gt,pred}.jsonl`` (one annotation a line) and ``folder/{panoptic,pred}/``
    PNGs for n images, streamed; resumes nothing: a ``done_N`` file marks a complete set."""
    done = folder / f"done_{n}"
    if any(int(f.name[5:]) >= n for f in folder.glob("done_*")):  # the first n of a larger set
        return
    (folder / "panoptic").mkdir(parents=True, exist_ok=True)
    (folder / "pred").mkdir(exist_ok=True)
    rng_gt, rng_pred = np.random.default_rng(0), np.random.default_rng(1)
    t = time.perf_counter()
    with open(folder / "gt.jsonl", "w") as g, open(folder / "pred.jsonl", "w") as p:
        for i in range(1, n + 1):
            ids, raw, present = draw_gt(rng_gt, h, w)
            segs = segments(ids, raw, present)
            pred, pred_segs = draw_pred(rng_pred, ids, raw, segs)
            name = f"{i:06d}.png"
            save_rgb(raw[ids], folder / "panoptic" / name)
            save_rgb(pred, folder / "pred" / name)
            g.write(json.dumps({"image_id": i, "file_name": name, "segments_info": segs}) + "\n")
            p.write(json.dumps({"image_id": i, "file_name": name, "segments_info": pred_segs}) + "\n")
            if i % 1000 == 0:
                print(f"  generated {i}/{n} ({time.perf_counter() - t:.0f} s)", flush=True)
    done.write_text(json.dumps({"images": n, "height": h, "width": w}))


def write_size(pool: Path, dst: Path, n: int, h: int, w: int) -> tuple[Path, Path]:
    """``dst/panoptic.json`` and ``dst/pred.json`` for the pool's first n images, streamed
    line by line; ``dst/panoptic`` and ``dst/pred`` link to the pool's PNG folders."""
    dst.mkdir(parents=True, exist_ok=True)
    out = []
    for stem, src in (("panoptic", "gt"), ("pred", "pred")):
        path = dst / f"{stem}.json"
        if not (dst / stem).exists():
            (dst / stem).symlink_to(os.path.relpath(pool / stem, dst))
        out.append(path)
        if path.exists():
            continue
        tmp = path.with_suffix(".tmp")
        with open(pool / f"{src}.jsonl") as lines, open(tmp, "w") as f:
            if stem == "panoptic":
                f.write('{"images": [')
                f.write(
                    ", ".join(
                        json.dumps({"id": i, "file_name": f"{i:06d}.jpg", "height": h, "width": w})
                        for i in range(1, n + 1)
                    )
                )
                f.write("], ")
            f.write('"annotations": [' if stem == "panoptic" else '{"annotations": [')
            for i, line in enumerate(islice(lines, n)):
                f.write((", " if i else "") + line.rstrip("\n"))
            f.write("]" + (f', "categories": {json.dumps(categories())}}}' if stem == "panoptic" else "}"))
        tmp.rename(path)
    return out[0], out[1]


# ---------------------------------------------------------------- measuring


def vmhwm_kb(pid: int) -> int:
    """Peak resident memory of a live process, kB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (psutil if installed, else /proc's children files)."""
    try:
        import psutil

        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except ImportError:
        pass
    except Exception:  # psutil.NoSuchProcess: gone
        return []
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [
                int(k)
                for t in os.listdir(f"/proc/{p}/task")
                for k in Path(f"/proc/{p}/task/{t}/children").read_text().split()
            ]
        except OSError:
            continue
        out += kids
        todo += kids
    return out


@dataclass
class Cluster:
    address: str
    workers: list[subprocess.Popen]  # the `dask worker` processes (nannies)

    def worker_peak_kb(self) -> int:
        """The largest VmHWM among the nannies' children: the processes that ran the work."""
        return max((vmhwm_kb(p) for w in self.workers for p in descendants(w.pid)), default=0)


@contextmanager
def local_cluster(workers: int = 2) -> Iterator[Cluster]:
    """A scheduler and ``workers`` single-thread workers (each under a nanny) on 127.0.0.1."""
    with tempfile.TemporaryDirectory(prefix="segtool-bench-dask-") as home:
        sched_file = Path(home) / "scheduler.json"
        quiet = {"cwd": home, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        cmd = [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
        procs = [subprocess.Popen([*cmd, "--scheduler-file", sched_file], **quiet)]
        try:
            while not sched_file.exists():
                time.sleep(0.1)
            worker = [BIN / "dask", "worker", "--scheduler-file", sched_file, "--nthreads", "1", "--no-dashboard"]
            nannies = [subprocess.Popen(worker, **quiet) for _ in range(workers)]
            procs += nannies
            from distributed import Client

            with Client(scheduler_file=str(sched_file), set_as_default=False) as client:
                client.wait_for_workers(workers, timeout=120)
            yield Cluster(json.loads(sched_file.read_text())["address"], nannies)
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in procs:
                p.wait(timeout=30)


# The segtool CLI, writing its own VmHWM to argv[1] at exit (ru_maxrss would carry the
# benchmark's own peak across fork + exec: see common.PEAK_KB).
WRAPPER = """
import atexit, sys
out = sys.argv[1]
def peak():
    with open("/proc/self/status") as f:
        kb = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    with open(out, "w") as f:
        f.write(str(kb))
atexit.register(peak)
sys.argv = ["segtool", *sys.argv[2:]]
from segtool.cli import main
sys.exit(main())
"""


@dataclass
class Run:
    size: int
    command: str
    mode: str
    seconds: float
    client_kb: int
    worker_kb: int
    load: float


def run_cli(args: list, scratch: Path) -> tuple[float, int, int]:
    """Seconds, the client's peak kB and its pool processes' largest peak kB (polled) of one
    `segtool ARGS` run in a fresh process."""
    peak_file = scratch / "client_peak"
    peak_file.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "SEGTOOL_SCHEDULER"}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", WRAPPER, peak_file, *args], env=env)
    pool: dict[int, int] = {}
    while proc.poll() is None:
        for pid in descendants(proc.pid):
            pool[pid] = max(pool.get(pid, 0), vmhwm_kb(pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - t
    if proc.returncode not in (0, 1):  # validate exits 1 on findings at --fail-on
        raise SystemExit(f"segtool {' '.join(map(str, args))}: exit {proc.returncode}")
    return seconds, int(peak_file.read_text()), max(pool.values(), default=0)


COMMANDS = {
    "validate": lambda gt, pred, out: ["validate", gt, "--json", out, "--overwrite", "-q"],
    "eval panoptic": lambda gt, pred, out: ["eval", "panoptic", gt, pred, "--json", out, "--overwrite", "-q"],
}


def measure(size: int, gt: Path, pred: Path, scratch: Path) -> list[Run]:
    """Each command at this size on a fresh local cluster, then with --jobs 2; the two
    --json outputs compared byte for byte."""
    runs = []
    for command, argv in COMMANDS.items():
        outputs = {}
        for mode in ("--scheduler", "--jobs 2"):
            out = scratch / f"{command.replace(' ', '_')}_{size}_{mode.strip('-').replace(' ', '')}.json"
            if mode == "--scheduler":
                with local_cluster() as cluster:
                    seconds, client, _ = run_cli([*argv(gt, pred, out), "--scheduler", cluster.address], scratch)
                    worker = cluster.worker_peak_kb()
            else:
                seconds, client, worker = run_cli([*argv(gt, pred, out), "--jobs", "2"], scratch)
            runs.append(Run(size, command, mode, seconds, client, worker, os.getloadavg()[0]))
            outputs[mode] = out.read_bytes()
            print(f"  {size} {command} {mode}: {seconds:.1f} s", flush=True)
        same = len(set(outputs.values())) == 1
        print(f"  {size} {command}: --scheduler and --jobs 2 outputs {'identical' if same else 'DIFFER'}", flush=True)
        if not same:
            raise SystemExit(f"{command} at {size} images: --scheduler and --jobs 2 --json outputs differ")
    return runs


def report(runs: list[Run]) -> None:
    """The table, then largest size over smallest: time per image and peak memory."""
    print(
        f"{'size':>6}  {'command':<14}{'mode':<13}{'seconds':>8}{'img/s':>7}{'client MB':>10}{'worker MB':>10}{'load':>6}"
    )
    for r in runs:
        print(
            f"{r.size:>6}  {r.command:<14}{r.mode:<13}{r.seconds:>8.1f}{r.size / r.seconds:>7.0f}"
            f"{r.client_kb / 1024:>10.0f}{r.worker_kb / 1024:>10.0f}{r.load:>6.1f}"
        )
    lo, hi = min(r.size for r in runs), max(r.size for r in runs)
    if lo == hi:
        return
    print(f"\nratios {hi} / {lo} images: time per image (linear: ~1.0), peak MB (flat: ~1.0)")
    print(f"{'command':<14}{'mode':<13}{'s/img':>7}{'client':>8}{'worker':>8}")
    for a in (r for r in runs if r.size == lo):
        b = next(r for r in runs if r.size == hi and (r.command, r.mode) == (a.command, a.mode))
        per_image = (b.seconds / b.size) / (a.seconds / a.size)
        worker = f"{b.worker_kb / a.worker_kb:>8.2f}" if a.worker_kb else f"{'-':>8}"
        print(f"{a.command:<14}{a.mode:<13}{per_image:>7.2f}{b.client_kb / a.client_kb:>8.2f}{worker}")


def scale(args: argparse.Namespace) -> None:
    h, w = 240, 320
    pool = args.data / "pool"
    generate(pool, max(args.sizes), h, w)
    scratch = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=args.data))
    runs = []
    for size in sorted(args.sizes):
        gt, pred = write_size(pool, args.data / f"n{size}", size, h, w)
        runs += measure(size, gt.resolve(), pred.resolve(), scratch)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(
        f"\n{w}x{h} generated panoptic pairs; one run each, CLI start-up included; commit {commit}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(
        "cluster: dask scheduler + 2 x `dask worker --nthreads 1`, started anew per size and command; "
        "worker MB: largest VmHWM of a worker process (--jobs 2: of a pool process); load: 1-min average after the run"
    )
    report(runs)


# ---------------------------------------------------------------- per core, against hotcoco

# bench_eval part -> (metric, the reference bench_eval checks it against, regex of hotcoco's seconds and segtool's ratio to them at the
# default --jobs, the last "--jobs N takes" of the line; regex of hotcoco's CPU seconds and the ratio of segtool --jobs 1's CPU
# time to them: per core, all of segtool's work in one process against all of hotcoco's threads); the parity is the largest of
# every "max difference to X" / "differs by" bench_eval prints (each against the part's reference).
PER_CORE = {
    "pq": (
        "PQ",
        "panopticapi",
        r"hotcoco pq_compute: ([\d.]+) s \(segtool takes ([\d.]+)x",
        r"hotcoco pq_compute: .*; ([\d.]+) s CPU, segtool --jobs 1 takes ([\d.]+)x its CPU time",
    ),
    "map": (
        "mask AP",
        "pycocotools",
        r"hotcoco: ([\d.]+) s .*--jobs \d+ takes ([\d.]+)x its time, [\d.]+x its CPU time \(",
        r"hotcoco: [\d.]+ s \(([\d.]+) s CPU;.*segtool --jobs 1 takes [\d.]+x its time, ([\d.]+)x its CPU time",
    ),
    "miou": (
        "mIoU",
        "hotcoco",
        r"hotcoco SemanticEval: ([\d.]+) s \(segtool --jobs \d+ takes ([\d.]+)x",
        r"hotcoco SemanticEval: .*; ([\d.]+) s CPU, segtool --jobs 1 takes ([\d.]+)x its CPU time",
    ),
}
PARITY = r"(?:max difference to [\w-]+|differs by) ([\d.]+e[+-]\d+)"


def per_core(args: argparse.Namespace) -> None:
    """bench_eval's PQ, mask AP and mIoU parts at each size, segtool at its default --jobs
    (all cores) and hotcoco at its default threads (wall-clock ratio), and per core: segtool
    --jobs 1's CPU time against hotcoco's (all its threads); gathered in one table."""
    jobs = str(len(os.sched_getaffinity(0)))
    rows = []
    for n in args.per_core_sizes:
        data = Path(f"bench_out/data{n}")
        if not (data / "panoptic.json").exists():  # bench_eval's own stream, drawn faster and streamed
            generate(data, n, 480, 640)
            write_size(data, data, n, 480, 640)
        for part, (metric, ref, wall_re, cpu_re) in PER_CORE.items():
            cmd = [sys.executable, HERE / "bench_eval.py", "--images", str(n), "--data", data, "--jobs", jobs]
            cmd += ["--only", part, "--no-memory", "--rounds", str(args.rounds)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            print(out, end="", flush=True)
            wall, cpu = re.search(wall_re, out), re.search(cpu_re, out)
            parity = [float(d) for d in re.findall(PARITY, out)]
            rows.append((n, metric, ref, wall, cpu, parity, os.getloadavg()[0]))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(
        f"\nsegtool (--jobs {jobs}) against hotcoco (its default threads), 640x480, best of {args.rounds}; "
        f"CPU: segtool --jobs 1 against hotcoco's threads; commit {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(
        f"{'images':>6}  {'metric':<9}{'hotcoco s':>10}{'wall ratio':>11}{'hotcoco CPU':>12}{'CPU ratio':>10}"
        f"  {'max difference':>15}  {'to':<12}{'load':>5}"
    )
    for n, metric, ref, wall, cpu, parity, load in rows:
        hot, r = (wall.group(1), wall.group(2) + "x") if wall else ("?", "?")
        hot_cpu, r_cpu = (cpu.group(1), cpu.group(2) + "x") if cpu else ("?", "?")
        shown = f"{max(parity):.1e}" if parity else "not parsed"
        print(f"{n:>6}  {metric:<9}{hot:>10}{r:>11}{hot_cpu:>12}{r_cpu:>10}  {shown:>15}  {ref:<12}{load:>5.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000], help="images per run")
    ap.add_argument("--data", type=Path, default=Path("bench_out/scale320"), help="generated data (cached)")
    ap.add_argument("--per-core", action="store_true", help="bench_eval against hotcoco instead")
    ap.add_argument("--per-core-sizes", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--rounds", type=int, default=2, help="--per-core: bench_eval's interleaved rounds")
    ap.add_argument(
        "--check-generator", action="store_true", help="compare generate's first images with bench_out/data1000"
    )
    args = ap.parse_args()
    if args.check_generator:
        check_generator(Path("bench_out/data1000"), 20)
    elif args.per_core:
        per_core(args)
    else:
        scale(args)


def check_generator(data: Path, n: int) -> None:
    """generate's draws against bench_eval's own data (common.make_panoptic +
    make_predictions): segments_info and every pixel of the first n pairs."""
    gt, pred = (json.loads((data / f).read_text())["annotations"] for f in ("panoptic.json", "pred.json"))
    rng_gt, rng_pred = np.random.default_rng(0), np.random.default_rng(1)
    for i in range(n):
        ids, raw, present = draw_gt(rng_gt, 480, 640)
        segs = segments(ids, raw, present)
        pred_ids, pred_segs = draw_pred(rng_pred, ids, raw, segs)
        assert segs == gt[i]["segments_info"] and pred_segs == pred[i]["segments_info"], f"image {i + 1}: segments"
        for folder, want in (("panoptic", raw[ids]), ("pred", pred_ids)):
            rgb = np.asarray(Image.open(data / folder / gt[i]["file_name"]), dtype=np.int64)
            assert (rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2] == want).all(), f"image {i + 1}: {folder}"
    print(f"generate: the first {n} pairs equal {data}'s (segments and pixels)")


if __name__ == "__main__":
    main()
