"""Sharded evaluation with ``--per-image`` and ``--slices`` (issue 13): ``segtool eval merge``
gives the unsharded run's per-image rows (every ground-truth image once, in that run's
order) and every slice's numbers (to 1e-12), for panoptic, semantic, instance (COCO, LVIS,
boxes, subsets); partials of other slices, or with and without rows, are refused in one
line, exit 2. Generated data: tests/test_shards.py's."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segtool import evaluate_instance, evaluate_panoptic, evaluate_semantic
from segtool.errors import FormatError
from segtool.metrics.lvis import LVISResult
from segtool.metrics.partial import VERSION, read, write
from segtool.metrics.partial_merge import merge
from tests.conftest import write_json
from tests.helpers import assert_bad_input, cocoeval, invoke
from tests.test_shards import (
    _partial,
    _rewritten,
    assert_same,
    instance_case,
    panoptic_case,
    run_shards,
    semantic_case,
)

IDS = [7 * n for n in range(1, 25)]  # instance_case's images
SLICES = {"odd": IDS[::2], "few": [14, 21, 70], "every": IDS, "one": [35]}


def merged_equals_full(folder: Path, n: int, evaluate: Any, *args: Any, **kw: Any) -> Any:
    """The unsharded result, after checking that the merge of ``n`` shards equals it."""
    full = evaluate(*args, **kw)
    folder.mkdir(exist_ok=True)
    merged = merge(run_shards(folder, n, evaluate, *args, **kw))
    assert_same(merged.to_dict(), full.to_dict())
    return full


@pytest.mark.parametrize("n", [1, 2, 3, 7])
@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_instance_rows_and_slices_merge(tmp_path, n, iou_type):
    gt, dt = instance_case(tmp_path, seed=n)
    full = merged_equals_full(
        tmp_path / "s", n, evaluate_instance, gt, dt, iou_type=iou_type, per_image=True, slices=SLICES
    )
    assert [r["image_id"] for r in full.per_image] == IDS  # every image once, ascending (images 5, 10 ... undetected)
    assert list(full.slices) == list(SLICES) and full.slices["few"].images == 3
    ref = cocoeval(gt, dt, iou_type).stats  # pycocotools: the "every" slice is the whole run
    assert np.allclose(full.slices["every"].stats, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("n", [2, 7])
def test_lvis_rows_and_slices_merge(tmp_path, n):
    gt, dt = instance_case(tmp_path, seed=5, lvis=True)
    full = merged_equals_full(tmp_path / "s", n, evaluate_instance, gt, dt, per_image=True, slices=SLICES)
    assert isinstance(full, LVISResult) and full.slices is not None and full.per_image is not None
    assert len(full.per_image) == 24 and full.slices["odd"].to_dict()["lvis"]


def test_instance_subsets_rows_and_slices_merge(tmp_path):
    gt, dt = instance_case(tmp_path, seed=11)
    opts = {"cat_ids": [1, 5, 9], "img_ids": IDS[1::2], "per_image": True, "slices": {"a": IDS[:6], "b": [70]}}
    full = merged_equals_full(tmp_path / "s", 3, evaluate_instance, gt, dt, **opts)
    assert [r["image_id"] for r in full.per_image] == IDS[1::2]
    agnostic = {"class_agnostic": True, "per_image": True}
    merged_equals_full(tmp_path / "a", 2, evaluate_instance, gt, dt, **agnostic)


@pytest.mark.parametrize("n", [1, 3, 7])
def test_panoptic_rows_and_slices_merge_in_the_files_order(tmp_path, n):
    gt, pred = panoptic_case(tmp_path, seed=n)
    data = json.loads(gt.read_text())
    data["annotations"] = data["annotations"][::-1]  # rows in the file's order, not by id
    gt = write_json(gt, data)
    slices = {"low": list(range(1, 8)), "missing": [6, 12, 18, 3], "all": list(range(1, 21))}
    kw = {"allow_missing": True, "per_image": True, "slices": slices}
    full = merged_equals_full(tmp_path / "s", n, evaluate_panoptic, gt, pred, **kw)
    assert [r["image_id"] for r in full.per_image] == list(range(20, 0, -1))
    assert full.slices["missing"].missing == 3
    boundary = merged_equals_full(tmp_path / "b", 3, evaluate_panoptic, gt, pred, boundary=True, **kw)
    assert boundary.slices["low"].boundary == 0.02


@pytest.mark.parametrize("n", [1, 3, 7])
def test_semantic_rows_and_slices_merge(tmp_path, n):
    gt, pred = semantic_case(tmp_path, seed=n)
    slices = {"head": [1, 2, 3], "missing": [1, 6, 11, 16], "tail": list(range(10, 19))}
    for boundary in (False, True):
        kw = {"allow_missing": True, "per_image": True, "slices": slices, "boundary": boundary}
        full = merged_equals_full(tmp_path / f"b{boundary}", n, evaluate_semantic, gt, pred, **kw)
        assert [r["image_id"] for r in full.per_image] == list(range(1, 19))
        assert full.slices["missing"].missing == 4 and (full.slices["tail"].boundary is not None) == boundary


def test_rows_only_and_slices_only(tmp_path):
    gt, dt = instance_case(tmp_path, seed=2)
    rows = merged_equals_full(tmp_path / "r", 3, evaluate_instance, gt, dt, per_image=True)
    assert rows.slices is None and len(rows.per_image) == 24
    sliced = merged_equals_full(tmp_path / "s", 3, evaluate_instance, gt, dt, slices={"x": IDS[:5]})
    assert sliced.per_image is None and sliced.slices["x"].images == 5


def test_cli_merge_refuses_other_slices_and_rows(runner, tmp_path):
    gt, dt = instance_case(tmp_path, seed=1)
    files = {
        name: write_json(tmp_path / f"{name}.json", s) for name, s in (("s1", {"a": [7, 14]}), ("s2", {"a": [7, 21]}))
    }
    args = ("instance", gt, dt, "--per-image")
    p1 = _partial(runner, tmp_path, "p1.npz", *args, "--slices", files["s1"], "--shard", "1/2")
    p2 = _partial(runner, tmp_path, "p2.npz", *args, "--slices", files["s1"], "--shard", "2/2")
    other = _partial(runner, tmp_path, "o.npz", *args, "--slices", files["s2"], "--shard", "2/2")
    no_slices = _partial(runner, tmp_path, "n.npz", *args, "--shard", "2/2")
    no_rows = _partial(runner, tmp_path, "r.npz", "instance", gt, dt, "--slices", files["s1"], "--shard", "2/2")
    assert_bad_input(invoke(runner, "eval", "merge", p1, other), "o.npz", "parameter 'slices'")
    assert_bad_input(invoke(runner, "eval", "merge", p1, no_slices), "n.npz", "parameter 'slices'")
    assert_bad_input(invoke(runner, "eval", "merge", p1, no_rows), "r.npz", "parameter 'per_image'")
    out, table = tmp_path / "m.json", tmp_path / "m.csv"
    merged = invoke(runner, "eval", "merge", p1, p2, "--json", out, "--csv", table)
    assert merged.exit_code == 0, merged.output
    full = invoke(runner, "eval", "instance", gt, dt, "--per-image", "--slices", files["s1"], "--json", "-")
    assert_same(json.loads(out.read_text()), json.loads(full.stdout))
    assert "slice a: " in merged.output and table.read_text().count("\nimage,") == 24
    assert read(p1).order is not None and json.loads(zipfile.ZipFile(p1).read("header.json"))["version"] == VERSION == 2


def test_hostile_rows_and_slice_arrays_are_one_line(runner, tmp_path):
    gt, dt = instance_case(tmp_path, seed=4)
    slices = write_json(tmp_path / "s.json", {"a": [7, 14, 21]})
    p = _partial(runner, tmp_path, "p.npz", "instance", gt, dt, "--per-image", "--slices", slices)

    def header(change: Any) -> Any:
        return lambda name, data: json.dumps(change(json.loads(data))).encode() if name == "header.json" else data

    cases = {
        "'per_image'": header(lambda h: {**h, "per_image": {"rows": [{}], "order": [0, 1]}}),
        "'per_image' rows": header(lambda h: {k: v for k, v in h.items() if k != "per_image"}),
        "without the parameter 'slices'": header(lambda h: {**h, "params": {**h["params"], "slices": None}}),
        "slice_image_count": lambda n, d: d[:-8] + np.int64(0).tobytes() if n == "slice_image_count.npy" else d,
    }
    for k, (needle, change) in enumerate(cases.items()):
        bad = _rewritten(p, tmp_path / f"h{k}.npz", change)
        assert_bad_input(invoke(runner, "eval", "merge", bad), bad.name, needle)


def test_slice_arrays_that_do_not_fit_are_refused(tmp_path):
    """Partials whose arrays agree with their own .npy headers but not with each other, the
    categories or the slices: refused when read (a merge cannot index out of them)."""
    gt, dt = instance_case(tmp_path, seed=4)
    one = {"a": [7, 14, 21], "b": [28]}
    inst = tmp_path / "i.npz"
    evaluate_instance(gt, dt, slices=one, partial=inst)
    sem_gt, sem_pred = semantic_case(tmp_path)
    sem = tmp_path / "s.npz"
    evaluate_semantic(sem_gt, sem_pred, allow_missing=True, boundary=True, slices={"a": [1]}, partial=sem)
    (tmp_path / "p").mkdir()
    pan_gt, pan_pred = panoptic_case(tmp_path / "p")
    pan = tmp_path / "p.npz"
    evaluate_panoptic(pan_gt, pan_pred, allow_missing=True, slices={"a": [1, 2]}, partial=pan)
    cases = [
        (inst, "does not fit", lambda a: {**a, "slice_sizes": a["slice_sizes"] * 2}),
        (inst, "must be", lambda a: {k: v for k, v in a.items() if k != "slice_npig"}),
        (pan, "slice_tp", lambda a: {**a, "slice_tp": np.zeros((3, 4), np.int64)}),
        (sem, "must be", lambda a: {k: v for k, v in a.items() if k != "slice_boundary"}),
        (sem, "slice_confusion", lambda a: {**a, "slice_confusion": a["slice_confusion"][:, :, :-1].copy()}),
    ]
    for k, (path, needle, change) in enumerate(cases):
        partial = read(path)
        partial.arrays = change(dict(partial.arrays))
        bad = tmp_path / f"bad{k}.npz"
        write(partial, bad)
        with pytest.raises(FormatError, match=needle) as caught:
            read(bad)
        assert caught.value.path == str(bad), caught.value
