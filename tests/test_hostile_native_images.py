"""Issue 17, image bytes: the PNG decoder against the specification and Pillow; image
files that are not files (FIFO, /dev/zero, a folder); headers that declare 20000x20000
pixels, held to segtool's pixels limit with nothing printed. Expected values from Pillow.
"""

from __future__ import annotations

import io
import os
import struct
import time
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from segtool import imageio, limits, png
from segtool.errors import SegtoolError

# --- PNG decoder: the specification, and Pillow's opinion -------------------------------------


def _chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def _ihdr(w=4, h=3, depth=8, color=2, comp=0, filt=0, interlace=0) -> bytes:
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, comp, filt, interlace))


def _idat(w=4, h=3, channels=3) -> bytes:
    return _chunk(b"IDAT", zlib.compress(b"".join(b"\0" + bytes(range(w * channels)) for _ in range(h))))


SIG, END = b"\x89PNG\r\n\x1a\n", _chunk(b"IEND", b"")
PNG_CASES = {  # name: (bytes, Pillow refuses it too)
    "filter-method-1": (SIG + _ihdr(filt=1) + _idat() + END, True),
    "interlace-method-2": (SIG + _ihdr(interlace=2) + _idat() + END, True),
    "second-ihdr-before-idat": (SIG + _ihdr() + _ihdr(w=2) + _idat() + END, True),
    "idat-before-ihdr": (SIG + _idat() + _ihdr() + END, True),
    "rgb-4-bit": (SIG + _ihdr(depth=4) + _idat() + END, True),
    "gray-3-bit": (SIG + _ihdr(depth=3, color=0) + _idat(channels=1) + END, True),
    "color-type-5": (SIG + _ihdr(color=5) + _idat() + END, True),
    "palette-16-bit": (SIG + _ihdr(depth=16, color=3) + _idat(channels=2) + END, True),
    "width-0": (SIG + _ihdr(w=0) + _idat() + END, True),
    "width-2^31": (SIG + _ihdr(w=2**31) + _idat() + END, True),
    # the specification forbids these; Pillow reads them, segtool (as libpng) does not
    "compression-method-1": (SIG + _ihdr(comp=1) + _idat() + END, False),
    "second-ihdr-after-idat": (SIG + _ihdr() + _idat() + _ihdr(w=2) + END, False),
    "chunk-before-ihdr": (SIG + _chunk(b"tEXt", b"a\0b") + _ihdr() + _idat() + END, False),
}


def _pillow_reads(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                img.load()
        return True
    except Exception:
        return False


@pytest.mark.parametrize("name", list(PNG_CASES))
def test_png_decoder_refuses_what_the_specification_forbids(name):
    data, pillow_refuses = PNG_CASES[name]
    assert _pillow_reads(data) != pillow_refuses
    with pytest.raises(ValueError):
        png.decode(data)
    with pytest.raises(ValueError):
        png.decode_rgb(data)


def test_the_valid_file_of_those_cases_decodes_as_pillow_reads_it():
    data = SIG + _ihdr() + _idat() + END
    assert np.array_equal(png.decode(data), np.asarray(Image.open(io.BytesIO(data))))


def test_png_pixels_limit_is_the_limit_in_force():
    data = SIG + _ihdr() + _idat() + END  # 12 pixels
    with limits.raised(pixels=11), pytest.raises(png.TooLarge, match="12 pixels, over the limit of 11"):
        png.decode(data)
    with limits.raised(pixels=12):
        assert png.decode(data).shape == (3, 4, 3)
    assert issubclass(png.TooLarge, ValueError) and issubclass(png.TooLarge, limits.LimitError)


# --- image files: not files; headers that declare 20000x20000 --------------------------------


def _jpeg_header(w: int, h: int) -> bytes:
    sof = struct.pack(">BHHB", 8, h, w, 3) + b"".join(bytes([i, 0x11, 0]) for i in (1, 2, 3))
    sos = b"\x03" + b"".join(bytes([i, 0]) for i in (1, 2, 3)) + b"\x00\x3f\x00"
    return b"\xff\xd8\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xda" + struct.pack(">H", 8) + sos


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_read_and_open_refuse_what_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo.png")
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    for name, kind in (("fifo.png", "FIFO"), ("dir.png", "folder"), ("zero.png", "device"), ("/dev/null", "device")):
        path = tmp_path / name
        t = time.perf_counter()
        for call in (imageio.read_bytes, imageio.load_image):
            with pytest.raises(imageio.NotAFileError, match=kind):
                call(path)
        with pytest.raises(imageio.NotAFileError, match=kind), imageio.open_image(path):
            pass
        assert time.perf_counter() - t < 10  # a FIFO read would block for ever
    with pytest.raises(FileNotFoundError):
        imageio.read_bytes(tmp_path / "missing.png")
    assert issubclass(imageio.NotAFileError, SegtoolError)


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_pillow_is_held_to_segtools_pixels_limit_without_a_warning(tmp_path, fmt):
    """Pillow alone: a warning on stderr above 89 MP, its own error above 179 MP. Through
    imageio: segtool's limit, from the header, and nothing printed."""

    def header(w, h):
        if fmt == "jpeg":
            return _jpeg_header(w, h)
        return SIG + _ihdr(w, h) + END

    (tmp_path / "bomb").write_bytes(header(20000, 20000))
    (tmp_path / "ninety").write_bytes(header(10000, 9000))  # 90 MP: under the limit, Pillow warns
    saved = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(limits.LimitError, match="20000x20000"), imageio.open_image(tmp_path / "bomb"):
            pass
        with imageio.open_image(tmp_path / "ninety") as img:
            assert img.size == (10000, 9000)
        with limits.raised(pixels=400_000_000), imageio.open_image(tmp_path / "bomb") as img:
            assert img.size == (20000, 20000)  # Pillow's own error would have stopped it
        with pytest.raises(limits.LimitError), imageio.open_bytes(header(20000, 20000), "x"):
            pass
    assert [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)] == []
    assert Image.MAX_IMAGE_PIXELS == saved  # restored


def test_png_fallback_to_pillow_prints_no_bomb_warning():
    """A 16-bit PNG (Pillow decodes it) declaring 90 MP: segtool's limit allows it, so no
    warning; its data is truncated, so a ValueError (no 180 MB decode: nothing to decode)."""
    data = SIG + _ihdr(10000, 9000, depth=16, color=0) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + END
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ValueError):
            png.decode_rgb(data)
    assert [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)] == []


def test_whatever_pillow_raises_on_a_corrupt_header_is_an_oserror(tmp_path):
    """Pillow raises ValueError on a truncated gAMA chunk (and SyntaxError, struct.error...
    elsewhere): callers catch OSError for an unreadable file, so that is what they get."""
    data = SIG + _ihdr() + _chunk(b"gAMA", b"") + _idat() + END
    with pytest.raises(ValueError, match="gAMA"):
        Image.open(io.BytesIO(data))
    (tmp_path / "g.png").write_bytes(data)
    with pytest.raises(imageio.UnreadableImageError, match="gAMA"), imageio.open_image(tmp_path / "g.png"):
        pass
    with pytest.raises(OSError, match="gAMA"):
        imageio.load_image(tmp_path / "g.png")
