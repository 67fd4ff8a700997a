"""Time eval panoptic with --jobs 1, --jobs 2 and --scheduler (a local 2-worker Dask cluster).

Usage: python benchmarks/bench_scale.py [--images 200] [--copies 10] [--data bench_out/data200] [--repeat 3]

The ground truth and prediction are bench_eval's (640x480, 20-40 things and 3-5 stuff bands
per image, the prediction shifted and perturbed), --images of them generated and scored
--copies times under new image ids (PQ's per-image work is a few ms: a run must be long
enough for the start-up of workers not to be all it measures). The cluster is a `dask scheduler` and two
`dask worker --nthreads 1` processes on 127.0.0.1, started before the rounds (a cluster is
there before a job is sent to it) and stopped after. Each command is the `segtool` CLI in a
fresh process, start-up included; rounds are interleaved and each time is the best of
--repeat. Prints the times, the speed-up over --jobs 1, and checks the three --json outputs
are byte-identical. The speed-up on one machine measures the overhead of the cluster's
transport against local processes; on a cluster the workers are other machines' cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_eval import make_predictions
from common import make_panoptic

BIN = Path(sys.executable).parent


@contextmanager
def local_cluster(workers: int = 2) -> Iterator[str]:
    """A scheduler and ``workers`` single-thread workers on 127.0.0.1: its address."""
    with tempfile.TemporaryDirectory(prefix="segtool-bench-dask-") as home:
        sched_file = Path(home) / "scheduler.json"
        quiet = {"cwd": home, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        cmd = [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
        procs = [subprocess.Popen([*cmd, "--scheduler-file", sched_file], **quiet)]
        try:
            while not sched_file.exists():
                time.sleep(0.1)
            worker = [BIN / "dask", "worker", "--scheduler-file", sched_file, "--nthreads", "1", "--no-dashboard"]
            procs += [subprocess.Popen(worker, **quiet) for _ in range(workers)]
            from distributed import Client

            with Client(scheduler_file=str(sched_file), set_as_default=False) as client:
                client.wait_for_workers(workers, timeout=120)
            yield json.loads(sched_file.read_text())["address"]
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in procs:
                p.wait(timeout=30)


def repeated(gt: Path, pred: Path, copies: int) -> tuple[Path, Path]:
    """``gt`` and ``pred`` ``copies`` times over, under new image ids, beside them (their PNG
    folders linked under the new names)."""
    g, p = json.loads(gt.read_text()), json.loads(pred.read_text())
    n = len(g["images"])
    out = []
    for src, data in ((gt, g), (pred, p)):
        big = src.with_name(f"{src.stem}_x{copies}.json")
        anns = [{**a, "image_id": a["image_id"] + k * n} for k in range(copies) for a in data["annotations"]]
        doc = {**data, "annotations": anns}
        if "images" in data:
            doc["images"] = [{**im, "id": im["id"] + k * n} for k in range(copies) for im in data["images"]]
        big.write_text(json.dumps(doc))
        if not big.with_suffix("").exists():
            big.with_suffix("").symlink_to(src.with_suffix("").name)
        out.append(big)
    return out[0], out[1]


def run(gt: Path, pred: Path, out: Path, how: list[str]) -> float:
    """Seconds of one `segtool eval panoptic` run, its --json written to ``out``."""
    cmd = [BIN / "segtool", "eval", "panoptic", gt, pred, "--json", out, "--overwrite", "-q", *how]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env={k: v for k, v in os.environ.items() if k != "SEGTOOL_SCHEDULER"})
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200, help="images generated")
    ap.add_argument("--copies", type=int, default=10, help="times each is scored, under new ids")
    ap.add_argument("--data", type=Path, default=Path("bench_out/data200"))
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each time is the best of them")
    args = ap.parse_args()
    gt, pred = repeated(
        make_panoptic(args.data, args.images), make_predictions(args.data / "panoptic.json"), args.copies
    )
    n = args.images * args.copies
    with local_cluster() as address:
        ways = {
            "--jobs 1": ("jobs1", ["--jobs", "1"]),
            "--jobs 2": ("jobs2", ["--jobs", "2"]),
            "--scheduler (2 workers)": ("dask", ["--scheduler", address]),
        }
        best = dict.fromkeys(ways, float("inf"))
        for _ in range(args.repeat):
            for name, (tag, how) in ways.items():
                best[name] = min(best[name], run(gt, pred, args.data / f"scale_{tag}.json", how))
    outputs = {(args.data / f"scale_{tag}.json").read_bytes() for tag, _ in ways.values()}
    print(f"eval panoptic, {n} images 640x480 ({args.images} x {args.copies}), best of {args.repeat} interleaved")
    print(f"rounds, CLI start-up included; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'how':<26}{'seconds':>9}{'img/s':>8}{'speed-up':>10}")
    for name, seconds in best.items():
        print(f"{name:<26}{seconds:>9.2f}{n / seconds:>8.0f}{best['--jobs 1'] / seconds:>10.2f}")
    print("outputs identical:", "yes" if len(outputs) == 1 else f"NO ({len(outputs)} different)")


if __name__ == "__main__":
    main()
