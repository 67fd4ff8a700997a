"""Issue 17, native code and pycocotools: segtool's mask IoU against pycocotools' on RLEs
with zero-length runs (bit for bit, and COCOeval's 12 numbers); its RLE decoder against what
pycocotools actually reads; the polygon and image-size guards in front of pycocotools.
Expected values come from pycocotools or hand calculation.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from segtool import cocomask, cocopoly, limits, masks
from segtool import kernels as _kernels

# --- mask IoU: bit-identical to pycocotools, zero-length runs included ------------------------


@st.composite
def counts_with_zero_runs(draw, total: int):
    """Counts of an h*w mask with zero-length runs anywhere (first, middle, last)."""
    cuts = sorted(draw(st.lists(st.integers(0, total), max_size=12)))
    counts = np.diff([0, *cuts, total]).tolist()
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(counts)))
        counts[at:at] = [0, 0] if draw(st.booleans()) else [0]
    return counts


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(1, 7), st.integers(1, 7))
def test_rle_iou_equals_pycocotools_with_zero_length_runs(data, h, w):
    """Uncompressed counts like [0, 3, 0, 2, ...] keep their zero runs when pycocotools
    compresses them, and pycocotools' iou loop stops early on some: segtool's C IoU must
    give the same doubles, crowd or not (and through masks.iou, and to_compressed)."""
    n = 4
    raw = [data.draw(counts_with_zero_runs(h * w)) for _ in range(n)]
    compressed = [mask_utils.frPyObjects({"size": [h, w], "counts": c}, h, w) for c in raw]
    crowd = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), np.uint8)
    expected = np.asarray(mask_utils.iou(compressed, compressed, crowd.tolist()), np.float64)
    ours = np.empty((n, n))
    cats = np.zeros(n, np.int64)
    _kernels.rle_iou(
        [r["counts"] for r in compressed], [r["counts"] for r in compressed], h, w, cats, cats, crowd, ours
    )
    assert ours.tobytes() == expected.tobytes()
    ours_str = [masks.to_compressed({"size": [h, w], "counts": c}, h, w) for c in raw]
    assert masks.iou(ours_str, ours_str, crowd).tobytes() == expected.tobytes()
    assert masks.rle_areas(ours_str).tolist() == np.asarray(mask_utils.area(compressed)).tolist()


def test_a_zero_length_run_stops_pycocotools_iou_early_and_segtool_too():
    """By hand: a = [0, 3, 0, 3] (rows 0-2, then 3-5, of a 6x1 column), b = [0, 6]. Both
    sides meet count 0 at pixel 3, pycocotools' loop stops there: i = u = 3, IoU 1.0 (the
    whole masks give 1.0 too); with b = [1, 5] it stops at 3 with i = 2, u = 3."""
    a = mask_utils.frPyObjects({"size": [6, 1], "counts": [0, 3, 0, 3]}, 6, 1)
    for b_counts, want in (([0, 3, 0, 3], 1.0), ([1, 2, 0, 3], 2 / 3)):
        b = mask_utils.frPyObjects({"size": [6, 1], "counts": b_counts}, 6, 1)
        ref = float(np.asarray(mask_utils.iou([a], [b], [0]))[0, 0])
        assert ref == want
        assert masks.iou([a], [b], [0])[0, 0] == want


def test_eval_instance_equals_cocoeval_on_zero_length_runs(tmp_path):
    """The 12 numbers of COCOeval, ground truth and detections written with zero-length
    runs (uncompressed and compressed), identical to segtool's eval."""
    import contextlib

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from segtool import evaluate_instance

    rng = np.random.default_rng(17)
    h, w = 9, 7
    images, anns, dets = [], [], []
    for iid in range(1, 6):
        images.append({"id": iid, "file_name": f"{iid}.jpg", "height": h, "width": w})
        for k in range(3):
            m = rng.random((h, w)) < 0.4
            cnts = _counts_of(m)
            cnts = [*cnts[:1], 0, 0, *cnts[1:]] if k % 2 else [*cnts, 0]  # zero runs inside / at the end
            ann = {"id": len(anns) + 1, "image_id": iid, "category_id": 1, "iscrowd": int(k == 2)}
            ann |= {"area": int(m.sum()), "bbox": [0, 0, w, h], "segmentation": {"size": [h, w], "counts": cnts}}
            anns.append(ann)
            dc = _counts_of(rng.random((h, w)) < 0.5)
            rle = mask_utils.frPyObjects({"size": [h, w], "counts": [*dc[:2], 0, 0, *dc[2:]]}, h, w)
            det = {"image_id": iid, "category_id": 1, "score": float(rng.random())}
            dets.append(det | {"segmentation": {"size": [h, w], "counts": rle["counts"].decode()}})
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "a"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dets))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "gt.json"))
        ev = COCOeval(coco, coco.loadRes(str(tmp_path / "dt.json")), "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    ours = evaluate_instance(tmp_path / "gt.json", tmp_path / "dt.json").stats
    assert ours.tolist() == ev.stats.tolist()


def _counts_of(m: np.ndarray) -> list[int]:
    """Uncompressed COCO counts of a boolean mask, written out (column-major runs, 0s first)."""
    flat = m.T.ravel().astype(np.uint8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    return ([0] if flat[0] else []) + runs


# --- the RLE decoder: what pycocotools reads ----------------------------------------------------


def _value(x: int, chars: int) -> str:
    """``x`` in ``chars`` characters of pycocotools' code (longer than needed: sign groups)."""
    return "".join(chr(48 + (((x >> (5 * k)) & 0x1F) | (0x20 if k < chars - 1 else 0))) for k in range(chars))


def test_values_pycocotools_reads_differently_are_refused():
    """pycocotools shifts each 5-bit group as a 32-bit int and sign-extends a 7-character
    value by an undefined shift: a 7th group of more than 1 and any 8th group are misread
    (measured here through its area). segtool refuses exactly those; every value it takes,
    pycocotools reads the same (same areas)."""
    h, w, agreed, refused = 6, 8, 0, 0
    for chars in range(1, 9):
        for step in (-36, -1, 0, 3, 36, 2**29, -(2**29) - 5, 2**30 + 3, 2**31 - 1):
            s = "2X12" + _value(step, chars)  # counts 2, 40, 2, then 40 + step
            if chars * 5 < step.bit_length() + 1:
                continue  # cannot be written in so few characters
            ours = np.zeros(1, np.int64)
            _kernels.rle_areas([s], h, w, ours)
            if ours[0] < 0:
                refused += 1
                continue
            assert ours[0] == mask_utils.area({"size": [h, w], "counts": s.encode()}), s
            agreed += 1
    assert agreed >= 5 and refused >= 20
    for s in ("2X12" + _value(-36, 7), "2X12" + _value(-36, 8)):  # sums to 48 as written, 80 as pycocotools reads
        assert int(mask_utils.area({"size": [h, w], "counts": s.encode()})) == 76
        assert masks.check_compressed([{"size": [h, w], "counts": s}]) == 0


def test_pycocotools_own_strings_of_large_images_are_read():
    """What pycocotools writes for any count below 2^29 (every image under the default
    pixels limit) needs at most 6 characters a value, and a 7th with group 0 or 1 above:
    both read back as written."""
    for h, w in ((23170, 23170), (1, 2**29)):
        counts = [5, h * w - 10, 5]
        text = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)["counts"]
        areas = np.zeros(1, np.int64)
        assert _kernels.rle_areas([text], h, w, areas) == -1
        assert areas[0] == h * w - 10 == mask_utils.area({"size": [h, w], "counts": text})


# --- polygons and image sizes before pycocotools -------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [1e8, 1e9, -1e9, 2**31, 2**63, 10**400, 1e300, float("nan"), float("inf"), -float("inf"), True, "1", None],
)
def test_hostile_polygon_values_never_reach_pycocotools(value):
    poly = [[1, 1, value, 1, value, 4, 1, 4]]
    assert masks.polygon_problem(poly, 6, 8) is not None
    with pytest.raises(ValueError):
        masks.to_compressed(poly, 6, 8)
    with pytest.raises(ValueError):
        masks.rasterize(poly, 6, 8)


def test_polygon_bounds_by_hand():
    """8x6 image: x from -8 to 16 and y from -6 to 12 are fine, a hair beyond is not; the
    edges may add up to min(64 * 2 * (6 + 8), 2^20) = 1792 pixels."""
    h, w = 6, 8
    assert masks.polygon_problem([[-8, -6, 16, -6, 16, 12, -8, 12]], h, w) is None
    assert masks.polygon_problem([[-8.001, -6, 16, -6, 16, 12]], h, w) is not None
    assert masks.polygon_problem([[0, 0, 16, 0, 16, 12.001]], h, w) is not None
    # a zigzag: n round trips of (0,0) -> (16,0) cost 32 each, closing edge 0
    at_bound = [v for _ in range(56) for v in (0, 0, 16, 0)]  # 56 * 32 = 1792
    assert masks.polygon_problem([at_bound], h, w) is None
    assert masks.polygon_problem([[*at_bound, 0, 0, 1, 0]], h, w) is not None  # 2 more
    assert "1,794" in masks.polygon_problem([[*at_bound, 0, 0, 1, 0]], h, w)
    # split across polygons, the sum counts
    assert masks.polygon_problem([at_bound[: 28 * 4], at_bound[: 28 * 4], [0, 0, 1, 0, 1, 1]], h, w) is not None
    with limits.raised(pixels=2**31 - 1):  # 40000x40000: 64 perimeters exceed 2^20, the cap
        big = 40_000
        assert masks.polygon_problem([[0, 0, 80_000, 0] * 6], big, big) is None  # 960,000
        assert "1,048,576" in masks.polygon_problem([[0, 0, 80_000, 0] * 7], big, big)  # 1,120,000


@settings(max_examples=60, deadline=None)
@given(st.integers(9, 60), st.integers(0, 2**32 - 1))
def test_many_polygons_merged_pairwise_equal_pycocotools_merge(n, seed):
    """Past 8 polygons segtool merges pairwise (pycocotools' merge of n is quadratic): the
    same RLE bytes as pycocotools' merge of all of them."""
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(5, 40)), int(rng.integers(5, 40))
    polys = []
    for _ in range(n):
        x, y = rng.uniform(-2, w + 2), rng.uniform(-2, h + 2)
        xs, ys = np.clip(x + rng.uniform(-6, 6, 4), -w, 2 * w), np.clip(y + rng.uniform(-6, 6, 4), -h, 2 * h)
        polys.append(np.column_stack([xs, ys]).ravel().tolist())
    expected = mask_utils.merge(mask_utils.frPyObjects(polys, h, w))
    assert masks.rasterize(polys, h, w) == expected


def test_pairwise_merge_never_hands_pycocotools_many_masks_at_once(monkeypatch):
    """pycocotools' merge of n masks costs n times their runs (32,000 one-pixel squares:
    2.7 s, measured); segtool merges more than 8 pairwise: n - 1 merges of 2."""
    sizes = []
    real = cocomask.mask_utils.merge

    def merge(rles, intersect=0):
        sizes.append(len(rles))
        return real(rles, intersect)

    monkeypatch.setattr(cocomask.mask_utils, "merge", merge)
    h, w = 480, 640
    polys = [[x, y, x + 1, y, x + 1, y + 1, x, y + 1] for y in range(0, 200, 2) for x in range(0, 640, 2)]
    assert len(polys) == 32_000  # edges 128,000 < 143,360 allowed
    rle = masks.rasterize(polys, h, w)
    assert int(mask_utils.area(rle)) == 32_000
    assert max(sizes) == 2 and len(sizes) == 32_000 - 1
    sizes.clear()
    masks.rasterize(polys[:8], h, w)
    assert sizes == [8]  # few polygons: pycocotools' own merge, as before


def test_a_traced_mask_longer_than_the_bound_stays_rle():
    """masks.polygons never returns what polygon_problem refuses: a comb of 1-pixel teeth
    traces to ~2x its pixels, more than 64 perimeters of a 300x300 image."""
    comb = np.zeros((300, 300), np.uint8)
    comb[0, :] = 1
    comb[:, ::2] = 1
    assert masks.polygons(comb) is None
    small = np.zeros((30, 30), np.uint8)
    small[0, :] = 1
    small[:, ::2] = 1
    traced = masks.polygons(small)
    assert traced is not None and masks.polygon_problem(traced, 30, 30) is None


@pytest.mark.parametrize(
    "size,why",
    [
        ((0, 5), "positive"),
        ((-1, 5), "positive"),
        ((5, True), "positive"),
        ((5.0, 5), "positive"),
        ((20000, 20000), "over the limit"),
        ((65536, 65536), "over the limit"),
    ],
)
def test_image_sizes_refused_before_pycocotools(size, why):
    with pytest.raises(ValueError, match=why):
        masks.check_size(*size)
    with pytest.raises(ValueError, match=why):
        masks.to_compressed({"size": list(size), "counts": "0"}, *size)
    assert masks.check_compressed([{"size": list(size), "counts": "0"}]) == 0


def test_the_32_bit_bound_holds_when_the_pixels_limit_is_raised():
    with limits.raised(pixels=2**40):
        masks.check_size(40000, 40000)  # 1.6e9 < 2^31
        with pytest.raises(ValueError, match="32 bits"):
            masks.check_size(65536, 32768)
        with pytest.raises(ValueError, match="32 bits"):
            masks.encode_empty(2**31, 1)


def test_encode_empty_equals_pycocotools_without_a_pixel_buffer():
    for h, w in ((1, 1), (6, 8), (480, 640), (3, 100_000)):
        ref = mask_utils.encode(np.zeros((h, w, 1), np.uint8, order="F"))[0]["counts"].decode()
        assert masks.encode_empty(h, w) == {"size": [h, w], "counts": ref}


def test_uncompressed_counts_that_do_not_fit_32_bits():
    """Counts that add up to h*w only through 64-bit values, negative or float counts."""
    for counts in ([2**33, 5], [2**62], [2**64 - 48, 48], [-5, 53], [1.5, 46.5], [True, 47], []):
        with pytest.raises(ValueError):
            masks.to_compressed({"size": [6, 8], "counts": counts}, 6, 8)


def test_guarded_routes_refuse_undecodable_rles():
    bad = {"size": [6, 8], "counts": "2X12" + _value(-36, 8)}
    good = masks.to_compressed([[1, 1, 5, 1, 5, 4, 1, 4]], 6, 8)
    for call in (
        lambda: masks.decode([good, bad], 6, 8),
        lambda: masks.iou([good], [bad], [0]),
        lambda: masks.rle_areas([good, bad]),
        lambda: masks.rle_boxes([bad]),
        lambda: masks.decode([good], 6, 9),  # another size
    ):
        with pytest.raises(ValueError):
            call()
    assert masks.rle_boxes([good]).tolist() == [[1.0, 1.0, 4.0, 3.0]]  # by hand: x 1..4, y 1..3


def test_cocomask_is_where_masks_finds_it():
    for name in ("to_compressed", "decode", "iou", "rle_areas", "rle_boxes", "check_size"):
        assert getattr(masks, name) is getattr(cocomask, name)
    for name in ("rasterize", "polygons", "polygon_problem"):  # polygons: cocopoly, beside it
        assert getattr(masks, name) is getattr(cocopoly, name)
    assert Path(cocomask.__file__).name == "cocomask.py" and Path(cocopoly.__file__).name == "cocopoly.py"


@pytest.mark.parametrize("value", [1e9, -1e9, 2**31, 10**400, 1e300, 1e308, -1e308, float("nan"), float("inf")])
def test_validate_and_fix_drop_coordinates_no_image_has_without_a_warning(value):
    """validate's per-polygon check (which --fix drops polygons by) refuses coordinates
    beyond ±2^27 before computing an area (1e308 overflowed it: a RuntimeWarning on
    stderr); pytest turns any warning into an error here."""
    from segtool.formats.coco_polygons import outline_problem as polygon_problem

    assert polygon_problem([1, 1, value, 1, value, -value, 1, 4]) is not None
    assert polygon_problem([1, 1, 2**27, 1, 2**27, 4]) is None
