"""The ade20k format: datumaro's ADE20K 2017 fixture (MIT, copied), the real ADE20K 2021
full dataset (ADE20K Terms: read where it lies, skipped when absent), generated
SceneParsing trees: numbers hand-computed from the PNGs with numpy, round trips pixel for
pixel, mIoU 1 of a tree against itself, one broken tree per check code."""

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
COVERED = {"ade20k-unknown-class", "ade20k-missing", "ade20k-size-mismatch", "ade20k-objectinfo-invalid"}
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
    """The 2021 tree read by its _seg.png: segments as the PNGs give them, and every class
    is a name_ndx of the image's JSON (whole objects), named as it."""
    import json

    ds = segtool.read(REAL)
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
