"""Cityscapes scored as its benchmark scores it, against cityscapesScripts run in-process:
mIoU and class IoU = evalPixelLevelSemanticLabeling (evaluateImgLists), PQ =
evalPanopticSemanticLabeling (pq_compute_single_core + average_pq), and the tree converted
to COCO panoptic = createPanopticImgs' partition, all on generated trees (random labels,
void and ignoreInEval ones included, instances and crowds)."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import segtool
from segtool.cli import main
from segtool.formats.cityscapes_labels import BY_ID, LABELS
from tests.test_cityscapes import cityscapesscripts_stubbed

H, W = 32, 64
STEMS = [f"{city}_{i:06d}_000019" for i, city in enumerate(["aachen", "aachen", "bremen", "bremen", "ulm", "ulm"])]
IDS = [lab.id for lab in LABELS if lab.id >= 0]  # 0..33: void, ignoreInEval and evaluated labels alike


def random_instances(rng: np.random.Generator) -> np.ndarray:
    """An instanceIds map: rectangles of random labels over a random background label;
    thing labels as instances (id * 1000 + k) or, one time in four, crowds (the plain id)."""
    inst = np.full((H, W), rng.choice(IDS), np.int64)
    counts: dict[int, int] = {}
    for _ in range(int(rng.integers(6, 14))):
        label = BY_ID[int(rng.choice(IDS))]
        y, x = int(rng.integers(0, H - 2)), int(rng.integers(0, W - 2))
        h, w = int(rng.integers(2, H // 2)), int(rng.integers(2, W // 2))
        value = label.id
        if label.has_instances and rng.random() > 0.25:
            value = label.id * 1000 + counts.get(label.id, 0)
            counts[label.id] = counts.get(label.id, 0) + 1
        inst[y : y + h, x : x + w] = value
    return inst


def perturbed(rng: np.random.Generator, inst: np.ndarray) -> np.ndarray:
    """A prediction: the ground truth with some rectangles repainted and some pixels noisy."""
    out = inst.copy()
    for _ in range(int(rng.integers(2, 6))):
        y, x = int(rng.integers(0, H - 2)), int(rng.integers(0, W - 2))
        out[y : y + int(rng.integers(2, 12)), x : x + int(rng.integers(2, 20))] = int(rng.choice(IDS))
    noise = rng.random((H, W)) < 0.05
    out[noise] = rng.choice(IDS, size=int(noise.sum()))
    return out


def labels_of(inst: np.ndarray) -> np.ndarray:
    return np.where(inst >= 1000, inst // 1000, inst)


def write_tree(root: Path, maps: list[np.ndarray]) -> list[Path]:
    """gtFine/val/<city>/<stem>_gtFine_{labelIds,instanceIds}.png; the labelIds paths."""
    out = []
    for stem, inst in zip(STEMS, maps, strict=True):
        folder = root / "val" / stem.split("_")[0]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(labels_of(inst).astype(np.uint8)).save(folder / f"{stem}_gtFine_labelIds.png")
        Image.fromarray(inst.astype(np.uint16)).save(folder / f"{stem}_gtFine_instanceIds.png")
        out.append(folder / f"{stem}_gtFine_labelIds.png")
    return out


@pytest.fixture
def trees(tmp_path: Path) -> dict[str, Any]:
    cityscapesscripts_stubbed()
    rng = np.random.default_rng(2026)
    gt = [random_instances(rng) for _ in STEMS]
    pred = [perturbed(rng, g) for g in gt]
    gt_files = write_tree(tmp_path / "gtFine", gt)
    write_tree(tmp_path / "pred" / "gtFine", pred)
    results = tmp_path / "results"  # mmsegmentation's naming: <stem>_leftImg8bit.png, label ids
    results.mkdir()
    pred_files = []
    for stem, p in zip(STEMS, pred, strict=True):
        pred_files.append(results / f"{stem}_leftImg8bit.png")
        Image.fromarray(labels_of(p).astype(np.uint8)).save(pred_files[-1])
    return {"root": tmp_path, "gt": gt_files, "pred": pred_files}


def reference_semantic(gt: list[Path], pred: list[Path]) -> dict[str, Any]:
    """evalPixelLevelSemanticLabeling.evaluateImgLists, quiet and without its JSON file."""
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as ev

    ev.args.quiet, ev.args.JSONOutput = True, False
    with contextlib.redirect_stdout(io.StringIO()), pytest.MonkeyPatch.context() as mp:
        mp.setattr(np, "in1d", np.isin, raising=False)  # gone in numpy 2; its iIoU part calls it
        return ev.evaluateImgLists([str(p) for p in pred], [str(g) for g in gt], ev.args)  # type: ignore[no-any-return]


def test_miou_equals_eval_pixel_level_semantic_labeling(trees: dict[str, Any]) -> None:
    ref = reference_semantic(trees["gt"], trees["pred"])
    result = segtool.evaluate_semantic(trees["root"] / "gtFine", trees["root"] / "results").to_dict()
    assert len(result["per_class"]) == 19
    evaluated = [lab for lab in LABELS if lab.id >= 0 and not lab.ignore_in_eval]
    present = 0
    for lab in evaluated:
        theirs, ours = ref["classScores"][lab.name], result["per_class"][lab.id]["iou"]
        if math.isnan(theirs):
            assert ours is None, lab.name
        else:
            present += 1
            assert ours == pytest.approx(theirs, abs=1e-9), lab.name
    assert present >= 15  # most classes are there, and some IoUs are below 1
    assert result["mIoU"] == pytest.approx(ref["averageScoreClasses"], abs=1e-9)
    assert 0.3 < result["mIoU"] < 0.99
    # a Cityscapes tree as predictions (its labelIds, read by stem) gives the same numbers
    tree = segtool.evaluate_semantic(trees["root"] / "gtFine", trees["root"] / "pred" / "gtFine").to_dict()
    assert tree["mIoU"] == pytest.approx(ref["averageScoreClasses"], abs=1e-9)


def test_miou_cli_and_prediction_names(trees: dict[str, Any], runner: Any) -> None:
    """The CLI on the same folders; predictions named <city>_<seq>_<frame>*.png anywhere below."""
    ref = reference_semantic(trees["gt"], trees["pred"])
    nested = trees["root"] / "nested"
    for k, p in enumerate(trees["pred"]):
        folder = nested / ("a" if k % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        p.rename(folder / p.name.replace("_leftImg8bit", "_pred_labelIds"))
    r = runner.invoke(main, ["eval", "semantic", str(trees["root"] / "gtFine"), str(nested), "--json", "-"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["mIoU"] == pytest.approx(ref["averageScoreClasses"], abs=1e-9)


def _convert2panoptic(gt: Path, out: Path) -> Path:
    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic

    out.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):
        convert2panoptic(str(gt), str(out), setNames=["val"])
    return out / "cityscapes_panoptic_val.json"


def reference_pq(gt: Path, pred: Path) -> dict[str, Any]:
    """evalPanopticSemanticLabeling's statistics (single core) and averages."""
    from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import average_pq, pq_compute_single_core

    gt_json, pred_json = json.loads(gt.read_text()), json.loads(pred.read_text())
    preds = {a["image_id"]: a for a in pred_json["annotations"]}
    pairs = [(a, preds[a["image_id"]]) for a in gt_json["annotations"]]
    cats = {c["id"]: c for c in gt_json["categories"]}
    with contextlib.redirect_stdout(io.StringIO()):
        stat = pq_compute_single_core(0, pairs, str(gt.with_suffix("")), str(pred.with_suffix("")), cats)
    return average_pq(stat, cats)  # type: ignore[no-any-return]


def assert_pq(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    for group in ("All", "Things", "Stuff"):
        assert ours[group]["n"] == theirs[group]["n"], group
        for key in ("pq", "sq", "rq"):
            assert ours[group][key] == pytest.approx(theirs[group][key], abs=1e-9), (group, key)
    for cat, values in theirs["per_class"].items():
        for key in ("pq", "sq", "rq"):
            assert ours["per_class"][cat][key] == pytest.approx(values[key], abs=1e-9), (cat, key)


def test_pq_equals_eval_panoptic_semantic_labeling(trees: dict[str, Any]) -> None:
    root = trees["root"]
    gt_json = _convert2panoptic(root / "gtFine", root / "ref_gt")
    pred_json = _convert2panoptic(root / "pred" / "gtFine", root / "ref_pred")
    theirs = reference_pq(gt_json, pred_json)
    assert 0.2 < theirs["All"]["pq"] < 0.95 and theirs["Things"]["n"] > 0 and theirs["Stuff"]["n"] > 0
    for gt, pred in (
        (gt_json, pred_json),  # both made by createPanopticImgs
        (root / "gtFine", pred_json),  # the tree itself as ground truth
        (root / "gtFine", root / "pred" / "gtFine"),  # a Cityscapes tree as predictions
    ):
        assert_pq(segtool.evaluate_panoptic(gt, pred).to_dict(), theirs)


def test_convert_to_coco_panoptic_is_create_panoptic_imgs_partition(trees: dict[str, Any], runner: Any) -> None:
    root = trees["root"]
    theirs_json = _convert2panoptic(root / "gtFine", root / "ref_gt")
    ours_json = root / "ours" / "panoptic.json"
    r = runner.invoke(main, ["convert", str(root / "gtFine"), str(ours_json), "--to", "coco-panoptic"])
    assert r.exit_code == 0, r.output
    theirs, ours = json.loads(theirs_json.read_text()), json.loads(ours_json.read_text())
    keys = ("id", "name", "isthing", "supercategory")
    assert [{k: c[k] for k in keys} for c in ours["categories"]] == [
        {k: c[k] for k in keys} for c in theirs["categories"]
    ]
    assert [list(c["color"]) for c in ours["categories"]] == [list(c["color"]) for c in theirs["categories"]]
    assert [i["id"] for i in ours["images"]] == [i["id"] for i in theirs["images"]] == STEMS
    by_id = {a["image_id"]: a for a in ours["annotations"]}
    segments = crowds = 0
    for ann in theirs["annotations"]:
        mine = by_id[ann["image_id"]]
        a = _ids(theirs_json.with_suffix("") / ann["file_name"])
        b = _ids(ours_json.with_suffix("") / mine["file_name"])
        assert np.array_equal(a == 0, b == 0)  # the same void
        pairs = np.unique(np.stack([a[a > 0], b[b > 0]]), axis=1)
        assert len(set(pairs[0])) == len(set(pairs[1])) == pairs.shape[1]  # one segment for one segment
        info_a = {s["id"]: s for s in ann["segments_info"]}
        info_b = {s["id"]: s for s in mine["segments_info"]}
        assert len(info_a) == len(info_b) == pairs.shape[1]
        for x, y in pairs.T.tolist():
            for key in ("category_id", "iscrowd", "area", "bbox"):
                assert info_a[x][key] == info_b[y][key], key
        segments += pairs.shape[1]
        crowds += sum(s["iscrowd"] for s in info_a.values())
    assert segments >= 25 and crowds > 0


def _ids(path: Path) -> np.ndarray:
    rgb = np.asarray(Image.open(path), np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


MMSEG = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "mmsegmentation" / "cityscapes"


@pytest.mark.skipif(not MMSEG.is_dir(), reason="the real mmsegmentation fixture is not beside the repository")
def test_miou_on_a_real_frame(tmp_path: Path) -> None:
    """mmsegmentation's real frame (frankfurt_000000_000294, 256x128, flat gtFine/ with its
    photo in leftImg8bit/): its labelIds shifted by 3 pixels as the prediction."""
    cityscapesscripts_stubbed()
    gt = MMSEG / "gtFine"
    labels = np.asarray(Image.open(gt / "frankfurt_000000_000294_gtFine_labelIds.png"))
    results = tmp_path / "results"
    results.mkdir()
    pred = results / "frankfurt_000000_000294_leftImg8bit.png"
    Image.fromarray(np.roll(labels, 3, axis=1)).save(pred)
    ref = reference_semantic([gt / "frankfurt_000000_000294_gtFine_labelIds.png"], [pred])
    result = segtool.evaluate_semantic(gt, results).to_dict()
    assert result["mIoU"] == pytest.approx(ref["averageScoreClasses"], abs=1e-9)
    assert 0.5 < result["mIoU"] < 0.95 and result["classes_averaged"] >= 8
    for lab in LABELS:
        if lab.id >= 0 and not lab.ignore_in_eval and not math.isnan(ref["classScores"][lab.name]):
            assert result["per_class"][lab.id]["iou"] == pytest.approx(ref["classScores"][lab.name], abs=1e-9)
