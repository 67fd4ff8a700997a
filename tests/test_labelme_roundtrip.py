"""LabelMe written (issue 12): the JSON as labelme 5 saves it, polygons where they draw back
exactly, mask shapes where they cannot (holes), crowd flagged, labels.txt; and round trips,
property-tested with hypothesis against pycocotools' decoding:

* coco-instance -> labelme -> coco-instance keeps every mask pixel for pixel, with its
  category and crowd flag (polygons and RLEs with holes, overlapping, empty images);
* coco-instance -> yolo-seg -> coco-instance keeps every non-crowd object with IoU >= 0.97
  and its category (large objects: see ``_big_object``), and drops every crowd region.
"""

from __future__ import annotations

import base64
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

import segtool
from segtool.errors import SegtoolError
from segtool.formats import labelme_write
from tests.conftest import PANOPTIC_EXAMPLES, panoptic_partition, rle
from tests.helpers import invoke

NAMES = ["cat", "traffic light", "čaj", "dog"]  # ids 1..4; a space and a non-ASCII letter
CATEGORIES = [{"id": i, "name": n, "supercategory": "x"} for i, n in enumerate(NAMES, start=1)]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _coco(path: Path, images: list[dict[str, Any]], anns: list[dict[str, Any]], cats: Any = None) -> Path:
    for k, a in enumerate(anns, start=1):
        a.setdefault("id", k)
        a.setdefault("iscrowd", 0)
        a.setdefault("bbox", [0, 0, 0, 0])
        a.setdefault("area", 0)
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats or CATEGORIES}))
    return path


def _decode(segm: Any, h: int, w: int) -> np.ndarray:
    """pycocotools' reading of a COCO segmentation (as annToMask)."""
    if isinstance(segm, list):
        segm = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    elif isinstance(segm["counts"], list):
        segm = mask_utils.frPyObjects(segm, h, w)
    return mask_utils.decode(segm).astype(bool)


def _objects(path: Path) -> dict[str, list[tuple[int, int, np.ndarray]]]:
    """Per image file stem: (category id, iscrowd, mask) of each annotation, in file order."""
    data = json.loads(path.read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    size = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    out: dict[str, list[Any]] = {Path(im["file_name"]).stem: [] for im in data["images"]}
    stem = {im["id"]: Path(im["file_name"]).stem for im in data["images"]}
    for a in data["annotations"]:
        h, w = size[a["image_id"]]
        out[stem[a["image_id"]]].append((names[a["category_id"]], a["iscrowd"], _decode(a["segmentation"], h, w)))
    return out


def _square(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


# -- the JSON written -----------------------------------------------------------------------


def test_json_as_labelme_writes_it(tmp_path):
    """A 10x7 square (pixels x 5..14, y 3..9) is one polygon through its corner pixels'
    centres; a square with a hole is a mask shape at its inclusive box; two squares of one
    object are two polygons joined by group_id 1; a crowd region carries the iscrowd flag."""
    h, w = 30, 40
    hole = _square(h, w, 20, 2, 30, 12) & ~_square(h, w, 24, 5, 26, 8)
    two = _square(h, w, 1, 20, 5, 25) | _square(h, w, 30, 20, 38, 28)
    anns = [
        {"image_id": 1, "category_id": 1, "segmentation": rle(_square(h, w, 5, 3, 15, 10))},
        {"image_id": 1, "category_id": 4, "segmentation": rle(hole)},
        {"image_id": 1, "category_id": 2, "segmentation": rle(two)},
        {"image_id": 1, "category_id": 3, "segmentation": rle(_square(h, w, 10, 12, 20, 18)), "iscrowd": 1},
    ]
    src = _coco(tmp_path / "a.json", [{"id": 1, "file_name": "photos/p1.jpg", "height": h, "width": w}], anns)
    summary = segtool.convert(src, tmp_path / "lm", "labelme")
    data = json.loads((tmp_path / "lm" / "p1.json").read_text())
    assert list(data) == ["version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"]
    assert (data["imagePath"], data["imageData"], data["imageHeight"], data["imageWidth"]) == (
        "photos/p1.jpg",
        None,
        h,
        w,
    )
    shapes = data["shapes"]
    assert [list(s) for s in shapes] == [
        ["label", "points", "group_id", "description", "shape_type", "flags", "mask"]
    ] * len(shapes)
    assert [(s["label"], s["shape_type"], s["group_id"]) for s in shapes] == [
        ("cat", "polygon", None),
        ("dog", "mask", None),
        ("traffic light", "polygon", 1),
        ("traffic light", "polygon", 1),
        ("čaj", "polygon", None),
    ]
    assert sorted(map(tuple, shapes[0]["points"])) == [(5.0, 3.0), (5.0, 9.0), (14.0, 3.0), (14.0, 9.0)]
    assert shapes[1]["points"] == [[20.0, 2.0], [29.0, 11.0]]  # inclusive corners (imgviz's masks_to_bboxes)
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(shapes[1]["mask"])))).astype(bool)
    assert png.shape == (10, 10) and np.array_equal(png, hole[2:12, 20:30])
    assert shapes[4]["flags"] == {"iscrowd": True} and shapes[0]["flags"] == {}
    assert (tmp_path / "lm" / "labels.txt").read_text() == "__ignore__\n_background_\ncat\ntraffic light\nčaj\ndog\n"
    assert summary.segments == 4
    assert dict(summary.changed) == {labelme_write.MASKED: 1, labelme_write.CROWDED: 1}
    back = segtool.read(tmp_path / "lm", "labelme")
    assert [(c.id, c.name) for c in back.categories] == [(c["id"], c["name"]) for c in CATEGORIES]
    ann = back.samples[0].load()
    assert ann.segments.category_id.tolist() == [1, 4, 2, 3] and ann.segments.iscrowd.tolist() == [0, 0, 0, 1]
    got = mask_utils.decode(list(ann.rles)).astype(bool)
    for k, want in enumerate([_square(h, w, 5, 3, 15, 10), hole, two, _square(h, w, 10, 12, 20, 18)]):
        assert np.array_equal(got[:, :, k], want), k


def test_refusals_and_renumbering(tmp_path):
    img = {"id": 1, "file_name": "a/x.jpg", "height": 9, "width": 9}
    src = _coco(tmp_path / "a.json", [img, {**img, "id": 2, "file_name": "a/x.png"}], [])
    with pytest.raises(SegtoolError, match=r"share the output name x\.json"):
        segtool.convert(src, tmp_path / "o1", "labelme")
    for bad in ("two\nlines", " padded", "__ignore__"):
        src = _coco(tmp_path / "b.json", [img], [], [{"id": 1, "name": bad}])
        with pytest.raises(SegtoolError, match="cannot be a LabelMe label"):
            segtool.convert(src, tmp_path / "o2", "labelme")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
    with pytest.raises(SegtoolError, match="cannot be a LabelMe label"):  # a lone surrogate (JSON's "\ud800")
        labelme_write.labels_text(["a\ud800"], "x")
    src = _coco(tmp_path / "c.json", [img], [], [{"id": 3, "name": "a"}, {"id": 7, "name": "b"}])
    assert dict(segtool.convert(src, tmp_path / "o3", "labelme").changed) == {labelme_write.RENUMBERED: 2}
    with pytest.raises(SegtoolError, match="a labelme destination is a folder"):
        segtool.convert(src, tmp_path / "o.json", "labelme")


def test_cli_summary(runner, tmp_path):
    h, w = 12, 12
    ring = _square(h, w, 1, 1, 9, 9) & ~_square(h, w, 4, 4, 6, 6)
    anns = [{"image_id": 1, "category_id": 1, "segmentation": rle(ring), "iscrowd": 1}]
    src = _coco(tmp_path / "a.json", [{"id": 1, "file_name": "x.jpg", "height": h, "width": w}], anns)
    result = invoke(runner, "convert", str(src), str(tmp_path / "lm"), "--to", "labelme", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["segments"] == 1
    assert summary["changed"] == {labelme_write.CROWDED: 1, labelme_write.MASKED: 1}


# -- round trips (hypothesis) ---------------------------------------------------------------


@st.composite
def _small_object(draw: Any, h: int, w: int) -> dict[str, Any]:
    """A polygon of 3..8 vertices anywhere in the image (self-crossing allowed, coordinates
    in hundredths), or an RLE: 1..3 rectangles less 0..2 rectangles (holes), crowd or not."""
    cat = draw(st.integers(1, len(NAMES)))
    if draw(st.booleans()):
        n = draw(st.integers(3, 8))
        xs = draw(st.lists(st.integers(0, w * 100), min_size=n, max_size=n))
        ys = draw(st.lists(st.integers(0, h * 100), min_size=n, max_size=n))
        poly = [v / 100 for xy in zip(xs, ys, strict=True) for v in xy]
        return {"category_id": cat, "segmentation": [poly]}
    mask = np.zeros((h, w), bool)
    for take in [True] * draw(st.integers(1, 3)) + [False] * draw(st.integers(0, 2)):
        x0, y0 = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
        x1, y1 = draw(st.integers(x0 + 1, w)), draw(st.integers(y0 + 1, h))
        mask[y0:y1, x0:x1] = take
    return {"category_id": cat, "segmentation": rle(mask), "iscrowd": int(draw(st.booleans()))}


@st.composite
def _small_dataset(draw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """1..3 images of 8..48 pixels a side, 0..6 objects each (the first at least one before
    empty masks are left out; overlapping as they fall)."""
    images, anns = [], []
    for i in range(1, draw(st.integers(1, 3)) + 1):
        h, w = draw(st.integers(8, 48)), draw(st.integers(8, 48))
        images.append({"id": i, "file_name": f"img{i}.jpg", "height": h, "width": w})
        for obj in draw(st.lists(_small_object(h, w), min_size=int(i == 1), max_size=6)):
            if _decode(obj["segmentation"], h, w).any():  # an empty mask has no shape to be
                anns.append({"image_id": i, **obj})
    return images, anns


@FAST
@given(_small_dataset())
def test_coco_labelme_coco_keeps_every_pixel(dataset):
    images, anns = dataset
    with tempfile.TemporaryDirectory() as tmp:
        src = _coco(Path(tmp) / "a.json", images, anns)
        segtool.convert(src, Path(tmp) / "lm", "labelme")
        segtool.convert(Path(tmp) / "lm", Path(tmp) / "b.json", "coco-instance")
        want, got = _objects(src), _objects(Path(tmp) / "b.json")
    assert want.keys() == got.keys()
    for stem, objs in want.items():
        assert [o[:2] for o in got[stem]] == [o[:2] for o in objs], stem
        for (_, _, a), (_, _, b) in zip(objs, got[stem], strict=True):
            assert np.array_equal(a, b), stem


@st.composite
def _big_object(draw: Any, h: int, w: int) -> dict[str, Any]:
    """Large enough that a pixel on each side is a small part. YOLO's reading draws the
    outline's pixels too (COCO's does not: about 0.6 pixel more per pixel of perimeter) and
    truncates coordinates to integers (Ultralytics' polygon2mask), so an edge on pixel corner
    k comes back at k - 1 when k / side does not survive 6 decimals: up to one pixel more on
    every side, IoU (s / (s + 2))^2 for an s x s square. Hence: a star-shaped polygon of
    6..12 vertices, one in each of n equal sectors of the turn (no sliver), at radii 0.7R..R
    with R 100..140 px, inside the image; or an RLE of one or two rectangles of 160..220 px
    a side (IoU >= 0.975), each with or without an 8x8 hole (under 0.25% of it: YOLO writes
    the outer outline); a crowd region (which YOLO drops) one time in five."""
    cat = draw(st.integers(1, len(NAMES)))
    if draw(st.booleans()):
        r = draw(st.integers(100, 140))
        cx, cy = draw(st.integers(r, w - r)), draw(st.integers(r, h - r))
        n = draw(st.integers(6, 12))
        turns = [(k + t) / n for k, t in enumerate(draw(st.lists(st.floats(0, 0.5), min_size=n, max_size=n)))]
        radii = draw(st.lists(st.floats(0.7, 1.0), min_size=n, max_size=n))
        poly = [
            round(float(v), 2)
            for t, k in zip(turns, radii, strict=True)
            for v in (cx + k * r * np.cos(2 * np.pi * t), cy + k * r * np.sin(2 * np.pi * t))
        ]
        return {"category_id": cat, "segmentation": [poly]}
    mask = np.zeros((h, w), bool)
    for _ in range(draw(st.integers(1, 2))):
        sw, sh = draw(st.integers(160, 220)), draw(st.integers(160, 220))
        x0, y0 = draw(st.integers(0, w - sw)), draw(st.integers(0, h - sh))
        mask[y0 : y0 + sh, x0 : x0 + sw] = True
        if draw(st.booleans()):
            mask[y0 + 40 : y0 + 48, x0 + 40 : x0 + 48] = False
    return {"category_id": cat, "segmentation": rle(mask), "iscrowd": int(draw(st.integers(0, 4)) == 0)}


@st.composite
def _big_dataset(draw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """1..2 images of 300..380 pixels a side, 0..4 objects each (the first at least one)."""
    images, anns = [], []
    for i in range(1, draw(st.integers(1, 2)) + 1):
        h, w = draw(st.integers(300, 380)), draw(st.integers(300, 380))
        images.append({"id": i, "file_name": f"img{i}.png", "height": h, "width": w})
        anns += [{"image_id": i, **obj} for obj in draw(st.lists(_big_object(h, w), min_size=int(i == 1), max_size=4))]
    return images, anns


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_big_dataset())
def test_coco_yolo_coco_keeps_every_object(dataset):
    images, anns = dataset
    with tempfile.TemporaryDirectory() as tmp:
        src = _coco(Path(tmp) / "a.json", images, anns)
        yolo = Path(tmp) / "yolo"
        summary = segtool.convert(src, yolo, "yolo-seg")
        (yolo / "images" / "train").mkdir(parents=True)
        for im in images:  # YOLO takes each image's size from the image itself
            Image.new("L", (im["width"], im["height"])).save(yolo / "images" / "train" / im["file_name"])
        segtool.convert(yolo, Path(tmp) / "b.json", "coco-instance")
        want, got = _objects(src), _objects(Path(tmp) / "b.json")
    crowd = sum(a["iscrowd"] for a in anns)
    assert (
        summary.dropped.get("crowd region: YOLO has no crowd (skipped, as Ultralytics' converter skips it)", 0) == crowd
    )
    for stem, objs in want.items():
        kept = [o for o in objs if not o[1]]
        assert [o[0] for o in got[stem]] == [o[0] for o in kept], stem
        for (_, _, a), (_, _, b) in zip(kept, got[stem], strict=True):
            assert _iou(a, b) >= 0.97, (stem, _iou(a, b))


def _by_stem(json_path: Path) -> dict[str, tuple[np.ndarray, list[tuple[str, int]]]]:
    data = json.loads(json_path.read_text())
    stem = {im["id"]: Path(im["file_name"]).stem for im in data["images"]}
    names = {c["id"]: c["name"] for c in data["categories"]}
    return {
        stem[i]: (canon, [(names[c], crowd) for c, crowd in labels])
        for i, (canon, labels) in panoptic_partition(json_path).items()
    }


def test_panoptic_labelme_panoptic_keeps_the_partition(tmp_path):
    """panopticapi's real examples (a partition: stuff, things, crowd) -> labelme -> read in
    LabelMe's order -> coco-panoptic: the same partition with the same category names and
    crowd flags; no two shapes of different objects meet, so the order decides no pixel."""
    segtool.convert(PANOPTIC_EXAMPLES, tmp_path / "lm", "labelme")
    summary = segtool.convert(tmp_path / "lm", tmp_path / "back.json", "coco-panoptic", overlap="auto")
    assert not summary.changed and not summary.dropped
    want, got = _by_stem(PANOPTIC_EXAMPLES), _by_stem(tmp_path / "back.json")
    assert want.keys() == got.keys() and len(want) == 2
    labels = [label for _, found in got.values() for label in found]
    assert len(labels) == 50 and sum(crowd for _, crowd in labels) == 3  # the fixture's README: 50, 3 crowd
    for stem, (canon, labels) in want.items():
        assert np.array_equal(got[stem][0], canon), stem
        assert got[stem][1] == labels, stem
