"""The rules of a folder of binary mask PNGs, written once for the reader and ``validate``.

How a file name splits into image, class, crowd marker and object number (:func:`parse_name`),
which files a folder holds and how they group per image without a pixel decoded
(:func:`find`), the class table (:func:`classes`) and how one mask PNG is decoded: by its
colours, never its palette indices (:func:`read_mask`). Each problem goes to the caller's
error policy (:mod:`segtool.policy`): the reader stops at the first, validate collects them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import imageio, limits, png
from ..errors import SegtoolError
from ..model import Category
from ..policy import Policy, place
from .coco_records import parse_categories
from .common import load_json
from .labelme_rules import read_label_names
from .tree_rules import has_png, subfolders

CROWD = "crowd"  # the field before the object number that marks a crowd region
META = "masks.json"  # segtool's own record of image and category records (written beside the masks)
PHOTOS = "images"  # the optional sibling folder of photos
DEFAULT_CLASS = "object"  # the class of a name without one (``100_1.png``) when nothing says otherwise
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*")


@dataclass(frozen=True, slots=True)
class MaskName:
    """What a mask's file name says: its image's stem, its class token (None: the name has
    none), whether it is a crowd region, and its object number."""

    image: str
    cls: str | None
    crowd: bool
    n: int


def parse_name(stem: str, image: str | None = None) -> MaskName | None:
    """Split a mask file's stem; None when it follows no pattern.

    Layout 1 (``image`` None): ``<image>_<class>_<n>``, or ``<image>_<class>_crowd_<n>``;
    fields split on ``_`` from the right, so the image stem keeps its own underscores. A
    name with a single field before ``<n>`` (after the crowd marker), ``100_1`` or
    ``100_crowd_1`` as pycococreator's example names them, has no class. Layout 2 (the
    image named by its folder): ``<class>_<n>``, ``<class>_crowd_<n>``, ``<n>``,
    ``crowd_<n>``; the class may hold underscores there.
    """
    fields = stem.split("_")
    last = fields.pop()
    if not (last.isascii() and last.isdigit()) or len(last) > 9:
        return None
    crowd = bool(fields) and fields[-1] == CROWD
    if crowd:
        fields.pop()
    if image is not None:
        cls = "_".join(fields) or None
        return None if cls is not None and not all(fields) else MaskName(image, cls, crowd, int(last))
    if not fields or not fields[-1]:
        return None
    if len(fields) == 1:
        return MaskName(fields[0], None, crowd, int(last))
    cls = fields.pop()
    return MaskName("_".join(fields), cls, crowd, int(last)) if "_".join(fields) else None


def token(category: Category) -> str:
    """The class field segtool writes for ``category``: its name when that is a safe file
    name field (letters, digits, ``.``, ``+``, ``-``; not all digits; not ``crowd``), else its
    id. The reader maps fields to categories through the same function."""
    name = category.name
    if _SAFE.fullmatch(name) and not name.isdigit() and name.lower() != CROWD:
        return name
    return str(category.id)


@dataclass
class Entry:
    """One image of the folder: its stem and its masks (path, name), by object number."""

    stem: str
    masks: list[tuple[str, MaskName]] = field(default_factory=list)


def _pngs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and not p.is_dir())


def layout(root: Path) -> int:
    """1: mask PNGs in the folder itself; 2: one sub-folder of masks per image; 0: neither."""
    if has_png(root):
        return 1
    if any(has_png(p) for p in subfolders(root)):
        return 2
    return 0


def find(root: Path, report: Policy) -> list[Entry]:
    """Every image of the folder with its masks, sorted by image stem, each image's masks by
    (object number, file name); names are parsed, no file is opened. A name that follows
    no pattern is reported (``masks-bad-name``) and left out."""
    entries: dict[str, Entry] = {}
    found: list[tuple[Path, str | None]]
    if layout(root) == 2:
        found = [(p, d.name) for d in sorted(root.iterdir()) if d.is_dir() for p in _pngs(d)]
    else:
        found = [(p, None) for p in _pngs(root)]
    for p, image in found:
        name = parse_name(p.stem, image)
        if name is None:
            form = "<class>_<n>.png" if image is not None else "<image>_<class>_<n>.png"
            report("masks-bad-name", f"{p.name!r:.80} does not follow the pattern {form}", str(p))
            continue
        entries.setdefault(name.image, Entry(name.image)).masks.append((str(p), name))
    for entry in entries.values():
        entry.masks.sort(key=lambda m: (m[1].n, Path(m[0]).name))
    return [entries[k] for k in sorted(entries)]


def read_categories(path: Path) -> tuple[Category, ...]:
    """A categories file: COCO ``categories`` records (a JSON list, or an object with a
    ``categories`` list), or a labels file (one name a line, ids 1..n)."""
    if path.suffix.lower() == ".json":
        data = load_json(path)
        records = data.get("categories") if isinstance(data, dict) else data
        return parse_categories(records, path, default_isthing=True)
    return tuple(Category(i, n) for i, n in enumerate(read_label_names(path), start=1))


def read_meta(root: Path, report: Policy) -> tuple[tuple[Category, ...] | None, list[Any]]:
    """segtool's ``masks.json`` (its categories, and its image records), when present; its
    category records' problems go to ``report`` (``malformed-record``, ...)."""
    path = root / META
    if not path.is_file():
        return None, []
    data = load_json(path)
    if not isinstance(data, dict) or not all(isinstance(data.get(k, []), list) for k in ("images", "categories")):
        raise SegtoolError("expected an object with 'images' and 'categories' lists", str(path))
    cats = parse_categories(data.get("categories", []), path, default_isthing=True, report=report)
    return cats, list(data.get("images", []))


@dataclass(frozen=True)
class Classes:
    """The class table: class field → category, and the category of a name with no class
    field (None: such a name is refused)."""

    categories: tuple[Category, ...]
    by_token: dict[str, int]
    default: int | None
    given: bool  # the table came from a file (an unknown field is then an error)


def classes(entries: list[Entry], given: tuple[Category, ...] | None) -> Classes:
    """From ``given`` (a categories file or ``masks.json``): fields map through :func:`token`,
    a name without class is of the one category when there is one. Else from the names:
    ids 1..n in sorted order of the class fields, plus ``object`` for names without one."""
    if given is not None:
        by_token = {token(c): c.id for c in given}
        return Classes(given, by_token, given[0].id if len(given) == 1 else None, True)
    found = {m.cls or DEFAULT_CLASS for e in entries for _, m in e.masks}
    cats = tuple(Category(i, n) for i, n in enumerate(sorted(found), start=1))
    by_token = {c.name: c.id for c in cats}
    return Classes(cats, by_token, by_token.get(DEFAULT_CLASS), False)


def class_of(name: MaskName, table: Classes, path: str, report: Policy) -> int | None:
    """The category id of a mask, or None after a report (``masks-unknown-class``)."""
    if name.cls is None:
        if table.default is None:
            msg = f"{place(name.image)}: the name has no class and the categories file lists several"
            report("masks-unknown-class", msg, path, name.image)
        return table.default
    cid = table.by_token.get(name.cls)
    if cid is None:
        report(
            "masks-unknown-class",
            f"{place(name.image)}: class {name.cls!r:.60} is not in the categories",
            path,
            name.image,
        )
    return cid


def png_size(path: str, report: Policy, image_id: Any) -> tuple[int, int] | None:
    """(width, height) from a PNG's header (33 bytes), or None after a report."""
    try:
        width, height, _ = png.header(imageio.read_bytes(path)[:33])
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        report("png-unreadable", f"{place(image_id)}: unreadable PNG ({why})", path, image_id)
        return None
    if width * height > limits.get("pixels"):
        limits.check("pixels", width * height, f"mask of {width}x{height}", path)
    return width, height


def _values(path: str) -> npt.NDArray[Any]:
    """The PNG's pixels as colours: ``(H, W)`` integers, one per distinct colour (RGB packed,
    or the grey value), alpha left out. 8-bit grey and RGB(A) go through segtool's decoder;
    palette, 1-bit and 16-bit images through Pillow, converted to RGB (colours, not indices)."""
    data = imageio.read_bytes(path)
    mode = png.header(data[:33])[2]
    if mode in ("L", "LA", "RGB", "RGBA"):
        pixels = png.decode(data)
        if pixels is not None:
            if pixels.ndim == 2:
                return pixels
            if mode == "LA":
                return pixels[..., 0]
            return png.rgb_to_u32(np.ascontiguousarray(pixels[..., :3]))
    with imageio.open_bytes(data, path) as img:
        if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            return np.asarray(img).astype(np.int64)
        return png.rgb_to_u32(np.asarray(img.convert("RGB")))


def read_mask(path: str, size: tuple[int, int] | None, report: Policy, image_id: Any) -> npt.NDArray[np.bool_] | None:
    """One mask: True where the pixel is not black, whatever the mode (1, L, LA, P, RGB,
    RGBA, 16-bit): colours, never palette indices; alpha ignored. At most two colours, and
    with two one must be black (``masks-not-binary``); the size must be ``size``
    (``masks-size-mismatch``). None after a report."""
    what = place(image_id)
    try:
        values = _values(path)
    except SegtoolError as exc:  # a limit: named by the file (png.header's knows no path)
        if exc.path is None:
            raise type(exc)(exc.message, path) from None
        raise
    except Exception as exc:  # Pillow raises assorted types on corrupt input
        report("png-unreadable", f"{what}: unreadable PNG ({str(exc) or type(exc).__name__})", path, image_id)
        return None
    height, width = values.shape[:2]
    if size is not None and (width, height) != size:
        msg = f"{what}: the mask is {width}x{height} but the image is {size[0]}x{size[1]}"
        report("masks-size-mismatch", msg, path, image_id)
        return None
    fg: npt.NDArray[np.bool_] = values != 0
    if fg.any():
        other = fg & (values != values[fg].flat[0])
        if other.any():
            n = len(np.unique(values[fg][:65536]))
            held = f"black and {n} other colours" if not fg.all() else f"{n} colours, none black"
            msg = f"{what}: not a binary mask: {held} (black and one colour allowed)"
            report("masks-not-binary", msg, path, image_id)
            return None
    return fg
