"""The ade20k format: datumaro's ADE20K 2017 and 2020 fixtures (MIT, copied), the real
ADE20K 2021 full dataset (ADE20K Terms: read where it lies, skipped when absent), its
instance masks against its _seg.png, generated SceneParsing and 2021 trees: numbers
hand-computed from the PNGs and JSONs with numpy/json, round trips pixel for pixel, mIoU 1
of a tree against itself, one broken tree per check code, hostile 2021 inputs (exit 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segtool
from segtool import formats
from segtool.checks.options import CheckOptions
from segtool.errors import SegtoolError
from segtool.formats.ade20k_checks import validate
from segtool.formats.ade20k_rules import NAMES150

DATA = Path(__file__).parent / "data" / "datumaro" / "ade20k2017" / "dataset"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "ade20k" / "ade20k_2021_full"
# the check codes with a broken fixture below (tests/checks/test_instance_checks.py asks)
COVERED = {
    "ade20k-unknown-class",
    "ade20k-missing",
    "ade20k-size-mismatch",
    "ade20k-objectinfo-invalid",
    "ade20k-json-invalid",
    "ade20k-instance-mask",
    "ade20k-instance-overlap",
    "ade20k-seg-mismatch",
}
real = pytest.mark.skipif(not REAL.is_dir(), reason="the real ADE20K fixture is not beside the repository")


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int64)


def _expected(seg: Path) -> list[tuple[int, int]]:
    """(class, pixels) per (B value, class) pair of labelled pixels, in B then class order."""
    a = _rgb(seg)
    classes = a[..., 0] // 10 * 256 + a[..., 1]
    pairs: dict[tuple[int, int], int] = {}
    for c, b in zip(classes.ravel().tolist(), a[..., 2].ravel().tolist(), strict=True):
        if c:
            pairs[(b, c)] = pairs.get((b, c), 0) + 1
    return [(c, n) for (_, c), n in sorted(pairs.items())]


def test_datumaro_2017_fixture():
    """Two images of 4x3; class = R/10*256 + G as ADE20K's loader reads it: the B=1 pixels
    (R=0, G=1) are class 1, named 'sky' by _atr.txt; the B=2 pixels (R=1, G=0) decode to
    class 0 (1/10 truncates), unlabelled. Parts PNGs are not read."""
    assert formats.detect(DATA) == "ade20k"
    ds = segtool.read(DATA)
    assert ds.kind == "panoptic"
    assert [(c.id, c.name) for c in ds.categories] == [(1, "sky")]
    assert [s.image.id for s in ds.samples] == ["training/street/1", "validation/2"]
    for s, seg in zip(ds.samples, ["training/street/1_seg.png", "validation/2_seg.png"], strict=True):
        ann = s.load()
        got = list(zip(ann.segments.category_id.tolist(), ann.segments.area.astype(int).tolist(), strict=True))
        assert got == _expected(DATA / seg)
    assert [s.load().segments.area.tolist() for s in ds.samples] == [[3.0], [6.0]]
    assert validate(DATA, CheckOptions()).findings == []


@real
def test_real_2021_full_dataset():
    """The 2021 tree read by its _seg.png (instance_masks=False): segments as the PNGs give
    them, and every class is a name_ndx of the image's JSON (whole objects), named as it."""
    import json

    ds = segtool.read(REAL, instance_masks=False)
    assert len(ds.samples) == 3
    assert [(s.image.width, s.image.height) for s in ds.samples] == [(2048, 1536), (2200, 1650), (2200, 1467)]
    names = {c.id: c.name for c in ds.categories}
    for s in ds.samples:
        seg = Path(s.source.png)  # type: ignore[attr-defined]
        ann = s.load()
        got = list(zip(ann.segments.category_id.tolist(), ann.segments.area.astype(int).tolist(), strict=True))
        assert got == _expected(seg)
        objs = json.loads(seg.with_name(seg.name.replace("_seg.png", ".json")).read_text())["annotation"]["object"]
        ndx = {o["name_ndx"] for o in objs if o["parts"]["part_level"] == 0}
        assert set(ann.segments.category_id.tolist()) <= ndx
        # one segment per whole object: 51, 34 and 24 (the README's counts)
        assert len(ann.segments) == sum(1 for o in objs if o["parts"]["part_level"] == 0)
        assert all(not names[c].startswith("class ") for c in ann.segments.category_id.tolist())


def _scene(root: Path, shapes: dict[str, tuple[int, int]], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for i, (split, shape) in enumerate(shapes.items()):
        labels = rng.integers(0, 151, shape).astype(np.uint8)
        stem = f"ADE_{split}_{i:08d}"
        (root / "annotations" / split).mkdir(parents=True, exist_ok=True)
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        Image.fromarray(labels).save(root / "annotations" / split / f"{stem}.png")
        Image.fromarray(np.zeros((*shape, 3), np.uint8)).save(root / "images" / split / f"{stem}.jpg")
        out[f"{split}/{stem}"] = labels
    return out


def _pngs(root: Path) -> dict[str, np.ndarray]:
    return {
        f"{p.parent.name}/{p.stem}": np.asarray(Image.open(p)) for p in sorted((root / "annotations").glob("*/*.png"))
    }


def test_scene_parsing_read_round_trip_and_miou(tmp_path: Path):
    """SceneParsing: classes 1..150 with objectInfo150's names, 0 void; each segment's area
    the class's pixel count; ade20k → ade20k and → semantic → ade20k pixel for pixel;
    mIoU of the tree against itself 1."""
    src = tmp_path / "ADEChallengeData2016"
    made = _scene(src, {"training": (7, 9), "validation": (5, 6)})
    assert formats.detect(src) == "ade20k"
    ds = segtool.read(src)
    assert ds.kind == "semantic" and len(ds.categories) == 150
    assert ds.categories[0].name == "wall" and ds.categories[149].name == "flag" and ds.categories[7].name == "bed"
    for s in ds.samples:
        ann = s.load()
        values, counts = np.unique(made[s.image.id], return_counts=True)
        want = [(int(v), int(n)) for v, n in zip(values, counts, strict=True) if v]
        assert list(zip(ann.segments.category_id.tolist(), ann.segments.area.astype(int).tolist(), strict=True)) == want
    assert validate(src, CheckOptions()).findings == []
    segtool.convert(src, tmp_path / "a", "ade20k")
    got = _pngs(tmp_path / "a")
    assert got.keys() == made.keys() and all(np.array_equal(got[k], made[k]) for k in made)
    segtool.convert(src, tmp_path / "sem", "semantic")
    segtool.convert(tmp_path / "sem", tmp_path / "b", "ade20k")
    back = _pngs(tmp_path / "b")
    assert sorted(v.tobytes() for v in back.values()) == sorted(v.tobytes() for v in made.values())
    assert segtool.read(tmp_path / "a").categories == ds.categories
    result = segtool.evaluate_semantic(src, src, gt_format="ade20k", pred_format="ade20k")
    assert result.to_dict()["mIoU"] == pytest.approx(1.0)
    # class 0 is ignored, as the benchmark ignores it: predictions on "other" pixels are not counted
    for key, labels in made.items():
        split, stem = key.split("/")
        pred = np.where(labels == 0, 5, labels).astype(np.uint8)
        Image.fromarray(pred).save(tmp_path / "a" / "annotations" / split / f"{stem}.png")
    result = segtool.evaluate_semantic(src, tmp_path / "a", gt_format="ade20k", pred_format="ade20k")
    assert result.to_dict()["mIoU"] == pytest.approx(1.0)


def test_names_are_objectinfo150():
    assert len(NAMES150) == 150 and len(set(NAMES150)) == 150


def test_checks_one_broken_tree_each(tmp_path: Path):
    """ade20k-unknown-class, ade20k-missing, ade20k-size-mismatch, ade20k-objectinfo-invalid;
    the strict reader stops at the first with one line naming the file."""
    src = tmp_path / "t"
    _scene(src, {"training": (4, 4)})
    Image.fromarray(np.full((4, 4), 151, np.uint8)).save(src / "annotations" / "training" / "ADE_training_00000000.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src / "images" / "training" / "ADE_training_00000009.jpg")
    codes = sorted(f.code for f in validate(src, CheckOptions()).findings)
    assert codes == ["ade20k-missing", "ade20k-unknown-class"]
    with pytest.raises(SegtoolError, match="no annotation PNG"):
        segtool.read(src)
    other = tmp_path / "u"
    _scene(other, {"validation": (4, 4)})
    Image.fromarray(np.zeros((5, 4, 3), np.uint8)).save(other / "images" / "validation" / "ADE_validation_00000000.jpg")
    (other / "objectInfo150.csv").write_text("Idx,Ratio,Train,Val,Name\nx,0,0,0,wall\n")
    codes = sorted(f.code for f in validate(other, CheckOptions()).findings)
    assert codes == ["ade20k-objectinfo-invalid", "ade20k-size-mismatch"]


@pytest.mark.parametrize(
    ("make", "says"),
    [
        ("value", "values 200 are no class"),
        ("gray_seg", "a _seg.png is RGB"),
        ("size", "PNG is 3x3"),
        ("lonely_photo", "no annotation PNG"),
    ],
)
def test_hostile_one_line_exit_2(tmp_path: Path, make: str, says: str):
    """Bad input: one line naming the file, exit 2, from convert and eval."""
    from click.testing import CliRunner

    from tests.helpers import assert_bad_input, invoke

    src = tmp_path / "src"
    if make == "gray_seg":
        (src / "training").mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(src / "training" / "x_seg.png")
    else:
        _scene(src, {"training": (4, 4)})
        png = src / "annotations" / "training" / "ADE_training_00000000.png"
        if make == "value":
            Image.fromarray(np.full((4, 4), 200, np.uint8)).save(png)
        elif make == "lonely_photo":
            Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src / "images" / "training" / "b.jpg")
    runner = CliRunner()
    if make == "size":
        pred = tmp_path / "pred"
        _scene(pred, {"training": (3, 3)})
        result = invoke(runner, "eval", "semantic", src, pred)
        assert_bad_input(result, says)
        return
    assert_bad_input(invoke(runner, "convert", src, tmp_path / "out", "--to", "ade20k"), says)


# ADE20K 2021: the per-image JSON and its instance masks

DATA2020 = Path(__file__).parent / "data" / "datumaro" / "ade20k2020" / "dataset"


def _objects(json_path: Path) -> list[dict]:
    import json

    return json.loads(json_path.read_text(encoding="utf-8"))["annotation"]["object"]


def test_datumaro_2020_fixture():
    """Datumaro's 2020 fixture: 0/1 instance masks; the whole objects (car 401, person 1831)
    are the segments, of the masks' pixel counts; the parts (door, rim) are dropped and
    counted; names are the JSON's WordNet names."""
    ds = segtool.read(DATA2020)
    assert ds.kind == "panoptic" and ds.info["ade20k"]["read"] == ["2021"]
    assert [s.image.id for s in ds.samples] == ["training/street/1", "validation/2"]
    for sample, stem in zip(ds.samples, ["training/street/1", "validation/2"], strict=True):
        objs = _objects(DATA2020 / f"{stem}.json")
        whole = [o for o in objs if o["parts"]["part_level"] == 0]
        folder = (DATA2020 / stem).parent
        want = [
            (o["id"] + 1, o["name_ndx"], int((np.asarray(Image.open(folder / o["instance_mask"])) == 1).sum()))
            for o in whole
        ]
        ann = sample.load()
        got = list(
            zip(
                ann.segments.id.tolist(),
                ann.segments.category_id.tolist(),
                ann.segments.area.astype(int).tolist(),
                strict=True,
            )
        )
        assert got == want == [(1, 401, 15), (2, 1831, 5)]
        assert sum(ann.dropped.values()) == len(objs) - len(whole)
    assert {c.id: c.name for c in ds.categories}[401] == "car, auto, automobile, machine, motorcar"
    assert validate(DATA2020, CheckOptions()).findings == []


@real
def test_real_2021_instance_masks_agree_with_seg():
    """The real 2021 tree by its instance masks: 51, 34 and 24 whole objects; each one's
    segment holds its visible (255) pixels, lies within its mask, and is exactly the
    _seg.png pixels of one B value, of class name_ndx; together they are all its labelled
    pixels. 327 and 255 pixels of the first and third image are marked 128 in their whole
    object's mask but lie under that object's own parts, where _seg.png gives them to the
    whole. The other 128 pixels (occluded extent) and the parts are dropped and counted;
    validate finds nothing."""
    ds = segtool.read(REAL)
    assert ds.info["ade20k"]["read"] == ["2021"]
    grew = []
    for sample, whole_count in zip(ds.samples, [51, 34, 24], strict=True):
        seg = Path(sample.source.png)  # type: ignore[attr-defined]
        rgb = _rgb(seg)
        classes, b = rgb[..., 0] // 10 * 256 + rgb[..., 1], rgb[..., 2]
        objs = _objects(seg.with_name(seg.name.replace("_seg.png", ".json")))
        whole = [o for o in objs if o["parts"]["part_level"] == 0]
        ann = sample.load()
        assert len(ann.segments) == len(whole) == whole_count
        index = ann.id_map
        assert int((index > 0).sum()) == int((classes > 0).sum())
        occluded = grown = 0
        for k, obj in enumerate(whole, start=1):
            mask = np.asarray(Image.open(seg.parent / obj["instance_mask"]))
            occluded += bool((mask == 128).any())
            mine = index == k
            assert not (mask == 255)[~mine].any() and not mine[mask == 0].any()  # 255 ⊆ segment ⊆ 128|255
            values = np.unique(b[mask == 255])
            assert len(values) == 1 and set(np.unique(classes[mine]).tolist()) == {obj["name_ndx"]}
            assert np.array_equal(mine, (b == values[0]) & (classes == obj["name_ndx"]))
            grown += int(mine.sum() - (mask == 255).sum())
        assert ann.segments.id.tolist() == [o["id"] + 1 for o in whole]
        parts = len(objs) - len(whole)
        assert sorted(ann.dropped.values()) == sorted([parts, occluded])
        grew.append(grown)
    assert grew == [327, 0, 255]  # pixels of a whole object under its own parts, marked 128 in its mask
    assert validate(REAL, CheckOptions()).findings == []


def _tree2021(
    root: Path, masks: list[np.ndarray], classes: list[int], part: bool = True, part_mask: np.ndarray | None = None
) -> Path:
    """A 2021 image ``training/x``: a _seg.png drawn from the masks' 255 pixels (class
    name_ndx, B the object's number), a JSON naming them (ids as strings, as the release's
    varying field types allow) and one more part object; returns the JSON's path."""
    import json

    folder = root / "training" / "street"
    (folder / "x").mkdir(parents=True)
    h, w = masks[0].shape
    rgb = np.zeros((h, w, 3), np.uint8)
    objects = []
    for i, (mask, c) in enumerate(zip(masks, classes, strict=True)):
        name = f"x/instance_{i:03d}_x.png"
        Image.fromarray(mask.astype(np.uint8)).save(folder / name)
        if mask.shape == (h, w):
            rgb[mask == 255] = (c // 256 * 10, c % 256, i + 1)
        objects.append(
            {
                "id": str(i),
                "name_ndx": c,
                "name": f"thing {c}",
                "parts": {"part_level": 0},
                "instance_mask": name,
                "crop": "0",
                "occluded": [],
            }
        )
    if part:
        Image.fromarray((masks[0] if part_mask is None else part_mask).astype(np.uint8)).save(folder / "x" / "part.png")
        objects.append(
            {
                "id": len(masks),
                "name_ndx": 7,
                "name": "p",
                "parts": {"part_level": 1, "ispartof": 0},
                "instance_mask": "x/part.png",
            }
        )
    Image.fromarray(rgb).save(folder / "x_seg.png")
    (folder / "x.json").write_text(json.dumps({"annotation": {"filename": "x.jpg", "object": objects}}))
    return folder / "x.json"


def _two(shape: tuple[int, int] = (4, 6)) -> list[np.ndarray]:
    a = np.zeros(shape, np.uint8)
    a[:, :3] = 255
    a[0, 3] = 128  # hidden behind the second object
    b = np.zeros(shape, np.uint8)
    b[:, 3:] = 255
    return [a, b]


def test_generated_2021_read_convert(tmp_path: Path):
    """A generated 2021 image: two whole objects of 12 px each, the part and the occluded
    extent counted in convert's summary; → SceneParsing (classes ≤ 255) and → coco-panoptic
    → read: the same partition; the _seg.png reading gives the same segments."""
    _tree2021(tmp_path / "t", _two(), [3, 200])
    ds = segtool.read(tmp_path / "t")
    ann = ds.samples[0].load()
    assert list(zip(ann.segments.category_id.tolist(), ann.segments.area.tolist(), strict=True)) == [
        (3, 12.0),
        (200, 12.0),
    ]
    assert ann.dropped == {
        "ade20k: part (parts.part_level >= 1), not read": 1,
        "ade20k: occluded extent (128) of an instance mask, not read": 1,
    }
    by_seg = segtool.read(tmp_path / "t", instance_masks=False).samples[0].load()
    assert np.array_equal(by_seg.id_map, ann.id_map)
    summary = segtool.convert(tmp_path / "t", tmp_path / "scene", "ade20k")
    assert sum(summary.dropped.values()) == 2
    labels = np.asarray(Image.open(tmp_path / "scene" / "annotations" / "training" / "x.png"))
    assert labels.tolist() == [[3, 3, 3, 200, 200, 200]] * 4
    segtool.convert(tmp_path / "t", tmp_path / "pan" / "p.json", "coco-panoptic")
    back = segtool.read(tmp_path / "pan" / "p.json").samples[0].load()
    assert sorted(back.segments.area.tolist()) == [12.0, 12.0] and sorted(back.segments.category_id.tolist()) == [
        3,
        200,
    ]


def test_generated_2021_part_over_its_whole(tmp_path: Path):
    """A pixel the whole object's mask marks 128 where its own part is visible belongs to
    the whole (as ADE20K's _seg.png has it); one marked 128 under another whole object
    stays that object's; a 128 pixel under nothing stays void."""
    a, b = _two()
    a[3, 0] = 128  # under its part
    a[2, 0] = 128  # under nothing
    part = np.zeros_like(a)
    part[3, 0] = 255
    _tree2021(tmp_path / "t", [a, b], [3, 200], part_mask=part)
    ann = segtool.read(tmp_path / "t").samples[0].load()
    assert list(zip(ann.segments.category_id.tolist(), ann.segments.area.tolist(), strict=True)) == [
        (3, 11.0),
        (200, 12.0),
    ]
    assert ann.id_map[3, 0] == 1 and ann.id_map[2, 0] == 0 and ann.id_map[0, 3] == 2


def test_2021_checks_one_broken_tree_each(tmp_path: Path):
    """ade20k-instance-mask, ade20k-instance-overlap, ade20k-json-invalid and
    ade20k-seg-mismatch, each from a broken 2021 tree; png-size for a mask of another size."""
    cases: dict[str, list[str]] = {}
    masks = _two()
    bad = [masks[0].copy(), masks[1]]
    bad[0][1, 1] = 7
    _tree2021(tmp_path / "value", bad, [3, 4])
    over = [masks[0], np.full((4, 6), 255, np.uint8)]
    _tree2021(tmp_path / "overlap", over, [3, 4])
    js = _tree2021(tmp_path / "json", masks, [3, 4])
    js.write_text(js.read_text().replace('"x/instance_000_x.png"', '"../../../etc/passwd"'))
    _tree2021(tmp_path / "mismatch", masks, [3, 4])
    seg = tmp_path / "mismatch" / "training" / "street" / "x_seg.png"
    rgb = np.asarray(Image.open(seg)).copy()
    rgb[0, 0] = (0, 9, 1)
    Image.fromarray(rgb).save(seg)
    _tree2021(tmp_path / "size", [masks[0], np.zeros((4, 5), np.uint8)], [3, 4], part=False)
    for name in ("value", "overlap", "json", "mismatch", "size"):
        cases[name] = sorted(f.code for f in validate(tmp_path / name, CheckOptions()).findings)
    assert cases == {
        "value": ["ade20k-instance-mask"],
        "overlap": ["ade20k-instance-overlap"],
        "json": ["ade20k-json-invalid"],
        "mismatch": ["ade20k-seg-mismatch"],
        "size": ["png-size"],
    }


@pytest.mark.parametrize(
    ("make", "says"),
    [
        ("value", "instance mask values 7"),
        ("overlap", "visible pixels shared with object 0"),
        ("escape", "not a non-negative integer (class 0..6655) or a relative mask path"),
        ("no_objects", "no annotation.object list"),
        ("missing_mask", "missing PNG for image training/street/x, object 1"),
        ("not_json", "invalid JSON"),
    ],
)
def test_2021_hostile_one_line_exit_2(tmp_path: Path, make: str, says: str):
    """Bad 2021 input: one line naming the file, exit 2, from convert."""
    from click.testing import CliRunner

    from tests.helpers import assert_bad_input, invoke

    masks = _two()
    if make == "value":
        masks[1][0, 5] = 7
    if make == "overlap":
        masks[1][:, 2] = 255
    js = _tree2021(tmp_path / "src", masks, [3, 4])
    if make == "escape":
        js.write_text(js.read_text().replace('"x/instance_000_x.png"', '"/etc/passwd"'))
    elif make == "no_objects":
        js.write_text('{"annotation": {"object": {"id": 0}}}')
    elif make == "missing_mask":
        (js.parent / "x" / "instance_001_x.png").unlink()
    elif make == "not_json":
        js.write_text('{"annotation": [')
    result = invoke(CliRunner(), "convert", tmp_path / "src", tmp_path / "out", "--to", "ade20k")
    assert_bad_input(result, says)


def test_2021_objects_limit(tmp_path: Path):
    """More objects in one JSON than the segments limit: one error naming the JSON."""
    from segtool import limits

    js = _tree2021(tmp_path / "t", _two(), [3, 4])
    with limits.raised(segments=2), pytest.raises(SegtoolError, match="objects") as err:
        segtool.read(tmp_path / "t")
    assert err.value.path == str(js)


def test_2020_fixture_cli_info_validate_convert(tmp_path: Path):
    """End to end on datumaro's 2020 copy: info (4 segments), validate clean, convert to
    coco-panoptic (exit 0; the summary names the 3 parts dropped) and back: car 15 px and
    person 5 px in each image."""
    from click.testing import CliRunner

    from tests.helpers import invoke

    runner = CliRunner()
    info = invoke(runner, "info", DATA2020)
    assert info.exit_code == 0 and "4 (0 crowd)" in info.output, info.output
    assert invoke(runner, "validate", DATA2020).exit_code == 0
    result = invoke(runner, "convert", DATA2020, tmp_path / "p.json", "--to", "coco-panoptic")
    assert result.exit_code == 0 and "part" in result.output, result.output
    back = segtool.read(tmp_path / "p.json")
    for sample in back.samples:
        ann = sample.load()
        assert sorted(zip(ann.segments.category_id.tolist(), ann.segments.area.tolist(), strict=True)) == [
            (401, 15.0),
            (1831, 5.0),
        ]


@real
def test_real_2021_cli_info_validate_convert(tmp_path: Path):
    """End to end on the real 2021 tree: info (109 segments: 51 + 34 + 24), validate clean,
    convert to SceneParsing refused (ADE20K's full class ids exceed 255) with one line."""
    from click.testing import CliRunner

    from tests.helpers import assert_bad_input, invoke

    runner = CliRunner()
    info = invoke(runner, "info", REAL)
    assert info.exit_code == 0 and "109" in info.output, info.output
    assert invoke(runner, "validate", REAL).exit_code == 0
    assert_bad_input(invoke(runner, "convert", REAL, tmp_path / "out", "--to", "ade20k"), "1..255")
