"""Small valid datasets as plain data, and the writers that put them (or a hostile variant)
on disk. Hostile cases start from these dicts, change one thing, and write the result, so
each case is a few lines of code and nothing is stored in bulk.

Everything is encoded with numpy, Pillow, pycocotools or by hand (raw PNG chunks, raw JSON
text), never with segtool's writers.
"""

from __future__ import annotations

import copy
import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tests.conftest import panoptic_segments, rgb_of, rle

H, W = 6, 8
CATS = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60], "supercategory": "person"},
    {"id": 2, "name": "car", "isthing": 1, "color": [0, 0, 142], "supercategory": "vehicle"},
    {"id": 100, "name": "road", "isthing": 0, "color": [128, 64, 128], "supercategory": "ground"},
]
SEM_CATS = [
    {"id": 0, "name": "background", "isthing": 0, "color": [0, 0, 0]},
    {"id": 1, "name": "road", "isthing": 0, "color": [128, 64, 128]},
    {"id": 2, "name": "car", "isthing": 1, "color": [0, 0, 142]},
]
RAW = "@@RAW@@"  # a string value replaced by a raw JSON token (NaN, a 4,301-digit integer…)


@dataclass
class Built:
    """A dataset on disk and what the command matrix needs to run over it."""

    fmt: str  # "coco-panoptic" | "coco-instance" | "semantic"
    src: Path
    images: Path | None = None  # photos folder (adds --images where a command takes it)
    pred: Path | None = None  # eval's prediction (default: src itself)
    sem_pred: Path | None = None  # a semantic folder to score a non-semantic src against
    extra: dict[str, Any] = field(default_factory=dict)


def id_maps() -> list[np.ndarray]:
    """Two 6x8 panoptic id maps: road on the left, a person and a car on the right, void."""
    a = np.full((H, W), 10, np.int64)
    a[1:4, 4:7] = 20
    a[4:, 5:] = 30
    a[5, 0] = 0
    b = np.full((H, W), 10, np.int64)
    b[2:5, 1:3] = 20
    return [a, b]


CAT_OF = {10: 100, 20: 1, 30: 2}


def panoptic_data() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(the COCO panoptic JSON, {PNG file_name: id map})."""
    images, anns, pngs = [], [], {}
    for i, ids in enumerate(id_maps(), start=1):
        images.append({"id": i, "file_name": f"img{i}.jpg", "height": H, "width": W})
        anns.append({"image_id": i, "file_name": f"img{i}.png", "segments_info": panoptic_segments(ids, CAT_OF)})
        pngs[f"img{i}.png"] = ids
    return {"images": images, "annotations": anns, "categories": copy.deepcopy(CATS)}, pngs


def instance_data() -> dict[str, Any]:
    """Two images; a polygon, an RLE and a crowd RLE."""
    m = np.zeros((H, W), bool)
    m[1:4, 2:6] = True
    c = np.zeros((H, W), bool)
    c[4:, :3] = True
    poly = [1.0, 1.0, 5.0, 1.0, 5.0, 4.0, 1.0, 4.0]
    anns = [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "segmentation": [poly],
            "area": 12.0,
            "bbox": [1, 1, 4, 3],
            "iscrowd": 0,
        },
        {
            "id": 2,
            "image_id": 1,
            "category_id": 2,
            "segmentation": rle(m),
            "area": 12,
            "bbox": [2, 1, 4, 3],
            "iscrowd": 0,
        },
        {
            "id": 3,
            "image_id": 2,
            "category_id": 100,
            "segmentation": rle(c),
            "area": 6,
            "bbox": [0, 4, 3, 2],
            "iscrowd": 1,
        },
    ]
    images = [{"id": i, "file_name": f"img{i}.jpg", "height": H, "width": W} for i in (1, 2)]
    return {"images": images, "annotations": anns, "categories": copy.deepcopy(CATS)}


def label_maps() -> dict[str, np.ndarray]:
    a = np.zeros((H, W), np.uint8)
    a[:, :3] = 1
    a[2:4, 5:7] = 2
    a[0, 7] = 255
    b = np.ones((H, W), np.uint8)
    b[4:, 4:] = 2
    return {"s1": a, "s2": b}


def semantic_data() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, np.ndarray]]:
    """(categories.json, images.json, {stem: label map})."""
    maps = label_maps()
    images = {"images": [{"id": i, "file_name": f"{s}.jpg", "height": H, "width": W} for i, s in enumerate(maps, 1)]}
    return copy.deepcopy(SEM_CATS), images, maps


def dump(data: Any, raw: str | None = None) -> str:
    """JSON text; every ``RAW`` string value becomes the token ``raw`` verbatim."""
    text = json.dumps(data)
    return text if raw is None else text.replace(json.dumps(RAW), raw)


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def place(folder: Path, name: str) -> Path | None:
    """Where a file named ``name`` (a dataset's file_name) lands relative to ``folder``, or
    None when no file can carry that name (NUL, lone surrogate, empty)."""
    if not name or "\0" in name:
        return None
    try:
        os.fsencode(name)
    except UnicodeEncodeError:
        return None
    if name.endswith("/"):
        return None
    literal = folder / name
    parts = literal.parts
    for k, part in enumerate(parts):  # "a/../b": the kernel needs "a" to exist to follow it
        if part == ".." and k > 1:
            Path(*parts[:k]).mkdir(parents=True, exist_ok=True)
    return Path(os.path.normpath(literal))


def save_png(path: Path | None, array: np.ndarray) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG")


def write_panoptic(json_path: Path, data: dict[str, Any], pngs: dict[str, np.ndarray], raw: str | None = None) -> Path:
    """The JSON and its PNGs, each PNG where its (possibly hostile) file_name points."""
    folder = json_path.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    for name, ids in pngs.items():
        save_png(place(folder, name), rgb_of(ids))
    return write_text(json_path, dump(data, raw))


def write_semantic(
    folder: Path,
    cats: Any,
    images: Any,
    maps: dict[str, np.ndarray],
    raw: str | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr in maps.items():
        save_png(place(folder, stem + ".png"), arr)
    if cats is not None:
        write_text(folder / "categories.json", dump(cats, raw))
    if images is not None:
        write_text(folder / "images.json", dump(images, raw))
    return folder


def write_photos(folder: Path, names: list[str], shape: tuple[int, int] = (H, W)) -> Path:
    """A photo for each file_name (a gradient, so renders have something under them)."""
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[: shape[0], : shape[1]]
    rgb = np.stack([x * 30 % 256, y * 40 % 256, (x + y) * 10 % 256], -1).astype(np.uint8)
    for name in names:
        target = place(folder, name)
        if target is not None and not os.path.lexists(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(target, format="PNG")
    return folder


def panoptic(root: Path, data: dict[str, Any] | None = None, pngs: dict | None = None, raw: str | None = None) -> Built:
    base, base_pngs = panoptic_data()
    src = write_panoptic(root / "in" / "p.json", data or base, base_pngs if pngs is None else pngs, raw)
    return Built("coco-panoptic", src)


def results(data: dict[str, Any]) -> list[Any]:
    """A COCO results list made of ``data``'s annotations (score 1.0): GT scored against
    itself, hostile values and all."""
    anns = data.get("annotations") if isinstance(data, dict) else None
    return [dict(a, score=1.0) if isinstance(a, dict) else a for a in anns] if isinstance(anns, list) else []


def instance(root: Path, data: dict[str, Any] | None = None, raw: str | None = None) -> Built:
    """The instance JSON ``in/i.json`` and, as its prediction, ``in/res.json``."""
    data = data or instance_data()
    src = write_text(root / "in" / "i.json", dump(data, raw))
    return Built("coco-instance", src, pred=write_text(root / "in" / "res.json", dump(results(data), raw)))


def semantic(
    root: Path, cats: Any = None, images: Any = None, maps: dict | None = None, raw: str | None = None
) -> Built:
    base_cats, base_images, base_maps = semantic_data()
    folder = write_semantic(
        root / "in" / "sem",
        base_cats if cats is None else cats,
        base_images if images is None else images,
        base_maps if maps is None else maps,
        raw,
    )
    return Built("semantic", folder)


# --- raw PNG chunks -------------------------------------------------------------------------


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def ihdr(width: int, height: int, color_type: int = 2, bit_depth: int = 8) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))


def raw_png(*chunks: bytes) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + chunk(b"IEND", b"")


def huge_header_png(width: int = 20000, height: int = 20000, color_type: int = 2) -> bytes:
    """A ~60-byte PNG whose header declares ``width`` x ``height``: one empty row of data."""
    return raw_png(ihdr(width, height, color_type), chunk(b"IDAT", zlib.compress(b"\0")))


def png_rows(arr: np.ndarray, color_type: int) -> bytes:
    """IDAT payload of ``arr`` (filter 0 on every row)."""
    rows = arr.reshape(arr.shape[0], -1)
    return zlib.compress(b"".join(b"\0" + r.tobytes() for r in rows))


def two_ihdr_png(arr: np.ndarray, color_type: int, second: tuple[int, int]) -> bytes:
    """A PNG with a second IHDR (declaring ``second`` = width, height) after the real one."""
    h, w = arr.shape[:2]
    return raw_png(ihdr(w, h, color_type), ihdr(*second, color_type), chunk(b"IDAT", png_rows(arr, color_type)))


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of each chunk of a well-formed PNG."""
    out, i = [], 8
    while i + 8 <= len(png):
        (n,) = struct.unpack(">I", png[i : i + 4])
        out.append((png[i + 4 : i + 8], png[i + 8 : i + 8 + n]))
        i += 12 + n
    return out


def assemble(parts: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG of these chunks, CRCs recomputed (so a decoder looks past them)."""
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunk(kind, body) for kind, body in parts)


def first_named(fmt: str, name: str, root: Path, *, png_too: bool = True) -> Built:
    """A dataset of ``fmt`` whose first image is called ``name`` (its label map, its photo
    and, with ``png_too``, its panoptic PNG placed where that name points), with a photo
    folder."""
    if fmt == "coco-panoptic":
        data, pngs = panoptic_data()
        data["images"][0]["file_name"] = name
        if png_too:
            data["annotations"][0]["file_name"] = name
            pngs = {name: pngs["img1.png"], "img2.png": pngs["img2.png"]}
        b = panoptic(root, data, pngs)
    elif fmt == "coco-instance":
        data = instance_data()
        data["images"][0]["file_name"] = name
        b = instance(root, data)
    else:
        cats, images, maps = semantic_data()
        images["images"][0]["file_name"] = name
        b = semantic(root, cats, images, {Path(name).stem: maps["s1"], "s2": maps["s2"]})
    b.images = write_photos(root / "in" / "photos", [name, "img2.jpg", "s2.jpg"])
    return b


def panoptic_of_maps(root: Path, maps: list[np.ndarray], category_of: Any) -> Built:
    """A panoptic dataset of the id maps ``maps`` (images 1..n); ``category_of(id)`` gives each
    segment's category."""
    data: dict[str, Any] = {"images": [], "annotations": [], "categories": CATS}
    pngs = {}
    for i, ids in enumerate(maps, start=1):
        cats = {int(v): category_of(int(v)) for v in np.unique(ids)}
        h, w = ids.shape
        data["images"].append({"id": i, "file_name": f"img{i}.jpg", "height": h, "width": w})
        data["annotations"].append(
            {"image_id": i, "file_name": f"img{i}.png", "segments_info": panoptic_segments(ids, cats)}
        )
        pngs[f"img{i}.png"] = ids
    return panoptic(root, data, pngs)
