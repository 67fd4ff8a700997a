"""Cityscapes writing (polygons JSON drawn back by cityscapesScripts' json2labelImg /
json2instanceImg into the masks written beside it), prediction folders found as
getPrediction finds them, and bad input: one line, exit 2, naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import segtool
from segtool import formats
from segtool.cli import main
from segtool.formats import cityscapes
from segtool.formats.cityscapes_write import INEXACT
from tests.test_cityscapes import _reference_pngs, _tree, cityscapesscripts_stubbed


def _reference_maps(cs: Any, polygons: Path) -> tuple[np.ndarray, np.ndarray]:
    """labelIds and instanceIds as cityscapesScripts draws a polygons JSON."""
    from cityscapesscripts.helpers.annotation import Annotation

    ann = Annotation()
    ann.fromJsonFile(str(polygons))
    labels = np.asarray(cs.labelImg.createLabelImage(ann, "ids"), np.int64)
    return labels, np.asarray(cs.instanceImg.createInstanceImage(ann, "ids"), np.int64)


def _written(folder: Path, stem: str) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(Image.open(folder / f"{stem}_gtFine_labelIds.png"), np.int64)
    return labels, np.asarray(Image.open(folder / f"{stem}_gtFine_instanceIds.png"), np.int64)


def _pair(folder: Path, stem: str, instances: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.where(instances >= 1000, instances // 1000, instances)
    Image.fromarray(labels.astype(np.uint8)).save(folder / f"{stem}_gtFine_labelIds.png")
    Image.fromarray(instances.astype(np.uint16)).save(folder / f"{stem}_gtFine_instanceIds.png")


def test_polygons_json_drawn_back_by_cityscapesscripts(tmp_path: Path) -> None:
    """Nested shapes: a road ring holding a car that holds a hole of sky, void in the ring,
    a crowd in two pieces, a car cut in two by a pole, one-pixel and one-pixel-wide
    segments: every pixel comes back."""
    cs = cityscapesscripts_stubbed()
    inst = np.full((40, 60), 23, np.int64)  # sky
    inst[5:35, 5:45] = 7  # road, with a hole …
    inst[10:30, 10:40] = 26000  # … where a car is, itself with a hole of sky
    inst[15:20, 15:20] = 23
    inst[22:26, 30:34] = 0  # void inside the car
    inst[2:4, 50:58] = 26  # a crowd of cars in two pieces
    inst[30:33, 50:58] = 26
    inst[38, 2] = 24000  # a one-pixel person
    inst[36:40, 55] = 11  # a one-pixel-wide building
    inst[0, :] = 33000  # a bicycle along the top row
    inst[36:40, 10:30] = 26001  # a car cut in two by a pole in front of it
    inst[34:40, 19:21] = 17
    _pair(tmp_path / "src" / "val" / "ulm", "ulm_000000_000001", inst)
    summary = segtool.write(formats.read(tmp_path / "src", all_labels=True), tmp_path / "out", "cityscapes")
    assert INEXACT not in summary.changed
    folder = tmp_path / "out" / "val" / "ulm"
    labels, instances = _written(folder, "ulm_000000_000001")
    assert np.array_equal(instances, inst)
    ref_labels, ref_instances = _reference_maps(cs, folder / "ulm_000000_000001_gtFine_polygons.json")
    assert np.array_equal(ref_labels, labels) and np.array_equal(ref_instances, instances)
    data = json.loads((folder / "ulm_000000_000001_gtFine_polygons.json").read_text())
    names = [o["label"] for o in data["objects"]]
    assert (data["imgWidth"], data["imgHeight"]) == (60, 40)
    assert names.count("cargroup") == 2 and names.count("car") == 2 and "unlabeled" in names
    assert names.index("road") < names.index("car") < names.index("unlabeled")  # holes filled after


def test_polygons_of_random_trees(tmp_path: Path) -> None:
    """Overlapping random polygons (read from cityscapesScripts' PNGs), written back: where no
    segment is counted as changed, the JSON draws exactly the PNGs; the rest is counted."""
    cs = cityscapesscripts_stubbed()
    paths = _tree(tmp_path / "src", 8, seed=5)
    _reference_pngs(cs, paths)
    for p in paths:
        p.unlink()
    exact = 0
    for p in paths:
        stem = p.name[: -len("_gtFine_polygons.json")]
        src = tmp_path / "one" / stem
        src.mkdir(parents=True)
        for part in ("labelIds", "instanceIds"):
            (src / f"{stem}_gtFine_{part}.png").write_bytes((p.parent / f"{stem}_gtFine_{part}.png").read_bytes())
        out = tmp_path / "out" / stem
        summary = segtool.write(formats.read(src, all_labels=True), out, "cityscapes")
        written = next(out.rglob("*_polygons.json"))
        labels, instances = _written(written.parent, stem)
        ref_labels, ref_instances = _reference_maps(cs, written)
        same = np.array_equal(ref_labels, labels) and np.array_equal(ref_instances, instances)
        assert same == (summary.changed[INEXACT] == 0), stem
        exact += same
        original = np.asarray(Image.open(p.parent / f"{stem}_gtFine_instanceIds.png"), np.int64)
        pairs = np.unique(np.stack([original.ravel(), instances.ravel()]), axis=1)  # the PNGs keep every pixel:
        assert len(set(pairs[0])) == len(set(pairs[1])) == pairs.shape[1]  # instances renumbered 0, 1, … at most
        assert np.array_equal(np.where(original >= 1000, original // 1000, original), labels)
    assert exact >= 2


def test_prediction_folder_detected_and_matched(tmp_path: Path, runner: Any) -> None:
    gt = tmp_path / "gtFine"
    inst = np.full((4, 6), 7, np.int64)
    _pair(gt / "val" / "ulm", "ulm_000000_000001", inst)
    _pair(gt / "val" / "ulm", "ulm_000000_000002", inst)
    pred = tmp_path / "results"
    pred.mkdir()
    for n in (1, 2):
        Image.fromarray(np.full((4, 6), 7, np.uint8)).save(pred / f"ulm_000000_00000{n}_leftImg8bit.png")
    assert cityscapes.detect(pred).confidence == "strong"
    assert segtool.evaluate_semantic(gt, pred).to_dict()["mIoU"] == 1.0
    for command in ("info", "validate"):
        r = runner.invoke(main, [command, str(pred)])
        assert r.exit_code == 2 and "predictions" in r.stderr, command
    Image.fromarray(np.full((4, 6), 8, np.uint8)).save(pred / "ulm_000000_000002_pred.png")
    with pytest.raises(segtool.SegtoolError, match="several predictions for image ulm_000000_000002"):
        segtool.evaluate_semantic(gt, pred)
    (pred / "ulm_000000_000002_pred.png").rename(pred / "ulm_000000_000003_pred.png")
    with pytest.raises(segtool.SegtoolError, match="matches no ground-truth image"):
        segtool.evaluate_semantic(gt, pred)
    (pred / "ulm_000000_000003_pred.png").unlink()
    Image.fromarray(np.full((4, 6), 40, np.uint8)).save(pred / "ulm_000000_000002_leftImg8bit.png")
    r = runner.invoke(main, ["eval", "semantic", str(gt), str(pred)])
    assert r.exit_code == 2 and "ulm_000000_000002_leftImg8bit.png" in r.stderr and "40" in r.stderr
    r = runner.invoke(main, ["eval", "panoptic", str(gt), str(pred)])
    assert r.exit_code == 2 and "eval semantic" in r.stderr


def _one_line(r: Any) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1, r.output
    return lines[0]


def test_bad_input_is_one_line_naming_the_file(tmp_path: Path, runner: Any) -> None:
    # a labelIds PNG without its instanceIds (and no polygons JSON)
    lonely = tmp_path / "a" / "val" / "ulm"
    lonely.mkdir(parents=True)
    Image.new("L", (4, 4), 7).save(lonely / "ulm_000000_000001_gtFine_labelIds.png")
    line = _one_line(
        runner.invoke(main, ["convert", str(tmp_path / "a"), str(tmp_path / "o1.json"), "--to", "coco-panoptic"])
    )
    assert "ulm_000000_000001_gtFine_labelIds.png" in line and "instanceIds" in line
    # an unknown label name in a polygons JSON
    poly = tmp_path / "b" / "val" / "ulm"
    poly.mkdir(parents=True)
    obj = {"label": "unicorn", "polygon": [[0, 0], [3, 0], [3, 3]]}
    (poly / "ulm_000000_000001_gtFine_polygons.json").write_text(
        json.dumps({"imgWidth": 4, "imgHeight": 4, "objects": [obj]})
    )
    line = _one_line(
        runner.invoke(main, ["convert", str(tmp_path / "b"), str(tmp_path / "o2.json"), "--to", "coco-panoptic"])
    )
    assert "ulm_000000_000001_gtFine_polygons.json" in line and "unicorn" in line
    # a label PNG of another size than its photo (leftImg8bit/ beside gtFine/)
    _pair(tmp_path / "c" / "gtFine" / "val" / "ulm", "ulm_000000_000001", np.full((4, 6), 7, np.int64))
    photos = tmp_path / "c" / "leftImg8bit" / "val" / "ulm"
    photos.mkdir(parents=True)
    Image.new("RGB", (8, 4)).save(photos / "ulm_000000_000001_leftImg8bit.png")
    for args in (["info"], ["eval", "semantic", str(tmp_path / "c" / "gtFine")]):
        line = _one_line(runner.invoke(main, [*args, str(tmp_path / "c" / "gtFine")]))
        assert "ulm_000000_000001_gtFine_labelIds.png" in line and "6x4" in line and "8x4" in line
