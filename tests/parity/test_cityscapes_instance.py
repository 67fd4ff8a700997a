"""Cityscapes instance-level AP (``eval instance --protocol cityscapes``) against
cityscapesScripts' evalInstanceLevelSemanticLabeling run in-process on generated trees:
several images, every evaluated thing class, groups (crowds), objects below the 100-pixel
minimum, caravan objects and groups (an ignoreInEval label with instances), void regions,
predictions with tied confidences, duplicates, wrong classes, empty masks, predictions of
labels not scored and predictions lying on void and groups. AP and AP50, overall and per
class, equal to 1e-9; the reference's txt + PNG layout and a COCO results list alike."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools import mask as mask_utils

import segtool
from segtool.cli import main
from segtool.formats.cityscapes_instances import encode
from segtool.formats.cityscapes_labels import LABELS
from segtool.metrics import cityscapes_instance as csi
from tests.test_cityscapes import cityscapesscripts_stubbed

H, W = 48, 96
STEMS = [f"{c}_{i:06d}_000019" for i, c in enumerate(["aachen", "aachen", "bremen", "bremen", "ulm", "ulm", "zurich"])]
THINGS = [24, 25, 26, 27, 28, 31, 32, 33]  # person … bicycle
BACKGROUND = [0, 4, 6, 7, 8, 11, 21, 23, 9, 18]  # void, ignoreInEval and evaluated stuff
CONFS = [0.25, 0.5, 0.5, 0.75, 0.9]  # few values: ties across and within images


def gt_map(rng: np.random.Generator, image: int) -> np.ndarray:
    """An instanceIds map: stuff and void blocks, then objects (id * 1000 + k) of random
    thing classes and sizes (some under 100 pixels), groups (the plain id), caravans."""
    inst = np.zeros((H, W), np.int64)
    for _ in range(6):
        y, x = int(rng.integers(0, H)), int(rng.integers(0, W))
        inst[y : y + int(rng.integers(8, 30)), x : x + int(rng.integers(10, 50))] = rng.choice(BACKGROUND)
    counts: dict[int, int] = {}
    classes = [*THINGS[image % 4 :: 2], 29]  # not every class in every image; bus and train rarer
    for _ in range(int(rng.integers(6, 11))):
        label = int(rng.choice(classes))
        y, x = int(rng.integers(0, H - 4)), int(rng.integers(0, W - 4))
        h, w = int(rng.integers(4, 20)), int(rng.integers(4, 30))
        value = label
        if rng.random() > 0.2:
            value = label * 1000 + counts.get(label, 0)
            counts[label] = counts.get(label, 0) + 1
        inst[y : y + h, x : x + w] = value
    return inst


def predictions(rng: np.random.Generator, inst: np.ndarray) -> list[tuple[np.ndarray, int, float]]:
    """(mask, label id, confidence): each object found (shifted, grown or shrunk) most times,
    sometimes twice or with the wrong class; false positives anywhere (void, groups, small
    objects); an empty mask; labels the benchmark does not score."""
    out: list[tuple[np.ndarray, int, float]] = []
    for value in np.unique(inst):
        label = int(value // 1000) if value >= 1000 else int(value)
        if label not in [*THINGS, 29]:
            continue
        obj = inst == value
        for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):
            mask = np.roll(obj, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
            if rng.random() < 0.3:
                mask = mask | np.roll(mask, 1, axis=1)
            claimed = label if rng.random() > 0.15 else int(rng.choice(THINGS))
            out.append((mask, claimed, float(rng.choice(CONFS))))
    for _ in range(int(rng.integers(2, 6))):
        mask = np.zeros((H, W), bool)
        y, x = int(rng.integers(0, H - 3)), int(rng.integers(0, W - 3))
        mask[y : y + int(rng.integers(3, 16)), x : x + int(rng.integers(3, 24))] = True
        out.append((mask, int(rng.choice(THINGS)), float(rng.choice(CONFS))))
    void = np.isin(inst, [0, 4, 6])
    if void.any():
        out.append((void, int(rng.choice(THINGS)), 0.6))  # mostly on void: ignored at every overlap
    out.append((np.zeros((H, W), bool), 26, 0.8))  # empty: passed over
    out.append((inst == 7, 7, 0.7))  # road: not scored
    return out


def write_case(root: Path, seed: int) -> dict[str, Any]:
    """The tree, the reference's results folder (txt + PNG) and the same as a COCO results list."""
    rng = np.random.default_rng(seed)
    gt_files, txt_files, coco = [], [], []
    results = root / "results"
    for n, stem in enumerate(STEMS):
        inst = gt_map(rng, n)
        folder = root / "gtFine" / "val" / stem.split("_")[0]
        folder.mkdir(parents=True, exist_ok=True)
        labels = np.where(inst >= 1000, inst // 1000, inst)
        Image.fromarray(labels.astype(np.uint8)).save(folder / f"{stem}_gtFine_labelIds.png")
        Image.fromarray(inst.astype(np.uint16)).save(folder / f"{stem}_gtFine_instanceIds.png")
        gt_files.append(folder / f"{stem}_gtFine_instanceIds.png")
        (results / "masks").mkdir(parents=True, exist_ok=True)
        lines = []
        for k, (mask, label, conf) in enumerate(predictions(rng, inst)):
            png = results / "masks" / f"{stem}_{k}.png"
            Image.fromarray(mask.astype(np.uint8) * 255).save(png)
            lines.append(f"masks/{png.name} {label} {conf}")
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            seg = {"size": rle["size"], "counts": rle["counts"].decode()}
            coco.append({"image_id": stem, "category_id": label, "segmentation": seg, "score": conf})
        txt = results / f"{stem}_leftImg8bit_pred.txt"
        txt.write_text("\n".join(lines) + "\n")
        txt_files.append(txt)
    (root / "coco.json").write_text(json.dumps(coco))
    return {"gt": gt_files, "txt": txt_files, "results": results}


def reference(case: dict[str, Any], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """evalInstanceLevelSemanticLabeling.evaluateImgLists, quiet, its files in ``tmp``."""
    cityscapesscripts_stubbed()
    from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as ev

    monkeypatch.setattr(np, "in1d", np.isin, raising=False)  # gone in numpy 2
    monkeypatch.chdir(tmp)
    # its JSON dumps (gtInstances.json, matches.json) fail on numpy 2's integers; nothing reads them back here
    monkeypatch.setattr(ev, "writeDict2JSON", lambda *_: None)
    args = ev.args
    for name, value in {
        "quiet": True,
        "JSONOutput": False,
        "gtInstancesFile": str(tmp / "gtInstances.json"),
        "predictionPath": os.path.abspath(case["results"]),
    }.items():
        monkeypatch.setattr(args, name, value)
    with contextlib.redirect_stdout(io.StringIO()):
        res = ev.evaluateImgLists([str(p) for p in case["txt"]], [str(g) for g in case["gt"]], args)
    return res  # type: ignore[no-any-return]


def assert_same(ours: dict[str, Any], ref: dict[str, Any]) -> None:
    """AP, AP50 and each class' both, NaN in the reference being None here; the AP matrix."""
    avg = ref["averages"]
    assert ours["AP"] == pytest.approx(avg["allAp"], abs=1e-9)
    assert ours["AP50"] == pytest.approx(avg["allAp50%"], abs=1e-9)
    by_name = {r["name"]: r for r in ours["per_class"].values()}
    assert list(by_name) == ref["instLabels"]
    for name, theirs in avg["classes"].items():
        for mine, key in (("AP", "ap"), ("AP50", "ap50%")):
            if math.isnan(theirs[key]):
                assert by_name[name][mine] is None, name
            else:
                assert by_name[name][mine] == pytest.approx(theirs[key], abs=1e-9), (name, mine)
    matrix = np.array(ref["resultApMatrix"][0], dtype=float)
    table = np.array([[math.nan if v is None else v for v in row] for row in ours["ap_matrix"]])
    np.testing.assert_allclose(table, matrix, atol=1e-9, rtol=0, equal_nan=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_txt_and_coco_results_equal_the_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    case = write_case(tmp_path, seed)
    ref = reference(case, tmp_path, monkeypatch)
    ours = segtool.evaluate_instance(tmp_path / "gtFine", case["results"], protocol="cityscapes").to_dict()
    assert_same(ours, ref)
    assert ours["images"] == len(STEMS)
    defined = [r for r in ours["per_class"].values() if r["AP"] is not None]
    assert len(defined) >= 5 and any(0.0 < r["AP"] < 1.0 for r in defined)  # the case is not trivial
    assert 0.05 < ours["AP"] < 0.95 and ours["AP50"] > ours["AP"]
    coco = segtool.evaluate_instance(tmp_path / "gtFine", tmp_path / "coco.json", protocol="cityscapes").to_dict()
    assert_same(coco, ref)


def test_cli_json_and_gates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = write_case(tmp_path, 4)
    ref = reference(case, tmp_path, monkeypatch)
    gt, res = str(tmp_path / "gtFine"), str(case["results"])
    run = CliRunner().invoke(main, ["eval", "instance", gt, res, "--protocol", "cityscapes", "--json", "-", "-q"])
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert data["AP"] == pytest.approx(ref["averages"]["allAp"], abs=1e-9)
    table = CliRunner().invoke(main, ["eval", "instance", gt, res, "--protocol", "cityscapes", "--per-class"])
    assert table.exit_code == 0 and "AP per class" in table.output and "motorcycle" in table.output
    csv = tmp_path / "out.csv"
    rows = CliRunner().invoke(main, ["eval", "instance", gt, res, "--protocol", "cityscapes", "--csv", str(csv), "-q"])
    assert rows.exit_code == 0 and csv.read_text().splitlines()[0] == "category_id,name,AP,AP50"
    assert len(csv.read_text().splitlines()) == 9
    gate = CliRunner().invoke(
        main, ["eval", "instance", gt, res, "--protocol", "cityscapes", "--fail-under", "AP=0.99"]
    )
    assert gate.exit_code == 1 and "quality gate failed: AP" in gate.output
    refused = (
        ["--iou-type", "bbox"],
        ["--fail-under", "AP75=0.1"],
        ["--max-dets", "1,2,3"],
        ["--tide"],
        ["--train-ids"],
    )
    for extra in refused:
        bad = CliRunner().invoke(main, ["eval", "instance", gt, res, "--protocol", "cityscapes", *extra])
        assert bad.exit_code == 2 and "Traceback" not in bad.output, extra


def _one_image(root: Path, preds: list[tuple[np.ndarray, int, float]], inst: np.ndarray) -> dict[str, Any]:
    folder = root / "gtFine" / "val" / "ulm"
    folder.mkdir(parents=True)
    stem = "ulm_000000_000019"
    Image.fromarray(np.where(inst >= 1000, inst // 1000, inst).astype(np.uint8)).save(
        folder / f"{stem}_gtFine_labelIds.png"
    )
    Image.fromarray(inst.astype(np.uint16)).save(folder / f"{stem}_gtFine_instanceIds.png")
    results = root / "results"
    results.mkdir()
    lines = []
    for k, (mask, label, conf) in enumerate(preds):
        Image.fromarray(mask.astype(np.uint8) * 255).save(results / f"m{k}.png")
        lines.append(f"m{k}.png {label} {conf}")
    (results / f"{stem}.txt").write_text("\n".join(lines))
    return segtool.evaluate_instance(root / "gtFine", results, protocol="cityscapes").to_dict()


def test_by_hand(tmp_path: Path) -> None:
    """One car of 400 pixels over road, a void block: found exactly (0.9) and a false
    positive on road (0.95): at 0.95 precision 0 recall 0, at 0.9 precision 1/2 recall 1,
    the artificial point (1, 0); the reference's steps: widths 0.5, 0.5, 0, so AP =
    0.5 * 0.5 = 0.25 at every overlap. A prediction on void alone (0.99) is ignored."""
    inst = np.full((40, 60), 7, np.int64)
    inst[0:20, 0:20] = 26000
    inst[30:40, 40:60] = 0
    car = inst == 26000
    fp = np.zeros_like(car)
    fp[25:30, 0:10] = True
    preds = [(car, 26, 0.9), (fp, 26, 0.95), (inst == 0, 26, 0.99)]
    result = _one_image(tmp_path, preds, inst)
    assert result["AP"] == pytest.approx(0.25, abs=1e-12) and result["AP50"] == pytest.approx(0.25, abs=1e-12)
    assert [r["AP"] for r in result["per_class"].values() if r["name"] != "car"] == [None] * 7


def test_small_objects_groups_and_the_average_precision_function() -> None:
    """No example at all (every ground truth missed, every prediction ignored): 0, where the
    reference fails on an empty array; one true positive alone: 1."""
    assert csi.average_precision(np.zeros(0), np.zeros(0), 3) == 0.0
    assert csi.average_precision(np.ones(1), np.array([0.5]), 0) == pytest.approx(1.0)
    # recall 1/2 at precision 1, then the artificial point: widths 0.25 and 0.25
    assert csi.average_precision(np.ones(1), np.array([0.5]), 1) == pytest.approx(0.5)


def test_protocol_constants_are_the_reference_labels() -> None:
    """The 8 classes and the void labels are labels.py's instLabels and ignoreInEval ones."""
    cityscapesscripts_stubbed()
    from cityscapesscripts.helpers.labels import labels

    assert csi.CLASSES == tuple(lab.name for lab in labels if lab.hasInstances and not lab.ignoreInEval)
    assert set(csi.VOID) == {lab.name for lab in labels if lab.ignoreInEval}
    assert set(csi.VOID) == {lab.name for lab in LABELS if lab.ignore_in_eval}
    assert len(csi.OVERLAPS) == 10 and csi.OVERLAPS[2] == np.arange(0.5, 1.0, 0.05)[2]


def test_bad_lists_are_one_line(tmp_path: Path) -> None:
    """A list line with two fields, a mask outside the folder, an unknown label: exit 2, one line."""
    inst = np.full((20, 20), 7, np.int64)
    inst[0:12, 0:12] = 24000
    result = _one_image(tmp_path, [(inst == 24000, 24, 0.5)], inst)
    assert result["AP"] == pytest.approx(1.0)
    txt = tmp_path / "results" / "ulm_000000_000019.txt"
    gt, res = str(tmp_path / "gtFine"), str(tmp_path / "results")
    for text, expected in (
        ("m0.png 24\n", "expected '<mask png> <label id> <confidence>'"),
        ("../m0.png 24 0.5\n", "outside the predictions folder"),
        ("m0.png 77 0.5\n", "77 is no Cityscapes label id"),
        ("missing.png 24 0.5\n", "not found"),
    ):
        txt.write_text(text)
        run = CliRunner().invoke(main, ["eval", "instance", gt, res, "--protocol", "cityscapes"])
        assert run.exit_code == 2 and expected in run.output and "Traceback" not in run.output, (text, run.output)


def test_borders_by_hand(tmp_path: Path) -> None:
    """A person of exactly 100 pixels (counted: at least minRegionSizes[0]) under a
    prediction twice its size (IoU exactly 0.5: no match, the overlap must be exceeded), so a
    missed object and a false positive: AP 0, AP50 0. A rider of 99 pixels found exactly:
    too small to count, and its prediction ignored: the class has no ground truth."""
    inst = np.full((40, 60), 7, np.int64)
    inst[0:10, 0:10] = 24000
    inst[20:29, 0:11] = 25000
    cover = np.zeros(inst.shape, bool)
    cover[0:10, 0:20] = True
    result = _one_image(tmp_path, [(cover, 24, 0.8), (inst == 25000, 25, 0.7)], inst)
    by_name = {r["name"]: r for r in result["per_class"].values()}
    assert by_name["person"]["AP"] == 0.0 and by_name["person"]["AP50"] == 0.0
    assert by_name["rider"]["AP"] is None
    assert result["AP"] == 0.0 and result["AP50"] == 0.0


def test_mask_encoding_is_pycocotools() -> None:
    """The txt reader's RLE of a mask (from its transpose) is pycocotools' encode, string for string."""
    rng = np.random.default_rng(7)
    for shape in [(1, 1), (3, 5), (48, 96), (17, 3)]:
        for p in (0.0, 0.02, 0.5, 0.98, 1.0):
            m = rng.random(shape) < p
            ref = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            got = encode(np.ascontiguousarray(m.T))
            assert got == {"size": list(ref["size"]), "counts": ref["counts"].decode()}, (shape, p)


def test_list_quirks(tmp_path: Path) -> None:
    """A mask listed twice is one prediction (the last line's label and score, as readPredInfo's
    dict), blank lines are passed over, a label the benchmark does not score is passed over."""
    inst = np.full((20, 20), 7, np.int64)
    inst[0:12, 0:12] = 24000
    obj = inst == 24000
    _one_image(tmp_path, [(obj, 26, 0.9)], inst)
    txt = tmp_path / "results" / "ulm_000000_000019.txt"
    txt.write_text("m0.png 26 0.9\n\nm0.png 24 0.5\nm0.png 7 0.4\n\n")  # the last line wins: road, not scored
    result = segtool.evaluate_instance(tmp_path / "gtFine", tmp_path / "results", protocol="cityscapes").to_dict()
    assert result["per_class"][24]["AP"] == 0.0 and result["per_class"][26]["AP"] is None
    txt.write_text("m0.png 26 0.9\n\nm0.png 24 0.5\n")
    result = segtool.evaluate_instance(tmp_path / "gtFine", tmp_path / "results", protocol="cityscapes").to_dict()
    assert result["per_class"][24]["AP"] == 1.0 and result["AP"] == 1.0


MMSEG = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "mmsegmentation" / "cityscapes"


@pytest.mark.skipif(not MMSEG.is_dir(), reason="the real mmsegmentation fixture is not beside the repository")
def test_a_real_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mmsegmentation's real frame (frankfurt_000000_000294, 256x128: persons 24000-24003,
    cars 26000-26002; read from ../shared): each object predicted shifted by 0-3 pixels, tied confidences, a car
    also called a person, a false positive on the road, one over the void labels."""
    stem = "frankfurt_000000_000294"
    inst = np.asarray(Image.open(MMSEG / "gtFine" / f"{stem}_gtFine_instanceIds.png")).astype(np.int64)
    results = tmp_path / "results"
    results.mkdir()
    preds: list[tuple[np.ndarray, int, float]] = []
    for k, value in enumerate(v for v in np.unique(inst) if v >= 1000):
        preds.append((np.roll(inst == value, k % 4, axis=1), int(value // 1000), [0.9, 0.6, 0.6, 0.3][k % 4]))
    preds.append((inst == 26000, 24, 0.6))
    road = np.zeros(inst.shape, bool)
    road[100:120, 20:60] = True
    preds += [(road, 26, 0.95), (np.isin(inst, [0, 1, 2, 3, 4, 5, 6]), 24, 0.99)]
    lines = []
    for k, (mask, label, conf) in enumerate(preds):
        Image.fromarray(mask.astype(np.uint8) * 255).save(results / f"{stem}_{k}.png")
        lines.append(f"{stem}_{k}.png {label} {conf}")
    txt = results / f"{stem}_leftImg8bit_pred.txt"
    txt.write_text("\n".join(lines) + "\n")
    case = {"gt": [MMSEG / "gtFine" / f"{stem}_gtFine_instanceIds.png"], "txt": [txt], "results": results}
    ref = reference(case, tmp_path, monkeypatch)
    ours = segtool.evaluate_instance(MMSEG / "gtFine", results, protocol="cityscapes").to_dict()
    assert_same(ours, ref)
    # the persons are 6 to 42 pixels: none counts (the reference's NaN); the cars of 224 and 1,572 do
    assert ours["per_class"][24]["AP"] is None and ours["per_class"][26]["AP"] is not None
    assert 0.1 < ours["AP"] < 0.9


def test_intersections_from_ious_are_the_pixel_counts() -> None:
    """Each prediction's pixels on each object and on the void, recovered from pycocotools'
    IoU of the RLEs, equal the counts of the decoded masks (random shapes, sizes up to 2048 x 1024)."""
    rng = np.random.default_rng(11)
    for h, w in ((7, 5), (64, 48), (1024, 2048)):
        objects = rng.random((4, h, w)) < rng.random((4, 1, 1))
        void = rng.random((h, w)) < 0.3
        dts = rng.random((5, h, w)) < rng.random((5, 1, 1))
        dts[0] = True  # the whole image
        truth = csi._Truth(
            np.zeros(4, np.int64),
            objects.reshape(4, -1).sum(axis=1),
            np.zeros(4, bool),
            [encode(np.ascontiguousarray(o.T)) for o in objects],
            encode(np.ascontiguousarray(void.T)),
        )
        areas = dts.reshape(5, -1).sum(axis=1)
        inter, on_void = csi._intersections([encode(np.ascontiguousarray(d.T)) for d in dts], areas, truth)
        assert (inter == np.einsum("dhw,ghw->dg", dts.astype(np.int32), objects.astype(np.int32))).all()
        assert (on_void == (dts & void).reshape(5, -1).sum(axis=1)).all()
