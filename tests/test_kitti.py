"""The kitti format: datumaro's KITTI segmentation fixture (16-bit instance PNGs, MIT) read
against its pixels as PIL reads them, generated KITTI trees (instance + semantic, semantic
alone) and KITTI-STEP panoptic maps, convert to COCO checked with pycocotools, one broken
tree per check code, and bad input refused with one line naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

import segtool
from segtool import formats
from segtool.cli import main
from segtool.errors import SegtoolError
from segtool.formats import kitti
from segtool.formats.cityscapes_labels import BY_NAME, LABELS
from segtool.formats.kitti_checks import validate_kitti
from tests.helpers import assert_bad_input

DATA = Path(__file__).parent / "data" / "datumaro" / "kitti_segmentation"
CAR, PERSON, ROAD, WALL, TRUCK, TRAIN = (BY_NAME[n].id for n in ("car", "person", "road", "wall", "truck", "train"))


def _read16(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "I;16"
        return np.asarray(im).astype(np.int64)


def _save16(path: Path, values: list[list[int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values, np.uint16)).save(path)


def _save8(path: Path, values: list[list[int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values, np.uint8)).save(path)


def _photo(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height)).save(path)


# the generated tree: a car with instances 1 and 2, car pixels with instance 0 (a crowd),
# road, a person, and 0 (unlabeled: void)
GEN = [
    [CAR * 256 + 1, CAR * 256 + 1, CAR * 256 + 2, ROAD * 256, ROAD * 256],
    [CAR * 256, CAR * 256, PERSON * 256 + 1, 0, ROAD * 256],
]


def _tree(root: Path, values=GEN, *, semantic: bool = True, photo: tuple[int, int] | None = (5, 2)) -> Path:
    _save16(root / "training" / "instance" / "a.png", values)
    if semantic:
        _save8(root / "training" / "semantic" / "a.png", (np.asarray(values) // 256).tolist())
    if photo is not None:
        _photo(root / "training" / "image_2" / "a.png", *photo)
    return root


def test_datumaro_fixture_as_pil_reads_it():
    """Its two 5x1 instance PNGs hold [768, 768, 6913, 6914, 6914] and [7937, 7937, 3073,
    768, 768]: label 3 (out of roi: void), truck (27) instances 1 and 2, train (31) instance
    1, wall (12) instance 1 (a class without instances: one stuff segment)."""
    first = _read16(DATA / "training/instance/000030_10.png")
    second = _read16(DATA / "training/instance/000030_11.png")
    assert first.tolist() == [[768, 768, 6913, 6914, 6914]]
    assert second.tolist() == [[7937, 7937, 3073, 768, 768]]
    assert kitti.detect(DATA).confidence == "strong" and formats.detect(DATA) == "kitti"
    ds = segtool.read(DATA)
    assert ds.kind == "panoptic" and len(ds.categories) == 19
    assert [(s.image.id, s.image.file_name, s.image.width, s.image.height) for s in ds.samples] == [
        ("000030_10", "000030_10.png", 5, 1),
        ("000030_11", "000030_11.png", 5, 1),
    ]
    a, b = (s.load() for s in ds.samples)
    assert a.segments.id.tolist() == [6913, 6914] and a.segments.category_id.tolist() == [TRUCK, TRUCK]
    assert a.segments.area.tolist() == [1, 2] and a.segments.bbox.tolist() == [[2, 0, 1, 1], [3, 0, 2, 1]]
    assert not a.segments.iscrowd.any() and a.changed is None
    # pixel for pixel: the segment under each pixel is the one its value names (void: 0)
    assert a.id_map.tolist() == [[0, 0, 1, 2, 2]]
    assert b.segments.id.tolist() == [WALL * 256, 7937] and b.segments.category_id.tolist() == [WALL, TRAIN]
    assert b.id_map.tolist() == [[2, 2, 1, 0, 0]]
    assert dict(b.changed) == {kitti.MERGED: 1}
    assert validate_kitti(DATA).findings == []


def test_all_labels_keeps_void_labels():
    """With all_labels, out of roi (3) is a category: its pixels one stuff segment."""
    ds = segtool.read(DATA, all_labels=True)
    assert len(ds.categories) == 33
    seg = ds.samples[0].load().segments
    assert seg.id.tolist() == [768, 6913, 6914] and seg.area.tolist() == [2, 1, 2]


def test_generated_tree(tmp_path):
    """Car instances 1 and 2; car pixels of instance 0 one crowd region; road stuff; the
    semantic PNG beside agrees; unlabeled void."""
    root = _tree(tmp_path / "k")
    ann = segtool.read(root).samples[0].load()
    segs = ann.segments
    assert segs.id.tolist() == [ROAD * 256, PERSON * 256 + 1, CAR * 256, CAR * 256 + 1, CAR * 256 + 2]
    assert segs.category_id.tolist() == [ROAD, PERSON, CAR, CAR, CAR]
    assert segs.iscrowd.tolist() == [False, False, True, False, False]
    assert segs.area.tolist() == [3, 1, 2, 2, 1]
    assert ann.id_map.tolist() == [[4, 4, 5, 1, 1], [3, 3, 2, 0, 1]]


def test_semantic_alone(tmp_path):
    """semantic/ alone: a thing label's pixels are one crowd (no instance is known)."""
    _save8(tmp_path / "training" / "semantic" / "a.png", [[CAR, CAR, ROAD], [0, ROAD, CAR]])
    ds = segtool.read(tmp_path)
    assert ds.info["kitti"]["layout"] == "semantic"
    segs = ds.samples[0].load().segments
    assert segs.id.tolist() == [ROAD, CAR] and segs.iscrowd.tolist() == [False, True]
    assert segs.area.tolist() == [2, 3]
    assert kitti.detect(tmp_path).confidence == "weak"  # no image_2/ beside


def _step(root: Path, rgb: np.ndarray, photo: tuple[int, int] | None = None) -> Path:
    path = root / "panoptic_maps" / "train" / "0001" / "000000.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(path)
    if photo is not None:
        _photo(root / "images" / "train" / "0001" / "000000.png", *photo)
    return root


def test_kitti_step(tmp_path):
    """R = trainId, G * 256 + B = track: car (13) tracks 5 and 300 (G=1, B=44); car with
    track 0 a crowd; rider (12, not tracked: stuff) with a number merged; road (0); 255
    void. Categories: the 19 trainIds, person and car things."""
    rgb = np.array([[[13, 0, 5], [13, 1, 44], [13, 0, 0], [12, 0, 3]], [[0, 0, 0], [0, 0, 0], [255, 0, 0], [13, 0, 5]]])
    root = _step(tmp_path, rgb, photo=(4, 2))
    assert formats.detect(root) == "kitti"
    ds = segtool.read(root)
    assert [c.id for c in ds.categories] == list(range(19))
    assert [c.name for c in ds.categories if c.isthing] == ["person", "car"]
    assert ds.samples[0].image.id == "train/0001/000000"
    assert ds.samples[0].image.file_name == "train/0001/000000.png"
    ann = ds.samples[0].load()
    segs = ann.segments
    assert segs.id.tolist() == [0, 12 << 16, 13 << 16, (13 << 16) + 5, (13 << 16) + 300]
    assert segs.category_id.tolist() == [0, 12, 13, 13, 13]
    assert segs.iscrowd.tolist() == [False, False, True, False, False]
    assert segs.area.tolist() == [2, 1, 1, 2, 1]
    assert ann.id_map.tolist() == [[4, 5, 3, 2], [1, 1, 0, 4]]
    assert dict(ann.changed) == {kitti.MERGED: 1}


def test_step_unknown_train_id(tmp_path):
    root = _step(tmp_path, np.array([[[20, 0, 0], [0, 0, 0]]]))
    with pytest.raises(SegtoolError, match=r"values 1310720 \(class 20\)"):
        segtool.read(root).samples[0].load()


def test_convert_to_coco_instance_and_panoptic(tmp_path):
    """The CLI end to end: every instance and crowd a COCO annotation whose RLE decodes (by
    pycocotools) to exactly its pixels; the panoptic PNG's ids (R + 256 G + 256² B) cover the
    same pixels as its segments_info says."""
    root = _tree(tmp_path / "k")
    runner = CliRunner()
    result = runner.invoke(main, ["convert", str(root), str(tmp_path / "i.json"), "--to", "coco-instance"])
    assert result.exit_code == 0, result.output
    coco = json.loads((tmp_path / "i.json").read_text())
    values = np.asarray(GEN)
    by_cat = {(a["category_id"], a["iscrowd"]): [] for a in coco["annotations"]}
    for a in coco["annotations"]:
        by_cat[(a["category_id"], a["iscrowd"])].append(mask_utils.decode(a["segmentation"]).astype(bool))
    assert (by_cat[(CAR, 1)][0] == (values == CAR * 256)).all()
    assert sorted(m.sum() for m in by_cat[(CAR, 0)]) == [1, 2]
    assert (by_cat[(ROAD, 0)][0] == (values // 256 == ROAD)).all()
    result = runner.invoke(main, ["convert", str(root), str(tmp_path / "p.json"), "--to", "coco-panoptic"])
    assert result.exit_code == 0, result.output
    pan = json.loads((tmp_path / "p.json").read_text())
    (record,) = pan["annotations"]
    rgb = np.asarray(Image.open(tmp_path / "p" / record["file_name"])).astype(np.int64)
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    for seg in record["segments_info"]:
        assert int((ids == seg["id"]).sum()) == seg["area"]
    assert int((ids == 0).sum()) == 1  # the unlabeled pixel


# ---------------------------------------------------------------- checks and bad input

BROKEN = {
    "kitti-unknown-class": lambda root: _tree(root, [[40 * 256 + 1, CAR * 256]], semantic=False, photo=None),
    "kitti-label-mismatch": lambda root: _save8(root / "training/semantic/a.png", [[1] * 5, [1] * 5]),
    "image-size": lambda root: _photo(root / "training/image_2/a.png", 2, 5),
    "label-mode": lambda root: _save8(root / "training/instance/a.png", [[1] * 5, [1] * 5]),
}
COVERED = {"kitti-unknown-class", "kitti-label-mismatch", "kitti-labels-invalid"}  # the last: test_broken_label_colors


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_one_broken_tree_per_code(tmp_path, code):
    root = tmp_path / "k"
    if code != "kitti-unknown-class":
        _tree(root)
    BROKEN[code](root)
    report = validate_kitti(root)
    assert [f.code for f in report.findings] == [code]


@pytest.mark.parametrize(
    ("code", "needles"),
    [
        ("kitti-unknown-class", ("instance/a.png", "values 10241 (class 40)")),
        ("kitti-label-mismatch", ("semantic/a.png", "10 px of the semantic PNG differ")),
        ("image-size", ("image_2/a.png", "the photo is 2x5 but its label PNG is 5x2")),
        ("label-mode", ("instance/a.png", "16-bit")),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, code, needles):
    """The issue's cases: a 16-bit value whose class is not in the table, a label PNG of
    another size than its photo; and an 8-bit instance PNG, a disagreeing semantic PNG."""
    root = tmp_path / "k"
    if code != "kitti-unknown-class":
        _tree(root)
    BROKEN[code](root)
    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["convert", str(root), str(out), "--to", "coco-instance"])
    assert_bad_input(result, *needles)
    assert not out.exists()


def test_hostile_files(tmp_path):
    """A PNG that is not one, and a folder with nothing to read: one line each."""
    root = tmp_path / "k"
    (root / "training" / "instance").mkdir(parents=True)
    result = CliRunner().invoke(main, ["info", str(root), "--from", "kitti"])
    assert_bad_input(result, "no PNG")
    (root / "training" / "instance" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    result = CliRunner().invoke(main, ["convert", str(root), str(tmp_path / "o.json"), "--to", "coco-instance"])
    assert_bad_input(result, "a.png")
    report = validate_kitti(root)
    assert [f.code for f in report.findings] == ["png-unreadable"]


# ---------------------------------------------------------------- generated at random

LABEL_IDS = st.sampled_from([0, 3, ROAD, WALL, BY_NAME["sky"].id, CAR, PERSON, TRUCK])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(LABEL_IDS, st.integers(0, 3)), min_size=6, max_size=6), st.integers(1, 3))
def test_random_instance_maps_follow_the_devkit(tmp_path_factory, pixels, rows):
    """Any 16-bit map: each pixel's segment is of its label (value // 256), an instance (id =
    the value) when the label has instances and value % 256 > 0, a crowd (id = label * 256)
    when it has instances and 0, the label's one segment otherwise; void labels void; every
    pixel of a non-void label in exactly one segment. Expected values from the devkit's
    rule, written here, not from segtool."""
    root = tmp_path_factory.mktemp("k")
    values = np.array([label * 256 + inst for label, inst in pixels] * rows, np.int64).reshape(rows, 6)
    _tree(root, values.tolist(), semantic=False, photo=None)
    ds = segtool.read(root)
    evaluated = {c.id: c for c in ds.categories}
    ann = ds.samples[0].load()
    index = ann.id_map
    for (y, x), value in np.ndenumerate(values):
        label, inst = divmod(int(value), 256)
        if label not in evaluated:
            assert index[y, x] == 0
            continue
        k = index[y, x] - 1
        assert ann.segments.category_id[k] == label
        thing = evaluated[label].isthing
        assert ann.segments.id[k] == (value if thing and inst else label * 256)
        assert bool(ann.segments.iscrowd[k]) == (thing and inst == 0)
    assert ann.segments.area.sum() == np.count_nonzero(index)


def test_validate_with_images_dir_and_step(tmp_path):
    """--images DIR: a missing photo and one of another size; a KITTI-STEP tree checked too."""
    root = _tree(tmp_path / "k", photo=None)
    photos = tmp_path / "photos"
    photos.mkdir()
    result = CliRunner().invoke(main, ["validate", str(root), "--images", str(photos)])
    assert result.exit_code == 1 and "image-file-missing" in result.output
    _photo(photos / "a.png", 5, 3)
    assert [f.code for f in validate_kitti(root, images_dir=photos).findings] == ["image-size"]
    step = _step(tmp_path / "s", np.array([[[13, 0, 5], [30, 0, 0]]]), photo=(2, 1))
    report = validate_kitti(step)
    assert [f.code for f in report.findings] == ["kitti-unknown-class"]
    assert kitti.count_images(step) == 1


# ---------------------------------------------------------------- label_colors.txt (datumaro, CVAT)


def test_custom_label_colors(tmp_path):
    """A label_colors.txt beside training/: class = line number from 0; 'background' void;
    'car' keeps Cityscapes' facts (a thing: instance 0 a crowd), 'cat' is a thing."""
    root = _tree(tmp_path / "k", [[257, 257, 512], [0, 258, 512]], semantic=False, photo=None)
    (root / "label_colors.txt").write_text("0 0 0 background\n255 0 0 cat\n0 0 142 car\n")
    ds = segtool.read(root)
    assert [(c.id, c.name, c.isthing, c.color) for c in ds.categories] == [
        (1, "cat", True, (255, 0, 0)),
        (2, "car", True, (0, 0, 142)),
    ]
    segs = ds.samples[0].load().segments
    assert segs.id.tolist() == [257, 258, 512] and segs.category_id.tolist() == [1, 1, 2]
    assert segs.iscrowd.tolist() == [False, False, True] and segs.area.tolist() == [2, 1, 2]
    _save16(root / "training" / "instance" / "a.png", [[3 * 256 + 1]])
    with pytest.raises(SegtoolError, match=r"values 769 \(class 3\) are of no class \(label ids 0..2"):
        segtool.read(root).samples[0].load()


def test_datumaro_default_label_colors_is_the_cityscapes_table(tmp_path):
    """datumaro's KittiLabelMap written out (names without spaces, licenseplate last) reads
    as the built-in table: the same 19 categories, the same segments of its fixture."""
    root = tmp_path / "k"
    shutil.copytree(DATA, root)
    names = [lab.name.replace(" ", "") for lab in LABELS if lab.id >= 0] + ["licenseplate"]
    (root / "label_colors.txt").write_text("".join(f"0 0 0 {n}\n" for n in names))
    ds = segtool.read(root)
    assert [c.id for c in ds.categories] == [c.id for c in segtool.read(DATA).categories]
    assert ds.samples[0].load().segments.id.tolist() == [6913, 6914]


def test_broken_label_colors(tmp_path):
    root = _tree(tmp_path / "k")
    (root / "label_colors.txt").write_text("0 0 0 a\n1 2 3 a\n")
    assert [f.code for f in validate_kitti(root).findings] == ["kitti-labels-invalid"]
    result = CliRunner().invoke(main, ["convert", str(root), str(tmp_path / "o.json"), "--to", "coco-instance"])
    assert_bad_input(result, "label_colors.txt", "line 2")
