"""Hostile variants of the trees of formats_build.py: each changes one thing of a valid tree
(a file's bytes, one JSON value, one XML attribute, one token of a text file, one PNG, one
name the data refers to), so a failure names what did it.

A variant is ``edit(root, base) -> Base`` run after the base tree is written; the generic
ones are derived from the base's files by role (json, xml, txt, png), the name ones are
written per format (where each format keeps its references).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import build
from . import formats_build as fb
from .formats_build import Base

Edit = Callable[[Path, Base], Base]
BIG = "9" * 4301  # one digit over CPython's int/str conversion limit
RAW = build.RAW
# values every JSON key gets in turn (raw tokens go in verbatim)
VALUES: list[Any] = ["x", {}, [], None, ("NaN",), ("Infinity",), (BIG,), 1e300, -1e9, 2**31, 0, True, 10**9, -1]
SHOWN = {"{}": "obj", "[]": "list", '"x"': "str"}
TOKENS = ["nan", "inf", "1e300", "-1e9", BIG, "x", "-1", "99999999999", "0x10", ""]
ATTRS = ["x", "", "-1", "1e300", "nan", "inf", BIG, "99999999", "0", "1,2;3"]


def _file(base: Base, role: str, i: int = 0) -> Path:
    return base.files[role][i]


# --- whole-file variants ----------------------------------------------------------------------


def truncated(role: str, i: int = 0) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        p = _file(base, role, i)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
        return base

    return edit


def replaced(role: str, data: bytes, i: int = 0) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        _file(base, role, i).write_bytes(data)
        return base

    return edit


def linked(role: str, target: str, i: int = 0) -> Edit:
    """The file replaced by a symlink to ``target`` (``self``: to itself, a loop)."""

    def edit(root: Path, base: Base) -> Base:
        p = _file(base, role, i)
        p.unlink()
        os.symlink(p.name if target == "self" else target, p)
        return base

    return edit


def made_dir(role: str, i: int = 0) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        p = _file(base, role, i)
        p.unlink()
        p.mkdir()
        return base

    return edit


def whole_file(role: str, i: int = 0) -> dict[str, Edit]:
    """What every file of a role gets: cut in half, emptied, garbage, a link out, a loop."""
    return {
        "trunc": truncated(role, i),
        "empty": replaced(role, b"", i),
        "garbage": replaced(role, b"\xff\xfe\x00garbage{[<\x80\n" * 3, i),
        "link-passwd": linked(role, "/etc/passwd", i),
        "link-loop": linked(role, "self", i),
        "link-devzero": linked(role, "/dev/zero", i),
        "dir": made_dir(role, i),
    }


# --- JSON -------------------------------------------------------------------------------------


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a JSON value, containers included (not the root)."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out += paths(v, (*prefix, k))
    return out


def json_set(path: tuple[Any, ...], value: Any, i: int = 0) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        p = _file(base, "json", i)
        data = json.loads(p.read_text(encoding="utf-8"))
        node = data
        for k in path[:-1]:
            node = node[k]
        raw = value[0] if isinstance(value, tuple) else None
        node[path[-1]] = RAW if raw else value
        p.write_text(build.dump(data, raw), encoding="utf-8")
        return base

    return edit


def json_variants(doc: Any, i: int = 0, per_key: int = 2) -> dict[str, Edit]:
    """The whole-file ones, deep nesting, and ``per_key`` hostile values at every key (the
    values rotate over the keys so each value reaches many keys)."""
    out = whole_file("json", i)
    out["deep"] = replaced("json", b"[" * 100_000 + b"]" * 100_000, i)
    out["deep-obj"] = replaced("json", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, i)
    out["bom-nan"] = replaced("json", "\ufeff[NaN, -Infinity]".encode(), i)
    for n, path in enumerate(paths(doc)):
        for k in range(per_key):
            value = VALUES[(n * per_key + k) % len(VALUES)]
            shown = value[0][:6] if isinstance(value, tuple) else SHOWN.get(json.dumps(value), json.dumps(value)[:8])
            out[f"key-{'.'.join(map(str, path))}={shown}"] = json_set(path, value, i)
    return out


# --- XML --------------------------------------------------------------------------------------

LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE annotations [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + k)} "{("&" + chr(97 + k) + ";") * 10}">' for k in range(9))
    + "]>\n<annotations><version>&j;</version></annotations>\n"
)
XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE annotations [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    "<annotations><version>1.1</version>"
    + fb.CVAT_META
    + '<image id="0" name="&x;" width="8" height="6"></image></annotations>\n'
)


def xml_attr(index: int, value: str) -> Edit:
    """The ``index``-th attribute value (in document order) of the XML set to ``value``."""

    def edit(root: Path, base: Base) -> Base:
        p = _file(base, "xml")
        text = p.read_text(encoding="utf-8")
        spans = _attr_spans(text)
        a, b = spans[index]
        escaped = value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        p.write_text(text[:a] + escaped + text[b:], encoding="utf-8")
        return base

    return edit


def _attr_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each attribute value ``="..."`` inside tags after the XML declaration."""
    import re

    body = text.index("<annotations>")
    return [(m.start(1), m.end(1)) for m in re.finditer(r'=\s*"([^"]*)"', text) if m.start() > body]


def xml_variants(text: str, per_attr: int = 2) -> dict[str, Edit]:
    out = whole_file("xml")
    out |= {
        "laughs": replaced("xml", LAUGHS.encode()),
        "xxe": replaced("xml", XXE.encode()),
        "deep": replaced("xml", b"<annotations>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</annotations>"),
        "not-closed": replaced("xml", text.replace("</annotations>", "").encode()),
    }
    for n in range(len(_attr_spans(text))):
        for k in range(per_attr):
            value = ATTRS[(n * per_attr + k) % len(ATTRS)]
            out[f"attr{n}={value[:6]}"] = xml_attr(n, value)
    return out


# --- text -------------------------------------------------------------------------------------


def txt_token(i: int, line: int, tok: int, value: str) -> Edit:
    def edit(root: Path, base: Base) -> Base:
        p = _file(base, "txt", i)
        lines = p.read_text(encoding="utf-8").split("\n")
        words = lines[line].split(" ")
        words[tok] = value
        lines[line] = " ".join(words)
        p.write_text("\n".join(lines), encoding="utf-8")
        return base

    return edit


def txt_variants(text: str, i: int = 0, per_token: int = 2) -> dict[str, Edit]:
    out = whole_file("txt", i)
    out["long-line"] = replaced("txt", b"0 " + b"0.5 " * 200_000 + b"\n", i)
    out["crlf-nul"] = replaced("txt", text.replace("\n", "\r\n").encode() + b"\0\0\n", i)
    n = 0
    for li, line in enumerate(text.split("\n")):
        for ti, _ in enumerate(line.split(" ") if line else []):
            for k in range(per_token):
                value = TOKENS[(n * per_token + k) % len(TOKENS)]
                out[f"tok{li}.{ti}={value[:6]}"] = txt_token(i, li, ti, value)
            n += 1
    return out


# --- PNG --------------------------------------------------------------------------------------


def png_as(role_index: int, make: Callable[[np.ndarray], bytes | Image.Image], role: str = "png") -> Edit:
    """The ``role_index``-th image of ``role`` rewritten from its own pixels by ``make``."""

    def edit(root: Path, base: Base) -> Base:
        p = _file(base, role, role_index)
        arr = np.asarray(Image.open(p))
        made = make(arr)
        if isinstance(made, bytes):
            p.write_bytes(made)
        else:
            made.save(p, format="PNG")
        return base

    return edit


def _palette(arr: np.ndarray) -> Image.Image:
    im = Image.fromarray(_byte(_gray(arr)), "P")
    im.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])
    return im


def png_variants(i: int, role: str = "png") -> dict[str, Edit]:
    """A label PNG (or a photo, ``role`` "photo") of another depth, mode, declared size."""
    out = whole_file(role, i)
    out |= {
        "sixteen": png_as(i, lambda a: Image.fromarray(_gray(a).astype(np.uint16) * 257), role),
        "eight": png_as(i, lambda a: Image.fromarray((a.astype(np.int64) % 256).astype(np.uint8)), role),
        "palette": png_as(i, _palette, role),
        "rgba": png_as(i, lambda a: Image.fromarray(np.dstack([_byte(_gray(a))] * 4), "RGBA"), role),
        "huge-header": replaced(role, build.huge_header_png(20000, 20000, 0), i),
        "max-header": replaced(role, build.huge_header_png(2**31 - 1, 1, 0), i),
        "zero-header": replaced(
            role, build.raw_png(build.ihdr(0, 0, 0), build.chunk(b"IDAT", b"x\x9c\x03\x00\x00\x00\x00\x01")), i
        ),
        "jpeg-named-png": png_as(i, lambda a: _jpeg(a), role),
        "other-size": png_as(i, lambda a: Image.fromarray(np.zeros((a.shape[0] + 3, a.shape[1] + 1), np.uint8)), role),
    }
    return out


def _gray(a: np.ndarray) -> np.ndarray:
    return a if a.ndim == 2 else a[..., 0]


def _byte(a: np.ndarray) -> np.ndarray:
    return (a.astype(np.int64) % 256).astype(np.uint8)


def _jpeg(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray((arr.astype(np.int64) % 256).astype(np.uint8)).convert("RGB").save(buf, format="JPEG")
    return buf.getvalue()


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True)
