"""The labelme format: shapes rasterised as labelme does; the real example's own labelme2voc
and labelme2coco outputs reproduced; every shape type; group_id, overlaps, __ignore__,
embedded images; validate's checks, one broken file each.

The real fixtures (labelme's examples, GPL-3.0) are read where they lie, in the shared data
folder beside the repository, never copied; their tests skip without them.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

import segtool
from segtool import formats, masks
from segtool.errors import SegtoolError
from segtool.formats import labelme
from segtool.formats.labelme_rules import Shape, parse, rasterise
from segtool.policy import STRICT
from tests.refs import package_folder

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "labelme"
real = pytest.mark.skipif(not REAL.is_dir(), reason="the real LabelMe fixtures are not beside the repository")
COVERED = {"shape-degenerate", "shape-outside", "shape-dropped", "label-unknown"}  # one broken file each, below
W, H = 40, 30


def _file(folder: Path, name: str, shapes: list[dict[str, Any]], **extra: Any) -> Path:
    data = {"version": "5.2.1", "flags": {}, "shapes": shapes, "imagePath": f"{name}.jpg", "imageData": None}
    data |= {"imageHeight": H, "imageWidth": W} | extra
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    if not (folder / f"{name}.jpg").exists():
        Image.new("RGB", (W, H)).save(folder / f"{name}.jpg")
    return path


def _shape(label: str, points: list[list[float]], kind: str = "polygon", group: Any = None, **extra: Any) -> Any:
    return {"label": label, "points": points, "group_id": group, "shape_type": kind, "flags": {}} | extra


def _png_b64(array: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _pil(kind: str, points: list[list[float]]) -> np.ndarray:
    """labelme's drawing, written out here from its shape_to_mask."""
    img = Image.new("L", (W, H))
    draw = ImageDraw.Draw(img)
    xy = [tuple(p) for p in points]
    if kind == "rectangle":
        (x0, y0), (x1, y1) = xy
        draw.rectangle([(min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))], outline=1, fill=1)
    elif kind == "circle":
        (cx, cy), (px, py) = xy
        d = ((cx - px) ** 2 + (cy - py) ** 2) ** 0.5
        draw.ellipse([(cx - d, cy - d), (cx + d, cy + d)], outline=1, fill=1)
    else:
        draw.polygon(xy, outline=1, fill=1)
    return np.asarray(img, dtype=bool)


def _decoded(ann: Any) -> np.ndarray:
    return masks.decode(list(ann.rles), ann.image.height, ann.image.width).astype(bool)


# -- the real example -------------------------------------------------------------------


@real
def test_detects_the_real_folder():
    folder = REAL / "instance_segmentation" / "data_annotated"
    assert formats.detect(folder) == "labelme"
    assert "shapes" in labelme.detect(folder).reason


@real
@pytest.mark.parametrize("example", ["instance_segmentation", "semantic_segmentation"])
def test_semantic_equals_labelme2voc(example, tmp_path):
    """SegmentationClass pixel for pixel: class ids through labels.txt (so equal), labelme's
    _background_ (0) and __ignore__ (255) both void (255) here. One pixel of the whole
    example differs: a vertex of a thin triangle that the Pillow labelme ran then drew and
    today's Pillow does not (labelme's own shape_to_mask gives today's answer)."""
    base = REAL / example
    ds = segtool.read(base / "data_annotated", "labelme", categories=base / "labels.txt", flatten=True)
    segtool.write(ds, tmp_path / "out", "semantic")
    names = (base / "data_dataset_voc" / "class_names.txt").read_text().split("\n")
    cats = json.loads((tmp_path / "out" / "categories.json").read_text())
    assert {c["id"]: c["name"] for c in cats} == {i: n for i, n in enumerate(names) if i > 0}
    differ = total = 0
    for ref_png in sorted((base / "data_dataset_voc" / "SegmentationClass").glob("*.png")):
        ref = np.asarray(Image.open(ref_png)).astype(np.int64)
        ours = np.asarray(Image.open(tmp_path / "out" / ref_png.name)).astype(np.int64)
        differ += int(np.sum(ours != np.where(ref == 0, 255, ref)))
        total += ref.size
    assert total == 169000 + 2 * 187500
    assert differ <= 1, f"{differ} of {total} pixels differ"


@real
def test_panoptic_equals_segmentation_object(tmp_path):
    """SegmentationObject: the same partition into instances (one pixel as above)."""
    base = REAL / "instance_segmentation"
    ds = segtool.read(base / "data_annotated", "labelme", categories=base / "labels.txt", flatten=True)
    differ = 0
    for sample in ds.samples:
        ann = sample.load()
        ref = np.asarray(
            Image.open(base / "data_dataset_voc" / "SegmentationObject" / f"{Path(sample.image.file_name).stem}.png")
        )
        pairs, counts = np.unique(np.stack([ann.id_map.ravel(), ref.ravel()]), axis=1, return_counts=True)
        matched: dict[int, int] = {}
        for (ours, theirs), _ in sorted(zip(pairs.T.tolist(), counts.tolist(), strict=True), key=lambda t: -t[1]):
            if ours not in matched and theirs not in matched.values():
                matched[ours] = theirs
        differ += sum(n for (o, t), n in zip(pairs.T.tolist(), counts.tolist(), strict=True) if matched.get(o) != t)
        assert len(matched) == len(ann.segments) + 1  # every instance and void
    assert differ <= 1


@real
def test_coco_instance_equals_labelme2coco(tmp_path):
    """Each instance (group_id joined, overlaps kept, __ignore__ left out) has labelme2coco's
    area (its mask's pixel count) and box, with the same category name and id."""
    base = REAL / "instance_segmentation"
    ds = segtool.read(base / "data_annotated", "labelme", categories=base / "labels.txt")
    segtool.write(ds, tmp_path / "out.json", "coco-instance")
    ours = json.loads((tmp_path / "out.json").read_text())
    ref = json.loads((base / "data_dataset_coco" / "annotations.json").read_text())
    ref_names = {c["id"]: c["name"] for c in ref["categories"]}
    our_names = {c["id"]: c["name"] for c in ours["categories"]}
    assert {i: n for i, n in ref_names.items() if n != "_background_"} == our_names

    def rows(data: dict[str, Any], names: dict[int, str]) -> dict[str, list[Any]]:
        stem = {im["id"]: Path(im["file_name"]).stem for im in data["images"]}
        out: dict[str, list[Any]] = {}
        for a in data["annotations"]:
            out.setdefault(stem[a["image_id"]], []).append((names[a["category_id"]], a["area"], a["bbox"]))
        return out

    assert rows(ours, our_names) == rows(ref, ref_names)
    assert sum(len(v) for v in rows(ours, our_names).values()) == 12


@real
def test_primitives_every_shape_type():
    folder = REAL / "primitives"
    ds = segtool.read(folder, "labelme")
    assert [c.name for c in ds.categories] == ["circle", "octagon", "polygon", "rectangle"]
    ann = ds.samples[0].load()
    data = json.loads((folder / "primitives.json").read_text())
    areas = [s for s in data["shapes"] if s["shape_type"] not in ("line", "linestrip", "point")]
    assert len(ann.segments) == len(areas) == 5
    got = _decoded(ann)
    for k, s in enumerate(areas):
        if s["shape_type"] == "mask":
            png = np.asarray(Image.open(io.BytesIO(base64.b64decode(s["mask"])))).astype(bool)
            (x1, y1), (x2, y2) = np.asarray(s["points"]).astype(int)
            want = np.zeros((data["imageHeight"], data["imageWidth"]), bool)
            want[y1 : y2 + 1, x1 : x2 + 1] = png
            assert want.sum() > 0
        else:
            want = _drawn(s, data["imageHeight"], data["imageWidth"])
        assert np.array_equal(got[:, :, k], want), s["shape_type"]
    report = segtool.validate(folder)
    dropped = [f for f in report.findings if f.code == "shape-dropped"]
    assert sorted(f.message.split("(")[1].split()[0] for f in dropped) == ["line", "linestrip", "point"]
    assert report.stats["dropped_shapes"] == 3


def _drawn(s: dict[str, Any], h: int, w: int) -> np.ndarray:
    img = Image.new("L", (w, h))
    draw = ImageDraw.Draw(img)
    xy = [tuple(p) for p in s["points"]]
    if s["shape_type"] == "rectangle":
        (x0, y0), (x1, y1) = xy
        draw.rectangle([(min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))], outline=1, fill=1)
    elif s["shape_type"] == "circle":
        (cx, cy), (px, py) = xy
        d = ((cx - px) ** 2 + (cy - py) ** 2) ** 0.5
        draw.ellipse([(cx - d, cy - d), (cx + d, cy + d)], outline=1, fill=1)
    else:
        draw.polygon(xy, outline=1, fill=1)
    return np.asarray(img, dtype=bool)


@real
def test_tutorial_embedded_image():
    ds = segtool.read(REAL / "tutorial", "labelme")
    assert (ds.samples[0].image.height, ds.samples[0].image.width) == (907, 1210)
    assert len(ds.samples[0].load().segments) == 4


# -- labelme's own shape_to_mask, where it is installed ----------------------------------


def _labelme_shape_to_mask() -> Any:
    """labelme.utils.shape's shape_to_mask, loaded alone (labelme's package imports Qt):
    ``pip install --no-deps labelme`` or PYTHONPATH to an unpacked wheel."""
    folder = package_folder("labelme")
    if folder is None:
        pytest.skip("labelme is not installed")
    source = folder / "utils" / "shape.py"
    if not source.is_file():
        pytest.skip("labelme without utils/shape.py")
    stub = types.ModuleType("labelme._label_file")
    stub.ShapeDict = dict  # type: ignore[attr-defined]
    saved = sys.modules.get("labelme._label_file")
    sys.modules["labelme._label_file"] = stub
    try:
        loader = importlib.util.spec_from_file_location("labelme_shape_for_tests", source)
        assert loader is not None and loader.loader is not None
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules["labelme._label_file"]
        else:
            sys.modules["labelme._label_file"] = saved
    return module.shape_to_mask


def test_parity_with_labelme_shape_to_mask():
    shape_to_mask = _labelme_shape_to_mask()
    rng = np.random.default_rng(12)
    checked = 0
    for trial in range(300):
        kind = ("polygon", "rectangle", "circle")[trial % 3]
        n = int(rng.integers(3, 9)) if kind == "polygon" else 2
        pts = (rng.random((n, 2)) * [W * 1.2, H * 1.2] - [W * 0.1, H * 0.1]).round(int(rng.integers(0, 4)))
        if kind == "circle":
            pts[1] = pts[0] + rng.random(2) * 8
        points = pts.tolist()
        ours = rasterise(Shape(0, "a", kind, tuple(map(tuple, points)), None), H, W)
        assert np.array_equal(ours, shape_to_mask((H, W), points, kind)), (kind, points)
        checked += 1
    if REAL.is_dir():
        for path in sorted(REAL.glob("*/data_annotated/*.json")):
            data = json.loads(path.read_text())
            h, w = data["imageHeight"], data["imageWidth"]
            for s in data["shapes"]:
                shape = Shape(0, s["label"], s["shape_type"], tuple(map(tuple, s["points"])), None)
                assert np.array_equal(rasterise(shape, h, w), shape_to_mask((h, w), s["points"], s["shape_type"]))
                checked += 1
    assert checked >= 300


# -- generated cases --------------------------------------------------------------------


def test_group_id_joins_and_overlaps_follow_the_file(tmp_path):
    """Two shapes of one group are one instance; the other overlaps them. Instance reading:
    the union, overlaps kept. Flattened: later shapes on top, shape by shape (the group's
    second shape covers the single one, which covers the group's first)."""
    a1 = [[2, 2], [20, 2], [20, 20], [2, 20]]
    b = [[15, 5], [30, 5], [30, 25], [15, 25]]
    a2 = [[25, 10], [38, 10], [38, 28], [25, 28]]
    _file(tmp_path, "x", [_shape("cat", a1, group=1), _shape("dog", b), _shape("cat", a2, group=1)])
    ann = segtool.read(tmp_path, "labelme").samples[0].load()
    assert ann.segments.category_id.tolist() == [1, 2]  # cat, dog (sorted names)
    got = _decoded(ann)
    assert np.array_equal(got[:, :, 0], _pil("polygon", a1) | _pil("polygon", a2))
    assert np.array_equal(got[:, :, 1], _pil("polygon", b))
    flat = segtool.read(tmp_path, "labelme", flatten=True).samples[0].load()
    want = np.zeros((H, W), np.int32)
    for value, pts in ((1, a1), (2, b), (1, a2)):
        want[_pil("polygon", pts)] = value
    assert np.array_equal(flat.id_map, want)
    assert flat.segments.area.tolist() == [int((want == 1).sum()), int((want == 2).sum())]


def test_ignore_and_background_are_void(tmp_path):
    square = [[5, 5], [25, 5], [25, 25], [5, 25]]
    hole = [[10, 10], [15, 10], [15, 15], [10, 15]]
    corner = [[0, 0], [6, 6]]
    shapes = [_shape("cat", square), _shape("__ignore__", hole), _shape("_background_", corner, "rectangle")]
    _file(tmp_path, "x", shapes)
    ds = segtool.read(tmp_path, "labelme")
    assert [c.name for c in ds.categories] == ["cat"]
    ann = ds.samples[0].load()
    assert len(ann.segments) == 1 and np.array_equal(_decoded(ann)[:, :, 0], _pil("polygon", square))
    flat = segtool.read(tmp_path, "labelme", flatten=True).samples[0].load()
    want = _pil("polygon", square) & ~_pil("polygon", hole) & ~_pil("rectangle", [[0, 0], [6, 6]])
    assert np.array_equal(flat.id_map == 1, want) and flat.id_map.max() == 1


def test_labels_file_orders_categories_and_refuses_strays(tmp_path):
    _file(tmp_path, "x", [_shape("dog", [[1, 1], [9, 1], [9, 9]]), _shape("cat", [[20, 1], [29, 1], [29, 9]])])
    labels = tmp_path / "labels.txt"
    labels.write_text("__ignore__\n_background_\ndog\nbird\ncat\n")
    ds = segtool.read(tmp_path, "labelme")  # the folder's labels.txt
    assert [(c.id, c.name) for c in ds.categories] == [(1, "dog"), (2, "bird"), (3, "cat")]
    labels.write_text("__ignore__\n_background_\ndog\n")
    with pytest.raises(SegtoolError, match="'cat' is not in the labels file"):
        segtool.read(tmp_path, "labelme")
    codes = [f.code for f in segtool.validate(tmp_path).findings]
    assert codes == ["label-unknown"]


def test_embedded_image_and_no_size_fields(tmp_path):
    """labelme 3 wrote no imageHeight/imageWidth: the size comes from the embedded image."""
    buf = io.BytesIO()
    Image.new("RGB", (W, H), (9, 9, 9)).save(buf, format="JPEG")
    path = _file(tmp_path, "x", [_shape("cat", [[1, 1], [9, 1], [9, 9]], "polygon")])
    data = json.loads(path.read_text())
    del data["imageHeight"], data["imageWidth"]
    data["imageData"] = base64.b64encode(buf.getvalue()).decode()
    data["shapes"][0].pop("shape_type")  # labelme 3: no shape_type, a polygon
    path.write_text(json.dumps(data))
    ds = segtool.read(tmp_path, "labelme")
    assert (ds.samples[0].image.height, ds.samples[0].image.width) == (H, W)
    assert np.array_equal(_decoded(ds.samples[0].load())[:, :, 0], _pil("polygon", [[1, 1], [9, 1], [9, 9]]))
    assert segtool.validate(tmp_path).findings == []


def test_mask_shape_placed_at_its_box(tmp_path):
    png = np.zeros((6, 8), np.uint8)
    png[1:5, 2:7] = 1
    png[2, 3] = 0  # a hole
    shape = _shape("blob", [[10.7, 4.2], [17.9, 9.6]], "mask", mask=_png_b64(png))
    _file(tmp_path, "x", [shape])
    got = _decoded(segtool.read(tmp_path, "labelme").samples[0].load())[:, :, 0]
    want = np.zeros((H, W), bool)
    want[4:10, 10:18] = png.astype(bool)
    assert np.array_equal(got, want)


@pytest.mark.parametrize(
    ("shape", "code", "message"),
    [
        (_shape("a", [[1, 1], [5, 5]]), "shape-degenerate", "2 points, a polygon needs at least 3"),
        (_shape("a", [[1, 1], [5, "x"], [3, 3]]), "shape-degenerate", "not two finite numbers"),
        (_shape("a", [[1, 1], [5, 5]], "trapezoid"), "shape-degenerate", "unknown shape_type"),
        (_shape("a", [[1, 1], [500, 5], [3, 3]]), "shape-degenerate", "one image size beyond"),
        (_shape("a", [[1, 1], [6, 6]], "mask", mask="iVBORw0KGgo"), "shape-degenerate", "not base64"),
        (
            _shape("a", [[1, 1], [6, 6]], "mask", mask=_png_b64(np.ones((3, 3)))),
            "shape-degenerate",
            "the mask PNG is 3x3, its box 6x6",
        ),
        (_shape("a", [[-2, 1], [8, 5], [3, 9]]), "shape-outside", "points outside the 40x30 image"),
        (_shape("a", [[1, 1], [8, 5]], "linestrip"), "shape-dropped", "a linestrip is not an area"),
    ],
)
def test_broken_shapes(tmp_path, shape, code, message):
    _file(tmp_path, "x", [shape])
    findings = segtool.validate(tmp_path).findings
    assert [f.code for f in findings] == [code]
    assert message in findings[0].message
    if findings[0].severity.name == "ERROR":
        with pytest.raises(SegtoolError, match="shape 0") as err:
            segtool.read(tmp_path, "labelme").samples[0].load()
        assert "\n" not in str(err.value)
    else:
        segtool.read(tmp_path, "labelme").samples[0].load()  # read past, as labelme does


def test_missing_image_file(tmp_path):
    _file(tmp_path, "x", [_shape("a", [[1, 1], [8, 5], [3, 9]])])
    (tmp_path / "x.jpg").unlink()
    findings = segtool.validate(tmp_path).findings
    assert [f.code for f in findings] == ["image-file-missing"]
    Image.new("RGB", (W + 1, H)).save(tmp_path / "x.jpg")
    assert [f.code for f in segtool.validate(tmp_path).findings] == ["image-size"]


def test_not_labelme(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"images": []}))
    assert labelme.detect(tmp_path).confidence == "no"
    assert parse({"shapes": []}, "x", lambda *a, **k: False) is None
    with pytest.raises(SegtoolError, match="not a LabelMe JSON"):
        parse([], "x.json", STRICT)


# -- what the reader drops and decides (issue 12) ---------------------------------------


def test_line_shapes_dropped_in_both_readings_and_in_the_summary(tmp_path):
    """One reason per shape type, counted per shape (the fixture holds 1 line, 2 points,
    1 linestrip), in both readings; convert's summary carries them."""
    area = _shape("cat", [[1, 1], [9, 1], [9, 9]])
    lines = [
        _shape("cat", [[1, 1], [8, 5]], "line"),
        _shape("cat", [[3, 3]], "point"),
        _shape("cat", [[4, 4]], "point"),
    ]
    src = tmp_path / "src"
    src.mkdir()
    _file(src, "x", [area, *lines, _shape("cat", [[1, 1], [8, 5], [9, 9]], "linestrip")])
    want = {
        "LabelMe line shape: not an area": 1,
        "LabelMe point shape: not an area": 2,
        "LabelMe linestrip shape: not an area": 1,
    }
    for flatten in (False, True):
        ann = segtool.read(src, "labelme", flatten=flatten).samples[0].load()
        assert dict(ann.dropped or {}) == want and len(ann.segments) == 1
    summary = segtool.convert(src, tmp_path / "out.json", "coco-instance")
    assert dict(summary.dropped) == want


def test_flattened_reading_counts_the_pixels_its_order_decided(tmp_path):
    """The group/overlap fixture above: the cat (squares 2..20 and 25..38 x 10..28, one
    group) and the dog (15..30 x 5..25) share 6 x 16 + 6 x 16 = 192 pixels (Pillow draws
    both ends of an axis-aligned edge); the cat's own two squares do not meet."""
    a1 = [[2, 2], [20, 2], [20, 20], [2, 20]]
    b = [[15, 5], [30, 5], [30, 25], [15, 25]]
    a2 = [[25, 10], [38, 10], [38, 28], [25, 28]]
    _file(tmp_path, "x", [_shape("cat", a1, group=1), _shape("dog", b), _shape("cat", a2, group=1)])
    flat = segtool.read(tmp_path, "labelme", flatten=True).samples[0].load()
    assert dict(flat.changed or {}) == {labelme.ORDER_DECIDED: 192}
    assert segtool.read(tmp_path, "labelme").samples[0].load().changed is None  # overlaps kept: nothing decided
    _file(tmp_path, "x", [_shape("cat", a1, group=1), _shape("cat", a2, group=1)])
    assert segtool.read(tmp_path, "labelme", flatten=True).samples[0].load().changed is None
    assert labelme.PAINT_ORDER == "LabelMe's order: later shapes on top"
    assert formats.paint_order("labelme") == labelme.PAINT_ORDER and formats.holds_overlaps("labelme")


def test_ignore_shape_over_an_object_is_decided_by_order(tmp_path):
    """An __ignore__ square (10..15, 36 pixels) on a cat square: 36 pixels decided, void."""
    square = [[5, 5], [25, 5], [25, 25], [5, 25]]
    hole = [[10, 10], [15, 10], [15, 15], [10, 15]]
    _file(tmp_path, "x", [_shape("cat", square), _shape("__ignore__", hole)])
    flat = segtool.read(tmp_path, "labelme", flatten=True).samples[0].load()
    assert dict(flat.changed or {}) == {labelme.ORDER_DECIDED: 36}
    assert int(flat.segments.area[0]) == 21 * 21 - 36


def test_crowd_flag_read_back(tmp_path):
    """segtool writes a crowd region's shapes with flags {"iscrowd": true}; both readings
    take it back; other flags are not crowd."""
    flagged = _shape("cat", [[1, 1], [9, 1], [9, 9]], flags={"iscrowd": True})
    other = _shape("cat", [[20, 1], [29, 1], [29, 9]], flags={"occluded": True})
    _file(tmp_path, "x", [flagged, other])
    for flatten in (False, True):
        ann = segtool.read(tmp_path, "labelme", flatten=flatten).samples[0].load()
        assert ann.segments.iscrowd.tolist() == [True, False]


def test_flattened_instance_painted_over_entirely(tmp_path):
    """A cat square (5..10, 36 pixels) under a later dog square (2..20): the dog alone,
    numbered 1, with the cat's 36 pixels decided by the order."""
    _file(
        tmp_path,
        "x",
        [_shape("cat", [[5, 5], [10, 5], [10, 10], [5, 10]]), _shape("dog", [[2, 2], [20, 2], [20, 20], [2, 20]])],
    )
    flat = segtool.read(tmp_path, "labelme", flatten=True).samples[0].load()
    assert flat.segments.category_id.tolist() == [2] and flat.segments.area.tolist() == [19 * 19]
    assert flat.segments.bbox.tolist() == [[2, 2, 19, 19]] and int(flat.id_map.max()) == 1
    assert dict(flat.changed or {}) == {labelme.ORDER_DECIDED: 36}


def test_window_rle_is_pycocotools_encode():
    """An instance's RLE, area and box measured over its window alone equal pycocotools'
    encode, area and toBbox of the whole image's mask: 2,000 random windows (empty, full,
    reaching every edge, spanning whole columns so runs join across them)."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(3)
    for _ in range(2000):
        h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        y1, x1 = int(rng.integers(y0 + 1, h + 1)), int(rng.integers(x0 + 1, w + 1))
        if rng.random() < 0.3:
            y0, y1 = 0, h
        window = rng.random((y1 - y0, x1 - x0)) < rng.choice([0.0, 0.3, 0.7, 1.0])
        full = np.zeros((h, w), np.uint8)
        full[y0:y1, x0:x1] = window
        ref = mask_utils.encode(np.asfortranarray(full))
        rle, area, box = labelme.window_rle((y0, x0, window), h, w)
        assert rle == {"size": [h, w], "counts": ref["counts"].decode()}
        assert area == int(mask_utils.area(ref)) and box == mask_utils.toBbox(ref).tolist()
