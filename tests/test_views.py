"""Overlap policies (hand-checked pixels) and the combine heuristic against panopticapi's own."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from segtool import WriteOptions, convert
from tests.conftest import CATEGORIES, ids_of, panoptic_partition, rle, write_instances, write_json

H, W = 4, 6


def two_overlapping() -> list[tuple[int, np.ndarray]]:
    a = np.zeros((H, W), bool)
    a[0:3, 0:4] = True  # 12 px, person
    b = np.zeros((H, W), bool)
    b[1:4, 2:5] = True  # 9 px, car; overlap rows 1-2, cols 2-3 = 4 px
    return [(1, a), (2, b)]


@pytest.mark.parametrize(
    ("policy", "scores", "winner"),
    [
        ("first", None, 1),
        ("largest", None, 1),
        ("smallest", None, 2),
        ("score", [0.2, 0.9], 2),
        ("score", [0.5, 0.5], 1),
    ],
)
def test_overlap_policy_decides_contested_pixels(tmp_path, policy, scores, winner):
    src = write_instances(tmp_path / "i.json", (H, W), two_overlapping(), scores)
    convert(src, tmp_path / "sem", WriteOptions("semantic", overlap=policy))
    labels = np.asarray(Image.open(tmp_path / "sem" / "img1.png"))
    assert (labels[1:3, 2:4] == winner).all()
    assert labels[0, 0] == 1 and labels[3, 4] == 2 and labels[3, 0] == 255


def test_instance_hidden_entirely_is_dropped_and_counted(tmp_path):
    big = np.ones((H, W), bool)
    small = np.zeros((H, W), bool)
    small[1, 1] = True
    empty = np.zeros((H, W), bool)
    src = write_instances(tmp_path / "i.json", (H, W), [(1, big), (2, small), (7, empty)])
    summary = convert(src, tmp_path / "p.json", WriteOptions("coco-panoptic", overlap="first"))
    assert summary.segments == 1
    assert dict(summary.dropped) == {"hidden by overlapping instances": 1, "empty mask": 1}


def stuff_rles(labels: np.ndarray) -> list[dict]:
    return [{"category_id": c, "segmentation": rle(labels == c)} for c in (100, 200) if (labels == c).any()]


def run_panopticapi(labels, instances, scores, image, overlap_thr, limit, folder: Path):
    from panopticapi.combine_semantic_and_instance_predictions import combine_to_panoptic_single_core

    inst = [
        {"image_id": 1, "category_id": c, "segmentation": rle(m), "score": s}
        for (c, m), s in zip(instances, scores, strict=True)
        if s >= 0.5
    ]
    inst = sorted(inst, key=lambda el: -el["score"])
    sem = [dict(d, image_id=1) for d in stuff_rles(labels)]
    cats = {c["id"]: c for c in CATEGORIES}
    np.random.seed(0)  # noqa: NPY002  (panopticapi draws colours from the global RNG)
    anns = combine_to_panoptic_single_core(
        0, [1], {1: image}, {1: inst}, {1: sem}, str(folder), overlap_thr, limit, cats
    )
    ids = ids_of(folder / anns[0]["file_name"])
    return ids, {s["id"]: s["category_id"] for s in anns[0]["segments_info"]}


def canonical_cats(ids: np.ndarray, cats: dict[int, int]) -> np.ndarray:
    """Each pixel's category (0 void) and instance, as one comparable array."""
    from tests.conftest import canonical

    cat = np.vectorize(lambda v: cats.get(int(v), 0))(ids)
    return np.stack([canonical(ids), cat])


@st.composite
def scenes(draw):
    n = draw(st.integers(0, 5))
    instances, scores = [], []
    for _ in range(n):
        y0, x0 = draw(st.integers(0, 7)), draw(st.integers(0, 7))
        m = np.zeros((8, 8), bool)
        m[y0 : y0 + draw(st.integers(1, 6)), x0 : x0 + draw(st.integers(1, 6))] = True
        instances.append((draw(st.sampled_from([1, 2, 7])), m))
        scores.append(draw(st.sampled_from([0.3, 0.6, 0.6, 0.9])))  # ties on purpose
    labels = np.full((8, 8), 100, np.uint8)
    labels[draw(st.integers(0, 8)) :, :] = 200
    labels[: draw(st.integers(0, 3)), : draw(st.integers(0, 8))] = 255
    return labels, instances, scores, draw(st.sampled_from([0.2, 0.5, 0.8])), draw(st.sampled_from([1, 6, 20]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_combine_matches_panopticapi(scene):
    labels, instances, scores, overlap_thr, limit = scene
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        image = {"id": 1, "file_name": "img1.jpg", "height": 8, "width": 8}
        ref_ids, ref_cats = run_panopticapi(labels, instances, scores, image, overlap_thr, limit, d)
        sem = d / "sem"
        sem.mkdir()
        Image.fromarray(labels).save(sem / "img1.png")
        (sem / "categories.json").write_text(json.dumps(CATEGORIES))
        anns = [
            {
                "id": k + 1,
                "image_id": 1,
                "category_id": c,
                "segmentation": rle(m),
                "score": s,
                "iscrowd": 0,
                "area": 1,
                "bbox": [0, 0, 1, 1],
            }
            for k, ((c, m), s) in enumerate(zip(instances, scores, strict=True))
        ]
        inst = write_json(d / "inst.json", {"images": [image], "annotations": anns, "categories": CATEGORIES})
        from segtool import formats, write

        ds = formats.read_combined(sem, inst, overlap_threshold=overlap_thr, stuff_area_limit=limit)
        write(ds, d / "ours.json", WriteOptions("coco-panoptic"))
        ((canon, cats),) = panoptic_partition(d / "ours.json").values()
        ours = np.stack([canon, np.array([0] + [c for c, _ in cats])[canon]])
        assert np.array_equal(ours, canonical_cats(ref_ids, ref_cats))
