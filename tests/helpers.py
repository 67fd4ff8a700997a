"""Helpers shared by several test modules (a test module never imports another's)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from segtool.cli import main
from tests.conftest import panoptic_segments, rle, write_panoptic


def invoke(runner, *args):
    return runner.invoke(main, [str(a) for a in args])


def assert_bad_input(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def assert_nothing_written(folder: Path, *allowed: str):
    left = sorted(p.name for p in folder.iterdir() if p.name not in allowed)
    assert left == [], f"left behind: {left}"


INSTANCE_IMAGE = {"id": 1, "file_name": "a.jpg", "height": 10, "width": 10}
INSTANCE_CATS = [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}]


def square(x0, y0, x1, y1):
    m = np.zeros((10, 10), bool)
    m[y0:y1, x0:x1] = True
    return m


# a clean COCO instance base (validate's fixtures): one polygon (shoelace area 16, extent [1, 1, 4, 4]) and one RLE (9 px)
INSTANCE_BASE = [
    {
        "id": 1,
        "image_id": 1,
        "category_id": 1,
        "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]],
        "area": 16.0,
        "bbox": [1, 1, 4, 4],
        "iscrowd": 0,
    },
    {
        "id": 2,
        "image_id": 1,
        "category_id": 2,
        "segmentation": rle(square(6, 6, 9, 9)),
        "area": 9,
        "bbox": [6, 6, 3, 3],
        "iscrowd": 0,
    },
]


PANOPTIC_CATS = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 100, "name": "road", "isthing": 0, "color": [128, 64, 128]},
]


WRONG = [None, "x", -1, 1.5, [], {}, [1], True]
ROBUST_CATS = [
    {"id": 1, "name": "person", "isthing": 1, "color": [1, 2, 3]},
    {"id": 100, "name": "road", "isthing": 0, "color": [4, 5, 6]},
]


def paths(o, pre=()):
    """Every key path into a JSON value."""
    items = o.items() if isinstance(o, dict) else enumerate(o) if isinstance(o, list) else []
    for k, v in items:
        yield (*pre, k)
        yield from paths(v, (*pre, k))


def variants(base):
    """(key path, wrong value, copy of ``base`` with that value there) for every key path."""
    for p in paths(base):
        for v in WRONG:
            d = copy.deepcopy(base)
            node = d
            for k in p[:-1]:
                node = node[k]
            node[p[-1]] = v
            yield p, v, d


def small_panoptic(tmp_path: Path) -> Path:
    """A one-image panoptic dataset (road | person) whose fields tests set to wrong types."""
    ids = np.array([[10, 10, 20, 20]] * 4)
    return write_panoptic(tmp_path / "p.json", [ids], [panoptic_segments(ids, {10: 100, 20: 1})], ROBUST_CATS)


def small_instances() -> dict:
    """A one-image COCO instance dataset (a polygon and an RLE) whose fields tests set to wrong types."""
    m = np.zeros((4, 4), bool)
    m[1:3, 1:3] = True
    poly = {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]], "area": 4.5}
    poly["bbox"], poly["iscrowd"] = [0, 0, 3, 3], 0
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 4}],
        "annotations": [
            poly,
            {"id": 2, "image_id": 1, "category_id": 1, "segmentation": rle(m), "area": 4, "bbox": [1, 1, 2, 2]},
        ],
        "categories": ROBUST_CATS,
    }


def cocoeval(gt: Path, dt: Path, iou_type: str) -> Any:
    """pycocotools' COCOeval of a results file against a ground-truth file, evaluated,
    accumulated and summarised (its printing swallowed): the reference numbers."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt))
        e = COCOeval(g, g.loadRes(str(dt)), iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e
