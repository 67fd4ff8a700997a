"""Sharded evaluation (issue 13): ``--shard I/N`` scores the images whose id hashes to
I - 1 modulo N, ``--partial FILE`` writes what they add up to, and ``segtool eval merge``
gives every number of the unsharded run (to 1e-12) for panoptic, semantic and instance
evaluation, from generated data with images without predictions, crowd and score ties.
Partials of different ground truths, parameters, versions or splits, and bad shard specs,
are refused in one line, exit 2."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

from segtool import evaluate_instance, evaluate_panoptic, evaluate_semantic
from segtool.metrics.partial import read
from segtool.metrics.partial_merge import merge
from segtool.metrics.shard import Shard
from tests.conftest import panoptic_segments, write_json, write_panoptic
from tests.helpers import assert_bad_input, cocoeval, invoke

SPLITS = (1, 2, 3, 7)


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Two results' ``to_dict()`` equal: the same keys, integers and flags equal, floats to 1e-12."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, abs=1e-12, nan_ok=True), where
    else:
        assert a == b, where


def shards(n: int) -> list[str]:
    return [f"{i}/{n}" for i in range(1, n + 1)]


def by_hand(image_id: Any, n: int) -> int:
    """The shard (1-based) docs/metrics/partials.md says an image goes to, computed here:
    BLAKE2b-64 of b"i" + the decimal id (b"s" + UTF-8 for a string id), little-endian, mod N."""
    key = (
        (b"s" + image_id.encode("utf-8", "surrogatepass"))
        if isinstance(image_id, str)
        else b"i" + str(image_id).encode()
    )
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") % n + 1


# --- generated data -----------------------------------------------------------------------


def _rle(m: np.ndarray) -> dict[str, Any]:
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


def _box(m: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(m)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def instance_case(tmp_path: Path, seed: int = 0, lvis: bool = False) -> tuple[Path, Path]:
    """24 images (ids 7, 14, ...) of 1-6 objects in 4 categories, ~10% crowd; detections:
    shifted copies (some in another category), false positives, scores from 3 values (ties
    across images), 120 on one image (past maxDets), none on every fifth image."""
    rng = np.random.default_rng(seed)
    cats = [{"id": c, "name": f"c{c}", "frequency": f} for c, f in ((1, "f"), (2, "c"), (5, "r"), (9, "f"))]
    images, gts, dets = [], [], []
    for n in range(1, 25):
        iid, h, w = 7 * n, int(rng.integers(40, 90)), int(rng.integers(40, 90))
        image = {"id": iid, "file_name": f"{iid}.jpg", "height": h, "width": w}
        present = set()
        for _ in range(int(rng.integers(1, 7))):
            m = np.zeros((h, w), bool)
            y, x, s = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4)), int(rng.choice([4, 12, 40]))
            m[y : y + s, x : x + int(rng.integers(3, s + 3))] = True
            cat = int(rng.choice([1, 2, 5, 9]))
            present.add(cat)
            crowd = 0 if lvis else int(rng.random() < 0.1)
            gts.append(
                {"id": len(gts) + 1, "image_id": iid, "category_id": cat, "segmentation": _rle(m)}
                | {"area": float(m.sum()), "bbox": _box(m), "iscrowd": crowd}
            )
            if n % 5 and rng.random() < 0.85:
                dm = np.roll(m, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
                dcat = cat if rng.random() < 0.7 else int(rng.choice([1, 2, 5, 9]))
                dets.append(_det(iid, dcat, dm, rng))
        for _ in range((120 if n == 3 else int(rng.integers(0, 4))) if n % 5 else 0):
            m = np.zeros((h, w), bool)
            y, x = int(rng.integers(0, h - 10)), int(rng.integers(0, w - 10))
            m[y : y + int(rng.integers(2, 10)), x : x + int(rng.integers(2, 10))] = True
            dets.append(_det(iid, int(rng.choice([1, 2, 5, 9])), m, rng))
        if lvis:
            absent = sorted({1, 2, 5, 9} - present)
            image["neg_category_ids"] = absent[: len(absent) // 2 + 1] if absent else []
            image["not_exhaustive_category_ids"] = sorted(present)[:1] if n % 3 == 0 else []
        images.append(image)
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": gts, "categories": cats})
    return gt, write_json(tmp_path / "dt.json", dets)


def _det(iid: int, cat: int, m: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    score = float(rng.choice([0.25, 0.5, 0.75]))
    return {"image_id": iid, "category_id": cat, "segmentation": _rle(m), "bbox": _box(m), "score": score}


PANOPTIC_CATS = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 2, "name": "car", "isthing": 1, "color": [0, 0, 142]},
    {"id": 100, "name": "road", "isthing": 0, "color": [128, 64, 128]},
    {"id": 101, "name": "sky", "isthing": 0, "color": [70, 130, 180]},
]


def panoptic_case(tmp_path: Path, seed: int = 0) -> tuple[Path, Path]:
    """20 images of 24x32: stuff halves, 1-4 rectangles of things (one crowd now and then),
    void; predictions shifted by up to 2 pixels, a category changed now and then; every
    sixth image has no prediction."""
    rng = np.random.default_rng(seed)
    gt_maps, gt_segs, pr_maps, pr_segs = [], [], [], []
    for _ in range(20):
        ids = np.where(np.arange(24)[:, None] < int(rng.integers(6, 18)), 1, 2) * np.ones((1, 32), np.int64)
        cats, crowd = {1: 100, 2: 101}, set()
        for k in range(3, 3 + int(rng.integers(1, 5))):
            y, x = int(rng.integers(0, 18)), int(rng.integers(0, 26))
            ids[y : y + int(rng.integers(3, 7)), x : x + int(rng.integers(3, 7))] = k
            cats[k] = int(rng.choice([1, 2]))
            if rng.random() < 0.15:
                crowd.add(k)
        ids[rng.random((24, 32)) < 0.03] = 0
        pred = np.roll(ids, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
        pcats = {k: (c if rng.random() < 0.8 else int(rng.choice([1, 2]))) if c < 100 else c for k, c in cats.items()}
        gt_maps.append(ids)
        gt_segs.append(panoptic_segments(ids, cats, crowd))
        pr_maps.append(pred)
        pr_segs.append(panoptic_segments(pred, pcats))
    gt = write_panoptic(tmp_path / "gt.json", gt_maps, gt_segs, PANOPTIC_CATS)
    pred = write_panoptic(tmp_path / "pred.json", pr_maps, pr_segs, PANOPTIC_CATS)
    data = json.loads(pred.read_text())
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] % 6]
    return gt, write_json(pred, data)


def semantic_case(tmp_path: Path, seed: int = 0) -> tuple[Path, Path]:
    """18 label maps of 20x24 (classes 0-3, 255 ignored), predictions with noise and
    unlabelled pixels; every fifth image has no prediction."""
    rng = np.random.default_rng(seed)
    cats = [{"id": c, "name": f"class{c}"} for c in range(4)]
    folders = [tmp_path / "gt", tmp_path / "pred"]
    for f in folders:
        f.mkdir()
        (f / "categories.json").write_text(json.dumps(cats))
    for n in range(18):
        gt = np.repeat(rng.integers(0, 4, (5, 6)), 4, axis=0).repeat(4, axis=1).astype(np.uint8)
        gt[rng.random(gt.shape) < 0.05] = 255
        pred = np.where(rng.random(gt.shape) < 0.2, rng.integers(0, 4, gt.shape), np.roll(gt, 1, axis=1))
        pred[pred == 255] = int(rng.choice([0, 255]))
        Image.fromarray(gt).save(folders[0] / f"im{n:02d}.png")
        if n % 5:
            Image.fromarray(pred.astype(np.uint8)).save(folders[1] / f"im{n:02d}.png")
    return folders[0], folders[1]


# --- merged shards = the unsharded run -----------------------------------------------------


def run_shards(tmp_path: Path, n: int, evaluate: Any, *args: Any, **kw: Any) -> list[Path]:
    out = []
    for spec in shards(n):
        path = tmp_path / f"part{spec.replace('/', 'of')}.npz"
        evaluate(*args, shard=spec, partial=path, **kw)
        out.append(path)
    return out


@pytest.mark.parametrize("n", SPLITS)
@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_instance_shards_merge_to_the_unsharded_run(tmp_path, n, iou_type):
    gt, dt = instance_case(tmp_path, seed=n)
    full = evaluate_instance(gt, dt, iou_type=iou_type)
    parts = run_shards(tmp_path, n, evaluate_instance, gt, dt, iou_type=iou_type)
    merged = merge(parts)
    assert np.array_equal(merged.precision, full.precision) and np.array_equal(merged.recall, full.recall)
    assert_same(merged.to_dict(), full.to_dict())
    reference = cocoeval(gt, dt, iou_type).stats  # pycocotools' own numbers, not segtool's
    assert np.allclose(merged.stats, reference, atol=1e-12, rtol=0)
    assert sum(read(p).counts["images"] for p in parts) == 24


@pytest.mark.parametrize("n", [2, 7])
def test_instance_subsets_and_lvis_merge(tmp_path, n):
    gt, dt = instance_case(tmp_path, seed=11)
    kw = {"cat_ids": [1, 5, 9], "img_ids": [7 * k for k in range(1, 25, 2)]}
    for opts in (kw, {"class_agnostic": True}, {"iou_type": "boundary"}):
        full = evaluate_instance(gt, dt, **opts)
        folder = tmp_path / f"{len(opts)}{sorted(opts)[0]}"
        folder.mkdir()
        assert_same(merge(run_shards(folder, n, evaluate_instance, gt, dt, **opts)).to_dict(), full.to_dict())
    lvis_dir = tmp_path / "lvis"
    lvis_dir.mkdir()
    gt, dt = instance_case(lvis_dir, seed=5, lvis=True)
    full = evaluate_instance(gt, dt)
    assert full.to_dict().get("lvis")
    assert_same(merge(run_shards(lvis_dir, n, evaluate_instance, gt, dt)).to_dict(), full.to_dict())


@pytest.mark.parametrize("n", SPLITS)
def test_panoptic_shards_merge_to_the_unsharded_run(tmp_path, n):
    gt, pred = panoptic_case(tmp_path, seed=n)
    full = evaluate_panoptic(gt, pred, allow_missing=True)
    assert full.missing == 3  # images 6, 12, 18
    merged = merge(run_shards(tmp_path, n, evaluate_panoptic, gt, pred, allow_missing=True))
    assert_same(merged.to_dict(), full.to_dict())
    assert np.array_equal(merged.stat.tp, full.stat.tp) and np.array_equal(merged.stat.fp, full.stat.fp)


def test_panoptic_boundary_shards(tmp_path):
    gt, pred = panoptic_case(tmp_path, seed=4)
    full = evaluate_panoptic(gt, pred, allow_missing=True, boundary=True)
    merged = merge(run_shards(tmp_path, 3, evaluate_panoptic, gt, pred, allow_missing=True, boundary=True))
    assert merged.boundary == 0.02
    assert_same(merged.to_dict(), full.to_dict())


@pytest.mark.parametrize("n", SPLITS)
def test_semantic_shards_merge_to_the_unsharded_run(tmp_path, n):
    gt, pred = semantic_case(tmp_path, seed=n)
    for boundary in (False, True):
        full = evaluate_semantic(gt, pred, allow_missing=True, boundary=boundary)
        folder = tmp_path / f"b{int(boundary)}"
        folder.mkdir()
        parts = run_shards(folder, n, evaluate_semantic, gt, pred, allow_missing=True, boundary=boundary)
        merged = merge(parts)
        assert np.array_equal(merged.confusion, full.confusion)
        assert_same(merged.to_dict(), full.to_dict())
        assert full.missing == 4 and merged.images == 18  # im00, im05, im10, im15


def test_shard_membership_is_the_documented_hash(tmp_path):
    """Each shard scores exactly the images the rule assigns it (computed here by hand),
    and the rule does not depend on the other images (adding one moves none)."""
    gt, dt = instance_case(tmp_path)
    ids = [7 * n for n in range(1, 25)]
    for spec in shards(3):
        part = evaluate_instance(gt, dt, shard=spec)
        assert part.images == sum(by_hand(i, 3) == int(spec[0]) for i in ids)
    assert [Shard(2, 5).takes(i) for i in (*ids, "a", "7")] == [by_hand(i, 5) == 2 for i in (*ids, "a", "7")]
    assert Shard(1, 1).takes("anything")


def test_per_shard_prediction_files(tmp_path):
    """A node that predicted only its shard's images: nothing missing for that shard."""
    gt, pred = panoptic_case(tmp_path, seed=2)
    data = json.loads(pred.read_text())
    data["annotations"] = [a for a in data["annotations"] if by_hand(a["image_id"], 2) == 1]
    mine = write_json(tmp_path / "pred1.json", data)
    (tmp_path / "pred1").symlink_to(tmp_path / "pred")
    full = evaluate_panoptic(gt, pred, allow_missing=True, shard="1/2")
    assert_same(evaluate_panoptic(gt, mine, allow_missing=True, shard="1/2").to_dict(), full.to_dict())


# --- the command line ---------------------------------------------------------------------


def test_cli_shards_and_merge(runner, tmp_path):
    gt, dt = instance_case(tmp_path, seed=3)
    full = invoke(runner, "eval", "instance", gt, dt, "--json", "-")
    assert full.exit_code == 0, full.output
    parts = []
    for spec in shards(3):
        parts.append(tmp_path / f"p{spec[0]}.npz")
        r = invoke(runner, "eval", "instance", gt, dt, "--shard", spec, "--partial", parts[-1], "-q")
        assert r.exit_code == 0, r.output
    merged = invoke(runner, "eval", "merge", *parts, "--json", "-")
    assert merged.exit_code == 0, merged.output
    assert_same(json.loads(merged.stdout), json.loads(full.stdout))
    gate = invoke(runner, "eval", "merge", *parts, "--fail-under", "AP=0.99", "-q")
    assert gate.exit_code == 1


@pytest.mark.parametrize("spec", ["3/2", "0/4", "1/0", "x", "1/2/3", "-1/2"])
def test_cli_bad_shard_spec(runner, tmp_path, spec):
    gt, dt = instance_case(tmp_path)
    assert_bad_input(invoke(runner, "eval", "instance", gt, dt, "--shard", spec), "--shard")


def _partial(runner, tmp_path: Path, name: str, *args: Any) -> Path:
    out = tmp_path / name
    r = invoke(runner, "eval", *args, "--partial", out, "-q")
    assert r.exit_code == 0, r.output
    return out


def test_cli_refuses_mismatched_partials(runner, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    gt, dt = instance_case(tmp_path / "a", seed=1)
    other_gt, other_dt = instance_case(tmp_path / "b", seed=2)
    p1 = _partial(runner, tmp_path, "p1.npz", "instance", gt, dt, "--shard", "1/2")
    p2 = _partial(runner, tmp_path, "p2.npz", "instance", gt, dt, "--shard", "2/2")
    cases = {
        "another ground truth": ("instance", other_gt, other_dt, "--shard", "2/2"),
        "parameter 'iou_type'": ("instance", gt, dt, "--shard", "2/2", "--iou-type", "bbox"),
        "parameter 'max_dets'": ("instance", gt, dt, "--shard", "2/2", "--max-dets", "1,10,50"),
        "of another split": ("instance", gt, dt, "--shard", "2/3"),
    }
    for k, (needle, args) in enumerate(cases.items()):
        bad = _partial(runner, tmp_path, f"bad{k}.npz", *args)
        assert_bad_input(invoke(runner, "eval", "merge", p1, bad), str(bad.name), needle)
    assert_bad_input(invoke(runner, "eval", "merge", p1, p1), "given twice")
    assert_bad_input(invoke(runner, "eval", "merge", p1), "shard 2/2 missing")
    sem_gt, sem_pred = semantic_case(tmp_path / "a")
    sem = _partial(runner, tmp_path, "sem.npz", "semantic", sem_gt, sem_pred, "--allow-missing", "--shard", "2/2")
    assert_bad_input(invoke(runner, "eval", "merge", p1, sem), "sem.npz", "a semantic partial")
    assert invoke(runner, "eval", "merge", p1, p2, "-q").exit_code == 0


def test_cli_refuses_files_that_are_not_partials(runner, tmp_path):
    gt, dt = instance_case(tmp_path)
    p1 = _partial(runner, tmp_path, "p1.npz", "instance", gt, dt)
    with zipfile.ZipFile(p1) as z:
        members = {n: z.read(n) for n in z.namelist()}
    header = json.loads(members["header.json"])
    variants = {
        "version 1": {**header, "version": 1},
        "segtool 0.0.1": {**header, "segtool": "0.0.1"},
        "npig": {**header, "arrays": {**header["arrays"], "npig": {"dtype": "<f8", "shape": [4, 4]}}},
    }
    for k, (needle, head) in enumerate(variants.items()):
        path = tmp_path / f"v{k}.npz"
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members.items():
                z.writestr(name, json.dumps(head) if name == "header.json" else data)
        result = invoke(runner, "eval", "merge", path)
        if needle.startswith("segtool"):  # a lone partial of another version is still one evaluation
            assert result.exit_code == 0, result.output
            assert_bad_input(invoke(runner, "eval", "merge", path, p1), "written by segtool")
        else:
            assert_bad_input(result, path.name, needle.split()[0])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    assert_bad_input(invoke(runner, "eval", "merge", junk), "junk.npz", "not a segtool partial")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x.npy", b"")
    (tmp_path / "nohead.npz").write_bytes(buf.getvalue())
    assert_bad_input(invoke(runner, "eval", "merge", tmp_path / "nohead.npz"), "no header.json")


def test_cli_partial_is_an_output(runner, tmp_path):
    gt, dt = instance_case(tmp_path)
    out = _partial(runner, tmp_path, "p.npz", "instance", gt, dt)
    assert_bad_input(invoke(runner, "eval", "instance", gt, dt, "--partial", out), "p.npz")
    assert invoke(runner, "eval", "instance", gt, dt, "--partial", out, "--overwrite", "-q").exit_code == 0
    assert_bad_input(invoke(runner, "eval", "instance", gt, dt, "--partial", gt, "--overwrite"), "gt.json")


def test_empty_shards_merge(tmp_path):
    """Seven shards of two images: most shards score nothing, and still merge."""
    gt, dt = instance_case(tmp_path, seed=8)
    data = json.loads(gt.read_text())
    keep = {7, 14}
    data["images"] = [i for i in data["images"] if i["id"] in keep]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    small = write_json(tmp_path / "small.json", data)
    dets = write_json(tmp_path / "small_dt.json", [d for d in json.loads(dt.read_text()) if d["image_id"] in keep])
    parts = run_shards(tmp_path, 7, evaluate_instance, small, dets)
    assert sum(read(p).counts["images"] == 0 for p in parts) >= 5
    assert_same(merge(parts).to_dict(), evaluate_instance(small, dets).to_dict())


def _rewritten(src: Path, dst: Path, change: Any, compress: int = zipfile.ZIP_STORED) -> Path:
    """``src`` rewritten member by member: ``change(name, bytes)`` gives the new bytes."""
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(dst, "w", compress) as z:
        for name, data in members.items():
            z.writestr(name, change(name, data))
    return dst


def test_hostile_partials_are_one_line(runner, tmp_path):
    """Members compressed (a bomb could unpack past the archive), an .npy whose own header
    claims another shape than header.json, counts of the wrong type: one line, exit 2."""
    gt, dt = instance_case(tmp_path)
    p = _partial(runner, tmp_path, "p.npz", "instance", gt, dt)
    same = lambda name, data: data  # noqa: E731
    cases = {
        "compressed": _rewritten(p, tmp_path / "z.npz", same, zipfile.ZIP_DEFLATED),
        "holds": _rewritten(
            p, tmp_path / "s.npz", lambda n, d: d.replace(b"'shape': (", b"'shape': (9") if n == "score.npy" else d
        ),
        "'counts'": _rewritten(
            p,
            tmp_path / "c.npz",
            lambda n, d: d.replace(b'"objects": ', b'"objects": -') if n == "header.json" else d,
        ),
    }
    for needle, path in cases.items():
        assert_bad_input(invoke(runner, "eval", "merge", path), path.name, needle)


def test_label_maps_are_part_of_the_identity(runner, tmp_path):
    """Shards read through different label maps do not merge, even when the categories come
    out the same (here the maps differ in ``unlisted`` only: the map's content is recorded,
    not its path); through the same map they do."""
    gt, pred = semantic_case(tmp_path, seed=6)
    rows = [{"id": c, "name": f"class{c}"} for c in range(4)]
    maps = [
        write_json(tmp_path / f"map{k}.json", {"labels": rows, "unlisted": u}) for k, u in enumerate(("error", "keep"))
    ]
    args = ("semantic", gt, pred, "--allow-missing")
    p1 = _partial(runner, tmp_path, "l1.npz", *args, "--labels", maps[0], "--shard", "1/2")
    p2 = _partial(runner, tmp_path, "l2.npz", *args, "--labels", maps[0], "--shard", "2/2")
    other = _partial(runner, tmp_path, "l3.npz", *args, "--labels", maps[1], "--shard", "2/2")
    assert invoke(runner, "eval", "merge", p1, p2, "-q").exit_code == 0
    assert_bad_input(invoke(runner, "eval", "merge", p1, other), "l3.npz", "parameter 'reading'")


def test_detections_not_grouped_by_image(tmp_path):
    """A results list whose images' detections are scattered (read whole after the stream
    gives up): the shards still merge to the unsharded run."""
    gt, dt = instance_case(tmp_path, seed=9)
    dets = json.loads(dt.read_text())
    np.random.default_rng(0).shuffle(dets)
    scattered = write_json(tmp_path / "scattered.json", dets)
    full = evaluate_instance(gt, scattered)  # not the grouped file's numbers: ties keep file order
    assert np.allclose(full.stats, cocoeval(gt, scattered, "segm").stats, atol=1e-12, rtol=0)
    assert_same(merge(run_shards(tmp_path, 3, evaluate_instance, gt, scattered)).to_dict(), full.to_dict())


@given(
    ids=st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=8)), max_size=30),
    n=st.integers(1, 12),
)
@settings(max_examples=200, deadline=None)
def test_every_image_in_exactly_one_shard(ids, n):
    for image_id in ids:
        takers = [i for i in range(1, n + 1) if Shard(i, n).takes(image_id)]
        assert takers == [by_hand(image_id, n)]
