"""The cvat format: CVAT for images 1.1 XML read (task, project and job exports) and written.

Expected values come from the XML files themselves (counted by hand, see the comments), from
pycocotools (the rasteriser CVAT's own COCO export uses), or from hand calculation on tiny
images. The real fixtures are datumaro's CVAT test assets and airo-mono's CVAT job export
(both MIT, copied into tests/data).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import segtool
from segtool import formats, masks
from segtool.cli import main
from segtool.errors import SegtoolError
from segtool.formats import cvat, cvat_write
from segtool.formats.cvat_checks import validate_cvat
from segtool.formats.cvat_rules import decode_rle, encode_rle

DATA = Path(__file__).parent / "data"
TASK = DATA / "datumaro/cvat/for_images/export_task/train.xml"
PROJECT = DATA / "datumaro/cvat/for_images/export_project"
VIDEO = DATA / "datumaro/cvat/for_video/annotations.xml"
LEGO = DATA / "airo-mono/cvat_images/lego-battery-resized/original_annotations.xml"
LEGO_PHOTOS = Path(__file__).resolve().parents[1].parent / "shared/data/real/airo-mono/cvat_images/lego-battery-resized"
META = """<meta><task><mode>annotation</mode><labels>
<label><name>cat</name><attributes><attribute><name>color</name><input_type>text</input_type>
<default_value>x</default_value><values>x</values></attribute></attributes></label>
<label><name>dog</name></label></labels></task></meta>"""


def _xml(tmp: Path, images: str, meta: str = META, name: str = "annotations.xml") -> Path:
    path = tmp / name
    path.write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>{meta}{images}</annotations>\n'
    )
    return path


def _image(shapes: str, w: int = 8, h: int = 8, iid: int = 0, name: str = "a.jpg") -> str:
    return f'<image id="{iid}" name="{name}" width="{w}" height="{h}">{shapes}</image>'


def _dense(ann: Any) -> np.ndarray:
    return masks.decode(list(ann.rles), ann.image.height, ann.image.width).astype(bool)


def _pyco_polygon(points: list[float], h: int, w: int) -> np.ndarray:
    """pycocotools' own drawing of one polygon (what CVAT's COCO export hands to it)."""
    return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([points], h, w))).astype(bool)


# -- the real exports --------------------------------------------------------------------


def test_task_export():
    """train.xml: image 0 holds a box label1 (0,2)-(4,4) with 4 attributes and a polyline with
    label ""; image 1 a polygon with label "" and points label2."""
    assert cvat.detect(TASK).confidence == "strong"
    ds = segtool.read(TASK)
    assert [c.name for c in ds.categories] == ["label1", "label2"]
    assert [(s.image.id, s.image.width, s.image.height) for s in ds.samples] == [(0, 8, 8), (1, 10, 10)]
    first, second = (s.load() for s in ds.samples)
    assert first.segments.category_id.tolist() == [1]
    assert first.segments.area.tolist() == [8.0]  # (4 - 0) * (4 - 2)
    assert first.segments.bbox.tolist() == [[0.0, 2.0, 4.0, 2.0]]
    assert np.array_equal(_dense(first)[:, :, 0], _box(8, 8, 0, 2, 4, 4))
    assert dict(first.dropped or {}) == {"CVAT polyline (not an area)": 1}
    assert len(second.segments) == 0
    assert dict(second.dropped or {}) == {'CVAT shape without a label (label="")': 1, "CVAT points (not an area)": 1}
    extras = ds.samples[0].source.extras(ds.samples[0].image)
    assert extras[1]["occluded"] == "1" and extras[1]["z_order"] == 1 and extras[1]["kind"] == "box"
    assert extras[1]["attributes"] == {"a1": "true", "a2": "v3", "a3": "0003", "a4": "2.4"}


def _box(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    out = np.zeros((h, w), bool)
    out[y0:y1, x0:x1] = True
    return out


def test_project_export_subsets():
    """The project export: 6 images, two per subset Train/Test/Validation, ids 0 and 1 in each
    subset (so repeated: renumbered 0..5 in file order); its polygon (1,2;3,4;6,5) drawn as
    pycocotools draws it."""
    ds = segtool.read(PROJECT)
    assert [s.image.extra["subset"] for s in ds.samples] == [
        "Test",
        "Test",
        "Train",
        "Train",
        "Validation",
        "Validation",
    ]
    assert [s.image.id for s in ds.samples] == [0, 1, 2, 3, 4, 5]
    assert ds.info["cvat"]["subsets"] == ["Train", "Test", "Validation"]
    ann = ds.samples[1].load()
    assert ann.segments.category_id.tolist() == [1]
    assert np.array_equal(_dense(ann)[:, :, 0], _pyco_polygon([1, 2, 3, 4, 6, 5], 10, 10))
    assert ann.raw == ([[1.0, 2.0, 3.0, 4.0, 6.0, 5.0]],)


def test_lego_job_export():
    """airo-mono's job export: 34 images of 4096x2304, one polygon battery.mask each (34 in
    the file) and 5 points each (170 in the file)."""
    ds = segtool.read(LEGO)
    assert len(ds.samples) == 34 and {(s.image.width, s.image.height) for s in ds.samples} == {(4096, 2304)}
    assert [c.name for c in ds.categories][:2] == ["battery.bbox", "battery.mask"]
    loaded = [s.load() for s in ds.samples]
    assert sum(len(a.segments) for a in loaded) == 34
    assert {int(a.segments.category_id[0]) for a in loaded} == {2}
    assert sum(a.dropped["CVAT points (not an area)"] for a in loaded if a.dropped) == 170
    report = validate_cvat(LEGO)
    assert [f.code for f in report.findings if f.severity.name != "INFO"] == []
    assert report.stats["shapes"] == 34 and report.stats["dropped_shapes"] == 170


@pytest.mark.skipif(not LEGO_PHOTOS.is_dir(), reason="the real JPEGs are not beside the repository")
def test_lego_photos_are_resized():
    """The XML declares 4096x2304; the JPEGs are 512x256: image-size, once per image."""
    report = validate_cvat(LEGO, images_dir=LEGO_PHOTOS / "images")
    sizes = [f for f in report.findings if f.code == "image-size"]
    assert len(sizes) == 34 and "512x256" in sizes[0].message and "4096x2304" in sizes[0].message


def test_video_is_refused_in_one_line():
    assert cvat.detect(VIDEO).confidence == "strong"
    result = CliRunner().invoke(main, ["info", str(VIDEO)])
    assert result.exit_code == 2
    assert "CVAT for video 1.1" in result.output and "CVAT for images" in result.output
    assert len(result.output.strip().splitlines()) == 1


# -- shapes ------------------------------------------------------------------------------


def test_mask_rle_by_hand(tmp_path):
    """rle "1, 2, 2, 1" over a 3x2 box at (1, 1): row 0 is 0 1 1, row 1 is 0 0 1 (CVAT writes
    ", " between runs): pixels (2,1), (3,1), (3,2)."""
    shape = '<mask label="cat" source="manual" occluded="0" rle="1, 2, 2, 1" left="1" top="1" width="3" height="2" z_order="0"></mask>'
    ann = segtool.read(_xml(tmp_path, _image(shape, 5, 4))).samples[0].load()
    want = np.zeros((4, 5), bool)
    want[1, 2] = want[1, 3] = want[2, 3] = True
    assert np.array_equal(_dense(ann)[:, :, 0], want)
    assert ann.segments.bbox.tolist() == [[2.0, 1.0, 2.0, 2.0]] and ann.raw == (None,)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.data())
def test_cvat_rle_round_trip(h, w, data):
    box = np.array(data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w)), bool).reshape(h, w)
    runs = encode_rle(box)
    assert sum(runs) == h * w and (runs[0] == 0) == bool(box.flat[0])
    assert np.array_equal(decode_rle(np.asarray(runs, np.int64), w, h), box)


def test_box_and_rotated_box(tmp_path):
    """A box (1,1)-(4,3) covers x 1..3, y 1..2: 6 pixels = (4-1)*(3-1). The box (0,0)-(4,2)
    turned 90 degrees about (2,1) has corners (3,-1) (3,3) (1,3) (1,-1): x 1..2, y 0..2."""
    shapes = '<box label="cat" xtl="1" ytl="1" xbr="4" ybr="3"/><box label="dog" xtl="0" ytl="0" xbr="4" ybr="2" rotation="90"/>'
    ann = segtool.read(_xml(tmp_path, _image(shapes))).samples[0].load()
    dense = _dense(ann)
    assert np.array_equal(dense[:, :, 0], _box(8, 8, 1, 1, 4, 3))
    assert np.array_equal(dense[:, :, 1], _box(8, 8, 1, 0, 3, 3))
    assert ann.segments.area.tolist() == [6.0, 6.0]


def test_group_id_joins_shapes_of_one_label(tmp_path):
    shapes = (
        '<polygon label="cat" points="0,0;2,0;2,2" group_id="3"/>'
        '<box label="dog" xtl="5" ytl="5" xbr="7" ybr="7" group_id="3"/>'
        '<polygon label="cat" points="4,0;6,0;6,2" group_id="3"/>'
        '<polygon label="cat" points="0,4;2,4;2,6"/>'
    )
    ann = segtool.read(_xml(tmp_path, _image(shapes))).samples[0].load()
    assert ann.segments.category_id.tolist() == [1, 2, 1]
    joined = _pyco_polygon([0, 0, 2, 0, 2, 2], 8, 8) | _pyco_polygon([4, 0, 6, 0, 6, 2], 8, 8)
    assert np.array_equal(_dense(ann)[:, :, 0], joined)
    assert ann.raw[0] == [[0.0, 0.0, 2.0, 0.0, 2.0, 2.0], [4.0, 0.0, 6.0, 0.0, 6.0, 2.0]]


def test_overlaps_kept_and_flattened_in_cvats_order(tmp_path):
    """A (0,0)-(4,4) with z_order 1 and B (2,2)-(6,6) with z_order 0 share 4 pixels: read as
    instances both keep them; flattened, A is on top (higher z_order, though earlier in the
    file): A 16 pixels, B 12, and 4 pixels decided. At equal z_order the later one wins."""
    shapes = '<box label="cat" xtl="0" ytl="0" xbr="4" ybr="4" z_order="1"/><box label="dog" xtl="2" ytl="2" xbr="6" ybr="6" z_order="0"/>'
    path = _xml(tmp_path, _image(shapes))
    inst = segtool.read(path).samples[0].load()
    assert inst.segments.area.tolist() == [16.0, 16.0] and inst.changed is None
    flat = cvat.read(path, flatten=True)
    assert flat.kind == "panoptic"
    ann = flat.samples[0].load()
    assert np.bincount(ann.index_map().ravel(), minlength=3).tolist()[1:] == [16, 12]
    assert dict(ann.changed or {}) == {cvat.PAINTED: 4}
    same = _xml(tmp_path, _image(shapes.replace('z_order="1"', 'z_order="0"')), name="same.xml")
    ann = cvat.read(same, flatten=True).samples[0].load()
    assert np.bincount(ann.index_map().ravel(), minlength=3).tolist()[1:] == [12, 16]
    hidden = _xml(
        tmp_path,
        _image(shapes.replace('xtl="2" ytl="2" xbr="6" ybr="6"', 'xtl="1" ytl="1" xbr="3" ybr="3"')),
        name="h.xml",
    )
    ann = cvat.read(hidden, flatten=True).samples[0].load()
    assert len(ann.segments) == 1 and dict(ann.dropped or {}) == {cvat.HIDDEN: 1}


# -- validate ------------------------------------------------------------------------------

BROKEN = {
    "shape-degenerate": '<polygon label="cat" points="0,0;4,4"/>',
    "shape-outside": '<polygon label="cat" points="0,0;9,0;4,4"/>',
    "empty-mask": '<mask label="cat" rle="4" left="0" top="0" width="2" height="2"/>',
    "label-unknown": '<polygon label="bird" points="0,0;4,0;4,4"/>',
    "shape-dropped": '<polyline label="cat" points="0,0;4,4"/>',
}


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_each_breakage_gives_its_code(tmp_path, code):
    good = '<polygon label="dog" points="0,0;4,0;4,4"/>'
    path = _xml(tmp_path, _image(good + BROKEN[code]))
    assert [f.code for f in validate_cvat(path).findings] == [code]
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == (0 if code in ("shape-dropped", "shape-outside", "empty-mask") else 1), result.output
    assert code in " ".join(result.output.split())


def test_mask_box_outside_the_image(tmp_path):
    shape = '<mask label="cat" rle="0, 4" left="7" top="7" width="2" height="2"/>'
    path = _xml(tmp_path, _image(shape))
    found = validate_cvat(path).findings
    assert [f.code for f in found] == ["shape-degenerate"] and "not inside the 8x8 image" in found[0].message
    result = CliRunner().invoke(main, ["convert", str(path), str(tmp_path / "o.json"), "--to", "coco-instance"])
    assert result.exit_code == 2 and "not inside" in result.output


# -- hostile files: one line, exit 2, naming the file ----------------------------------------

HOSTILE = {
    "voc.xml": ("<annotation><filename>a.jpg</filename><object><name>cat</name></object></annotation>", "root element"),
    "random.xml": ("<?xml version='1.0'?><svg><g/></svg>", "root element"),
    "truncated.xml": (
        '<?xml version="1.0"?><annotations><version>1.1</version><meta><task><labels>',
        "not well-formed",
    ),
    "laughs.xml": (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        "<annotations><version>&lol2;</version></annotations>",
        "DOCTYPE",
    ),
    "external.xml": (
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><annotations>&x;</annotations>',
        "DOCTYPE",
    ),
    "nometa.xml": ("<annotations><version>1.1</version></annotations>", "no <meta>"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files(tmp_path, name):
    text, says = HOSTILE[name]
    path = tmp_path / name
    path.write_text(text)
    result = CliRunner().invoke(
        main, ["convert", str(path), str(tmp_path / "o.json"), "--to", "coco-instance", "--from", "cvat"]
    )
    assert result.exit_code == 2, result.output
    assert says in result.output and name in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_mask_rle_disagreeing_with_its_box(tmp_path):
    shape = '<mask label="cat" rle="1, 2, 2" left="0" top="0" width="3" height="2"/>'
    path = _xml(tmp_path, _image(shape))
    result = CliRunner().invoke(main, ["convert", str(path), str(tmp_path / "o.json"), "--to", "coco-instance"])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "annotations.xml" in out and "shape 0 (mask 'cat')" in out and "rle covers 5 pixels, its box 6" in out
    with pytest.raises(SegtoolError, match="disagrees"):
        segtool.read(path).samples[0].load()


def test_detection_leaves_other_xml_alone(tmp_path):
    (tmp_path / "voc.xml").write_text(HOSTILE["voc.xml"][0])
    assert cvat.detect(tmp_path / "voc.xml").confidence == "no"
    assert cvat.detect(DATA / "datumaro/voc").confidence == "no"
    assert formats.detect(PROJECT) == "cvat" and formats.detect(TASK) == "cvat"


# -- convert -----------------------------------------------------------------------------


def test_convert_cli_summary(tmp_path):
    result = CliRunner().invoke(
        main, ["convert", str(TASK), str(tmp_path / "o.json"), "--to", "coco-instance", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["segments"] == 1
    assert summary["dropped"] == {
        "CVAT polyline (not an area)": 1,
        "CVAT points (not an area)": 1,
        'CVAT shape without a label (label="")': 1,
    }


def test_cvat_to_cvat_keeps_what_cvat_said(tmp_path):
    segtool.convert(PROJECT, tmp_path / "p.xml", "cvat")
    text = (tmp_path / "p.xml").read_text()
    assert "<subsets>Train\nTest\nValidation</subsets>" in text and text.count('subset="Train"') == 2
    assert '<box label="label1" source="manual" occluded="1" xtl="0" ytl="2" xbr="4" ybr="4" z_order="1">' in text
    assert '<attribute name="a2">v3</attribute>' in text and "<name>a4</name>" in text
    again = segtool.read(tmp_path / "p.xml")
    assert [s.image.extra["subset"] for s in again.samples] == [
        "Test",
        "Test",
        "Train",
        "Train",
        "Validation",
        "Validation",
    ]
    for a, b in zip(segtool.read(PROJECT).samples, again.samples, strict=True):
        assert np.array_equal(_dense(a.load()), _dense(b.load()))


def _coco(path: Path, anns: list[dict[str, Any]], h: int, w: int, ids: tuple[int, ...] = (1, 2)) -> Path:
    cats = [{"id": i, "name": f"c{i}", "supercategory": ""} for i in ids]
    recs = [
        {"id": k + 1, "image_id": 1, "iscrowd": 0, "area": 1, "bbox": [0, 0, 1, 1], **a} for k, a in enumerate(anns)
    ]
    path.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg", "height": h, "width": w}],
                "annotations": recs,
                "categories": cats,
            }
        )
    )
    return path


def _masks_of(path: Path) -> list[tuple[str, int, np.ndarray]]:
    """(category name, iscrowd, mask) of each annotation, masks as pycocotools decodes them
    (CVAT labels are names: ids become 1..n in label order, names stay)."""
    data = json.loads(path.read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    h, w = data["images"][0]["height"], data["images"][0]["width"]
    out = []
    for a in data["annotations"]:
        seg = a["segmentation"]
        if isinstance(seg, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        elif isinstance(seg["counts"], str):
            rle = {"size": seg["size"], "counts": seg["counts"].encode()}
        else:
            rle = mask_utils.frPyObjects(seg, h, w)
        out.append((names[a["category_id"]], a["iscrowd"], mask_utils.decode(rle).astype(bool)))
    return out


def test_holes_and_crowd_go_through_masks(tmp_path):
    """A ring (a hole: no polygon carries it) and a crowd region are written as <mask>; the
    crowd with iscrowd=true, read back as crowd; the summary says so."""
    ring = np.zeros((10, 12), np.uint8, order="F")
    ring[1:8, 2:9] = 1
    ring[3:5, 4:6] = 0
    rle = mask_utils.encode(np.asfortranarray(ring))
    rle["counts"] = rle["counts"].decode()
    anns = [
        {"category_id": 1, "segmentation": rle},
        {"category_id": 2, "segmentation": [[0, 0, 3, 0, 3, 3]], "iscrowd": 1},
        {"category_id": 2, "segmentation": [[6, 6, 11, 6, 11, 9], [0, 8, 2, 8, 2, 10]]},
    ]
    src = _coco(tmp_path / "src.json", anns, 10, 12)
    summary = segtool.convert(src, tmp_path / "a.xml", "cvat")
    assert dict(summary.changed) == {
        "crowd region written as a <mask> with attribute iscrowd=true (CVAT has no crowd)": 1
    }
    text = (tmp_path / "a.xml").read_text()
    assert text.count("<mask ") == 2 and text.count("<polygon ") == 2 and 'group_id="3"' in text
    assert '<attribute name="iscrowd">true</attribute>' in text
    segtool.convert(tmp_path / "a.xml", tmp_path / "b.json", "coco-instance")
    before, after = _masks_of(src), _masks_of(tmp_path / "b.json")
    assert [(c, k) for c, k, _ in after] == [("c1", 0), ("c2", 1), ("c2", 0)]
    assert all(np.array_equal(m1, m2) for (_, _, m1), (_, _, m2) in zip(before, after, strict=True))


def _polygon(draw: Any, h: int, w: int) -> list[float]:
    n = draw(st.integers(3, 6))
    return [
        float(draw(st.integers(-2, w + 2) if k % 2 == 0 else st.integers(-2, h + 2)))
        + draw(st.sampled_from([0, 0.5, 0.25]))
        for k in range(2 * n)
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_round_trip_coco_cvat_coco(tmp_path_factory, data):
    """coco-instance (polygons, and RLE masks with holes) -> cvat -> coco-instance keeps every
    mask pixel for pixel with its category, as pycocotools decodes both files."""
    tmp = tmp_path_factory.mktemp("rt")
    h, w = data.draw(st.integers(4, 16)), data.draw(st.integers(4, 16))
    anns = []
    for _ in range(data.draw(st.integers(1, 5))):
        cat = data.draw(st.sampled_from([1, 4, 9]))  # COCO ids need not be 1..n
        if data.draw(st.booleans()):
            polys = [_polygon(data.draw, h, w) for _ in range(data.draw(st.integers(1, 2)))]
            if (
                not masks.polygon_problem(polys, h, w)
                and mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(polys, h, w))) > 0
            ):
                anns.append({"category_id": cat, "segmentation": polys})
        else:
            m = np.array(data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w)), np.uint8).reshape(h, w)
            if m.any():
                rle = mask_utils.encode(np.asfortranarray(m))
                anns.append({"category_id": cat, "segmentation": {"size": [h, w], "counts": rle["counts"].decode()}})
    src = _coco(tmp / "src.json", anns, h, w, (1, 4, 9))
    segtool.convert(src, tmp / "a.xml", "cvat")
    segtool.convert(tmp / "a.xml", tmp / "b.json", "coco-instance")
    before, after = _masks_of(src), _masks_of(tmp / "b.json")
    assert [(c, k) for c, k, _ in after] == [(c, k) for c, k, _ in before]
    for (_, _, m1), (_, _, m2) in zip(before, after, strict=True):
        assert np.array_equal(m1, m2)


def test_polygons_stay_polygons(tmp_path):
    """coco-instance polygons -> cvat -> coco-instance (--mask-encoding polygon): the same
    polygons, coordinates and all (CVAT XML written with every digit, not CVAT's 2 decimals)."""
    polys = [[1.25, 1.5, 9.75, 2.0, 5.0, 8.125], [10.0, 10.0, 14.0, 10.0, 14.0, 13.0]]
    src = _coco(tmp_path / "src.json", [{"category_id": 2, "segmentation": polys}], 16, 16)
    segtool.convert(src, tmp_path / "a.xml", "cvat")
    assert 'points="1.25,1.5;9.75,2;5,8.125"' in (tmp_path / "a.xml").read_text()
    segtool.convert(tmp_path / "a.xml", tmp_path / "b.json", "coco-instance", mask_encoding="polygon")
    back = json.loads((tmp_path / "b.json").read_text())["annotations"]
    assert [(a["category_id"], a["segmentation"]) for a in back] == [(2, polys)]


def test_a_polygon_far_outside_is_named_by_the_reader(tmp_path):
    """The reader leaves a polygon's limits to pycocotools' checked door, which refuses a
    point far beyond the image; the error still names the shape."""
    path = _xml(
        tmp_path, _image('<polygon label="dog" points="0,0;4,0;4,4"/><polygon label="cat" points="0,0;900,0;4,4"/>')
    )
    with pytest.raises(SegtoolError, match=r"image 0: shape 1 \(polygon 'cat'\): polygon points reach"):
        segtool.read(path).samples[0].load()
    assert [f.code for f in validate_cvat(path).findings] == ["shape-degenerate"]


def test_encodings(tmp_path):
    """A Latin-1 XML reads (its image name decoded); UTF-16 is refused in one line (CVAT
    writes UTF-8, and an image's bytes are parsed again alone)."""
    text = f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<annotations><version>1.1</version>{META}'
    text += _image('<polygon label="cat" points="0,0;4,0;4,4"/>', name="é.jpg") + "</annotations>\n"
    (tmp_path / "l1.xml").write_bytes(text.encode("latin-1"))
    ds = segtool.read(tmp_path / "l1.xml")
    assert ds.samples[0].image.file_name == "é.jpg" and len(ds.samples[0].load().segments) == 1
    (tmp_path / "u16.xml").write_text(text.replace("ISO-8859-1", "UTF-16"), encoding="utf-16")
    result = CliRunner().invoke(main, ["info", str(tmp_path / "u16.xml"), "--from", "cvat"])
    assert result.exit_code == 2 and "UTF-16" in result.output and len(result.output.strip().splitlines()) == 1


def test_convert_to_a_picture_follows_cvats_order(tmp_path):
    """To coco-panoptic (no overlaps), convert reads the XML flattened by default: the box
    with the higher z_order keeps the 4 shared pixels, and the summary says 4 were decided."""
    shapes = '<box label="cat" xtl="0" ytl="0" xbr="4" ybr="4" z_order="1"/><box label="dog" xtl="2" ytl="2" xbr="6" ybr="6"/>'
    path = _xml(tmp_path, _image(shapes))
    result = CliRunner().invoke(
        main, ["convert", str(path), str(tmp_path / "p.json"), "--to", "coco-panoptic", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["changed"] == {cvat.PAINTED: 4}
    segments = json.loads((tmp_path / "p.json").read_text())["annotations"][0]["segments_info"]
    assert [(s["category_id"], s["area"]) for s in segments] == [(1, 16), (2, 12)]


def test_photos_are_checked_in_the_exports_images_folder(tmp_path):
    """The project export's photos lie in images/<subset>/ at the sizes its XML says: only
    the dropped shapes are reported; a photo removed is image-file-missing."""
    report = validate_cvat(PROJECT)
    assert {f.code for f in report.findings} == {"shape-dropped"} and report.stats["images"] == 6
    copy = tmp_path / "p"
    shutil.copytree(PROJECT, copy)
    (copy / "images/Train/img1.jpg").unlink()
    missing = [f for f in validate_cvat(copy).findings if f.code == "image-file-missing"]
    assert len(missing) == 1 and missing[0].path.endswith("Train/img1.jpg")


def test_a_sample_holds_no_shapes(tmp_path):
    """The reader keeps an image's byte range, not its shapes: a sample of 2,000 polygons
    pickles as small as one of 1 (what a worker receives; memory flat in the shapes)."""
    one = '<polygon label="cat" points="0,0;4,0;4,4"/>'
    ds = segtool.read(_xml(tmp_path, _image(one) + _image(one * 2000, iid=1, name="b.jpg")))
    small, big = (len(pickle.dumps(s)) for s in ds.samples)
    assert big < small + 16 and len(ds.samples[1].load().segments) == 2000


def test_real_job_export_to_cvat_keeps_its_source_attribute(tmp_path):
    segtool.convert(LEGO, tmp_path / "l.xml", "cvat")
    text = (tmp_path / "l.xml").read_text()
    assert text.count('<polygon label="battery.mask" source="semi-auto" occluded="0"') == 34
    before, after = segtool.read(LEGO), segtool.read(tmp_path / "l.xml")
    for a, b in zip(before.samples[:5], after.samples[:5], strict=True):
        assert np.array_equal(_dense(a.load()), _dense(b.load()))


def test_panoptic_real_examples_through_cvat(tmp_path):
    """panopticapi's 2 real images (50 segments, 3 crowd) -> cvat -> read flattened: the same
    partition, segment by segment, with the same category names; the crowd regions come back
    as crowd (written as <mask> with iscrowd=true, counted)."""
    src = DATA / "panopticapi/panoptic_examples.json"
    summary = segtool.convert(src, tmp_path / "p.xml", "cvat")
    assert summary.segments == 50 and dict(summary.changed) == {cvat_write.CROWD_WRITTEN: 3}
    before, after = segtool.read(src), cvat.read(tmp_path / "p.xml", flatten=True)
    names_a, names_b = before.category_map(), after.category_map()
    for s, t in zip(before.samples, after.samples, strict=True):
        a, b = s.load(), t.load()
        assert np.array_equal(a.index_map(), b.index_map()) and b.changed is None
        assert [names_a[int(c)].name for c in a.segments.category_id] == [
            names_b[int(c)].name for c in b.segments.category_id
        ]
        assert a.segments.iscrowd.tolist() == b.segments.iscrowd.tolist()


def test_names_that_need_escaping(tmp_path):
    anns = [{"category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]}]
    src = tmp_path / "src.json"
    cats = [{"id": 1, "name": 'a&b <"c">', "supercategory": ""}, {"id": 2, "name": "é\u4e2d", "supercategory": ""}]
    image = {"id": 1, "file_name": "x&y'.jpg", "height": 8, "width": 8}
    recs = [{"id": 1, "image_id": 1, "iscrowd": 0, "area": 8, "bbox": [0, 0, 4, 4], **anns[0]}]
    src.write_text(json.dumps({"images": [image], "annotations": recs, "categories": cats}))
    segtool.convert(src, tmp_path / "a.xml", "cvat")
    ds = segtool.read(tmp_path / "a.xml")
    assert [c.name for c in ds.categories] == ['a&b <"c">', "é\u4e2d"]
    assert ds.samples[0].image.file_name == "x&y'.jpg" and ds.samples[0].load().segments.category_id.tolist() == [1]


DATUMARO = Path(os.environ.get("DATUMARO_PYTHON", "/tmp/dm-venv/bin/python"))
_DM_MASKS = """
import json, sys
import datumaro as dm
import numpy as np
ds = dm.Dataset.import_from(sys.argv[1], "cvat")
out = {}
for item in ds:
    out[item.id] = [np.flatnonzero(a.image).tolist() for a in item.annotations if a.type == dm.AnnotationType.mask]
print(json.dumps(out))
"""


@pytest.mark.skipif(not DATUMARO.is_file(), reason="datumaro's Python (DATUMARO_PYTHON) is not installed")
def test_mask_rle_parity_with_datumaro(tmp_path):
    """datumaro's CVAT importer (CVAT's own library) decodes the same <mask> pixels as segtool,
    on 12 random masks in random boxes; segtool's writer's <mask>s read back the same too."""
    rng = np.random.default_rng(7)
    (tmp_path / "images").mkdir()
    images, expected = [], {}
    for i in range(12):
        h, w = int(rng.integers(3, 20)), int(rng.integers(3, 20))
        mh, mw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        top, left = int(rng.integers(0, h - mh + 1)), int(rng.integers(0, w - mw + 1))
        box = rng.random((mh, mw)) < 0.5
        box[0, 0] = True
        rle = ", ".join(map(str, encode_rle(box)))
        shape = f'<mask label="cat" rle="{rle}" left="{left}" top="{top}" width="{mw}" height="{mh}"/>'
        images.append(_image(shape, w, h, i, f"m{i}.png"))
        Image.new("RGB", (w, h)).save(tmp_path / "images" / f"m{i}.png")
        full = np.zeros((h, w), bool)
        full[top : top + mh, left : left + mw] = box
        expected[f"m{i}"] = np.flatnonzero(full).tolist()
    path = _xml(tmp_path, "".join(images))
    res = subprocess.run([str(DATUMARO), "-c", _DM_MASKS, str(tmp_path)], capture_output=True, text=True, check=True)
    theirs = json.loads(res.stdout.splitlines()[-1])
    assert {k: v[0] for k, v in theirs.items()} == expected
    ours = {
        s.image.file_name[:-4]: np.flatnonzero(_dense(s.load())[:, :, 0]).tolist() for s in segtool.read(path).samples
    }
    assert ours == expected


@pytest.mark.parametrize(
    "shape",
    [
        '<polygon label="cat" points="1,2,3;4,5;6,7"/>',
        '<polygon label="cat" points="1,2;nan,4;6,7"/>',
        '<polygon label="cat" points="1,x;3,4;6,7"/>',
        '<box label="cat" xtl="4" ytl="0" xbr="4" ybr="3"/>',
        '<mask label="cat" rle="1, -2, 3" left="0" top="0" width="1" height="2"/>',
        '<polygon label="cat" points="0,0;4,0;4,4" z_order="top"/>',
    ],
)
def test_degenerate_shapes(tmp_path, shape):
    """Points that are not x,y pairs of finite numbers, a box with no area, a negative run, a
    z_order that is no integer: shape-degenerate, and one line (exit 2) when converted."""
    path = _xml(tmp_path, _image(shape))
    assert [f.code for f in validate_cvat(path).findings] == ["shape-degenerate"]
    result = CliRunner().invoke(main, ["convert", str(path), str(tmp_path / "o.json"), "--to", "coco-instance"])
    assert result.exit_code == 2 and "shape 0" in result.output and len(result.output.strip().splitlines()) == 1
