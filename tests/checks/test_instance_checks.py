"""One small broken COCO instance fixture per check code: each gives exactly that code."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from segtool.checks import CHECKS
from segtool.checks.tolerance import Tolerance
from segtool.formats.coco_instance_checks import validate_instance
from tests.conftest import DATA, rle, write_json
from tests.helpers import INSTANCE_BASE as BASE
from tests.helpers import INSTANCE_CATS as CATS
from tests.helpers import INSTANCE_IMAGE as IMAGE
from tests.helpers import square


def codes(tmp_path, anns=None, images=(IMAGE,), cats=CATS):
    path = write_json(
        tmp_path / "inst.json",
        {"images": list(images), "annotations": anns if anns is not None else BASE, "categories": cats},
    )
    return sorted({f.code for f in validate_instance(path).findings})


def changed(i, **fields):
    anns = copy.deepcopy(BASE)
    anns[i].update(fields)
    return anns


def test_the_base_is_clean(tmp_path):
    assert codes(tmp_path) == []


CASES = {
    "degenerate-polygon": changed(0, segmentation=[[1, 1, 5, 1]]),
    "mask-outside": changed(0, segmentation=[[1, 1, 12, 1, 12, 5, 1, 5]], area=44.0, bbox=[1, 1, 11, 4]),
    "area-mismatch": changed(1, area=10),
    "bbox-mismatch": changed(0, bbox=[1, 1, 6, 6]),  # a polygon's box is its points' extent (w + 1 is tolerated)
    "rle-size": changed(1, segmentation={"size": [10, 11], "counts": rle(square(6, 6, 9, 9))["counts"]}),
    "rle-undecodable": changed(1, segmentation={"size": [10, 10], "counts": "\x7f\x7f\x7f\x7f"}),
    "bad-segmentation": changed(1, segmentation={"polygon": []}),
    "empty-mask": changed(1, segmentation=rle(np.zeros((10, 10), bool)), area=0, bbox=[0, 0, 0, 0]),
    "crowd-polygon": changed(0, iscrowd=1),
    "overlap": changed(1, segmentation=rle(square(4, 4, 7, 7)), bbox=[4, 4, 3, 3]),
    "duplicate-annotation-id": changed(1, id=1),
    "unknown-category": changed(1, category_id=9),
    "annotation-unknown-image": changed(1, image_id=5),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_breakage_gives_exactly_its_code(tmp_path, code):
    anns = CASES[code]
    found = codes(tmp_path, anns)
    if code in ("unknown-category", "annotation-unknown-image"):
        found = [c for c in found if c != "unused-category"]  # the car category lost its only annotation
    assert found == [code]


def test_no_annotations(tmp_path):
    assert codes(tmp_path, images=(IMAGE, {**IMAGE, "id": 2, "file_name": "b.jpg"})) == ["no-annotations"]


def test_every_check_code_has_a_fixture():
    """Between the panoptic, instance and semantic fixtures and each format's tests (their
    ``COVERED`` sets), every registered code is exercised."""
    import importlib

    from tests.checks.test_panoptic_checks import COVERED
    from tests.checks.test_semantic_checks import CASES as SEMANTIC

    photos = {"image-file-missing", "image-size", "image-unreadable"}  # test_semantic_checks' --images tests
    photos |= {"malformed-record"}  # test_robustness
    photos |= {"image-id-form"}  # test_image_ids
    from tests.checks.test_tolerance import COVERED as TOLERANCE

    covered = COVERED | set(CASES) | set(SEMANTIC) | photos | TOLERANCE
    tests = Path(__file__).parents[1]
    for path in sorted(tests.glob("test_*.py")):  # every format's test module that lists what it covers
        if "\nCOVERED" in path.read_text(encoding="utf-8"):
            covered |= importlib.import_module(f"tests.{path.stem}").COVERED
    assert covered | {"no-annotations"} == set(CHECKS)


def test_real_quirks():
    """airo-mono's real COCO crowd (area 1.43x its mask; its box one pixel narrower is
    tolerated), pycococreator's crowd whose area and bbox disagree with its RLE, datumaro's
    off-by-one box (tolerated: an error with tolerance 0); real COCO polygons pass."""
    airo = [
        f
        for f in validate_instance(DATA / "airo-mono/instances_val2017_small.json").findings
        if str(f.severity) != "warning"
    ]
    assert {(f.code, f.segment_id) for f in airo if f.code != "unused-category"} == {
        ("area-mismatch", 900100448263),
        ("bbox-tolerated", 900100448263),
    }
    creator = validate_instance(DATA / "pycococreator/example_data/annotations/coco_example.json").findings
    assert ("area-mismatch", 3) in {(f.code, f.segment_id) for f in creator}
    assert any(f.code == "area-mismatch" and "31463" in f.message and "34073" in f.message for f in creator)
    datumaro = validate_instance(DATA / "datumaro/coco/annotations/instances_val.json").findings
    assert [(f.code, f.segment_id) for f in datumaro if f.code != "unused-category"] == [("bbox-tolerated", 2)]
    strict = validate_instance(DATA / "datumaro/coco/annotations/instances_val.json", tolerance=Tolerance(0, 0))
    assert [(f.code, f.segment_id) for f in strict.findings if str(f.severity) == "error"] == [("bbox-mismatch", 2)]


def test_an_image_with_more_than_255_rle_masks(tmp_path):
    """pycocotools' area fails past 255 masks under numpy 2; validate must not."""
    anns = []
    for i in range(300):
        m = np.zeros((10, 10), bool)
        m[i % 10, (i // 10) % 10] = True
        anns.append({"id": i + 1, "image_id": 1, "category_id": 1, "segmentation": rle(m), "area": 1, "iscrowd": 0})
        anns[-1]["bbox"] = [float((i // 10) % 10), float(i % 10), 1.0, 1.0]
    found = codes(tmp_path, anns)
    assert found == ["overlap", "unused-category"]  # 300 one-pixel masks on 100 pixels overlap
