"""Pixel arithmetic against hand-computed values and pycocotools."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from segtool import kernels as _kernels
from segtool import masks


def test_rgb2id_formula_and_inverse():
    rgb = np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1], [255, 255, 255]]], dtype=np.uint8)
    ids = masks.rgb2id(rgb)
    assert ids.tolist() == [[1, 256, 65536, 16777215]]
    assert np.array_equal(masks.id2rgb(ids), rgb)


def test_areas_and_bboxes_by_hand():
    index = np.array(
        [
            [0, 1, 1, 0],
            [0, 1, 0, 0],
            [2, 0, 0, 0],
        ],
        dtype=np.int32,
    )
    assert masks.areas(index, 3).tolist() == [3, 1, 0]
    # COCO: [x, y, w, h] with w = xmax - xmin + 1; an absent segment gets zeros
    assert masks.Runs(index, 3).bboxes().tolist() == [[1, 0, 2, 2], [0, 2, 1, 1], [0, 0, 0, 0]]


def test_runs_of_raw_ids_find_unknown_and_absent_ids():
    ids = np.array([[0, 5, 5], [9, 9, 7]])
    runs, unknown = masks.Runs.of_ids(ids, np.array([9, 5, 11]))
    assert unknown.tolist() == [7]
    assert runs.areas().tolist() == [2, 2, 0]  # 11 is listed but absent
    assert runs.index_map().tolist() == [[0, 2, 2], [1, 1, 0]]


def test_rles_of_noisy_index_match_pycocotools_per_mask():
    rng = np.random.default_rng(0)
    index = rng.integers(0, 5, size=(7, 11)).astype(np.int32)
    ours = masks.Runs(index, 4).rles()
    for k, r in enumerate(ours, start=1):
        ref = mask_utils.encode(np.asfortranarray((index == k).astype(np.uint8)))
        assert r["counts"] == ref["counts"].decode("ascii")
        assert r["size"] == [7, 11]


def test_to_compressed_polygon_and_uncompressed_rle():
    rle = masks.to_compressed({"counts": [0, 20, 30], "size": [10, 5]}, 10, 5)
    m = masks.decode([rle], 10, 5)[:, :, 0]
    # column-major counts: the first 20 pixels are the first two columns
    assert m[:, :2].all() and not m[:, 2:].any()
    square = masks.to_compressed([[0, 0, 4, 0, 4, 4, 0, 4]], 10, 10)
    assert mask_utils.area(masks.to_pyco(square)) == 16


def test_polygons_of_a_mask_with_a_hole_is_none():
    m = np.zeros((10, 10), np.uint8)
    m[1:9, 1:9] = 1
    m[4:6, 4:6] = 0
    assert masks.polygons(m) is None
    m[4:6, 4:6] = 1
    poly = masks.polygons(m)
    assert poly is not None and len(poly) == 1 and len(poly[0]) >= 6


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 25),
    st.integers(1, 25),
    st.integers(1, 6),
    st.integers(1, 6),
    st.randoms(use_true_random=False),
)
def test_runs_rles_equal_pycocotools_encode_byte_for_byte(h, w, n, run, rnd):
    """All RLEs of an index map at once (vectorised rleToString) == pycocotools.encode per mask;
    areas and boxes == hand computation with np.nonzero."""
    rng = np.random.default_rng(rnd.getrandbits(32))
    flat = np.repeat(rng.integers(0, n + 1, h * w // run + 1), run)[: h * w]
    index = flat.reshape(h, w).astype(np.int32)
    for order in ("F", "C"):
        runs = masks.Runs(index, n, order)
        assert np.array_equal(runs.index_map(), index)
        for k, ours in enumerate(runs.rles(), start=1):
            ref = mask_utils.encode(np.asfortranarray((index == k).astype(np.uint8)))
            assert ours["counts"] == ref["counts"].decode("ascii")
            ys, xs = np.nonzero(index == k)
            assert runs.areas()[k - 1] == len(ys)
            box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1] if len(ys) else [0, 0, 0, 0]
            assert runs.bboxes()[k - 1].tolist() == box


def test_rgb_decoding_by_segtool_and_by_the_pillow_fallback(monkeypatch):
    """segtool's decoder and the Pillow fallback (for PNGs it does not take) give the same
    ids, equal to the COCO formula on Pillow's pixels."""
    from PIL import Image

    from segtool import png
    from tests.conftest import PANOPTIC_EXAMPLES

    path = PANOPTIC_EXAMPLES.with_suffix("") / "000000142238.png"
    data = path.read_bytes()
    assert png.header(data) == (640, 427, "RGB")
    rgb = np.asarray(Image.open(path), dtype=np.uint32)
    expected = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    fast = png.decode_rgb_as_u32(data)
    monkeypatch.setattr(png, "decode", lambda data: None)  # as for a 16-bit or interlaced file
    slow = png.decode_rgb_as_u32(data)
    assert np.array_equal(fast, expected) and np.array_equal(slow, expected)


def test_encoder_output_decodes_to_the_same_array():
    from io import BytesIO

    from PIL import Image

    from segtool import png

    rng = np.random.default_rng(3)
    for arr, pal in (
        (rng.integers(0, 4, (7, 9)).astype(np.uint8), None),
        (rng.integers(0, 4, (7, 9)).astype(np.uint8), [i % 256 for i in range(768)]),
        (rng.integers(0, 65535, (5, 3)).astype(np.uint16), None),
        (rng.integers(0, 255, (4, 6, 3)).astype(np.uint8), None),
    ):
        img = Image.open(BytesIO(png.encode(arr, pal)))
        assert np.array_equal(np.asarray(img), arr)
        assert (
            img.mode == {np.uint16: "I;16", np.uint8: "RGB" if arr.ndim == 3 else ("P" if pal else "L")}[arr.dtype.type]
        )


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 8), st.randoms(use_true_random=False))
def test_rle_kernels_equal_pycocotools(h, w, run, rnd):
    """segtool's C decode gives pycocotools' areas, and its mask IoU pycocotools' doubles,
    bit for bit (crowd and non-crowd, empty and full masks, masks that touch or not)."""
    rng = np.random.default_rng(rnd.getrandbits(32))
    n = 6
    m = np.repeat(rng.integers(0, 2, (n, h * w // run + 1)), run, axis=1)[:, : h * w]
    m = np.asfortranarray(m.reshape(n, w, h).transpose(2, 1, 0).astype(np.uint8))
    m[..., 0] = 0
    m[..., 1] = 1
    if h > 2 and w > 2:  # a small block: its box is apart from most others
        m[..., 2] = 0
        m[: h // 2, : w // 2, 2] = 1
    rles = mask_utils.encode(m)
    areas = np.zeros(n, np.int64)
    assert _kernels.rle_areas([r["counts"] for r in rles], h, w, areas) == -1
    assert areas.tolist() == mask_utils.area(rles).tolist() == m.sum(axis=(0, 1)).tolist()
    crowd = rng.integers(0, 2, n).astype(np.uint8)
    expected = np.asarray(mask_utils.iou(rles, rles, crowd.tolist()))
    ours = np.empty((n, n))
    cats = np.ones(n, np.int64)
    _kernels.rle_iou([r["counts"] for r in rles], [r["counts"] for r in rles], h, w, cats, cats, crowd, ours)
    assert ours.tobytes() == expected.tobytes()
    cats[0] = 2
    _kernels.rle_iou([r["counts"] for r in rles], [r["counts"] for r in rles], h, w, cats, cats, crowd, ours)
    assert (ours[0, 1:] == -1).all() and (ours[1:, 0] == -1).all() and ours[0, 0] == expected[0, 0]


def _reference_bad(counts: bytes, h: int, w: int) -> bool:
    """pycocotools' rleFrString in Python, with the strict rules: a character outside
    '0'..'o', a string ending inside a value, a value longer than 8 characters, a negative
    count, counts not adding up to h*w."""
    xs, p = [], 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            if p >= len(counts) or not 48 <= counts[p] <= 111 or k >= 8:
                return True
            c = counts[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(xs) > 2:
            x += xs[-2]
        if x < 0:
            return True
        xs.append(x)
    return sum(xs) != h * w


def test_check_compressed_rejects_counts_that_do_not_fill_the_image():
    """pycocotools' iou loops forever on such an RLE: it must never reach it."""
    good = mask_utils.encode(np.asfortranarray(np.ones((4, 5), np.uint8)))
    short = {"size": [10, 10], "counts": "\x7f\x7f\x7f\x7f"}  # decodes to counts summing to 90
    assert masks.check_compressed([good]) is None
    assert masks.check_compressed([good, short]) == 1


def test_bad_compressed_flags_short_and_empty_counts():
    """Counts that do not fill the image are bad, including an empty string last in a batch."""
    m = np.zeros((6, 5, 2), np.uint8, order="F")
    m[1:3, 1:4, 0] = 1
    good = mask_utils.encode(m)
    short = {"size": [6, 5], "counts": b"3"}  # adds up to 3, not 30
    empty = {"size": [6, 5], "counts": b""}
    assert masks.bad_compressed([good[0], short, good[1], empty]).tolist() == [False, True, False, True]


def test_check_compressed_agrees_with_a_reference_decode():
    """The C guard flags exactly the RLEs a Python transcription of pycocotools' decoder
    (with the strict rules) flags: real masks of every shape, 1- and 2-count ones, and
    truncated, extended or garbled strings."""
    rng = np.random.default_rng(3)
    rles = []
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 20, 2))
        m = np.zeros((h, w, 1), np.uint8, order="F")
        kind = rng.integers(0, 4)
        if kind == 1:
            m[:] = 1  # counts [0, h*w]
        elif kind == 2:
            m[rng.integers(0, h) :, -1] = 1  # fg to the very end: two counts
        elif kind == 3:
            m[..., 0] = rng.random((h, w)) < 0.4
        r = mask_utils.encode(m)[0]
        cut = rng.integers(0, 4)
        if cut == 1 and len(r["counts"]) > 1:
            r = {**r, "counts": r["counts"][:-1]}  # truncated
        elif cut == 2:
            r = {**r, "counts": r["counts"] + b"1"}  # one count too many
        elif cut == 3 and rng.random() < 0.5:
            r = {**r, "counts": r["counts"] + bytes([int(rng.choice([ord("p"), ord("/"), 0x7F, ord("P")]))])}
        elif cut == 3:
            r = {**r, "counts": b"P" * int(rng.integers(6, 10)) + b"0" + r["counts"]}  # an over-long value
        rles.append(r)
    expected = np.array([_reference_bad(r["counts"], *r["size"]) for r in rles])
    assert masks.bad_compressed(rles).tolist() == expected.tolist()
    assert expected.any() and not expected.all()
    for i in range(len(rles)):
        assert (masks.check_compressed([rles[i]]) is not None) == expected[i], (i, rles[i])
    first = masks.check_compressed(rles)
    assert first == int(np.flatnonzero(expected)[0])


def test_guarded_areas_equal_pycocotools_areas():
    rng = np.random.default_rng(5)
    m = np.asfortranarray((rng.random((9, 7, 30)) < 0.3).astype(np.uint8))
    m[..., 0] = 0  # empty: one count
    m[..., 1] = 1  # full: two counts
    rles = mask_utils.encode(m)
    bad, areas = masks.guarded_areas(rles)
    assert bad is None and areas.tolist() == mask_utils.area(rles).tolist()
