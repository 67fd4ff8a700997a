"""The yolo-seg format (Ultralytics YOLO segmentation): the real datumaro fixture; data.yaml
names as a list or a map; lines drawn as Ultralytics' polygon2mask draws them; several
polygons joined as its merge_multi_segment joins them; round trips coco-instance ->
yolo-seg -> coco-instance; precision; validate's checks, one broken file each; parity with
Ultralytics' own functions when it is installed (``pip install --no-deps ultralytics``:
its functions are loaded alone from its source, without torch).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import segtool
from segtool import formats, masks
from segtool.cli import main
from segtool.errors import SegtoolError
from segtool.formats import yolo_seg
from segtool.formats.yolo_seg_checks import validate_yolo
from segtool.formats.yolo_seg_rules import join, parse_yaml, rasterise
from tests.refs import package_folder

REAL = Path(__file__).parent / "data" / "yolo_seg" / "yolov8_segmentation"  # cvat-ai/datumaro, MIT
COVERED = {
    "yolo-coordinate-outside",
    "yolo-odd-coordinates",
    "yolo-too-few-points",
    "yolo-class-unknown",
    "yolo-label-orphan",
    "yolo-image-unlabelled",
}


def _ultralytics(module: str, *names: str) -> dict[str, Any] | None:
    """Functions of Ultralytics' source, compiled alone (numpy and cv2 as their globals)."""
    folder = package_folder("ultralytics")
    if folder is None:
        return None
    path = folder / module
    tree = ast.parse(path.read_text())
    keep = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    import cv2

    scope: dict[str, Any] = {"np": np, "cv2": cv2, "__annotations__": {}}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(path), "exec"), scope)
    return scope


def _dataset(root: Path, names: str, labels: dict[str, str], size: tuple[int, int] = (15, 10)) -> Path:
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text(f"path: .\ntrain: images/train\n{names}\n")
    for stem, text in labels.items():
        Image.new("RGB", size).save(root / "images" / "train" / f"{stem}.png")
        if text is not None:
            (root / "labels" / "train" / f"{stem}.txt").write_text(text)
    return root


def _masks(ann: segtool.Annotation) -> np.ndarray:
    assert ann.rles is not None
    return masks.decode(list(ann.rles), ann.image.height, ann.image.width)


# ---------------------------------------------------------------- the real fixture


def test_real_fixture():
    assert formats.REGISTRY["yolo-seg"].detect(REAL).confidence == "strong"
    assert formats.detect(REAL) == "yolo-seg"
    ds = segtool.read(REAL)
    assert [c.name for c in ds.categories] == [f"label_{i}" for i in range(10)]
    assert [c.id for c in ds.categories] == list(range(1, 11))
    (sample,) = ds.samples
    assert (sample.image.file_name, sample.image.width, sample.image.height) == ("images/train/1.jpg", 15, 10)
    ann = sample.load()
    assert ann.segments.category_id.tolist() == [3, 5]  # classes 2 and 4
    m = _masks(ann)
    # polygon2mask by hand: (x * 15, y * 10) truncated, cv2.fillPoly
    import cv2

    for k, line in enumerate((REAL / "labels/train/1.txt").read_text().splitlines()):
        pts = (np.array(line.split()[1:], float).reshape(-1, 2) * [15, 10]).astype(np.int32)
        want = np.zeros((10, 15), np.uint8)
        cv2.fillPoly(want, [pts], 1)
        assert np.array_equal(m[:, :, k], want)
    assert ann.segments.area.tolist() == [int(m[:, :, 0].sum()), int(m[:, :, 1].sum())]
    assert ann.raw is not None and ann.raw[0] == [[1.5, 1.0, 6.0, 1.0, 6.0, 5.0]]


def test_real_parity_with_ultralytics():
    found = _ultralytics("data/utils.py", "polygon2mask")
    if found is None:
        pytest.skip("ultralytics is not installed")
    ann = segtool.read(REAL).samples[0].load()
    for k, line in enumerate((REAL / "labels/train/1.txt").read_text().splitlines()):
        pts = np.array(line.split()[1:], float).reshape(-1, 2) * [15, 10]
        want = found["polygon2mask"]((10, 15), [pts.reshape(-1)])
        assert np.array_equal(_masks(ann)[:, :, k], want)


def test_polygon2mask_parity_random():
    found = _ultralytics("data/utils.py", "polygon2mask")
    if found is None:
        pytest.skip("ultralytics is not installed")
    rng = np.random.default_rng(1)
    for _ in range(200):
        h, w = rng.integers(5, 60, size=2)
        pts = rng.random((int(rng.integers(3, 12)), 2))
        want = found["polygon2mask"]((int(h), int(w)), [(pts * [w, h]).reshape(-1)])
        assert np.array_equal(rasterise(pts, int(h), int(w)), want)


def test_join_parity_with_ultralytics():
    found = _ultralytics("data/converter.py", "min_index", "merge_multi_segment")
    if found is None:
        pytest.skip("ultralytics is not installed")
    rng = np.random.default_rng(2)
    for _ in range(200):
        polys = [rng.integers(0, 50, size=int(rng.integers(3, 8)) * 2).astype(float) for _ in range(rng.integers(2, 6))]
        want = np.concatenate(found["merge_multi_segment"]([p.tolist() for p in polys]), axis=0)
        assert np.array_equal(join([p.reshape(-1, 2) for p in polys]), want)


# ---------------------------------------------------------------- data.yaml


@pytest.mark.parametrize(
    "names",
    [
        "names:\n  - cat\n  - dog",
        "names: [cat, 'dog']",
        'names: {0: cat, 1: "dog"}',
        "names:\n  0: cat  # a comment\n  1: dog",
        "nc: 2\nnames: ['cat', 'dog']",
    ],
)
def test_names_list_or_map(tmp_path, names):
    root = _dataset(tmp_path, names, {"a": "1 0.1 0.1 0.9 0.1 0.5 0.9\n"})
    ds = segtool.read(root)
    assert [(c.id, c.name) for c in ds.categories] == [(1, "cat"), (2, "dog")]
    assert ds.samples[0].load().segments.category_id.tolist() == [2]


def test_names_map_with_gaps(tmp_path):
    root = _dataset(tmp_path, "names:\n  0: cat\n  5: dog", {"a": "5 0.1 0.1 0.9 0.1 0.5 0.9\n"})
    ds = segtool.read(root)
    assert [(c.id, c.name) for c in ds.categories] == [(1, "cat"), (6, "dog")]
    assert ds.samples[0].load().segments.category_id.tolist() == [6]


def test_yaml_subset():
    assert parse_yaml("a: 1\nb: [x, 'y, z']\n# c\nd:\n  - 'it''s'\n") == {"a": 1, "b": ["x", "y, z"], "d": ["it's"]}
    with pytest.raises(ValueError, match="line 2"):
        parse_yaml("a: 1\nnot yaml we read\n")


def test_data_yaml_without_names(tmp_path):
    root = _dataset(tmp_path, "nc: 2", {"a": "0 0.1 0.1 0.9 0.1 0.5 0.9\n"})
    result = CliRunner().invoke(main, ["info", str(root), "--from", "yolo-seg"])
    assert result.exit_code == 2
    assert "no 'names'" in result.output and len(result.output.strip().splitlines()) == 1
    assert "no 'names'" in formats.REGISTRY["yolo-seg"].detect(root).reason


def test_image_without_label_is_empty(tmp_path):
    root = _dataset(tmp_path, "names: [a]", {"a": "0 0.1 0.1 0.9 0.1 0.5 0.9\n", "b": None})
    ds = segtool.read(root)
    assert [len(s.load().segments) for s in ds.samples] == [1, 0]


# ---------------------------------------------------------------- round trips


def _coco(path: Path, anns: list[dict[str, Any]], size: tuple[int, int], cats: int = 2) -> Path:
    w, h = size
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": w, "height": h}],
        "categories": [{"id": i, "name": f"c{i}"} for i in range(1, cats + 1)],
        "annotations": [
            {"id": k + 1, "image_id": 1, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0, **a} for k, a in enumerate(anns)
        ],
    }
    path.write_text(json.dumps(data))
    return path


def _round_trip(tmp_path: Path, src: Path, size: tuple[int, int], **opts: Any) -> tuple[segtool.WriteSummary, Path]:
    out = tmp_path / "yolo"
    summary = segtool.convert(src, out, "yolo-seg", **opts)
    (out / "images" / "train").mkdir(parents=True)
    Image.new("RGB", size).save(out / "images" / "train" / "a.png")
    back = tmp_path / "back.json"
    segtool.convert(out, back, "coco-instance", mask_encoding="polygon")
    return summary, back


def _decoded(path: Path, size: tuple[int, int]) -> list[tuple[int, np.ndarray]]:
    w, h = size
    data = json.loads(path.read_text())
    return [
        (a["category_id"], masks.decode([masks.to_compressed(a["segmentation"], h, w)], h, w)[:, :, 0])
        for a in data["annotations"]
    ]


def _random_polygon(rng: np.random.Generator, w: int, h: int) -> list[float]:
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
    n = int(rng.integers(3, 10))
    angles = (np.arange(n) + rng.uniform(-0.3, 0.3, n)) * 2 * np.pi / n  # not a sliver
    r = rng.uniform(0.15, 0.3) * min(w, h)
    pts = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)
    return np.round(pts).ravel().tolist()


@pytest.mark.parametrize("size", [(100, 80), (64, 125), (200, 50)])
def test_round_trip_exact_polygons(tmp_path, size):
    """Integer polygons on an image whose sides divide 10^6: x / w has at most 6 decimals, so
    the polygons come back exactly and pycocotools draws the same pixels."""
    rng = np.random.default_rng(sum(size))
    w, h = size
    anns = [{"category_id": k % 2 + 1, "segmentation": [_random_polygon(rng, w, h)]} for k in range(12)]
    src = _coco(tmp_path / "src.json", anns, size)
    summary, back = _round_trip(tmp_path, src, size)
    assert summary.segments == 12 and not summary.dropped
    before, after = _decoded(src, size), _decoded(back, size)
    assert [c for c, _ in before] == [c for c, _ in after]
    for (_, a), (_, b) in zip(before, after, strict=True):
        assert np.array_equal(a, b)


def test_round_trip_rle_masks(tmp_path):
    """RLE masks without holes are traced along pixel corners: exact; a hole is filled,
    and the summary says so; a crowd region is dropped, and the summary says so."""
    size = (40, 25)
    blob = np.zeros((25, 40), np.uint8)
    blob[3:12, 5:20] = 1
    blob[15:20, 30:38] = 1  # a second component: joined into one line
    ring = np.zeros((25, 40), np.uint8)
    ring[2:10, 22:30] = 1
    ring[4:7, 24:27] = 0
    rle = masks.Runs(blob.astype(np.int32), 1).rles()[0]
    rle_ring = masks.Runs(ring.astype(np.int32), 1).rles()[0]
    anns = [
        {"category_id": 1, "segmentation": {"size": rle["size"], "counts": rle["counts"]}},
        {"category_id": 2, "segmentation": {"size": rle_ring["size"], "counts": rle_ring["counts"]}},
        {"category_id": 2, "segmentation": [[0, 0, 5, 0, 5, 5]], "iscrowd": 1},
    ]
    src = _coco(tmp_path / "src.json", anns, size)
    summary, back = _round_trip(tmp_path, src, size)
    assert summary.segments == 2
    assert summary.dropped == {yolo_seg.CROWD: 1}
    assert summary.changed == {yolo_seg.HOLE: 1, yolo_seg.JOINED: 1}
    (c1, m1), (c2, m2) = _decoded(back, size)
    assert (c1, c2) == (1, 2)
    assert np.array_equal(m1, blob)  # the zero-width bridge adds no pixel under pycocotools
    filled = ring.copy()
    filled[4:7, 24:27] = 1
    assert np.array_equal(m2, filled)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


@pytest.mark.parametrize(("precision", "floor"), [(6, 1.0), (4, 1.0), (2, 0.94)])
def test_round_trip_inexact(tmp_path, precision, floor):
    """Sides that do not divide 10^p: coordinates move by at most 0.5 * 10^-p * side
    pixels (pycocotools draws at 1/5 px). Measured on 40 polygons of a 97x61 image: at 6
    and 4 decimals every mask came back pixel for pixel; at 2 decimals (0.49 px at most)
    IoU min 0.946, mean 0.971."""
    rng = np.random.default_rng(precision)
    size = (97, 61)
    anns = [{"category_id": 1, "segmentation": [_random_polygon(rng, *size)]} for _ in range(40)]
    src = _coco(tmp_path / "src.json", anns, size)
    _, back = _round_trip(tmp_path, src, size, precision=precision)
    ious = [_iou(a, b) for (_, a), (_, b) in zip(_decoded(src, size), _decoded(back, size), strict=True)]
    assert min(ious) >= floor


def test_ultralytics_masks_iou(tmp_path):
    """The masks the reader gives (Ultralytics' fillPoly: pixel centres on the integer
    coordinates, so the outline's pixels on the right and bottom are in) against
    pycocotools' masks of the same polygons, objects of 45 to 90 px radius: measured IoU
    min 0.947, mean 0.978. (Through coco-instance the polygons themselves are kept: IoU 1.)"""
    rng = np.random.default_rng(7)
    size = (400, 300)
    anns = [{"category_id": 1, "segmentation": [_random_polygon(rng, *size)]} for _ in range(20)]
    src = _coco(tmp_path / "src.json", anns, size)
    out = tmp_path / "yolo"
    segtool.convert(src, out, "yolo-seg")
    (out / "images" / "train").mkdir(parents=True)
    Image.new("RGB", size).save(out / "images" / "train" / "a.png")
    got = _masks(segtool.read(out).samples[0].load())
    before = _decoded(src, size)
    ious = [_iou(m, got[:, :, k]) for k, (_, m) in enumerate(before)]
    assert min(ious) >= 0.94 and np.mean(ious) >= 0.97


def test_precision(tmp_path):
    size = (97, 61)
    src = _coco(tmp_path / "src.json", [{"category_id": 2, "segmentation": [[1, 2, 50, 3, 20, 40]]}], size)
    for p in (6, 3, 0):
        out = tmp_path / f"p{p}"
        segtool.convert(src, out, "yolo-seg", precision=p)
        (line,) = (out / "labels" / "train" / "a.txt").read_text().splitlines()
        cls, *coords = line.split()
        assert cls == "1"
        assert all(len(c.partition(".")[2]) == p for c in coords)
    assert (tmp_path / "p3" / "labels/train/a.txt").read_text() == "1 0.010 0.033 0.515 0.049 0.206 0.656\n"
    result = CliRunner().invoke(
        main, ["convert", str(src), str(tmp_path / "cli"), "--to", "yolo-seg", "--precision", "2"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli/labels/train/a.txt").read_text() == "1 0.01 0.03 0.52 0.05 0.21 0.66\n"
    text = (tmp_path / "cli" / "data.yaml").read_text()
    assert parse_yaml(text)["names"] == {0: "c1", 1: "c2"}


def test_yolo_to_yolo_keeps_lines(tmp_path):
    out = tmp_path / "again"
    segtool.convert(REAL, out, "yolo-seg")
    assert (out / "labels/train/1.txt").read_text() == (REAL / "labels/train/1.txt").read_text()
    assert parse_yaml((out / "data.yaml").read_text())["names"] == {i: f"label_{i}" for i in range(10)}


def test_destination_is_a_folder(tmp_path):
    with pytest.raises(SegtoolError, match="folder"):
        segtool.convert(REAL, tmp_path / "x.json", "yolo-seg")


# ---------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("0 0.1 0.1 1.2 0.1 0.5 0.9\n", "yolo-coordinate-outside"),
        ("0 0.1 0.1 0.9 0.1 0.5\n", "yolo-odd-coordinates"),
        ("0 0.1 0.1 0.9 0.1\n", "yolo-too-few-points"),
        ("3 0.1 0.1 0.9 0.1 0.5 0.9\n", "yolo-class-unknown"),
        ("0 0.1 x 0.9 0.1 0.5 0.9\n", "malformed-record"),
    ],
)
def test_one_broken_line(tmp_path, text, code):
    root = _dataset(tmp_path, "names: [a, b]", {"a": "1 0.1 0.1 0.9 0.1 0.5 0.9\n" + text})
    found = validate_yolo(root).findings
    assert [(f.code, f.image_id) for f in found] == [(code, 1)]
    assert "line 2" in found[0].message
    with pytest.raises(SegtoolError, match="line 2"):
        segtool.read(root).samples[0].load()


def test_orphan_and_unlabelled(tmp_path):
    root = _dataset(tmp_path, "names: [a]", {"a": None})
    (root / "labels" / "train" / "gone.txt").write_text("0 0.1 0.1 0.9 0.1 0.5 0.9\n")
    report = validate_yolo(root)
    assert sorted(f.code for f in report.findings) == ["yolo-image-unlabelled", "yolo-label-orphan"]
    assert {str(f.severity) for f in report.findings} == {"info"}


def test_validate_cli_real():
    result = CliRunner().invoke(main, ["validate", str(REAL)])
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- hostile inputs


@pytest.mark.parametrize(
    ("yaml", "label", "image", "says"),
    [
        ("names: [a]\nval: [images/train, [x]]", None, None, "nested"),
        ("names: {a: b}", None, None, "class id"),
        ("names: [a]\nval: ../../etc", None, None, "no folder"),
        ("names: [a]", b"\xff\xfe\x00garbage", None, "cannot read the label file"),
        ("names: [a]", b"0 " + b"0.5 " * 10, b"not an image", "cannot read the image"),
        ("names: [a]", b"0 1e999 0 1 0 1 1", None, "outside [0, 1]"),
        ("names: [a]", b"nan 0 0 1 0 1 1", None, "not in names"),
    ],
)
def test_hostile_one_line_exit_2(tmp_path, yaml, label, image, says):
    root = _dataset(tmp_path / "ds", yaml, {"a": None})
    if label is not None:
        (root / "labels" / "train" / "a.txt").write_bytes(label)
    else:
        (root / "labels" / "train" / "a.txt").write_text("0 0.1 0.1 0.9 0.1 0.5 0.9\n")
    if image is not None:
        (root / "images" / "train" / "a.png").write_bytes(image)
    result = CliRunner().invoke(
        main, ["convert", str(root), str(tmp_path / "out.json"), "--from", "yolo-seg", "--to", "coco-instance"]
    )
    assert result.exit_code == 2, result.output
    assert says in result.output and len(result.output.strip().splitlines()) == 1


def test_hostile_too_many_points(tmp_path, monkeypatch):
    from segtool.formats import yolo_seg_rules

    monkeypatch.setattr(yolo_seg_rules, "MAX_POINTS", 4)
    root = _dataset(tmp_path, "names: [a]", {"a": "0 " + "0.5 " * 10 + "\n"})
    with pytest.raises(SegtoolError, match="more than 4 points"):
        segtool.read(root).samples[0].load()


def test_cli_summary_counts_what_yolo_cannot_carry(tmp_path):
    """The command line's summary, --json and text: 2 crowd regions dropped, 2 masks with a
    hole filled, 1 object of two polygons joined, out of 5 objects (3 written)."""
    size = (30, 20)
    ring = np.zeros((20, 30), np.uint8)
    ring[2:10, 2:10] = 1
    ring[4:6, 4:6] = 0
    ring2 = np.zeros((20, 30), np.uint8)
    ring2[11:19, 12:28] = 1
    ring2[13:15, 14:16] = 0
    rles = [masks.Runs(m.astype(np.int32), 1).rles()[0] for m in (ring, ring2)]
    anns = [{"category_id": 1, "segmentation": {"size": r["size"], "counts": r["counts"]}} for r in rles] + [
        {"category_id": 2, "segmentation": [[20, 1, 28, 1, 28, 8], [12, 1, 18, 1, 18, 5]]},
        {"category_id": 2, "segmentation": [[0, 0, 5, 0, 5, 5]], "iscrowd": 1},
        {"category_id": 1, "segmentation": {"size": rles[0]["size"], "counts": rles[0]["counts"]}, "iscrowd": 1},
    ]
    src = _coco(tmp_path / "src.json", anns, size)
    runner = CliRunner()
    result = runner.invoke(main, ["convert", str(src), str(tmp_path / "y1"), "--to", "yolo-seg", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["segments"] == 3
    assert summary["dropped"] == {yolo_seg.CROWD: 2}
    assert summary["changed"] == {yolo_seg.HOLE: 2, yolo_seg.JOINED: 1}
    text = runner.invoke(main, ["convert", str(src), str(tmp_path / "y2"), "--to", "yolo-seg"])
    assert text.exit_code == 0, text.output
    flat = " ".join(text.output.split())
    assert "crowd region: YOLO has no crowd" in flat and "mask with a hole" in flat
