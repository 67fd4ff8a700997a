"""TIDE's error decomposition against tidecv 1.0.1 itself (mask and box modes), in-process.

Generated data with every error type: detections shifted a little (true positives) or a
lot (Loc), of the wrong class (Cls), repeated (Dupe), elsewhere (Bkg), both shifted and of
the wrong class (Both); ground truth left without detections (Miss); crowd regions with
detections inside (ignored); an image with ground truth and no detection, one with
detections and no ground truth, one with more than 100 detections; scores on a coarse grid
so that ties fall within and across images and classes. tidecv lists the images in the
ground truth's order, segtool in ascending id: the generated images are listed by id.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from segtool import evaluate_instance
from segtool.metrics.analyses import Analyses

tidecv = pytest.importorskip("tidecv", reason="tidecv (the TIDE reference) is installed by make test-venv")

CLASSES = (1, 2, 3, 5)


def _rle(m: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


def _box(rng: np.random.Generator, h: int, w: int) -> tuple[int, int, int, int]:
    bh, bw = int(rng.integers(6, h // 2)), int(rng.integers(6, w // 2))
    return int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw)), bh, bw


def _mask(h: int, w: int, y: int, x: int, bh: int, bw: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[max(y, 0) : max(y + bh, 0), max(x, 0) : max(x + bw, 0)] = True
    yy, xx = np.mgrid[:h, :w]
    m &= (yy - y) + (xx - x) >= min(bh, bw) // 3  # a corner cut: mask IoU is not box IoU
    if not m.any():
        m[0, 0] = True
    return m


def _record(m: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return {
        "segmentation": _rle(m),
        "bbox": [float(v) for v in mask_utils.toBbox(r)],
        "area": float(mask_utils.area(r)),
    }


def make_case(tmp_path: Path, seed: int) -> tuple[Path, Path]:
    """A ground-truth JSON and a results list with every TIDE error type (see the module)."""
    rng = np.random.default_rng(seed)
    images, gts, dets = [], [], []
    scores = np.round(np.arange(0.01, 1.0, 0.01), 2)  # a grid: ties within and across images

    def det(iid: int, cls: int, m: np.ndarray) -> None:
        dets.append({"image_id": iid, "category_id": cls, "score": float(rng.choice(scores)), **_record(m)})

    for iid in range(1, 9):
        h, w = int(rng.integers(60, 120)), int(rng.integers(60, 120))
        images.append({"id": iid, "file_name": f"{iid}.jpg", "height": h, "width": w})
        for _ in range(0 if iid == 2 else int(rng.integers(2, 9))):
            y, x, bh, bw = _box(rng, h, w)
            m, cls = _mask(h, w, y, x, bh, bw), int(rng.choice(CLASSES))
            crowd = rng.random() < 0.12
            gts.append({"id": len(gts) + 1, "image_id": iid, "category_id": cls, "iscrowd": int(crowd), **_record(m)})
            if crowd:
                for _ in range(int(rng.integers(1, 3))):  # detections inside the crowd region
                    det(
                        iid,
                        cls if rng.random() < 0.7 else int(rng.choice(CLASSES)),
                        _mask(h, w, y + 1, x + 1, bh // 2, bw // 2),
                    )
                continue
            kind = rng.choice(["tp", "tp", "loc", "cls", "dupe", "both", "miss"])
            if kind in ("tp", "dupe"):
                det(iid, cls, _mask(h, w, y + int(rng.integers(-1, 2)), x, bh, bw))
            if kind == "dupe":
                det(iid, cls, _mask(h, w, y, x + int(rng.integers(-1, 2)), bh, bw))
            if kind == "loc":
                det(iid, cls, _mask(h, w, y + bh // 2, x, bh, bw))
            if kind == "cls":
                det(iid, int(rng.choice([c for c in CLASSES if c != cls])), _mask(h, w, y, x, bh, bw))
            if kind == "both":
                det(
                    iid,
                    int(rng.choice([c for c in CLASSES if c != cls])),
                    _mask(h, w, y + bh // 2, x + bw // 3, bh, bw),
                )
        for _ in range(105 if iid == 5 else int(rng.integers(0, 3))):  # background; > 100 in one image
            det(iid, int(rng.choice(CLASSES)), _mask(h, w, *_box(rng, h, w)))
    order = rng.permutation(len(dets))  # results not grouped by image, nor sorted
    gt_path, dt_path = tmp_path / f"gt{seed}.json", tmp_path / f"dt{seed}.json"
    categories = [{"id": c, "name": f"c{c}"} for c in CLASSES]
    gt_path.write_text(json.dumps({"images": images, "annotations": gts, "categories": categories}))
    dt_path.write_text(json.dumps([dets[i] for i in order]))
    return gt_path, dt_path


def reference(gt: Path, dt: Path, mode: str) -> dict:
    """tidecv's numbers: TIDE().evaluate then get_all_errors (its summary silenced)."""
    from tidecv import TIDE, datasets

    tide = TIDE()
    with contextlib.redirect_stdout(io.StringIO()):
        run = tide.evaluate(datasets.COCO(str(gt)), datasets.COCOResult(str(dt)), mode=mode, name="run")
        errors = tide.get_all_errors()
    counts = {e.short_name: n for e, n in run.count_errors().items()}
    return {"ap": run.ap, "main": errors["main"]["run"], "special": errors["special"]["run"], "counts": counts}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_tide_equals_tidecv(tmp_path: Path, seed: int, iou_type: str) -> None:
    gt, dt = make_case(tmp_path, seed)
    ref = reference(gt, dt, "mask" if iou_type == "segm" else "bbox")
    analyses = Analyses(tide=True)
    evaluate_instance(gt, dt, iou_type=iou_type, analyses=analyses)
    got = analyses.to_dict()["tide"]
    assert got["ap"] == pytest.approx(ref["ap"], abs=1e-6)
    for part in ("main", "special"):
        assert set(got[part]) == set(ref[part])
        for name, value in ref[part].items():
            assert got[part][name] == pytest.approx(value, abs=1e-6), (part, name)
    assert got["counts"] == ref["counts"]


def test_generated_data_has_every_error_type(tmp_path: Path) -> None:
    """The cases above are worth something only if each error type occurs in them."""
    seen: dict[str, int] = {}
    for seed in range(6):
        gt, dt = make_case(tmp_path, seed)
        for name, n in reference(gt, dt, "mask")["counts"].items():
            seen[name] = seen.get(name, 0) + n
    assert all(seen[k] > 0 for k in ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")), seen


def test_worker_processes_and_real_data_equal_tidecv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """panopticapi's example images (50 segments) as COCO instance ground truth, the same
    PNGs with scores as panoptic predictions: those decode PNGs, so they run in worker
    processes (--jobs 2), and TIDE's records come back from them. The numbers equal jobs=1
    and tidecv's on the same segments written as a results list."""
    import shutil

    from tests.conftest import DETECTION_EXAMPLES, PANOPTIC_EXAMPLES, ids_of
    from tests.parity.test_map import count_pools

    data = json.loads(PANOPTIC_EXAMPLES.read_text())
    rng = np.random.default_rng(5)
    for ann in data["annotations"]:
        for s in ann["segments_info"]:
            s["score"] = float(rng.choice([0.3, 0.6, 0.8]))
            if rng.random() < 0.3:  # another class: Cls errors and misses
                s["category_id"] = int(rng.choice([c["id"] for c in data["categories"] if c["isthing"]]))
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(data))
    shutil.copytree(PANOPTIC_EXAMPLES.with_suffix(""), tmp_path / "pred")
    dets = [
        {
            "image_id": a["image_id"],
            "category_id": s["category_id"],
            "score": s["score"],
            **_record(ids_of(tmp_path / "pred" / a["file_name"]) == s["id"]),
        }
        for a in data["annotations"]
        for s in a["segments_info"]
    ]
    results = tmp_path / "dets.json"
    results.write_text(json.dumps(dets))
    got, started = {}, count_pools(monkeypatch)
    for jobs in (1, 2):
        analyses = Analyses(tide=True, confusion=0.5, calibration=10)
        evaluate_instance(DETECTION_EXAMPLES, pred, jobs=jobs, analyses=analyses)
        got[jobs] = analyses.to_dict()
    assert started == [2]  # jobs=2 ran in a pool of 2 worker processes
    assert got[1] == got[2]
    ref = reference(DETECTION_EXAMPLES, results, "mask")
    t = got[2]["tide"]
    assert t["ap"] == pytest.approx(ref["ap"], abs=1e-6) and t["counts"] == ref["counts"]
    for part in ("main", "special"):
        for name, value in ref[part].items():
            assert t[part][name] == pytest.approx(value, abs=1e-6), (part, name)
    assert sum(ref["counts"].values()) > 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0.1, 0.3, 0.5, 0.9]), st.booleans()), max_size=80),
    st.lists(st.integers(0, 12), min_size=4, max_size=4),
)
def test_map_equals_tidecvs_classed_ap(points, npos):
    """segtool's mAP of data points (all classes at once, points grouped per class in their
    stable score order) against tidecv's ClassedAPDataObject itself, to the bit: ties of
    score, more true positives than ground truth, classes with points and no ground truth."""
    from tidecv.ap import ClassedAPDataObject

    from segtool.metrics import tide

    ref = ClassedAPDataObject()
    for c, n in enumerate(npos):  # first, so that its classes are in segtool's order (the mean's sum)
        ref.add_gt_positives(c, n)
    for k, (c, score, true) in enumerate(points):
        ref.push(c, k, score, true)
    if not any(not o.is_empty() for o in ref.objs.values()):
        return  # tidecv divides by zero
    cls = np.array([p[0] for p in points], np.int64)
    score = np.array([p[1] for p in points], np.float64)
    correct = np.array([p[2] for p in points], bool)
    order = np.lexsort((np.arange(len(points)), -score))
    got = tide._map(np.array(npos, np.int64), cls, correct, np.ones(len(points), bool), order)
    assert got == ref.get_mAP()
