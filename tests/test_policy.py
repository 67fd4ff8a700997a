"""Readers and validate share one set of rules (segtool.policy): the problem that stops a
reader is the finding validate reports, under its code and in the same words."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segtool
from segtool.checks.registry import Collect
from segtool.errors import SegtoolError
from segtool.formats.coco_panoptic_checks import validate_panoptic
from segtool.formats.coco_records import parse_categories, parse_images
from segtool.policy import QUIET, STRICT, place
from tests.conftest import panoptic_segments, write_panoptic
from tests.helpers import PANOPTIC_CATS

BASE = np.array([[10, 10, 20, 20]] * 4)  # road | person


def build(tmp_path: Path) -> Path:
    return write_panoptic(tmp_path / "pan.json", [BASE], [panoptic_segments(BASE, {10: 100, 20: 1})], PANOPTIC_CATS)


def edit(fn):
    def apply(path: Path) -> None:
        data = json.loads(path.read_text())
        fn(data)
        path.write_text(json.dumps(data))

    return apply


def png_of(path: Path) -> Path:
    return path.with_suffix("") / "img1.png"


def segments(d):
    return d["annotations"][0]["segments_info"]


BREAKAGES = {
    "png-missing": lambda p: png_of(p).unlink(),
    "png-unreadable": lambda p: png_of(p).write_bytes(png_of(p).read_bytes()[:40]),
    "png-size": edit(lambda d: d["images"][0].update(width=5)),
    "png-mode": lambda p: Image.open(png_of(p)).convert("L").save(png_of(p)),
    "duplicate-segment-id": edit(lambda d: segments(d).append(segments(d)[1])),
    "segment-absent": edit(lambda d: segments(d).append({"id": 40, "category_id": 1, "iscrowd": 0})),
    "id-not-listed": edit(lambda d: segments(d).pop(0)),
    "unknown-category": edit(lambda d: segments(d)[1].update(category_id=7)),
    "malformed-record": edit(lambda d: segments(d)[1].update(iscrowd=5)),
    "duplicate-image-id": edit(lambda d: d["images"].append({**d["images"][0], "file_name": "other.jpg"})),
    "duplicate-category-id": edit(lambda d: d["categories"].append({**d["categories"][0], "name": "human"})),
    "annotation-unknown-image": edit(lambda d: d["annotations"].append({**d["annotations"][0], "image_id": 99})),
    "image-id-form": edit(lambda d: d["annotations"][0].update(image_id="1")),
    "malformed-record/annotation": edit(lambda d: d["annotations"][0].pop("file_name")),
    "malformed-record/image": edit(lambda d: d["images"][0].update(height=0)),
    "malformed-record/segments": lambda p: _over_segments(p),
}


def _over_segments(path: Path) -> None:
    data = json.loads(path.read_text())
    segments(data).extend({"id": 100 + k, "category_id": 1} for k in range(3))
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("code", sorted(BREAKAGES))
def test_the_reader_stops_where_validate_reports(tmp_path, code, monkeypatch):
    path = build(tmp_path)
    BREAKAGES[code](path)
    monkeypatch.setenv("SEGTOOL_LIMIT_SEGMENTS", "3")
    # an image record left out leaves its annotation without an image: a second finding
    also = ["annotation-unknown-image"] if code == "malformed-record/image" else []
    code = code.split("/")[0]
    findings = [f for f in validate_panoptic(path).findings if f.severity.name == "ERROR"]
    assert [f.code for f in findings] == [code, *also]
    finding = findings[0]
    with pytest.raises(SegtoolError) as caught:
        for sample in segtool.read(path).samples:
            sample.load()
    error = caught.value
    # the same words: the reader's line starts with the place the finding keeps apart
    assert error.message in (
        finding.message,
        f"{place(finding.image_id)}: {finding.message}",
        f"{finding.where()}: {finding.message}",
    )
    assert error.path in (finding.path, str(path))  # a record's problem: the reader names the JSON it is in


def test_what_readers_read_past_validate_still_reports(tmp_path):
    """An image id written 2.0 and an image without file_name: pycocotools takes both, so
    the readers do; validate reports both records, and leaves them out of its other checks."""
    records = [{"id": 2.0, "file_name": "a.jpg", "height": 4, "width": 4}, {"id": 3, "height": 4, "width": 4}]
    images = parse_images(records, "x.json")
    assert [(im.id, im.file_name) for im in images] == [(2, "a.jpg"), (3, "3.jpg")]
    collect = Collect()
    assert parse_images(records, "x.json", collect) == []
    assert [(f.code, f.message) for f in collect.found] == [
        ("malformed-record", "image #0: 'id' must be an integer or string, got 2.0"),
        ("malformed-record", "image #1: no 'file_name'"),
    ]


def test_a_category_id_no_reader_takes_is_a_validate_error(tmp_path):
    """A string category id: the readers refuse it (segments' category ids are integers), so
    validate, which used to accept it, reports it."""
    records = [{"id": "person", "name": "person"}]
    with pytest.raises(SegtoolError, match="category #0: 'id' must be an integer, got 'person'"):
        parse_categories(records, "x.json", default_isthing=True)
    collect = Collect()
    assert parse_categories(records, "x.json", default_isthing=True, report=collect) == ()
    assert [f.code for f in collect.found] == ["malformed-record"]


def test_the_policies():
    with pytest.raises(SegtoolError, match=r"^x\.json: image 3: bad$"):
        STRICT("png-size", "image 3: bad", "x.json", 3)
    assert STRICT("malformed-record", "image 3: odd", "x.json", 3, usable=True) is True
    assert QUIET("png-size", "image 3: bad", "x.json", 3) is False
    collect = Collect()
    assert collect("png-size", "image 3, segment 7: bad", "x.json", 3, 7) is False
    assert collect("image-id-form", "image 3: two spellings", "x.json", 3, usable=True) is True
    assert collect("malformed-record", "image #0: odd", "x.json", usable=True) is False
    assert [(f.message, f.where()) for f in collect.found] == [
        ("bad", "image 3, segment 7"),
        ("two spellings", "image 3"),
        ("image #0: odd", ""),
    ]


SEM_CATS = [{"id": 0, "name": "background"}, {"id": 1, "name": "road"}]
SEM_BASE = np.array([[0, 0, 1, 1], [0, 0, 1, 1]], np.uint8)


def build_semantic(tmp_path: Path, labels: np.ndarray = SEM_BASE, cats: list = SEM_CATS) -> Path:
    folder = tmp_path / "sem"
    folder.mkdir(parents=True)
    Image.fromarray(labels).save(folder / "a.png")
    (folder / "categories.json").write_text(json.dumps(cats))
    (folder / "images.json").write_text(
        json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "height": 2, "width": 4}]})
    )
    return folder


SEMANTIC = {
    "unknown-label": lambda f: Image.fromarray(np.where(SEM_BASE == 1, 42, SEM_BASE).astype(np.uint8)).save(
        f / "a.png"
    ),
    "png-size": lambda f: Image.fromarray(SEM_BASE[:1]).save(f / "a.png"),
    "label-mode": lambda f: Image.fromarray(np.stack([SEM_BASE] * 3, -1)).save(f / "a.png"),
    "png-unreadable": lambda f: (f / "a.png").write_bytes((f / "a.png").read_bytes()[:30]),
    "ignore-is-category": lambda f: (f / "categories.json").write_text(
        json.dumps([*SEM_CATS, {"id": 255, "name": "x"}])
    ),
}


@pytest.mark.parametrize("code", sorted(SEMANTIC))
def test_a_label_map_reader_stops_where_validate_reports(tmp_path, code):
    from segtool.formats.semantic_checks import validate_semantic

    folder = build_semantic(tmp_path)
    SEMANTIC[code](folder)
    findings = [f for f in validate_semantic(folder).findings if f.severity.name == "ERROR"]
    assert [f.code for f in findings] == [code]
    finding = findings[0]
    with pytest.raises(SegtoolError) as caught:
        for sample in segtool.read(folder).samples:
            sample.load()
    message = caught.value.message
    assert message in (finding.message, f"{place(finding.image_id)}: {finding.message}")
    assert not message.endswith(" and ") and " and  " not in message  # validate once said "values 42 and  (...)"


def _instances(tmp_path: Path, **changes) -> Path:
    """One 4x4 image, two exact annotations (area and bbox right), the second changed."""
    from tests.conftest import write_instances

    a, b = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    a[:2, :2], b[2:, 1:] = True, True
    path = write_instances(tmp_path / "inst.json", (4, 4), [(1, a), (1, b)])
    data = json.loads(path.read_text())
    data["annotations"][0]["bbox"], data["annotations"][1]["bbox"] = [0, 0, 2, 2], [1, 2, 3, 2]
    data["annotations"][1].update(changes)
    path.write_text(json.dumps(data))
    return path


INSTANCE_VALUES = {
    "id-string": {"id": "7"},
    "area-not-a-number": {"area": "x"},
    "area-not-finite": {"area": "nan"},
    "bbox-not-numbers": {"bbox": [1, 2, "y", 2]},
    "bbox-not-finite": {"bbox": [1, 2, "inf", 2]},
}


@pytest.mark.parametrize("case", sorted(INSTANCE_VALUES))
def test_an_instance_value_stops_the_reader_where_validate_reports(tmp_path, case):
    """One rule for an instance annotation's values (instance_rules): what stops the reader
    is validate's malformed-record finding, in the same words."""
    from segtool.formats.coco_instance_checks import validate_instance

    path = _instances(tmp_path, **INSTANCE_VALUES[case])
    findings = [f for f in validate_instance(path).findings if f.severity.name == "ERROR"]
    assert [f.code for f in findings] == ["malformed-record"]
    with pytest.raises(SegtoolError) as caught:
        for sample in segtool.read(path).samples:
            sample.load()
    assert caught.value.message in (findings[0].message, f"image 1: {findings[0].message}")


@pytest.mark.parametrize(
    "changes", [{"area": "6"}, {"bbox": [1, 2, 3]}, {"iscrowd": 2}, {"id": 2.0}, {"category_id": 1.0}]
)
def test_instance_values_the_reader_reads_past_validate_reports(tmp_path, changes):
    """A numeric string, a box of three numbers, an iscrowd of 2, ids written 2.0: the
    reader reads them as pycocotools would; validate reports each (the same rule, usable)."""
    from segtool.formats.coco_instance_checks import validate_instance

    path = _instances(tmp_path, **changes)
    assert len(segtool.read(path).samples[0].load().segments) == 2
    assert "malformed-record" in {f.code for f in validate_instance(path).findings}
