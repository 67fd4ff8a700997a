"""Reading image files (PNG maps, photos) safely: regular files only, and Pillow held to
segtool's ``pixels`` limit.

A dataset names its files, and a name can point anywhere: at a FIFO (reading it waits for a
writer forever), at ``/dev/zero`` (endless bytes), at a folder. Every image file is opened
here, without blocking, and refused unless it is a regular file. And a 60-byte PNG or JPEG
header can declare 20000x20000 pixels: Pillow warns on stderr above 89 MP and raises its own
``DecompressionBombError`` above 179 MP, whatever segtool's limit says. Here Pillow's check
is off and segtool's ``pixels`` limit (:mod:`segtool.limits`) decides, from the header,
before a pixel is decoded: one line, exit 2, nothing on stderr.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from PIL import Image

from . import limits
from .errors import SegtoolError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotAFileError(SegtoolError):
    """An image path names something other than a regular file."""


class UnreadableImageError(OSError):
    """Pillow cannot read the file. Pillow raises ``ValueError``, ``SyntaxError``,
    ``struct.error``, ``EOFError``... on corrupt headers; they become this ``OSError``, which
    every caller already treats as an unreadable file."""


def _open(path: str | os.PathLike[str]) -> IO[bytes]:
    """``path`` open for reading if it is a regular file. Opened without blocking (a FIFO
    with no writer opens at once), then checked on the open descriptor, so what is read is
    what was checked. Raises ``FileNotFoundError`` and other ``OSError`` as ``open`` does."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise NotAFileError(f"{kind}, not an image file", os.fspath(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of an image file (``Path.read_bytes``, regular files only)."""
    with _open(path) as f:
        return f.read()


@contextmanager
def _pillow_unchecked() -> Iterator[None]:
    """Pillow's own decompression-bomb check off (no warning, no error of its own): the
    caller checks segtool's limit from the header instead. Pillow's warnings about corrupt
    files ("Invalid APNG", "Truncated File Read", ...) are not printed either: a file is
    read or refused with an error, in one line."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _pillow_open(f: IO[bytes]) -> Image.Image:
    """``Image.open(f)``, any exception of Pillow's as :class:`UnreadableImageError`."""
    try:
        return Image.open(f)
    except OSError:
        raise
    except Exception as exc:
        raise UnreadableImageError(str(exc) or type(exc).__name__) from None


def _check_pixels(img: Image.Image, path: object) -> None:
    w, h = img.size
    limits.check("pixels", w * h, f"a {w}x{h} image", path)


@contextmanager
def open_image(path: str | os.PathLike[str]) -> Iterator[Image.Image]:
    """``with open_image(path) as img``: Pillow's ``Image.open`` (the header only; pixels are
    decoded when the block asks for them) of a regular file whose declared size is within
    the ``pixels`` limit (else :class:`~segtool.limits.LimitError`, naming the file).

    A file Pillow cannot read raises ``OSError`` (:class:`UnreadableImageError` for what
    Pillow itself raises as something else).
    """
    with _open(path) as f, _pillow_unchecked(), _pillow_open(f) as img:
        _check_pixels(img, os.fspath(path))
        yield img


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """:func:`open_image`, fully decoded, its file closed: the image outlives the call."""
    with _open(path) as f, _pillow_unchecked():
        img = _pillow_open(f)
        _check_pixels(img, os.fspath(path))
        try:
            img.load()
        except OSError:
            raise
        except Exception as exc:
            raise UnreadableImageError(str(exc) or type(exc).__name__) from None
    return img


@contextmanager
def open_bytes(data: bytes, path: object = None) -> Iterator[Image.Image]:
    """:func:`open_image` of an image already in memory (``path`` names it in errors)."""
    with _pillow_unchecked(), _pillow_open(io.BytesIO(data)) as img:
        _check_pixels(img, path)
        yield img
