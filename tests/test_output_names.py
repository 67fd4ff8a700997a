"""Output names of the writers (issues 11, 12): the stem when the stems are unique, else the
image's path without suffix (its shared folders left out), kept as folders where the format
allows them (coco-panoptic, yolo-seg, cityscapes) or joined with ``__`` where its reader reads
one folder. Multi-sequence sources convert: a MOTS tree of sequences (datumaro's PNGs, MIT)
and a KITTI-STEP tree to coco-panoptic and back, a LabelMe folder whose images lie in two
folders under one stem and datumaro's CVAT project export (one stem in each subset) to every
writer, every pixel and category checked against the
source's pixels. Names that collide even with their folders, or whose folders leave the
output, are refused in one line and nothing is written."""

from __future__ import annotations

import json
import posixpath
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

import segtool
from segtool.cli import main
from segtool.errors import SegtoolError
from segtool.formats.mask_folder import file_stem
from segtool.model import Annotation, Dataset, ImageInfo
from segtool.naming import FLAT, image_path, output_names

MOTS = Path(__file__).parent / "data" / "datumaro" / "mots_png"
WRITERS = ("coco-panoptic", "mapillary", "labelme", "masks", "semantic", "yolo-seg", "cityscapes", "voc", "camvid")
WRITERS += ("ade20k",)
SEMANTIC = ("semantic", "camvid", "ade20k")  # label maps: a class per pixel, no instances
VOID_NAMES = ("", "background", "unlabeled")


# ---------------------------------------------------------------- the rule


def test_unique_stems_keep_their_names():
    """Distinct stems: the stem, whatever the folders (every existing output unchanged)."""
    assert output_names(["a/1.jpg", "b/2.png", "3"], "dst", suffix=".png") == ["1.png", "2.png", "3.png"]
    assert output_names(["train/x.jpg", "val/x.jpg"], "dst", groups=["train", "val"]) == ["x", "x"]


def test_repeated_stems_keep_their_folders():
    """The folders all images share are left out; a flat format joins the rest with ``__``."""
    files = ["images/0002/000001.jpg", "images/0003/000001.jpg", "images/0003/000002.jpg"]
    assert output_names(files, "dst", suffix=".png") == ["0002/000001.png", "0003/000001.png", "0003/000002.png"]
    assert output_names(files, "dst", flat=True) == ["0002__000001", "0003__000001", "0003__000002"]
    assert FLAT == "__"
    windows = ["a\\x.jpg", "b\\x.jpg"]
    assert output_names(windows, "dst") == ["a\\x", "b\\x"]  # a POSIX stem holds the backslash, as before
    assert output_names(windows, "dst", stem=file_stem) == ["a/x", "b/x"]  # masks reads it as a folder
    assert output_names(["x.jpg", "sub/x.jpg"], "dst") == ["x", "sub/x"]


def test_a_subset_is_a_folder():
    """A CVAT project's subset (``extra["subset"]``) is the image's folder; a subset that is
    no plain folder name is left out."""
    assert image_path(ImageInfo(1, "img0.jpg", 8, 8, {"subset": "Test"})) == "Test/img0.jpg"
    for odd in ("", "..", "a/b", "a\\b", 3):
        assert image_path(ImageInfo(1, "img0.jpg", 8, 8, {"subset": odd})) == "img0.jpg"
    assert image_path(ImageInfo(1, "x/img0.jpg", 8, 8)) == "x/img0.jpg"


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        (["a/x.jpg", "a/x.png"], "share the output name x.png, even with their folders"),
        (["a/b/x.jpg", "a__b/x.jpg"], "share the output name a__b__x.png, even with their folders"),
        (["../../up/x.jpg", "b/x.jpg"], "file name '../../up/x.jpg' cannot name one"),
        (["/abs/x.jpg", "b/x.jpg"], "file name '/abs/x.jpg' cannot name one"),
        (["C:/x.jpg", "b/x.jpg"], "cannot name one"),
        (["a/../x.jpg", "b/x.jpg"], "cannot name one"),
        (["a/x\0.jpg", "b/x.jpg"], "holds a NUL character"),
    ],
)
def test_refused_names(files, needle):
    """Still colliding, or leaving the output: one line naming the destination."""
    with pytest.raises(SegtoolError, match=needle) as err:
        output_names(files, "dst", flat="__" in needle, suffix=".png")
    assert err.value.path == "dst" and "\n" not in str(err.value)


@given(st.lists(st.text(st.sampled_from("ab./\\_\0:"), min_size=1, max_size=8), min_size=1, max_size=6))
def test_names_are_distinct_and_stay_inside(files):
    """Any list of file names: refused in one line, or distinct names that stay under DST."""
    for flat in (False, True):
        try:
            names = output_names(files, "dst", flat=flat, suffix=".png")
        except SegtoolError as exc:
            assert "\n" not in str(exc)
            continue
        assert len(set(names)) == len(names)
        for name in names:  # as a POSIX file system joins it (a backslash is a character)
            assert posixpath.normpath(posixpath.join("/dst", name)).startswith("/dst/")


# ---------------------------------------------------------------- pixels


def _pixels(ann: Annotation, names: dict[int, str]) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """(category name per pixel, "" void; segment number per pixel, 0 void) of an annotation."""
    h, w = ann.image.height, ann.image.width
    index = np.zeros((h, w), np.int64)
    if ann.rles is None:
        index[:] = ann.index_map()
    else:
        for k, rle in enumerate(ann.rles):
            mask = mask_utils.decode(rle).astype(bool)
            assert not (index[mask] > 0).any()  # the sources here have no overlap
            index[mask] = k + 1
    cats = np.array([""] + [names[int(c)] for c in ann.segments.category_id], dtype=object)
    cat = cats[index]
    cat[np.isin(cat, VOID_NAMES)] = ""
    index[cat == ""] = 0
    return cat, index


def _same(got: tuple[Any, Any], want: tuple[Any, Any], instances: bool, where: str) -> None:
    """The same category at every pixel; with ``instances``, the same partition into segments."""
    assert got[0].shape == want[0].shape, where
    assert (got[0] == want[0]).all(), (where, got[0].tolist(), want[0].tolist())
    if instances:
        pairs = {(int(a), int(b)) for a, b in zip(got[1].ravel(), want[1].ravel(), strict=True)}
        assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs}), where


def _by_name(ds: Dataset) -> dict[str, tuple[Any, Any]]:
    names = {c.id: c.name for c in ds.categories}
    return {f"{s.image.id} {s.image.file_name}": _pixels(s.load(), names) for s in ds.samples}


# ---------------------------------------------------------------- MOTS and KITTI-STEP


def _mots_sequences(root: Path) -> Path:
    """datumaro's three MOTS PNGs as two KITTI MOTS sequences: ``instances/0002/000001.png``
    (its 1.png), ``instances/0003/000001.png`` (3.png) and ``instances/0003/000002.png`` (2.png)."""
    for seq, frame, src in (("0002", 1, "train/instances/1.png"), ("0003", 1, "val/instances/3.png")):
        (root / "instances" / seq).mkdir(parents=True, exist_ok=True)
        shutil.copy(MOTS / src, root / "instances" / seq / f"{frame:06d}.png")
    shutil.copy(MOTS / "train/instances/2.png", root / "instances/0003/000002.png")
    shutil.copy(MOTS / "train/instances/labels.txt", root / "instances/labels.txt")
    return root


def _mots_truth(root: Path) -> dict[str, tuple[Any, Any]]:
    """The maps as PIL decodes them: class = value // 1000 (line of labels.txt), the segment
    the MOTS id; 0 background (the fixture's documented encoding)."""
    lines = (root / "instances/labels.txt").read_text().split()
    out = {}
    for png in sorted((root / "instances").rglob("*.png")):
        with Image.open(png) as im:
            values = np.asarray(im).astype(np.int64)
        cat = np.array(["", *lines], dtype=object)[values // 1000]
        out[png.relative_to(root / "instances").with_suffix("").as_posix()] = (cat, values)
    return out


def test_mots_sequences_to_coco_panoptic_and_back(tmp_path):
    """Frame 000001 of two sequences: ``0002/000001.png`` and ``0003/000001.png`` beside
    ``0003/000002.png`` in the PNG folder, as panopticapi joins file_name to it; read back
    (and as PIL decodes the written PNGs) with every pixel's class and track kept."""
    src = _mots_sequences(tmp_path / "mots")
    truth = _mots_truth(src)
    assert truth["0002/000001"][1].tolist() == [[4003, 4003, 3002, 4001, 0]]  # the fixture's facts
    dst = tmp_path / "pan.json"
    segtool.convert(src, dst, "coco-panoptic")
    data = json.loads(dst.read_text())
    assert [a["file_name"] for a in data["annotations"]] == ["0002/000001.png", "0003/000001.png", "0003/000002.png"]
    names = {c["id"]: c["name"] for c in data["categories"]}
    for ann in data["annotations"]:
        with Image.open(tmp_path / "pan" / ann["file_name"]) as im:
            rgb = np.asarray(im.convert("RGB")).astype(np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        by_id = {s["id"]: names[s["category_id"]] for s in ann["segments_info"]}
        cat = np.vectorize(lambda i, by_id=by_id: by_id.get(int(i), ""), otypes=[object])(ids)
        _same((cat, ids), truth[ann["file_name"][:-4]], True, ann["file_name"])
    back = _by_name(segtool.read(dst))
    assert sorted(back) == [f"{k} {k}.png" for k in sorted(truth)]  # image ids and file names kept
    for key, want in truth.items():
        _same(back[f"{key} {key}.png"], want, True, key)


def test_kitti_step_to_coco_panoptic(tmp_path):
    """KITTI-STEP: ``panoptic_maps/train/<seq>/000000.png`` in two sequences (R = trainId,
    G * 256 + B = track; 13 car, 11 person, 0 road, 255 void: the format's documentation)."""
    maps = {
        "0001": [[[13, 0, 1], [13, 0, 1], [0, 0, 0]], [[11, 0, 2], [255, 0, 0], [0, 0, 0]]],
        "0002": [[[0, 0, 0], [13, 1, 0], [13, 1, 0]], [[13, 0, 7], [13, 0, 7], [255, 0, 0]]],
    }
    names = {13: "car", 11: "person", 0: "road", 255: ""}
    for seq, rgb in maps.items():
        path = tmp_path / "step" / "panoptic_maps" / "train" / seq / "000000.png"
        path.parent.mkdir(parents=True)
        Image.fromarray(np.array(rgb, np.uint8), "RGB").save(path)
    dst = tmp_path / "pan.json"
    segtool.convert(tmp_path / "step", dst, "coco-panoptic")
    data = json.loads(dst.read_text())
    assert [a["file_name"] for a in data["annotations"]] == ["0001/000000.png", "0002/000000.png"]
    back = _by_name(segtool.read(dst))
    for seq, rgb in maps.items():
        arr = np.array(rgb, np.int64)
        cat = np.vectorize(lambda r: names[int(r)], otypes=[object])(arr[..., 0])
        segment = np.where(cat == "", 0, arr[..., 0] * 65536 + arr[..., 1] * 256 + arr[..., 2] + 1)
        _same(back[f"train/{seq}/000000 train/{seq}/000000.png"], (cat, segment), True, seq)


# ---------------------------------------------------------------- a LabelMe tree, every writer


def _rect(label: str, x0: int, y0: int, x1: int, y1: int) -> dict[str, Any]:
    pts = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    return {"label": label, "points": pts, "group_id": None, "shape_type": "polygon", "flags": {}}


def _labelme_tree(root: Path) -> Path:
    """Two JSONs whose images are ``seq1/000001.jpg`` and ``seq2/000001.jpg`` (one stem), a
    car and a person in each (two cars in the second), no overlap."""
    shapes = {
        "seq1": [_rect("car", 1, 1, 6, 4), _rect("person", 7, 2, 9, 6)],
        "seq2": [_rect("person", 0, 0, 3, 3), _rect("car", 4, 4, 9, 7), _rect("car", 0, 5, 2, 7)],
    }
    root.mkdir(parents=True)
    for n, (seq, found) in enumerate(shapes.items()):
        record = {"version": "5.4.1", "flags": {}, "shapes": found, "imagePath": f"{seq}/000001.jpg"}
        (root / f"{'ab'[n]}.json").write_text(
            json.dumps(record | {"imageData": None, "imageHeight": 8, "imageWidth": 10})
        )
    return root


def _seq(key: str) -> str:
    found = [s for s in ("seq1", "seq2") if s in key]
    assert len(found) == 1, key
    return found[0]


@pytest.mark.parametrize("fmt", WRITERS)
def test_labelme_tree_with_one_stem_to_each_writer(tmp_path, fmt):
    """Each writer names the two images apart and its reader reads them back: every pixel's
    category (and, but for label-map formats, its instance) as the LabelMe reader decodes it."""
    src = _labelme_tree(tmp_path / "lm")
    source = segtool.read(src)
    assert [s.image.file_name for s in source.samples] == ["seq1/000001.jpg", "seq2/000001.jpg"]
    want = {_seq(k): v for k, v in _by_name(source).items()}
    assert sorted(np.unique(want["seq2"][0]).tolist()) == ["", "car", "person"]
    dst = tmp_path / ("out.json" if fmt == "coco-panoptic" else "out")
    segtool.convert(src, dst, fmt)
    if fmt == "yolo-seg":  # labels are read beside images/<split>/ (Ultralytics): put the photos there
        for seq in ("seq1", "seq2"):
            (dst / "images/train" / seq).mkdir(parents=True)
            Image.new("RGB", (10, 8)).save(dst / "images/train" / seq / "000001.png")
        # outlines along pixel corners: pycocotools draws them back exactly (as test_yolo_seg checks)
        segtool.convert(dst, tmp_path / "back.json", "coco-instance", mask_encoding="polygon")
        back = segtool.read(tmp_path / "back.json")
    else:
        back = segtool.read(dst, fmt)
    got = {_seq(k): v for k, v in _by_name(back).items()}
    assert sorted(got) == ["seq1", "seq2"]
    for seq in ("seq1", "seq2"):
        _same(got[seq], want[seq], fmt not in SEMANTIC, f"{fmt} {seq}")
    if fmt != "yolo-seg":  # validate pairs the files by the same names: no label without its image
        res = CliRunner().invoke(main, ["validate", str(dst), "--json"])
        codes = {f["code"] for f in json.loads(res.stdout)["findings"]}
        assert not codes & {"label-missing", "label-without-image", "image-missing"}, (fmt, codes)


CVAT_PROJECT = Path(__file__).parent / "data" / "datumaro" / "cvat" / "for_images" / "export_project"


def _subset_image(key: str) -> str:
    found = [f"{s}/{i}" for s in ("Train", "Test", "Validation") for i in ("img0", "img1") if s in key and i in key]
    assert len(found) == 1, key
    return found[0]


@pytest.mark.parametrize("fmt", [f for f in WRITERS if f not in ("cityscapes", "yolo-seg")])
def test_cvat_project_subsets_to_each_writer(tmp_path, fmt):
    """datumaro's CVAT project export (MIT): ``img0.jpg`` and ``img1.jpg`` in each of the
    subsets Train, Test and Validation; the subset is the folder (``Test/img0.png``,
    ``Test__img0.png``), and all six images come back with their pixels. (Its labels are no
    Cityscapes labels; yolo-seg is read back beside photos: the LabelMe test covers both.)"""
    source = segtool.read(CVAT_PROJECT)
    assert [(s.image.file_name, s.image.extra["subset"]) for s in source.samples][:2] == [
        ("img0.jpg", "Test"),
        ("img1.jpg", "Test"),
    ]
    want = {
        _subset_image(f"{s.image.extra['subset']} {s.image.file_name}"): v
        for s, v in zip(source.samples, _by_name(source).values(), strict=True)
    }
    dst = tmp_path / ("out.json" if fmt == "coco-panoptic" else "out")
    segtool.convert(CVAT_PROJECT, dst, fmt)
    if fmt == "coco-panoptic":
        written = sorted(a["file_name"] for a in json.loads(dst.read_text())["annotations"])
        assert written == [f"{s}/img{i}.png" for s in ("Test", "Train", "Validation") for i in (0, 1)]
    back = segtool.read(dst, fmt)
    got = {}
    for s, v in zip(back.samples, _by_name(back).values(), strict=True):
        got[_subset_image(f"{s.image.id} {s.image.file_name} {s.image.extra.get('subset')}")] = v
    assert sorted(got) == sorted(want)
    for key, pixels in want.items():
        _same(got[key], pixels, fmt not in SEMANTIC, f"{fmt} {key}")


# ---------------------------------------------------------------- refusals


def _coco(path: Path, files: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [{"id": i, "file_name": f, "height": 4, "width": 4} for i, f in enumerate(files, start=1)]
    rle = mask_utils.encode(np.asfortranarray(np.ones((4, 4), np.uint8)))
    anns = [
        {"id": i, "image_id": i, "category_id": 1, "iscrowd": 0, "area": 16, "bbox": [0, 0, 4, 4]}
        | {"segmentation": {"size": [4, 4], "counts": rle["counts"].decode()}}
        for i in range(1, len(files) + 1)
    ]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "car"}]}))
    return path


@pytest.mark.parametrize("fmt", WRITERS)
def test_a_name_that_leaves_the_output_is_refused(tmp_path, fmt):
    """``../../evil/x.jpg`` beside ``seq/x.jpg``: one line (exit 2), nothing written, nothing
    outside DST."""
    src = _coco(tmp_path / "a" / "b" / "c.json", ["../../evil/x.jpg", "seq/x.jpg"])
    dst = tmp_path / "a" / "b" / ("out.json" if fmt == "coco-panoptic" else "out")
    result = CliRunner().invoke(main, ["convert", str(src), str(dst), "--to", fmt])
    assert result.exit_code == 2, result.output
    assert "cannot name one (absolute, with '..' or a NUL)" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["c.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_preview_names_renders_by_the_same_rule(tmp_path):
    """preview renders one image per file, named as the writers name outputs: two images of
    one stem in two folders give two renders (refused before)."""
    src = _labelme_tree(tmp_path / "lm")
    res = CliRunner().invoke(main, ["preview", str(src), str(tmp_path / "pv"), "--json"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "pv").glob("*.png")) == ["seq1__000001.png", "seq2__000001.png"]
