"""Target ``png``: segtool.png's header / decode / decode_rgb / decode_rgb_as_u32 on any bytes.

Checks: each returns or raises ValueError (SegtoolError allowed too); where segtool's
decoder and Pillow both decode an 8-bit PNG, they give the same samples.

Inputs: the first byte picks how the PNG is made from a seed (:func:`fuzz.seeds.pngs`):
0 chunks edited with CRCs recomputed (IHDR fields set to edge values, chunks dropped,
repeated, reordered, split, bodies mutated), so the decoder gets past its CRC check;
1 the inflated scanlines edited (filter bytes, lengths) and deflated again; 2 bytes
mutated with CRCs left stale; 3 the rest of the input is the file.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np

from segtool import png

from .contract import call
from .provider import Provider, mutate_bytes
from .seeds import PNG_SIGNATURE, chunk, pngs

DIMS = (0, 1, 2, 3, 5, 7, 8, 16, 255, 256, 4096, 65535, 65536, 2**24, 2**31 - 1, 2**31, 2**32 - 1)
DEPTHS = (8, 0, 1, 2, 4, 16, 3, 7, 32, 255)
COLORS = (0, 2, 3, 4, 6, 1, 5, 7, 255)
FLAGS = (0, 1, 2, 255)
TAGS = (b"IDAT", b"IEND", b"IHDR", b"PLTE", b"tRNS", b"gAMA", b"acTL", b"zzzz", b"\x00\x00\x00\x00")


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(tag, body) of a well-formed PNG's chunks."""
    out, pos = [], 8
    while pos + 12 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return out


def build(parts: list[tuple[bytes, bytes]]) -> bytes:
    return PNG_SIGNATURE + b"".join(chunk(t, b) for t, b in parts)


def _edit_ihdr(p: Provider, body: bytes) -> bytes:
    w, h, depth, color, comp, filt, inter = struct.unpack(">IIBBBBB", body.ljust(13, b"\0")[:13])
    field = p.below(7)
    if field == 0:
        w = p.choice(DIMS) & 0xFFFFFFFF
    elif field == 1:
        h = p.choice(DIMS) & 0xFFFFFFFF
    elif field == 2:
        depth = p.choice(DEPTHS)
    elif field == 3:
        color = p.choice(COLORS)
    elif field == 4:
        comp = p.choice(FLAGS)
    elif field == 5:
        filt = p.choice(FLAGS)
    else:
        inter = p.choice(FLAGS)
    return struct.pack(">IIBBBBB", w, h, depth, color, comp, filt, inter)


def chunk_edits(p: Provider, seed: bytes) -> bytes:
    """Mode 0: edits of the chunk list, every CRC recomputed."""
    parts = chunks(seed)
    for _ in range(p.below(6)):
        i = p.below(len(parts)) if parts else 0
        kind = p.below(8)
        if not parts or kind == 7:
            parts.insert(i, (p.choice(TAGS), p.take(p.small(16))))
        elif (kind == 0 and parts[i][0] == b"IHDR") or kind == 1:
            j = next((k for k, (t, _) in enumerate(parts) if t == b"IHDR"), i)
            parts[j] = (parts[j][0], _edit_ihdr(p, parts[j][1]))
        elif kind == 0:
            parts[i] = (parts[i][0], mutate_bytes(p, parts[i][1]))
        elif kind == 2:
            del parts[i]
        elif kind == 3:
            parts.insert(i, parts[i])
        elif kind == 4:
            j = p.below(len(parts))
            parts[i], parts[j] = parts[j], parts[i]
        elif kind == 5:  # split a body in two chunks of the same tag
            tag, body = parts[i]
            cut = p.below(len(body) + 1)
            parts[i : i + 1] = [(tag, body[:cut]), (tag, body[cut:])]
        else:
            parts[i] = (p.choice(TAGS), parts[i][1])
    return build(parts)


def scanline_edits(p: Provider, seed: bytes) -> bytes:
    """Mode 1: the inflated image data edited (filter bytes, length), deflated again; the
    IHDR may change too, so rows and data disagree."""
    parts = chunks(seed)
    raw = zlib.decompress(b"".join(b for t, b in parts if t == b"IDAT"))
    raw = mutate_bytes(p, raw)
    if p.flag():
        ihdr = next(k for k, (t, _) in enumerate(parts) if t == b"IHDR")
        parts[ihdr] = (b"IHDR", _edit_ihdr(p, parts[ihdr][1]))
    level = p.below(10)
    parts = [(t, b) for t, b in parts if t != b"IDAT"]
    parts.insert(len(parts) - 1, (b"IDAT", zlib.compress(raw, level)))
    return build(parts)


def make_input(data: bytes, seeds: tuple[bytes, ...] | None = None) -> bytes:
    """The PNG bytes a fuzz input stands for (see the module docstring); ``seeds`` replaces
    the seed PNGs (the json target mutates a dataset's own PNGs)."""
    p = Provider(data)
    mode = p.below(4)
    if mode == 3:
        return p.rest()
    seed = p.choice(seeds or pngs())
    if mode == 0:
        return chunk_edits(p, seed)
    if mode == 1:
        return scanline_edits(p, seed)
    return mutate_bytes(p, seed)


def describe(data: bytes) -> str:
    return f"PNG file {make_input(data)!r}"


def _pillow_samples(blob: bytes) -> np.ndarray | None:
    """Pillow's decoding of an 8-bit PNG (palette indices for P), or None where it refuses."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(blob))
            if img.format != "PNG" or img.mode not in ("L", "P", "RGB", "RGBA", "LA"):
                return None
            img.load()
            return np.asarray(img)
    except Exception:  # Pillow raises many types on corrupt files; it is the reference only
        return None


def target(data: bytes) -> None:
    blob = make_input(data)
    call(png.header, blob)
    pixels = call(png.decode, blob)
    rgb = call(png.decode_rgb, blob)
    call(png.decode_rgb_as_u32, blob)
    if pixels is not None:
        ref = _pillow_samples(blob)
        if ref is not None and ref.shape == pixels.shape:
            assert np.array_equal(ref, pixels), "segtool's decoder and Pillow disagree on the samples"
    if rgb is not None:
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, f"decode_rgb gave {rgb.shape} {rgb.dtype}"


def corpus() -> list[bytes]:
    """Atheris seeds: each seed PNG as it is (mode 3), and through modes 0-2 unedited."""
    out = [b"\x03" + s for s in pngs()]
    out += [bytes([mode, i]) for mode in range(3) for i in range(len(pngs()))]
    return out
