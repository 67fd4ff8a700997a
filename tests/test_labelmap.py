"""One label-map declaration (--labels FILE): contiguous-index and colour-coded label PNGs
described, categories renamed, remapped to trainIds, merged and made void, in convert,
validate, eval and preview; a bad file is one line and exit 2. Expected pixels are written
out by hand from the label map."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import segtool
from segtool.errors import FormatError
from segtool.labelmap import load, parse
from tests.helpers import assert_bad_input, invoke

# pixel values are indices + 1 (reduce_zero_label): 0 void, 1 road, 2 car, 3 sky
INDEX_LABELS = """
offset: 1
labels:
  - {id: 7, name: road, color: [128, 64, 128], isthing: false}
  - {id: 26, name: car, color: [0, 0, 142], isthing: true}
  - {id: 23, name: sky, color: [70, 130, 180], isthing: false}
"""
VALUES = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], dtype=np.uint8)
AS_IDS = np.array([[255, 7, 26, 23], [23, 26, 7, 255]], dtype=np.uint8)  # the same map in category ids


def _folder(tmp_path, name, arrays, mode=None):
    folder = tmp_path / name
    folder.mkdir()
    for stem, arr in arrays.items():
        Image.fromarray(arr, mode).save(folder / f"{stem}.png")
    return folder


def _labels(tmp_path, text=INDEX_LABELS, name="labels.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_contiguous_indices_become_category_ids(tmp_path, runner):
    src = _folder(tmp_path, "idx", {"a": VALUES})
    r = invoke(runner, "convert", src, tmp_path / "out", "--to", "semantic", "--labels", _labels(tmp_path))
    assert r.exit_code == 0, r.output
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "a.png")), AS_IDS)
    cats = json.loads((tmp_path / "out" / "categories.json").read_text())
    assert {c["id"]: c["name"] for c in cats} == {7: "road", 23: "sky", 26: "car"}


def test_colour_coded_pngs_through_the_label_map_colours(tmp_path, runner):
    colours = {0: (0, 0, 0), 1: (128, 64, 128), 2: (0, 0, 142), 3: (70, 130, 180)}
    rgb = np.zeros((*VALUES.shape, 3), np.uint8)
    for v, c in colours.items():
        rgb[VALUES == v] = c
    src = _folder(tmp_path, "rgb", {"a": rgb})
    text = INDEX_LABELS + "  - {id: 0, name: unlabeled, color: [0, 0, 0], void: true, value: 0}\n"
    labels = _labels(tmp_path, text.replace("offset: 1\n", ""))
    labels.write_text(
        "labels:\n"
        "  - {id: 7, name: road, color: [128, 64, 128]}\n"
        "  - {id: 26, name: car, color: [0, 0, 142], isthing: true}\n"
        "  - {id: 23, name: sky, color: [70, 130, 180]}\n"
        "  - {id: 0, name: unlabeled, color: [0, 0, 0], void: true}\n"
    )
    r = invoke(runner, "convert", src, tmp_path / "out", "--to", "semantic", "--labels", labels)
    assert r.exit_code == 0, r.output
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "a.png")), AS_IDS)


def test_a_colour_not_in_the_map_is_one_line_naming_file_colour_and_pixel(tmp_path, runner):
    rgb = np.zeros((2, 4, 3), np.uint8)
    rgb[1, 2] = (1, 2, 3)
    src = _folder(tmp_path, "rgb", {"a": rgb})
    labels = _labels(tmp_path, "labels:\n  - {id: 1, name: bg, color: [0, 0, 0]}\n")
    r = invoke(runner, "convert", src, tmp_path / "out", "--to", "semantic", "--labels", labels)
    assert_bad_input(r, "a.png", "colour (1, 2, 3) at x=2, y=1 is not in the label map")
    assert not (tmp_path / "out").exists()


def test_train_ids_remap_merge_and_void(tmp_path, runner):
    """ids 7 road and 8 sidewalk both -> trainId 0 (merged); 26 car -> 13; 0 and 5 void."""
    src = _folder(tmp_path, "ids", {"a": np.array([[7, 8, 26, 0, 5]], np.uint8)})
    cats = [
        {"id": 7, "name": "road"},
        {"id": 8, "name": "sidewalk"},
        {"id": 26, "name": "car", "isthing": 1},
        {"id": 0, "name": "unlabeled"},
        {"id": 5, "name": "dynamic"},
    ]
    (src / "categories.json").write_text(json.dumps(cats))
    labels = _labels(
        tmp_path,
        "output: trainId\n"
        "labels:\n"
        "  - {id: 7, name: flat, trainId: 0}\n"
        "  - {id: 8, name: sidewalk, trainId: 0}\n"
        "  - {id: 26, name: car, trainId: 13}\n"
        "  - {id: 0, name: unlabeled, trainId: 255}\n"
        "  - {id: 5, name: dynamic, void: true}\n",
    )
    ds = segtool.read(src, "semantic", labels=labels)
    assert [(c.id, c.name) for c in ds.categories] == [(0, "flat"), (13, "car")]
    ann = ds.samples[0].load()
    assert sorted(ann.segments.category_id.tolist()) == [0, 13]  # road and sidewalk are one segment
    r = invoke(runner, "convert", src, tmp_path / "out", "--to", "semantic", "--labels", labels)
    assert r.exit_code == 0, r.output
    assert np.asarray(Image.open(tmp_path / "out" / "a.png")).tolist() == [[0, 0, 13, 255, 255]]


def test_an_unlisted_category_is_an_error_unless_kept_or_void(tmp_path):
    src = _folder(tmp_path, "ids", {"a": np.array([[1, 2]], np.uint8)})
    (src / "categories.json").write_text(json.dumps([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]))
    only_a = "labels:\n  - {id: 1, name: A}\n"
    with pytest.raises(FormatError, match="category 2 'b' is not in the label map"):
        segtool.read(src, "semantic", labels=_labels(tmp_path, only_a)).samples[0].load()
    kept = segtool.read(src, "semantic", labels=_labels(tmp_path, "unlisted: keep\n" + only_a, "k.yaml"))
    assert [(c.id, c.name) for c in kept.categories] == [(1, "A"), (2, "b")]
    void = segtool.read(src, "semantic", labels=_labels(tmp_path, "unlisted: void\n" + only_a, "v.yaml"))
    assert [(c.id, c.name) for c in void.categories] == [(1, "A")]
    assert void.samples[0].load().segments.area.tolist() == [1.0]


def test_rename_and_void_in_an_instance_dataset_and_its_detections(tmp_path, runner):
    """COCO instance GT (person 1, car 2) with car made void and person renamed: car's
    annotation leaves the ground truth and car detections leave the predictions, so a
    perfect person detection gives AP 1 (hand: one TP, no FP)."""
    from tests.helpers import INSTANCE_BASE, INSTANCE_CATS, INSTANCE_IMAGE

    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [INSTANCE_IMAGE], "annotations": INSTANCE_BASE, "categories": INSTANCE_CATS}))
    dets = [dict(a, score=0.9) for a in INSTANCE_BASE]
    dets[1]["bbox"] = [0, 0, 2, 2]  # the car detection is wrong: it would be an FP if car stayed
    dets[1]["segmentation"] = dets[0]["segmentation"]
    dets[1]["category_id"] = 2
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    labels = _labels(tmp_path, "labels:\n  - {id: 1, name: human}\n  - {id: 2, name: car, void: true}\n")
    ds = segtool.read(gt, labels=labels)
    assert [(c.id, c.name) for c in ds.categories] == [(1, "human")]
    r = invoke(runner, "eval", "instance", gt, tmp_path / "dets.json", "--labels", labels, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["AP"] == pytest.approx(1.0, abs=1e-12)
    plain = invoke(runner, "eval", "instance", gt, tmp_path / "dets.json", "--json")
    assert json.loads(plain.stdout)["AP"] < 1.0  # the void car was what lowered it


def test_eval_semantic_reads_both_sides_through_the_map(tmp_path, runner):
    """GT and prediction both index maps (offset 1): 8 pixels, 6 non-void in GT; the
    prediction gets 5 right (one car pixel called road). IoU road = 2/3, car = 1/2, sky 1."""
    gt = _folder(tmp_path, "gt", {"a": VALUES})
    pred_values = VALUES.copy()
    pred_values[0, 2] = 1  # car -> road
    pred = _folder(tmp_path, "pred", {"a": pred_values})
    labels = _labels(tmp_path)
    r = invoke(runner, "eval", "semantic", gt, pred, "--labels", labels, "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["mIoU"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3, abs=1e-12)


def test_validate_checks_values_against_the_map(tmp_path, runner):
    bad = VALUES.copy()
    bad[0, 0] = 9  # not a value of the map
    src = _folder(tmp_path, "idx", {"a": bad})
    r = invoke(runner, "validate", src, "--labels", _labels(tmp_path), "--json")
    assert r.exit_code == 1, r.output
    codes = {f["code"] for f in json.loads(r.stdout)["findings"]}
    assert "unknown-label" in codes
    ok = _folder(tmp_path, "ok", {"a": VALUES})
    assert invoke(runner, "validate", ok, "--labels", _labels(tmp_path)).exit_code == 0


def test_a_format_option_its_format_does_not_take_is_a_usage_error(tmp_path, runner):
    src = _folder(tmp_path, "idx", {"a": VALUES})
    r = invoke(runner, "convert", src, tmp_path / "o", "--to", "semantic", "--train-ids")
    assert r.exit_code == 2 and "semantic input takes no --train-ids" in r.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("labels: [", "not YAML or JSON"),
        ("[]", "a label map is a list of labels"),
        ("labels:\n  - {id: 1}\n", "labels[0]: 'name' must be a non-empty string"),
        ("labels:\n  - {id: 1, name: a}\n  - {id: 1, name: b}\n", "id 1 is given twice ('a' and 'b')"),
        ("labels:\n  - {id: 1, name: a, color: [1, 2]}\n", "color must be [r, g, b]"),
        ("labels:\n  - {id: 1, name: a, colour: [1, 2, 3]}\n", "unknown key 'colour'"),
        ("output: train\nlabels:\n  - {id: 1, name: a}\n", "output must be one of id, trainId"),
        ("labels:\n  - {name: a}\n", "no 'id' (or give the file an 'offset')"),
    ],
)
def test_a_bad_label_map_is_one_line_naming_the_file(tmp_path, runner, text, message):
    path = _labels(tmp_path, text)
    with pytest.raises(FormatError, match=None) as info:
        load(path)
    assert message in info.value.message and info.value.path == str(path)
    src = _folder(tmp_path, "idx", {"a": VALUES})
    assert_bad_input(invoke(runner, "convert", src, tmp_path / "o", "--to", "semantic", "--labels", path), message)


def test_json_is_read_as_well_as_yaml(tmp_path):
    path = tmp_path / "l.json"
    path.write_text(json.dumps({"offset": 0, "labels": [{"name": "bg"}, {"name": "fg", "isthing": True}]}))
    lm = load(path)
    assert [(c.id, c.name, c.isthing) for c in lm.pixel_categories()] == [(0, "bg", False), (1, "fg", True)]
    assert parse([{"id": 3, "name": "x", "color": "#ff0080"}]).labels[0].color == (255, 0, 128)


def test_eval_panoptic_through_a_label_map(tmp_path, runner):
    """A map that renames every category of panopticapi's examples (ids unchanged) scores
    exactly as the plain run, the names taken from the map; one that voids a category takes
    it out of the per-class table."""
    from pathlib import Path

    sample = Path(__file__).parents[1] / "sample_data" / "panoptic_examples.json"
    cats = json.loads(sample.read_text())["categories"]
    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps({"labels": [{"id": c["id"], "name": f"x-{c['name']}"} for c in cats]}))
    plain = invoke(runner, "eval", "panoptic", sample, sample, "--json", "--per-class")
    mapped = invoke(runner, "eval", "panoptic", sample, sample, "--json", "--per-class", "--labels", renamed)
    assert plain.exit_code == 0 and mapped.exit_code == 0, mapped.output
    a, b = json.loads(plain.stdout), json.loads(mapped.stdout)
    assert b["All"] == a["All"] and b["All"]["pq"] == 1.0
    assert b["per_class"]["1"]["name"] == "x-person" and a["per_class"]["1"]["name"] == "person"
    voided = tmp_path / "voided.json"
    first = cats[0]["id"]
    entries = [{"id": c["id"], "name": c["name"], **({"void": True} if c["id"] == first else {})} for c in cats]
    voided.write_text(json.dumps({"labels": entries}))
    r = invoke(runner, "eval", "panoptic", sample, sample, "--json", "--per-class", "--labels", voided)
    assert r.exit_code == 0, r.output
    voided_result = json.loads(r.stdout)
    assert voided_result["All"]["pq"] == 1.0 and str(first) not in voided_result["per_class"]


def test_preview_and_info_read_through_the_map(tmp_path, runner):
    """info names the map's categories; preview renders an index-map folder that without the
    map is refused (its values are not categories)."""
    src = _folder(tmp_path, "idx", {"a": VALUES})
    labels = _labels(tmp_path)
    info = invoke(runner, "info", src, "--labels", labels, "--json", "--per-class")
    assert info.exit_code == 0, info.output
    assert {"road", "car", "sky"} <= set(info.stdout.replace('"', " ").split())
    assert invoke(runner, "preview", src, tmp_path / "pv0").exit_code == 2
    r = invoke(runner, "preview", src, tmp_path / "pv", "--labels", labels, "--json")
    assert r.exit_code == 0, r.output
    assert [row["segments"] for row in json.loads(r.stdout)["images"]] == [3]
