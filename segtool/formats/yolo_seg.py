"""Ultralytics YOLO segmentation: ``data.yaml`` + ``images/<split>/`` + ``labels/<split>/*.txt``.

One object a line, ``class x1 y1 x2 y2 ...``, normalised by the image's size, which comes
from the image's header. Read as instances (no crowd), each line one polygon drawn as
Ultralytics' ``polygon2mask`` draws it (:mod:`.yolo_seg_rules`); the polygon itself, in
pixels, is kept as the segmentation a coco-instance writer writes. Written with
``precision`` decimals; several polygons of one object joined into one line as
Ultralytics' converter joins them; what YOLO cannot carry (crowd regions, holes) is
reported in the write summary. See docs/formats/yolo-seg.md.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import masks
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..naming import image_path, output_names
from ..policy import STRICT
from .common import Detection, ImageResult, noted, write_utf8
from .options import WriteContext, WriteOptions, resolve_for_write
from .yolo_seg_rules import (
    find_yaml,
    image_files,
    image_size,
    join,
    label_path,
    layout,
    parse_labels,
    pixels,
    rasterise,
    read_text,
    read_yaml,
)

NAME = "yolo-seg"
OVERLAPS = True  # one polygon line per object: objects may overlap
CHECKS = "yolo_seg_checks"  # its checks (validate); findings need a person's decision: no --fix
CROWD = "crowd region: YOLO has no crowd (skipped, as Ultralytics' converter skips it)"
HOLE = "mask with a hole: written as its outer outline (a YOLO polygon cannot subtract)"
JOINED = "object of several polygons: joined into one line (as Ultralytics joins them)"
CLIPPED = "polygon points outside the image: clipped to it (Ultralytics refuses coordinates outside [0, 1])"
RENUMBERED = "category ids are not 1..n: written as classes 0..n-1 in category order"


def detect(path: Path) -> Detection:
    """Strong for a data.yaml (or a folder holding one) with ``names``, and label ``.txt``
    files in the ``labels`` folder beside its image folders."""
    yaml = find_yaml(path)
    if yaml is None:
        return Detection("no", "no data.yaml")
    try:
        data = read_yaml(yaml)
    except SegtoolError as exc:
        return Detection("no", f"{yaml.name}: {exc.message}")
    if not data.get("names"):
        return Detection("no", f"{yaml.name} has no 'names'")
    try:
        lay = layout(path)
    except SegtoolError as exc:
        return Detection("no", f"{yaml.name}: {exc.message}")
    for _, folder in lay.splits:
        labels = label_path(folder / "x").parent
        if labels != folder and labels.is_dir() and next(labels.rglob("*.txt"), None) is not None:
            return Detection("strong", f"{yaml.name} has names, and {labels.name}/ holds .txt labels")
    return Detection("no", f"{yaml.name} has names, but no labels/ folder with .txt files beside its images")


@dataclass(frozen=True, slots=True)
class YoloLabels:
    """Pixels of one image: its label file (None: no file, no objects), read when loaded."""

    path: str | None
    names: tuple[tuple[int, str], ...]

    def load(self, image: ImageInfo) -> Annotation:
        """One instance per line, drawn as Ultralytics' polygon2mask; ``raw``: each line's
        polygon in pixels."""
        h, w = image.height, image.width
        found = (
            [] if self.path is None else parse_labels(read_text(Path(self.path)), dict(self.names), self.path, STRICT)
        )
        rles, areas, boxes, raw = [], [], [], []
        for line in found:
            runs = masks.Runs(rasterise(line.points, h, w).astype(np.int32), 1)
            rles.append(runs.rles()[0])
            areas.append(runs.areas()[0])
            boxes.append(runs.bboxes()[0])
            raw.append([pixels(line.points, h, w).ravel().tolist()])
        segs = Segments.build(
            id=np.arange(1, len(found) + 1),
            category_id=[line.cls + 1 for line in found],
            area=np.asarray(areas, np.float64),
            bbox=np.asarray(boxes, np.float64).reshape(-1, 4),
        )
        return Annotation(image, segs, rles=tuple(rles), raw=tuple(raw), origin=self.path or "")


def read(path: Path, **_: Any) -> Dataset:
    """Read the dataset of a data.yaml (or the folder holding it): categories ``class + 1``
    named by ``names``; images 1..n, split by split, sorted by path, sized by their headers."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    lay = layout(path)
    files = image_files(lay)
    if not files:
        raise FormatError("no images in the data file's split folders", str(lay.yaml))
    cats = tuple(Category(k + 1, name, True) for k, name in lay.names.items())
    names = tuple(lay.names.items())
    samples = []
    for i, p in enumerate(files, start=1):
        try:
            h, w = image_size(p)
        except OSError as exc:
            raise SegtoolError(f"image {i}: cannot read the image ({exc})", str(p)) from None
        label = label_path(p)
        rel = p.relative_to(lay.root).as_posix() if p.is_relative_to(lay.root) else p.as_posix()
        source = YoloLabels(str(label) if label.is_file() else None, names)
        samples.append(Sample(ImageInfo(i, rel, h, w), source))
    return Dataset(cats, tuple(samples), "instance", {}, str(path))


# ---------------------------------------------------------------- write


def label_name(file_name: str) -> tuple[str, str]:
    """(split, the image's path in its split) of an image: ``images/<split>/x.jpg`` →
    (``<split>``, ``x.jpg``); any other name → (``train``, the name). Its label is
    ``labels/<split>/<name>.txt``, the name from :func:`.common.output_names` (the stem, or
    the path in the split when stems repeat: Ultralytics maps ``images/`` to ``labels/``)."""
    parts = Path(file_name).parts
    if "images" in parts:
        k = len(parts) - 1 - parts[::-1].index("images")
        if k + 2 < len(parts) and parts[k + 1] not in ("..", "."):
            return parts[k + 1], "/".join(parts[k + 2 :])
    return "train", file_name


def outer_polygons(mask: npt.NDArray[np.uint8]) -> tuple[list[npt.NDArray[np.float64]], bool]:
    """The outer outlines of a mask along pixel corners (so pycocotools draws each back to
    its pixels, holes aside), and whether it has a hole. Traced on the mask upsampled 2x,
    each vertex ``v`` mapped to ``ceil(v / 2)`` (as :func:`segtool.masks.polygons`)."""
    import cv2

    up = np.repeat(np.repeat(mask, 2, axis=0), 2, axis=1)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return [], False
    parents = hierarchy[0][:, 3]
    out = []
    for c, parent in zip(contours, parents, strict=True):
        if parent >= 0:
            continue
        pts = (c.reshape(-1, 2) + 1) // 2
        pts = pts[np.any(pts != np.roll(pts, 1, axis=0), axis=1)]
        if len(pts) >= 3:
            out.append(pts.astype(np.float64))
    return out, bool(np.any(parents >= 0))


def _raw_polygons(segm: Any) -> list[npt.NDArray[np.float64]] | None:
    """A source's COCO polygons (the ones Ultralytics' converter keeps: 3 points or more,
    whole pairs), or None when the segmentation is not a polygon list."""
    if not isinstance(segm, list) or not segm:
        return None
    out = [
        np.asarray(p, dtype=np.float64).reshape(-1, 2)
        for p in segm
        if isinstance(p, list) and len(p) >= 6 and not len(p) % 2 and all(type(v) in (int, float) for v in p)
    ]
    return out or None


def _object(
    k: int, rles: tuple[Any, ...], raw: Sequence[Any] | None, h: int, w: int, out: ImageResult
) -> npt.NDArray[np.float64] | None:
    """One object's polygon, normalised: the source's polygons when it has them, else its
    mask's outline; several joined."""
    polys = _raw_polygons(raw[k]) if raw is not None else None
    if polys is None:
        mask = masks.decode([rles[k]], h, w)[:, :, 0]
        polys, hole = outer_polygons(np.ascontiguousarray(mask))
        if hole:
            out.changed[HOLE] += 1
        if not polys:
            out.dropped["empty mask"] += 1
            return None
    if len(polys) > 1:
        out.changed[JOINED] += 1
    norm = join(polys) / np.array([w, h], dtype=np.float64)
    if norm.min() < 0 or norm.max() > 1:
        out.changed[CLIPPED] += 1
    return np.abs(np.clip(norm, 0.0, 1.0))


def _write_image(job: tuple[Sample, WriteContext, str]) -> ImageResult:
    sample, ctx, name = job
    ann = sample.load()
    if ann.rles is not None:
        segs, rles, raw, dropped = ann.segments, ann.rles, ann.raw, Counter[str]()
    else:
        res = resolve_for_write(ann, ctx)
        segs, rles, raw, dropped = res.measured(), tuple(res.runs().rles()), None, res.dropped
    out = ImageResult(dropped=+dropped)
    classes = {cid: i for i, cid in enumerate(ctx.names)}
    p = ctx.opts.precision
    lines = []
    for k in range(len(segs)):
        if segs.iscrowd[k]:
            out.dropped[CROWD] += 1
            continue
        poly = _object(k, rles, raw, ann.image.height, ann.image.width, out)
        if poly is None:
            continue
        coords = " ".join(f"{v:.{p}f}" for v in poly.ravel().tolist())
        lines.append(f"{classes[int(segs.category_id[k])]} {coords}\n")
        out.segments += 1
    target = Path(ctx.folder) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(lines), encoding="utf-8")
    return noted(out, ann)


def _yaml_text(splits: list[str], names: list[str]) -> str:
    """data.yaml as Ultralytics writes it; names double-quoted (JSON strings are YAML)."""
    head = ["path: .", *(f"{s}: images/{s}" for s in splits), "", "names:"]
    return "\n".join(head + [f"  {i}: {json.dumps(n)}" for i, n in enumerate(names)]) + "\n"


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write ``labels/<split>/<stem>.txt`` for every image and ``data.yaml`` into the folder
    ``tmp[0]``; classes are the categories' positions (0..n-1). The images are not copied:
    put them in ``images/<split>/``."""
    if not (isinstance(opts.precision, int) and 0 <= opts.precision <= 15):
        raise SegtoolError(f"precision must be a whole number of decimals in 0..15, not {opts.precision!r}")
    placed = [label_name(image_path(s.image)) for s in ds.samples]
    splits_of = [split for split, _ in placed]
    names = output_names([n for _, n in placed], str(dst), groups=splits_of, suffix=".txt")
    tmp[0].mkdir()
    ctx = WriteContext.of(ds, str(tmp[0]), opts)
    work = ((s, ctx, f"labels/{sp}/{n}") for s, sp, n in zip(ds.samples, splits_of, names, strict=True))
    results = list(run(_write_image, work))
    splits = sorted({s for s, _ in placed}, key=lambda s: (s not in ("train", "val", "test"), s))
    text = _yaml_text(splits or ["train"], [c.name for c in ds.categories])
    write_utf8(tmp[0] / "data.yaml", text, "a split or class name", dst)
    if [c.id for c in ds.categories] != list(range(1, len(ds.categories) + 1)) and results:
        results[0].changed[RENUMBERED] += len(ds.categories)
    return results


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates."""
    if dst.suffix.lower() in (".json", ".yaml", ".yml", ".txt"):
        raise SegtoolError("a yolo-seg destination is a folder", str(dst))
    return [dst]
