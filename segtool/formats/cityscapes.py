"""Cityscapes: the gtFine / gtCoarse tree ``<split>/<city>/<stem>_gtFine_*``.

An image is read from its ``labelIds.png`` and ``instanceIds.png`` (instance values
``id * 1000 + k`` for objects of labels with instances, the plain label id elsewhere: stuff,
and crowds of a thing label), or from its ``polygons.json`` alone, rasterised exactly as
cityscapesScripts' json2instanceImg / json2labelImg do (see :mod:`.cityscapes_rules`).
Categories come from the built-in label table (:mod:`.cityscapes_labels`): by default the
19 labels evaluated, ``ignoreInEval`` labels void, as createPanopticImgs and the
benchmarks read them; ``train_ids`` names them by trainId; ``all_labels`` keeps every label
(only ``unlabeled`` void), which a Cityscapes → Cityscapes round trip needs. Image ids are
the stems (``frankfurt_000000_000294``), as cityscapesScripts' panoptic JSONs name them;
``file_name`` is the photo's path under ``leftImg8bit/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import views
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Sample, Segments
from ..policy import STRICT
from .cityscapes_labels import BY_NAME, INSTANCE_BASE, LABELS, MAX_ID, Label
from .cityscapes_rules import (
    HAS_INSTANCES,
    PATTERN,
    Entry,
    check_maps,
    find,
    json_size,
    png_size,
    rasterise,
    read_pngs,
    source_of,
)
from .common import Detection, ImageResult, check_unique_names, load_json, noted, save_png
from .options import Job, WriteContext, WriteOptions, jobs, resolve_for_write

NAME = "cityscapes"
CHECKS = "cityscapes_checks"  # its checks (validate); its findings need a person: no --fix
PHOTO = "_leftImg8bit.png"
SOURCES = ("auto", "png", "polygons")


def detect(path: Path) -> Detection:
    """Strong for a folder with ``*_gtFine_*`` / ``*_gtCoarse_*`` files up to three folders
    down (``gtFine/<split>/<city>/``)."""
    if not path.is_dir():
        return Detection("no", "not a folder")
    for depth in range(4):
        for gt in ("gtFine", "gtCoarse"):
            for hit in path.glob("*/" * depth + f"*_{gt}_*"):
                if PATTERN.match(hit.name):
                    return Detection("strong", f"Cityscapes annotations ({hit.relative_to(path).as_posix()})")
    return Detection("no", "no <stem>_gtFine_/_gtCoarse_ labelIds, instanceIds or polygons files in <split>/<city>/")


def categories(*, train_ids: bool = False, all_labels: bool = False) -> tuple[Category, ...]:
    """The dataset's categories: the evaluated labels (by id or trainId), or every label but
    ``unlabeled``."""
    if train_ids and all_labels:
        raise SegtoolError("train_ids and all_labels exclude each other: void labels share trainId 255")
    chosen = [lab for lab in LABELS if lab.id > 0 and (all_labels or not lab.ignore_in_eval)]
    return tuple(
        Category(lab.train_id if train_ids else lab.id, lab.name, lab.has_instances, lab.color, lab.category)
        for lab in chosen
    )


def category_lut(cats: tuple[Category, ...]) -> npt.NDArray[np.int64]:
    """Category id of each label id 0..33 (-1: void)."""
    lut = np.full(MAX_ID + 1, -1, np.int64)
    for c in cats:
        lut[BY_NAME[c.name].id] = c.id
    return lut


@dataclass(frozen=True, slots=True)
class CityscapesImage:
    """Pixels of one image: its PNG pair or its polygons JSON, and the label id → category
    table (-1 void)."""

    files: tuple[tuple[str, str], ...]
    stem: str
    source: str  # "png" or "polygons"
    lut: tuple[int, ...]

    def maps(self, image: ImageInfo) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The instanceIds map, its values present and the label id of each, checked."""
        entry = Entry(self.stem, "", "", dict(self.files))
        if self.source == "polygons":
            labels, instances = None, rasterise(entry.files["polygons"], STRICT, image.id)
            origin = entry.files["polygons"]
        else:
            pair = read_pngs(entry, (image.width, image.height), STRICT)
            assert pair is not None  # the strict policy raises instead
            labels, instances = pair
            origin = entry.files["instances"]
        assert instances is not None
        found = check_maps(labels, instances, origin, STRICT, image.id)
        assert found is not None
        return instances, found[0], found[1]

    def load(self, image: ImageInfo) -> Annotation:
        """One segment per instance value (its id), crowd for a plain id of a thing label;
        void labels left out."""
        instances, present, cls = self.maps(image)
        cat = np.asarray(self.lut, np.int64)[cls]
        keep = cat >= 0
        lut = np.zeros(int(present[-1]) + 1 if present.size else 1, np.int32)
        lut[present[keep]] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        index = lut[np.asarray(instances).astype(np.int64, copy=False)]
        segs = Segments.build(
            id=present[keep], category_id=cat[keep], iscrowd=(present[keep] < INSTANCE_BASE) & HAS_INSTANCES[cls[keep]]
        )
        origin = dict(self.files).get("instances" if self.source == "png" else "polygons", "")
        return Annotation(image, views.measure(index, segs), id_map=index, origin=origin)


def _image(entry: Entry, source: str) -> ImageInfo:
    if source == "png":
        width, height = png_size(entry.files.get("labels", entry.files["instances"]))
    else:
        path = entry.files["polygons"]
        size = json_size(load_json(Path(path)), path, STRICT, entry.stem)
        assert size is not None
        width, height = size
    folder = f"{entry.folder}/" if entry.folder else ""
    return ImageInfo(entry.stem, f"{folder}{entry.stem}{PHOTO}", height, width)


def read(path: Path, *, train_ids: bool = False, all_labels: bool = False, source: str = "auto", **_: Any) -> Dataset:
    """Read a Cityscapes tree (``gtFine/``, one split or one city); pixels are decoded when a
    sample is loaded. ``source``: ``auto`` (PNGs where both are there, else the polygons),
    ``png`` or ``polygons``."""
    if not path.is_dir():
        raise FormatError("a cityscapes dataset is a folder (gtFine/<split>/<city>/)", str(path))
    if source not in SOURCES:
        raise SegtoolError(f"unknown cityscapes source {source!r}; choose one of {', '.join(SOURCES)}")
    cats = categories(train_ids=train_ids, all_labels=all_labels)
    lut = tuple(category_lut(cats).tolist())
    samples = []
    for entry in find(path, STRICT):
        chosen = source_of(entry, source, STRICT)
        assert chosen is not None
        files = tuple(sorted(entry.files.items()))
        samples.append(Sample(_image(entry, chosen), CityscapesImage(files, entry.stem, chosen, lut)))
    if not samples:
        raise FormatError("no Cityscapes annotations (<stem>_gtFine_labelIds.png …) in the folder", str(path))
    info = {"cityscapes": {"train_ids": train_ids, "all_labels": all_labels}}
    return Dataset(cats, tuple(samples), "panoptic", info, str(path))


def _labels_for(ctx: WriteContext, where: str) -> dict[int, Label]:
    """The Cityscapes label of each category, by name (ids may be label ids or trainIds)."""
    out = {}
    for cid, name in ctx.names.items():
        label = BY_NAME.get(name)
        if label is None or label.id < 0:
            raise SegtoolError(f"category {name!r} ({cid}) is not a Cityscapes label; rename it to one", where)
        out[cid] = label
    return out


def _place(file_name: str) -> tuple[str, str]:
    """The folder (relative, under the output) and stem of an image's outputs."""
    name = PurePosixPath(file_name.replace("\\", "/"))
    stem = name.name[: -len(PHOTO)] if name.name.endswith(PHOTO) else PurePosixPath(name.name).stem
    parent = name.parent
    if parent.is_absolute() or ".." in parent.parts or str(parent) == ".":
        parent = PurePosixPath(stem.split("_")[0])  # <city>_<seq>_<frame>: its city
    return parent.as_posix(), stem


def _write_image(job: Job) -> ImageResult:
    sample, ctx = job
    ann = sample.load()
    res = resolve_for_write(ann, ctx)
    by_category = _labels_for(ctx, ann.origin or ctx.folder)
    n = len(res.segments)
    label_ids = np.zeros(n + 1, np.int64)
    instance_ids = np.zeros(n + 1, np.int64)
    counts: dict[int, int] = {}
    for k in range(n):
        label = by_category[int(res.segments.category_id[k])]
        label_ids[k + 1] = instance_ids[k + 1] = label.id
        if label.has_instances and not res.segments.iscrowd[k]:  # json2instanceImg's numbering
            nth = counts[label.id] = counts.get(label.id, -1) + 1
            if nth >= INSTANCE_BASE:
                raise SegtoolError(
                    f"image {ann.image.id}: more than {INSTANCE_BASE} instances of {label.name}", ann.origin or None
                )
            instance_ids[k + 1] = label.id * INSTANCE_BASE + nth
    folder, stem = _place(ann.image.file_name)
    out = Path(ctx.folder) / folder
    out.mkdir(parents=True, exist_ok=True)
    labels = views.paint(res, label_ids.astype(np.uint8))
    save_png(labels, out / f"{stem}_gtFine_labelIds.png")
    save_png(views.paint(res, instance_ids.astype(np.uint16)), out / f"{stem}_gtFine_instanceIds.png")
    colors = np.zeros((MAX_ID + 1, 3), np.uint8)
    for lab in LABELS:
        if lab.id >= 0:
            colors[lab.id] = lab.color
    save_png(colors[labels], out / f"{stem}_gtFine_color.png")
    return noted(ImageResult([], n, res.dropped), ann)


def write(ds: Dataset, dst: Path, tmp: list[Path], opts: WriteOptions, run: Any) -> list[ImageResult]:
    """Write ``<folder>/<stem>_gtFine_{labelIds,instanceIds,color}.png`` into ``tmp[0]``
    (``<folder>``: the photo's folder in ``file_name``, else the stem's city); void and
    ``unlabeled`` are 0."""
    places = ["/".join(_place(s.image.file_name)) for s in ds.samples]
    check_unique_names(places, str(dst))
    tmp[0].mkdir()
    ctx = WriteContext.of(ds, str(tmp[0]), opts)
    _labels_for(ctx, str(dst))  # an unknown category is refused before any image is written
    return list(run(_write_image, jobs(ds, ctx)))


def targets(dst: Path, masks: Path | None = None) -> list[Path]:
    """The one folder a write creates (the gtFine root: ``<split>/<city>/`` below it)."""
    if dst.suffix.lower() == ".json":
        raise SegtoolError("a cityscapes destination is a folder, not a .json path", str(dst))
    return [dst]
