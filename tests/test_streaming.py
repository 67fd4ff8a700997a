"""COCO instance files and results lists streamed into compact per-image tables, in any
order; every input JSON opened at most twice per command (issue 10, item 5).

Expected values come from the JSON written here (grouped by hand) and from pycocotools'
COCOeval, never from segtool's own output.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segtool import evaluate_instance, formats
from segtool.errors import SegtoolError
from segtool.formats import jsonstream
from tests.conftest import DETECTION_EXAMPLES, PANOPTIC_EXAMPLES, rle, write_json
from tests.helpers import cocoeval as reference

CATS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 7, "name": "c"}]


def _box(m: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(m)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def _counts(m: np.ndarray) -> list[int]:
    """Uncompressed RLE counts: run lengths in column-major order, starting with zeros."""
    out, current, n = [], False, 0
    for v in m.T.ravel().tolist():
        if v == current:
            n += 1
        else:
            out.append(n)
            current, n = v, 1
    return [*out, n]


def _mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    y, x, s = int(rng.integers(0, h - 12)), int(rng.integers(0, w - 12)), int(rng.integers(2, 12))
    m[y : y + s, x : x + int(rng.integers(2, 12))] = True
    return m


def instance_data(seed: int = 0) -> dict[str, Any]:
    """Images with every kind of segmentation: RLE strings, polygons of integers and of
    floats, uncompressed crowd RLEs, an RLE of another size, none at all."""
    rng = np.random.default_rng(seed)
    images = [{"id": iid, "file_name": f"{iid}.jpg", "height": 40, "width": 50} for iid in (5, 1, 9, 3)]
    anns: list[dict[str, Any]] = []
    for im in images:
        count = {5: 8, 1: 7, 9: 0, 3: 1}[im["id"]]  # image 3: only an RLE of another size
        for k in range(count):
            m, kind = _mask(rng, 40, 50), 4 if im["id"] == 3 else k % 6 if k % 6 != 4 else 0
            x, y, w, h = _box(m)
            segm: Any = rle(m)
            if kind == 1:
                segm = [[x, y, x + w, y, x + w, y + h, x, y + h]]  # integers stay integers
            elif kind == 2:
                segm = [[x + 0.5, y + 0.25, x + w - 0.5, y, x + w, y + h - 0.75]]
            elif kind == 3:
                segm = {"size": [40, 50], "counts": _counts(m)}  # uncompressed, as COCO's crowds
            elif kind == 4:
                segm = {"size": [4, 5], "counts": "52"}  # not this image's size: decoded where loaded
            ann = {"id": 1000 + len(anns), "image_id": im["id"], "category_id": int(rng.choice([1, 2, 7]))}
            if kind != 5:
                ann["segmentation"] = segm
            ann.update(area=float(m.sum()) + 0.5, bbox=[x, y, w, h], iscrowd=int(kind == 3))
            anns.append(ann)
    return {"info": {"year": 2024}, "images": images, "annotations": anns, "categories": CATS}


def by_hand(data: dict[str, Any]) -> dict[Any, list[dict[str, Any]]]:
    """Each image's annotations, in file order."""
    out: dict[Any, list[dict[str, Any]]] = {im["id"]: [] for im in data["images"]}
    for a in data["annotations"]:
        out[a["image_id"]].append(a)
    return out


def test_instance_annotations_in_any_order_read_as_the_file_lists_them(tmp_path):
    data = instance_data()
    shuffled = {**data, "annotations": random.Random(3).sample(data["annotations"], len(data["annotations"]))}
    for case in (data, shuffled):
        path = write_json(tmp_path / "inst.json", case)
        ds = formats.read(path)
        expected = by_hand(case)
        assert [s.image.id for s in ds.samples] == [5, 1, 9, 3] and ds.info == {"info": {"year": 2024}}
        for s in ds.samples:
            mine = expected[s.image.id]
            segs = s.source.segments
            assert segs.id.tolist() == [a["id"] for a in mine]
            assert segs.category_id.tolist() == [a["category_id"] for a in mine]
            assert segs.area.tolist() == [a["area"] for a in mine]
            assert segs.bbox.tolist() == [a["bbox"] for a in mine]
            assert segs.iscrowd.tolist() == [bool(a["iscrowd"]) for a in mine]
            if any("size" in a.get("segmentation", {}) and a["segmentation"]["size"] == [4, 5] for a in mine):
                with pytest.raises(SegtoolError, match="size"):
                    s.load()
                continue
            ann = s.load()
            # the raw objects as the file wrote them: integers stay integers (json.dumps shows it)
            assert json.dumps(ann.raw) == json.dumps(tuple(a.get("segmentation", []) for a in mine))
            for a, r in zip(mine, ann.rles, strict=True):
                if isinstance(a.get("segmentation"), dict) and isinstance(a["segmentation"]["counts"], str):
                    assert r == a["segmentation"]


def test_grouped_and_shuffled_files_evaluate_alike(tmp_path):
    data = instance_data(1)
    data["annotations"] = [
        a for a in data["annotations"] if a.get("segmentation", {}) != {"size": [4, 5], "counts": "52"}
    ]
    dets = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "segmentation": a.get("segmentation", []),
            "score": 0.5,
        }
        for a in data["annotations"]
        if "segmentation" in a and not a["iscrowd"]
    ]
    gt = write_json(tmp_path / "gt.json", data)
    shuffled = {**data, "annotations": random.Random(1).sample(data["annotations"], len(data["annotations"]))}
    gt2 = write_json(tmp_path / "gt2.json", shuffled)
    dt = write_json(tmp_path / "dt.json", dets)
    a, b = evaluate_instance(gt, dt), evaluate_instance(gt2, dt)
    assert np.array_equal(a.precision, b.precision) and np.array_equal(a.stats, b.stats)


def test_validate_finds_the_same_in_any_order(tmp_path):
    """validate's two passes (annotations per image, then the checks) share one open; a
    file whose images' annotations are interleaved gives the findings of the grouped one."""
    from segtool.validation import validate

    data = instance_data()
    data["annotations"][2]["area"] = 1.0  # an area-mismatch finding
    grouped = validate(write_json(tmp_path / "a.json", data)).to_dict()
    rank = {id(a): k for anns in by_hand(data).values() for k, a in enumerate(anns)}
    data["annotations"].sort(key=lambda a: rank[id(a)])  # images interleaved, each in its own order
    shuffled = validate(write_json(tmp_path / "b.json", data)).to_dict()

    def key(f: dict[str, Any]) -> str:
        return json.dumps({**f, "path": ""}, sort_keys=True)

    assert grouped["summary"] == shuffled["summary"] and grouped["summary"]["errors"] >= 2
    assert sorted(map(key, grouped["findings"])) == sorted(map(key, shuffled["findings"]))


def test_a_value_error_names_the_first_image_in_images_order(tmp_path):
    """Values are checked as annotations stream in, and reported as reading the whole file
    would: for the first image, in 'images' order, that has a problem."""
    data = instance_data()
    square = {"category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]], "iscrowd": 0}
    late = {**square, "id": 1001, "image_id": 3, "area": "x", "bbox": [0, 0, 4, 4]}
    early = {**square, "id": 1002, "image_id": 1, "area": 8, "bbox": [0, 0, "y", 1]}
    path = write_json(tmp_path / "inst.json", {**data, "annotations": [late, early]})  # 'images' lists 1 before 3
    with pytest.raises(SegtoolError, match=r"image 1: malformed annotation \(could not convert string to float: 'y'\)"):
        formats.read(path)
    data["annotations"] = [{**late, "area": 1.0}, {**early, "bbox": [0, 0, 1, 1], "id": "7"}]
    with pytest.raises(SegtoolError, match=r"image 1: annotation #0: 'id' must be an integer, got '7'"):
        formats.read(write_json(tmp_path / "inst.json", data))
    data["annotations"] = [{**late, "area": "nan"}]
    with pytest.raises(SegtoolError, match=r"image 3: annotation 1001: 'area' must be finite numbers, got 'nan'"):
        formats.read(write_json(tmp_path / "inst.json", data))
    data["annotations"] = [{**late, "image_id": 4}]
    with pytest.raises(SegtoolError, match=r"annotation 1001: unknown image id 4"):
        formats.read(write_json(tmp_path / "inst.json", data))


def test_other_encodings_are_read_whole(tmp_path):
    """The stream reads UTF-8; UTF-16 and a UTF-8 byte-order mark are read as the json
    module reads them (with --from), to the same dataset."""
    data = instance_data()
    text = json.dumps(data)
    plain = formats.read(write_json(tmp_path / "a.json", data))
    for name, raw in (("b.json", text.encode("utf-16")), ("c.json", b"\xef\xbb\xbf" + text.encode())):
        (tmp_path / name).write_bytes(raw)
        other = formats.read(tmp_path / name, "coco-instance")
        for s, t in zip(plain.samples, other.samples, strict=True):
            assert s.image == t.image and s.source.segments.id.tolist() == t.source.segments.id.tolist()
            assert s.source.text == t.source.text
        with pytest.raises(SegtoolError, match="a stream reads UTF-8"):
            jsonstream.sketch(tmp_path / name)


def test_broken_json_anywhere_is_reported(tmp_path):
    """The layout reads a few sections; the annotation stream parses the whole file, so
    text no section holds is checked too."""
    good = json.dumps(instance_data())
    for text in (good + " x", good[:-1], good[:-1] + ', "x": [1,}', good[:-1] + ', "x": [1, 2]}'):
        path = tmp_path / "inst.json"
        path.write_text(text)
        if text.endswith("[1, 2]}"):
            assert len(formats.read(path).samples) == 4
            continue
        with pytest.raises(SegtoolError, match="invalid JSON"):
            formats.read(path, "coco-instance")


def test_string_image_ids(tmp_path):
    """An image id may be a string ("5" and 5 are different ids)."""
    data = instance_data()
    for im in data["images"]:
        im["id"] = f"img{im['id']}"
    for a in data["annotations"]:
        a["image_id"] = f"img{a['image_id']}"
    ds = formats.read(write_json(tmp_path / "inst.json", data))
    assert [s.image.id for s in ds.samples] == ["img5", "img1", "img9", "img3"]
    assert [len(s.source.segments) for s in ds.samples] == [len(v) for v in by_hand(data).values()]
    data["annotations"][0]["image_id"] = 5
    with pytest.raises(SegtoolError, match="unknown image id 5"):
        formats.read(write_json(tmp_path / "inst.json", data))


# --- results lists, streamed, against COCOeval -------------------------------------------------


def make_case(tmp_path: Path, seed: int, with_bbox: bool) -> tuple[Path, Path]:
    """Ground truth and detections over several images, the detections in random order."""
    rng = np.random.default_rng(seed)
    images, gts, dets = [], [], []
    for iid in range(1, 7):
        images.append({"id": iid * 2, "file_name": f"{iid}.jpg", "height": 60, "width": 70})
        for _ in range(int(rng.integers(1, 8))):
            m = _mask(rng, 60, 70)
            cat = int(rng.choice([1, 2, 7]))
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": iid * 2,
                    "category_id": cat,
                    "segmentation": rle(m),
                    "area": float(m.sum()),
                    "bbox": _box(m),
                    "iscrowd": int(rng.random() < 0.1),
                }
            )
            for _ in range(int(rng.integers(0, 3))):
                d = np.roll(m, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
                det = {
                    "image_id": iid * 2,
                    "category_id": cat if rng.random() < 0.8 else 2,
                    "segmentation": rle(d),
                    "score": float(rng.choice([0.2, 0.5, 0.5, 0.9])),
                }
                if with_bbox:
                    det["bbox"] = [float(v) for v in _box(d)]
                dets.append(det)
    rng.shuffle(dets)  # detections of an image need not come together
    gt = write_json(tmp_path / "gt.json", {"images": images, "annotations": gts, "categories": CATS})
    return gt, write_json(tmp_path / "dt.json", dets)


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("with_bbox", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_streamed_results_in_any_order_equal_cocoeval(tmp_path, seed, with_bbox, iou_type):
    gt, dt = make_case(tmp_path, seed, with_bbox)
    ours, theirs = evaluate_instance(gt, dt, iou_type=iou_type), reference(gt, dt, iou_type)
    assert np.allclose(ours.stats, theirs.stats, atol=1e-12, rtol=0)
    assert np.allclose(ours.precision, theirs.eval["precision"], atol=1e-12, rtol=0)
    assert np.allclose(ours.recall, theirs.eval["recall"], atol=1e-12, rtol=0)


def test_results_in_a_dataset_and_in_memory_equal_the_list(tmp_path):
    """A results list, the same detections as a dataset's 'annotations', and in memory."""
    gt, dt = make_case(tmp_path, 7, True)
    dets = json.loads(dt.read_text())
    wrapped = write_json(tmp_path / "wrapped.json", {"annotations": dets})
    theirs = reference(gt, dt, "segm")
    for pred in (dt, wrapped, dets):
        assert np.allclose(evaluate_instance(gt, pred).stats, theirs.stats, atol=1e-12, rtol=0)


def test_detections_without_masks_and_mixed_boxes(tmp_path):
    """loadRes: the first detection's box makes every area a box's; a detection without a
    segmentation is its box as a polygon."""
    gt, dt = make_case(tmp_path, 2, True)
    dets = json.loads(dt.read_text())
    for d in dets[3:9]:
        del d["segmentation"]
    write_json(dt, dets)
    for iou_type in ("segm", "bbox"):
        assert np.allclose(
            evaluate_instance(gt, dt, iou_type=iou_type).stats, reference(gt, dt, iou_type).stats, atol=1e-12, rtol=0
        )


# --- opens per command ----------------------------------------------------------------------

CHILD = """
import json, os, sys
opens = {}
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        name = os.fsdecode(args[0])
        if name.endswith(".json"):
            opens[os.path.realpath(name)] = opens.get(os.path.realpath(name), 0) + 1
sys.addaudithook(hook)
sys.argv = ["segtool", *sys.argv[1:]]
from segtool.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "opens": opens}))
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("opens")
    pan = root / "pan.json"
    shutil.copy(PANOPTIC_EXAMPLES, pan)
    shutil.copytree(PANOPTIC_EXAMPLES.with_suffix(""), root / "pan")
    shutil.copy(PANOPTIC_EXAMPLES, root / "pred.json")
    shutil.copytree(PANOPTIC_EXAMPLES.with_suffix(""), root / "pred")
    inst = root / "inst.json"
    data = json.loads(DETECTION_EXAMPLES.read_text())
    data["annotations"] = random.Random(0).sample(data["annotations"], len(data["annotations"]))
    write_json(inst, data)
    dets = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "segmentation": a["segmentation"], "score": 0.5}
        for a in data["annotations"]
    ]
    return {"pan": pan, "pred": root / "pred.json", "inst": inst, "dets": write_json(root / "dets.json", dets)}


COMMANDS = {
    "info panoptic": ["info", "{pan}"],
    "info instance": ["info", "{inst}"],
    "validate panoptic": ["validate", "{pan}"],
    "validate instance": ["validate", "{inst}"],
    "convert panoptic->instance": ["convert", "{pan}", "{out}/x.json", "--to", "coco-instance"],
    "convert instance->panoptic": ["convert", "{inst}", "{out}/x.json", "--to", "coco-panoptic"],
    "eval panoptic": ["eval", "panoptic", "{pan}", "{pred}"],
    "eval instance": ["eval", "instance", "{inst}", "{dets}"],
    "preview instance": ["preview", "{inst}", "{out}/p", "--sample", "2"],
    "preview panoptic": ["preview", "{pan}", "{out}/p", "--pred", "{pred}", "--sample", "2"],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_input_json_is_opened_at_most_twice(tmp_path, inputs, name):
    argv = [a.format(out=tmp_path, **inputs) for a in COMMANDS[name]]
    run = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, timeout=300)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, 1, None), run.stderr
    given = {str(p.resolve()) for p in inputs.values() if str(p) in argv}
    assert given and all(result["opens"].get(p, 0) <= 2 for p in given), result["opens"]
    assert all(result["opens"].get(p, 0) >= 1 for p in given)
