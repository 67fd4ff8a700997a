"""Fast PNG I/O for segment maps: a minimal deterministic encoder, and a decoder.

Pillow's encoder tries every row filter and costs 3× more than decoding; segment maps need
no filter at all. This writes filter 0 and one zlib stream: ``Z_RLE`` for single-channel
maps (long runs of one byte) and the default strategy at level 1 for RGB (runs repeat at a
distance of 3 bytes, which ``Z_RLE`` cannot see). Output is standard PNG, read by any
decoder; tests decode it with Pillow.

Decoding is most of PQ's time, so segtool decodes 8-bit non-interlaced PNGs itself:
libdeflate inflates (14× faster than zlib on these files) and ``segtool._kernels`` undoes
the row filters; ~5× faster than libspng on panoptic PNGs. Other PNGs go to Pillow.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from . import limits
from .limits import LimitError

if TYPE_CHECKING:
    # numpy's stubs make an ndarray a Buffer only for Python >= 3.12: the casts to it below
    # say what the kernels get (a C-contiguous array of the element type they check).
    from typing_extensions import Buffer

    from .policy import Policy

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def encode(array: npt.NDArray[Any], palette: list[int] | None = None) -> bytes:
    """PNG bytes of an ``(H, W)`` uint8/uint16 or ``(H, W, 3)`` uint8 array.

    ``palette`` (flat RGB list, up to 256 entries) makes a uint8 map a palette image.
    """
    h, w = array.shape[:2]
    if array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8:
        color, depth, rows, strategy = 2, 8, array.reshape(h, w * 3), zlib.Z_DEFAULT_STRATEGY
    elif array.ndim == 2 and array.dtype == np.uint8:
        color, depth, rows, strategy = (3 if palette is not None else 0), 8, array, zlib.Z_RLE
    elif array.ndim == 2 and array.dtype == np.uint16:
        color, depth, rows, strategy = (
            0,
            16,
            np.ascontiguousarray(array, dtype=">u2").view(np.uint8).reshape(h, w * 2),
            zlib.Z_DEFAULT_STRATEGY,
        )
    else:
        raise ValueError(f"cannot encode an array of shape {array.shape} and dtype {array.dtype}")
    raw = np.zeros((h, rows.shape[1] + 1), dtype=np.uint8)  # first byte of each row: filter 0
    raw[:, 1:] = rows
    comp = zlib.compressobj(1, zlib.DEFLATED, 15, 9, strategy)
    data = comp.compress(raw.tobytes()) + comp.flush()
    parts = [_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0))]
    if color == 3:
        parts.append(_chunk(b"PLTE", bytes(palette or [])))
    parts += [_chunk(b"IDAT", data), _chunk(b"IEND", b"")]
    return b"".join(parts)


def save(array: npt.NDArray[Any], path: Path | str, palette: list[int] | None = None) -> None:
    """Write :func:`encode` output to ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(encode(array, palette))


_MODES = {
    (0, 1): "1",
    (0, 8): "L",
    (0, 16): "I;16",
    (2, 8): "RGB",
    (2, 16): "RGB;16",
    (3, 8): "P",
    (4, 8): "LA",
    (6, 8): "RGBA",
}


def header(data: bytes) -> tuple[int, int, str]:
    """Width, height and a Pillow-style mode name from a PNG's IHDR, without decoding.

    Raises ``ValueError`` when ``data`` is not a PNG.
    """
    if data[:8] != _SIGNATURE or data[12:16] != b"IHDR" or len(data) < 29:
        raise ValueError("not a PNG file")
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    return width, height, _MODES.get((color, depth), f"color type {color}, {depth}-bit")


class _Parsed(NamedTuple):
    width: int
    height: int
    depth: int
    color: int
    interlaced: bool
    data: bytes  # the concatenated IDAT payload (zlib stream)


_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}  # the spec's table


class TooLarge(LimitError, ValueError):
    """A PNG header declares more pixels than the ``pixels`` limit allows. A ``ValueError``
    too, so callers that name the file for a bad PNG name it for this one."""


def _header_fields(body: bytes) -> tuple[int, ...]:
    """IHDR's fields, refused as the PNG specification (and libpng) refuses them: a size of
    0 or beyond 2^31 - 1, a bit depth the color type does not have, a compression or filter
    method other than 0, an interlace method other than 0 or 1. Then the ``pixels`` limit,
    before anything is allocated."""
    if len(body) != 13:
        raise ValueError("bad IHDR chunk")
    width, height, depth, color, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
    if not (0 < width < 2**31 and 0 < height < 2**31):
        raise ValueError(f"PNG of {width}x{height} pixels: each side must be 1 to 2^31 - 1")
    if depth not in _DEPTHS.get(color, ()):
        raise ValueError(f"PNG of color type {color} and bit depth {depth}: no such PNG")
    for name, value, most in (("compression", compression, 0), ("filter", filtering, 0), ("interlace", interlace, 1)):
        if value > most:
            raise ValueError(f"unknown {name} method {value}")
    try:
        limits.check("pixels", width * height, f"PNG of {width}x{height} (a decompression bomb?)")
    except LimitError as exc:
        raise TooLarge(exc.message) from None
    return width, height, depth, color, interlace


def _parse(data: bytes) -> _Parsed:
    """Walk the chunks, checking each CRC (as libpng does); concatenate the IDAT payloads.

    IHDR must come first and only once: a second one (which some readers would take, and
    others not) would make the header that callers check disagree with the pixels decoded.
    """
    if data[:8] != _SIGNATURE:
        raise ValueError("not a PNG file")
    pos, end = 8, len(data)
    ihdr: tuple[int, ...] | None = None
    idat: list[bytes] = []
    while True:
        if pos + 12 > end:
            raise ValueError("truncated PNG (no IEND chunk)")
        (length,) = struct.unpack_from(">I", data, pos)
        tag = data[pos + 4 : pos + 8]
        if pos + 12 + length > end:
            raise ValueError(f"truncated PNG ({tag.decode('latin-1')} chunk)")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        if zlib.crc32(body, zlib.crc32(tag)) != crc:
            raise ValueError(f"CRC error in the {tag.decode('latin-1')} chunk")
        if (tag == b"IHDR") != (ihdr is None):
            raise ValueError("a second IHDR chunk" if ihdr is not None else "the first chunk is not IHDR")
        if tag == b"IHDR":
            ihdr = _header_fields(body)
        elif tag == b"IDAT":
            idat.append(body)
        elif tag == b"IEND":
            break
        pos += 12 + length
    if ihdr is None or not idat:
        raise ValueError("PNG without IHDR or IDAT")
    width, height, depth, color, interlace = ihdr
    return _Parsed(width, height, depth, color, interlace == 1, b"".join(idat))


def decode(data: bytes) -> npt.NDArray[np.uint8] | None:
    """An 8-bit non-interlaced PNG → ``(H, W)`` or ``(H, W, C)`` uint8 samples, as stored
    (palette images give their indices). ``None`` for other bit depths and interlaced
    files, which callers hand to Pillow.

    libdeflate inflates and ``segtool._kernels`` undoes the row filters: ~5× faster than
    libspng on panoptic PNGs. Raises ``ValueError`` on a corrupt or truncated PNG, one the
    specification forbids, or (:class:`TooLarge`) one declaring more pixels than the
    ``pixels`` limit allows.
    """
    import deflate

    from . import kernels as _kernels

    info = _parse(data)
    if info.depth != 8 or info.interlaced:
        return None
    channels = _CHANNELS[info.color]
    rowbytes = info.width * channels
    try:
        raw = deflate.zlib_decompress(info.data, info.height * (rowbytes + 1))
    except deflate.DeflateError as exc:
        raise ValueError(f"corrupt image data ({exc})") from None
    out = np.empty((info.height, rowbytes), np.uint8)
    _kernels.unfilter(raw, cast("Buffer", out), info.height, rowbytes, channels)
    return out.reshape(info.height, info.width) if channels == 1 else out.reshape(info.height, info.width, channels)


def decode_rgb(data: bytes) -> npt.NDArray[np.uint8]:
    """An 8-bit RGB PNG → ``(H, W, 3)`` uint8; other PNGs are converted to RGB by Pillow.

    Raises ``ValueError`` on a corrupt or truncated PNG (see :func:`decode`).
    """
    from .imageio import open_bytes

    try:
        pixels = decode(data)  # checks the header (and the pixels limit) for Pillow too
        if pixels is not None and pixels.ndim == 3 and pixels.shape[2] == 3:
            return pixels
        with open_bytes(data) as img:
            return np.asarray(img.convert("RGB"))
    except ValueError:
        raise
    except Exception as exc:  # Pillow raises assorted types on corrupt input
        raise ValueError(str(exc) or type(exc).__name__) from None


def rgb_to_u32(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint32]:
    """``(H, W, 3)`` uint8 → ``(H, W)`` uint32 = R + 256·G + 65536·B, in one compiled pass."""
    from . import kernels as _kernels

    out = np.empty(rgb.shape[:2], np.uint32)
    _kernels.pack_rgb(cast("Buffer", np.ascontiguousarray(rgb)), cast("Buffer", out))
    return out


def decode_rgb_as_u32(data: bytes) -> npt.NDArray[np.uint32]:
    """An RGB PNG → ``(H, W)`` uint32 = R + 256·G + 65536·B (COCO panoptic ids).

    Raises ``ValueError`` on a corrupt or truncated PNG.
    """
    return rgb_to_u32(decode_rgb(data))


def read_rgb(
    path: str, width: int, height: int, what: str, report: Policy, image_id: Any = None
) -> npt.NDArray[np.uint8] | None:
    """The ``(H, W, 3)`` RGB pixels of the panoptic PNG at ``path``, or None after ``report``
    was told why not (and returned): missing, unreadable, not ``width`` x ``height``, not RGB.

    The one sequence (read the bytes, check the header, decode) behind the reader, validate's
    checks and ``--fix``, each with its error policy (:mod:`segtool.policy`). ``what`` names
    the image in messages ("image 42").
    """
    from .imageio import read_bytes

    try:
        data = read_bytes(path)
        found = header(data)
    except FileNotFoundError:
        report("png-missing", f"missing PNG for {what}", path, image_id)
        return None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        report("png-unreadable", f"unreadable PNG for {what} ({why})", path, image_id)
        return None
    if found[:2] != (width, height):
        report("png-size", f"PNG is {found[0]}x{found[1]} but {what} is {width}x{height}", path, image_id)
        return None
    if found[2] != "RGB":
        report("png-mode", f"{what}: expected an RGB PNG, got mode {found[2]}", path, image_id)
        return None
    try:
        return decode_rgb(data)
    except ValueError as exc:
        report("png-unreadable", f"unreadable PNG for {what} ({exc})", path, image_id)
        return None
