"""Work that grew faster than the input: thousands of segments in one image.

Class "hangs": 10^5 segments in one image kept validate busy past 120 s (a search per
segment), eval panoptic asked for a 74.5 GiB pair table, converting 10,000 instances of one
category to panoptic took 299 s and --split-things on 15,000 dots 375 s (up to 4,097
colours tried per segment). Each now costs time linear in the segments: checked here at
two sizes, the larger 4x the smaller, within bounds far below a quadratic's.

Class "parity": the linear paths give what the old ones gave: the same panoptic ids as
the colour search from the start (a copy of it below is the reference), the same PQ
statistic from sparse pairs as from the dense table (and panopticapi's own pq_compute on a
few hundred segments), the same index maps from RLE runs as from the decoded mask stack.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from segtool import views
from segtool.evaluate import evaluate_panoptic
from segtool.formats.coco_panoptic import _OFFSETS, assign_ids
from segtool.formats.coco_panoptic_checks import validate_panoptic
from segtool.metrics import panoptic as metrics_panoptic
from segtool.model import Annotation, ImageInfo, Segments
from tests.conftest import rgb_of, runner  # noqa: F401  (fixture)

# --- panoptic ids: the same as the search from the start, linearly ----------------------------


def reference_ids(category_id: np.ndarray, colors: dict[int, tuple[int, int, int]]) -> list[int]:
    """segtool's former assign_ids: each segment searches its category's colour sequence from
    the start (the colour, then 4,096 offsets, clipped), then the smallest free id."""
    sequences = {}
    for cid, color in colors.items():
        rgb = np.vstack([np.asarray(color)[None], np.clip(np.asarray(color) + _OFFSETS, 0, 255)]).astype(np.int64)
        sequences[cid] = (rgb[:, 0] + 256 * rgb[:, 1] + 65536 * rgb[:, 2]).tolist()
    used, out = {0}, []
    for cid in category_id.tolist():
        sid = next((s for s in sequences[cid] if s not in used), None)
        if sid is None:
            sid = next(i for i in range(1, 2**24) if i not in used)
        used.add(sid)
        out.append(sid)
    return out


@pytest.mark.parametrize("seed", range(2))
def test_assign_ids_equal_the_search_from_the_start(seed):
    """Categories with near and equal colours (their sequences collide), interleaved, one
    past its 4,097 colours (the fallback to the smallest free id)."""
    rng = np.random.default_rng(seed)
    colors = {1: (0, 0, 0), 2: (1, 0, 0), 3: (255, 255, 255), 4: (0, 0, 0), 5: (128, 20, 200)}
    cats = np.concatenate([np.ones(4300, np.int64), rng.choice([2, 3, 4, 5], size=400)])
    rng.shuffle(cats)
    got = assign_ids(cats, colors)
    assert got.tolist() == reference_ids(cats, colors)
    assert len(set(got.tolist())) == len(got) and got.min() > 0 and got.max() < 2**24


def _seconds(fn, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.process_time()
    fn(*args)
    return time.process_time() - start


def test_assign_ids_is_linear():
    """50,000 segments of one category: the search from the start took minutes."""
    colors = {1: (100, 100, 100)}
    small, big = (np.ones(n, np.int64) for n in (12_500, 50_000))
    t_small, t_big = _seconds(assign_ids, small, colors), _seconds(assign_ids, big, colors)
    assert t_big < 2.0 and t_big < 8 * t_small + 0.2, (t_small, t_big)


# --- one image, many segments, through the commands --------------------------------------------


def panoptic_grid(folder: Path, side: int, shift: int = 0) -> Path:
    """One image cut into side x side segments of 2x2 pixels (two thing categories); with
    ``shift`` the cut is moved, so a prediction overlaps four ground-truth segments each."""
    k = np.arange(side * side).reshape(side, side) + 1
    ids = np.roll(np.kron(k, np.ones((2, 2), np.int64)), shift, axis=(0, 1))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "p").mkdir(exist_ok=True)
    Image.fromarray(rgb_of(ids)).save(folder / "p" / "a.png")
    ys, xs = np.divmod(np.arange(side * side), side)
    segs = [
        {
            "id": int(i) + 1,
            "category_id": 1 + int(i) % 2,
            "iscrowd": 0,
            "area": 4,
            "bbox": [2 * int(x), 2 * int(y), 2, 2],
        }
        for i, (y, x) in enumerate(zip(ys, xs, strict=True))
    ]
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 2 * side, "width": 2 * side}],
        "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": segs}],
        "categories": [{"id": 1, "name": "a", "isthing": 1}, {"id": 2, "name": "b", "isthing": 1}],
    }
    (folder / "p.json").write_text(json.dumps(data))
    return folder / "p.json"


def test_validate_many_segments_is_linear(tmp_path):
    """5,000 and 20,000 segments in one image (a search per segment made this quadratic)."""
    times = [_seconds(validate_panoptic, panoptic_grid(tmp_path / str(side), side)) for side in (71, 142)]
    assert times[1] < 10 and times[1] < 8 * times[0] + 1, times


def test_eval_many_segments_is_sparse_and_linear(tmp_path):
    """5,000 and 20,000 segments against a shifted prediction: a dense pair table of the
    larger would take 3.2 GB; the sparse pairs take what the image has."""
    times = []
    for side in (71, 142):
        gt = panoptic_grid(tmp_path / f"g{side}", side)
        pred = panoptic_grid(tmp_path / f"p{side}", side, shift=1)
        start = time.process_time()
        result = evaluate_panoptic(gt, pred, gt_masks=gt.with_suffix(""), pred_masks=pred.with_suffix(""))
        times.append(time.process_time() - start)
        # a 1-pixel shift of 2x2 blocks: each prediction meets 4 gt segments, 1 pixel of
        # its own id (IoU 1/7): no match; the border predictions lie partly on nothing
        assert int(result.stat.tp.sum()) == 0 and int(result.stat.fn.sum()) == side * side
    assert times[1] < 10 and times[1] < 8 * times[0] + 1, times


def test_convert_many_instances_of_one_category(tmp_path, runner):  # noqa: F811
    """10,000 instances of one category to panoptic (299 s before): ids unique, valid."""
    from segtool.cli import main
    from tests.conftest import rle

    side = 100
    anns = []
    for i in range(side * side):
        y, x = divmod(i, side)
        m = np.zeros((3 * side, 3 * side), bool)
        m[3 * y : 3 * y + 2, 3 * x : 3 * x + 2] = True
        anns.append({"id": i + 1, "image_id": 1, "category_id": 1, "segmentation": rle(m), "area": 4, "iscrowd": 0})
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 3 * side, "width": 3 * side}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "a", "isthing": 1, "color": [10, 20, 30]}],
    }
    src = tmp_path / "i.json"
    src.write_text(json.dumps(data))
    start = time.perf_counter()
    r = runner.invoke(main, ["convert", str(src), str(tmp_path / "o.json"), "--to", "coco-panoptic", "-j", "1"])
    assert r.exit_code == 0, r.output
    assert time.perf_counter() - start < 15
    out = json.loads((tmp_path / "o.json").read_text())
    ids = [s["id"] for s in out["annotations"][0]["segments_info"]]
    assert len(ids) == side * side == len(set(ids)) and 0 not in ids


def test_split_things_many_dots(tmp_path, runner):  # noqa: F811
    """15,000 one-pixel dots of one thing class, split into instances (375 s before)."""
    from segtool.cli import main

    side = 123  # 15,129 dots
    labels = np.zeros((2 * side, 2 * side), np.uint8)
    labels[::2, ::2] = 1
    folder = tmp_path / "sem"
    folder.mkdir()
    Image.fromarray(labels).save(folder / "a.png")
    cats = [{"id": 0, "name": "bg", "isthing": 0}, {"id": 1, "name": "dot", "isthing": 1}]
    (folder / "categories.json").write_text(json.dumps(cats))
    start = time.perf_counter()
    argv = ["convert", str(folder), str(tmp_path / "o.json"), "--to", "coco-panoptic", "--split-things", "-j", "1"]
    r = runner.invoke(main, argv)
    assert r.exit_code == 0, r.output
    assert time.perf_counter() - start < 15
    segs = json.loads((tmp_path / "o.json").read_text())["annotations"][0]["segments_info"]
    assert sum(s["category_id"] == 1 for s in segs) == side * side
    assert all(s["area"] == 1 for s in segs if s["category_id"] == 1)


# --- sparse and dense give the same numbers -----------------------------------------------------


def test_sparse_pairs_give_the_dense_statistic(tmp_path, monkeypatch):
    """Random panoptic pairs (crowd, void, several categories) scored twice, through the
    C kernel's dense table and through sparse pairs of runs: the same PQ statistic, bit for
    bit; and equal to panopticapi's pq_compute."""
    from tests.parity.test_pq import reference

    rng = np.random.default_rng(5)
    folders = []
    for name in ("gt", "pred"):
        images, anns = [], []
        for i in range(1, 9):
            ids = rng.integers(0, 40, size=(24, 32))
            ids = np.kron(ids[::4, ::4], np.ones((4, 4), np.int64))  # blocks, so segments are not all tiny
            ids[rng.random(ids.shape) < 0.05] = rng.integers(0, 40)
            present = sorted(set(np.unique(ids).tolist()) - {0})
            segs = []
            for sid in present:
                ys, xs = np.nonzero(ids == sid)
                segs.append({
                    "id": sid, "category_id": [1, 2, 100][sid % 3], "iscrowd": int(name == "gt" and sid % 7 == 0),
                    "area": len(ys), "bbox": [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1],
                })  # fmt: skip
            (tmp_path / name).mkdir(exist_ok=True)
            Image.fromarray(rgb_of(ids)).save(tmp_path / name / f"{i}.png")
            images.append({"id": i, "file_name": f"{i}.jpg", "height": 24, "width": 32})
            anns.append({"image_id": i, "file_name": f"{i}.png", "segments_info": segs})
        cats = [{"id": 1, "name": "a", "isthing": 1}, {"id": 2, "name": "b", "isthing": 1}]
        cats.append({"id": 100, "name": "c", "isthing": 0})
        (tmp_path / f"{name}.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
        folders.append(tmp_path / f"{name}.json")
    dense = evaluate_panoptic(*folders)
    monkeypatch.setattr(metrics_panoptic, "DENSE_PAIRS", 0)
    sparse = evaluate_panoptic(*folders)
    for field in ("tp", "fp", "fn", "iou"):
        assert getattr(dense.stat, field).tobytes() == getattr(sparse.stat, field).tobytes(), field
    assert dense.stat.tp.sum() > 10 and dense.stat.fp.sum() > 10
    theirs, _ = reference(*folders)
    ours = sparse.to_panopticapi()
    for group in ("All", "Things", "Stuff"):
        for key in ("pq", "sq", "rq"):
            assert ours[group][key] == pytest.approx(theirs[group][key], abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_runs_resolve_equals_the_mask_stack(seed, monkeypatch):
    """Instances that overlap, nest, touch or are empty: every overlap policy gives the same
    index map, segments and drop counts (and the same error) from runs as from the stack."""
    rng = np.random.default_rng(seed)
    for _ in range(120):
        h, w = (int(v) for v in rng.integers(1, 25, 2))
        n = int(rng.integers(1, 10))
        rles = []
        for _ in range(n):
            m = np.zeros((h, w), np.uint8)
            if rng.random() < 0.9:
                y, x = rng.integers(0, h), rng.integers(0, w)
                m[y : y + rng.integers(1, h + 1), x : x + rng.integers(1, w + 1)] = 1
                m &= rng.random((h, w)) < (0.6 if rng.random() < 0.3 else 1.1)
            r = mask_utils.encode(np.asfortranarray(m))
            rles.append({"size": [h, w], "counts": r["counts"].decode()})
        segs = Segments.build(id=np.arange(10, 10 + n), category_id=np.ones(n), score=rng.random(n).round(1))
        ann = Annotation(ImageInfo(1, "a.jpg", h, w), segs, rles=tuple(rles))
        for policy in views.OVERLAP_POLICIES:
            seen = []
            for threshold in (1 << 40, 0):
                monkeypatch.setattr(views, "DENSE_STACK", threshold)
                try:
                    res = views.resolve(ann, policy)
                    seen.append((np.asarray(res.index).tolist(), res.segments.id.tolist(), dict(res.dropped)))
                except Exception as exc:
                    seen.append(str(exc))
            assert seen[0] == seen[1], policy


def test_combine_many_instances(tmp_path, runner):  # noqa: F811
    """10,000 detections over one label map (a whole-image mask per instance before: 900 MB
    and minutes); each small square is placed."""
    from segtool.cli import main
    from tests.conftest import rle

    side = 100
    folder = tmp_path / "sem"
    folder.mkdir()
    Image.fromarray(np.zeros((3 * side, 3 * side), np.uint8)).save(folder / "a.png")
    (folder / "categories.json").write_text(json.dumps([{"id": 0, "name": "bg", "isthing": 0}]))
    dets = []
    for i in range(side * side):
        y, x = divmod(i, side)
        m = np.zeros((3 * side, 3 * side), bool)
        m[3 * y : 3 * y + 2, 3 * x : 3 * x + 2] = True
        dets.append({"image_id": 1, "category_id": 1, "segmentation": rle(m), "score": 0.9})
    (tmp_path / "res.json").write_text(json.dumps(dets))
    cats = [{"id": 0, "name": "bg", "isthing": 0}, {"id": 1, "name": "x", "isthing": 1}]
    (folder / "categories.json").write_text(json.dumps(cats))
    start = time.perf_counter()
    argv = ["convert", str(folder), str(tmp_path / "o.json"), "--to", "coco-panoptic", "--instances"]
    r = runner.invoke(main, [*argv, str(tmp_path / "res.json"), "-j", "1"])
    assert r.exit_code == 0, r.output
    assert time.perf_counter() - start < 15
    segs = json.loads((tmp_path / "o.json").read_text())["annotations"][0]["segments_info"]
    assert sum(s["category_id"] == 1 and s["area"] == 4 for s in segs) == side * side
