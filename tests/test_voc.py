"""The voc format: datumaro's VOC fixture (RGB class and object PNGs, a listed image without
annotations, a labelmap.txt), labelme's labelme2voc output (palette PNGs, GPL: read where it
lies, skipped when absent) against labelme's own COCO export, round trips pixel for pixel,
mIoU 1 of a tree against itself, and one broken tree per check code."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import segtool
from segtool import formats
from segtool.errors import SegtoolError
from segtool.formats import voc
from segtool.formats.voc_checks import validate_voc
from segtool.formats.voc_rules import COLORMAP, NAMES, read_table
from segtool.policy import STRICT

DATA = Path(__file__).parent / "data" / "datumaro" / "voc"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "labelme" / "instance_segmentation"
real = pytest.mark.skipif(not REAL.is_dir(), reason="the real LabelMe fixtures are not beside the repository")


def _png(path: Path) -> tuple[str, np.ndarray]:
    with Image.open(path) as im:
        return im.mode, np.asarray(im)


def _pixels(root: Path, folder: str) -> dict[str, np.ndarray]:
    return {p.stem: _png(p)[1] for p in sorted((root / folder).glob("*.png"))}


def test_colormap_is_vocs():
    """VOCdevkit's colour map: the classes' colours as datumaro's labelmap spells them, void
    (224, 224, 192)."""
    table = read_table(DATA / "voc_dataset2", STRICT)
    assert table.names[:21] == NAMES and table.names[21] == "ignored"
    assert [tuple(c) for c in COLORMAP[:21].tolist()] == list(table.colors[:21])
    assert tuple(COLORMAP[255].tolist()) == (224, 224, 192) == table.colors[21]


def test_datumaro_fixture():
    """voc_dataset1: 2007_000001's RGB class PNG is all bicycle (0,128,0), its object PNG all
    object 1 (128,0,0); 2007_000002 is listed in test.txt with a photo and no PNG: no
    segments. Splits come from the lists."""
    root = DATA / "voc_dataset1"
    assert voc.detect(root).confidence == "strong"
    assert formats.detect(root) == "voc"
    ds = segtool.read(root)
    assert ds.kind == "panoptic" and len(ds.categories) == 21
    assert [s.image.id for s in ds.samples] == ["2007_000002", "2007_000001"]
    assert ds.info["voc"]["splits"] == {"2007_000002": ["test"], "2007_000001": ["train"]}
    empty, one = (s.load() for s in ds.samples)
    assert (empty.image.width, empty.image.height) == (20, 10) and len(empty.segments) == 0
    assert one.segments.id.tolist() == [1] and one.segments.category_id.tolist() == [NAMES.index("bicycle")]
    assert one.segments.area.tolist() == [200.0] and not one.segments.iscrowd.any()
    assert validate_voc(root).findings == []


def test_round_trip_pixel_for_pixel(tmp_path: Path):
    """VOC → VOC: the class and object PNGs come back as palette PNGs with the same indices
    as the RGB originals decode to; VOC → coco-panoptic → VOC too; splits kept."""
    root = DATA / "voc_dataset1"
    segtool.convert(root, tmp_path / "a", "voc")
    out = tmp_path / "a"
    mode, labels = _png(out / "SegmentationClass" / "2007_000001.png")
    assert mode == "P" and (labels == 2).all()
    assert (_png(out / "SegmentationObject" / "2007_000001.png")[1] == 1).all()
    assert (out / "ImageSets" / "Segmentation" / "train.txt").read_text() == "2007_000001\n"
    assert (out / "ImageSets" / "Segmentation" / "test.txt").read_text() == "2007_000002\n"
    assert (out / "labelmap.txt").read_text().splitlines()[3] == "bicycle:0,128,0::"
    segtool.convert(out, tmp_path / "p.json", "coco-panoptic")
    segtool.convert(tmp_path / "p.json", tmp_path / "b", "voc")
    for folder in ("SegmentationClass", "SegmentationObject"):
        a, b = _pixels(out, folder), _pixels(tmp_path / "b", folder)
        assert a.keys() <= b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _tree(root: Path, seed: int = 0, n: int = 3) -> Path:
    """A VOC tree of palette PNGs: objects of several classes, background, void boundaries."""
    rng = np.random.default_rng(seed)
    for folder in ("SegmentationClass", "SegmentationObject", "JPEGImages", "ImageSets/Segmentation"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    pal = [int(v) for v in COLORMAP.ravel()]
    stems = []
    for i in range(n):
        h, w = 24 + i, 32
        cls = np.zeros((h, w), np.uint8)
        obj = np.zeros((h, w), np.uint8)
        for k in range(1, int(rng.integers(2, 6))):
            y, x = int(rng.integers(0, h - 6)), int(rng.integers(0, w - 6))
            c = int(rng.integers(1, 21))
            cls[y : y + 6, x : x + 6] = c
            obj[y : y + 6, x : x + 6] = k
        obj[(obj > 0) & ~np.isin(obj, np.unique(obj[obj > 0]))] = 0
        edge = np.zeros((h, w), bool)
        edge[:, 0] = True
        cls[edge], obj[edge] = 255, 255
        stem = f"2012_{i:06d}"
        for arr, folder in ((cls, "SegmentationClass"), (obj, "SegmentationObject")):
            im = Image.fromarray(arr, "P")
            im.putpalette(pal)
            im.save(root / folder / f"{stem}.png")
        Image.new("RGB", (w, h)).save(root / "JPEGImages" / f"{stem}.jpg")
        stems.append(stem)
    (root / "ImageSets/Segmentation/val.txt").write_text("".join(f"{s}\n" for s in stems))
    return root


def _renumbered(objects: np.ndarray) -> np.ndarray:
    """Object numbers 1..n in order of first value, as the writer numbers them."""
    values = [v for v in np.unique(objects).tolist() if 0 < v < 255]
    lut = np.arange(256, dtype=np.uint8)
    for k, v in enumerate(values, start=1):
        lut[v] = k
    return lut[objects]


def test_generated_round_trip_and_miou(tmp_path: Path):
    """A generated tree: VOC → VOC pixel for pixel (objects renumbered 1..n when a hidden one
    left a gap); its mIoU against itself is 1; read without objects it is semantic."""
    root = _tree(tmp_path / "src")
    assert validate_voc(root).findings == []
    segtool.convert(root, tmp_path / "out", "voc")
    a, b = _pixels(root, "SegmentationClass"), _pixels(tmp_path / "out", "SegmentationClass")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    a, b = _pixels(root, "SegmentationObject"), _pixels(tmp_path / "out", "SegmentationObject")
    assert all(np.array_equal(_renumbered(a[k]), b[k]) for k in a)
    result = segtool.evaluate_semantic(root, root, gt_format="voc", pred_format="voc")
    assert result.to_dict()["mIoU"] == pytest.approx(1.0)
    sem = segtool.read(root, "voc", objects=False)
    assert sem.kind == "semantic"
    segtool.convert(root, tmp_path / "sem", "voc", read_options={"objects": False})
    assert not (tmp_path / "sem" / "SegmentationObject").exists()
    c = _pixels(tmp_path / "sem", "SegmentationClass")
    assert all(np.array_equal(a2, c[k]) for k, a2 in _pixels(root, "SegmentationClass").items())


@real
def test_labelme_voc_export_against_its_coco_export():
    """labelme's example, exported by labelme2voc (palette PNGs, class_names.txt) and by
    labelme2coco: the same objects per image, of the same classes; each VOC area is the
    COCO area less what later shapes and __ignore__ cover (labelme2voc paints in file order),
    so within 5% here (3.4% at most); and within one pixel of segtool's own flattened reading of the
    LabelMe JSONs (labelme2voc's rules; it has no background segment)."""
    ds = segtool.read(REAL / "data_dataset_voc")
    assert ds.kind == "panoptic" and [c.name for c in ds.categories][15] == "person"
    coco = json.loads((REAL / "data_dataset_coco" / "annotations.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    stems = {im["id"]: Path(im["file_name"]).stem for im in coco["images"]}
    by_image: dict[str, list[dict[str, Any]]] = {}
    for a in coco["annotations"]:
        by_image.setdefault(stems[a["image_id"]], []).append(a)
    flat = {
        Path(s.image.file_name).stem: s.load()
        for s in segtool.read(REAL / "data_annotated", "labelme", flatten=True).samples
    }
    cat_names = {c.id: c.name for c in ds.categories}
    total = 0
    for sample in ds.samples:
        ann = sample.load()
        things = ann.segments[ann.segments.id < 255]
        want = by_image[str(sample.image.id)]
        assert Counter(cat_names[c] for c in things.category_id.tolist()) == Counter(
            names[a["category_id"]] for a in want
        )
        for got, a in zip(things.area.tolist(), want, strict=True):
            assert got <= a["area"] + 1 and got == pytest.approx(a["area"], rel=0.05)
        total += len(things)
        other = flat[sample.image.id]
        mine, theirs = sorted(things.area.tolist()), sorted(other.segments.area.tolist())
        assert np.abs(np.subtract(mine, theirs)).max() <= 1  # sofa of 2011_000006: 14002 vs 14001
    assert total == len(coco["annotations"]) == 12
    assert validate_voc(REAL / "data_dataset_voc").findings == []


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "voc"
    shutil.copytree(DATA / "voc_dataset1", root)
    return root


def _paint(path: Path, values: np.ndarray) -> None:
    im = Image.fromarray(values.astype(np.uint8), "P")
    im.putpalette([int(v) for v in COLORMAP.ravel()])
    im.save(path)


BROKEN: dict[str, Any] = {
    "voc-unknown-class": lambda r: _paint(r / "SegmentationClass/2007_000001.png", np.full((10, 20), 40)),
    "voc-instance-class": lambda r: _paint(
        r / "SegmentationClass/2007_000001.png", np.repeat(np.array([[2] * 10 + [15] * 10]), 10, 0)
    ),
    "voc-size-mismatch": lambda r: _paint(r / "SegmentationObject/2007_000001.png", np.ones((10, 10))),
    "voc-missing": lambda r: (r / "JPEGImages/2007_000002.jpg").unlink(),
    "voc-labelmap-invalid": lambda r: (r / "labelmap.txt").write_text("background:0,0\n"),
}
COVERED = set(BROKEN)


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_each_check_code(tmp_path: Path, code: str):
    """One broken tree per check code: validate finds it, and the reader (all but the
    labelmap, which falls back to the VOC table only under validate) refuses it."""
    root = _copy(tmp_path)
    BROKEN[code](root)
    codes = {f.code for f in validate_voc(root).findings}
    assert code in codes
    with pytest.raises(SegtoolError):
        for s in segtool.read(root, "voc").samples:
            s.load()
