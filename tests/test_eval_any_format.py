"""eval panoptic takes any dataset format as ground truth, not only COCO panoptic: a tree
scored against its own coco-panoptic conversion has PQ 1 (every segment matched with IoU 1),
and a prediction whose PNG holds an id its record no longer lists is refused, naming the id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import invoke

DATUMARO = Path(__file__).parent / "data" / "datumaro"


@pytest.mark.parametrize(
    ("tree", "fmt"),
    [
        (DATUMARO / "voc" / "voc_dataset1", "voc"),
        (DATUMARO / "kitti_segmentation", "kitti"),
        (DATUMARO / "mapillary_vistas" / "val", "mapillary"),
    ],
)
def test_a_tree_against_its_own_conversion(tmp_path, runner, tree, fmt):
    pred = tmp_path / "pred.json"
    assert invoke(runner, "convert", tree, pred, "--to", "coco-panoptic", "--from", fmt).exit_code == 0
    r = invoke(runner, "eval", "panoptic", tree, pred, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["All"]["pq"] == 1.0
    data = json.loads(pred.read_text())
    record = next(a for a in data["annotations"] if a["segments_info"])
    gone = record["segments_info"].pop()  # its pixels stay in the PNG, unlisted: refused as bad input
    pred.write_text(json.dumps(data))
    bad = invoke(runner, "eval", "panoptic", tree, pred)
    assert bad.exit_code == 2 and str(gone["id"]) in bad.stderr
