"""validate's tolerance on stored areas and boxes (docs/validate.md, "Tolerances"): what real
files round or count differently is info (area-tolerated, bbox-tolerated), beyond it an error;
--tolerance 0 is the strict comparison; a box-only area larger than its box is an error.

Expectations are computed by hand in the comments; the last tests run over the real files of
../shared/data/real (not committed: skipped when absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from segtool import validate
from segtool.checks import CheckOptions
from segtool.checks.tolerance import Tolerance, Verdict, area_verdict, box_area_verdict, box_verdict, outline
from segtool.errors import SegtoolError
from tests.conftest import panoptic_segments, rle, write_json, write_panoptic
from tests.helpers import invoke, square

COVERED = {"area-tolerated", "bbox-tolerated", "area-exceeds-box"}
ERROR_CODES = {"area-mismatch", "bbox-mismatch", "area-exceeds-box"}
IMAGE = {"id": 1, "file_name": "a.jpg", "height": 10, "width": 10}
CATS = [{"id": 1, "name": "thing"}]
SQUARE = [1, 1, 5, 1, 5, 5, 1, 5]  # shoelace area 16, extent [1, 1, 4, 4], outline 16


def instances(tmp_path: Path, *anns: dict) -> Path:
    full = [{"id": i, "image_id": 1, "category_id": 1, "iscrowd": 0, **a} for i, a in enumerate(anns, start=1)]
    return write_json(tmp_path / "inst.json", {"images": [IMAGE], "annotations": full, "categories": CATS})


def found(path: Path, tolerance=None) -> list[tuple[str, str]]:
    """(code, severity) of every area and bbox finding, in order."""
    kw = {} if tolerance is None else {"tolerance": tolerance}
    mine = COVERED | {"area-mismatch", "bbox-mismatch"}
    return [(f.code, str(f.severity)) for f in validate(path, **kw).findings if f.code in mine]


# ---- the tolerance itself


def test_the_flag_reads_px_and_fraction():
    assert Tolerance() == Tolerance(0.01, 0.001) == Tolerance.of("0.01,0.001") == Tolerance.of("0.01")
    assert Tolerance.of("0").strict and Tolerance.of(0).strict and Tolerance.of("0,0").strict
    assert Tolerance.of("0.05") == Tolerance(0.05, 0.005) and Tolerance.of("1, 0.01") == Tolerance(1, 0.01)
    assert not Tolerance.of("0,0.001").strict  # a fraction alone still tolerates
    assert str(Tolerance()) == "0.01,0.001" and str(Tolerance(0, 0)) == "0"
    for bad in ("", "x", "1,2,3", "-1", "nan", "inf", "0.01,-0.1"):
        with pytest.raises(ValueError):
            Tolerance.of(bad)
    assert CheckOptions(tolerance="0").tolerance == Tolerance(0, 0)  # what a library caller may pass
    assert CheckOptions().tolerance == Tolerance()


def test_verdicts_by_hand():
    t = Tolerance()
    # a pixel count 100: 100.01 rounded (0.01), 100.02 not (a pixel count has no relative slack)
    assert area_verdict(100.01, 100, t)[0] is Verdict.TOLERATED
    assert area_verdict(100.02, 100, t)[0] is Verdict.MISMATCH
    assert area_verdict(100.0000001, 100, t)[0] is Verdict.EXACT
    # a polygon's area 1000: 0.01 + 0.1% = 1.01 of rounding
    assert area_verdict(1001.0, 1000, t, outline=0.0)[0] is Verdict.TOLERATED
    assert area_verdict(1001.1, 1000, t, outline=0.0)[0] is Verdict.MISMATCH
    # the box: 0.005 per value rounds; 0.02 is off; w + 1 and w - 1 are conventions
    box = [10.0, 20.0, 30.0, 40.0]
    assert box_verdict([10.005, 19.995, 30.01, 40.0], box, t, polygon=False)[0] is Verdict.TOLERATED
    assert box_verdict([10.02, 20.0, 30.0, 40.0], box, t, polygon=False)[0] is Verdict.MISMATCH
    assert box_verdict([10, 20, 31, 41], box, t, polygon=False)[0] is Verdict.TOLERATED
    assert box_verdict([10, 20, 29, 39], box, t, polygon=False)[0] is Verdict.TOLERATED
    assert box_verdict([10, 20, 32, 40], box, t, polygon=False)[0] is Verdict.MISMATCH
    assert box_verdict([11, 20, 30, 40], box, t, polygon=False)[0] is Verdict.MISMATCH  # a shifted box
    # everything but the exact is a mismatch when strict
    strict = Tolerance(0, 0)
    assert area_verdict(100.01, 100, strict)[0] is Verdict.MISMATCH
    assert box_verdict([10, 20, 31, 41], box, strict, polygon=False)[0] is Verdict.MISMATCH
    assert outline([[0, 0, 3, 0, 3, 4]]) == pytest.approx(12.0)  # a 3-4-5 triangle


def test_box_only_area_by_hand():
    t = Tolerance()
    box = [149.0, 741.0, 57.0, 23.0]  # w × h = 1311, (w + 1) × (h + 1) = 1392
    assert box_area_verdict(1311, box, t) is Verdict.EXACT
    assert box_area_verdict(10, box, t) is Verdict.EXACT  # an object smaller than its box
    assert box_area_verdict(1392, box, t) is Verdict.TOLERATED
    assert box_area_verdict(1392.02, box, t) is Verdict.MISMATCH
    assert box_area_verdict(1040400, box, t) is Verdict.MISMATCH  # sahi: the whole 1360x765 image
    assert box_area_verdict(1312, box, Tolerance(0, 0)) is Verdict.MISMATCH


# ---- coco-instance, through validate


def test_rounding_to_two_decimals_passes(tmp_path):
    # points' extent [1.004, 1.003, 4.333, 3.993], shoelace 4.333 * 3.993 = 17.301669;
    # stored as a tool rounding to 2 decimals writes them: every value within 0.005
    poly = [1.004, 1.003, 5.337, 1.003, 5.337, 4.996, 1.004, 4.996]
    path = instances(tmp_path, {"segmentation": [poly], "area": 17.3, "bbox": [1.0, 1.0, 4.33, 3.99]})
    assert found(path) == [("area-tolerated", "info"), ("bbox-tolerated", "info")]
    assert found(path, 0) == [("area-mismatch", "error"), ("bbox-mismatch", "error")]
    assert validate(path).worst() is not None and str(validate(path).worst()) == "info"


def test_two_hundredths_off_fails(tmp_path):
    # x 0.02 off (neither rounding nor a pixel box: 1.02 is no whole number); an RLE of 9
    # pixels stored as 9.02; a polygon of area 4 stored 4.02 (0.01 + 0.1% of 4 = 0.014)
    tiny = [1, 1, 3, 1, 3, 3, 1, 3]
    path = instances(
        tmp_path,
        {"segmentation": [SQUARE], "area": 16.0, "bbox": [1.02, 1, 4, 4]},
        {"segmentation": rle(square(6, 6, 9, 9)), "area": 9.02, "bbox": [6, 6, 3, 3]},
        {"segmentation": [tiny], "area": 4.02, "bbox": [1, 1, 2, 2]},
    )
    assert found(path) == [("bbox-mismatch", "error"), ("area-mismatch", "error"), ("area-mismatch", "error")]
    findings = validate(path).findings
    assert "bbox is [1.02, 1, 4, 4] but the polygon spans [1.0, 1.0, 4.0, 4.0]" in [f.message for f in findings]
    assert "area is 9.02 but the mask's is 9" in [f.message for f in findings]  # the messages of before


def test_w_plus_one_passes_by_default_and_fails_strict(tmp_path):
    # COCO's old convention w = x2 - x1 + 1 on the polygon; the RLE's box one pixel narrower
    # (x2 - x1 over pixel indices: datumaro's), its pixel box being [6, 6, 3, 3]
    path = instances(
        tmp_path,
        {"segmentation": [SQUARE], "area": 16.0, "bbox": [1, 1, 5, 5]},
        {"segmentation": rle(square(6, 6, 9, 9)), "area": 9, "bbox": [6, 6, 2, 2]},
    )
    assert found(path) == [("bbox-tolerated", "info"), ("bbox-tolerated", "info")]
    assert found(path, "0") == [("bbox-mismatch", "error"), ("bbox-mismatch", "error")]
    assert found(path, Tolerance(0, 0)) == found(path, 0)


def test_polygon_versus_pixel_area(tmp_path):
    # a 4x4 square through pixel centres: shoelace 16, outline 16, extent [0.5, 0.5, 4, 4].
    # A rasteriser that takes every pixel it touches counts 25 (5x5) and boxes [0, 0, 5, 5]:
    # 9 off, within √2/2 · 16 + 1 = 12.31; 29 is 13 off, beyond; 25.5 is no pixel count.
    centred = [0.5, 0.5, 4.5, 0.5, 4.5, 4.5, 0.5, 4.5]
    path = instances(
        tmp_path,
        {"segmentation": [centred], "area": 25, "bbox": [0, 0, 5, 5]},
        {"segmentation": [centred], "area": 29, "bbox": [0, 0, 6, 6]},
        {"segmentation": [centred], "area": 25.5, "bbox": [0.3, 0, 5, 5]},
    )
    assert found(path) == [
        ("area-tolerated", "info"),
        ("bbox-tolerated", "info"),  # every edge within 1 px of the extent, whole numbers
        ("area-mismatch", "error"),
        ("bbox-mismatch", "error"),  # the right edge 1.5 px out
        ("area-mismatch", "error"),
        ("bbox-mismatch", "error"),  # 0.3 is no pixel's corner
    ]
    assert [c for c, _ in found(path, 0)] == ["area-mismatch", "bbox-mismatch"] * 3
    message = next(f.message for f in validate(path).findings if f.code == "area-tolerated")
    assert message == (
        "area is 25 and the polygon's is 16: within the tolerance (a pixel count of the polygon: 9 px off, 12.31 allowed)"
    )


def test_box_only_area_larger_than_its_box_is_an_error(tmp_path):
    # sahi's ground truth: a 57x23 box whose area is its 1360x765 image's; a box of 1311
    # with 1392 = 58 x 24 (a one-pixel convention), and a missing segmentation
    box = [149.0, 741.0, 57.0, 23.0]
    path = instances(
        tmp_path,
        {"segmentation": [], "area": 1040400, "bbox": box},
        {"segmentation": [], "area": 1311, "bbox": box},
        {"area": 1392, "bbox": box},
        {"segmentation": [], "area": 500, "bbox": box},
        {"segmentation": [], "bbox": box},
    )
    report = validate(path)
    assert [(f.code, f.segment_id) for f in report.findings if f.code in COVERED] == [
        ("area-exceeds-box", 1),
        ("area-tolerated", 3),
    ]
    assert str(report.worst()) == "error"
    assert next(f.message for f in report.findings if f.code == "area-exceeds-box") == (
        "area is 1040400 but its box [149.0, 741.0, 57.0, 23.0] holds 1311 (w × h), and it has no mask"
    )
    strict = validate(path, tolerance=0).findings
    assert [(f.code, f.segment_id) for f in strict if f.code in COVERED] == [
        ("area-exceeds-box", 1),
        ("area-exceeds-box", 3),
    ]


# ---- coco-panoptic


def test_panoptic_boxes_and_areas(tmp_path):
    ids = np.zeros((4, 6), np.int64)
    ids[0:4, 0:2] = 10  # 8 pixels, box [0, 0, 2, 4]
    ids[1:3, 3:6] = 20  # 6 pixels, box [3, 1, 3, 2]
    segs = panoptic_segments(ids, {10: 1, 20: 1})
    segs[0].update(bbox=[0, 0, 1, 3])  # datumaro's one-pixel-narrower box
    segs[1].update(area=6.004)  # rounding
    path = write_panoptic(tmp_path / "pan.json", [ids], [segs], [{"id": 1, "name": "a", "isthing": 1}])
    assert found(path) == [("bbox-tolerated", "info"), ("area-tolerated", "info")]
    assert found(path, 0) == [("bbox-mismatch", "error"), ("area-mismatch", "error")]
    segs[0].update(bbox=[1, 0, 2, 4])  # shifted: no convention explains it
    segs[1].update(area=6.02)
    path = write_panoptic(tmp_path / "pan.json", [ids], [segs], [{"id": 1, "name": "a", "isthing": 1}])
    assert found(path) == [("bbox-mismatch", "error"), ("area-mismatch", "error")]


# ---- the command


def test_the_flag(runner, tmp_path):
    path = instances(tmp_path, {"segmentation": [SQUARE], "area": 16.0, "bbox": [1, 1, 5, 5]})
    assert invoke(runner, "validate", path).exit_code == 0
    assert invoke(runner, "validate", path, "--tolerance", "0").exit_code == 1
    assert invoke(runner, "validate", path, "--tolerance", "0.01,0.001").exit_code == 0
    assert invoke(runner, "validate", path, "--fail-on", "info").exit_code == 1  # the info finding
    github = invoke(runner, "validate", path, "--format", "github")
    assert "bbox-tolerated" not in github.output  # info: only with -v
    assert "bbox-tolerated" in invoke(runner, "validate", path, "--format", "github", "-v").output
    bad = invoke(runner, "validate", path, "--tolerance", "abc")
    assert bad.exit_code == 2 and "--tolerance" in bad.output and "Traceback" not in bad.output


# ---- the real files (../shared/data/real; not committed, so skipped when absent)

REAL = Path(os.environ.get("SEGTOOL_REAL_DATA", Path(__file__).resolve().parents[3] / "shared" / "data" / "real"))
# the errors that are real: the annotation contradicts its own mask (documented in REAL's README)
REAL_ERRORS = {
    "airo-mono/coco_instances/instances_val2017_small.json": {("area-mismatch", 900100448263)},  # crowd: 1.43x
    "pycococreator/coco_from_masks/example_data/annotations/coco_example.json": {
        ("area-mismatch", 3),  # crowd: 31463 where the RLE has 34073 px
        ("bbox-mismatch", 3),  # [0, 5, 256, 251] where it spans [0, 0, 209, 199]
    },
}


def _real_coco_files() -> list[Path]:
    if not REAL.is_dir():
        return []
    out = []
    for p in sorted(REAL.rglob("*.json")):
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("annotations"), list) and "images" in data:
            out.append(p)
    return out


@pytest.mark.skipif(not REAL.is_dir(), reason=f"no real data at {REAL}")
def test_real_files_give_no_false_errors():
    """Every COCO instance and panoptic file of the real data: with the default tolerance,
    the only area and bbox errors are the real ones; strictly, the tolerated ones are errors."""
    checked = 0
    for p in _real_coco_files():
        try:
            report = validate(p)
        except SegtoolError:  # captions: no categories, no dataset to check
            continue
        checked += 1
        name = p.relative_to(REAL).as_posix()
        errors = {(f.code, f.segment_id) for f in report.findings if f.code in ERROR_CODES}
        assert errors == REAL_ERRORS.get(name, set()), name
        tolerated = [f for f in report.findings if f.code in ("area-tolerated", "bbox-tolerated")]
        strict = validate(p, tolerance=0).findings
        mismatches = [f for f in strict if f.code in ("area-mismatch", "bbox-mismatch")]
        assert len(mismatches) == len(tolerated) + len(REAL_ERRORS.get(name, ())), name
    assert checked >= 20


@pytest.mark.skipif(not (REAL / "labelme").is_dir(), reason=f"no real data at {REAL}")
def test_real_labelme_pixel_counts_are_tolerated():
    """labelme writes a polygon's pixel count and pixel box (GPL data: not copied here): 12
    annotations, 24 errors strictly, none by default."""
    path = REAL / "labelme/instance_segmentation/data_dataset_coco/annotations.json"
    counts = validate(path).counts()
    assert counts.get("area-tolerated") == 12 and counts.get("bbox-tolerated") == 12
    assert "area-mismatch" not in counts and "bbox-mismatch" not in counts
    strict = validate(path, tolerance=0).counts()
    assert strict["area-mismatch"] == 12 and strict["bbox-mismatch"] == 12
