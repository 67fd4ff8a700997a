"""One small broken fixture per check code: each must produce exactly that code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segtool.cli import main
from segtool.formats.coco_panoptic_checks import validate_panoptic
from tests.conftest import panoptic_segments, write_panoptic
from tests.helpers import PANOPTIC_CATS as CATS

BASE = np.array([[10, 10, 20, 20]] * 4)  # road | person, no void


def build(tmp_path: Path, ids=BASE, cats=None, crowd=frozenset(), listed=None, categories=CATS) -> Path:
    cats = cats or {10: 100, 20: 1}
    segs = panoptic_segments(ids, cats, set(crowd))
    if listed is not None:
        segs = [s for s in segs if s["id"] in listed]
    return write_panoptic(tmp_path / "pan.json", [ids], [segs], categories)


def edit(path: Path, fn) -> Path:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))
    return path


def codes(path: Path) -> list[str]:
    return sorted({f.code for f in validate_panoptic(path).findings})


def test_the_base_fixture_is_clean(tmp_path):
    assert codes(build(tmp_path)) == []


def png_of(path: Path) -> Path:
    return path.with_suffix("") / "img1.png"


CASES = {
    "png-missing": lambda p: png_of(p).unlink(),
    "png-unreadable": lambda p: png_of(p).write_bytes(png_of(p).read_bytes()[:40]),
    "png-size": lambda p: edit(p, lambda d: d["images"][0].update(width=5)),
    "png-mode": lambda p: Image.open(png_of(p)).convert("L").save(png_of(p)),
    "area-mismatch": lambda p: edit(p, lambda d: d["annotations"][0]["segments_info"][1].update(area=9)),
    "bbox-mismatch": lambda p: edit(p, lambda d: d["annotations"][0]["segments_info"][1].update(bbox=[2, 0, 4, 3])),
    "crowd-on-stuff": lambda p: edit(p, lambda d: d["annotations"][0]["segments_info"][0].update(iscrowd=1)),
    "duplicate-segment-id": lambda p: edit(
        p, lambda d: d["annotations"][0]["segments_info"].append(d["annotations"][0]["segments_info"][1])
    ),
    "segment-absent": lambda p: edit(
        p, lambda d: d["annotations"][0]["segments_info"].append({"id": 40, "category_id": 1, "iscrowd": 0})
    ),
    "duplicate-image-id": lambda p: edit(p, lambda d: d["images"].append({**d["images"][0], "file_name": "other.jpg"})),
    "duplicate-annotation": lambda p: edit(p, lambda d: d["annotations"].append(d["annotations"][0])),
    "annotation-unknown-image": lambda p: edit(
        p, lambda d: d["annotations"].append({**d["annotations"][0], "image_id": 99})
    ),
    "image-without-annotation": lambda p: edit(
        p, lambda d: d["images"].append({**d["images"][0], "id": 2, "file_name": "img2.jpg"})
    ),
    "unused-category": lambda p: edit(
        p, lambda d: d["categories"].append({"id": 7, "name": "dog", "isthing": 1, "color": [1, 2, 3]})
    ),
    "duplicate-category-id": lambda p: edit(
        p, lambda d: d["categories"].append({**d["categories"][0], "name": "human", "color": [9, 9, 9]})
    ),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_breakage_gives_exactly_its_code(tmp_path, code):
    path = build(tmp_path)
    CASES[code](path)
    assert codes(path) == [code]


def test_duplicate_file_name(tmp_path):
    path = build(tmp_path)
    edit(
        path,
        lambda d: (
            d["images"].append({**d["images"][0], "id": 2}),
            d["annotations"].append({**d["annotations"][0], "image_id": 2}),
        ),
    )
    assert codes(path) == ["duplicate-file-name"]


def test_id_not_listed(tmp_path):
    ids = BASE.copy()
    ids[1, 2] = 30  # pixels of an id segments_info does not list; 10 and 20 stay exact
    assert codes(build(tmp_path, ids, {10: 100, 20: 1, 30: 1}, listed={10, 20})) == ["id-not-listed"]


def test_unknown_category(tmp_path):
    ids = BASE.copy()
    ids[3, 3] = 30
    assert codes(build(tmp_path, ids, {10: 100, 20: 1, 30: 999})) == ["unknown-category"]


def test_stuff_split(tmp_path):
    ids = BASE.copy()
    ids[2:, :2] = 11  # road as two segments
    assert codes(build(tmp_path, ids, {10: 100, 11: 100, 20: 1})) == ["stuff-split"]


def test_several_crowd(tmp_path):
    ids = BASE.copy()
    ids[2:, 2:] = 21
    assert codes(build(tmp_path, ids, {10: 100, 20: 1, 21: 1}, crowd={20, 21})) == ["several-crowd"]


def test_unlabeled(tmp_path):
    ids = BASE.copy()
    ids[0, 0] = 0
    found = validate_panoptic(build(tmp_path, ids)).findings
    assert [(f.code, str(f.severity)) for f in found] == [("unlabeled", "info")]
    assert "6.25%" in found[0].message  # 1 of 16 pixels


def test_duplicate_category_name_and_color_collision(tmp_path):
    ids = BASE.copy()
    ids[3, 3] = 30
    twin = {"id": 7, "name": "person", "isthing": 1, "color": [5, 5, 5]}
    assert codes(build(tmp_path, ids, {10: 100, 20: 1, 30: 7}, categories=[*CATS, twin])) == ["duplicate-category-name"]
    (tmp_path / "pan.json").unlink()
    same = {"id": 7, "name": "dog", "isthing": 1, "color": [220, 20, 60]}
    assert codes(build(tmp_path, ids, {10: 100, 20: 1, 30: 7}, categories=[*CATS, same])) == ["color-collision"]


COVERED = set(CASES) | {
    "duplicate-file-name",
    "id-not-listed",
    "unknown-category",
    "stuff-split",
    "several-crowd",
    "unlabeled",
    "duplicate-category-name",
    "color-collision",
}


def test_real_datasets(runner, tmp_path):
    """The clean panopticapi examples have no errors; datumaro's quirks are found."""
    from tests.conftest import DATA, PANOPTIC_EXAMPLES

    assert not [f for f in validate_panoptic(PANOPTIC_EXAMPLES).findings if str(f.severity) != "info"]
    val = {f.code for f in validate_panoptic(DATA / "datumaro/coco_panoptic/annotations/panoptic_val.json").findings}
    assert {"bbox-tolerated", "crowd-on-stuff"} <= val  # off-by-one boxes (tolerated); crowd on stuff
    train = {
        f.code for f in validate_panoptic(DATA / "datumaro/coco_panoptic/annotations/panoptic_train.json").findings
    }
    assert "png-size" in train  # a 5x5 PNG for a 10x5 image


def test_cli_exit_codes_json_and_github(runner, tmp_path):
    path = build(tmp_path)
    assert runner.invoke(main, ["validate", str(path)]).exit_code == 0
    edit(path, lambda d: d["annotations"][0]["segments_info"][0].update(iscrowd=1))  # a warning
    assert runner.invoke(main, ["validate", str(path)]).exit_code == 0
    assert runner.invoke(main, ["validate", str(path), "--fail-on", "warning"]).exit_code == 1
    assert (
        runner.invoke(main, ["validate", str(path), "--fail-on", "warning", "--ignore", "crowd-on-stuff"]).exit_code
        == 0
    )
    r = runner.invoke(main, ["validate", str(path), "--json"])
    report = json.loads(r.stdout)
    assert report["summary"]["warnings"] == 1 and report["findings"][0]["code"] == "crowd-on-stuff"
    assert report["findings"][0]["image_id"] == 1 and report["findings"][0]["segment_id"] == 10
    r = runner.invoke(main, ["validate", str(path), "--format", "github"])
    assert r.stdout.startswith("::warning file=") and "title=crowd-on-stuff" in r.stdout
    assert runner.invoke(main, ["validate", str(path), "--select", "nonsense"]).exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    r = runner.invoke(main, ["validate", str(bad)])
    assert r.exit_code == 2 and "invalid JSON" in r.stderr
