"""The cityscapes format: polygons rasterised as cityscapesScripts does, pixel for pixel;
PNG round trips; trainIds; createPanopticImgs' output read as coco-panoptic; validate's
checks, one broken tree each."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import segtool
from segtool import formats
from segtool.errors import SegtoolError
from segtool.formats import cityscapes
from segtool.formats.cityscapes_labels import LABELS

STUFF = ["road", "sidewalk", "building", "vegetation", "sky", "ego vehicle", "polegroup", "license plate", "parking"]
THINGS = ["person", "rider", "car", "bicycle", "caravan"]
W, H = 96, 64


def cityscapesscripts_stubbed() -> types.ModuleType:
    """cityscapesScripts' preparation modules (installed --no-deps; its 3D-box helper wants
    pyquaternion, which none of this uses)."""
    pytest.importorskip("cityscapesscripts")
    if "pyquaternion" not in sys.modules:
        try:
            import pyquaternion  # noqa: F401
        except ImportError:
            stub = types.ModuleType("pyquaternion")
            stub.Quaternion = object  # type: ignore[attr-defined]
            sys.modules["pyquaternion"] = stub
    from cityscapesscripts.preparation import json2instanceImg, json2labelImg

    ns = types.ModuleType("cs")
    ns.labelImg = json2labelImg  # type: ignore[attr-defined]
    ns.instanceImg = json2instanceImg  # type: ignore[attr-defined]
    return ns


def _polygons(seed: int) -> dict[str, Any]:
    """A polygons JSON with overlaps, groups, deleted objects, points outside the image,
    float coordinates, a license plate and void labels."""
    rng = np.random.default_rng(seed)
    objects: list[dict[str, Any]] = []
    for k in range(int(rng.integers(6, 18))):
        kind = rng.random()
        if kind < 0.35:
            label = str(rng.choice(STUFF))
        elif kind < 0.8:
            label = str(rng.choice(THINGS))
        else:
            label = str(rng.choice(THINGS)) + "group"
        n = int(rng.integers(3, 9))
        cx, cy = rng.uniform(-10, W + 10), rng.uniform(-10, H + 10)
        pts = [[cx + rng.uniform(-40, 40), cy + rng.uniform(-30, 30)] for _ in range(n)]
        if k % 3:
            pts = [[round(float(x)), round(float(y))] for x, y in pts]
        obj: dict[str, Any] = {"label": label, "polygon": pts}
        if rng.random() < 0.15:
            obj["deleted"] = 1
        objects.append(obj)
    return {"imgHeight": H, "imgWidth": W, "objects": objects}


def _tree(root: Path, n: int = 4, seed: int = 0) -> list[Path]:
    """gtFine/val/<city>/<stem>_gtFine_polygons.json for ``n`` images."""
    out = []
    for i in range(n):
        city = ("aachen", "bremen")[i % 2]
        folder = root / "val" / city
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{city}_{i:06d}_000019_gtFine_polygons.json"
        path.write_text(json.dumps(_polygons(seed + i)))
        out.append(path)
    return out


def _reference_pngs(cs: Any, paths: list[Path]) -> None:
    """labelIds and instanceIds PNGs as cityscapesScripts draws them, beside each JSON.
    json2instanceImg saves a mode-I image, which older Pillow wrote as a 16-bit PNG and
    Pillow 13 (this venv) refuses: the same pixels are saved as 16-bit here."""
    from cityscapesscripts.helpers.annotation import Annotation

    for p in paths:
        base = str(p)[: -len("_polygons.json")]
        cs.labelImg.json2labelImg(str(p), base + "_labelIds.png", "ids")
        ann = Annotation()
        ann.fromJsonFile(str(p))
        instances = np.asarray(cs.instanceImg.createInstanceImage(ann, "ids"))
        Image.fromarray(instances.astype(np.uint16)).save(base + "_instanceIds.png")


def _maps(ds: segtool.Dataset) -> dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per image: category map (255 void), instance-value map (0 void), crowd map."""
    out = {}
    for s in ds.samples:
        ann = s.load()
        index = ann.index_map()
        segs = ann.segments
        cat = np.concatenate([[255], segs.category_id])[index]
        inst = np.concatenate([[0], segs.id])[index]
        crowd = np.concatenate([[False], segs.iscrowd])[index]
        out[s.image.id] = (cat, inst, crowd)
    return out


def test_polygons_rasterised_as_cityscapesscripts(tmp_path: Path) -> None:
    cs = cityscapesscripts_stubbed()
    from cityscapesscripts.helpers.annotation import Annotation

    paths = _tree(tmp_path, 12)
    ds = formats.read(tmp_path, "cityscapes", all_labels=True, source="polygons")
    train = formats.read(tmp_path, "cityscapes", train_ids=True, source="polygons")
    ours, ours_train = _maps(ds), _maps(train)
    seen = 0
    for p in paths:
        ann = Annotation()
        ann.fromJsonFile(str(p))
        labels = np.asarray(cs.labelImg.createLabelImage(ann, "ids"), np.int64)
        instances = np.asarray(cs.instanceImg.createInstanceImage(ann, "ids"), np.int64)
        train_labels = np.asarray(cs.labelImg.createLabelImage(ann, "trainIds"), np.int64)
        stem = p.name[: -len("_gtFine_polygons.json")]
        cat, inst, crowd = ours[stem]
        assert np.array_equal(np.where(cat == 255, 0, cat), labels)
        assert np.array_equal(inst, instances)
        things = np.isin(labels, [lab.id for lab in LABELS if lab.has_instances])
        assert np.array_equal(crowd, things & (instances < 1000))
        assert np.array_equal(ours_train[stem][0], train_labels)
        seen += len(np.unique(instances[instances >= 1000])) + int(np.any(crowd))
    assert seen > 12  # instances and crowds were drawn


def test_png_round_trip(tmp_path: Path) -> None:
    cs = cityscapesscripts_stubbed()
    src = tmp_path / "gtFine"
    paths = _tree(src, 4, seed=7)
    _reference_pngs(cs, paths)
    for p in paths:
        p.unlink()  # the PNGs alone
    ds = formats.read(src, all_labels=True)
    assert formats.detect(src) == "cityscapes"
    segtool.write(ds, tmp_path / "out1", "cityscapes")
    segtool.write(formats.read(tmp_path / "out1", all_labels=True), tmp_path / "out2", "cityscapes")
    for p in paths:
        rel = p.relative_to(src).parent
        stem = p.name[: -len("_polygons.json")]
        for part in ("labelIds", "instanceIds"):
            ref = np.asarray(Image.open(src / rel / f"{stem}_{part}.png"))
            got = np.asarray(Image.open(tmp_path / "out1" / rel / f"{stem}_{part}.png"))
            assert np.array_equal(ref.astype(np.int64), got.astype(np.int64)), part
        for part in ("labelIds", "instanceIds", "color"):
            one = (tmp_path / "out1" / rel / f"{stem}_{part}.png").read_bytes()
            assert one == (tmp_path / "out2" / rel / f"{stem}_{part}.png").read_bytes()
        color = np.asarray(Image.open(tmp_path / "out1" / rel / f"{stem}_color.png"))
        labels = np.asarray(Image.open(src / rel / f"{stem}_labelIds.png"))
        table = {lab.id: lab.color for lab in LABELS}
        assert np.array_equal(color, np.array([table[v] for v in range(34)], np.uint8)[labels])


def test_png_and_polygons_agree_and_eval_is_one(tmp_path: Path) -> None:
    cs = cityscapesscripts_stubbed()
    paths = _tree(tmp_path, 3, seed=3)
    _reference_pngs(cs, paths)
    from_png = _maps(formats.read(tmp_path, source="png"))
    from_json = _maps(formats.read(tmp_path, source="polygons"))
    for key, maps in from_png.items():
        for a, b in zip(maps, from_json[key], strict=True):
            assert np.array_equal(a, b)
    result = segtool.evaluate_semantic(tmp_path, tmp_path)
    assert result.to_dict()["mIoU"] == pytest.approx(1.0)


def test_create_panoptic_imgs_reads_as_coco_panoptic(tmp_path: Path) -> None:
    cs = cityscapesscripts_stubbed()
    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic

    gt = tmp_path / "gtFine"
    paths = _tree(gt, 3, seed=11)
    _reference_pngs(cs, paths)
    convert2panoptic(str(gt), str(tmp_path), setNames=["val"])
    pan = tmp_path / "cityscapes_panoptic_val.json"
    assert formats.detect(pan) == "coco-panoptic"
    theirs = _maps(formats.read(pan))
    ours = _maps(formats.read(gt))
    assert set(theirs) == set(ours) and all(isinstance(k, str) for k in theirs)
    for key, (cat, inst, crowd) in ours.items():
        assert np.array_equal(cat, theirs[key][0])
        assert np.array_equal(inst, theirs[key][1])
        assert np.array_equal(crowd, theirs[key][2])
    segtool.write(formats.read(gt), tmp_path / "ours.json", "coco-panoptic")
    assert segtool.evaluate_panoptic(pan, tmp_path / "ours.json").to_dict()["All"]["pq"] == pytest.approx(1.0)


def test_detection_and_categories(tmp_path: Path) -> None:
    d = cityscapes.detect(tmp_path)
    assert d.confidence == "no" and "gtFine" in d.reason
    _tree(tmp_path / "gtFine", 1)
    d = cityscapes.detect(tmp_path)
    assert d.confidence == "strong" and "gtFine/val/aachen" in d.reason
    assert len(cityscapes.categories()) == 19
    assert sorted(c.id for c in cityscapes.categories(train_ids=True)) == list(range(19))
    assert len(cityscapes.categories(all_labels=True)) == 33
    with pytest.raises(SegtoolError):
        cityscapes.categories(train_ids=True, all_labels=True)


def _pair(folder: Path, labels: np.ndarray, instances: np.ndarray, stem: str = "aachen_000000_000019") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels.astype(np.uint8)).save(folder / f"{stem}_gtFine_labelIds.png")
    Image.fromarray(instances.astype(np.uint16)).save(folder / f"{stem}_gtFine_instanceIds.png")


BROKEN: dict[str, Any] = {
    "cityscapes-unknown-label": lambda f: _pair(f, np.full((4, 4), 40), np.full((4, 4), 40)),
    "cityscapes-instance-class": lambda f: _pair(f, np.full((4, 4), 7), np.full((4, 4), 7001)),
    "cityscapes-label-mismatch": lambda f: _pair(f, np.full((4, 4), 26), np.full((4, 4), 24000)),
    "cityscapes-incomplete": lambda f: (
        f.mkdir(parents=True),
        Image.new("L", (4, 4)).save(f / "aachen_000000_000019_gtFine_labelIds.png"),
    ),
    "cityscapes-json-invalid": lambda f: (
        f.mkdir(parents=True),
        (f / "aachen_000000_000019_gtFine_polygons.json").write_text('{"imgWidth": 4, "objects": []}'),
    ),
}


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_each_check_code(tmp_path: Path, code: str) -> None:
    BROKEN[code](tmp_path / "val" / "aachen")
    report = segtool.validate(tmp_path)
    assert [f.code for f in report.findings] == [code]
    with pytest.raises(SegtoolError):
        for s in formats.read(tmp_path).samples:
            s.load()


def test_unknown_polygon_label_and_duplicate_stem(tmp_path: Path) -> None:
    f = tmp_path / "val" / "aachen"
    f.mkdir(parents=True)
    obj = {"label": "unicorn", "polygon": [[0, 0], [3, 0], [3, 3]]}
    (f / "aachen_000000_000019_gtFine_polygons.json").write_text(
        json.dumps({"imgWidth": 4, "imgHeight": 4, "objects": [obj]})
    )
    with pytest.raises(SegtoolError, match="unicorn"):
        formats.read(tmp_path).samples[0].load()
    assert [f.code for f in segtool.validate(tmp_path).findings] == ["cityscapes-unknown-label"]
    g = tmp_path / "zzz" / "aachen"
    g.mkdir(parents=True)
    (g / "aachen_000000_000019_gtFine_polygons.json").write_text(
        json.dumps({"imgWidth": 4, "imgHeight": 4, "objects": []})
    )
    codes = sorted(f.code for f in segtool.validate(tmp_path).findings)
    assert codes == ["cityscapes-duplicate-stem", "cityscapes-unknown-label"]


def test_clean_tree_validates(tmp_path: Path) -> None:
    cs = cityscapesscripts_stubbed()
    _reference_pngs(cs, _tree(tmp_path / "gtFine", 2))
    report = segtool.validate(tmp_path / "gtFine")
    assert not report.findings
    assert report.stats["images"] == 2


def test_photos_checked_under_leftimg8bit(tmp_path: Path) -> None:
    cs = cityscapesscripts_stubbed()
    paths = _tree(tmp_path / "gtFine", 2)
    _reference_pngs(cs, paths)
    photos = tmp_path / "leftImg8bit" / "val" / "aachen"
    photos.mkdir(parents=True)
    Image.new("RGB", (9, 6)).save(photos / "aachen_000000_000019_leftImg8bit.png")
    report = segtool.validate(tmp_path / "gtFine", images_dir=tmp_path / "leftImg8bit")
    assert sorted((f.code, f.image_id) for f in report.findings) == [
        ("image-file-missing", "bremen_000001_000019"),
        ("image-size", "aachen_000000_000019"),
    ]
    with pytest.raises(SegtoolError, match="label PNG is 96x64 but its photo") as err:
        formats.read(tmp_path / "gtFine")  # the photo beside the tree (leftImg8bit/) must have the label's size
    assert err.value.path is not None and err.value.path.endswith("aachen_000000_000019_gtFine_labelIds.png")
    Image.new("RGB", (W, H)).save(photos / "aachen_000000_000019_leftImg8bit.png")
    ds = formats.read(tmp_path / "gtFine")
    assert [s.image.file_name for s in ds.samples] == [
        "val/aachen/aachen_000000_000019_leftImg8bit.png",
        "val/bremen/bremen_000001_000019_leftImg8bit.png",
    ]


COVERED = {*BROKEN, "cityscapes-duplicate-stem"}  # the codes these tests break a tree for
