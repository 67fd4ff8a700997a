"""Helpers the format modules share: JSON loading with clear errors, COCO records, PNG I/O."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from .. import imageio, limits, masks, png
from ..errors import FormatError, SegtoolError
from ..model import Annotation
from . import jsonguard
from .jsonfile import open_file

Confidence = Literal["no", "weak", "strong"]


@dataclass(frozen=True)
class Detection:
    """How sure a format is that a path is its own, and why."""

    confidence: Confidence
    reason: str


def load_json(path: Path) -> Any:
    """Parse a whole JSON file; errors name the file and the problem (line and column).

    The bytes go through :mod:`~segtool.formats.jsonguard` first (nesting depth, number
    length, repeated top-level keys), as a stream's do, unless that version of the file was
    scanned already. Readers of large COCO files stream them instead
    (:mod:`segtool.formats.jsonstream`).
    """
    f = open_file(path)  # opening errors worded as the streams word them
    try:
        with f:
            version = jsonguard.file_key(f)
            data = f.read()
    except OSError as exc:
        raise SegtoolError(f"cannot read: {exc.strerror}", str(path)) from None
    try:
        encoding = json.detect_encoding(data)
        text: str | bytes = data if encoding == "utf-8" else data.decode(encoding, "surrogatepass")
        if not jsonguard.scanned(version):
            jsonguard.check_bytes(data if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"), path)
            jsonguard.remember(version)
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SegtoolError(f"invalid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", str(path)) from None
    except UnicodeDecodeError:
        raise SegtoolError("invalid JSON (not UTF-8 text)", str(path)) from None
    except (ValueError, RecursionError) as exc:  # the guard refuses these first; a last line of defence
        raise SegtoolError(f"invalid JSON ({type(exc).__name__}: {str(exc).splitlines()[0]})", str(path)) from None


def dump_json(data: Any, path: Path) -> None:
    """Write compact, deterministic JSON (keys in insertion order)."""
    text = json.dumps(data, separators=(",", ":"))  # dumps uses the C encoder; dump does not
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def stream_coco_json(
    path: Path, head: dict[str, Any], key: str, results: Iterable[ImageResult], tail: dict[str, Any]
) -> list[ImageResult]:
    """Write ``{**head, key: [records…], **tail}``, writing each image's records as it arrives.

    Encoding overlaps with the workers and no record is kept, so memory stays flat. Each
    result comes back with its records dropped. The bytes equal one ``json.dumps`` call.
    """
    done: list[ImageResult] = []
    sep = (",", ":")
    with open(path, "w", encoding="utf-8") as f:
        f.write("{")
        for k, v in head.items():
            f.write(json.dumps(k) + ":" + json.dumps(v, separators=sep) + ",")
        f.write(json.dumps(key) + ":[")
        first = True
        for r in results:
            if r.records:
                f.write(("" if first else ",") + ",".join(json.dumps(rec, separators=sep) for rec in r.records))
                first = False
            r.records = []
            done.append(r)
        f.write("]")
        for k, v in tail.items():
            f.write("," + json.dumps(k) + ":" + json.dumps(v, separators=sep))
        f.write("}\n")
    return done


def require_dict(data: Any, path: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """The top-level object of a COCO file, with the keys it must have."""
    if not isinstance(data, dict):
        raise FormatError(f"expected a JSON object at the top level, got a {type(data).__name__}", str(path))
    missing = [k for k in keys if k not in data]
    if missing:
        raise FormatError(f"missing top-level key(s) {', '.join(missing)}", str(path))
    return data


def limit(name: str) -> int:
    """The value of limit ``name`` in force (see :func:`segtool.limits.get`)."""
    return limits.get(name)


def write_utf8(path: Path, text: str, what: str, dst: Path) -> None:
    """A text file a writer names images or labels in (a list, label colours), under the
    temporary copy of ``dst``: a name of non-UTF-8 bytes (a lone surrogate from the file
    system) is refused in one line naming ``dst``."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        near = text[max(0, exc.start - 20) : exc.end + 20]  # repr() shows the odd bytes escaped
        raise SegtoolError(
            f"{path.name}: {what} {near.strip()!r} is not valid UTF-8 (non-UTF-8 bytes)", str(dst)
        ) from None
    path.write_bytes(data)


def read_only(name: str) -> Callable[..., list[Path]]:
    """``targets`` of a format segtool reads but does not write: ``convert --to`` it is
    refused in one line naming DST (the CLI asks every ``--to`` format for its targets)."""

    def targets(dst: Path, masks: Path | None = None) -> list[Path]:
        raise FormatError(f"{name} is read only: segtool reads it but cannot write it", str(dst))

    return targets


INT64 = (-(2**63), 2**63 - 1)
SIDE = (1, 2**31 - 1)  # an image side: what a PNG header (and pycocotools) can hold


def int_field(rec: dict[str, Any], key: str, what: str, path: Path, bounds: tuple[int, int] = INT64) -> int:
    """``rec[key]`` as an int within ``bounds`` (an integral float is accepted); anything
    else (NaN, infinity, 1e308, a boolean, a string) is a one-line error naming ``path``."""
    value = rec.get(key)
    if type(value) is int and bounds[0] <= value <= bounds[1]:  # the common case: once per record and field
        return value
    return _int_value(value, key, what, path, bounds)


def _int_value(value: Any, key: str, what: str, path: Path, bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    if type(value) is float and math.isfinite(value) and value.is_integer():
        value = int(value)
    if type(value) is not int:
        raise SegtoolError(f"{what}: {key!r} must be an integer, got {value!r:.40}", str(path))
    if not lo <= value <= hi:
        raise SegtoolError(f"{what}: {key!r} must be an integer from {lo} to {hi}, got {value!r:.40}", str(path))
    return value


def image_id(rec: dict[str, Any], key: str, what: str, path: Path) -> int | str:
    """``rec[key]`` as an image id: a string kept as written (``"2299"`` and ``2299`` are
    different ids), or a 64-bit integer as :func:`int_field` takes it; anything else (a
    boolean, a list, null) is a one-line error naming ``path``."""
    value = rec.get(key)
    if type(value) is str or (type(value) is int and INT64[0] <= value <= INT64[1]):
        return value
    if type(value) is not float and type(value) is not int:
        raise SegtoolError(f"{what}: {key!r} must be an integer or a string, got {value!r:.40}", str(path))
    return _int_value(value, key, what, path, INT64)


def file_name(value: Any, what: str, path: Path) -> str:
    """A file name from JSON, refused when no file can have it: a NUL character, or a lone
    surrogate (JSON's ``"\\ud800"``), which no file system name encodes."""
    name = value if type(value) is str else str(value)
    if "\0" in name:
        raise SegtoolError(f"{what}: file name {name!r:.60} holds a NUL character", str(path))
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise SegtoolError(
            f"{what}: file name {name!r:.60} is not valid Unicode (a lone surrogate)", str(path)
        ) from None
    return name


def compressed_rle(segm: Any, height: int, width: int) -> dict[str, Any]:
    """``masks.to_compressed`` of one mask of an image whose size ``masks.check_size``
    accepted already: a compressed RLE of that size is taken as it is (tens of thousands
    per results file: the size is checked once per image, not once per mask)."""
    if type(segm) is dict and type(segm.get("counts")) is str and segm.get("size") == [height, width]:
        return {"size": [height, width], "counts": segm["counts"]}
    return masks.to_compressed(segm, height, width)


def open_png(path: Path, what: str) -> Image.Image:
    """Open and fully decode an image, turning I/O errors into one-line SegtoolErrors."""
    try:
        img = imageio.load_image(path)
    except FileNotFoundError:
        raise SegtoolError(f"missing PNG for {what}", str(path)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SegtoolError(f"unreadable PNG for {what} ({exc})", str(path)) from None
    return img


def check_size(img: Image.Image, height: int, width: int, path: Path, what: str) -> None:
    """The PNG must have the size its image record declares."""
    if img.size != (width, height):
        raise SegtoolError(f"PNG is {img.size[0]}x{img.size[1]} but {what} is {width}x{height}", str(path))


def save_png(array: npt.NDArray[Any], path: Path, palette: list[int] | None = None) -> None:
    """Encode a PNG deterministically (same array, same bytes) with segtool's fast encoder."""
    png.save(array, path, palette)


@dataclass
class ImageResult:
    """What writing one image produced: its JSON records and what was dropped or changed."""

    records: list[dict[str, Any]] = field(default_factory=list)
    segments: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)


def noted(result: ImageResult, ann: Annotation) -> ImageResult:
    """``result`` with what the reader of ``ann`` dropped or decided added to it, so that a
    conversion's summary names what was lost on the way in as well as on the way out."""
    result.dropped.update(ann.dropped or {})
    result.changed.update(ann.changed or {})
    return result


def png_size(path: str, what: str = "label map") -> tuple[int, int]:
    """(width, height) from a PNG's header (33 bytes; a regular file only, so a FIFO never
    blocks), the pixel limit checked; SegtoolError naming the file otherwise."""
    try:
        width, height, _ = png.header(imageio.read_bytes(path)[:33])
    except OSError as exc:
        raise SegtoolError(f"unreadable PNG ({exc.strerror or exc})", path) from None
    except ValueError as exc:
        raise SegtoolError(f"unreadable PNG ({exc})", path) from None
    if width * height > limits.get("pixels"):
        limits.check("pixels", width * height, f"{what} of {width}x{height}", path)
    return width, height
