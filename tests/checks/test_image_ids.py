"""Image ids written as numbers and as strings: validate names both spellings of one id."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from segtool import validate
from tests.conftest import panoptic_segments, rle, write_json, write_panoptic
from tests.helpers import PANOPTIC_CATS

IDS = np.array([[10, 10, 20, 20]] * 4)


def _panoptic(tmp_path: Path, edit) -> Path:
    path = write_panoptic(tmp_path / "pan.json", [IDS], [panoptic_segments(IDS, {10: 100, 20: 1})], PANOPTIC_CATS)
    data = json.loads(path.read_text())
    edit(data)
    return write_json(path, data)


def _found(path: Path, code: str) -> list:
    return [f for f in validate(path).findings if f.code == code]


def test_an_annotation_naming_its_image_as_a_string_is_named_with_both_spellings(tmp_path):
    path = _panoptic(tmp_path, lambda d: d["annotations"][0].update(image_id="1"))
    [f] = _found(path, "image-id-form")
    assert "'1'" in f.message and "as 1" in f.message and f.image_id == "1"
    assert _found(path, "annotation-unknown-image") == []


def test_string_ids_throughout_are_clean(tmp_path):
    def name_by_string(d):
        d["images"][0]["id"] = "frankfurt_000000_000294"
        d["annotations"][0]["image_id"] = "frankfurt_000000_000294"

    path = _panoptic(tmp_path, name_by_string)
    report = validate(path)
    assert [f.code for f in report.findings if f.code not in ("unused-category", "unlabeled")] == []


def test_one_image_listed_in_both_spellings(tmp_path):
    path = _panoptic(tmp_path, lambda d: d["images"].append({**d["images"][0], "id": "1", "file_name": "b.jpg"}))
    [f] = _found(path, "image-id-form")
    assert "'1'" in f.message and "1 and" in f.message.replace("'1'", "")


def test_instance_annotations_too(tmp_path):
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    image = {"id": 2299, "file_name": "a.jpg", "height": 4, "width": 4}
    ann = {"id": 1, "image_id": "2299", "category_id": 1, "segmentation": rle(mask), "area": 4, "bbox": [0, 0, 2, 2]}
    path = write_json(tmp_path / "inst.json", {"images": [image], "annotations": [ann], "categories": PANOPTIC_CATS})
    [f] = _found(path, "image-id-form")
    assert "'2299'" in f.message and "as 2299" in f.message
