"""segtool compare: point metrics by hand and equal to ``segtool eval`` on each prediction;
the paired bootstrap equal, draw for draw, to a slow reference that writes each resampled
dataset (copies of an image as new, adjacent image ids) and runs segtool's evaluation on
it; A == B gives 0 and [0, 0]; --fail-if-worse exit codes; bad input in one line, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from segtool import evaluate_instance, evaluate_panoptic, evaluate_semantic, formats
from segtool.compare import _npig, compare
from segtool.errors import SegtoolError
from segtool.metrics import bootstrap as bs
from segtool.metrics.instance_accumulate import keeping
from tests.conftest import panoptic_segments, rle, write_json, write_panoptic
from tests.helpers import assert_bad_input, invoke

CATS = {1: 1, 2: 2, 3: 100, 4: 200}  # a segment id's category in the random panoptic maps
N_DRAWS = 20


# --- panoptic -------------------------------------------------------------------------


@pytest.fixture
def hand(tmp_path):
    """Two images. img1: road | person (8 px each); img2: sky. A is the ground truth itself;
    B widens the road over half the person: road IoU 8/12 (a TP), person IoU 4/8 = 0.5,
    not > 0.5: an FP and an FN; sky a TP."""
    g1, g2 = np.array([[1, 1, 2, 2]] * 4), np.full((4, 4), 3)
    b1 = np.array([[1, 1, 1, 2]] * 4)
    cats = {1: 100, 2: 1, 3: 200}
    gt = write_panoptic(tmp_path / "gt.json", [g1, g2], [panoptic_segments(g1, cats), panoptic_segments(g2, cats)])
    a = write_panoptic(tmp_path / "a.json", [g1, g2], [panoptic_segments(g1, cats), panoptic_segments(g2, cats)])
    b = write_panoptic(tmp_path / "b.json", [b1, g2], [panoptic_segments(b1, cats), panoptic_segments(g2, cats)])
    return gt, a, b


def test_panoptic_by_hand_and_equal_to_eval(hand):
    gt, a, b = hand
    c = compare("panoptic", gt, a, b, samples=50, seed=3).to_dict()
    m = c["metrics"]
    expected_b = {"PQ": 5 / 9, "SQ": 5 / 9, "RQ": 2 / 3, "PQ_th": 0.0, "PQ_st": 5 / 6, "RQ_st": 1.0}
    for name, value in expected_b.items():
        assert m[name]["a"] == pytest.approx(1.0)
        assert m[name]["b"] == pytest.approx(value)
        assert m[name]["delta"] == pytest.approx(value - 1.0)
    for pred in (a, b):  # the point metrics are segtool eval's
        ref = evaluate_panoptic(gt, pred).to_panopticapi()
        side = "a" if pred == a else "b"
        assert m["PQ"][side] == ref["All"]["pq"] and m["RQ_th"][side] == ref["Things"]["rq"]
    assert c["per_class"]["1"] == {"name": "person", "a": 1.0, "b": 0.0, "delta": -1.0}
    assert c["per_class"]["100"]["b"] == pytest.approx(2 / 3)
    top = c["images"][0]  # img1 changed (PQ per image 1 -> (2/3 + 0) / 2), img2 did not
    assert (top["image_id"], top["a"], top["b"]) == (1, 1.0, pytest.approx(1 / 3))
    assert [r["image_id"] for r in c["images"]] == [1, 2] and c["images"][1]["delta"] == 0.0
    lo, hi = m["PQ"]["ci"]
    assert -1.0 <= lo <= m["PQ"]["delta"] <= hi <= 0.0


def _random_maps(rng, n):
    """n ground-truth maps of four 4x4 blocks, and two predictions: each a copy with a
    random rectangle given to one of the segments (or to a new one)."""
    gts, preds = [], ([], [])
    for _ in range(n):
        g = np.kron(rng.permutation(4).reshape(2, 2) + 1, np.ones((4, 4), np.int64))
        gts.append(g)
        for side in preds:
            p = g.copy()
            y, x = rng.integers(0, 6, 2)
            h, w = rng.integers(1, 5, 2)
            p[y : y + h, x : x + w] = rng.integers(1, 6)
            side.append(p)
    return gts, preds


def _panoptic_sets(tmp_path, rng, n):
    gts, (pa, pb) = _random_maps(rng, n)
    cats = {**CATS, 5: 7}

    def write(name, maps):
        return write_panoptic(tmp_path / f"{name}.json", maps, [panoptic_segments(m, cats) for m in maps])

    return (gts, pa, pb), write


def _resampled(draw, items):
    """The images of one draw in ground-truth order, copies adjacent (as the counts say)."""
    counts = np.bincount(draw, minlength=len(items))
    return [items[i] for i in range(len(items)) for _ in range(counts[i])]


def test_panoptic_bootstrap_equals_slow_reference(tmp_path):
    rng = np.random.default_rng(11)
    (gts, pa, pb), write = _panoptic_sets(tmp_path, rng, 6)
    gt, a, b = write("gt", gts), write("a", pa), write("b", pb)
    c = compare("panoptic", gt, a, b, samples=N_DRAWS, seed=5)
    draws = bs.indices(6, N_DRAWS, 5)
    ref = {"PQ": [], "SQ_th": [], "RQ_st": []}
    for k, draw in enumerate(draws):
        sub = tmp_path / f"s{k}"
        sub.mkdir()
        g, x, y = (write_sub(sub, nm, _resampled(draw, maps)) for nm, maps in (("gt", gts), ("a", pa), ("b", pb)))
        ra, rb = evaluate_panoptic(g, x).to_panopticapi(), evaluate_panoptic(g, y).to_panopticapi()
        for name, (group, key) in {"PQ": ("All", "pq"), "SQ_th": ("Things", "sq"), "RQ_st": ("Stuff", "rq")}.items():
            ref[name].append((ra[group][key], rb[group][key]))
    for name, pairs in ref.items():
        got_a, got_b = c.a.draws[name], c.b.draws[name]
        assert got_a == pytest.approx([p[0] for p in pairs], abs=1e-12)
        assert got_b == pytest.approx([p[1] for p in pairs], abs=1e-12)
        deltas = np.array([p[1] - p[0] for p in pairs])
        assert c.metrics()[name]["ci"] == pytest.approx(list(np.percentile(deltas, [2.5, 97.5])), abs=1e-12)


def write_sub(folder, name, maps):
    cats = {**CATS, 5: 7}
    return write_panoptic(folder / f"{name}.json", maps, [panoptic_segments(m, cats) for m in maps])


def test_same_prediction_gives_zero(tmp_path):
    rng = np.random.default_rng(2)
    (gts, pa, _), write = _panoptic_sets(tmp_path, rng, 5)
    gt, a = write("gt", gts), write("a", pa)
    d = compare("panoptic", gt, a, a, samples=200, seed=1).to_dict()
    for m in d["metrics"].values():
        assert m["delta"] == 0.0 and m["ci"] == [0.0, 0.0]
    assert all(r["delta"] == 0.0 for r in d["images"])
    assert d["bootstrap"] == {"samples": 200, "seed": 1, "level": 0.95, "percentiles": [2.5, 97.5]}


def test_same_seed_same_draws_other_seed_others():
    assert np.array_equal(bs.indices(7, 30, 4), bs.indices(7, 30, 4))
    assert not np.array_equal(bs.indices(7, 30, 4), bs.indices(7, 30, 5))
    counts = bs.counts_of(bs.indices(7, 30, 4), 7)
    assert counts.shape == (30, 7) and (counts.sum(axis=1) == 7).all()


# --- semantic -------------------------------------------------------------------------

SEM_CATS = [{"id": i, "name": f"c{i}"} for i in range(4)]


def _folder(path, maps, categories=True):
    path.mkdir(parents=True)
    for k, m in enumerate(maps):
        Image.fromarray(np.asarray(m, np.uint8)).save(path / f"im{k:03d}.png")
    if categories:
        (path / "categories.json").write_text(json.dumps(SEM_CATS))
    return path


def test_semantic_by_hand_and_bootstrap_equals_slow_reference(tmp_path):
    # by hand: one image a 2x2 of classes 0 0 / 1 1; A right, B labels a 1 as 0:
    # A mIoU 1; B IoU c0 2/3, c1 1/2 -> mIoU 7/12, pixel accuracy 3/4
    gt = _folder(tmp_path / "hand/gt", [[[0, 0], [1, 1]]])
    a = _folder(tmp_path / "hand/a", [[[0, 0], [1, 1]]], False)
    b = _folder(tmp_path / "hand/b", [[[0, 0], [0, 1]]], False)
    m = compare("semantic", gt, a, b, samples=10).to_dict()["metrics"]
    assert (m["mIoU"]["a"], m["mIoU"]["b"], m["pixel_accuracy"]["b"]) == (1.0, pytest.approx(7 / 12), 0.75)
    assert m["mIoU"]["b"] == evaluate_semantic(gt, b).to_dict()["mIoU"]

    rng = np.random.default_rng(8)
    gts = [rng.integers(0, 4, (5, 6)) for _ in range(6)]
    gts[2][0, :] = 255  # void
    pa = [np.where(rng.random(g.shape) < 0.3, rng.integers(0, 4, g.shape), g) for g in gts]
    pb = [np.where(rng.random(g.shape) < 0.2, rng.integers(0, 4, g.shape), g) for g in gts]
    root = tmp_path / "rand"
    c = compare(
        "semantic",
        _folder(root / "gt", gts),
        _folder(root / "a", pa, False),
        _folder(root / "b", pb, False),
        samples=N_DRAWS,
        seed=9,
    )
    for name in ("mIoU", "fwIoU", "pixel_accuracy", "mean_accuracy"):
        assert c.a.metrics[name] == evaluate_semantic(root / "gt", root / "a").to_dict()[name]
    for k, draw in enumerate(bs.indices(6, N_DRAWS, 9)):
        sub = root / f"s{k}"
        g, x, y = (
            _folder(sub / nm, _resampled(draw, maps), nm == "gt") for nm, maps in (("gt", gts), ("a", pa), ("b", pb))
        )
        ra, rb = evaluate_semantic(g, x).to_dict(), evaluate_semantic(g, y).to_dict()
        for name in ("mIoU", "fwIoU", "pixel_accuracy", "mean_accuracy"):
            assert c.a.draws[name][k] == pytest.approx(ra[name], abs=1e-12)
            assert c.b.draws[name][k] == pytest.approx(rb[name], abs=1e-12)


# --- instance -------------------------------------------------------------------------

INST_CATS = [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}]
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]


def _instance_sets(rng, n):
    """n 12x12 images with 1-3 boxes as masks (one crowd); detections: shifted copies, some
    of the wrong class, a stray one; scores distinct within an image, tied across images."""
    images, anns, dets = [], [], []
    for i in range(1, n + 1):
        images.append({"id": i, "file_name": f"{i}.jpg", "height": 12, "width": 12})
        scores = iter(rng.permutation(SCORES).tolist())
        for _ in range(rng.integers(1, 4)):
            y, x, h, w = (int(v) for v in (*rng.integers(0, 6, 2), *rng.integers(2, 6, 2)))
            m = np.zeros((12, 12), bool)
            m[y : y + h, x : x + w] = True
            cat = int(rng.integers(1, 3))
            crowd = int(rng.random() < 0.1)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": cat,
                    "segmentation": rle(m),
                    "area": int(m.sum()),
                    "bbox": [x, y, w, h],
                    "iscrowd": crowd,
                }
            )
            d = np.roll(m, tuple(int(v) for v in rng.integers(-1, 2, 2)), axis=(0, 1))
            dcat = cat if rng.random() < 0.8 else 3 - cat
            dets.append({"image_id": i, "category_id": dcat, "segmentation": rle(d), "score": next(scores)})
        if rng.random() < 0.5:
            m = np.zeros((12, 12), bool)
            m[8:11, 8:11] = True
            dets.append(
                {"image_id": i, "category_id": int(rng.integers(1, 3)), "segmentation": rle(m), "score": next(scores)}
            )
    return {"images": images, "annotations": anns, "categories": INST_CATS}, dets


def _instance_resampled(draw, gt, dets):
    """The resampled ground truth and detections: copy c of image i gets a new id, the
    ids ascending in (i, c) order."""
    counts = np.bincount(draw, minlength=len(gt["images"]))
    images, anns, out = [], [], []
    for img in gt["images"]:
        for _ in range(counts[img["id"] - 1]):
            new = len(images) + 1
            images.append({**img, "id": new})
            anns += [
                {**a, "id": len(anns) + 1, "image_id": new} for a in gt["annotations"] if a["image_id"] == img["id"]
            ]
            out += [{**d, "image_id": new} for d in dets if d["image_id"] == img["id"]]
    return {"images": images, "annotations": anns, "categories": gt["categories"]}, out


def test_instance_point_metrics_and_bootstrap_equal_slow_reference(tmp_path):
    rng = np.random.default_rng(21)
    gt, da = _instance_sets(rng, 8)
    _, db = _instance_sets(np.random.default_rng(21), 8)
    db = [{**d, "score": round(1.05 - d["score"], 2)} if k % 3 == 0 else d for k, d in enumerate(db)]  # B reorders some
    gpath, apath, bpath = (
        write_json(tmp_path / "gt.json", gt),
        write_json(tmp_path / "a.json", da),
        write_json(tmp_path / "b.json", db),
    )
    c = compare("instance", gpath, apath, bpath, samples=N_DRAWS, seed=4)
    names = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
    for side, path in (("a", apath), ("b", bpath)):
        stats = evaluate_instance(gpath, path).stats.tolist()
        got = getattr(c, side).metrics
        assert [got[n] for n in names] == [None if v == -1 else v for v in stats]
    for k, draw in enumerate(bs.indices(8, N_DRAWS, 4)):
        g, x = _instance_resampled(draw, gt, da)
        _, y = _instance_resampled(draw, gt, db)
        g = write_json(tmp_path / f"s{k}.json", g)
        for side, dets in (("a", x), ("b", y)):
            s = evaluate_instance(g, dets).stats if dets else np.zeros(12)
            for i, name in enumerate(names):
                if name in ("APs", "APm", "APl"):
                    continue
                want = np.nan if s[i] == -1 else s[i]
                assert getattr(c, side).draws[name][k] == pytest.approx(want, abs=1e-12, nan_ok=True), (k, side, name)
    m = c.metrics()
    deltas = c.b.draws["AP"] - c.a.draws["AP"]
    assert m["AP"]["ci"] == pytest.approx(list(np.percentile(deltas[~np.isnan(deltas)], [2.5, 97.5])))
    assert m["APs"]["ci"] is None and m["ARs"]["ci"] is not None  # no AP bootstrap per area range (docs/compare.md)
    # shares of the samples in worker processes: the same values
    draws = bs.counts_of(bs.indices(8, N_DRAWS, 4), 8)
    ds = formats.read(gpath)
    with keeping() as kept:
        evaluate_instance(ds, apath)
    found, categories, params = kept[0]
    ids = sorted(s.image.id for s in ds.samples)
    npig = _npig(found.image_npig or [], len(ids), categories, len(params.area_rng))
    # the evaluation's own per-image counts, as counted from the file: not crowd, area in range
    want = np.zeros(npig.shape)
    for a in gt["annotations"]:
        for r, (lo, hi) in enumerate(params.area_rng):
            if not a["iscrowd"] and lo <= a["area"] <= hi:
                want[ids.index(a["image_id"]), [cat.id for cat in categories].index(a["category_id"]), r] += 1
    assert np.array_equal(npig, want) and want[:, :, 0].sum() > 0
    stats = bs.instance_stats(found, categories, params, npig)
    one, two = bs.instance(draws, stats), bs.instance(draws, stats, jobs=2)
    for name in one:
        assert np.array_equal(one[name], two[name], equal_nan=True)
        assert np.array_equal(one[name], c.a.draws[name], equal_nan=True)


def test_cli_finds_the_task(runner, tmp_path):
    gt, dets = _instance_sets(np.random.default_rng(3), 3)
    g, a = write_json(tmp_path / "gt.json", gt), write_json(tmp_path / "a.json", dets)
    out = tmp_path / "c.json"
    assert invoke(runner, "compare", g, a, a, "--bootstrap", "5", "--json", out, "-q").exit_code == 0
    d = json.loads(out.read_text())
    assert d["task"] == "instance"
    for name, m in d["metrics"].items():  # A == B: every delta 0, every interval [0, 0] (none per area range of AP)
        assert m["delta"] in (0.0, None) and m["ci"] in ([0.0, 0.0], None), name
    assert d["metrics"]["AP"]["ci"] == [0.0, 0.0] and d["metrics"]["AR1"]["ci"] == [0.0, 0.0]
    sem = _folder(tmp_path / "sem", [[[0, 1]], [[1, 1]]])
    r = invoke(runner, "compare", sem, sem, sem, "--bootstrap", "5", "--json", "-q")
    assert r.exit_code == 0 and json.loads(r.stdout)["task"] == "semantic"
    assert all(m["delta"] == 0.0 and m["ci"] == [0.0, 0.0] for m in json.loads(r.stdout)["metrics"].values())


# --- CLI ------------------------------------------------------------------------------


def test_cli_json_names_and_gates(runner, hand, tmp_path):
    gt, a, b = hand
    out = tmp_path / "c.json"
    r = invoke(runner, "compare", gt, a, b, "--names", "base,new", "--bootstrap", "30", "--json", out, "-q")
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["names"] == {"a": "base", "b": "new"} and set(d) >= {"metrics", "per_class", "images"}
    assert d["metrics"]["PQ"]["delta"] == pytest.approx(5 / 9 - 1)
    # PQ fell by 4/9: a tolerance of 0.5 passes, 0.4 fails (exit 1); B -> A is no regression
    assert invoke(runner, "compare", gt, a, b, "--fail-if-worse", "PQ=0.5", "-q").exit_code == 0
    r = invoke(runner, "compare", gt, a, b, "--fail-if-worse", "PQ=0.4", "--bootstrap", "0")
    assert r.exit_code == 1 and "PQ fell by 0.4444" in r.stderr
    assert invoke(runner, "compare", gt, b, a, "--fail-if-worse", "PQ=0", "-q").exit_code == 0


def test_cli_bad_input_one_line(runner, hand, tmp_path):
    gt, a, b = hand
    assert_bad_input(invoke(runner, "compare", gt, a, tmp_path / "missing.json", "--task", "panoptic"))
    assert_bad_input(invoke(runner, "compare", gt, a, b, "--fail-if-worse", "NOPE=0.1"), "NOPE")
    r = invoke(runner, "compare", gt, a, b, "--fail-if-worse", "PQ")
    assert r.exit_code == 2 and "METRIC=TOLERANCE" in r.output
    with pytest.raises(SegtoolError):
        compare("depth", gt, a, b)
    inside = gt.with_suffix("") / "report.json"  # a report inside an input's PNG folder: refused, nothing written
    assert_bad_input(invoke(runner, "compare", gt, a, b, "--json", inside))
    assert not inside.exists()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert_bad_input(invoke(runner, "compare", gt, a, bad, "--task", "panoptic"))
