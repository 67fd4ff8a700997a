"""Time panoptic → instance (RLE) and panoptic → semantic beside the PNG-decoding floor.

Usage: python benchmarks/bench_convert.py [--images 1000] [--data bench_out/data]

Prints images per second for segtool with --jobs 1 and --jobs 2, and the floor measured in
the same run (decoding the same PNGs with Pillow and nothing else). Goal: single-process
conversion within 2x the floor, and --jobs 2 near 2x faster than --jobs 1.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import decode_floor, make_panoptic

from segtool import WriteOptions, convert


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--data", type=Path, default=Path("bench_out/data"))
    args = ap.parse_args()
    src = make_panoptic(args.data, args.images)
    out = args.data.parent / "convert"
    floor = decode_floor(src.with_suffix(""))
    n = args.images
    print(f"{n} images 640x480; PNG-decoding floor (Pillow, 1 process): {floor:.2f} s = {n / floor:.0f} img/s")
    print(f"{'conversion':<34}{'jobs':>5}{'seconds':>9}{'img/s':>8}{'x floor':>9}{'speed-up':>10}")
    for target, dst in (("coco-instance", out / "inst.json"), ("semantic", out / "sem")):
        base = None
        for jobs in (1, 2):
            shutil.rmtree(out, ignore_errors=True)
            t = time.perf_counter()
            convert(src, dst, WriteOptions(target), jobs=jobs)
            dt = time.perf_counter() - t
            base = base or dt
            print(
                f"{'coco-panoptic -> ' + target:<34}{jobs:>5}{dt:>9.2f}{n / dt:>8.0f}{dt / floor:>9.2f}{base / dt:>10.2f}"
            )
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
