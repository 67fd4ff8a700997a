"""The sa1b format (Segment Anything's SA-1B per-image JSONs): datumaro's real fixture
(its masks against pycocotools' own decode and its stored areas and boxes; its second file,
whose RLE is 5x10 for a 10x5 image, refused by the reader and reported by validate);
generated folders decoded pixel for pixel against pycocotools; detection; the per-object
extras; validate's checks, one broken file each (coco-instance's codes); bad input is one
line and exit 2.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools import mask as mask_utils

from segtool import formats
from segtool.checks.tolerance import Tolerance
from segtool.errors import SegtoolError
from segtool.formats import sa1b
from segtool.formats.sa1b_checks import validate_sa1b
from tests.helpers import assert_bad_input, invoke

REAL = Path(__file__).parent / "data" / "datumaro" / "segment_anything"  # openvinotoolkit/datumaro, MIT
EXTRA = ("predicted_iou", "stability_score", "crop_box", "point_coords")


def _encode(mask: np.ndarray) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _generated(folder: Path, images: int = 3, objects: int = 6, seed: int = 0) -> dict[str, Any]:
    """SA-1B JSONs of random overlapping masks (blobs and boxes), their JPGs beside; returns
    the masks by (image id, annotation id)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[Any, Any] = {}
    for i in range(images):
        h, w = int(rng.integers(20, 60)), int(rng.integers(20, 60))
        iid = 1000 + i
        anns = []
        for k in range(objects):
            mask = np.zeros((h, w), bool)
            y0, x0 = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4))
            mask[y0 : y0 + int(rng.integers(2, h - y0)), x0 : x0 + int(rng.integers(2, w - x0))] = True
            mask &= rng.random((h, w)) < 0.8  # holes and scattered pixels
            rle = _encode(mask)
            truth[iid, 7 * k + 3] = mask
            anns.append(
                {
                    "id": 7 * k + 3,
                    "segmentation": rle,
                    "bbox": [float(v) for v in mask_utils.toBbox({**rle, "counts": rle["counts"].encode()})],
                    "area": int(mask.sum()),
                    "predicted_iou": float(rng.random()),
                    "stability_score": float(rng.random()),
                    "crop_box": [0, 0, w, h],
                    "point_coords": [[float(x0), float(y0)]],
                }
            )
        name = f"sa_{iid}.jpg"
        Image.new("RGB", (w, h), (90, 90, 90)).save(folder / name)
        record = {"image": {"image_id": iid, "width": w, "height": h, "file_name": name}, "annotations": anns}
        (folder / f"sa_{iid}.json").write_text(json.dumps(record))
    return truth


def _decoded(ann) -> np.ndarray:
    """The loaded masks, (H, W, n), decoded by pycocotools from what segtool loaded."""
    return mask_utils.decode([{**r, "counts": r["counts"].encode()} for r in ann.rles])


def test_real_fixture_pixels_area_box_and_extras():
    """datumaro's a.json: the one mask equals pycocotools' decode of the file's RLE, pixel
    for pixel; area and box are the file's (4 px, [3, 1, 1, 4]) and pycocotools' own."""
    record = json.loads((REAL / "a.json").read_text())
    ds = formats.read(REAL / "a.json", "sa1b")
    assert [c.name for c in ds.categories] == ["object"] and ds.kind == "instance"
    (sample,) = ds.samples
    assert (sample.image.id, sample.image.file_name, sample.image.height, sample.image.width) == (1, "a.jpg", 5, 10)
    ann = sample.load()
    src = record["annotations"][0]
    expected = mask_utils.decode({**src["segmentation"], "counts": src["segmentation"]["counts"].encode()})
    assert np.array_equal(_decoded(ann)[:, :, 0], expected)
    assert ann.segments.area.tolist() == [src["area"]] == [int(expected.sum())]
    assert ann.segments.bbox.tolist() == [src["bbox"]] == [[3.0, 1.0, 1.0, 4.0]]
    assert ann.segments.id.tolist() == [1] and ann.segments.category_id.tolist() == [1]
    (extra,) = sample.source.extras(sample.image)
    assert extra == {k: src[k] for k in EXTRA}


def test_real_fixture_b_rle_size_refused_and_reported():
    """b.json's RLE is [5, 10] for a 10 (high) x 5 (wide) image: the reader stops there
    (one line, exit 2), validate reports rle-size for it and nothing else."""
    with pytest.raises(SegtoolError, match="RLE size"):
        formats.read(REAL, "sa1b")
    result = invoke(CliRunner(), "convert", REAL, "/nonexistent-dir/out.json", "--to", "coco-instance")
    assert_bad_input(result, "b.json", "RLE size [5, 10] differs from the image size [10, 5]")
    found = validate_sa1b(REAL).findings
    assert [(f.code, Path(f.path).name, f.image_id, f.segment_id) for f in found] == [("rle-size", "b.json", 2, 1)]


def test_detection(tmp_path):
    assert formats.detect(REAL) == "sa1b"
    detected = sa1b.detect(REAL)
    assert detected.confidence == "strong" and "'image' object" in detected.reason
    (tmp_path / "x.json").write_text(json.dumps({"images": [], "annotations": []}))
    assert sa1b.detect(tmp_path).confidence == "no"
    assert "no 'image' object" in sa1b.detect(tmp_path).reason
    assert sa1b.detect(tmp_path / "missing").confidence == "no"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert sa1b.detect(empty).reason == "no .json files in the folder"


def test_one_file_is_detected_alone():
    """One SA-1B JSON on its own is sa1b: coco-instance no longer claims it (it has no
    'images' list), which made it ambiguous."""
    assert formats.detect(REAL / "a.json") == "sa1b"
    assert formats.REGISTRY["coco-instance"].detect(REAL / "a.json").confidence == "no"


def test_generated_pixel_for_pixel_and_convert(tmp_path):
    """Every mask of a generated folder: segtool's loaded RLE decodes (pycocotools) to the
    mask that was encoded; areas and boxes as pycocotools measures them; the same after
    convert to coco-instance."""
    truth = _generated(tmp_path / "sa")
    ds = formats.read(tmp_path / "sa")
    assert len(ds.samples) == 3
    seen = 0
    for s in ds.samples:
        ann = s.load()
        decoded = _decoded(ann)
        for k, aid in enumerate(ann.segments.id.tolist()):
            assert np.array_equal(decoded[:, :, k].astype(bool), truth[s.image.id, aid])
            assert ann.segments.area[k] == truth[s.image.id, aid].sum()
            seen += 1
        assert len(s.source.extras(s.image)) == len(ann.segments)
    assert seen == len(truth)
    out = tmp_path / "coco.json"
    result = invoke(CliRunner(), "convert", tmp_path / "sa", out, "--to", "coco-instance")
    assert result.exit_code == 0, result.output
    coco = json.loads(out.read_text())
    assert [c["name"] for c in coco["categories"]] == ["object"]
    for a in coco["annotations"]:
        rle = {**a["segmentation"], "counts": a["segmentation"]["counts"].encode()}
        assert np.array_equal(mask_utils.decode(rle).astype(bool), truth[a["image_id"], a["id"]])
        assert a["bbox"] == mask_utils.toBbox(rle).tolist() and a["area"] == int(mask_utils.area(rle))
    assert len(coco["annotations"]) == len(truth)
    assert validate_sa1b(tmp_path / "sa", tolerance=Tolerance(0, 0)).findings == []


def test_category_and_measured_values(tmp_path):
    """``category=NAME`` names the one category; an annotation without area or bbox gets
    pycocotools' area and toBbox of its RLE."""
    _generated(tmp_path, images=1, objects=2)
    (path,) = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    for a in record["annotations"]:
        del a["area"], a["bbox"]
    path.write_text(json.dumps(record))
    ds = formats.read(path, "sa1b", category="thing")
    assert [(c.id, c.name, c.isthing) for c in ds.categories] == [(1, "thing", True)]
    ann = ds.samples[0].load()
    pyco = [{**a["segmentation"], "counts": a["segmentation"]["counts"].encode()} for a in record["annotations"]]
    assert ann.segments.area.tolist() == [float(v) for v in mask_utils.area(pyco)]
    assert ann.segments.bbox.tolist() == mask_utils.toBbox(pyco).tolist()
    with pytest.raises(SegtoolError, match="category must be a name"):
        formats.read(path, "sa1b", category=" ")


def _broken(tmp_path: Path, change) -> Path:
    folder = tmp_path / "sa"
    _generated(folder, images=2, objects=2)
    path = sorted(folder.glob("*.json"))[0]
    record = json.loads(path.read_text())
    change(record, folder)
    path.write_text(json.dumps(record))
    return folder


def _set(key, value):
    def change(record, folder):
        record["annotations"][0][key] = value

    return change


def _rle(counts=None, size=None):
    def change(record, folder):
        segm = record["annotations"][0]["segmentation"]
        if counts is not None:
            segm["counts"] = counts
        if size is not None:
            segm["size"] = size

    return change


def _image(key, value):
    def change(record, folder):
        record["image"][key] = value

    return change


def _empty(record, folder):
    h, w = record["image"]["height"], record["image"]["width"]
    a = record["annotations"][0]
    a["segmentation"] = _encode(np.zeros((h, w), bool))
    a["area"], a["bbox"] = 0, [0.0, 0.0, 0.0, 0.0]


def _duplicate(record, folder):
    other = json.loads(sorted(folder.glob("*.json"))[1].read_text())
    record["image"]["image_id"] = other["image"]["image_id"]


def _no_photo(record, folder):
    (folder / record["image"]["file_name"]).unlink()


def _photo_size(record, folder):
    Image.new("RGB", (7, 7)).save(folder / record["image"]["file_name"])


def _not_sa1b(record, folder):
    del record["image"]


CASES = {
    "malformed-record": _set("area", "many"),
    "bad-segmentation": _set("segmentation", [[0, 0, 5, 0, 5, 5]]),
    "rle-size": _rle(size=[3, 3]),
    "rle-undecodable": _rle(counts="\x7f!"),
    "empty-mask": _empty,
    "area-mismatch": _set("area", 123456),
    "bbox-mismatch": _set("bbox", [0.0, 0.0, 100.0, 100.0]),
    "duplicate-image-id": _duplicate,
    "image-file-missing": _no_photo,
    "image-size": _photo_size,
}
FATAL = {"malformed-record", "bad-segmentation", "rle-size", "rle-undecodable", "duplicate-image-id"}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_check_one_broken_file(tmp_path, code):
    """One broken file, one finding of that code; the reader stops at the fatal ones with
    one line naming the file (exit 2 at the CLI)."""
    folder = _broken(tmp_path, CASES[code])
    found = validate_sa1b(folder, tolerance=Tolerance(0, 0)).findings
    assert [f.code for f in found] == [code], found
    if code in FATAL:
        result = invoke(CliRunner(), "info", folder, "--from", "sa1b")
        assert_bad_input(result, ".json")
    else:
        ds = formats.read(folder)
        assert all(len(s.load().segments) == 2 for s in ds.samples)


def test_not_an_sa1b_file_in_the_folder(tmp_path):
    folder = _broken(tmp_path, _not_sa1b)
    assert [f.code for f in validate_sa1b(folder).findings] == ["malformed-record"]
    assert_bad_input(invoke(CliRunner(), "info", folder, "--from", "sa1b"), "'image' object")


def test_images_dir_and_cli_validate(tmp_path):
    """--images DIR: the photos are looked for there; the CLI finds the format itself."""
    folder = tmp_path / "sa"
    _generated(folder, images=1, objects=1)
    photos = tmp_path / "photos"
    photos.mkdir()
    for p in folder.glob("*.jpg"):
        shutil.move(p, photos / p.name)
    assert [f.code for f in validate_sa1b(folder).findings] == ["image-file-missing"]
    assert validate_sa1b(folder, images_dir=photos).findings == []
    result = invoke(CliRunner(), "validate", folder, "--images", photos)
    assert result.exit_code == 0, result.output
