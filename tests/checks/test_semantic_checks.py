"""One small broken semantic fixture per check code, and the --images DIR checks of every format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segtool.cli import main
from segtool.formats.coco_instance_checks import validate_instance
from segtool.formats.coco_panoptic_checks import validate_panoptic
from segtool.formats.semantic_checks import name_suffix, validate_semantic
from tests.conftest import DATA, PANOPTIC_EXAMPLES, write_json

CATS = [{"id": 0, "name": "background"}, {"id": 1, "name": "road"}, {"id": 2, "name": "car"}]
BASE = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 1, 1]], np.uint8)  # 4 wide, 3 high, every class


def build(tmp_path: Path, labels=BASE, images_json=True) -> Path:
    folder = tmp_path / "sem"
    folder.mkdir(parents=True)
    Image.fromarray(labels).save(folder / "a.png")
    write_json(folder / "categories.json", CATS)
    if images_json:
        write_json(folder / "images.json", {"images": [{"id": 1, "file_name": "a.jpg", "height": 3, "width": 4}]})
    return folder


def codes(folder: Path, **kw) -> list[str]:
    return sorted({f.code for f in validate_semantic(folder, **kw).findings})


def test_the_base_fixture_is_clean(tmp_path):
    assert codes(build(tmp_path)) == []
    assert codes(build(tmp_path / "b", images_json=False)) == []


def with_value(v: int, dtype=np.uint8) -> np.ndarray:
    out = BASE.astype(dtype)
    out[0, 0] = v
    return out


def add_images(folder: Path, *records: dict) -> None:
    data = json.loads((folder / "images.json").read_text())
    data["images"] += list(records)
    write_json(folder / "images.json", data)


CASES = {
    "unknown-label": lambda f: Image.fromarray(with_value(7)).save(f / "a.png"),
    "png-size": lambda f: Image.fromarray(BASE[:2]).save(f / "a.png"),
    "label-mode": lambda f: Image.fromarray(np.stack([BASE] * 3, -1)).save(f / "a.png"),
    "png-unreadable": lambda f: (f / "a.png").write_bytes((f / "a.png").read_bytes()[:30]),
    "label-missing": lambda f: add_images(f, {"id": 2, "file_name": "b.jpg", "height": 3, "width": 4}),
    "label-without-image": lambda f: shutil.copy(f / "a.png", f / "c.png"),
    "unlabeled": lambda f: Image.fromarray(with_value(255)).save(f / "a.png"),
    "ignore-is-category": lambda f: write_json(f / "categories.json", [*CATS, {"id": 255, "name": "void"}]),
    "unused-category": lambda f: write_json(f / "categories.json", [*CATS, {"id": 3, "name": "bus"}]),
    "duplicate-category-id": lambda f: write_json(f / "categories.json", [*CATS, {"id": 2, "name": "bus"}]),
    "duplicate-image-id": lambda f: add_images(f, {"id": 1, "file_name": "a2.jpg", "height": 3, "width": 4}),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_breakage_gives_exactly_its_code(tmp_path, code):
    folder = build(tmp_path)
    CASES[code](folder)
    assert codes(folder) == [code]


def test_unknown_label_names_values_and_pixels(tmp_path):
    folder = build(tmp_path)
    labels = BASE.astype(np.uint16)
    labels[0, :2] = 300
    Image.fromarray(labels).save(folder / "a.png")
    [f] = validate_semantic(folder).findings
    assert f.code == "unknown-label" and "300" in f.message and "(2 px)" in f.message and f.image_id == 1


def test_ignore_fraction_and_threshold(tmp_path):
    folder = build(tmp_path)
    labels = BASE.copy()
    labels[0, :3] = 255  # 3 of 12 pixels
    Image.fromarray(labels).save(folder / "a.png")
    report = validate_semantic(folder)
    assert [(f.code, str(f.severity)) for f in report.findings] == [("unlabeled", "info")]
    assert "25.00%" in report.findings[0].message and report.stats["unlabeled_fraction"] == 0.25
    assert [str(f.severity) for f in validate_semantic(folder, max_unlabeled=0.2).findings] == ["warning"]
    assert validate_semantic(folder, max_unlabeled=0.3).findings == []
    # with ignore value 0, category 0 is ignored and 255 is no class
    assert codes(folder, ignore_value=0) == ["ignore-is-category", "unknown-label", "unlabeled"]


def test_photos_pair_with_label_maps_by_stem_without_a_shared_suffix(tmp_path):
    """mmsegmentation's real pseudo dataset: x_img.jpg pairs with x_gt.png; one photo missing."""
    src = DATA / "mmsegmentation/semantic_png"
    cats = write_json(tmp_path / "cats.json", [{"id": i, "name": f"c{i}"} for i in range(4)])
    assert codes(src / "gts", categories=cats, images_dir=src / "imgs") == []
    photos = shutil.copytree(src / "imgs", tmp_path / "imgs")
    (photos / "00003_img.jpg").unlink()
    found = validate_semantic(src / "gts", categories=cats, images_dir=photos).findings
    assert [(f.code, Path(f.path).name) for f in found] == [("label-without-image", "00003_gt.png")]
    with Image.open(photos / "00001_img.jpg") as img:
        img.resize((5, 5)).save(photos / "00001_img.jpg")
    found = validate_semantic(src / "gts", categories=cats, images_dir=photos).findings
    assert {(f.code, Path(f.path).name) for f in found} == {
        ("label-without-image", "00003_gt.png"),
        ("png-size", "00001_gt.png"),
    }


def test_name_suffix():
    assert name_suffix(["00000_gt", "00001_gt"]) == "_gt"
    assert name_suffix(["aachen_000000_000019_gtFine_labelIds", "bochum_000000_000313_gtFine_labelIds"]) == (
        "_gtFine_labelIds"
    )
    assert name_suffix(["000139", "000149"]) == ""  # a shared digit is not a suffix
    assert name_suffix(["a_1", "b_1"]) == "_1"
    assert name_suffix(["x_1"]) == "_1" and name_suffix(["_1"]) == ""


def test_missing_categories_is_unreadable(runner, tmp_path):
    folder = build(tmp_path)
    (folder / "categories.json").unlink()
    r = runner.invoke(main, ["validate", str(folder), "--from", "semantic"])
    assert r.exit_code == 2 and "categories.json" in r.stderr


def test_cli_semantic(runner, tmp_path):
    folder = build(tmp_path)
    assert runner.invoke(main, ["validate", str(folder)]).exit_code == 0
    Image.fromarray(with_value(9)).save(folder / "a.png")
    r = runner.invoke(main, ["validate", str(folder), "--json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["summary"]["by_code"] == {"unknown-label": 1}


# --images DIR on every format


def photo(path: Path, w: int, h: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h), (90, 120, 150)).save(path)


def test_images_dir_panoptic_real_examples(tmp_path):
    data = json.loads(PANOPTIC_EXAMPLES.read_text())
    photos = tmp_path / "photos"
    for im in data["images"]:
        photo(photos / im["file_name"], im["width"], im["height"])
    base = {f.code for f in validate_panoptic(PANOPTIC_EXAMPLES).findings}
    assert {f.code for f in validate_panoptic(PANOPTIC_EXAMPLES, images_dir=photos).findings} == base
    first, second = data["images"][0], data["images"][1]
    (photos / first["file_name"]).unlink()
    photo(photos / second["file_name"], second["width"] + 1, second["height"])
    extra = [
        (f.code, f.image_id)
        for f in validate_panoptic(PANOPTIC_EXAMPLES, images_dir=photos).findings
        if f.code.startswith("image-")
    ]
    assert sorted(extra) == [("image-file-missing", first["id"]), ("image-size", second["id"])]


def test_images_dir_instance_and_unreadable(runner, tmp_path):
    images = [
        {"id": 1, "file_name": "a.jpg", "height": 4, "width": 6},
        {"id": 2, "file_name": "b.jpg", "height": 4, "width": 6},
    ]
    path = write_json(tmp_path / "inst.json", {"images": images, "annotations": [], "categories": []})
    photos = tmp_path / "photos"
    photo(photos / "a.jpg", 6, 4)
    (photos / "b.jpg").write_bytes(b"not a jpeg")
    found = {f.code for f in validate_instance(path, images_dir=photos).findings}
    assert found == {"no-annotations", "image-unreadable"}
    r = runner.invoke(main, ["validate", str(path), "--images", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "--images" in r.stderr
