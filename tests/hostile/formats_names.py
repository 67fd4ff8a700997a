"""Hostile names for the trees of formats_build.py: the references a format's data holds
(LabelMe imagePath, CVAT image name, VOC and CamVid list lines, SA-1B file_name, Label
Studio image URLs) set to traversals, absolute paths and odd bytes, with the file they name
placed where a naive ``folder / name`` finds it (so a traversal is followed, not refused by
accident); and the names on disk a format reads ids from (Mapillary stems, MOTS sequences,
mask-file names, Cityscapes cities, ...) renamed to odd bytes, links out of the tree and
loops added beside them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from . import build
from . import formats_build as fb
from .formats_build import Base
from .formats_variants import Edit

ABS = "{abs}"  # an absolute path to a real photo in the case's folder
REFS = {
    "dotdot": "../../x.jpg",
    "abs": ABS,
    "a-dotdot-b": "a/../../../b.jpg",
    "hash": "a#b.jpg",
    "pct": "a%2e%2e%2fb%.jpg",
    "nl": "a\nb.jpg",
    "nonutf8": "a\udcffb.jpg",
    "nul": "a\0b.jpg",
    "empty": "",
}
STEMS = {"hash": "a#b", "pct": "a%2e%2e%2fb%", "nl": "a\nb", "nonutf8": "a\udcffb", "dash-space": "-a b", "dots": "..."}


def _ref(root: Path, name: str) -> str:
    return str(root / "elsewhere" / "abs.jpg") if name == ABS else name


def _photo_at(folder: Path, name: str) -> None:
    if "\0" in name:
        return
    build.write_photos(folder, [name], (fb.H, fb.W))


def _json_text(data: object) -> str:
    """JSON text keeping lone surrogates as \\udcxx escapes (valid JSON, an odd str in Python)."""
    return json.dumps(data)


def labelme_ref(name: str) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        ref = _ref(root, name)
        base.files["json"][0].write_text(_json_text(fb.labelme_doc(ref)), encoding="utf-8")
        _photo_at(base.src, ref)
        return base

    return edit


def sa1b_ref(name: str) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        ref = _ref(root, name)
        p = base.files["json"][0]
        data = json.loads(p.read_text(encoding="utf-8"))
        data["image"]["file_name"] = ref
        p.write_text(_json_text(data), encoding="utf-8")
        _photo_at(base.src, ref)
        return base

    return edit


def label_studio_ref(name: str) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        ref = _ref(root, name)
        base.src.write_text(_json_text(fb.label_studio_tasks(ref)), encoding="utf-8")
        _photo_at(base.src.parent, ref)
        return base

    return edit


def cvat_ref(name: str) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        ref = _ref(root, name).replace("&", "&amp;").replace('"', "&quot;").replace("\0", "&#0;")
        base.src.write_bytes(fb.cvat_xml(ref).encode("utf-8", "surrogateescape"))
        _photo_at(base.src.parent / "images", _ref(root, name))
        return base

    return edit


def voc_ref(name: str) -> Edit:
    """The list line is ``name`` (a stem); the PNGs and photo placed where it points."""

    def edit(root: Path, base: Base) -> Base:
        ref = _ref(root, name).removesuffix(".jpg")
        lst = base.files["txt"][0]
        lst.write_bytes(ref.encode("utf-8", "surrogateescape") + b"\n")
        for png, folder in zip(base.files["png"], ("SegmentationClass", "SegmentationObject"), strict=True):
            target = build.place(base.src / folder, ref + ".png")
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(png.read_bytes())
        _photo_at(base.src / "JPEGImages", ref + ".jpg")
        return base

    return edit


def camvid_ref(name: str) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        ref = _ref(root, name).removesuffix(".jpg")
        line = f"/train/{ref}.png /trainannot/{ref}.png\n"
        base.files["txt"][0].write_bytes(line.encode("utf-8", "surrogateescape"))
        target = build.place(base.src / "trainannot", ref + ".png")
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base.files["png"][0].read_bytes())
        _photo_at(base.src / "train", ref + ".png")
        return base

    return edit


REF_EDITS: dict[str, Callable[[str], Edit]] = {
    "labelme": labelme_ref,
    "sa1b": sa1b_ref,
    "label-studio": label_studio_ref,
    "cvat": cvat_ref,
    "voc": voc_ref,
    "camvid": camvid_ref,
}
LS_URLS = {
    "url-dotdot": "/data/upload/1/../../../../etc/passwd",
    "url-file": "file:///etc/passwd",
    "url-pct": "http://h/%2e%2e%2f%2e%2e%2fx%00.jpg",
    "url-query": "/data/local-files/?d=..%2F..%2Fetc%2Fpasswd",
}

# on-disk stems a format takes ids from: format -> the stem (or prefix) renamed
STEM_OF = {
    "cityscapes": "aachen",
    "ade20k": "ADE_val_00000001",
    "labelme": "a",
    "yolo-seg": "a",
    "mapillary": "a",
    "kitti": "a",
    "mots": "0002",
    "mots-txt": "0004",
    "masks": "1000",
    "voc": "2012_000001",
    "camvid": "a",
    "sa1b": "sa_1",
}


def _renamed(name: str, old: str, new: str) -> str | None:
    if name == old or name.startswith(old + "_") or name.startswith(old + "."):
        return new + name[len(old) :]
    return None


def rename(fmt: str, new: str) -> Edit:
    """Every file or folder of the tree named by the format's stem renamed to ``new``; the
    lists that name it (VOC, CamVid) follow."""
    old = STEM_OF[fmt]

    def edit(root: Path, base: Base) -> Base:
        top = base.src if base.src.is_dir() else base.src.parent
        for dirpath, dirnames, filenames in os.walk(top, topdown=False):
            for entry in filenames + dirnames:
                to = _renamed(entry, old, new)
                if to is not None:
                    os.rename(Path(dirpath) / entry, Path(dirpath) / to)
        for lst in base.files.get("txt", []):
            if fmt in ("voc", "camvid") and lst.exists():
                text = lst.read_text(encoding="utf-8")
                text = text.replace(old, new) if fmt == "voc" else text.replace(f"/{old}.png", f"/{new}.png")
                lst.write_bytes(text.encode("utf-8", "surrogateescape"))
        base.files = {k: [_follow(p, old, new) for p in v] for k, v in base.files.items()}
        return base

    return edit


def _follow(p: Path, old: str, new: str) -> Path:
    parts = [(_renamed(part, old, new) or part) for part in p.parts]
    return Path(*parts)


def dir_link(target: str) -> Edit:
    """A link beside the dataset's files: out of the tree (``/etc``) or to its own folder."""

    def edit(root: Path, base: Base) -> Base:
        first = next(v for k, v in base.files.items() if k != "photo")[0]
        os.symlink(target if target != "loop" else ".", first.parent / "zz_link")
        return base

    return edit


def name_variants(fmt: str) -> dict[str, Edit]:
    out: dict[str, Edit] = {}
    if fmt in REF_EDITS:
        out |= {f"ref-{k}": REF_EDITS[fmt](v) for k, v in REFS.items()}
    if fmt == "label-studio":
        out |= {k: label_studio_ref(v) for k, v in LS_URLS.items()}
    if fmt in STEM_OF:
        out |= {f"stem-{k}": rename(fmt, v) for k, v in STEMS.items()}
    out["dirlink-etc"] = dir_link("/etc")
    out["dirlink-loop"] = dir_link("loop")
    return out
