"""The public Python API (docs/api.md): inputs as paths, Datasets and in-memory predictions,
and the results' shapes, each checked against the reference tools or the CLI."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import segtool
from segtool.errors import SegtoolError
from tests.conftest import PANOPTIC_EXAMPLES, write_json
from tests.helpers import invoke


def _instance_case(tmp_path: Path) -> tuple[Path, list[dict]]:
    """Ground truth with crowd and several sizes, and detections (shifted masks, false positives)."""
    rng = np.random.default_rng(7)
    images, gts, dets = [], [], []
    for iid in (4, 9, 11):
        h, w = 80, 96
        images.append({"id": iid, "file_name": f"{iid}.jpg", "height": h, "width": w})
        for k in range(6):
            m = np.zeros((h, w), np.uint8)
            y, x, s = int(rng.integers(0, 40)), int(rng.integers(0, 50)), int(rng.choice([4, 12, 40]))
            m[y : y + s, x : x + s] = 1
            r = mask_utils.encode(np.asfortranarray(m))
            segm = {"size": [h, w], "counts": r["counts"].decode()}
            crowd = k == 5
            gts.append({
                "id": len(gts) + 1, "image_id": iid, "category_id": 1 + k % 2, "segmentation": segm,
                "area": float(mask_utils.area(r)), "bbox": mask_utils.toBbox(r).tolist(), "iscrowd": int(crowd),
            })  # fmt: skip
            shifted = np.asfortranarray(np.roll(m, int(rng.integers(-2, 3)), axis=1))
            d = mask_utils.encode(shifted)
            dets.append({
                "image_id": iid, "category_id": 1 + k % 2, "score": float(rng.choice([0.3, 0.6, 0.9])),
                "segmentation": {"size": [h, w], "counts": d["counts"].decode()},
            })  # fmt: skip
    cats = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    return write_json(tmp_path / "gt.json", {"images": images, "annotations": gts, "categories": cats}), dets


def _cocoeval(gt: Path, dets: list[dict]) -> tuple[COCOeval, str]:
    """pycocotools' COCOeval and what its summarize() printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt))
        e = COCOeval(coco, coco.loadRes(json.loads(json.dumps(dets))), "segm")
        e.evaluate()
        e.accumulate()
    with contextlib.redirect_stdout(printed):
        e.summarize()
    return e, printed.getvalue()


def test_in_memory_detections_equal_pycocotools_and_the_cli(tmp_path, runner):
    gt, dets = _instance_case(tmp_path)
    theirs, printed = _cocoeval(gt, dets)
    ours = segtool.evaluate_instance(gt, dets)
    assert np.allclose(ours.stats, theirs.stats, atol=1e-9, rtol=0)
    assert 0 < ours.stats[0] < 1  # a real difference to measure
    assert np.allclose(ours.eval["precision"], theirs.eval["precision"], atol=1e-12, rtol=0)
    assert np.allclose(ours.eval["recall"], theirs.eval["recall"], atol=1e-12, rtol=0)
    assert ours.summarize() == printed.rstrip("\n")  # COCOeval's 12 lines, character for character
    r = invoke(runner, "eval", "instance", gt, write_json(tmp_path / "dt.json", dets), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["stats"] == ours.stats.tolist()


def test_dataframes_and_reprs(tmp_path):
    pd = pytest.importorskip("pandas")
    gt, dets = _instance_case(tmp_path)
    inst = segtool.evaluate_instance(gt, dets)
    frame = inst.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and list(frame["category_id"]) == [1, 2]
    assert frame["AP"].tolist() == [v["AP"] for v in inst.to_dict()["per_class"].values()]
    pq = segtool.evaluate_panoptic(PANOPTIC_EXAMPLES, PANOPTIC_EXAMPLES)
    rows = pq.to_dataframe()
    assert len(rows) == len(pq.categories) and rows["tp"].sum() == int(pq.stat.tp.sum()) > 0
    report = segtool.validate(PANOPTIC_EXAMPLES)
    assert len(report.to_dataframe()) == len(report.findings)
    for result in (inst, pq, report, segtool.evaluate_semantic(PANOPTIC_EXAMPLES, PANOPTIC_EXAMPLES)):
        text = repr(result)
        assert "\n" not in text and len(text) < 160, text
        assert result.summary().strip()
    assert "PQ=1.0000" in repr(pq) and "All       | 100.0  100.0  100.0" in pq.summary()


def _panoptic_prediction(tmp_path: Path) -> Path:
    """A lossy prediction of the panopticapi examples: things re-derived from a semantic map."""
    segtool.convert(PANOPTIC_EXAMPLES, tmp_path / "sem", "semantic")
    pred = tmp_path / "pred.json"
    segtool.convert(tmp_path / "sem", pred, "coco-panoptic", split_things=True)
    return pred


def _in_memory(pred: Path, as_ids: bool) -> dict:
    """The prediction's PNGs and segments_info held in memory: RGB, or (H, W) integer ids."""
    out = {}
    for ann in json.loads(pred.read_text())["annotations"]:
        rgb = np.asarray(Image.open(pred.with_suffix("") / ann["file_name"]).convert("RGB"))
        ids = rgb.astype(np.int64) @ np.array([1, 256, 65536])
        out[ann["image_id"]] = (ids if as_ids else rgb, ann["segments_info"])
    return out


@pytest.mark.parametrize("as_ids", [False, True], ids=["rgb", "ids"])
def test_in_memory_panoptic_predictions_equal_panopticapi(tmp_path, as_ids):
    from panopticapi.evaluation import pq_compute as reference

    pred = _panoptic_prediction(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        theirs = reference(
            str(PANOPTIC_EXAMPLES), str(pred), str(PANOPTIC_EXAMPLES.with_suffix("")), str(pred.with_suffix(""))
        )
    ours = segtool.evaluate_panoptic(PANOPTIC_EXAMPLES, _in_memory(pred, as_ids)).to_panopticapi()
    assert theirs["All"]["pq"] < 1
    for group in ("All", "Things", "Stuff"):
        for key in ("pq", "sq", "rq"):
            assert ours[group][key] == pytest.approx(theirs[group][key], abs=1e-12)
    assert ours == segtool.evaluate_panoptic(PANOPTIC_EXAMPLES, pred).to_panopticapi()


def test_in_memory_panoptic_mistakes_are_one_line_errors(tmp_path):
    pred = _in_memory(_panoptic_prediction(tmp_path), as_ids=True)
    iid = next(iter(pred))
    ids, info = pred[iid]
    cases = {
        "an unknown category": {**pred, iid: (ids, [{**info[0], "category_id": 99999}, *info[1:]])},
        "the wrong size": {**pred, iid: (ids[:-1], info)},
        "not in segments_info": {**pred, iid: (ids, info[1:])},
        "float ids": {**pred, iid: (ids.astype(float), info)},
    }
    for why, bad in cases.items():
        with pytest.raises(SegtoolError) as exc:
            segtool.evaluate_panoptic(PANOPTIC_EXAMPLES, bad)
        assert "\n" not in str(exc.value), why
    with pytest.raises(SegtoolError, match="does not have"):
        segtool.evaluate_panoptic(PANOPTIC_EXAMPLES, {**pred, 123456789: (ids, info)})


def test_datasets_as_inputs_equal_paths(tmp_path):
    pred = _panoptic_prediction(tmp_path)
    by_path = segtool.evaluate_semantic(PANOPTIC_EXAMPLES, tmp_path / "sem").to_dict()
    gt_ds, pred_ds = segtool.read(PANOPTIC_EXAMPLES), segtool.read(tmp_path / "sem")
    assert segtool.evaluate_semantic(gt_ds, tmp_path / "sem").to_dict() == by_path
    pq = segtool.evaluate_panoptic(segtool.read(PANOPTIC_EXAMPLES), segtool.read(pred)).to_panopticapi()
    assert pq == segtool.evaluate_panoptic(PANOPTIC_EXAMPLES, pred).to_panopticapi()
    assert segtool.validate(gt_ds).to_dict() == segtool.validate(PANOPTIC_EXAMPLES).to_dict()
    assert pred_ds.kind == "semantic"


def test_write_takes_a_format_name_and_its_options(tmp_path):
    ds = segtool.read(PANOPTIC_EXAMPLES)
    a = segtool.write(ds, tmp_path / "a.json", "coco-instance", mask_encoding="polygon")
    b = segtool.write(ds, tmp_path / "b.json", segtool.WriteOptions("coco-instance", mask_encoding="polygon"))
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert a.segments == b.segments > 0
    with pytest.raises(TypeError, match="mask_encodin"):
        segtool.write(ds, tmp_path / "c.json", "coco-instance", mask_encodin="polygon")
    with pytest.raises(SegtoolError, match="not read from"):
        segtool.validate(segtool.Dataset((), (), "panoptic"))
