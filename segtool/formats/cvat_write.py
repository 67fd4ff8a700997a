"""CVAT for images 1.1 XML written, as CVAT imports it (a task's ``annotations.xml``; a
project's, with ``<subsets>`` and each image's ``subset``, when the images have subsets).

Each instance is written as polygons when polygons carry its mask exactly (a source's own
polygons, kept as they are; else :func:`segtool.masks.polygons`, which pycocotools draws
back to the same pixels), several of them joined by one ``group_id``; else as one
``<mask>`` with CVAT's RLE over the mask's own box. CVAT has no crowd: a crowd region is a
``<mask>`` with the attribute ``iscrowd`` = ``true`` (declared on every label), which the
cvat reader reads back as crowd; the summary counts them. What a CVAT source said of each
object (``occluded``, ``source``, ``z_order``, attributes, a box) is written back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from .. import masks
from ..errors import SegtoolError
from ..model import Dataset, Sample, Segments, listed_segments
from .common import ImageResult, noted
from .cvat_rules import CROWD, encode_rle
from .options import WriteContext, WriteOptions, resolve_for_write

CROWD_WRITTEN = "crowd region written as a <mask> with attribute iscrowd=true (CVAT has no crowd)"
EMPTY = "empty mask"
Job = tuple[Sample, WriteContext, int, dict[str, list[dict[str, str]]]]


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one XML file a write creates."""
    if dst.suffix.lower() != ".xml":
        raise SegtoolError("a cvat destination is a .xml path (annotations.xml)", str(dst))
    return [dst]


def _num(v: float) -> str:
    f = float(v)
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)


def _specs(ds: Dataset, crowd: bool) -> dict[str, list[dict[str, str]]]:
    """Each label's attribute declarations: a CVAT source's, and ``iscrowd`` when crowd
    regions are written."""
    cvat = ds.info.get("cvat") if isinstance(ds.info.get("cvat"), dict) else {}
    given = {lab["name"]: list(lab.get("attributes", [])) for lab in (cvat or {}).get("labels", [])}
    out = {}
    for c in ds.categories:
        specs = [a for a in given.get(c.name, []) if isinstance(a, dict) and a.get("name")]
        if crowd and not any(a["name"] == CROWD for a in specs):
            specs.append({"name": CROWD, "input_type": "checkbox", "default_value": "false", "values": "false\ntrue"})
        out[c.name] = specs
    return out


def _header(ds: Dataset, specs: dict[str, list[dict[str, str]]], subsets: list[str]) -> str:
    owner = "project" if subsets else "task"
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>", "  <meta>"]
    lines += [f"    <{owner}>", "      <name>segtool</name>"]
    if owner == "task":
        lines += [
            f"      <size>{len(ds.samples)}</size>",
            "      <mode>annotation</mode>",
            "      <overlap>0</overlap>",
        ]
    lines.append("      <labels>")
    for c in ds.categories:
        lines += ["        <label>", f"          <name>{escape(c.name)}</name>", "          <attributes>"]
        for a in specs[c.name]:
            lines.append("            <attribute>")
            for key in ("name", "mutable", "input_type", "default_value", "values"):
                if a.get(key):
                    lines.append(f"              <{key}>{escape(str(a[key]))}</{key}>")
            lines.append("            </attribute>")
        lines += ["          </attributes>", "        </label>"]
    lines.append("      </labels>")
    if subsets:
        lines.append(f"      <subsets>{escape(chr(10).join(subsets))}</subsets>")
    lines += [f"    </{owner}>", "  </meta>"]
    return "\n".join(lines) + "\n"


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write one XML to ``tmp[0]``, each image's element as its worker returns it (nothing
    held); image ids are 0..N-1 (CVAT's frame numbers), names the images' file names."""
    names = [c.name for c in ds.categories]
    twice = [n for n, k in Counter(names).items() if k > 1]
    if twice:
        raise SegtoolError(f"two categories are named {twice[0]!r}: CVAT labels are names", str(dst))
    crowd = any((s := listed_segments(x.source)) is not None and bool(s.iscrowd.any()) for x in ds.samples)
    subsets = sorted({str(s.image.extra["subset"]) for s in ds.samples if s.image.extra.get("subset")})
    cvat = ds.info.get("cvat")
    if isinstance(cvat, dict) and cvat.get("subsets") and set(subsets) <= set(cvat["subsets"]):
        subsets = [str(s) for s in cvat["subsets"]]
    specs = _specs(ds, crowd)
    ctx = WriteContext.of(ds, "", opts)
    work = ((s, ctx, k, specs) for k, s in enumerate(ds.samples))
    done: list[ImageResult] = []
    with open(tmp[0], "w", encoding="utf-8") as f:
        try:
            f.write(_header(ds, specs, subsets))
            for r in run(_write_image, work):
                f.write(r.records[0]["xml"] if r.records else "")
                r.records = []
                done.append(r)
            f.write("</annotations>\n")
        except UnicodeEncodeError:  # a name of non-UTF-8 bytes (a lone surrogate from the file system)
            raise SegtoolError("a label or image file name is not valid Unicode", str(dst)) from None
    return done


def _write_image(job: Job) -> ImageResult:
    sample, ctx, frame, specs = job
    ann = sample.load()
    if ann.rles is None:
        res = resolve_for_write(ann, ctx)
        segs: Segments = res.measured()
        rles: tuple[Any, ...] = tuple(res.runs().rles())
        raw: Sequence[Any] | None = None
        out = ImageResult(dropped=+res.dropped)
    else:
        segs, rles, raw, out = ann.segments, ann.rles, ann.raw, ImageResult()
    extras_of = getattr(sample.source, "extras", None)
    kept = extras_of(ann.image) if callable(extras_of) else {}
    # a CVAT source keeps {segment id: z_order, attributes...}; another format's extras
    # (SA-1B's per-object tuple) are not CVAT's and are not carried
    extras: dict[int, dict[str, Any]] = kept if isinstance(kept, dict) else {}
    im = ann.image
    subset = f" subset={quoteattr(str(im.extra['subset']))}" if im.extra.get("subset") else ""
    lines = [f"  <image id={quoteattr(str(frame))} name={quoteattr(im.file_name)}{subset}"]
    lines[0] += f' width="{im.width}" height="{im.height}">'
    for k in range(len(segs)):
        label = ctx.names[int(segs.category_id[k])]
        extra = extras.get(int(segs.id[k]), {})
        given = raw[k] if raw is not None and k < len(raw) else None
        lines += _object(k, label, bool(segs.iscrowd[k]), rles[k], given, extra, specs.get(label, []), out)
    lines.append("  </image>")
    out.records = [{"xml": "\n".join(lines) + "\n"}]
    out.segments = len(segs)
    return noted(out, ann)


def _object(
    k: int,
    label: str,
    crowd: bool,
    rle: dict[str, Any],
    given: Any,
    extra: dict[str, Any],
    specs: list[dict[str, str]],
    out: ImageResult,
) -> list[str]:
    """One instance as CVAT shapes (see the module's doc)."""
    declared = {a["name"] for a in specs}
    attributes = {n: v for n, v in dict(extra.get("attributes", {})).items() if n in declared and n != CROWD}
    common = f"label={quoteattr(label)} source={quoteattr(str(extra.get('source', 'manual')))}"
    common += f" occluded={quoteattr(str(extra.get('occluded', '0')))}"
    z = f' z_order="{int(extra.get("z_order", 0))}"'
    polys = None if crowd else _polygons(given, rle)
    if polys is None:
        h, w = rle["size"]
        mask = masks.decode([rle], h, w)[:, :, 0].astype(bool)
        if not mask.any():
            out.dropped[EMPTY] += 1
            return []
        if crowd:
            out.changed[CROWD_WRITTEN] += 1
            attributes[CROWD] = "true"
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        top, left = int(rows[0]), int(cols[0])
        box = mask[top : int(rows[-1]) + 1, left : int(cols[-1]) + 1]
        runs = ", ".join(map(str, encode_rle(box)))
        geometry = f' rle="{runs}" left="{left}" top="{top}" width="{box.shape[1]}" height="{box.shape[0]}"'
        return _element("mask", common + geometry + z, attributes)
    group = f' group_id="{k + 1}"' if len(polys) > 1 else ""
    if extra.get("kind") == "box" and len(polys) == 1 and _is_box(polys[0]):
        p = polys[0]
        corners = f' xtl="{_num(p[0])}" ytl="{_num(p[1])}" xbr="{_num(p[4])}" ybr="{_num(p[5])}"'
        return _element("box", common + corners + z, attributes)
    lines: list[str] = []
    for p in polys:
        points = ";".join(f"{_num(x)},{_num(y)}" for x, y in zip(p[0::2], p[1::2], strict=True))
        lines += _element("polygon", f"{common} points={quoteattr(points)}{z}{group}", attributes)
    return lines


def _polygons(given: Any, rle: dict[str, Any]) -> list[list[float]] | None:
    """The source's own polygons when it has them, else polygons traced from the mask that
    draw it back exactly, else None (a hole: a ``<mask>``)."""
    if isinstance(given, list) and given and all(isinstance(p, list) and len(p) >= 6 for p in given):
        return [[float(v) for v in p] for p in given]
    h, w = rle["size"]
    mask = masks.decode([rle], h, w)[:, :, 0]
    return masks.polygons(np.ascontiguousarray(mask)) if mask.any() else None


def _is_box(p: list[float]) -> bool:
    return (
        len(p) == 8 and p[1] == p[3] and p[2] == p[4] and p[5] == p[7] and p[6] == p[0] and p[0] < p[2] and p[1] < p[5]
    )


def _element(tag: str, attrs: str, attributes: dict[str, str]) -> list[str]:
    if not attributes:
        return [f"    <{tag} {attrs}>", f"    </{tag}>"]
    inner = [f"      <attribute name={quoteattr(n)}>{escape(str(v))}</attribute>" for n, v in attributes.items()]
    return [f"    <{tag} {attrs}>", *inner, f"    </{tag}>"]
