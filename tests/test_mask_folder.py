"""The masks format: a folder of binary mask PNGs, one per object. pycococreator's two real
examples (its shapes masks, RGBA black and white; its example_data masks, palette images
whose object is index 0 in one file and index 1 in another, with the COCO JSON
pycococreator made of them), every colour mode, generated edge cases, hostile files, one
broken folder per check code, and a round trip coco-instance -> masks -> coco-instance
that keeps every mask pixel for pixel (a property test).

Expected pixels come from Pillow's reading of the colours and from pycocotools' decoding of
pycococreator's JSON, never from segtool's reader.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

import segtool
from segtool import formats
from segtool.errors import SegtoolError
from segtool.formats import mask_folder
from segtool.formats.mask_folder_checks import validate_masks
from segtool.formats.mask_folder_rules import MaskName, parse_name
from tests.helpers import assert_bad_input, invoke

DATA = Path(__file__).parent / "data" / "pycococreator"
SHAPES = DATA / "binary_masks_shapes" / "train" / "annotations"
EXAMPLE = DATA / "example_data" / "annotations"
COCO = EXAMPLE / "coco_example.json"
COVERED = {"masks-bad-name", "masks-unknown-class", "masks-size-mismatch", "masks-not-binary"}  # below


def _white(path: Path) -> np.ndarray:
    """Pillow's reading of a mask: the pixels whose RGB colour is not black."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).any(axis=2)


def _decode(rle: dict[str, Any], h: int, w: int) -> np.ndarray:
    if isinstance(rle.get("counts"), list):
        rle = mask_utils.frPyObjects(rle, h, w)
    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"]}).astype(bool)


def _masks(ann: Any) -> list[np.ndarray]:
    h, w = ann.image.height, ann.image.width
    return [_decode(r, h, w) for r in ann.rles]


def _save(path: Path, mask: np.ndarray, mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).convert(mode).save(path)
    return path


def _square(h: int, w: int, y0: int, x0: int, y1: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


@pytest.mark.parametrize(
    ("stem", "image", "expected"),
    [
        ("1000_square_0", None, MaskName("1000", "square", False, 0)),
        ("my_photo_01_car_12", None, MaskName("my_photo_01", "car", False, 12)),
        ("100_crowd_1", None, MaskName("100", None, True, 1)),
        ("100_1", None, MaskName("100", None, False, 1)),
        ("a_person_crowd_3", None, MaskName("a", "person", True, 3)),
        ("traffic_light_4", "img", MaskName("img", "traffic_light", False, 4)),
        ("crowd_2", "img", MaskName("img", None, True, 2)),
        ("7", "img", MaskName("img", None, False, 7)),
        ("foo", None, None),
        ("a_b_x", None, None),
        ("_cls_1", None, None),
        ("a__1", None, None),
        ("a_b_1x", None, None),
        ("a_b_\u0661", None, None),  # an Arabic-Indic digit is no object number
    ],
)
def test_names(stem: str, image: str | None, expected: MaskName | None):
    """The documented split: n last, the crowd marker before it, the class before that, the
    image the rest (its underscores kept); a single field before n is an image without class."""
    assert parse_name(stem, image) == expected


@pytest.mark.parametrize(
    "folder",
    [
        SHAPES.parent,  # annotations/ seen from above: class "1000_square"
        EXAMPLE.parent,
        Path(__file__).parent / "data" / "datumaro" / "voc" / "voc_dataset1" / "SegmentationClass",
        Path(__file__).parent / "data" / "datumaro" / "kitti_segmentation" / "training",
        Path(__file__).parent / "data" / "mmsegmentation" / "semantic_png" / "gts",
    ],
)
def test_not_claimed(folder: Path):
    """Label-map folders named by index, and the folders above mask folders, are not masks."""
    assert folder.is_dir() and mask_folder.detect(folder).confidence == "no"


def test_shapes_fixture():
    """pycococreator's shapes: 2 images of 128x128, 5 RGBA black/white masks, square and
    circle; classes from the names in sorted order (circle 1, square 2); each mask's pixels
    are the white ones, in object-number order."""
    assert mask_folder.detect(SHAPES).confidence == "strong"
    assert formats.detect(SHAPES) == "masks"
    ds = segtool.read(SHAPES)
    assert ds.kind == "instance"
    assert [(c.id, c.name) for c in ds.categories] == [(1, "circle"), (2, "square")]
    assert [(s.image.id, s.image.width, s.image.height) for s in ds.samples] == [("1000", 128, 128), ("1001", 128, 128)]
    one, two = (s.load() for s in ds.samples)
    assert one.segments.category_id.tolist() == [2] and two.segments.category_id.tolist() == [1, 2, 2, 1]
    files = ["1000_square_0", "1001_circle_0", "1001_square_1", "1001_square_2", "1001_circle_3"]
    got = _masks(one) + _masks(two)
    for name, mask in zip(files, got, strict=True):
        expected = _white(SHAPES / f"{name}.png")
        assert expected.any() and (mask == expected).all(), name
    assert (one.segments.area.tolist() + two.segments.area.tolist()) == [float(m.sum()) for m in got]
    assert validate_masks(SHAPES).findings == []


def test_example_data_against_pycococreators_json():
    """pycococreator's example: the palettes differ (object at index 0 in 100_1, index 1 in
    100_crowd_1; white both times), so colours are read. The crowd mask equals the JSON's
    uncompressed RLE pixel for pixel (34073 px); the polygons, approximations, by IoU."""
    with Image.open(EXAMPLE / "100_1.png") as a, Image.open(EXAMPLE / "100_crowd_1.png") as b:
        assert a.mode == b.mode == "P"
        assert a.getpalette()[:6] == [255, 255, 255, 0, 0, 0] and b.getpalette()[:6] == [0, 0, 0, 255, 255, 255]
    assert formats.detect(EXAMPLE) == "masks"
    ds = segtool.read(EXAMPLE, "masks", categories=COCO)
    assert [(c.id, c.name, c.supercategory) for c in ds.categories] == [(1, "blueberry", "fruit")]
    (sample,) = ds.samples
    assert sample.image.file_name == "100.jpg"  # the photo in the sibling images/ folder
    ann = sample.load()
    assert ann.segments.iscrowd.tolist() == [False, True, False]
    got = dict(zip(["100_1", "100_crowd_1", "100_2"], _masks(ann), strict=True))
    coco = json.loads(COCO.read_text())
    expected = {}
    for rec in coco["annotations"]:
        segm = rec["segmentation"]
        rle = mask_utils.frPyObjects(segm, 256, 256)
        expected[rec["id"]] = mask_utils.decode(mask_utils.merge(rle) if isinstance(rle, list) else rle).astype(bool)
    assert expected[3].sum() == 34073 and (got["100_crowd_1"] == expected[3]).all()

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        return float((a & b).sum() / (a | b).sum())

    assert iou(got["100_1"], expected[2]) > 0.95 and iou(got["100_2"], expected[1]) > 0.95
    assert validate_masks(EXAMPLE, categories=COCO).findings == []


def test_read_decodes_no_mask(monkeypatch: pytest.MonkeyPatch):
    """read() parses names and reads one PNG header per image; masks decode on load only."""

    def refuse(*_: Any) -> None:
        raise AssertionError("a mask was decoded by read()")

    monkeypatch.setattr(mask_folder, "read_mask", refuse)
    ds = segtool.read(SHAPES, "masks")
    assert len(ds.samples) == 2 and mask_folder.count_images(SHAPES) == 2
    with pytest.raises(AssertionError, match="decoded"):
        ds.samples[0].load()


def test_example_without_categories_is_one_class_object():
    """Names without a class field and no categories file: the class ``object``."""
    ds = segtool.read(EXAMPLE, "masks")
    assert [(c.id, c.name) for c in ds.categories] == [(1, "object")]
    assert ds.samples[0].load().segments.category_id.tolist() == [1, 1, 1]


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_every_mode_reads_the_colour(tmp_path: Path, mode: str):
    """The same mask in every mode reads the same; a palette whose index 0 is white (the
    object) and index 1 black still gives the white pixels."""
    mask = _square(6, 5, 1, 1, 4, 3)
    if mode == "P":
        img = Image.fromarray(np.where(mask, 0, 1).astype(np.uint8), "P")
        img.putpalette([255, 255, 255, 0, 0, 0])
        img.save(tmp_path / "a_x_0.png")
    elif mode == "I;16":
        Image.fromarray(np.where(mask, 65535, 0).astype(np.uint16)).save(tmp_path / "a_x_0.png")
    else:
        _save(tmp_path / "a_x_0.png", mask, mode)
    (got,) = _masks(segtool.read(tmp_path, "masks").samples[0].load())
    assert (got == mask).all()


def test_rgba_colour_decides_not_alpha(tmp_path: Path):
    """RGBA: a black pixel is background whatever its alpha, a white one object."""
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[1, 1, :3] = 255  # white, opaque
    rgba[2, 2, :3], rgba[2, 2, 3] = 255, 0  # white, transparent: still the object
    rgba[3, 3, 3] = 0  # black, transparent: background
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a_x_0.png")
    (got,) = _masks(segtool.read(tmp_path, "masks").samples[0].load())
    assert np.argwhere(got).tolist() == [[1, 1], [2, 2]]


def test_generated_edge_cases(tmp_path: Path):
    """An empty mask (kept, area 0; validate warns), two masks that touch, a 1-pixel object
    in a corner, an image stem with underscores, layout 2 with the same masks."""
    h, w = 7, 9
    left, right = _square(h, w, 0, 0, 7, 4), _square(h, w, 0, 4, 7, 9)
    dot = np.zeros((h, w), bool)
    dot[6, 8] = True
    flat = tmp_path / "flat"
    _save(flat / "my_img_2_cat_0.png", left)
    _save(flat / "my_img_2_dog_1.png", right)
    _save(flat / "my_img_2_dog_2.png", dot)
    _save(flat / "my_img_2_dog_3.png", np.zeros((h, w), bool))
    nested = tmp_path / "nested"
    for name in ("cat_0", "dog_1", "dog_2", "dog_3"):
        (nested / "my_img_2").mkdir(parents=True, exist_ok=True)
        (nested / "my_img_2" / f"{name}.png").write_bytes((flat / f"my_img_2_{name}.png").read_bytes())
    for root in (flat, nested):
        assert formats.detect(root) == "masks"
        ds = segtool.read(root)
        (sample,) = ds.samples
        assert sample.image.id == "my_img_2" and (sample.image.height, sample.image.width) == (7, 9)
        ann = sample.load()
        assert ann.segments.category_id.tolist() == [1, 2, 2, 2]
        assert ann.segments.area.tolist() == [28.0, 35.0, 1.0, 0.0]
        assert ann.segments.bbox.tolist()[2] == [8.0, 6.0, 1.0, 1.0]
        got = _masks(ann)
        assert (got[0] == left).all() and (got[1] == right).all() and (got[2] == dot).all() and not got[3].any()
        report = validate_masks(root)
        assert [(f.code, Path(f.path).name) for f in report.findings] == [("empty-mask", Path(_m(root, 3)).name)]


def _m(root: Path, n: int) -> str:
    return str(next(root.rglob(f"*dog_{n}.png")))


def _broken(tmp_path: Path) -> Path:
    root = tmp_path / "broken"
    _save(root / "a_cat_0.png", _square(4, 4, 0, 0, 2, 2))
    return root


def test_check_codes(tmp_path: Path):
    """One broken folder per code; each the reader refuses with one line naming the file."""
    cases: dict[str, Any] = {}
    root = _broken(tmp_path / "name")
    _save(root / "README.png", _square(4, 4, 0, 0, 1, 1))
    cases["masks-bad-name"] = (root, None, "README.png")
    root = _broken(tmp_path / "size")
    _save(root / "a_cat_1.png", _square(5, 4, 0, 0, 1, 1))
    cases["masks-size-mismatch"] = (root, None, "a_cat_1.png")
    root = _broken(tmp_path / "colours")
    three = np.zeros((4, 4, 3), np.uint8)
    three[0, 0], three[1, 1] = (255, 255, 255), (255, 0, 0)
    Image.fromarray(three, "RGB").save(root / "a_cat_1.png")
    cases["masks-not-binary"] = (root, None, "a_cat_1.png")
    root = _broken(tmp_path / "unknown")
    _save(root / "a_dog_1.png", _square(4, 4, 0, 0, 1, 1))
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\n")
    cases["masks-unknown-class"] = (root, labels, "a_dog_1.png")
    assert set(cases) == COVERED
    for code, (root, cats, bad) in cases.items():
        found = validate_masks(root, categories=cats).findings
        assert [(f.code, Path(f.path).name) for f in found] == [(code, bad)], code
        with pytest.raises(SegtoolError) as err:
            ds = segtool.read(root, "masks", categories=cats)
            for s in ds.samples:
                s.load()
        assert err.value.path is not None and Path(err.value.path).name == bad, code


def test_two_colours_none_black_is_not_binary(tmp_path: Path):
    """White on grey has no black background: not a binary mask as documented."""
    Image.fromarray(np.array([[128, 255], [128, 128]], np.uint8), "L").save(tmp_path / "a_x_0.png")
    found = validate_masks(tmp_path).findings
    assert [f.code for f in found] == ["masks-not-binary"] and "none black" in found[0].message


def test_photo_size_checked(tmp_path: Path):
    """With --images, a photo of another size than the masks is masks-size-mismatch and a
    missing one image-file-missing."""
    root = _broken(tmp_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (5, 4)).save(photos / "a.jpg")
    found = validate_masks(root, images_dir=photos).findings
    assert [(f.code, Path(f.path).name) for f in found] == [("masks-size-mismatch", "a.jpg")]
    (photos / "a.jpg").unlink()
    assert [f.code for f in validate_masks(root, images_dir=photos).findings] == ["image-file-missing"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"", "a_cat_1.png"), (b"not a png at all", "a_cat_1.png"), (b"\x89PNG\r\n\x1a\n\0\0", "a_cat_1.png")],
)
def test_hostile_files_one_line_exit_2(tmp_path: Path, content: bytes, needle: str):
    """A zero-size file, text named .png, a truncated PNG: validate reports png-unreadable;
    convert exits 2 with one line naming the file, writing nothing."""
    root = _broken(tmp_path)
    (root / "a_cat_1.png").write_bytes(content)
    assert [f.code for f in validate_masks(root).findings] == ["png-unreadable"]
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(CliRunner(), "convert", root, out / "c.json", "--to", "coco-instance", "--from", "masks")
    assert_bad_input(result, needle)
    assert list(out.iterdir()) == []


def test_hostile_folder_contents(tmp_path: Path):
    """A FIFO named as a mask (never opened for reading: no hang), a PNG header declaring
    10^10 pixels (the pixels limit), a masks.json that is no JSON: one line, exit 2."""
    runner = CliRunner()
    fifo = _broken(tmp_path / "fifo")
    os.mkfifo(fifo / "a_cat_1.png")
    big = _broken(tmp_path / "big")
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    (big / "b_cat_0.png").write_bytes(head + b"\0\0\0\0IEND\xaeB`\x82")
    meta = _broken(tmp_path / "meta")
    (meta / "masks.json").write_text('{"images": [1,')
    for root, needle in ((fifo, "a_cat_1.png"), (big, "b_cat_0.png"), (meta, "masks.json")):
        out = tmp_path / f"{root.name}.json"
        assert_bad_input(invoke(runner, "convert", root, out, "--to", "coco-instance", "--from", "masks"), needle)
        assert not out.exists()
    assert [f.code for f in validate_masks(fifo).findings] == ["png-unreadable"]
    assert "png-unreadable" in {f.code for f in validate_masks(big).findings}


def test_cli_bad_name_and_three_colours(tmp_path: Path):
    """The CLI: a bad name and a 3-colour mask are one line, exit 2; validate exits 1."""
    root = _broken(tmp_path)
    three = np.zeros((4, 4), np.uint8)
    three[0, 0], three[1, 1] = 255, 100
    Image.fromarray(three, "L").save(root / "a_cat_1.png")
    runner = CliRunner()
    assert_bad_input(invoke(runner, "convert", root, tmp_path / "c.json", "--to", "coco-instance"), "a_cat_1.png")
    result = invoke(runner, "validate", root)
    assert result.exit_code == 1 and "masks-not-binary" in result.output


def _coco(images: list[dict[str, Any]], anns: list[dict[str, Any]], cats: list[dict[str, Any]]) -> dict[str, Any]:
    return {"images": images, "annotations": anns, "categories": cats}


def _rle(mask: np.ndarray) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def _pixels_by_image(path: Path) -> dict[Any, list[tuple[int, bool, bytes]]]:
    """Each image's masks as (category, crowd, packed pixels), decoded by pycocotools."""
    data = json.loads(path.read_text())
    size = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    by_name = {im["id"]: im["file_name"] for im in data["images"]}
    out: dict[Any, list[tuple[int, bool, bytes]]] = {by_name[i]: [] for i in size}
    for a in data["annotations"]:
        h, w = size[a["image_id"]]
        m = _decode(a["segmentation"], h, w)
        out[by_name[a["image_id"]]].append((a["category_id"], bool(a["iscrowd"]), np.packbits(m).tobytes()))
    return out


masks_st = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 6), st.integers(1, 6), st.sampled_from([3, 7, 12])),
    max_size=5,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    images=st.lists(st.tuples(masks_st, st.integers(4, 9), st.integers(4, 9)), min_size=1, max_size=3),
    crowd=st.lists(st.booleans(), min_size=15, max_size=15),
)
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory, images: Any, crowd: list[bool]):
    """coco-instance -> masks -> coco-instance keeps every mask pixel for pixel, its
    category (ids 3, 7, 12, one named with an underscore), crowd flag and image record;
    overlapping and empty-image cases included (masks hold overlaps)."""
    tmp = tmp_path_factory.mktemp("rt")
    cats = [{"id": 3, "name": "cat"}, {"id": 7, "name": "traffic_light"}, {"id": 12, "name": "crowd"}]
    recs, anns = [], []
    for i, (boxes, h, w) in enumerate(images, start=1):
        recs.append({"id": i * 10, "file_name": f"dir/im_{i}_x.jpg", "height": h, "width": w})
        for x, y, bw, bh, cid in boxes:
            m = np.zeros((h, w), bool)
            m[y : y + bh, x : x + bw] = True
            if not m.any():
                continue
            k = len(anns)
            anns.append({"id": k + 1, "image_id": i * 10, "category_id": cid, "segmentation": _rle(m),
                         "iscrowd": int(crowd[k % 15]), "area": int(m.sum()), "bbox": [0, 0, 1, 1]})  # fmt: skip
    src = tmp / "a.json"
    src.write_text(json.dumps(_coco(recs, anns, cats)))
    segtool.convert(src, tmp / "m", "masks")
    segtool.convert(tmp / "m", tmp / "b.json", "coco-instance")
    assert _pixels_by_image(tmp / "b.json") == _pixels_by_image(src)
    back = json.loads((tmp / "b.json").read_text())
    assert [(im["id"], im["file_name"]) for im in back["images"]] == [(r["id"], r["file_name"]) for r in recs]
    assert [(c["id"], c["name"]) for c in back["categories"]] == [(c["id"], c["name"]) for c in cats]


def test_writer_names_and_safety(tmp_path: Path):
    """Names <stem>_<class>_<n>.png, the crowd marked, a class that is no safe name field
    written as its id; a file_name with folders writes inside the output folder only;
    two images with one stem are refused."""
    m = _square(4, 4, 0, 0, 2, 2)
    recs = [{"id": 1, "file_name": "../../up/evil.jpg", "height": 4, "width": 4}]
    anns = [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "segmentation": _rle(m),
            "iscrowd": 0,
            "area": 4,
            "bbox": [0, 0, 2, 2],
        },
        {
            "id": 2,
            "image_id": 1,
            "category_id": 2,
            "segmentation": _rle(m),
            "iscrowd": 1,
            "area": 4,
            "bbox": [0, 0, 2, 2],
        },
    ]
    src = tmp_path / "a.json"
    src.write_text(json.dumps(_coco(recs, anns, [{"id": 1, "name": "cat"}, {"id": 2, "name": "a b/c"}])))
    segtool.convert(src, tmp_path / "out", "masks")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "evil_2_crowd_1.png",
        "evil_cat_0.png",
        "masks.json",
    ]
    assert not (tmp_path / "up").exists()
    with Image.open(tmp_path / "out" / "evil_cat_0.png") as im:
        assert im.mode == "L" and (np.asarray(im) == np.where(m, 255, 0)).all()
    recs.append({"id": 2, "file_name": "other/evil.png", "height": 4, "width": 4})
    src.write_text(json.dumps(_coco(recs, anns, [{"id": 1, "name": "cat"}, {"id": 2, "name": "x"}])))
    with pytest.raises(SegtoolError, match="share the output name"):
        segtool.convert(src, tmp_path / "out2", "masks")


def test_cli_convert_and_validate_end_to_end(tmp_path: Path):
    """pycococreator's JSON -> masks -> coco-instance with the CLI; the masks folder
    validates clean, and its crowd mask is the JSON's RLE pixel for pixel."""
    runner = CliRunner()
    out = tmp_path / "m"
    result = invoke(runner, "convert", COCO, out, "--to", "masks")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.png")) == [
        "100_blueberry_0.png",
        "100_blueberry_1.png",
        "100_blueberry_crowd_2.png",
    ]
    result = invoke(runner, "validate", out)
    assert result.exit_code == 0, result.output
    crowd = json.loads(COCO.read_text())["annotations"][2]["segmentation"]
    assert (_white(out / "100_blueberry_crowd_2.png") == _decode(crowd, 256, 256)).all()
    result = invoke(runner, "convert", out, tmp_path / "b.json", "--to", "coco-instance")
    assert result.exit_code == 0, result.output
    back = json.loads((tmp_path / "b.json").read_text())
    assert back["images"][0]["id"] == 1 and back["categories"][0]["name"] == "blueberry"
    assert [a["iscrowd"] for a in back["annotations"]] == [0, 0, 1]
