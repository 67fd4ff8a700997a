"""Hostile values each format holds in its own place, beyond the generic sweeps of
formats_variants.py: enormous and zero declared image sizes (the pixel limit), RLE garbage
(SA-1B counts, MOTS txt lines, CVAT mask rle, Label Studio brushes), base64 garbage (LabelMe
masks and imageData), YAML bombs (YOLO's data.yaml).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import build
from . import formats_build as fb
from .formats_build import Base
from .formats_variants import Edit

HUGE = 100_000  # 10^10 pixels: over any pixel limit, under a PNG header's 2^31
RLE_GARBAGE = {"tilde": "\x7f~~~~", "overflow": "oooooooooooooooo0", "empty": "", "long": "9" * 2000, "nul": "a\0b"}


def json_edit(change: Callable[[Any], None], i: int = 0) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        p = base.files["json"][i]
        data = json.loads(p.read_text(encoding="utf-8"))
        change(data)
        p.write_text(json.dumps(data), encoding="utf-8")
        return base

    return edit


def _sizes(keys: tuple[str, str], value: int, under: Callable[[Any], list[dict[str, Any]]]) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        for rec in under(data):
            rec[keys[0]], rec[keys[1]] = value, value

    return change


def _ls_regions(data: Any) -> list[dict[str, Any]]:
    return list(data[0]["annotations"][0]["result"])


def _sa1b_rle(key: str, value: Any) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        data["annotations"][0]["segmentation"][key] = value

    return change


def _labelme_mask(payload: bytes) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        text = base64.b64encode(payload).decode() if payload != b"!" else "!!not base64!!"
        data["shapes"].append(
            {
                "label": "cat",
                "points": [[1, 1], [4, 3]],
                "shape_type": "mask",
                "mask": text,
                "group_id": None,
                "flags": {},
            }
        )

    return change


def _png16() -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((2, 3), 60000, np.uint16)).save(buf, format="PNG")
    return buf.getvalue()


def _replace_text(old: str, new: str, role: str = "txt", i: int = 0) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        p = base.files[role][i]
        p.write_text(p.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
        return base

    return edit


def _text(role: str, text: str, i: int = 0) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        base.files[role][i].write_text(text, encoding="utf-8")
        return base

    return edit


YAML_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + k)}: &{chr(98 + k)} [{', '.join(['*' + chr(97 + k)] * 9)}]\n" for k in range(8)
)


def values(fmt: str) -> dict[str, Edit]:
    out: dict[str, Edit] = {}
    for label, v in (("huge", HUGE), ("zero", 0), ("max", 2**31 - 1)):
        if fmt == "cityscapes":
            out[f"size-{label}"] = json_edit(_sizes(("imgHeight", "imgWidth"), v, lambda d: [d]))
        elif fmt == "labelme":
            out[f"size-{label}"] = json_edit(_sizes(("imageHeight", "imageWidth"), v, lambda d: [d]))
        elif fmt == "sa1b":
            out[f"size-{label}"] = json_edit(_sizes(("height", "width"), v, lambda d: [d["image"]]))
            out[f"rle-size-{label}"] = json_edit(_sa1b_rle("size", [v, v]))
        elif fmt == "label-studio":
            out[f"size-{label}"] = json_edit(_sizes(("original_width", "original_height"), v, _ls_regions))
        elif fmt == "cvat":
            out[f"size-{label}"] = lambda root, base, v=v: _cvat(base, fb.cvat_xml(width=str(v), height=str(v)))
        elif fmt == "mots-txt":
            out[f"size-{label}"] = _replace_text(" 3 5 ", f" {v} {v} ")
    if fmt == "sa1b":
        out |= {f"rle-{k}": json_edit(_sa1b_rle("counts", v)) for k, v in RLE_GARBAGE.items()}
    if fmt == "mots-txt":
        out |= {f"rle-{k}": _text("txt", f"0 1001 1 3 5 {v}\n") for k, v in RLE_GARBAGE.items() if "\0" not in v}
    if fmt == "cvat":
        for k, rle in {"over": "999999999, 1", "neg": "-5, 20", "float": "1.5, 2", "long": "1, " * 5000 + "1"}.items():
            shape = (
                f'<mask label="dog" source="manual" occluded="0" rle="{rle}" left="1" top="1" width="4" height="3"/>'
            )
            out[f"mask-rle-{k}"] = lambda root, base, s=shape: _cvat(base, fb.cvat_xml(shapes=s))
        shape = '<mask label="dog" rle="3, 4, 5" left="-1000000000" top="1e300" width="99999999" height="99999999"/>'
        out["mask-box-huge"] = lambda root, base: _cvat(base, fb.cvat_xml(shapes=shape))
    if fmt == "label-studio":
        for k, rle in {
            "short": [0, 0, 0, 96],
            "bytes-over": [300, 1, 2],
            "header-huge": [255, 255, 255, 255, 0, 0],
        }.items():
            out[f"brush-{k}"] = json_edit(lambda d, r=rle: d[0]["annotations"][0]["result"][1]["value"].update(rle=r))
    if fmt == "labelme":
        for k, payload in {
            "b64-garbage": b"!",
            "b64-not-png": b"GIF89a garbage",
            "b64-huge-png": build.huge_header_png(30000, 30000, 0),
            "b64-png16": _png16(),
        }.items():
            out[f"mask-{k}"] = json_edit(_labelme_mask(payload))
        out["imagedata-garbage"] = json_edit(lambda d: d.update(imageData="AAAA////"))
        out["imagedata-huge"] = json_edit(
            lambda d: d.update(imageData=base64.b64encode(build.huge_header_png(30000, 30000)).decode())
        )
    out |= duplicated(fmt)
    if fmt == "yolo-seg":
        out["yaml-bomb"] = _text("txt", YAML_BOMB + "names: *i\n", 1)
        out["yaml-tag"] = _text("txt", "names: !!python/object/apply:os.system ['touch /tmp/pwned']\n", 1)
        out["yaml-deep"] = _text("txt", "names: " + "[" * 5000 + "]" * 5000 + "\n", 1)
        out["yaml-path-out"] = _text("txt", "path: /etc\ntrain: ../../../../etc\nnames: [cat, dog]\n", 1)
        out["yaml-names-huge"] = _text("txt", "names: {99999999999999999999: cat}\n", 1)
    return out


def duplicated(fmt: str) -> dict[str, Edit]:
    """A second record of the same image: a copy of the file, or of the record in it."""

    def copy_file(new: str) -> Edit:
        def edit(root: Path, base: Base) -> Base:
            p = base.files["json"][0]
            (p.parent / new).write_bytes(p.read_bytes())
            return base

        return edit

    if fmt == "labelme":
        return {"dup-file": copy_file("b.json")}
    if fmt == "sa1b":
        return {"dup-file": copy_file("sa_2.json")}
    if fmt == "label-studio":
        return {"dup-task": json_edit(lambda d: d.append(d[0])), "no-tasks": json_edit(lambda d: d.clear())}
    if fmt == "cvat":
        text = fb.cvat_xml()
        image = text[text.index("<image ") : text.index("</image>") + len("</image>")]
        return {"dup-image": lambda root, base: _cvat(base, text.replace(image, image * 2))}
    return {}


def _cvat(base: Base, text: str) -> Base:
    base.src.write_text(text, encoding="utf-8")
    return base
