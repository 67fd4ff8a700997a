"""Time panoptic → instance (RLE) and panoptic → semantic beside the PNG-decoding floor.

Usage: python benchmarks/bench_convert.py [--images 1000] [--data bench_out/data]

Prints images per second for segtool with --jobs 1 and --jobs 2, and the floor measured in
the same run (decoding the same PNGs with Pillow and nothing else). Goal: single-process
conversion within 2x the floor, and --jobs 2 near 2x faster than --jobs 1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import PEAK_KB, arguments, decode_floor, decode_floor_parallel, make_panoptic, timed

from segtool import WriteOptions, convert
from segtool.parallel import tune_allocator, warm_up

_CHILD = (
    PEAK_KB
    + """
import sys
from pathlib import Path
from segtool import WriteOptions, convert
from segtool.parallel import tune_allocator
convert(Path(sys.argv[1]), Path(sys.argv[2]), WriteOptions(sys.argv[3]), read_options={"masks": Path(sys.argv[4])})
print(peak_kb())
"""
)


def peak_rss_mb(src: Path, masks: Path, target: str, out: Path) -> float:
    """Peak resident memory of a fresh process converting ``src`` (one process, --jobs 1)."""
    shutil.rmtree(out, ignore_errors=True)
    dst = out / ("sem" if target == "semantic" else "o.json")
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, str(src), str(dst), target, str(masks)],
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.rmtree(out, ignore_errors=True)
    return int(res.stdout.split()[-1]) / 1024


def memory(src: Path, out: Path) -> None:
    """Peak memory converting a quarter of the images vs all of them: it must not grow."""
    data = json.loads(src.read_text())
    quarter = len(data["images"]) // 4
    sub = src.with_name("quarter.json")
    sub.write_text(
        json.dumps({**data, "images": data["images"][:quarter], "annotations": data["annotations"][:quarter]})
    )
    print(f"\npeak memory (MB), one process:{'':<6}{quarter:>8} img{len(data['images']):>9} img{'ratio':>8}")
    for target in ("coco-instance", "semantic"):
        small = peak_rss_mb(sub, src.with_suffix(""), target, out)
        big = peak_rss_mb(src, src.with_suffix(""), target, out)
        print(f"{'coco-panoptic -> ' + target:<36}{small:>12.0f}{big:>13.0f}{big / small:>8.2f}")


def main() -> None:
    args = arguments(__doc__, 1000, "bench_out/data")
    tune_allocator()  # as the CLI does
    src = make_panoptic(args.data, args.images)
    out = args.data.parent / "convert"
    pngs = src.with_suffix("")
    n = args.images
    runs = [("coco-instance", out / "inst.json", j) for j in (1, 2)] + [("semantic", out / "sem", j) for j in (1, 2)]
    best: dict[str, float] = {}

    def keep(key: str, seconds: float) -> None:
        best[key] = min(best.get(key, float("inf")), seconds)

    def run(target: str, dst: Path, jobs: int) -> None:
        shutil.rmtree(out, ignore_errors=True)
        warm_up(jobs)  # as the CLI does, before reading
        convert(src, dst, WriteOptions(target), jobs=jobs)

    # the machine is noisy: interleave the floor with our runs, keep each one's best round
    for _ in range(args.repeat):
        keep("floor", decode_floor(pngs))
        keep("floor2", decode_floor_parallel(pngs, 2))
        for target, dst, jobs in runs:
            keep(f"{target}/{jobs}", timed(lambda t=target, d=dst, j=jobs: run(t, d, j)))
    floor, floor2 = best["floor"], best["floor2"]
    print(f"{n} images 640x480, best of {args.repeat} interleaved rounds")
    print(f"PNG-decoding floor (Pillow, 1 process): {floor:.2f} s = {n / floor:.0f} img/s")
    print(
        f"the same with 2 processes: {floor2:.2f} s, a speed-up of {floor / floor2:.2f} (this machine's ceiling for --jobs 2)"
    )
    print(f"{'conversion':<34}{'jobs':>5}{'seconds':>9}{'img/s':>8}{'x floor':>9}{'speed-up':>10}")
    for target, _, jobs in runs:
        dt = best[f"{target}/{jobs}"]
        print(
            f"{'coco-panoptic -> ' + target:<34}{jobs:>5}{dt:>9.2f}{n / dt:>8.0f}{dt / floor:>9.2f}{best[f'{target}/1'] / dt:>10.2f}"
        )
    shutil.rmtree(out, ignore_errors=True)
    if not args.no_memory:
        memory(src, out)


if __name__ == "__main__":
    main()
