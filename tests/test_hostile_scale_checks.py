"""validate on a COCO instance JSON with many instances in one image: linear, and the same findings.

Class "hangs": validate's overlap check computed the IoU of all n² pairs of an image's
instances (20,000 instances: 14.9 s, 10^5 would need an 80 GB matrix; 20,000 masks of the
whole image: a 3.2 GB matrix and 2 x 10^8 findings). Now only pairs that share pixels are
found, from the masks' runs: checked at two sizes, the larger 4x the smaller, within bounds
below a quadratic's. An image with more annotations than the ``segments`` limit is one
``malformed-record`` finding, as in a panoptic JSON.

Class "parity": the findings (codes, messages, order) are those of the quadratic code (a
copy of it below is the reference) on random images with crowd, polygons, uncompressed and
compressed RLEs, duplicates, IoU ties, and 0, 1, 2 or many instances; the pixels shared are
those of the masks pycocotools decodes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from segtool import limits, masks, rlepairs
from segtool.checks.registry import finding
from segtool.formats import coco_instance_checks as instance
from segtool.formats.coco_instance_checks import validate_instance
from tests.conftest import write_json

CATS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


def reference_overlaps(rles, job, out):  # type: ignore[no-untyped-def]
    """segtool's former ``checks.instance._overlaps``: the IoU of every pair (n x n)."""
    plain = [(a, r) for a, r in rles if not a.get("iscrowd")]
    if len(plain) < 2:
        return
    ious = masks.iou([r for _, r in plain], [r for _, r in plain], np.zeros(len(plain), bool))
    areas = masks.rle_areas([r for _, r in plain]).astype(float)
    i, j = np.nonzero(np.triu(ious, 1) > job.max_overlap)
    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        iou = float(ious[a, b])
        pixels = round(iou * (areas[a] + areas[b]) / (1 + iou))
        ids = (plain[a][0].get("id"), plain[b][0].get("id"))
        out.findings.append(
            finding(
                "overlap",
                f"annotations {ids[0]} and {ids[1]} share {pixels} px (IoU {iou:.3f})",
                job.path,
                job.image.get("id"),
                ids[0],
            )
        )


def _runs(flat: np.ndarray) -> list[int]:
    """Uncompressed COCO counts of a flat (column-major) mask, written out: 0s first."""
    out, value, n = [], 0, 0
    for v in flat.tolist():
        if v != value:
            out.append(n)
            value, n = v, 0
        n += 1
    return [*out, n]


def random_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    y, x = rng.integers(0, h), rng.integers(0, w)
    m[y : y + rng.integers(1, h + 1), x : x + rng.integers(1, w + 1)] = 1
    if rng.random() < 0.3:
        m &= (rng.random((h, w)) < 0.6).astype(np.uint8)
    return m


def segmentation(rng: np.random.Generator, m: np.ndarray) -> Any:
    """The mask as compressed or uncompressed RLE, or, when it is a filled rectangle, as a
    polygon along its pixel corners (pycocotools rasterises it back to those pixels)."""
    ys, xs = np.nonzero(m)
    kind = rng.choice(["compressed", "uncompressed", "polygon"])
    if kind == "polygon" and ys.size and m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all():
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        return [[x0, y0, x1, y0, x1, y1, x0, y1]]
    if kind == "uncompressed":  # sometimes with zero-length runs inside: the same mask
        counts = _runs(m.T.ravel())
        at = int(rng.integers(1, len(counts) + 1))
        return {"size": list(m.shape), "counts": counts[:at] + [0, 0] * int(rng.random() < 0.5) + counts[at:]}
    return {"size": list(m.shape), "counts": mask_utils.encode(np.asfortranarray(m))["counts"].decode()}


def random_dataset(path: Path, seed: int) -> Path:
    """Images with 0, 1, 2 or up to 14 instances: random rectangles (some sparse), exact
    copies (IoU 1), crowd ones, and one pair at IoU exactly 0.5 (4 px and 2 of them)."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for iid in range(1, 17):
        h, w = (int(v) for v in rng.integers(3, 20, 2))
        images.append({"id": iid, "file_name": f"{iid}.jpg", "height": h, "width": w})
        n = [0, 1, 2, int(rng.integers(3, 15))][iid % 4]
        made: list[Any] = []
        for _ in range(n):
            segm = made[int(rng.integers(len(made)))] if made and rng.random() < 0.15 else None
            segm = segm or segmentation(rng, random_mask(rng, h, w))
            made.append(segm)
            crowd = int(rng.random() < 0.15)
            anns.append({"id": len(anns) + 1, "image_id": iid, "category_id": int(rng.integers(1, 3)),
                         "segmentation": segm, "iscrowd": crowd})  # fmt: skip
        if iid == 3:  # the tie
            for k in (2, 1):
                m = np.zeros((h, w), np.uint8)
                m[0:2, 0:k] = 1
                anns.append({"id": len(anns) + 1, "image_id": iid, "category_id": 1,
                             "segmentation": segmentation(rng, m), "iscrowd": 0})  # fmt: skip
    return write_json(path, {"images": images, "annotations": anns, "categories": CATS})


def findings(path: Path, monkeypatch: pytest.MonkeyPatch, max_overlap: float, old: bool) -> list[dict[str, Any]]:
    with monkeypatch.context() as m:
        if old:
            m.setattr(instance, "_overlaps", reference_overlaps)
        return [f.to_dict() for f in validate_instance(path, max_overlap=max_overlap).findings]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("max_overlap", [0.0, 0.5])
@pytest.mark.parametrize("way", ["matrix", "runs"])
def test_overlap_findings_equal_the_quadratic_code(tmp_path, monkeypatch, seed, max_overlap, way):
    """Through the IoU matrix (a few instances) and through the runs (forced here)."""
    path = random_dataset(tmp_path / "i.json", seed)
    if way == "runs":
        monkeypatch.setattr(instance, "DENSE_INSTANCES", 0)
    new, old = (findings(path, monkeypatch, max_overlap, flag) for flag in (False, True))
    assert new == old
    overlaps = [f["message"] for f in new if f["code"] == "overlap"]
    assert len(overlaps) > (20 if max_overlap == 0 else 0), overlaps
    tie = "share 2 px (IoU 0.500)"
    assert any(tie in m for m in overlaps) == (max_overlap == 0.0), overlaps


def decoded_pairs(rles: list[dict[str, Any]]) -> list[tuple[int, int, int]]:
    """(i, j, pixels shared) of masks pycocotools decodes, by a matrix product."""
    stack = mask_utils.decode(rles).reshape(-1, len(rles)).astype(np.int64)
    inter = stack.T @ stack
    return [(a, b, int(inter[a, b])) for a in range(len(rles)) for b in range(a + 1, len(rles)) if inter[a, b]]


@pytest.mark.parametrize("seed", range(3))
def test_shared_pixels_are_the_decoded_masks(seed):
    """Both ways of counting (pairs of runs; instance by instance, for deep piles) give the
    pixels pycocotools' decoded masks share."""
    rng = np.random.default_rng(seed)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 20, 2))
        rles = [mask_utils.encode(np.asfortranarray(random_mask(rng, h, w))) for _ in range(int(rng.integers(2, 12)))]
        want = decoded_pairs(rles)
        fast = rlepairs.shared_pixels(rles, 10**6)
        deep = rlepairs._by_instance(*rlepairs.decode(rles), 10**6, 0)
        for got in (fast, deep):
            assert list(zip(got.a.tolist(), got.b.tolist(), got.pixels.tolist(), strict=True)) == want
            assert got.note is None
        assert fast.area.tolist() == mask_utils.area(rles).tolist()


@pytest.mark.parametrize("seed", range(2))
def test_decoding_all_strings_at_once_is_pycocotools(seed):
    """Counts with zero-length runs (uncompressed, as a file may give them), values spelled
    in 8 characters, masks empty and full: the runs cover what pycocotools decodes, and the
    masks with a zero-length run after the first count are flagged."""
    rng = np.random.default_rng(seed)
    seen = np.zeros(3, np.int64)  # 8-character values, masks with and without zero-length runs
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(1, 12, 2))
        rles, flags = [], []
        for _ in range(int(rng.integers(1, 9))):
            cuts = np.sort(rng.integers(0, h * w + 1, size=int(rng.integers(0, 9))))
            counts = np.diff(np.concatenate([[0], cuts, [h * w]])).tolist()
            flags.append(0 in counts[1:])
            rle = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
            if 48 <= rle["counts"][0] < 64 and rng.random() < 0.5:  # a first value of 0..15 in 8 characters
                rle = {"size": [h, w], "counts": bytes([rle["counts"][0] + 32] + [80] * 6 + [48]) + rle["counts"][1:]}
                seen[0] += 1
            rles.append(rle)
        assert masks.check_compressed(rles) is None
        runs, inner_zero = rlepairs.decode(rles)
        painted = np.zeros((len(rles), h * w), np.uint8)
        for s, e, o in zip(runs.start.tolist(), runs.end.tolist(), runs.owner.tolist(), strict=True):
            painted[o, s:e] += 1
        want = mask_utils.decode(rles).transpose(2, 1, 0).reshape(len(rles), h * w)
        assert painted.tolist() == want.tolist()
        assert runs.area.tolist() == mask_utils.area(rles).tolist() and inner_zero.tolist() == flags
        seen[1:] += [sum(flags), len(flags) - sum(flags)]
    assert (seen > 10).all(), seen


def one_image(path: Path, segms: list[Any], h: int, w: int, crowd: int = 0) -> Path:
    anns = [
        {"id": i + 1, "image_id": 1, "category_id": 1, "segmentation": s, "iscrowd": crowd} for i, s in enumerate(segms)
    ]
    image = {"id": 1, "file_name": "a.jpg", "height": h, "width": w}
    return write_json(path, {"images": [image], "annotations": anns, "categories": CATS[:1]})


def overlap_messages(path: Path) -> list[str]:
    return [f.message for f in validate_instance(path).findings if f.code == "overlap"]


def test_rles_pycocotools_reads_its_own_way():
    """A zero-length run inside an RLE (kept by uncompressed counts) and a value spelled in
    8 characters (the strict decoder's limit): the pixels shared are the decoded masks'."""
    h, w = 6, 5
    zero = mask_utils.frPyObjects({"size": [h, w], "counts": [2, 3, 0, 4, 0, 2, 19]}, h, w)
    other = mask_utils.encode(np.asfortranarray(np.ones((h, w), np.uint8)))
    spelled = mask_utils.frPyObjects({"size": [h, w], "counts": [7, 9, 14]}, h, w)
    assert spelled["counts"][:1] == b"7"  # the first value, 7, in one character: now in eight
    padded = {"size": [h, w], "counts": bytes([48 + 32 + 7] + [48 + 32] * 6 + [48]) + spelled["counts"][1:]}
    assert masks.check_compressed([padded]) is None and masks.rle_areas([padded]).tolist() == [9]
    rles = [zero, other, padded]
    want = decoded_pairs([zero, other, spelled])
    got = rlepairs.shared_pixels(rles, 10**6)
    assert list(zip(got.a.tolist(), got.b.tolist(), got.pixels.tolist(), strict=True)) == want
    assert want == [(0, 1, 9), (0, 2, 4), (1, 2, 9)]  # by hand: 9 px, 30 px, 9 px, 4 shared


@pytest.mark.parametrize("way", ["matrix", "runs"])
def test_overlap_behind_a_zero_length_run_is_pycocotools(tmp_path, monkeypatch, way):
    """pycocotools' IoU stops at a zero-length run inside an RLE (a file's uncompressed
    counts may have one): of the first two 2 x 3 masks ({3, 4, 5} and {5}, by hand) it
    misses the pixel shared, IoU 0. validate gives pycocotools' IoU, as eval does."""
    if way == "runs":
        monkeypatch.setattr(instance, "DENSE_INSTANCES", 0)
    counts = ([3, 1, 0, 2], [4, 0, 1, 1, 0], [2, 4])
    path = one_image(tmp_path / "i.json", [{"size": [2, 3], "counts": c} for c in counts], 2, 3)
    old = [f["message"] for f in findings(path, monkeypatch, 0.0, True)]
    assert (
        overlap_messages(path)
        == old
        == [
            "annotations 1 and 3 share 3 px (IoU 0.750)",  # {3, 4, 5} in {2, 3, 4, 5}: pycocotools agrees
            "annotations 2 and 3 share 1 px (IoU 0.250)",  # 1 and 2: missed
        ]
    )


@pytest.mark.parametrize("way", ["matrix", "runs"])
def test_the_listing_is_bounded_by_the_segments_limit(tmp_path, monkeypatch, way):
    """12 copies of one mask: 66 pairs. With the segments limit at 20, the first 20 (the
    reference's first 20) and one finding that says the rest is left out."""
    if way == "runs":
        monkeypatch.setattr(instance, "DENSE_INSTANCES", 0)
    m = np.zeros((8, 8), np.uint8)
    m[2:5, 1:7] = 1
    path = one_image(tmp_path / "i.json", [segmentation(np.random.default_rng(0), m)] * 12, 8, 8)
    old = [f["message"] for f in findings(path, monkeypatch, 0.0, True) if f["code"] == "overlap"]
    assert len(old) == 66 and all("share 18 px (IoU 1.000)" in m for m in old)
    with limits.raised(segments=20):
        new = overlap_messages(path)
    assert new[:20] == old[:20]
    assert new[20:] == ["more than 20 pairs of instances share pixels: the first 20 are checked"]


def test_deep_piles_are_checked_instance_by_instance(tmp_path, monkeypatch):
    """Past the work bound, the pairs of the first instances, exactly, and a note."""
    rng = np.random.default_rng(1)
    segms = [segmentation(rng, (rng.random((9, 7)) < 0.5).astype(np.uint8)) for _ in range(10)]
    path = one_image(tmp_path / "i.json", segms, 9, 7)
    old = [f["message"] for f in findings(path, monkeypatch, 0.0, True) if f["code"] == "overlap"]
    monkeypatch.setattr(rlepairs, "PAIR_WORK", 60)  # every instance has ~15 runs: ~150 in all
    monkeypatch.setattr(instance, "DENSE_INSTANCES", 0)
    new = overlap_messages(path)
    note = new.pop()
    assert note.startswith("instances pile up: ") and "checked for the first 1 of 10 instances only" in note
    assert new == [m for m in old if m.startswith("annotations 1 and ")] and len(new) == 9


def grid(path: Path, n: int, k: int) -> Path:
    """n squares of k x k pixels, 3 pixels apart (k = 4: each meets its neighbours)."""
    side = int(np.ceil(np.sqrt(n)))
    h = w = 3 * side + 2
    counts = []
    for i in range(n):
        y, x = divmod(i, side)
        start = 3 * x * h + 3 * y
        cols = [c for _ in range(k) for c in (k, h - k)][:-1]
        counts.append({"size": [h, w], "counts": [start, *cols, h * w - start - sum(cols)]})
    rles = mask_utils.frPyObjects(counts, h, w)
    segms = [{"size": [h, w], "counts": r["counts"].decode()} for r in rles]
    return one_image(path, segms, h, w)


def _seconds(path: Path) -> tuple[float, list[str]]:
    start = time.process_time()
    messages = overlap_messages(path)
    return time.process_time() - start, messages


def test_validate_many_instances_is_linear(tmp_path):
    """5,000 and 20,000 squares in one image, each meeting its neighbours (the n x n IoU
    took 1.65 s and 14.9 s; now ~0.5 s and ~2 s)."""
    (t_small, small), (t_big, big) = (_seconds(grid(tmp_path / f"{n}.json", n, 4)) for n in (5_000, 20_000))
    assert t_big < 10 and t_big < 6 * t_small + 1, (t_small, t_big)
    assert small[0] == "annotations 1 and 2 share 4 px (IoU 0.143)"  # 16 + 16 - 4 = 28 px
    assert len(big) == neighbours(20_000)


def neighbours(n: int) -> int:
    """Pairs of grid squares that meet: next in a row or column (4 px), diagonal (1 px)."""
    side = int(np.ceil(np.sqrt(n)))
    cells = {divmod(i, side) for i in range(n)}
    return sum((y + dy, x + dx) in cells for y, x in cells for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)))


def test_validate_a_deep_pile_is_bounded(tmp_path):
    """20,000 masks of the whole image: 2 x 10^8 pairs (a 3.2 GB IoU matrix before); the
    first 10^5 (the segments limit) are listed, then a note, in a few seconds."""
    full = mask_utils.encode(np.ones((10, 10), np.uint8, order="F"))["counts"].decode()
    path = one_image(tmp_path / "i.json", [{"size": [10, 10], "counts": full}] * 20_000, 10, 10)
    seconds, messages = _seconds(path)
    assert seconds < 15, seconds
    assert len(messages) == 100_001 and messages[0] == "annotations 1 and 2 share 100 px (IoU 1.000)"
    assert messages[19_998] == "annotations 1 and 20000 share 100 px (IoU 1.000)"
    assert messages[19_999] == "annotations 2 and 3 share 100 px (IoU 1.000)"
    assert messages[-1].startswith("more than 100,000 pairs")


def test_an_image_over_the_segments_limit_is_one_finding(tmp_path):
    """4 annotations of image 1 over a limit of 3; image 2 (3) is checked as before."""
    m = np.zeros((8, 8), np.uint8)
    m[1:4, 1:4] = 1
    segm = {"size": [8, 8], "counts": mask_utils.encode(np.asfortranarray(m))["counts"].decode()}
    images = [{"id": i, "file_name": f"{i}.jpg", "height": 8, "width": 8} for i in (1, 2)]
    anns = [{"id": k, "image_id": 1 + (k > 4), "category_id": 1 + (k == 1), "segmentation": segm, "area": 9,
             "bbox": [1, 1, 3, 3], "iscrowd": 0} for k in range(1, 8)]  # fmt: skip
    path = write_json(tmp_path / "i.json", {"images": images, "annotations": anns, "categories": CATS})
    with limits.raised(segments=3):
        report = validate_instance(path)
    got = [(f.code, f.image_id, f.message) for f in report.findings]
    over = "image 1: 4 annotations, over the limit of 3 (raise it with --limit segments=N)"
    pairs = [("overlap", 2, f"annotations {a} and {b} share 9 px (IoU 1.000)") for a, b in ((5, 6), (5, 7), (6, 7))]
    assert got == [("malformed-record", 1, over), *pairs]  # category 2 is used; image 1 has annotations
    assert report.stats == {"images": 2, "annotations": 7}
    assert [f.code for f in validate_instance(path).findings] == ["overlap"] * 9
