"""eval instance streamed (issue 10, item 5): detections read one image at a time, each
image scored as it comes and its ground truth then let go, the packed results put in
sorted image id order before accumulating, as COCOeval's accumulate orders them.

Expected numbers come from pycocotools' COCOeval on the same files, never from segtool.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools.cocoeval import COCOeval

import segtool.evaluate as evaluate_module
from segtool import evaluate_instance, evaluate_panoptic, pairing
from segtool.errors import SegtoolError
from segtool.formats import coco_results
from segtool.metrics.instance_result import IOU_THRS
from segtool.metrics.instances import Collected, ImageEval
from segtool.model import ImageInfo, Sample
from tests.conftest import PANOPTIC_EXAMPLES, rle, write_json
from tests.helpers import cocoeval as reference

CATS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 5, "name": "c"}]
H, W = 40, 48


def _mask(rng: np.random.Generator) -> np.ndarray:
    m = np.zeros((H, W), bool)
    y, x = int(rng.integers(0, H - 14)), int(rng.integers(0, W - 14))
    m[y : y + int(rng.integers(3, 14)), x : x + int(rng.integers(3, 14))] = True
    return m


def _box(m: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(m)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def tie_case(tmp_path: Path, seed: int, string_ids: bool) -> tuple[Path, Path]:
    """Ground truth and detections whose scores tie across images (two values only), so
    that the order of images decides the precision curve: images listed in one order, the
    ground truth's annotations grouped by image in a second, the detections grouped by
    image in a third, none of them the sorted order pycocotools accumulates in. Some
    images have no detections, one has detections but no ground truth."""
    rng = np.random.default_rng(seed)
    n = 14
    ids: list[Any] = [f"im{k:03d}" if string_ids else 1000 - 7 * k for k in range(n)]
    gts: dict[Any, list[dict[str, Any]]] = {}
    dets: dict[Any, list[dict[str, Any]]] = {}
    for k, iid in enumerate(ids):
        gts[iid], dets[iid] = [], []
        for _ in range(0 if k == 3 else int(rng.integers(1, 4))):
            m, cat = _mask(rng), int(rng.choice([1, 2, 5]))
            crowd = rng.random() < 0.1
            gts[iid].append(
                {
                    "image_id": iid,
                    "category_id": cat,
                    "segmentation": rle(m),
                    "area": float(m.sum()),
                    "bbox": _box(m),
                    "iscrowd": int(crowd),
                }
            )
            if k % 5 != 4 and rng.random() < 0.8:  # a detection of it, nearly right
                d = np.roll(m, (int(rng.integers(-1, 2)), int(rng.integers(-1, 2))), axis=(0, 1))
                dets[iid].append(_det(iid, cat, d, rng))
        if k % 5 != 4:
            for _ in range(int(rng.integers(0, 3))):  # false positives at the same scores
                dets[iid].append(_det(iid, int(rng.choice([1, 2, 5])), _mask(rng), rng))
    images = [{"id": ids[k], "file_name": f"{k}.jpg", "height": H, "width": W} for k in rng.permutation(n)]
    annotations = [a for k in rng.permutation(n) for a in gts[ids[k]]]
    for i, a in enumerate(annotations):
        a["id"] = i + 1
    results = [d for k in rng.permutation(n) for d in dets[ids[k]]]
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": annotations, "categories": CATS})
    return gt, write_json(tmp_path / "dt.json", results)


def _det(iid: Any, cat: int, m: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    score = float(rng.choice([0.25, 0.75]))
    return {"image_id": iid, "category_id": cat, "segmentation": rle(m), "bbox": _box(m), "score": score}


def assert_identical(ours: Any, theirs: COCOeval) -> None:
    assert np.array_equal(ours.precision, theirs.eval["precision"])
    assert np.array_equal(ours.recall, theirs.eval["recall"])
    assert np.array_equal(ours.stats, np.asarray(theirs.stats))


@pytest.fixture
def streamed(monkeypatch) -> list[bool]:
    """Which evaluations went through the stream to the end (not read whole after it)."""
    done: list[bool] = []
    real = evaluate_module._instance_streamed

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            result = real(*args, **kwargs)
        except pairing.Unstreamable:
            done.append(False)
            raise
        done.append(True)
        return result

    monkeypatch.setattr(evaluate_module, "_instance_streamed", spy)
    return done


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("string_ids", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_score_ties_across_images_in_shuffled_order_equal_cocoeval(tmp_path, seed, string_ids, iou_type, streamed):
    gt, dt = tie_case(tmp_path, seed, string_ids)
    theirs = reference(gt, dt, iou_type)
    assert 0 < theirs.stats[0] < 1
    for jobs in (1, 2):
        assert_identical(evaluate_instance(gt, dt, iou_type=iou_type, jobs=jobs), theirs)
    assert streamed == [True, True]


def test_the_image_order_decides_ties(tmp_path, monkeypatch):
    """The tie case is a real test of the order: accumulated in file order instead of
    sorted image id order, the numbers differ from COCOeval's."""
    gt, dt = tie_case(tmp_path, 0, False)
    theirs = reference(gt, dt, "segm")
    monkeypatch.setattr(Collected, "order", lambda self: None)
    assert not np.array_equal(evaluate_instance(gt, dt).precision, theirs.eval["precision"])


def test_detections_of_an_image_apart_are_read_whole(tmp_path, monkeypatch, streamed):
    """An image whose detections come in two batches cannot be scored in one pass: the file
    is read whole instead, with the same numbers and each image reported once."""
    gt, dt = tie_case(tmp_path, 1, False)
    dets = json.loads(dt.read_text())
    dets.append(dets.pop(0))  # the first image's first detection now comes last
    write_json(dt, dets)
    monkeypatch.setattr(coco_results, "BATCH", 3)

    class Bar:
        def __init__(self) -> None:
            self.done, self.total = 0, None

        def __call__(self, n: int) -> None:
            self.done += n

        def set_total(self, total: int) -> None:
            self.total = total

    bar = Bar()
    assert_identical(evaluate_instance(gt, dt, progress=bar), reference(gt, dt, "segm"))
    assert streamed == [False]
    assert bar.done == bar.total == 14


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_detections_in_any_order_are_joined_in_one_pass(tmp_path, monkeypatch, streamed, iou_type):
    """A first batch with an image's detections apart (shuffled, or sorted by score): the
    rest of the file is grouped whole in the same pass, parts of one image joined, some
    detections with a box and some without (loadRes: areas from the masks)."""
    gt, dt = tie_case(tmp_path, 3, False)
    dets = json.loads(dt.read_text())
    np.random.default_rng(0).shuffle(dets)
    first = [d for d in dets if d["image_id"] == dets[0]["image_id"]]
    rest = [d for d in dets if d["image_id"] != dets[0]["image_id"]]
    dets = [first[0], rest[0], *first[1:], *rest[1:]]  # apart within the first batch, the rest shuffled
    dets[0].pop("bbox")  # the first has no box: areas from masks, boxes where given
    for d in dets[5::3]:
        d.pop("bbox")
    write_json(dt, dets)
    monkeypatch.setattr(coco_results, "BATCH", 4)
    assert_identical(evaluate_instance(gt, dt, iou_type=iou_type), reference(gt, dt, iou_type))
    assert streamed == [True]
    stream = coco_results.stream_predictions(dt, gt=evaluate_module.dataset(gt))
    found = list(stream.items())
    assert len({iid for iid, _ in found}) == len(found)  # each image once
    ids = np.sort(np.concatenate([src.ids for _, src in found]))
    assert np.array_equal(ids, np.arange(1, len(dets) + 1))


def test_detections_apart_within_one_batch_still_stream(tmp_path, streamed):
    gt, dt = tie_case(tmp_path, 2, True)
    dets = json.loads(dt.read_text())
    dets.reverse()
    write_json(dt, dets)
    assert_identical(evaluate_instance(gt, dt), reference(gt, dt, "segm"))
    assert streamed == [True]


def test_batches_end_where_an_image_does(tmp_path, monkeypatch):
    gt, dt = tie_case(tmp_path, 3, False)
    monkeypatch.setattr(coco_results, "BATCH", 2)
    ds = evaluate_module.dataset(gt)
    stream = coco_results.stream_predictions(dt, gt=ds)
    seen = [iid for iid, _ in stream.items()]
    listed = [d["image_id"] for d in json.loads(dt.read_text())]
    assert seen == list(dict.fromkeys(listed))  # each image once, in file order
    ids = np.concatenate([src.ids for _, src in stream.items()])
    assert np.array_equal(ids, np.arange(1, len(listed) + 1))  # loadRes' ids: file order
    assert not stream.listed


def test_a_detection_for_an_unknown_image_names_it(tmp_path):
    gt, dt = tie_case(tmp_path, 0, False)
    dets = json.loads(dt.read_text())
    dets.insert(5, {**dets[0], "image_id": 424242})
    write_json(dt, dets)
    with pytest.raises(SegtoolError, match="detection #5: image id 424242, which the ground truth does not have"):
        evaluate_instance(gt, dt)


def test_eval_panoptic_refuses_a_results_list(tmp_path):
    _, dt = tie_case(tmp_path, 0, False)
    with pytest.raises(
        SegtoolError, match=r"coco-results \(scored by eval instance\); eval panoptic takes coco-panoptic"
    ):
        evaluate_panoptic(PANOPTIC_EXAMPLES, dt)


def test_ranked_lets_each_ground_truth_go_once_paired():
    """The pairing holds the only references to the ground truth: each image is freed as
    soon as its pair is scored, whatever order the predictions come in."""

    class Source:
        def load(self, image: ImageInfo) -> Any:
            raise AssertionError("not loaded here")

    samples = [Sample(ImageInfo(iid, f"{iid}.jpg", 4, 4), Source()) for iid in (30, 10, 20)]
    alive = {s.image.id: weakref.ref(s.source) for s in samples}
    order = [20, 30]
    pred = pairing.Stream(np.zeros(0, np.int64), lambda: ((i, "p") for i in order), "pred.json", listed=False)
    stream = pairing.ranked(samples, pred)
    del samples
    got = []
    for rank, g, p in stream.pairs:
        got.append((rank, g.image.id, p is not None))
        del g, p
        gc.collect()
        assert all(alive[iid]() is None for _, iid, _ in got)
    assert got == [(1, 20, True), (2, 30, True), (0, 10, False)]


def test_ranked_refuses_an_image_twice_and_names_strays():
    samples = [Sample(ImageInfo(iid, f"{iid}.jpg", 4, 4), None) for iid in ("b", "a")]

    def stream(order: list[Any]) -> pairing.Ranked:
        pred = pairing.Stream(np.zeros(0, np.int64), lambda: ((i, "p") for i in order), "pred.json", listed=False)
        return pairing.ranked(samples, pred)

    with pytest.raises(pairing.Unstreamable):
        list(stream(["a", "b", "a"]).pairs)
    with pytest.raises(SegtoolError, match="prediction for image id 'c', which the ground truth does not have"):
        list(stream(["c"]).pairs)
    with pytest.raises(SegtoolError, match="prediction for image id 1, which"):
        list(stream([1]).pairs)


def test_collected_puts_images_in_rank_order():
    lanes = (1, len(IOU_THRS))
    found = Collected(lanes)

    def image(cats: list[int], scores: list[float]) -> ImageEval:
        d = len(cats)
        flags = np.zeros((1, len(IOU_THRS), d), bool)
        return ImageEval(np.array(cats, np.int64), np.array(scores), np.arange(d, dtype=np.int64), flags, flags, {})

    found.add(2, image([3, 8], [0.5, 0.4]))
    found.add(0, image([8], [0.3]))
    found.add(1, image([], []))
    found.add(3, image([9, 3, 3], [0.2, 0.1, 0.0]))
    rows = found.order()
    assert rows is not None and rows.tolist() == [2, 0, 1, 3, 4, 5]
    cat, score, _ = found.columns()
    assert cat.tolist() == [3, 8, 8, 9, 3, 3] and score[rows].tolist() == [0.3, 0.5, 0.4, 0.2, 0.1, 0.0]
    assert found.images == 4


def test_a_large_shuffled_results_list_opens_each_file_twice(tmp_path):
    """More detections than one batch, in random order: still one pass over the results
    (and the ground truth read once), as every command's inputs."""
    from tests.test_streaming import CHILD

    rng = np.random.default_rng(5)
    images, gts, dets = [], [], []
    for iid in range(1, 301):
        images.append({"id": iid, "file_name": f"{iid}.jpg", "height": H, "width": W})
        for _ in range(3):
            m = _mask(rng)
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": iid,
                    "category_id": 1,
                    "segmentation": rle(m),
                    "area": float(m.sum()),
                    "bbox": _box(m),
                    "iscrowd": 0,
                }
            )
            dets += [_det(iid, 1, m, rng) for _ in range(5)]
    assert len(dets) > coco_results.BATCH
    rng.shuffle(dets)
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": gts, "categories": CATS})
    dt = write_json(tmp_path / "dt.json", dets)
    argv = ["eval", "instance", str(gt), str(dt), "--json"]
    run = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, timeout=300)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), run.stderr
    assert all(result["opens"].get(str(p.resolve()), 0) <= 2 for p in (gt, dt)), result["opens"]
    stats = json.loads(run.stdout[: run.stdout.rindex("\n{")])["stats"]
    assert np.array_equal(stats, reference(gt, dt, "segm").stats)


@pytest.mark.parametrize("extra", ['"extra": [1 2]', '"info": {"v": 1e999}'])
def test_a_ground_truth_that_is_not_json_outside_its_annotations_is_refused(tmp_path, extra):
    """The C scan of the annotations list reads only that list: the rest must still parse
    (the json module and ijson refuse these files; the scan once scored them)."""
    mask = np.zeros((6, 8), bool)
    mask[1:4, 2:6] = True
    ann = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 1, 4, 3], "area": 12, "iscrowd": 0}
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 6, "width": 8}],
        "annotations": [{**ann, "segmentation": rle(mask)}],
        "categories": [{"id": 1, "name": "a"}],
    }
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(data)[:-1] + ", " + extra + "}")
    dets = write_json(tmp_path / "dets.json", [{**ann, "score": 0.9, "segmentation": rle(mask)}])
    with pytest.raises(SegtoolError, match="invalid JSON"):
        evaluate_instance(gt, dets)
    gt.write_text(json.dumps(data))
    assert evaluate_instance(gt, dets).stats[0] == pytest.approx(1.0, abs=1e-12)  # without it: a perfect detection
