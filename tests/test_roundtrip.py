"""Lossless conversions: panoptic → instance(RLE) → panoptic and semantic ⇄ panoptic.

Partitions are compared by canonical relabelling (ids differ, the partition must not), on
the real panopticapi examples and on hypothesis-generated id maps with void, crowd, empty
images and unused categories. panopticapi's own pq_compute must give PQ = 1.0.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from segtool import WriteOptions, convert
from tests.conftest import (
    CATEGORIES,
    PANOPTIC_EXAMPLES,
    canonical,
    panoptic_partition,
    panoptic_segments,
    write_panoptic,
)

THINGS = [1, 2, 7]
STUFF = [100, 200]


def pq_compute(gt: Path, pred: Path) -> dict:
    from panopticapi.evaluation import pq_compute as reference

    with contextlib.redirect_stdout(io.StringIO()):
        return reference(str(gt), str(pred), gt_folder=str(gt.with_suffix("")), pred_folder=str(pred.with_suffix("")))


def assert_same_partition(a: Path, b: Path) -> None:
    pa, pb = panoptic_partition(a), panoptic_partition(b)
    assert pa.keys() == pb.keys()
    for image_id in pa:
        assert np.array_equal(pa[image_id][0], pb[image_id][0]), f"image {image_id}: partitions differ"
        assert pa[image_id][1] == pb[image_id][1], f"image {image_id}: categories or crowd flags differ"


def test_real_panoptic_instance_panoptic_is_lossless(tmp_path):
    inst = tmp_path / "inst.json"
    back = tmp_path / "back.json"
    convert(PANOPTIC_EXAMPLES, inst, WriteOptions("coco-instance"))
    convert(inst, back, WriteOptions("coco-panoptic"))
    assert_same_partition(PANOPTIC_EXAMPLES, back)
    result = pq_compute(PANOPTIC_EXAMPLES, back)
    for group in ("All", "Things", "Stuff"):
        assert result[group]["pq"] == 1.0 and result[group]["sq"] == 1.0 and result[group]["rq"] == 1.0
    # the source's 50 segments, crowd included, all survive; stuff keeps isthing
    data = json.loads(inst.read_text())
    assert len(data["annotations"]) == 50
    assert sum(a["iscrowd"] for a in data["annotations"]) == 3
    assert sum(1 for c in data["categories"] if c["isthing"] == 0) == 53


def test_real_panoptic_areas_and_boxes_match_the_source_json(tmp_path):
    """The source's area/bbox are exact pixel counts (checked upstream): ours must agree."""
    inst = tmp_path / "inst.json"
    convert(PANOPTIC_EXAMPLES, inst, WriteOptions("coco-instance"))
    src = json.loads(PANOPTIC_EXAMPLES.read_text())
    expected = sorted(
        (s["category_id"], s["area"], tuple(s["bbox"])) for a in src["annotations"] for s in a["segments_info"]
    )
    ours = sorted((a["category_id"], a["area"], tuple(a["bbox"])) for a in json.loads(inst.read_text())["annotations"])
    assert ours == expected


def test_real_panoptic_semantic_keeps_every_pixel_category(tmp_path):
    sem = tmp_path / "sem"
    convert(PANOPTIC_EXAMPLES, sem, WriteOptions("semantic"))
    src = json.loads(PANOPTIC_EXAMPLES.read_text())
    from tests.conftest import ids_of

    for ann in src["annotations"]:
        ids = ids_of(PANOPTIC_EXAMPLES.with_suffix("") / ann["file_name"])
        expected = np.full(ids.shape, 255)
        for s in ann["segments_info"]:
            expected[ids == s["id"]] = s["category_id"]
        labels = np.asarray(Image.open(sem / ann["file_name"]))
        assert np.array_equal(labels, expected)


def test_conversion_is_deterministic_byte_for_byte(tmp_path, monkeypatch):
    from segtool import parallel

    monkeypatch.setattr(parallel, "SMALL", 0)  # run b really goes through two worker processes
    for run in ("a", "b"):
        convert(PANOPTIC_EXAMPLES, tmp_path / run / "inst.json", WriteOptions("coco-instance"))
        convert(
            tmp_path / run / "inst.json",
            tmp_path / run / "pan.json",
            WriteOptions("coco-panoptic"),
            jobs=1 if run == "a" else 2,
        )
    assert (tmp_path / "a/pan.json").read_bytes() == (tmp_path / "b/pan.json").read_bytes()
    for png in (tmp_path / "a/pan").iterdir():
        assert png.read_bytes() == (tmp_path / "b/pan" / png.name).read_bytes()


@st.composite
def panoptic_images(draw):
    """Id maps with random raw ids (void included), categories, crowd flags; may be empty."""
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    k = draw(st.integers(0, 6))
    raw = draw(st.lists(st.integers(1, 2**24 - 1), min_size=k, max_size=k, unique=True))
    labels = draw(arrays(np.int64, (h, w), elements=st.integers(0, k)))
    ids = np.concatenate([[0], raw]).astype(np.int64)[labels]
    cats = {sid: draw(st.sampled_from(THINGS + STUFF)) for sid in raw}
    crowd = {sid for sid in raw if cats[sid] in THINGS and draw(st.booleans())}
    return ids, panoptic_segments(ids, cats, crowd)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(panoptic_images(), min_size=1, max_size=3))
def test_generated_panoptic_instance_panoptic_is_lossless(images):
    with tempfile.TemporaryDirectory() as d:
        src = write_panoptic(Path(d) / "src.json", [i for i, _ in images], [s for _, s in images])
        convert(src, Path(d) / "inst.json", WriteOptions("coco-instance"))
        convert(Path(d) / "inst.json", Path(d) / "back.json", WriteOptions("coco-panoptic"))
        assert_same_partition(src, Path(d) / "back.json")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        arrays(np.uint8, st.tuples(st.integers(1, 10), st.integers(1, 10)), elements=st.sampled_from([100, 200, 255])),
        min_size=1,
        max_size=3,
    )
)
def test_generated_semantic_panoptic_semantic_is_lossless(label_maps):
    """Stuff-only label maps survive semantic → panoptic → semantic pixel for pixel."""
    with tempfile.TemporaryDirectory() as d:
        sem = Path(d) / "sem"
        sem.mkdir()
        for i, lab in enumerate(label_maps):
            Image.fromarray(lab).save(sem / f"img{i}.png")
        (sem / "categories.json").write_text(json.dumps(CATEGORIES))
        convert(sem, Path(d) / "pan.json", WriteOptions("coco-panoptic"))
        convert(Path(d) / "pan.json", Path(d) / "back", WriteOptions("semantic"))
        for i, lab in enumerate(label_maps):
            assert np.array_equal(np.asarray(Image.open(Path(d) / "back" / f"img{i}.png")), lab)


def test_semantic_things_split_into_connected_components(tmp_path):
    lab = np.full((5, 7), 100, np.uint8)
    lab[0:2, 0:2] = 1  # a person
    lab[3:5, 4:7] = 1  # another person, not touching
    lab[2, 2] = 1  # touches the first only diagonally: 8-connected, same instance
    lab[4, 0] = 255
    sem = tmp_path / "sem"
    sem.mkdir()
    Image.fromarray(lab).save(sem / "x.png")
    (sem / "categories.json").write_text(json.dumps(CATEGORIES))
    pan = tmp_path / "pan.json"
    convert(sem, pan, WriteOptions("coco-panoptic", split_things=True))
    ((canon, labels),) = panoptic_partition(pan).values()
    assert sorted(labels) == [(1, 0), (1, 0), (100, 0)]
    person = {tuple(x) for x in np.argwhere(lab == 1)}
    first = {tuple(x) for x in np.argwhere(canon == canon[0, 0])}
    assert first == {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2)} and first < person
    assert canonical(canon)[4, 0] == 0


def test_written_ids_follow_the_category_colours(tmp_path):
    """As panopticapi's IdGenerator: a stuff segment and the first instance of a thing take
    their category colour as id (R + 256·G + 65536·B), later instances a different colour."""
    out = tmp_path / "pan.json"
    convert(PANOPTIC_EXAMPLES, out, WriteOptions("coco-panoptic"))
    data = json.loads(out.read_text())
    colors = {c["id"]: c["color"] for c in data["categories"]}
    src_colors = {c["id"]: c["color"] for c in json.loads(PANOPTIC_EXAMPLES.read_text())["categories"]}
    assert colors == src_colors
    for ann in data["annotations"]:
        seen = set()
        for s in ann["segments_info"]:
            r, g, b = colors[s["category_id"]]
            color_id = r + 256 * g + 65536 * b
            assert (s["id"] == color_id) == (s["category_id"] not in seen), s
            seen.add(s["category_id"])
    # the real source was written by panopticapi the same way: its first person is the person colour
    assert (
        json.loads(PANOPTIC_EXAMPLES.read_text())["annotations"][0]["segments_info"][0]["id"]
        == 220 + 256 * 20 + 65536 * 60
    )
