"""validate's progress on a COCO dataset ends at the total it announced: the image
records, those without an annotation to check included (it stopped at the annotations)."""

from __future__ import annotations

import json

import numpy as np

from segtool import validate
from tests.conftest import panoptic_segments, write_panoptic


class Bar:
    def __init__(self):
        self.done, self.total, self.steps = 0, None, []

    def __call__(self, n):
        assert self.total is not None  # told before the first step
        self.done += n
        self.steps.append(n)

    def set_total(self, total):
        self.total = total


def test_the_count_ends_at_the_total(tmp_path):
    ids = np.zeros((4, 4), np.int64)
    ids[:2] = 1
    cats = [{"id": 1, "name": "a", "isthing": 1}]
    path = write_panoptic(tmp_path / "pan.json", [ids, ids, ids], [panoptic_segments(ids, {1: 1})] * 3, cats)
    data = json.loads(path.read_text())
    data["images"].append({"id": 4, "file_name": "img4.jpg", "height": 4, "width": 4})  # no annotation
    data["annotations"][2]["segments_info"] = "not a list"  # malformed: reported, not checked
    path.write_text(json.dumps(data))
    bar = Bar()
    report = validate(path, progress=bar)
    assert report.stats["images"] == 4 and bar.total == 4
    assert bar.done == 4 and bar.steps == [1, 1, 2]  # two checked, then the two with nothing to check
    plain = []
    validate(path, progress=plain.append)  # a plain callable: the same steps
    assert sum(plain) == 4


def test_a_clean_dataset_counts_each_image_once(tmp_path):
    ids = np.ones((3, 3), np.int64)
    path = write_panoptic(
        tmp_path / "pan.json", [ids, ids], [panoptic_segments(ids, {1: 1})] * 2, [{"id": 1, "name": "a", "isthing": 1}]
    )
    bar = Bar()
    validate(path, progress=bar)
    assert (bar.done, bar.total, bar.steps) == (2, 2, [1, 1])


def test_instance_progress_ends_at_the_total_too(tmp_path):
    """coco-instance: images without annotations are done as well (the count stopped short)."""
    from tests.conftest import write_instances

    mask = np.zeros((4, 4), bool)
    mask[:2] = True
    path = write_instances(tmp_path / "inst.json", (4, 4), [(1, mask)])
    data = json.loads(path.read_text())
    data["images"] += [{"id": k, "file_name": f"{k}.jpg", "height": 4, "width": 4} for k in (7, 8)]
    path.write_text(json.dumps(data))
    bar = Bar()
    report = validate(path, progress=bar)
    assert report.stats["images"] == 3 and bar.total == 3
    assert bar.done == 3 and bar.steps == [1, 2]
