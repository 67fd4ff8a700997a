"""The mots format: datumaro's MOTS PNG fixture (MIT) read against its pixels as PIL reads
them (its JPGs are 1x5 where its maps are 5x1: refused, as the issue asks of a photo of
another size), generated KITTI MOTS PNGs, a MOTS txt written by hand with pycocotools-encoded
RLEs, overlap (which MOTS forbids), convert to COCO checked with pycocotools, one broken
dataset per check code, and bad input refused with one line naming the file."""

from __future__ import annotations

import json
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
from segtool.formats import mots
from segtool.formats.mots_checks import validate_mots
from tests.helpers import assert_bad_input

DATA = Path(__file__).parent / "data" / "datumaro" / "mots_png"


def _pil(path: Path) -> tuple[str, tuple[int, int], list]:
    with Image.open(path) as im:
        return im.mode, im.size, np.asarray(im).tolist()


def test_datumaro_fixture_as_pil_reads_it():
    """Values 4003, 4003, 3002, 4001, 0 / 4002 / 1001: class k = line k of labels.txt (a b c
    d), the track the value % 1000; datumaro's own test builds them as labels 3, 2, 3 with
    tracks 3, 2, 1 (label index = class - 1)."""
    assert _pil(DATA / "train/instances/1.png") == ("I;16", (5, 1), [[4003, 4003, 3002, 4001, 0]])
    assert _pil(DATA / "train/instances/2.png")[2] == [[4002, 0, 0, 0, 0]]
    assert _pil(DATA / "val/instances/3.png")[2] == [[0, 1001, 0, 0, 0]]
    assert _pil(DATA / "train/images/1.jpg")[:2] == ("L", (1, 5))  # 1 wide, 5 high
    assert mots.detect(DATA).confidence == "strong" and formats.detect(DATA) == "mots"
    ds = segtool.read(DATA, check_photos=False)
    assert ds.kind == "panoptic"
    assert [(c.id, c.name, c.isthing) for c in ds.categories] == [
        (1, "a", True),
        (2, "b", True),
        (3, "c", True),
        (4, "d", True),
    ]
    assert [(s.image.id, s.image.file_name, s.image.width, s.image.height) for s in ds.samples] == [
        ("train/1", "train/images/1.jpg", 5, 1),
        ("train/2", "train/images/2.jpg", 5, 1),
        ("val/3", "val/images/3.jpg", 5, 1),
    ]
    one, two, three = (s.load() for s in ds.samples)
    assert one.segments.id.tolist() == [3002, 4001, 4003] and one.segments.category_id.tolist() == [3, 4, 4]
    assert one.segments.area.tolist() == [1, 1, 2] and one.id_map.tolist() == [[3, 3, 1, 2, 0]]
    assert two.segments.id.tolist() == [4002] and two.id_map.tolist() == [[1, 0, 0, 0, 0]]
    assert three.segments.category_id.tolist() == [1] and three.id_map.tolist() == [[0, 1, 0, 0, 0]]


def test_datumaro_fixture_photos_are_refused(tmp_path):
    """Read as is, the 1x5 photo of a 5x1 map stops the reader (one line naming the photo);
    validate reports each of the three."""
    with pytest.raises(SegtoolError, match="the photo is 1x5 but its annotation is 5x1") as err:
        segtool.read(DATA)
    assert err.value.path.endswith("train/images/1.jpg")
    result = CliRunner().invoke(main, ["convert", str(DATA), str(tmp_path / "o.json"), "--to", "coco-instance"])
    assert_bad_input(result, "1.jpg", "1x5")
    report = validate_mots(DATA)
    assert [(f.code, f.image_id) for f in report.findings] == [
        ("image-size", "train/1"),
        ("image-size", "train/2"),
        ("image-size", "val/3"),
    ]
    assert report.stats["objects"] == 5


# a KITTI MOTS frame: car track 1, pedestrian track 3, an ignore region, background
FRAME = [[1001, 1001, 0, 2003], [10000, 0, 2003, 2003], [1001, 0, 0, 0]]


def _kitti_mots(root: Path, values=FRAME, photo: tuple[int, int] | None = (4, 3)) -> Path:
    path = root / "instances" / "0002" / "000000.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values, np.uint16)).save(path)
    if photo is not None:
        (root / "images" / "0002").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", photo).save(root / "images" / "0002" / "000000.png")
    return root


def test_kitti_mots_png(tmp_path):
    """Without labels.txt: 1 car, 2 pedestrian; 10000 an ignore region (void, counted)."""
    root = _kitti_mots(tmp_path / "m")
    ds = segtool.read(root)
    assert [(c.id, c.name) for c in ds.categories] == [(1, "car"), (2, "pedestrian")]
    assert ds.samples[0].image.id == "0002/000000" and ds.samples[0].image.file_name == "images/0002/000000.png"
    ann = ds.samples[0].load()
    assert ann.segments.id.tolist() == [1001, 2003] and ann.segments.category_id.tolist() == [1, 2]
    assert ann.segments.area.tolist() == [3, 3]
    assert ann.id_map.tolist() == [[1, 1, 0, 2], [0, 0, 2, 2], [1, 0, 0, 0]]
    assert dict(ann.dropped) == {mots.IGNORED: 1}


def _rle(mask: np.ndarray) -> str:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode("ascii")


CAR = np.array([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], bool)
PED = np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1]], bool)
IGN = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 0, 0]], bool)


def _txt(root: Path, lines: list[str]) -> Path:
    folder = root / "instances_txt"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0004.txt").write_text("".join(f"{line}\n" for line in lines))
    return root


def _lines() -> list[str]:
    """Frame 0: car 1001 and the ignore region; frame 7: pedestrian 2005 and car 1001."""
    return [
        f"0 1001 1 3 5 {_rle(CAR)}",
        f"0 10000 10 3 5 {_rle(IGN)}",
        f"7 2005 2 3 5 {_rle(PED)}",
        f"7 1001 1 3 5 {_rle(CAR)}",
    ]


def test_mots_txt(tmp_path):
    """Each frame one image (``<seq>/<frame:06d>``), each line one object decoded to exactly
    the mask pycocotools encoded; the ignore region void."""
    root = _txt(tmp_path / "t", _lines())
    assert formats.detect(root) == "mots"
    assert mots.detect(root / "instances_txt" / "0004.txt").confidence == "strong"
    ds = segtool.read(root)
    assert [(s.image.id, s.image.file_name, s.image.width, s.image.height) for s in ds.samples] == [
        ("0004/000000", "0004/000000.png", 5, 3),
        ("0004/000007", "0004/000007.png", 5, 3),
    ]
    first, second = (s.load() for s in ds.samples)
    assert first.segments.id.tolist() == [1001] and (first.id_map == 1).tolist() == CAR.tolist()
    assert dict(first.dropped) == {mots.IGNORED: 3}
    assert second.segments.id.tolist() == [2005, 1001] and second.segments.category_id.tolist() == [2, 1]
    assert (second.id_map == 1).tolist() == PED.tolist() and (second.id_map == 2).tolist() == CAR.tolist()
    assert len(segtool.read(root / "instances_txt" / "0004.txt").samples) == 2  # one file alone


def test_convert_txt_and_png_to_coco(tmp_path):
    """The CLI end to end: coco-instance RLEs decode (pycocotools) to the masks written in
    the txt; coco-panoptic's PNG ids cover what its segments_info says."""
    root = _txt(tmp_path / "t", _lines())
    runner = CliRunner()
    result = runner.invoke(main, ["convert", str(root), str(tmp_path / "i.json"), "--to", "coco-instance"])
    assert result.exit_code == 0, result.output
    coco = json.loads((tmp_path / "i.json").read_text())
    got = {
        (a["image_id"], a["category_id"]): mask_utils.decode(a["segmentation"]).astype(bool)
        for a in coco["annotations"]
    }
    assert set(got) == {("0004/000000", 1), ("0004/000007", 1), ("0004/000007", 2)}
    assert (got[("0004/000000", 1)] == CAR).all() and (got[("0004/000007", 2)] == PED).all()
    png_root = _kitti_mots(tmp_path / "m")
    result = runner.invoke(main, ["convert", str(png_root), str(tmp_path / "p.json"), "--to", "coco-panoptic"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads((tmp_path / "p.json").read_text())["annotations"]
    rgb = np.asarray(Image.open(tmp_path / "p" / record["file_name"])).astype(np.int64)
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    assert sorted((s["category_id"], s["area"]) for s in record["segments_info"]) == [(1, 3), (2, 3)]
    for seg in record["segments_info"]:
        assert int((ids == seg["id"]).sum()) == seg["area"]


# ---------------------------------------------------------------- checks and bad input


def _overlap(root: Path) -> Path:
    return _txt(root, [f"0 1001 1 3 5 {_rle(CAR)}", f"0 2001 2 3 5 {_rle(CAR | PED)}"])


BROKEN = {
    "mots-overlap": (_overlap, ("0004.txt", "objects 1001 and 2001 overlap (4 px")),
    "mots-unknown-class": (
        lambda root: _kitti_mots(root, [[3001, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]),
        ("000000.png", "3001 (class 3)"),
    ),
    "mots-line-invalid": (
        lambda root: _txt(root, [f"0 2001 1 3 5 {_rle(CAR)}"]),
        ("0004.txt", "id 2001 is not class_id 1"),
    ),
    "image-size": (lambda root: _kitti_mots(root, photo=(3, 4)), ("000000.png", "the photo is 3x4")),
    "label-mode": (
        lambda root: (_kitti_mots(root), Image.new("L", (4, 3)).save(root / "instances/0002/000000.png")),
        ("000000.png", "16-bit"),
    ),
}
COVERED = {"mots-overlap", "mots-unknown-class", "mots-line-invalid"}


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_one_broken_dataset_per_code(tmp_path, code):
    root = tmp_path / "m"
    BROKEN[code][0](root)
    assert [f.code for f in validate_mots(root).findings] == [code]


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_bad_input_is_one_line_exit_2(tmp_path, code):
    root = tmp_path / "m"
    BROKEN[code][0](root)
    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["convert", str(root), str(out), "--to", "coco-instance"])
    assert_bad_input(result, *BROKEN[code][1])
    assert not out.exists()


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("0 1001 1 3 5", "is not 'frame id class_id height width rle'"),
        ("0 1001 1 3 5 ~~~~", "cannot be decoded"),
        ("0 1001 1 3 x abc", "is not 'frame id"),
        ("0 1001 1 0 5 abc", "no image size"),
        ("0 1001 1 99999 99999 abc", "pixels"),
    ],
)
def test_hostile_lines(tmp_path, line, needle):
    root = _txt(tmp_path / "t", [line])
    result = CliRunner().invoke(main, ["convert", str(root), str(tmp_path / "o.json"), "--to", "coco-instance"])
    assert_bad_input(result, needle)


def test_repeated_id_and_other_size_in_a_frame(tmp_path):
    root = _txt(
        tmp_path / "t", [f"0 1001 1 3 5 {_rle(CAR)}", f"0 1001 1 3 5 {_rle(PED)}", f"0 1002 1 5 3 {_rle(CAR.T)}"]
    )
    report = validate_mots(root)
    messages = [f.message for f in report.findings]
    assert [f.code for f in report.findings] == ["mots-line-invalid"] * 2
    assert "line 2: id 1001 twice in the frame" in messages[0] and "line 3: size 5x3" in messages[1]


def test_subsets_with_different_labels(tmp_path):
    for subset, names in (("train", "a\nb\n"), ("val", "a\nc\n")):
        _kitti_mots(tmp_path / subset, [[1001, 0, 0, 0]] * 3, photo=None)
        (tmp_path / subset / "instances" / "labels.txt").write_text(names)
    with pytest.raises(SegtoolError, match="classes differ") as err:
        segtool.read(tmp_path)
    assert err.value.path.endswith("val/instances/labels.txt")


# ---------------------------------------------------------------- generated at random

OBJECT_IDS = st.sampled_from([0, 0, 1001, 1002, 2001, 2005, 10000])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(OBJECT_IDS, min_size=12, max_size=12))
def test_png_and_txt_of_one_frame_agree(tmp_path_factory, flat):
    """One random frame written both ways (a 16-bit PNG; txt lines of pycocotools-encoded
    masks): each pixel of an object reads as that object (id = the value, class = id //
    1000), 10000 and 0 void, in both variants alike."""
    values = np.array(flat, np.int64).reshape(3, 4)
    root = tmp_path_factory.mktemp("m")
    _kitti_mots(root / "png", values.tolist(), photo=None)
    lines = [f"0 {v} {v // 1000} 3 4 {_rle(values == v)}" for v in sorted(set(flat) - {0})]
    _txt(root / "txt", lines)
    for variant in ("png", "txt") if lines else ("png",):  # a txt with no line holds no image
        ann = segtool.read(root / variant).samples[0].load()
        ids = np.concatenate([[0], ann.segments.id])[ann.id_map]
        assert (ids == np.where(values == 10000, 0, values)).all(), variant
        assert (ann.segments.category_id == ann.segments.id // 1000).all()
        ignored = int((values == 10000).sum())
        assert (ann.dropped or {}).get(mots.IGNORED, 0) == ignored


def test_validate_cli_and_counts(tmp_path):
    """validate on a txt folder and a PNG tree through the CLI; count_images for progress."""
    txt = _txt(tmp_path / "t", _lines())
    result = CliRunner().invoke(main, ["validate", str(txt)])
    assert result.exit_code == 0, result.output
    png = _kitti_mots(tmp_path / "m")
    assert mots.count_images(png) == 1 and mots.count_images(txt) is None
    result = CliRunner().invoke(main, ["validate", str(_overlap(tmp_path / "o"))])
    assert result.exit_code == 1 and "mots-overlap" in result.output


def test_vistas_split_and_version_folders_are_not_claimed_as_mots():
    """Mapillary Vistas keeps a 16-bit instances/ beside labels/ in each version folder: MOTS
    takes that only weakly, so the mapillary format wins without --from."""
    from segtool import formats

    vistas = Path(__file__).parent / "data" / "datumaro" / "mapillary_vistas"
    for folder in (vistas, vistas / "train", vistas / "train" / "v1.2", vistas / "val" / "v2.0"):
        assert formats.detect(folder) == "mapillary", folder
    assert formats.REGISTRY["mots"].detect(vistas / "train" / "v1.2").confidence == "weak"
