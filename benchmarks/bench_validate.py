"""Time ``validate`` on 1,000 panoptic images and the same as a COCO instance JSON, beside the
PNG-decoding floor, and its peak memory on 1,000 vs 4,000 images.

Usage: python benchmarks/bench_validate.py [--images 1000] [--data bench_out/data1000]

The floor is decoding the same PNGs with Pillow and nothing else, in the same run. Goals:
one process within 1.5x the floor, --jobs 2 scaling toward this machine's ceiling (the same
decoding in 2 processes), and memory that does not grow with the number of images.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import PEAK_KB, arguments, decode_floor, decode_floor_parallel, make_panoptic, timed

from segtool import WriteOptions, convert
from segtool.formats.coco_instance_checks import validate_instance
from segtool.formats.coco_panoptic_checks import validate_panoptic
from segtool.parallel import tune_allocator, warm_up

_CHILD = (
    PEAK_KB
    + """
import sys
from pathlib import Path
from segtool.formats.coco_instance_checks import validate_instance
from segtool.formats.coco_panoptic_checks import validate_panoptic
from segtool.parallel import tune_allocator
tune_allocator()
if sys.argv[1] == "panoptic":
    report = validate_panoptic(Path(sys.argv[2]), masks_dir=Path(sys.argv[3]))
else:
    report = validate_instance(Path(sys.argv[2]))
print(len(report.findings), peak_kb())
"""
)


def copies(src: Path, dst: Path, k: int) -> Path:
    """``src``'s records k times over, with fresh image (and annotation) ids and file names;
    panoptic annotations keep naming the same PNGs, so no pixel data is duplicated."""
    data = json.loads(src.read_text())
    n = len(data["images"])
    top = max((a.get("id", 0) for a in data["annotations"]), default=0)
    images, anns = [], []
    for c in range(k):
        images += [{**im, "id": im["id"] + c * n, "file_name": f"{c}_{im['file_name']}"} for im in data["images"]]
        for a in data["annotations"]:
            a = {**a, "image_id": a["image_id"] + c * n}
            if "id" in a:
                a["id"] += c * top
            anns.append(a)
    dst.write_text(json.dumps({**data, "images": images, "annotations": anns}))
    return dst


def peak(kind: str, path: Path, masks: Path) -> tuple[int, float]:
    """(findings, peak resident MB) of validating ``path`` in a fresh process, one process."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(path), str(masks)], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1024


def main() -> None:
    args = arguments(__doc__, 1000, "bench_out/data1000")
    tune_allocator()  # as the CLI does
    pan = make_panoptic(args.data, args.images)
    pngs = pan.with_suffix("")
    inst = args.data / "instances_all.json"
    if not inst.exists():
        convert(pan, inst, WriteOptions("coco-instance"), jobs=2)
    n = args.images
    runs = {
        ("coco-panoptic", 1): lambda: validate_panoptic(pan, jobs=1),
        ("coco-panoptic", 2): lambda: validate_panoptic(pan, jobs=2),
        ("coco-instance", 1): lambda: validate_instance(inst, jobs=1),
        ("coco-instance", 2): lambda: validate_instance(inst, jobs=2),
    }
    found = {key[0]: len(fn().findings) for key, fn in runs.items()}  # also warms the file cache
    best: dict[object, float] = {}
    for _ in range(args.repeat):  # the machine is noisy: interleave, keep each one's best round
        for key, value in (("floor", lambda: decode_floor(pngs)), ("floor2", lambda: decode_floor_parallel(pngs, 2))):
            best[key] = min(best.get(key, float("inf")), value())
        for key, fn in runs.items():
            warm_up(key[1])
            best[key] = min(best.get(key, float("inf")), timed(fn))
    floor, floor2 = best["floor"], best["floor2"]
    segments = sum(len(a["segments_info"]) for a in json.loads(pan.read_text())["annotations"])
    print(f"{n} images 640x480, {segments} segments, best of {args.repeat} interleaved rounds")
    print(f"PNG-decoding floor (Pillow, 1 process): {floor:.2f} s = {n / floor:.0f} img/s")
    print(f"the same with 2 processes: {floor2:.2f} s, a speed-up of {floor / floor2:.2f} (this machine's ceiling)")
    print(f"{'validate':<16}{'jobs':>5}{'seconds':>9}{'img/s':>8}{'x floor':>9}{'speed-up':>10}{'findings':>10}")
    for (fmt, jobs), _ in runs.items():
        dt = best[(fmt, jobs)]
        speedup = best[(fmt, 1)] / dt
        print(f"{fmt:<16}{jobs:>5}{dt:>9.2f}{n / dt:>8.0f}{dt / floor:>9.2f}{speedup:>10.2f}{found[fmt]:>10}")
    if args.no_memory:
        return
    print(f"\npeak memory (MB), one process:{n:>10} img{4 * n:>9} img{'ratio':>8}")
    for kind, path in (("panoptic", pan), ("instance", inst)):
        big = copies(path, path.with_name(f"{path.stem}_x4.json"), 4)
        (f1, small_mb), (f4, big_mb) = peak(kind, path, pngs), peak(kind, big, pngs)
        print(f"{'coco-' + kind:<30}{small_mb:>10.0f}{big_mb:>13.0f}{big_mb / small_mb:>8.2f}   findings {f1} / {f4}")


if __name__ == "__main__":
    main()
