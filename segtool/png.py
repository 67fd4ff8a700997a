"""A minimal, fast, deterministic PNG encoder for label and id maps.

Pillow's encoder tries every row filter and costs 3× more than decoding; segment maps need
no filter at all. This writes filter 0 and one zlib stream: ``Z_RLE`` for single-channel
maps (long runs of one byte) and the default strategy at level 1 for RGB (runs repeat at a
distance of 3 bytes, which ``Z_RLE`` cannot see). Output is standard PNG, read by any
decoder; tests decode it with Pillow.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

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
