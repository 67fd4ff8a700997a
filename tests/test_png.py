"""segtool's PNG decoder (libdeflate + the C row-unfilter) and the C PQ pair table.

Expected pixels come from the images themselves (PNGs filtered here by a from-the-spec
Python encoder, one filter type per file) and from Pillow; expected tables from numpy.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from segtool import kernels as _kernels
from segtool import png
from tests.conftest import panoptic_segments, write_panoptic
from tests.helpers import assert_bad_input, invoke


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _filter_row(kind: int, row: bytes, up: bytes, bpp: int) -> bytes:
    """PNG filter ``kind`` of one row, straight from the specification (per byte)."""
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = up[i]
        c = up[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
        out.append((x - pred) % 256)
    return bytes([kind]) + bytes(out)


def _chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def encode_filtered(pixels: np.ndarray, kinds: list[int]) -> bytes:
    """A PNG of 8-bit ``pixels`` (H, W[, C]) whose row ``y`` uses filter ``kinds[y % len]``."""
    h, w = pixels.shape[:2]
    c = 1 if pixels.ndim == 2 else pixels.shape[2]
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = pixels.reshape(h, w * c)
    raw, up = b"", bytes(w * c)
    for y in range(h):
        row = rows[y].tobytes()
        raw += _filter_row(kinds[y % len(kinds)], row, up, c)
        up = row
    ihdr = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_every_filter_type_and_sample_size(channels, kind):
    rng = np.random.default_rng(channels * 10 + kind)
    shape = (9, 13) if channels == 1 else (9, 13, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    pixels[4:] = pixels[4]  # flat rows too, as in segment maps
    data = encode_filtered(pixels, [kind])
    assert np.array_equal(png.decode(data), pixels)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)  # the encoder is right


def test_mixed_filters_on_a_panoptic_like_map():
    ids = np.zeros((40, 50), np.uint32)
    ids[5:30, 10:40] = 0x0A0B0C
    ids[20:, :25] = 0x123456
    rgb = np.stack([ids & 255, ids >> 8 & 255, ids >> 16], axis=-1).astype(np.uint8)
    data = encode_filtered(rgb, [4, 2, 1, 3, 0, 4, 4])
    assert np.array_equal(png.decode_rgb_as_u32(data), ids)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P"])
def test_pillow_written_files_decode_as_pillow_reads_them(mode):
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (31, 47, 4), dtype=np.uint8)
    base[10:20] = 7
    im = Image.fromarray(base, "RGBA").convert(mode)
    for options in ({}, {"optimize": True}, {"compress_level": 1}):
        buf = io.BytesIO()
        im.save(buf, "PNG", **options)
        ours = png.decode(buf.getvalue())
        assert ours is not None and np.array_equal(ours, np.asarray(Image.open(io.BytesIO(buf.getvalue()))))


def test_interlaced_and_16_bit_files_go_to_pillow():
    rgb = np.random.default_rng(4).integers(0, 256, (11, 13, 3), dtype=np.uint8)
    raw = b""  # Adam7: seven sub-images, each row with filter 0
    for x0, y0, dx, dy in (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ):
        sub = rgb[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)
    ihdr = struct.pack(">IIBBBBB", 13, 11, 8, 2, 0, 0, 1)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    assert png.decode(data) is None
    assert np.array_equal(png.decode_rgb(data), rgb)
    buf = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).save(buf, "PNG")
    assert png.decode(buf.getvalue()) is None


def test_corrupt_files_raise_value_error():
    good = encode_filtered(np.arange(48, dtype=np.uint8).reshape(4, 4, 3), [1])
    idat = good.index(b"IDAT")
    bad_crc = bytearray(good)
    bad_crc[idat + 6] ^= 0xFF
    truncated = good[: idat + 10]
    bad_filter = encode_filtered(np.zeros((4, 4, 3), np.uint8), [0])
    raw = bytes([0]) + bytes(12) + bytes([7]) + bytes(12) + (bytes([0]) + bytes(12)) * 2
    bad_filter = (
        bad_filter[: bad_filter.index(b"IDAT") - 4] + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    )
    short = (
        bad_filter[: bad_filter.index(b"IDAT") - 4] + _chunk(b"IDAT", zlib.compress(raw[:20])) + _chunk(b"IEND", b"")
    )
    stream = bytearray(zlib.compress(raw))
    stream[len(stream) // 2] ^= 0x55  # valid chunk CRC, broken deflate stream or checksum
    broken = bad_filter[: bad_filter.index(b"IDAT") - 4] + _chunk(b"IDAT", bytes(stream)) + _chunk(b"IEND", b"")
    for data, message in (
        (bytes(bad_crc), "CRC error"),
        (truncated, "truncated"),
        (bad_filter, "invalid filter type in row 1"),
        (short, "image data is truncated"),
        (broken, "corrupt image data"),
        (b"GIF89a", "not a PNG"),
    ):
        with pytest.raises(ValueError, match=message):
            png.decode_rgb(data)


def _reference_table(g, p, gids, pids):
    gi = np.searchsorted(np.r_[0, np.sort(gids)], g)
    pj = np.searchsorted(np.r_[0, np.sort(pids)], p)
    # rows/columns in list order, as pair_counts fills them
    grow = np.r_[0, np.argsort(np.argsort(gids)) + 1]
    pcol = np.r_[0, np.argsort(np.argsort(pids)) + 1]
    table = np.zeros((len(gids) + 1, len(pids) + 1), np.int64)
    np.add.at(table, (np.argsort(grow)[gi], np.argsort(pcol)[pj]), 1)
    return table


def _table(g, p, gids, pids):
    keys = []
    for ids in (gids, pids):
        order = np.argsort(ids, kind="stable")
        keys += [ids[order].astype(np.uint32), (order + 1).astype(np.int64)]
    table = np.zeros((len(gids) + 1, len(pids) + 1), np.int64)
    rgb = [np.ascontiguousarray(np.stack([a & 255, a >> 8 & 255, a >> 16], -1).astype(np.uint8)) for a in (g, p)]
    return _kernels.pair_counts(*rgb, *keys, table), table


def test_pair_counts_equal_a_numpy_count():
    rng = np.random.default_rng(5)
    for _ in range(20):
        gids = rng.choice(np.arange(1, 2**24), 7, replace=False)
        pids = rng.choice(np.arange(1, 2**24), 5, replace=False)
        # runs of random length, both maps: long runs (skipped 8 at a time) and short ones
        lengths = rng.integers(1, 40, 400)
        g = np.repeat(rng.choice(np.r_[0, gids], 400), lengths)[:3001]
        p = np.repeat(rng.choice(np.r_[0, pids], 400), rng.permutation(lengths))[: len(g)]
        bad, table = _table(g, p, gids, pids)
        assert bad is None
        assert np.array_equal(table, _reference_table(g, p, gids, pids))


def test_pair_counts_report_an_unlisted_id():
    g = np.array([0, 5, 5, 6, 9], np.int64)
    p = np.array([0, 0, 3, 3, 3], np.int64)
    assert _table(g, p, np.array([5, 9]), np.array([3]))[0] == (1, 6)
    assert _table(p, g, np.array([3]), np.array([5, 9]))[0] == (2, 6)


def test_eval_names_unlisted_and_absent_segments(runner, tmp_path):
    gt_map = np.array([[1, 1, 0], [2, 2, 0]])
    gt = write_panoptic(tmp_path / "gt.json", [gt_map], [panoptic_segments(gt_map, {1: 1, 2: 2})])
    stray = np.array([[1, 1, 0], [2, 2, 4]])
    pred = write_panoptic(tmp_path / "pred.json", [stray], [panoptic_segments(gt_map, {1: 1, 2: 2})])
    r = invoke(runner, "eval", "panoptic", gt, pred)
    assert_bad_input(r, "pred", "segment ids 4 are in the PNG but not in segments_info")
    absent = [*panoptic_segments(gt_map, {1: 1, 2: 2}), {"id": 7, "category_id": 1, "iscrowd": 0}]
    pred = write_panoptic(tmp_path / "pred2.json", [gt_map], [absent])
    r = invoke(runner, "eval", "panoptic", gt, pred)
    assert_bad_input(r, "pred2", "segments 7 are listed in segments_info but absent from the PNG")


def test_mutated_files_raise_value_error_or_decode_never_crash():
    """Random byte flips, truncations and length fields: the decoder (C unfilter behind a
    CRC and size checks) raises ValueError or returns pixels, never crashes or hangs."""
    rng = np.random.default_rng(11)
    base = rng.integers(0, 256, (23, 17, 3), dtype=np.uint8)
    files = [encode_filtered(base, [0, 1, 2, 3, 4])]
    buf = io.BytesIO()
    Image.fromarray(base[..., 0]).save(buf, "PNG")
    files.append(buf.getvalue())
    for data in files:
        for _ in range(300):
            m = bytearray(data)
            kind = rng.integers(0, 3)
            if kind == 0:
                for _ in range(int(rng.integers(1, 4))):
                    m[int(rng.integers(8, len(m)))] = int(rng.integers(0, 256))
            elif kind == 1:
                m = m[: int(rng.integers(8, len(m)))]
            else:  # a chunk length or IHDR field rewritten (CRC left as it was)
                m[int(rng.integers(8, 33))] = int(rng.integers(0, 256))
            try:
                out = png.decode(bytes(m))
            except ValueError:
                continue
            assert out is None or out.dtype == np.uint8


def test_kernels_check_every_size_before_touching_memory():
    """Direct calls with sizes that disagree with the buffers: ValueError, never a crash."""
    rng = np.random.default_rng(12)
    for _ in range(300):
        h, rb, bpp = (int(v) for v in rng.integers(-2, 40, 3))
        src = rng.integers(0, 6, int(rng.integers(0, 400)), dtype=np.uint8).tobytes()
        dst = np.zeros(int(rng.integers(0, 400)), np.uint8)
        try:
            _kernels.unfilter(src, dst, h, rb, bpp)
        except ValueError:
            continue
        assert 0 <= h * rb <= dst.size and h * (rb + 1) <= len(src)
    good = {  # a consistent call: 4 pixels, one ground-truth id, no predicted id
        "gt": np.zeros(12, np.uint8),
        "pred": np.zeros(12, np.uint8),
        "gt_ids": np.zeros(1, np.uint32),
        "gt_rank": np.ones(1, np.int64),
        "pred_ids": np.zeros(0, np.uint32),
        "pred_rank": np.zeros(0, np.int64),
        "table": np.zeros(2, np.int64),
    }
    _kernels.pair_counts(*good.values())
    for key, wrong in (
        ("pred", np.zeros(9, np.uint8)),
        ("gt_ids", np.zeros(2, np.uint32)),
        ("table", np.zeros(3, np.int64)),
    ):
        with pytest.raises(ValueError):
            _kernels.pair_counts(*{**good, key: wrong}.values())
    garbage = [bytes(rng.integers(0, 256, int(rng.integers(0, 30)), dtype=np.uint8)) for _ in range(200)]
    areas = np.zeros(len(garbage), np.int64)
    first = _kernels.rle_areas(garbage, 5, 6, areas)
    assert first >= 0 and (areas >= -1).all()
    with pytest.raises(ValueError, match="undecodable RLE"):
        one = np.ones(1, np.int64)
        _kernels.rle_iou([*garbage[:1], b"0"], [b"0"], 5, 6, one, one, np.zeros(1, np.uint8), np.zeros(1))


def test_image_data_split_over_many_idat_chunks():
    """Encoders split IDAT (libpng: 8 kB chunks); the pieces are one zlib stream."""
    pixels = np.random.default_rng(13).integers(0, 256, (30, 20, 3), dtype=np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    stream = zlib.compress(raw)
    ihdr = struct.pack(">IIBBBBB", 20, 30, 8, 2, 0, 0, 0)
    pieces = [_chunk(b"IDAT", stream[i : i + 7]) for i in range(0, len(stream), 7)]
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"tEXt", b"k\x00v") + b"".join(pieces)
    data += _chunk(b"IEND", b"")
    assert len(pieces) > 10 and np.array_equal(png.decode(data), pixels)


def test_a_header_declaring_a_huge_image_is_refused_before_any_allocation():
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00")) + _chunk(b"IEND", b"")
    with pytest.raises(ValueError, match="decompression bomb"):
        png.decode(data)
