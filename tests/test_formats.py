"""Readers on real files written by other projects, checked against hand-read values."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from segtool import WriteOptions, convert, detect, read
from tests.conftest import CATEGORIES, DATA, DETECTION_EXAMPLES, PANOPTIC_EXAMPLES, write_json

DATUMARO = DATA / "datumaro/coco/annotations"


def test_detect_real_files():
    assert detect(PANOPTIC_EXAMPLES) == "coco-panoptic"
    assert detect(DETECTION_EXAMPLES) == "coco-instance"
    assert detect(DATUMARO / "instances_val.json") == "coco-instance"


def test_panoptic_reader_real_examples():
    ds = read(PANOPTIC_EXAMPLES)
    assert [s.image.id for s in ds.samples] == [142238, 439180]
    assert len(ds.categories) == 133 and sum(c.isthing for c in ds.categories) == 80
    ann = ds.samples[0].load()
    assert ann.index_map().shape == (427, 640) and len(ann.segments) == 18
    # the JSON areas are exact pixel counts (checked upstream): the index map must agree
    counts = np.bincount(ann.index_map().ravel(), minlength=19)[1:]
    assert counts.tolist() == ann.segments.area.astype(int).tolist()


def test_instance_reader_decodes_detection_format_rle():
    ds = read(DETECTION_EXAMPLES)
    ann = ds.samples[1].load()
    assert len(ann.rles) == 32
    areas = mask_utils.area([{"size": r["size"], "counts": r["counts"].encode()} for r in ann.rles])
    assert areas.tolist() == ann.segments.area.astype(int).tolist()


def test_datumaro_polygon_and_uncompressed_crowd_rle(tmp_path):
    ds = read(DATUMARO / "instances_val.json")
    ann = ds.samples[0].load()
    assert ann.image.height == 10 and ann.image.width == 5
    crowd = mask_utils.decode({"size": [10, 5], "counts": ann.rles[1]["counts"].encode()})
    assert crowd.sum() == 20 and crowd[:, :2].all()  # counts [0, 20, 30]: the first two columns
    assert ann.segments.iscrowd.tolist() == [False, True]


def test_bbox_only_annotation_is_dropped_from_pixel_formats(tmp_path):
    summary = convert(DATUMARO / "instances_train.json", tmp_path / "p.json", WriteOptions("coco-panoptic"))
    assert summary.segments == 0 and dict(summary.dropped) == {"empty mask": 1}
    # and kept as is by instance → instance
    convert(
        DATUMARO / "instances_train.json", tmp_path / "i.json", WriteOptions("coco-instance", mask_encoding="polygon")
    )
    (ann,) = json.loads((tmp_path / "i.json").read_text())["annotations"]
    assert ann["bbox"] == [2, 2, 3, 1] and ann["area"] == 3


def test_instance_to_instance_keeps_polygons_ids_area_and_bbox():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "o.json"
        convert(
            DATA / "airo-mono/instances_val2017_small.json", out, WriteOptions("coco-instance", mask_encoding="polygon")
        )
        src = json.loads((DATA / "airo-mono/instances_val2017_small.json").read_text())["annotations"]
        ours = json.loads(out.read_text())["annotations"]
        assert [(a["id"], a["area"], a["bbox"], a["segmentation"]) for a in ours if not a["iscrowd"]] == [
            (a["id"], a["area"], a["bbox"], a["segmentation"]) for a in src if not a["iscrowd"]
        ]


def test_polygon_output_rasterises_close_to_the_mask(tmp_path):
    out = tmp_path / "poly.json"
    summary = convert(PANOPTIC_EXAMPLES, out, WriteOptions("coco-instance", mask_encoding="polygon"))
    data = json.loads(out.read_text())
    rle_out = tmp_path / "rle.json"
    convert(PANOPTIC_EXAMPLES, rle_out, WriteOptions("coco-instance"))
    exact = json.loads(rle_out.read_text())["annotations"]
    n_poly = 0
    for a, e in zip(data["annotations"], exact, strict=True):
        if isinstance(a["segmentation"], list):
            n_poly += 1
            h, w = e["segmentation"]["size"]
            poly = mask_utils.merge(mask_utils.frPyObjects(a["segmentation"], h, w))
            ref = {"size": [h, w], "counts": e["segmentation"]["counts"].encode()}
            # polygons run along pixel corners: pycocotools rasterises them back exactly
            assert np.array_equal(mask_utils.decode(poly), mask_utils.decode(ref)), a["id"]
        else:
            assert a["iscrowd"] or "counts" in a["segmentation"]
    kept_rle = summary.changed.get("written as RLE: a polygon cannot carry the mask (it has a hole)", 0)
    crowd = sum(a["iscrowd"] for a in data["annotations"])
    # masks with holes, counted independently: filling holes changes them
    from scipy.ndimage import binary_fill_holes

    holes = 0
    for e in exact:
        m = mask_utils.decode({"size": e["segmentation"]["size"], "counts": e["segmentation"]["counts"].encode()})
        holes += (not e["iscrowd"]) and bool((binary_fill_holes(m) != m).any())
    assert kept_rle == holes and n_poly == 50 - crowd - holes


def test_mmsegmentation_palette_labels_read_by_index(tmp_path):
    folder = DATA / "mmsegmentation/semantic_png/gts"
    cats = write_json(tmp_path / "cats.json", [{"id": i, "name": f"c{i}"} for i in range(4)])
    ds = read(folder, "semantic", categories=cats)
    assert len(ds.samples) == 5 and ds.samples[0].image.height == 128
    img = Image.open(folder / "00000_gt.png")
    assert img.mode == "P"
    raw = np.asarray(img)
    ann = ds.samples[0].load()
    # segment k covers exactly the pixels whose palette index is its category id
    for k, cid in enumerate(ann.segments.category_id.tolist(), start=1):
        assert np.array_equal(ann.index_map() == k, raw == cid)
    convert(folder, tmp_path / "back", WriteOptions("semantic"), read_options={"categories": cats})
    assert np.array_equal(np.asarray(Image.open(tmp_path / "back/00000_gt.png")), raw)


def test_semantic_sixteen_bit_when_ids_need_it(tmp_path):
    cats = [*CATEGORIES, {"id": 300, "name": "wall", "isthing": 0}]
    sem = tmp_path / "sem"
    sem.mkdir()
    lab = np.array([[300, 100], [65535, 200]], np.uint16)
    Image.fromarray(lab).save(sem / "x.png")
    (sem / "categories.json").write_text(json.dumps(cats))
    convert(sem, tmp_path / "p.json", WriteOptions("coco-panoptic"), read_options={"ignore_value": 65535})
    convert(tmp_path / "p.json", tmp_path / "back", WriteOptions("semantic", ignore_value=65535))
    back = Image.open(tmp_path / "back/x.png")
    assert back.mode.startswith("I;16") and np.array_equal(np.asarray(back), lab)


def test_semantic_palette_output(tmp_path):
    convert(PANOPTIC_EXAMPLES, tmp_path / "sem", WriteOptions("semantic", palette=True))
    img = Image.open(tmp_path / "sem/000000142238.png")
    assert img.mode == "P"
    pal = np.array(img.getpalette()).reshape(-1, 3)
    assert pal[1].tolist() == [220, 20, 60]  # person's COCO colour
    cats = json.loads((tmp_path / "sem/categories.json").read_text())
    assert len(cats) == 133 and cats[0]["isthing"] == 1


def test_list_items_streams_one_list_and_stops_at_its_end(tmp_path):
    """Items come one at a time (nested values intact), and nothing after the list is read:
    here the file is not even valid JSON after it."""
    from segtool.formats.jsonstream import list_items

    path = tmp_path / "x.json"
    path.write_text(
        '{"info": {"images": [9]}, "images": [{"id": 1, "a": [1, [2]]}, 3, {"id": 2}], "annotations": [oops'
    )
    assert list(list_items(path, "images")) == [{"id": 1, "a": [1, [2]]}, 3, {"id": 2}]
    path.write_text('{"images": []}')
    assert list(list_items(path, "images")) == []


def test_load_json_reads_what_the_json_module_reads(tmp_path):
    """NaN literals, integers past 64 bits and UTF-16 files load (the json module's way),
    and invalid JSON names its line and column."""
    import math

    import pytest

    from segtool.errors import SegtoolError
    from segtool.formats.common import load_json

    path = tmp_path / "x.json"
    path.write_text('{"score": NaN, "id": 123456789012345678901234567890, "s": "é"}')
    data = load_json(path)
    assert math.isnan(data["score"]) and data["id"] == 123456789012345678901234567890 and data["s"] == "é"
    path.write_text('[{"a": 1.5}]', encoding="utf-16")
    assert load_json(path) == [{"a": 1.5}]
    path.write_text('{"a": 1,\n "b": }')
    with pytest.raises(SegtoolError, match=r"line 2, column 7"):
        load_json(path)
