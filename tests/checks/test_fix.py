"""``validate --fix``: a corrected copy whose validation no longer has the fixable findings,
which the references read, with the input untouched and nothing half-written on failure."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO

from segtool.cli import main
from segtool.formats.coco_instance_checks import validate_instance
from segtool.formats.coco_instance_fix import fix_instance
from segtool.formats.coco_panoptic_checks import validate_panoptic
from segtool.formats.coco_panoptic_fix import fix_panoptic
from tests.conftest import ids_of, panoptic_segments, rle, write_json, write_panoptic
from tests.helpers import INSTANCE_BASE as INSTANCES
from tests.helpers import INSTANCE_CATS
from tests.helpers import INSTANCE_IMAGE as IMAGE
from tests.helpers import PANOPTIC_CATS as CATS


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for root in paths:
        for p in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if p.is_file():
                h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def broken_panoptic(tmp_path: Path) -> Path:
    """Two images: every fixable panoptic problem in the first, a wrong-size PNG in the second."""
    a = np.array([[10, 10, 20, 20], [10, 10, 20, 20], [10, 30, 20, 20], [10, 40, 20, 20]])
    b = np.array([[10, 10], [20, 20]])
    segs_a = panoptic_segments(a, {10: 100, 20: 1, 30: 1, 40: 7})
    segs_a = [s for s in segs_a if s["id"] != 30]  # id 30 is in the PNG, not listed
    segs_a[0].update(area=3, iscrowd=1)  # road: wrong area, crowd on stuff
    segs_a[1].update(bbox=[0, 0, 1, 1])  # person: wrong box
    segs_a += [dict(segs_a[1]), {"id": 50, "category_id": 1, "iscrowd": 0, "area": 1, "bbox": [0, 0, 1, 1]}]
    # id 40 has unknown category 7; a repeated record of 20; id 50 has no pixel
    path = write_panoptic(tmp_path / "pan.json", [a, b], [segs_a, panoptic_segments(b, {10: 100, 20: 1})], CATS)
    data = json.loads(path.read_text())
    data["images"][1].update(width=5)  # the second PNG is now of the wrong size: left for a person
    data["annotations"] += [dict(data["annotations"][0]), {**data["annotations"][0], "image_id": 99}]
    return write_json(path, data)


PANOPTIC_FIXABLE = {
    "area-mismatch",
    "bbox-mismatch",
    "id-not-listed",
    "segment-absent",
    "duplicate-segment-id",
    "unknown-category",
    "crowd-on-stuff",
    "duplicate-annotation",
    "annotation-unknown-image",
}


def test_panoptic_fix(tmp_path):
    src = broken_panoptic(tmp_path)
    before = digest(src, src.with_suffix(""))
    assert {f.code for f in validate_panoptic(src).findings} >= PANOPTIC_FIXABLE | {"png-size"}
    out = tmp_path / "fixed" / "pan.json"
    summary = fix_panoptic(src, out)
    assert digest(src, src.with_suffix("")) == before  # the input is untouched
    assert sorted({f.code for f in validate_panoptic(out).findings if str(f.severity) != "info"}) == ["png-size"]
    assert {c.code for c in summary.changes} == PANOPTIC_FIXABLE
    # pixels of the unlisted id 30 and of the unknown-category segment 40 are void; the rest kept
    ids = ids_of(out.with_suffix("") / "img1.png")
    assert ids[2, 1] == 0 and ids[3, 1] == 0 and (ids[:, 0] == 10).all() and (ids[:, 2:] == 20).all()
    fixed = json.loads(out.read_text())
    segs = {s["id"]: s for s in fixed["annotations"][0]["segments_info"]}
    assert segs.keys() == {10, 20}
    assert segs[10] == {"id": 10, "category_id": 100, "iscrowd": 0, "area": 6, "bbox": [0, 0, 2, 4]}  # by hand
    assert segs[20]["bbox"] == [2, 0, 2, 4] and segs[20]["area"] == 8
    assert len(fixed["annotations"]) == 2 and fixed["images"] == json.loads(src.read_text())["images"]
    # the untouched second PNG is copied byte for byte
    assert (out.with_suffix("") / "img2.png").read_bytes() == (src.with_suffix("") / "img2.png").read_bytes()


def test_panoptic_fix_is_read_by_panopticapi(tmp_path):
    from panopticapi.evaluation import pq_compute

    src = broken_panoptic(tmp_path)
    data = json.loads(src.read_text())
    data["images"][1].update(width=2)  # make the second image fixable too
    write_json(src, data)
    out = tmp_path / "fixed.json"
    fix_panoptic(src, out)
    assert [f.code for f in validate_panoptic(out).findings if str(f.severity) != "info"] == []
    res = pq_compute(str(out), str(out), str(out.with_suffix("")), str(out.with_suffix("")))
    assert res["All"]["pq"] == 1.0 and res["All"]["n"] == 2


def test_fix_refuses_inputs_and_existing_outputs(runner, tmp_path):
    src = broken_panoptic(tmp_path)
    r = runner.invoke(main, ["validate", str(src), "--fix", str(src), "--overwrite"])
    assert r.exit_code == 2 and "input" in r.stderr
    out = tmp_path / "out.json"
    out.write_text("keep")
    r = runner.invoke(main, ["validate", str(src), "--fix", str(out)])
    assert r.exit_code == 2 and "--overwrite" in r.stderr and out.read_text() == "keep"
    r = runner.invoke(main, ["validate", str(src), "--fix", str(out), "--overwrite", "--json"])
    assert r.exit_code == 1  # the input's findings still decide the exit code
    report = json.loads(r.stdout)
    assert report["fix"]["by_code"]["area-mismatch"] == 1 and report["fix"]["outputs"][0] == str(out)
    assert json.loads(out.read_text())["annotations"]
    sem = tmp_path / "sem"
    sem.mkdir()
    (sem / "a.png").write_bytes(b"")
    write_json(sem / "categories.json", [])
    r = runner.invoke(main, ["validate", str(sem), "--fix", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--fix" in r.stderr


def test_fix_leaves_nothing_on_failure(tmp_path, monkeypatch):
    src = broken_panoptic(tmp_path)
    import segtool.formats.coco_panoptic_fix as mod

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(mod, "dump_json", boom)
    out = tmp_path / "out" / "pan.json"
    try:
        fix_panoptic(src, out)
    except RuntimeError:
        pass
    assert not out.parent.exists()  # nothing written, and the folder the run created is gone


def test_instance_fix(tmp_path):
    square = np.zeros((10, 10), bool)
    square[0:2, 0:3] = True
    anns = [
        {**INSTANCES[0], "area": 15.0, "bbox": [0, 0, 1, 1]},  # wrong area and box (polygon: 16, [1, 1, 4, 4])
        {**INSTANCES[1], "id": 1},  # duplicate id
        {**INSTANCES[1], "id": 3, "image_id": 9},  # unknown image
        {**INSTANCES[1], "id": 4, "category_id": 99},  # unknown category
        {**INSTANCES[0], "id": 5, "segmentation": [[1, 1, 2, 2], [1, 1, 5, 1, 5, 5, 1, 5], [0, 0, 1, 1, 2, 2]]},
        {**INSTANCES[0], "id": 6, "segmentation": [[1, 1, 2, 2]]},  # nothing usable
        {**INSTANCES[1], "id": 7, "segmentation": rle(np.zeros((10, 10), bool)), "area": 0, "bbox": [0, 0, 0, 0]},
        {**INSTANCES[1], "id": 8, "segmentation": {"size": [10, 11], "counts": "abc"}},  # left for a person
        {**INSTANCES[1], "id": 9, "segmentation": rle(square), "area": 6, "bbox": [0, 0, 3, 3]},  # box off by one
    ]
    src = write_json(tmp_path / "inst.json", {"images": [IMAGE], "annotations": anns, "categories": INSTANCE_CATS})
    before = src.read_bytes()
    out = tmp_path / "fixed.json"
    summary = fix_instance(src, out)
    assert src.read_bytes() == before
    remaining = {f.code for f in validate_instance(out).findings if str(f.severity) == "error"}
    assert remaining == {"rle-size"}
    fixed = {a["id"]: a for a in json.loads(out.read_text())["annotations"]}
    assert sorted(fixed) == [1, 5, 8, 9, 10]  # the repeated 1 became 10 (above the largest id 9)
    assert fixed[1]["area"] == 16.0 and fixed[1]["bbox"] == [1.0, 1.0, 4.0, 4.0]  # by hand
    assert fixed[5]["segmentation"] == [[1, 1, 5, 1, 5, 5, 1, 5]]
    assert fixed[9]["bbox"] == [0.0, 0.0, 3.0, 2.0] and fixed[10]["segmentation"] == INSTANCES[1]["segmentation"]
    assert {(c.code, c.action) for c in summary.changes} >= {
        ("duplicate-annotation-id", "renumbered"),
        ("annotation-unknown-image", "removed the annotation"),
        ("unknown-category", "removed the annotation"),
        ("degenerate-polygon", "dropped degenerate polygons"),
        ("degenerate-polygon", "removed the annotation (no usable polygon)"),
        ("empty-mask", "removed the annotation (no pixel)"),
        ("bbox-mismatch", "recomputed bbox"),
    }
    coco = COCO(str(out))  # pycocotools reads it
    assert len(coco.getAnnIds()) == 5
