"""String image ids (cityscapesScripts' panoptic JSONs, other tools' COCO files) through
every command, kept as written, with the references' numbers."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import segtool
from segtool.errors import SegtoolError
from tests.conftest import PANOPTIC_EXAMPLES, write_json
from tests.helpers import invoke


def _renamed(src: Path, dst: Path, name) -> Path:
    """A copy of a panoptic dataset (JSON + PNG folder) whose image ids are ``name(id)``."""
    data = json.loads(src.read_text())
    for im in data["images"]:
        im["id"] = name(im["id"])
    for a in data["annotations"]:
        a["image_id"] = name(a["image_id"])
    shutil.copytree(src.with_suffix(""), dst.with_suffix(""))
    return write_json(dst, data)


def _city(i: int) -> str:
    return f"frankfurt_000000_{i:06d}"


@pytest.fixture
def string_gt(tmp_path):
    return _renamed(PANOPTIC_EXAMPLES, tmp_path / "gt.json", _city)


def test_ids_are_kept_through_conversions(tmp_path, string_gt):
    segtool.convert(string_gt, tmp_path / "inst.json", "coco-instance")
    segtool.convert(tmp_path / "inst.json", tmp_path / "back.json", "coco-panoptic")
    segtool.convert(string_gt, tmp_path / "sem", "semantic")
    want = sorted(_city(i["id"]) for i in json.loads(PANOPTIC_EXAMPLES.read_text())["images"])
    for path in (tmp_path / "inst.json", tmp_path / "back.json", tmp_path / "sem" / "images.json"):
        data = json.loads(path.read_text())
        assert sorted(im["id"] for im in data["images"]) == want, path
    assert {a["image_id"] for a in json.loads((tmp_path / "back.json").read_text())["annotations"]} == set(want)
    assert sorted(s.image.id for s in segtool.read(tmp_path / "sem").samples) == want
    assert segtool.evaluate_panoptic(string_gt, tmp_path / "back.json").to_dict()["All"]["pq"] == 1.0


def test_pq_equals_panopticapi(tmp_path, string_gt):
    from panopticapi.evaluation import pq_compute as reference

    segtool.convert(string_gt, tmp_path / "sem", "semantic")
    pred = tmp_path / "pred.json"
    segtool.convert(tmp_path / "sem", pred, "coco-panoptic", split_things=True)
    with contextlib.redirect_stdout(io.StringIO()):
        theirs = reference(str(string_gt), str(pred), str(string_gt.with_suffix("")), str(pred.with_suffix("")))
    ours = segtool.evaluate_panoptic(string_gt, pred).to_panopticapi()
    assert 0 < theirs["All"]["pq"] < 1
    for group in ("All", "Things", "Stuff"):
        for key in ("pq", "sq", "rq"):
            assert ours[group][key] == pytest.approx(theirs[group][key], abs=1e-12)


def test_mask_ap_equals_cocoeval(tmp_path, string_gt):
    inst = tmp_path / "inst.json"
    segtool.convert(string_gt, inst, "coco-instance")
    anns = json.loads(inst.read_text())["annotations"]
    rng = np.random.default_rng(3)
    dets = [dict(a, score=float(rng.choice([0.2, 0.5, 0.9]))) for a in anns if not a["iscrowd"] and rng.random() < 0.7]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(inst))
        e = COCOeval(coco, coco.loadRes(json.loads(json.dumps(dets))), "segm")
        e.evaluate()
        e.accumulate()
        e.summarize()
    ours = segtool.evaluate_instance(inst, dets)
    assert 0 < e.stats[0] < 1
    assert np.allclose(ours.stats, e.stats, atol=1e-9, rtol=0)
    assert np.allclose(ours.eval["precision"], e.eval["precision"], atol=1e-12, rtol=0)


def test_a_string_is_not_the_number_it_spells(tmp_path, runner):
    numbers = _renamed(PANOPTIC_EXAMPLES, tmp_path / "n" / "gt.json", int)
    strings = _renamed(PANOPTIC_EXAMPLES, tmp_path / "s" / "pred.json", str)
    with pytest.raises(SegtoolError, match=r"image id '\d+', which the ground truth does not have"):
        segtool.evaluate_panoptic(numbers, strings)
    r = invoke(runner, "preview", strings, tmp_path / "prev", "--ids", "142238")  # typed ids match either form
    assert r.exit_code == 0, r.output
