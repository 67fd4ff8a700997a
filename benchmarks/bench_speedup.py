"""Speed-up of --jobs 2 and of a local 2-worker Dask cluster over --jobs 1.

Usage:
  python benchmarks/bench_speedup.py [--size 5000] [--rounds 2] [--data bench_out/scale320]

Issue 15's "docs/scale.md ... with the measured speed-up". ``segtool validate`` and
``segtool eval panoptic`` on bench_scale's generated 320x240 panoptic pairs (the first
``--size`` images), each as a fresh CLI process (start-up included) with ``--jobs 1``,
``--jobs 2`` and ``--scheduler`` (one ``dask scheduler`` and two ``dask worker --nthreads 1``
on 127.0.0.1, started once and kept for every round: a cluster outlives the runs sent to it),
in interleaved rounds, best of each. The three --json outputs of each command must be
byte-identical. On one machine of 2 cores the cluster can at best match --jobs 2: the figure
says what the transport costs; on a real cluster the workers are other machines' cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_scale import COMMANDS, generate, local_cluster, run_cli, write_size

MODES = ("--jobs 1", "--jobs 2", "--scheduler")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=5000, help="images per run")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds, best of each")
    ap.add_argument("--data", type=Path, default=Path("bench_out/scale320"), help="generated data (cached)")
    args = ap.parse_args()
    h, w = 240, 320
    generate(args.data / "pool", args.size, h, w)
    gt, pred = write_size(args.data / "pool", args.data / f"n{args.size}", args.size, h, w)
    scratch = Path(tempfile.mkdtemp(prefix="bench-speedup-", dir=args.data))
    best: dict[tuple[str, str], float] = {}
    loads: list[float] = [os.getloadavg()[0]]
    with local_cluster() as cluster:
        for _ in range(args.rounds):
            for command, argv in COMMANDS.items():
                outputs = set()
                for mode in MODES:
                    out = scratch / f"{command.replace(' ', '_')}_{mode.strip('-').replace(' ', '')}.json"
                    extra = ["--scheduler", cluster.address] if mode == "--scheduler" else mode.split()
                    seconds, _, _ = run_cli([*argv(gt.resolve(), pred.resolve(), out), *extra], scratch)
                    best[command, mode] = min(best.get((command, mode), float("inf")), seconds)
                    outputs.add(out.read_bytes())
                    print(f"  {command} {mode}: {seconds:.2f} s", flush=True)
                if len(outputs) != 1:
                    raise SystemExit(f"{command}: the --json outputs of {', '.join(MODES)} differ")
                loads.append(os.getloadavg()[0])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(
        f"\n{args.size} generated {w}x{h} panoptic pairs, best of {args.rounds} interleaved rounds, CLI start-up "
        f"included; outputs byte-identical; commit {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"load {min(loads):.1f}-{max(loads):.1f}"
    )
    print(f"{'command':<15}{'mode':<14}{'seconds':>8}{'img/s':>7}{'speed-up':>9}")
    for command in COMMANDS:
        one = best[command, "--jobs 1"]
        for mode in MODES:
            s = best[command, mode]
            print(f"{command:<15}{mode:<14}{s:>8.2f}{args.size / s:>7.0f}{one / s:>9.2f}")


if __name__ == "__main__":
    main()
