"""Photos paired by each format's own naming: preview finds the photo a format's layout
names (VOC's JPEGImages/<stem>.jpg) without --images, and when it does not use a photo the
note says exactly why (missing file, or another size)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import invoke

VOC = Path(__file__).parent / "data" / "datumaro" / "voc" / "voc_dataset1"


def _preview_json(runner, *args):
    r = invoke(runner, "preview", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_voc_photos_are_found_in_jpegimages_without_images(tmp_path, runner):
    """datumaro's voc_dataset1 ships JPEGImages/2007_000001.jpg (20x10, as its masks)."""
    assert (VOC / "JPEGImages" / "2007_000001.jpg").is_file()
    out = _preview_json(runner, VOC, tmp_path / "pv")
    rows = {r["image_id"]: r for r in out["images"]}
    assert rows["2007_000001"]["photo"] is True


def test_a_photo_of_another_size_is_named_with_both_sizes(tmp_path, runner):
    tree = tmp_path / "voc"
    import shutil

    shutil.copytree(VOC, tree)
    Image.fromarray(np.zeros((7, 9, 3), np.uint8)).save(tree / "JPEGImages" / "2007_000001.jpg")
    out = _preview_json(runner, tree, tmp_path / "pv")
    row = next(r for r in out["images"] if r["image_id"] == "2007_000001")
    assert row["photo"] is False
    assert row["photo_note"] == "2007_000001.jpg is 9x7, the record says 20x10"


def test_without_images_and_without_a_paired_photo_the_note_says_so(tmp_path, runner):
    from tests.helpers import INSTANCE_BASE, INSTANCE_CATS, INSTANCE_IMAGE

    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [INSTANCE_IMAGE], "annotations": INSTANCE_BASE, "categories": INSTANCE_CATS}))
    out = _preview_json(runner, gt, tmp_path / "pv")
    assert out["images"][0]["photo_note"] == "no --images given, and the format pairs no photo with the image"


def test_mask_folder_photos_come_from_the_sibling_images_folder(tmp_path, runner):
    """pycococreator's example_data: annotations/100_*.png beside images/100.jpg (256x256)."""
    root = Path(__file__).parent / "data" / "pycococreator" / "example_data"
    out = _preview_json(runner, root / "annotations", tmp_path / "pv", "--from", "masks")
    assert [(r["file_name"], r["photo"]) for r in out["images"]] == [("100.jpg", True)]


DATUMARO = Path(__file__).parent / "data" / "datumaro"
SHARED = Path(__file__).parents[2] / "shared" / "data" / "real"


@pytest.mark.parametrize(
    ("tree", "fmt"),
    [
        (DATUMARO / "kitti_segmentation", "kitti"),  # training/image_2/<id>.png
        (DATUMARO / "camvid", "camvid"),  # <split>/<stem>.png beside <split>annot/
        (DATUMARO / "mapillary_vistas" / "val", "mapillary"),  # val/images/<stem>.jpg
        (DATUMARO / "ade20k2017" / "dataset", "ade20k"),  # <stem>.jpg beside <stem>_seg.png
        (SHARED / "datumaro" / "cityscapes" / "dataset" / "gtFine", "cityscapes"),  # leftImg8bit/ for gtFine/
    ],
)
def test_each_format_pairs_its_own_photos(tmp_path, runner, tree, fmt):
    """Without --images, every render of these fixtures (each ships its photos where its
    format puts them) has its photo."""
    if not tree.exists():
        pytest.skip(f"{tree} is not here")
    out = _preview_json(runner, tree, tmp_path / "pv", "--from", fmt)
    assert out["images"] and all(r["photo"] for r in out["images"]), [r.get("photo_note") for r in out["images"]]
