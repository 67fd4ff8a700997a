"""Time ``preview`` on 200 images at 640x480 beside the decode+encode floor, in one run.

Usage: python benchmarks/bench_preview.py [--images 200] [--data bench_out/data_preview]

The floor is, per image, what any renderer must do: decode the photo (JPEG) and the
panoptic PNG, and encode one PNG of the render's size holding the photo (with segtool's
encoder), with nothing in between. segtool is
timed rendering the ground truth alone (labels on), and ground truth | prediction | errors.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from common import make_panoptic

from segtool import png
from segtool.parallel import tune_allocator, warm_up
from segtool.preview import GAP, Style, preview


def make_photos(gt: Path, folder: Path, seed: int = 0) -> Path:
    """One JPEG per image: smooth color gradients plus noise, so it compresses like a photo."""
    images = json.loads(gt.read_text())["images"]
    if folder.is_dir() and len(list(folder.glob("*.jpg"))) == len(images):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for im in images:
        h, w = im["height"], im["width"]
        y, x = np.mgrid[:h, :w]
        base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h) + rng.integers(0, 128)], -1)
        noisy = base + rng.normal(0, 12, size=(h, w, 3))
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(folder / im["file_name"], quality=90)
    return folder


def floor(gt: Path, photos: Path, out_height: int, pred: Path | None = None) -> float:
    """Seconds to decode every photo and PNG (and the prediction's) and encode one PNG of the
    render's size per image: one panel, or three side by side with a prediction."""
    data = json.loads(gt.read_text())
    pred_anns = json.loads(pred.read_text())["annotations"] if pred else None
    t = time.perf_counter()
    for k, (im, ann) in enumerate(zip(data["images"], data["annotations"], strict=True)):
        photo = np.asarray(Image.open(photos / im["file_name"]).convert("RGB"))
        np.asarray(Image.open(gt.with_suffix("") / ann["file_name"]))
        panels = 1
        if pred is not None and pred_anns is not None:
            np.asarray(Image.open(pred.with_suffix("") / pred_anns[k]["file_name"]))
            panels = 3
        canvas = np.zeros((out_height, im["width"] * panels + GAP * (panels - 1), 3), np.uint8)
        # a render has a photo's detail in every panel: encode that, not a flat image, and not
        # three copies side by side (zlib would find the repeats and cheat)
        for p, panel in enumerate((photo, photo[:, ::-1], photo[::-1])[:panels]):
            x = p * (im["width"] + GAP)
            canvas[: photo.shape[0], x : x + im["width"]] = panel
        png.encode(canvas)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--data", type=Path, default=Path("bench_out/data_preview"))
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each time is the best of them")
    args = ap.parse_args()
    tune_allocator()
    gt = make_panoptic(args.data, args.images)
    pred = make_panoptic(args.data / "pred", args.images, seed=1)  # another random scene: many errors
    photos = make_photos(gt, args.data / "photos")
    out = args.data.parent / "preview_out"
    n = args.images

    def run(jobs: int, with_pred: bool) -> float:
        shutil.rmtree(out, ignore_errors=True)
        warm_up(jobs)
        t = time.perf_counter()
        preview(gt, out, images=photos, pred=pred if with_pred else None, style=Style(), jobs=jobs)
        return time.perf_counter() - t

    run(1, False)
    height = Image.open(next(out.glob("*.png"))).height
    best: dict[object, float] = {}
    for _ in range(args.repeat):
        best["floor"] = min(best.get("floor", 1e9), floor(gt, photos, height))
        best["floor3"] = min(best.get("floor3", 1e9), floor(gt, photos, height, pred))
        for key in ((1, False), (2, False), (1, True), (2, True)):
            best[key] = min(best.get(key, 1e9), run(*key))
    shutil.rmtree(out, ignore_errors=True)
    fl, fl3 = best["floor"], best["floor3"]
    print(f"{n} images 640x480, best of {args.repeat} interleaved rounds")
    print(f"decode+encode floor, 1 process (photo JPEG + panoptic PNG + one PNG out): {fl:.2f} s = {n / fl:.0f} img/s")
    print(f"the same with a prediction PNG and a 3-panel PNG out: {fl3:.2f} s = {n / fl3:.0f} img/s")
    print(f"{'preview':<28}{'jobs':>5}{'seconds':>9}{'img/s':>8}{'x floor':>9}")
    for (jobs, with_pred), label in (
        ((1, False), "ground truth"),
        ((2, False), "ground truth"),
        ((1, True), "gt | prediction | errors"),
        ((2, True), "gt | prediction | errors"),
    ):
        dt = best[(jobs, with_pred)]
        print(f"{label:<28}{jobs:>5}{dt:>9.2f}{n / dt:>8.1f}{dt / (fl3 if with_pred else fl):>9.2f}")


if __name__ == "__main__":
    main()
