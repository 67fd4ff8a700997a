"""The mapillary format: datumaro's Mapillary Vistas fixture (MIT; v1.2 and v2.0 labels,
instances, panoptic and polygons), each fact read back with PIL / json / pycocotools here;
generated trees; round trips pixel for pixel (coco-panoptic -> mapillary -> coco-panoptic);
hostile inputs (one line, exit 2); one broken tree per check code; the CLI end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from PIL import Image
from pycocotools import mask as mask_utils

import segtool
from segtool import formats
from segtool.errors import SegtoolError
from segtool.formats import mapillary
from segtool.formats.mapillary_checks import validate_mapillary
from tests.conftest import panoptic_partition, panoptic_segments, write_panoptic
from tests.helpers import assert_bad_input, invoke

DATA = Path(__file__).parent / "data" / "datumaro" / "mapillary_vistas"
NAMES = ["animal--bird", "construction--barrier--separator", "object--vehicle--bicycle"]


def _pil(path: Path) -> tuple[str, np.ndarray]:
    with Image.open(path) as im:
        return im.mode, np.asarray(im).astype(np.int64)


def _category_map(ann: Any) -> np.ndarray:
    """Each pixel's category id (-1 void) from a loaded annotation's index map."""
    lut = np.concatenate([[-1], ann.segments.category_id])
    return lut[ann.index_map()]


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Two label arrays cut the pixels into the same parts."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


# --- the real fixture -------------------------------------------------------------------


def test_fixture_files_are_as_documented():
    """The facts the reader relies on, read with PIL and json: 3 labels; instances 16-bit
    (label * 256 + instance), labels 8-bit equal to the instance value's high byte; panoptic
    JSON with string image ids, category ids 1/10/100 and ``bbox: []``; ``heigth``."""
    config = json.loads((DATA / "config_v2.0.json").read_text())
    assert [lb["name"] for lb in config["labels"]] == NAMES
    for split, stems in (("train", ["2"]), ("val", ["0", "1"])):
        for version in ("v1.2", "v2.0"):
            for stem in stems:
                imode, inst = _pil(DATA / split / version / "instances" / f"{stem}.png")
                lmode, labels = _pil(DATA / split / version / "labels" / f"{stem}.png")
                assert (imode, lmode) == ("I;16", "L") and inst.shape == labels.shape == (5, 5)
                assert (inst // 256 == labels).all()
    assert _pil(DATA / "train/v2.0/instances/2.png")[1][0].tolist() == [0, 256, 1, 257, 2]
    pan = json.loads((DATA / "val/v2.0/panoptic/panoptic_2020.json").read_text())
    assert [c["id"] for c in pan["categories"]] == [1, 10, 100]
    assert [a["image_id"] for a in pan["annotations"]] == ["0", "1"]
    assert all(s["bbox"] == [] for a in pan["annotations"] for s in a["segments_info"])
    assert "heigth" in json.loads((DATA / "val/v2.0/polygons/0.json").read_text())


def test_detection():
    assert formats.detect(DATA) == "mapillary"
    assert mapillary.detect(DATA).confidence == "strong"
    assert mapillary.detect(DATA / "train").confidence == "strong"  # one split: the config in its parent
    assert mapillary.detect(DATA / "val" / "v1.2").confidence == "strong"
    assert mapillary.detect(DATA / "val" / "images").confidence == "no"
    assert mapillary.detect(DATA / "config_v2.0.json").confidence == "no"


@pytest.mark.parametrize("version", ["v1.2", "v2.0"])
def test_instances_reading_is_the_pngs(version):
    """instances/ present: panoptic; every pixel's category is the instance value's high
    byte, and the segments cut the image as the distinct 16-bit values do (all 3 labels
    have ``instances: true``: each value is an instance)."""
    ds = segtool.read(DATA, version=version)
    assert ds.kind == "panoptic" and [c.name for c in ds.categories] == NAMES
    assert [c.id for c in ds.categories] == [0, 1, 2] and all(c.isthing for c in ds.categories)
    assert ds.categories[0].color == (165, 42, 42) and ds.categories[0].supercategory == "animal"
    assert ds.info["mapillary"]["version"] == version
    assert ds.info["mapillary"]["splits"] == {"2": "train", "0": "val", "1": "val"}
    assert [s.image.id for s in ds.samples] == ["2", "0", "1"]
    assert [s.image.file_name for s in ds.samples] == ["2.jpg", "0.jpg", "1.jpg"]
    for s in ds.samples:
        ann = s.load()
        _, inst = _pil(DATA / ds.info["mapillary"]["splits"][s.image.id] / version / "instances" / f"{s.image.id}.png")
        assert (_category_map(ann) == inst // 256).all()
        assert _same_partition(ann.index_map(), inst)
        assert sorted(ann.segments.area.tolist()) == sorted(np.unique(inst, return_counts=True)[1].tolist())
        assert not ann.segments.iscrowd.any()


def test_version_folder_and_split_folder():
    ds = segtool.read(DATA / "val" / "v1.2", "mapillary")  # (the mots format claims these folders too)
    assert ds.info["mapillary"]["version"] == "v1.2" and [s.image.id for s in ds.samples] == ["0", "1"]
    ds = segtool.read(DATA / "train", "mapillary")
    assert ds.info["mapillary"]["version"] == "v2.0" and [s.image.id for s in ds.samples] == ["2"]


def test_labels_reading_is_semantic():
    """val/1's labels are [2, 2, 1, 2, 2] in each row: bicycle 20 px, separator 5 px."""
    ds = segtool.read(DATA, reading="labels")
    assert ds.kind == "semantic"
    one = ds.samples[2].load()
    _, labels = _pil(DATA / "val/v2.0/labels/1.png")
    assert (_category_map(one) == labels).all()
    assert dict(zip(one.segments.category_id.tolist(), one.segments.area.tolist(), strict=True)) == {1: 5, 2: 20}


def test_panoptic_reading_is_the_json_and_pngs():
    """panoptic/: the JSON's categories (1/10/100) and crowd flags, the PNGs' RGB ids as
    segments; ``bbox: []`` read as absent."""
    ds = segtool.read(DATA, reading="panoptic")
    assert ds.kind == "panoptic" and [c.id for c in ds.categories] == [1, 10, 100]
    assert [s.image.id for s in ds.samples] == ["2", "0", "1"]
    pan = json.loads((DATA / "val/v2.0/panoptic/panoptic_2020.json").read_text())
    for s, record in zip(ds.samples[1:], pan["annotations"], strict=True):
        ann = s.load()
        rgb = _pil(DATA / "val/v2.0/panoptic" / record["file_name"])[1]
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        lut = np.concatenate([[0], ann.segments.id])
        assert (lut[ann.index_map()] == ids).all()
        assert ann.segments.iscrowd.tolist() == [bool(x["iscrowd"]) for x in record["segments_info"]]
        assert ann.segments.category_id.tolist() == [x["category_id"] for x in record["segments_info"]]


def test_polygons_reading_is_pycocotools():
    """polygons/: each object rasterised by pycocotools from its flattened points; train/2's
    five polygons are vertical lines (no pixels) and val/1's first is collinear: dropped
    and counted."""
    ds = segtool.read(DATA, reading="polygons")
    assert ds.kind == "instance"
    train, zero, one = (s.load() for s in ds.samples)
    assert len(train.segments) == 0 and train.dropped == {"polygon with no pixels (collinear points)": 5}
    assert one.dropped == {"polygon with no pixels (collinear points)": 1}
    for ann, stem in ((zero, "0"), (one, "1")):
        objects = json.loads((DATA / f"val/v2.0/polygons/{stem}.json").read_text())["objects"]
        expected = []
        for obj in objects:
            flat = [float(v) for p in obj["polygon"] for v in p]
            m = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([flat], 5, 5)))
            if m.any():
                expected.append((NAMES.index(obj["label"]), m))
        got = mask_utils.decode([{**r, "counts": r["counts"].encode()} for r in ann.rles])
        assert ann.segments.category_id.tolist() == [c for c, _ in expected]
        assert all((got[..., k] == m).all() for k, (_, m) in enumerate(expected))


def test_fixture_validates_clean():
    for version in ("v1.2", "v2.0"):
        report = validate_mapillary(DATA, version=version)
        assert report.findings == [] and report.stats["images"] == 3
        assert report.stats["instances"] == 10  # 5 + 2 + 3 distinct values of thing labels


def test_fixture_round_trip_keeps_the_instance_values(tmp_path: Path):
    """mapillary -> mapillary: instances numbered 0, 1, ... per label in value order, as
    the fixture numbers them, so the 16-bit values come back equal; labels as palette PNGs
    of the labels' colours; splits kept; a void label appended to the config."""
    segtool.convert(DATA, tmp_path / "out", "mapillary")
    out = tmp_path / "out"
    for split, stem in (("train", "2"), ("val", "0"), ("val", "1")):
        a, b = (
            _pil(DATA / split / "v2.0/instances" / f"{stem}.png"),
            _pil(out / split / "v2.0/instances" / f"{stem}.png"),
        )
        assert b[0] == "I;16" and (a[1] == b[1]).all()
        with Image.open(out / split / "v2.0/labels" / f"{stem}.png") as im:
            assert im.mode == "P" and im.getpalette()[:9] == [165, 42, 42, 128, 128, 128, 119, 11, 32]
            assert (np.asarray(im) == _pil(DATA / split / "v2.0/labels" / f"{stem}.png")[1]).all()
    config = json.loads((out / "config_v2.0.json").read_text())
    assert [lb["name"] for lb in config["labels"]] == [*NAMES, "void--unlabeled"]
    assert [lb["evaluate"] for lb in config["labels"]] == [True, True, True, False]
    assert validate_mapillary(out).findings == []


# --- generated data ----------------------------------------------------------------------


def _panoptic(tmp_path: Path, seed: int = 0, n: int = 3) -> Path:
    """COCO panoptic images: sky over road (stuff, one segment each), things of three
    categories on top, a void corner."""
    rng = np.random.default_rng(seed)
    maps, segs = [], []
    for i in range(n):
        ids = np.zeros((12 + i, 16), np.int64)
        ids[:6], ids[6:] = 5000, 6000
        cats = {5000: 200, 6000: 100}
        for k in range(1, int(rng.integers(2, 6))):
            y, x = int(rng.integers(0, 8)), int(rng.integers(0, 12))
            ids[y : y + 4, x : x + 4] = k
            cats[k] = int(rng.choice([1, 2, 7]))
        ids[0, 0] = 0
        present = set(np.unique(ids).tolist())
        maps.append(ids)
        segs.append(panoptic_segments(ids, {k: v for k, v in cats.items() if k in present}))
    return write_panoptic(tmp_path / "src.json", maps, segs)


def test_round_trip_coco_panoptic_pixel_for_pixel(tmp_path: Path):
    """coco-panoptic -> mapillary -> coco-panoptic: the same partition of every image into
    (category, crowd) segments; category ids are the label ids, the gaps unused labels."""
    src = _panoptic(tmp_path)
    summary = segtool.convert(src, tmp_path / "m", "mapillary")
    assert summary.images == 3
    config = json.loads((tmp_path / "m" / "config_v2.0.json").read_text())["labels"]
    assert len(config) == 202 and config[200]["name"] == "sky" and config[200]["instances"] is False
    assert config[7]["color"] == [250, 170, 30] and config[7]["instances"] is True
    assert config[3]["evaluate"] is False and config[201]["name"] == "void--unlabeled"
    segtool.convert(tmp_path / "m", tmp_path / "back.json", "coco-panoptic")
    before, after = panoptic_partition(src), panoptic_partition(tmp_path / "back.json")
    assert {f"img{k}": v for k, v in before.items()}.keys() == after.keys()
    for k, (canon, labels) in before.items():
        canon2, labels2 = after[f"img{k}"]
        assert (canon == canon2).all() and labels == labels2


def test_generated_instances_values(tmp_path: Path):
    """The writer's 16-bit values by hand: sky (200) 200*256, road 100*256, each thing
    category's instances numbered from 0 in segment order, void (label 201) 201*256."""
    src = _panoptic(tmp_path, n=1)
    segtool.convert(src, tmp_path / "m", "mapillary")
    inst = _pil(tmp_path / "m" / "training/v2.0/instances/img1.png")[1]
    pan = json.loads(src.read_text())["annotations"][0]["segments_info"]
    ids = _pil(tmp_path / "src" / "img1.png")[1]
    ids = ids[..., 0] + 256 * ids[..., 1] + 65536 * ids[..., 2]
    seen: dict[int, int] = {}
    for s in sorted(pan, key=lambda s: s["id"]):
        cat = s["category_id"]
        n = seen.get(cat, 0) if cat < 100 else 0
        seen[cat] = n + 1
        assert (inst[ids == s["id"]] == cat * 256 + n).all()
    assert (inst[ids == 0] == 201 * 256).all()


def test_crowd_is_written_as_an_instance_and_counted(tmp_path: Path):
    ids = np.array([[1, 1, 2, 2]] * 3)
    src = write_panoptic(tmp_path / "c.json", [ids], [panoptic_segments(ids, {1: 1, 2: 1}, crowd={2})])
    summary = segtool.convert(src, tmp_path / "m", "mapillary")
    assert summary.changed == {"crowd region written as an instance (mapillary has no crowd flag)": 1}
    assert _pil(tmp_path / "m/training/v2.0/instances/img1.png")[1][0].tolist() == [256, 256, 257, 257]


def test_semantic_source_writes_labels_only(tmp_path: Path):
    segtool.convert(DATA, tmp_path / "s", "mapillary", read_options={"reading": "labels"})
    assert not (tmp_path / "s/val/v2.0/instances").exists()
    ds = segtool.read(tmp_path / "s")
    assert ds.kind == "semantic" and len(ds.samples) == 3


def _tree(root: Path, *, labels: np.ndarray | None = None, inst: np.ndarray | None = None, photo=(4, 3)) -> Path:
    """One-image tree ``training/``: a 3-label config (bird thing, road stuff, unlabeled
    void), the PNGs given (PIL-written) and a photo of ``photo`` (w, h)."""
    config = {
        "labels": [
            {"name": "bird", "readable": "Bird", "color": [1, 2, 3], "instances": True, "evaluate": True},
            {"name": "road", "readable": "Road", "color": [4, 5, 6], "instances": False, "evaluate": True},
            {"name": "unlabeled", "readable": "U", "color": [0, 0, 0], "instances": False, "evaluate": False},
        ]
    }
    (root / "training/images").mkdir(parents=True, exist_ok=True)
    (root / "config_v2.0.json").write_text(json.dumps(config))
    Image.new("RGB", photo).save(root / "training/images/a.jpg")
    for folder, arr in (("labels", labels), ("instances", inst)):
        if arr is not None:
            (root / "training/v2.0" / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(root / "training/v2.0" / folder / "a.png")
    return root


INST = np.array([[0, 1, 256, 256], [0, 1, 256 + 7, 512], [512, 512, 512, 512]], np.uint16)


def test_stuff_values_merge_and_void_label_is_void(tmp_path: Path):
    """Road (stuff) values 256 and 263 are one segment; unlabeled (evaluate: false) is void;
    bird values 0 and 1 are two instances."""
    root = _tree(tmp_path / "t", inst=INST, labels=(INST >> 8).astype(np.uint8))
    ds = segtool.read(root)
    assert [c.name for c in ds.categories] == ["bird", "road"] and not ds.categories[1].isthing
    ann = ds.samples[0].load()
    assert sorted(zip(ann.segments.category_id.tolist(), ann.segments.area.tolist(), strict=True)) == [
        (0, 2),
        (0, 2),
        (1, 3),
    ]
    assert (ann.index_map()[2] == 0).all()
    assert validate_mapillary(root).findings == []


# --- hostile inputs -----------------------------------------------------------------------


def _hostile(tmp_path: Path, runner, root: Path, *needles: str) -> None:
    assert_bad_input(invoke(runner, "info", root), *needles)
    assert_bad_input(invoke(runner, "convert", root, tmp_path / "out.json", "--to", "coco-panoptic"), *needles)
    assert not (tmp_path / "out.json").exists()


def test_instance_value_whose_class_is_not_in_the_table(tmp_path: Path, runner):
    inst = INST.copy()
    inst[0, 0] = 9 * 256 + 1
    root = _tree(tmp_path / "t", inst=inst)
    _hostile(tmp_path, runner, root, "instances/a.png", "label ids 9 not in the label table (0..2)")


def test_label_png_of_another_size_than_its_photo(tmp_path: Path, runner):
    root = _tree(tmp_path / "t", labels=np.zeros((3, 4), np.uint8), photo=(5, 3))
    _hostile(tmp_path, runner, root, "labels/a.png", "4x3", "5x3")


@pytest.mark.parametrize(
    "config, needle",
    [
        ({"version": "2.0"}, "no 'labels' list"),
        ({"labels": []}, "no 'labels' list"),
        ({"labels": [{"name": "a", "color": [1, 2]}]}, "'color' must be [r, g, b]"),
        ({"labels": [{"name": "a", "color": [1, 2, 3], "instances": "yes"}]}, "'instances' must be true or false"),
        ({"labels": [{"name": "a", "color": [1, 2, 3]}] * 2}, "is repeated"),
        ({"labels": [{"name": f"l{i}", "color": [1, 2, 3]} for i in range(257)]}, "at most 256"),
        ([1, 2], "no 'labels' list"),
    ],
)
def test_config_without_labels(tmp_path: Path, runner, config, needle):
    root = _tree(tmp_path / "t", labels=np.zeros((3, 4), np.uint8))
    (root / "config_v2.0.json").write_text(json.dumps(config))
    _hostile(tmp_path, runner, root, "config_v2.0.json", needle)


def test_more_hostile_inputs(tmp_path: Path, runner):
    root = _tree(tmp_path / "a", inst=INST.astype(np.uint8))  # an 8-bit instances PNG
    _hostile(tmp_path, runner, root, "instances/a.png", "16-bit")
    root = _tree(tmp_path / "b", labels=np.zeros((3, 4), np.uint8))
    (root / "config_v2.0.json").write_text("{")
    _hostile(tmp_path, runner, root, "config_v2.0.json", "invalid JSON")
    root = _tree(tmp_path / "c", labels=np.zeros((3, 4), np.uint8))
    (root / "training/v2.0/labels/a.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    _hostile(tmp_path, runner, root, "labels/a.png")
    root = _tree(tmp_path / "d", labels=np.full((3, 4), 3, np.uint8))
    _hostile(tmp_path, runner, root, "labels/a.png", "label ids 3")
    root = _tree(tmp_path / "e", labels=np.zeros((3, 4), np.uint8))
    (root / "config_v2.0.json").unlink()
    (root / "config_v1.2.json").write_text("{}")
    _hostile(tmp_path, runner, root, "config_v2.0.json", "missing")


def test_hostile_polygons(tmp_path: Path, runner):
    root = _tree(tmp_path / "t")
    poly = root / "training/v2.0/polygons"
    poly.mkdir(parents=True)
    obj = {"id": 0, "label": "bird", "polygon": [[0, 0], [3, 0], [3, 2]]}
    for data, needle in (
        ({"heigth": 3, "width": 4, "objects": [{**obj, "label": "cat"}]}, "label 'cat' is not in the label table"),
        ({"heigth": 3, "width": 4, "objects": [{**obj, "polygon": [[0, "x"]]}]}, "'polygon' list"),
        ({"width": 4, "objects": []}, "'heigth'"),
        ({"heigth": 3, "width": 4, "objects": [{**obj, "polygon": [[0, 0], [1e9, 0], [3, 2]]}]}, "beyond"),
        ({"heigth": 9, "width": 4, "objects": [obj]}, "says 4x9"),
    ):
        (poly / "a.json").write_text(json.dumps(data))
        _hostile(tmp_path, runner, root, "polygons/a.json", needle)
    (poly / "a.json").write_text(json.dumps({"heigth": 3, "width": 4, "objects": [obj]}))
    ds = segtool.read(root)
    assert ds.kind == "instance" and len(ds.samples[0].load().segments) == 1


def test_writer_refusals(tmp_path: Path):
    ids = np.array([[1, 1]])
    cats = [{"id": 255, "name": "x", "isthing": 1}]
    src = write_panoptic(tmp_path / "big.json", [ids], [panoptic_segments(ids, {1: 255})], cats)
    with pytest.raises(SegtoolError, match=r"0\.\.254"):
        segtool.convert(src, tmp_path / "o", "mapillary")
    with pytest.raises(SegtoolError, match=r"not a \.json"):
        segtool.convert(DATA, tmp_path / "o.json", "mapillary")
    ids = np.arange(1, 301).reshape(15, 20)
    src = write_panoptic(tmp_path / "many.json", [ids], [panoptic_segments(ids, dict.fromkeys(range(1, 301), 1))])
    with pytest.raises(SegtoolError, match="more than 256 instances"):
        segtool.convert(src, tmp_path / "o", "mapillary")


def test_split_names_stay_inside(tmp_path: Path):
    """A split name from a dataset's info that is not a plain folder name goes to training/."""
    ds = segtool.read(DATA)
    info = {"mapillary": {"splits": {"2": "../../evil", "0": "val", "1": ".."}}}
    ds = type(ds)(ds.categories, ds.samples, ds.kind, info, ds.path)
    segtool.write(ds, tmp_path / "o", "mapillary")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["config_v2.0.json", "training", "val"]
    assert sorted(p.name for p in (tmp_path / "o/training/v2.0/labels").iterdir()) == ["1.png", "2.png"]


# --- validate: one broken tree per check code ----------------------------------------------


def _broken(tmp_path: Path, code: str) -> Path:
    root = tmp_path / code
    shutil.copytree(DATA, root)
    val = root / "val/v2.0"
    if code == "mapillary-config-invalid":
        (root / "config_v2.0.json").write_text('{"labels": 3}')
    elif code == "mapillary-unknown-class":
        Image.fromarray(np.full((5, 5), 7, np.uint8)).save(val / "labels/0.png")
        Image.fromarray(np.full((5, 5), 7 * 256, np.uint16)).save(val / "instances/0.png")
    elif code == "mapillary-missing":
        (val / "instances/1.png").unlink()
    elif code == "mapillary-png-mode":
        Image.fromarray(np.zeros((5, 5), np.uint16)).save(val / "labels/0.png")
    elif code == "mapillary-size-mismatch":
        (val / "polygons/0.json").write_text(json.dumps({"heigth": 6, "width": 5, "objects": []}))
    elif code == "mapillary-label-mismatch":
        Image.fromarray(np.full((5, 5), 2, np.uint8)).save(val / "labels/0.png")
    elif code == "mapillary-polygons-invalid":
        (val / "polygons/0.json").write_text("[")
    elif code == "image-size":
        Image.new("RGB", (6, 5)).save(root / "val/images/0.jpg")
    return root


COVERED = {
    "mapillary-config-invalid",
    "mapillary-unknown-class",
    "mapillary-missing",
    "mapillary-png-mode",
    "mapillary-size-mismatch",
    "mapillary-label-mismatch",
    "mapillary-polygons-invalid",
}


@pytest.mark.parametrize("code", sorted(COVERED | {"image-size"}))
def test_each_breakage_gives_its_code(tmp_path: Path, code):
    report = validate_mapillary(_broken(tmp_path, code))
    assert {f.code for f in report.findings} == {code}, report.findings


def test_the_codes_are_registered():
    from segtool.checks import CHECKS

    assert COVERED <= set(CHECKS)


# --- the CLI end to end --------------------------------------------------------------------


def test_cli_info_convert_validate(tmp_path: Path, runner):
    result = invoke(runner, "info", DATA)
    assert result.exit_code == 0 and "mapillary" in result.output
    result = invoke(runner, "convert", DATA, tmp_path / "p.json", "--to", "coco-panoptic")
    assert result.exit_code == 0, result.output
    back = invoke(runner, "convert", tmp_path / "p.json", tmp_path / "m", "--to", "mapillary")
    assert back.exit_code == 0, back.output
    assert invoke(runner, "validate", tmp_path / "m").exit_code == 0
    assert invoke(runner, "validate", DATA).exit_code == 0
    broken = invoke(runner, "validate", _broken(tmp_path, "mapillary-label-mismatch"))
    assert broken.exit_code == 1 and "mapillary-label-mismatch" in broken.output
    pan = DATA / "val/v2.0/panoptic"
    result = invoke(runner, "info", DATA / "val/v1.2", "--from", "mapillary")
    assert result.exit_code == 0 and "2" in result.output
    assert_bad_input(invoke(runner, "info", pan / "panoptic_2020.json", "--masks", pan), "bbox")


# --- streaming, colours, scoring -----------------------------------------------------------


def test_read_decodes_no_pixels(monkeypatch):
    """read() takes sizes from PNG headers; pixels are decoded when a sample is loaded."""
    from segtool.formats import mapillary_rules

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a PNG was decoded in read()")

    monkeypatch.setattr(mapillary_rules, "read_labels", refuse)
    for reading in ("instances", "labels"):
        ds = segtool.read(DATA, reading=reading)
        assert [(s.image.width, s.image.height) for s in ds.samples] == [(5, 5)] * 3
        with pytest.raises(AssertionError, match="decoded"):
            ds.samples[0].load()
    assert formats.image_count("mapillary", DATA) == 3


def test_rgb_labels_read_through_the_config_colours(tmp_path: Path, runner):
    """A colour-coded labels PNG: each colour is the label of that colour (bird (1,2,3) 0,
    road (4,5,6) 1, unlabeled black: void); a colour no label has: one line, exit 2."""
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[:, :2] = (1, 2, 3)
    rgb[0, 3] = (4, 5, 6)
    root = _tree(tmp_path / "t", labels=rgb)
    ann = segtool.read(root).samples[0].load()
    expected = np.full((3, 4), -1)
    expected[:, :2], expected[0, 3] = 0, 1
    assert (_category_map(ann) == expected).all()
    rgb[2, 3] = (9, 9, 9)
    Image.fromarray(rgb).save(root / "training/v2.0/labels/a.png")
    _hostile(tmp_path, runner, root, "labels/a.png", "colours (9,9,9) are no label's colour (1 px)")


def test_scores_against_itself(tmp_path: Path):
    """PQ of the fixture's instances against its coco-panoptic conversion is 1 (3 thing
    categories), mIoU of its labels against themselves 1."""
    segtool.convert(DATA, tmp_path / "p.json", "coco-panoptic")
    everything, _ = segtool.evaluate_panoptic(DATA, tmp_path / "p.json").average(None)
    assert everything["pq"] == pytest.approx(1.0) and everything["n"] == 3
    assert segtool.evaluate_semantic(DATA, DATA).to_dict()["mIoU"] == pytest.approx(1.0)


def test_panoptic_subtree_checked_with_coco_panoptics_rules(tmp_path: Path):
    """A segment listed in panoptic_2020.json without pixels, an id in the PNG no record
    lists: coco-panoptic's codes; datumaro's ``bbox: []`` is not reported."""
    root = tmp_path / "t"
    shutil.copytree(DATA, root)
    js = root / "val/v2.0/panoptic/panoptic_2020.json"
    data = json.loads(js.read_text())
    data["annotations"][0]["segments_info"].append({"id": 9, "category_id": 1, "iscrowd": 0, "bbox": []})
    del data["annotations"][1]["segments_info"][2]
    js.write_text(json.dumps(data))
    report = validate_mapillary(root)
    assert sorted((f.code, f.image_id) for f in report.findings) == [("id-not-listed", "1"), ("segment-absent", "0")]
    assert report.stats["panoptic_images"] == 3


def test_a_split_without_the_readings_files(tmp_path: Path, runner):
    """A split holding labels/ only beside one holding instances/ is refused, not read as
    unannotated; so is a labels PNG without its instances PNG; a photos-only split
    (``testing/``) gives images without annotations."""
    root = tmp_path / "t"
    shutil.copytree(DATA, root)
    shutil.rmtree(root / "val/v2.0/instances")
    _hostile(tmp_path, runner, root, "val/v2.0", "split val has v2.0/labels/ but no v2.0/instances/")
    root = tmp_path / "u"
    shutil.copytree(DATA, root)
    (root / "val/images/1.jpg").unlink()
    (root / "val/v2.0/instances/1.png").unlink()
    _hostile(tmp_path, runner, root, "val/v2.0/labels/1.png", "image 1: val/ has its labels/ file")
    root = tmp_path / "w"
    shutil.copytree(DATA, root)
    (root / "testing/images").mkdir(parents=True)
    Image.new("RGB", (7, 3)).save(root / "testing/images/9.jpg")
    ds = segtool.read(root)
    assert ds.info["mapillary"]["splits"]["9"] == "testing"
    nine = next(s for s in ds.samples if s.image.id == "9").load()
    assert (nine.image.width, nine.image.height) == (7, 3) and len(nine.segments) == 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    grid=hnp.arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.integers(0, 5)),
    things=st.sets(st.integers(1, 5)),
)
def test_round_trip_property(tmp_path_factory, grid, things):
    """Any panoptic image (ids 0..5, 0 void; the ids in ``things`` persons, each other id
    its own stuff category) goes coco-panoptic -> mapillary -> coco-panoptic with the same
    partition and the same (category, crowd) per segment."""
    tmp = tmp_path_factory.mktemp("prop")
    stuff = {1: 100, 2: 200, 3: 100, 4: 200, 5: 100}
    cats = {k: 1 if k in things else stuff[k] for k in range(1, 6)}
    present = set(np.unique(grid).tolist()) - {0}
    by_stuff = {}
    for k in sorted(present - things):  # one segment per stuff category, as Vistas holds stuff
        grid[grid == k] = by_stuff.setdefault(cats[k], k)
    segs = panoptic_segments(grid, cats)
    src = write_panoptic(tmp / "s.json", [grid], [segs])
    segtool.convert(src, tmp / "m", "mapillary")
    segtool.convert(tmp / "m", tmp / "b.json", "coco-panoptic")
    before, after = panoptic_partition(src)[1], panoptic_partition(tmp / "b.json")["img1"]
    assert (before[0] == after[0]).all() and before[1] == after[1]


def test_a_png_over_the_pixel_limit_is_refused_in_read(tmp_path: Path, runner):
    """A labels PNG whose header declares 20000 x 20000 pixels: one line, before any decode."""
    root = _tree(tmp_path / "t", labels=np.zeros((3, 4), np.uint8))
    path = root / "training/v2.0/labels/a.png"
    data = bytearray(path.read_bytes())
    data[16:24] = (20000).to_bytes(4, "big") * 2  # IHDR width and height (the CRC is not checked here)
    path.write_bytes(bytes(data))
    _hostile(tmp_path, runner, root, "labels/a.png", "over the limit")


def test_a_readings_folder_picks_that_reading(runner):
    """``val/v1.2/labels`` reads the labels of that split and version (the CLI's way to a
    reading); ``train/v2.0/polygons`` the polygons."""
    ds = segtool.read(DATA / "val/v1.2/labels", "mapillary")
    assert ds.kind == "semantic" and ds.info["mapillary"]["version"] == "v1.2"
    assert [s.image.id for s in ds.samples] == ["0", "1"]
    assert mapillary.detect(DATA / "val/v1.2/labels").confidence == "strong"
    assert segtool.read(DATA / "train/v2.0/polygons", "mapillary").kind == "instance"
    result = invoke(runner, "info", DATA / "val/v2.0/panoptic", "--from", "mapillary")
    assert result.exit_code == 0 and "5 (2 crowd)" in result.output  # the JSON's iscrowd: 1 on 0 and 1


def test_writer_names(tmp_path: Path):
    """A category named like the void label leaves it another name; two categories of one
    name are refused (the config looks labels up by name)."""
    ids = np.array([[1, 2]])
    cats = [{"id": 0, "name": "void--unlabeled", "isthing": 0}, {"id": 1, "name": "a", "isthing": 1}]
    src = write_panoptic(tmp_path / "v.json", [ids], [panoptic_segments(ids, {1: 0, 2: 1})], cats)
    segtool.convert(src, tmp_path / "o", "mapillary")
    names = [lb["name"] for lb in json.loads((tmp_path / "o/config_v2.0.json").read_text())["labels"]]
    assert names == ["void--unlabeled", "a", "void--unlabeled_"]
    assert [c.name for c in segtool.read(tmp_path / "o").categories] == ["void--unlabeled", "a"]
    cats[1]["name"] = "void--unlabeled"
    src = write_panoptic(tmp_path / "w.json", [ids], [panoptic_segments(ids, {1: 0, 2: 1})], cats)
    with pytest.raises(SegtoolError, match="two categories are named"):
        segtool.convert(src, tmp_path / "o2", "mapillary")
