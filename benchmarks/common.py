"""Synthetic COCO panoptic datasets for the benchmarks: realistic shapes, deterministic.

Each image has a few stuff bands (sky, road, wall …) and 20–40 things drawn as ellipses and
rectangles that occlude each other, so segments have ragged, partly hidden shapes.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

# Peak resident memory of a child process, in kB. Not ``ru_maxrss``: Linux carries that over
# from the parent through fork and exec, so a child started by a big benchmark process would
# report the parent's peak. VmHWM belongs to the address space, which exec replaces.
PEAK_KB = """
def peak_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
"""
THINGS = list(range(1, 81))
STUFF = list(range(92, 92 + 20))


def categories() -> list[dict]:
    rng = np.random.default_rng(7)
    cats = [{"id": c, "name": f"thing{c}", "isthing": 1} for c in THINGS] + [
        {"id": c, "name": f"stuff{c}", "isthing": 0} for c in STUFF
    ]
    for c in cats:
        c["color"] = rng.integers(0, 256, 3).tolist()
        c["supercategory"] = ""
    return cats


def make_image(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, list[dict]]:
    ids = np.zeros((h, w), np.int64)
    cats: dict[int, int] = {}
    next_id = 1
    yy, xx = np.mgrid[0:h, 0:w]
    cuts = np.sort(rng.integers(0, h, size=rng.integers(2, 5)))
    for top, bottom in zip([0, *cuts], [*cuts, h], strict=True):
        ids[top:bottom] = next_id
        cats[next_id] = int(rng.choice(STUFF))
        next_id += 1
    for _ in range(rng.integers(20, 41)):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        ry, rx = rng.integers(5, h // 4), rng.integers(5, w // 4)
        if rng.random() < 0.6:
            shape = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        else:
            shape = (abs(yy - cy) <= ry) & (abs(xx - cx) <= rx)
        ids[shape] = next_id
        cats[next_id] = int(rng.choice(THINGS))
        next_id += 1
    ids[rng.random((h, w)) < 0.002] = 0  # a sprinkle of void
    present, area = np.unique(ids, return_counts=True)
    # the stored id is a colour-like number, as COCO panoptic ids are
    raw = {int(k): int(k) * 40503 % (2**24 - 1) + 1 for k in present if k}
    lut = np.zeros(next_id, np.int64)
    for k, v in raw.items():
        lut[k] = v
    segs = []
    for k, a in zip(present.tolist(), area.tolist(), strict=True):
        if k == 0:
            continue
        ys, xs = np.nonzero(ids == k)
        segs.append(
            {
                "id": raw[k],
                "category_id": cats[k],
                "iscrowd": 0,
                "area": a,
                "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)],
            }
        )
    return lut[ids], segs


def make_panoptic(folder: Path, n: int, h: int = 480, w: int = 640, seed: int = 0) -> Path:
    """Write (or reuse) ``folder/panoptic.json`` + ``folder/panoptic/`` with ``n`` images."""
    json_path = folder / "panoptic.json"
    if json_path.exists() and len(json.loads(json_path.read_text())["images"]) == n:
        return json_path
    png_dir = folder / "panoptic"
    png_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, anns = [], []
    t = time.perf_counter()
    for i in range(1, n + 1):
        ids, segs = make_image(rng, h, w)
        rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
        Image.fromarray(rgb).save(png_dir / f"{i:06d}.png")
        images.append({"id": i, "file_name": f"{i:06d}.jpg", "height": h, "width": w})
        anns.append({"image_id": i, "file_name": f"{i:06d}.png", "segments_info": segs})
    json_path.write_text(json.dumps({"images": images, "annotations": anns, "categories": categories()}))
    print(f"generated {n} images in {time.perf_counter() - t:.1f} s")
    return json_path


def decode_floor(png_dir: Path, decoder: str = "pillow") -> float:
    """Seconds to read and decode every PNG of a folder and nothing else, with Pillow or
    with segtool's own decoder (libdeflate + the C row-unfilter)."""
    from segtool import png

    paths = sorted(png_dir.glob("*.png"))
    t = time.perf_counter()
    for p in paths:
        if decoder == "pillow":
            np.asarray(Image.open(p))
        else:
            png.decode(p.read_bytes())
    return time.perf_counter() - t


def _decode_all(paths: list[Path]) -> int:
    for p in paths:
        np.asarray(Image.open(p))
    return len(paths)


def decode_floor_parallel(png_dir: Path, jobs: int) -> float:
    """Seconds to decode every PNG with Pillow in ``jobs`` processes: how well this machine
    scales work that is nothing but decoding (the ceiling for any --jobs speed-up)."""
    from concurrent.futures import ProcessPoolExecutor

    paths = sorted(png_dir.glob("*.png"))
    parts = [paths[i::jobs] for i in range(jobs)]
    with ProcessPoolExecutor(jobs) as ex:
        list(ex.map(_decode_all, [p[:2] for p in parts]))  # start the workers first
        t = time.perf_counter()
        list(ex.map(_decode_all, parts))
        return time.perf_counter() - t


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def arguments(doc: str, images: int, data: str, memory: bool = True) -> argparse.Namespace:
    """The options every benchmark takes, parsed: --images, --data, --repeat (and --no-memory)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--images", type=int, default=images)
    ap.add_argument("--data", type=Path, default=Path(data))
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each time is the best of them")
    if memory:
        ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory comparison")
    return ap.parse_args()
