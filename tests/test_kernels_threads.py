"""Issue 15: eval instance scores two images at once on threads (segtool.metrics.threaded),
the RLE kernels decoding and comparing without the GIL. The kernels give on many threads at
once what they give on one; thread_map gives map's results and map's first error; and eval
instance gives the same numbers with --jobs 1 and --jobs 2 (threads), on mask AP and LVIS.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from segtool import evaluate_instance
from segtool.metrics.threaded import thread_map

try:
    from segtool import _kernels as native
except ImportError:  # an install without the C extension
    native = None  # type: ignore[assignment]

needs_c = pytest.mark.skipif(native is None, reason="segtool._kernels (the C extension) is not built")


def _masks(rng: np.random.Generator, n: int, h: int, w: int) -> list[str]:
    out = []
    for _ in range(n):
        m = np.zeros((h, w), np.uint8, order="F")
        y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
        m[y : y + rng.integers(1, h - y), x : x + rng.integers(1, w - x)] = 1
        out.append(mask_utils.encode(m)["counts"].decode())
    return out


@needs_c
def test_kernels_on_many_threads_equal_one() -> None:
    rng = np.random.default_rng(5)
    h, w = 40, 30
    images = [(_masks(rng, 12, h, w), _masks(rng, 9, h, w)) for _ in range(24)]
    images[7][0][3] = "not an RLE"  # an undecodable string: its index, on any thread

    def score(k: int) -> tuple[Any, ...]:
        dt, gt = images[k]
        areas = np.zeros(len(dt), np.int64)
        bad = native.rle_areas(list(dt), h, w, areas)
        out = np.zeros((len(dt), len(gt)))
        try:
            native.rle_iou(
                list(dt),
                gt,
                h,
                w,
                np.zeros(len(dt), np.int64),
                np.zeros(len(gt), np.int64),
                np.zeros(len(gt), np.uint8),
                out,
            )
        except ValueError as exc:
            return bad, areas.tobytes(), str(exc)
        return bad, areas.tobytes(), out.tobytes()

    alone = [score(k) for k in range(len(images))]
    found: dict[int, list[tuple[Any, ...]]] = {}

    def worker(t: int) -> None:
        found[t] = [score(k) for k in range(len(images)) for _ in range(3)][::3]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(found[t] == alone for t in range(4))
    assert alone[7][0] == 3 and "undecodable" in alone[7][2]


@needs_c
def test_repeated_strings_decode_as_each_alone() -> None:
    """rle_areas decodes a string repeated within one call once (its counts copied): the
    areas, the first undecodable index and the IoUs equal the twin's and each string's alone."""
    from segtool import _purekernels as twin

    rng = np.random.default_rng(3)
    h, w = 20, 16
    pool = [*_masks(rng, 5, h, w), "not an RLE", "0", ""]
    for _ in range(60):
        picked = [pool[int(k)] for k in rng.integers(0, len(pool), int(rng.integers(0, 30)))]
        as_bytes = rng.random() < 0.5  # bytes and str alike, some of each
        strings: list[str | bytes] = [s.encode() if as_bytes and rng.random() < 0.3 else s for s in picked]
        got, want = np.zeros(len(strings), np.int64), np.zeros(len(strings), np.int64)
        assert native.rle_areas(strings, h, w, got) == twin.rle_areas(strings, h, w, want)
        assert got.tolist() == want.tolist()
        for k, one in enumerate(strings):
            alone = np.zeros(1, np.int64)
            native.rle_areas([one], h, w, alone)
            assert alone[0] == got[k]
        good = [s for s, a in zip(strings, got.tolist(), strict=True) if a >= 0]
        if good:
            n = len(good)
            out, ref = np.zeros((n, n)), np.zeros((n, n))
            zeros, crowd = np.zeros(n, np.int64), np.zeros(n, np.uint8)
            native.rle_iou(good, good, h, w, zeros, zeros, crowd, out)
            twin.rle_iou(good, good, h, w, zeros, zeros, crowd, ref)
            assert out.tobytes() == ref.tobytes()


def test_thread_map_gives_maps_results_and_first_error() -> None:
    assert list(thread_map(lambda x: x * x, range(50), 2)) == [x * x for x in range(50)]
    assert list(thread_map(lambda x: x, [], 2)) == []

    def job(x: int) -> int:
        if x in (3, 12):
            raise ValueError(f"job {x}")
        return x

    def stream(fail_at: int) -> Any:
        for x in range(20):
            if x == fail_at:
                raise KeyError(f"stream at {x}")
            yield x

    for fail_at, first in [(5, "job 3"), (2, "stream at 2"), (3, "stream at 3"), (4, "job 3")]:
        for threads in (1, 2, 3):
            with pytest.raises((ValueError, KeyError)) as err:
                list(thread_map(job, stream(fail_at), threads))
            assert first in str(err.value), (fail_at, threads)


@pytest.mark.parametrize("lvis", [False, True])
def test_eval_instance_on_threads_equals_one_thread(tmp_path: Path, lvis: bool) -> None:
    """64 images (past parallel.SMALL, so --jobs 2 takes threads), RLE masks and detections."""
    rng = np.random.default_rng(11)
    h, w = 24, 32
    images: list[Any] = []
    anns: list[Any] = []
    dets: list[Any] = []
    for i in range(1, 65):
        image: dict[str, Any] = {"id": i, "file_name": f"{i}.png", "height": h, "width": w}
        if lvis:
            image["neg_category_ids"], image["not_exhaustive_category_ids"] = [3], [1] if i % 4 == 0 else []
        images.append(image)
        for k, counts in enumerate(_masks(rng, 6, h, w)):
            ann: dict[str, Any] = {"id": len(anns) + 1, "image_id": i, "category_id": 1 + k % 3, "iscrowd": 0}
            ann["segmentation"] = {"size": [h, w], "counts": counts}
            ann["area"] = float(mask_utils.area(ann["segmentation"]))
            ann["bbox"] = mask_utils.toBbox(ann["segmentation"]).tolist()
            anns.append(ann)
        for k, counts in enumerate(_masks(rng, 8, h, w)):
            seg = {"size": [h, w], "counts": counts}
            dets.append({"image_id": i, "category_id": 1 + k % 3, "segmentation": seg, "score": float(rng.random())})
    cats = [{"id": c, "name": f"c{c}", "frequency": "rcf"[c % 3]} for c in (1, 2, 3)]
    gt, dt = tmp_path / "gt.json", tmp_path / "dt.json"
    if lvis:
        for a in anns:
            a.pop("iscrowd")
    gt.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    dt.write_text(json.dumps(dets))
    one, two = evaluate_instance(gt, dt, jobs=1).to_dict(), evaluate_instance(gt, dt, jobs=2).to_dict()
    assert json.dumps(one, sort_keys=True, default=str) == json.dumps(two, sort_keys=True, default=str)
    assert ("APr" in one) == lvis and 0 < one["AP"] < 1
