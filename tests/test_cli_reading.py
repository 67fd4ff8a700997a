"""A format's reading options on the command line (--train-ids, --category) reach the format
that takes them, and a LabelMe folder going to a picture format is painted in LabelMe's own
order by default (--overlap auto), with the pixels that order decided in the summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.helpers import invoke

DATA = Path(__file__).parent / "data"
SA1B = DATA / "datumaro" / "segment_anything"


def test_category_names_sa1b_objects(tmp_path, runner):
    """datumaro's SA-1B fixture: a.json has one mask; its category is named by --category."""
    out = tmp_path / "inst.json"
    r = invoke(runner, "convert", SA1B / "a.json", out, "--to", "coco-instance", "--category", "leaf")
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert [c["name"] for c in data["categories"]] == ["leaf"]


def test_info_takes_the_same_reading_options(tmp_path, runner):
    r = invoke(runner, "info", SA1B / "a.json", "--category", "leaf", "--json", "--per-class")
    assert r.exit_code == 0, r.output
    assert "leaf" in r.stdout


def test_train_ids_reach_cityscapes(tmp_path, runner):
    """A 2x2 labelIds tree: road (7, trainId 0), car (26, trainId 13), sky (23, trainId 10),
    out of roi (3: void). With --train-ids the semantic output carries trainIds."""
    city = tmp_path / "gtFine" / "val" / "x"
    city.mkdir(parents=True)
    ids = np.array([[7, 26], [23, 3]], np.uint8)
    Image.fromarray(ids).save(city / "x_000000_000001_gtFine_labelIds.png")
    Image.fromarray(np.where(ids == 26, 26000, ids.astype(np.uint16)).astype(np.uint16)).save(
        city / "x_000000_000001_gtFine_instanceIds.png"
    )
    r = invoke(runner, "convert", tmp_path / "gtFine", tmp_path / "sem", "--to", "semantic", "--train-ids")
    assert r.exit_code == 0, r.output
    png = next((tmp_path / "sem").glob("*.png"))
    assert np.asarray(Image.open(png)).tolist() == [[0, 13], [10, 255]]


def _labelme(folder: Path) -> Path:
    """Two overlapping rectangles: a (0..5 x 0..3) then b (3..8 x 0..3), b later in the file.
    LabelMe paints rectangles corner to corner inclusive: a covers x 0..5, b x 3..8, so the
    overlap is x 3..5 over y 0..3 = 3 x 4 = 12 pixels, which LabelMe gives to b."""
    folder.mkdir()
    shapes = [
        {"label": "a", "points": [[0, 0], [5, 3]], "shape_type": "rectangle", "group_id": None, "flags": {}},
        {"label": "b", "points": [[3, 0], [8, 3]], "shape_type": "rectangle", "group_id": None, "flags": {}},
    ]
    doc = {"version": "5.2.1", "flags": {}, "shapes": shapes, "imagePath": "x.jpg", "imageData": None}
    (folder / "x.json").write_text(json.dumps({**doc, "imageHeight": 6, "imageWidth": 10}))
    return folder


def test_labelme_to_a_picture_follows_labelmes_order_by_default(tmp_path, runner):
    src = _labelme(tmp_path / "lm")
    r = invoke(runner, "convert", src, tmp_path / "sem", "--to", "semantic", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert sum(summary["changed"].values()) == 12, summary
    labels = np.asarray(Image.open(tmp_path / "sem" / "x.png"))
    cats = {c["name"]: c["id"] for c in json.loads((tmp_path / "sem" / "categories.json").read_text())}
    assert (labels[0:4, 3:6] == cats["b"]).all() and (labels[0:4, 0:3] == cats["a"]).all()


def test_labelme_overlaps_stay_in_coco_instance_and_error_policy_refuses(tmp_path, runner):
    src = _labelme(tmp_path / "lm")
    r = invoke(runner, "convert", src, tmp_path / "i.json", "--to", "coco-instance", "--json")
    assert r.exit_code == 0, r.output
    areas = sorted(a["area"] for a in json.loads((tmp_path / "i.json").read_text())["annotations"])
    assert areas == [24, 24]  # each rectangle whole: 6 x 4 pixels, overlaps kept
    refused = invoke(runner, "convert", src, tmp_path / "s2", "--to", "semantic", "--overlap", "error")
    assert refused.exit_code == 2 and "overlap" in refused.stderr


def test_order_without_a_painting_order_is_refused(tmp_path, runner):
    r = invoke(runner, "convert", SA1B / "a.json", tmp_path / "s", "--to", "semantic", "--overlap", "order")
    assert r.exit_code == 2 and "sa1b has no painting order of its own" in r.stderr
