"""The format registry: the one place a format is named. Everything else reaches formats
through the functions here, never by importing a format module.

A format is a module with ``NAME`` and ``detect(path) -> Detection``, and any of:

* ``read(path, **opts) -> Dataset`` and ``targets(dst, masks)`` + ``write(ds, dst, tmp,
  opts, run)``: a dataset format (``FORMATS``: info, convert, validate, preview);
* ``read_predictions(path, gt, **opts) -> Predictions``: what eval and preview take as
  predictions (a results list has no images of its own: it is read against the ground truth);
* ``accepts(obj)`` + ``from_memory(obj, categories_or_gt)``: predictions held in memory;
* ``stream(path, **opts)`` / ``stream_predictions(path, **opts) -> pairing.Stream``: one
  image at a time, neither side held (PQ); other formats are read whole and streamed;
* ``CHECKS`` / ``FIXES``: the names of its checks and fixes modules beside it, with
  ``validate(path, options, *, jobs, progress) -> Report`` and ``fix(path, out, options, *,
  overwrite, jobs, progress) -> FixSummary`` (``segtool validate``, ``--fix``); imported
  only when used.

Adding a format is one module (plus its checks), one line in ``_MODULES``, its docs page
and its tests: see docs/architecture.md, "Adding a format".
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import labelmap, relabel
from ..errors import FormatError
from ..labelmap import LabelMap
from ..model import Category, Dataset
from ..pairing import Predictions, Stream, of_samples
from . import (
    ade20k,
    camvid,
    cityscapes,
    coco_instance,
    coco_panoptic,
    coco_results,
    cvat,
    kitti,
    label_studio,
    labelme,
    mapillary,
    mask_folder,
    mots,
    sa1b,
    semantic,
    voc,
    yolo_seg,
)
from .jsonstream import sketch as sketch  # re-exported: the guarded first look, for consumers

_MODULES: tuple[ModuleType, ...] = (
    coco_panoptic,
    coco_instance,
    semantic,
    coco_results,
    cityscapes,
    labelme,
    voc,
    sa1b,
    yolo_seg,
    ade20k,
    label_studio,
    kitti,
    cvat,
    camvid,
    mask_folder,
    mapillary,
    mots,
)
REGISTRY: dict[str, ModuleType] = {m.NAME: m for m in _MODULES}
FORMATS: dict[str, ModuleType] = {n: m for n, m in REGISTRY.items() if hasattr(m, "read")}


def format_names() -> list[str]:
    """Dataset format names as the CLI spells them (what ``--from`` and ``--to`` take)."""
    return list(FORMATS)


def names_with(capability: str) -> list[str]:
    """The formats that provide ``capability`` (``validate``, ``fix``, ``read_predictions`` …)."""
    return [n for n, m in REGISTRY.items() if hasattr(m, capability)]


def _choose(path: Path, names: list[str], what: str) -> str:
    """The one format of ``names`` that claims ``path``; otherwise an error listing why."""
    if not path.exists():
        raise FormatError("no such file or folder", str(path))
    if path.is_file() and path.suffix.lower() == ".json":
        sketch(path)  # a broken JSON file is reported as such, not as "unknown format"
    found = {name: REGISTRY[name].detect(path) for name in names}
    for level in ("strong", "weak"):
        hits = [n for n, d in found.items() if d.confidence == level]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise FormatError(f"ambiguous format: {', '.join(hits)} all match; pass --from", str(path))
    why = "; ".join(f"{n}: {d.reason}" for n, d in found.items())
    raise FormatError(f"unknown {what} ({why}); pass --from", str(path))


def detect(path: Path) -> str:
    """The one dataset format that claims ``path``."""
    return _choose(path, format_names(), "format")


def get(name: str) -> ModuleType:
    """The dataset format module called ``name``."""
    if name not in FORMATS:
        raise FormatError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
    return FORMATS[name]


def _companion(name: str, kind: str) -> ModuleType | None:
    """Format ``name``'s checks (``kind="CHECKS"``) or fixes (``"FIXES"``) module, if any."""
    module = getattr(REGISTRY.get(name), kind, None)
    return importlib.import_module(f"{__name__}.{module}") if module else None


def load_checks() -> None:
    """Import every format's checks, so the registry of check codes is complete."""
    for name in REGISTRY:
        _companion(name, "CHECKS")


def image_count(name: str, path: Path) -> int | None:
    """How many images format ``name``'s checks of ``path`` step through, when the format
    can say cheaply (its ``count_images``), so that progress has an end; else None."""
    counter = getattr(REGISTRY.get(name), "count_images", None)
    return None if counter is None else counter(Path(path))


def paint_order(name: str) -> str | None:
    """How format ``name``'s tool paints overlapping shapes into one picture (LabelMe: later
    shapes on top), when it has an order of its own: its reader then takes ``flatten=True``."""
    return getattr(REGISTRY.get(name), "PAINT_ORDER", None)


def holds_overlaps(name: str) -> bool:
    """Whether format ``name`` can write overlapping instances as they are."""
    return bool(getattr(REGISTRY.get(name), "OVERLAPS", False))


def read_options(name: str) -> set[str]:
    """The keyword options format ``name``'s reader takes (``train_ids``, ``category`` …)."""
    reader = get(name).read
    params = inspect.signature(reader).parameters.values()
    return {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def validator(name: str) -> Callable[..., Any]:
    """Format ``name``'s ``validate``, or a one-line error naming the formats that have one."""
    return _entry(name, "CHECKS", "validate", lambda have: f"validate checks {have} datasets, not {name}")


def fixer(name: str) -> Callable[..., Any]:
    """Format ``name``'s ``fix``, or a one-line error naming the formats that have one."""
    return _entry(name, "FIXES", "fix", lambda have: f"{name} findings need a person's decision; --fix takes {have}")


def _entry(name: str, kind: str, function: str, refusal: Callable[[str], str]) -> Callable[..., Any]:
    module = _companion(name, kind)
    if module is None:
        raise FormatError(refusal(", ".join(names_with(kind))))
    return getattr(module, function)  # type: ignore[no-any-return]


def targets(name: str, dst: Path, masks: Path | None = None) -> list[Path]:
    """The paths a write (or a fixed copy) of format ``name`` at ``dst`` creates."""
    return get(name).targets(dst, masks)  # type: ignore[no-any-return]


def read_combined(semantic_dir: Path, instances: Path, **opts: Any) -> Dataset:
    """A panoptic dataset from a semantic folder and instances (panopticapi's heuristic,
    see :mod:`.combine`)."""
    from .combine import read as combined

    return combined(semantic_dir, instances, **opts)


def read(path: Path | str, fmt: str | None = None, **opts: Any) -> Dataset:
    """Read a dataset in ``fmt`` (detected when ``None``); options a format lacks are ignored.

    ``labels`` (a label-map file or :class:`~segtool.labelmap.LabelMap`) remaps the
    categories as the dataset is read; a reader of label PNGs that takes it applies it
    itself, as it may describe its pixel values too (see :mod:`segtool.labelmap`)."""
    path = Path(path)
    name = fmt or detect(path)
    given = {k: v for k, v in opts.items() if v is not None}
    labels = _label_map(given.pop("labels", None))
    if labels is None:
        return get(name).read(path, **given)  # type: ignore[no-any-return]
    if "labels" in read_options(name):  # a reader of label PNGs: the map describes its pixels too
        return get(name).read(path, **given, labels=labels)  # type: ignore[no-any-return]
    return relabel.apply(get(name).read(path, **given), labels)


def _label_map(labels: Any) -> LabelMap | None:
    """A label map from a path or an already parsed one."""
    if labels is None or isinstance(labels, LabelMap):
        return labels
    return labelmap.load(labels)


def detect_predictions(path: Path) -> str:
    """The format of a prediction file or folder: one that reads predictions against a
    ground truth claims it first; a plain dataset otherwise."""
    try:
        return _choose(path, names_with("read_predictions"), "prediction format")
    except FormatError as exc:
        if not path.exists() or exc.message.startswith("ambiguous"):
            raise
        return detect(path)


def read_predictions(path: Path | str, gt: Dataset, fmt: str | None = None, **opts: Any) -> Predictions:
    """Predictions at ``path`` for the ground truth ``gt`` (the pairing checks them against
    its images): read by the format's own ``read_predictions`` when it has one (images and
    categories come from ``gt``), else read as a dataset and paired by image id."""
    path = Path(path)
    name = fmt or detect_predictions(path)
    given = {k: v for k, v in opts.items() if v is not None}
    labels = _label_map(given.pop("labels", None))
    reader = getattr(REGISTRY.get(name), "read_predictions", None)
    if reader is None:
        return Predictions.of(read(path, name, **given, labels=labels))
    if labels is not None and "labels" in inspect.signature(reader).parameters:
        return reader(path, gt, **given, labels=labels)  # type: ignore[no-any-return]
    if labels is None:
        return reader(path, gt, **given)  # type: ignore[no-any-return]
    known = {c.id for c in gt.categories}  # predictions name the source ids the map lists
    listed = tuple(Category(i, f"category {i}") for i in labels.id_table() if i not in known)
    preds = reader(path, dataclasses.replace(gt, categories=gt.categories + listed), **given)
    return relabel.predictions(preds, labels, gt.categories)


def from_memory(predictions: Any, gt: Dataset | tuple[Category, ...], **opts: Any) -> Predictions:
    """In-memory predictions (a list of COCO detection dicts; a mapping of image id to (id
    map, segments_info)) through the format that accepts them."""
    for module in REGISTRY.values():
        accepts = getattr(module, "accepts", None)
        if accepts is not None and accepts(predictions):
            return module.from_memory(predictions, gt, **opts)  # type: ignore[no-any-return]
    raise FormatError(
        f"in-memory predictions must be a list of COCO detection dicts or a mapping of image id to "
        f"(id map, segments_info), not {type(predictions).__name__}"
    )


def stream(path: Path | str, fmt: str | None = None, **opts: Any) -> Stream:
    """A dataset one image at a time: the format's own ``stream`` when it has one (neither
    the file nor its segment tables held), else its samples read whole."""
    path = Path(path)
    name = fmt or detect(path)
    given = {k: v for k, v in opts.items() if v is not None}
    streamer = getattr(get(name), "stream", None)
    if streamer is not None and "labels" not in given:
        return streamer(path, **given)  # type: ignore[no-any-return]
    ds = read(path, name, **given)
    return of_samples(ds.samples, str(path), ds.categories)


def stream_predictions(path: Path | str, fmt: str | None = None, *, by: str | None = None, **opts: Any) -> Stream:
    """Predictions one image at a time, for formats that stream them; ``by`` (``panoptic``,
    ``instance``): the evaluation asking, which takes only the formats whose ``SCORED_BY``
    names it."""
    path = Path(path)
    name = fmt or detect_predictions(path)
    module = REGISTRY.get(name)
    streamer = getattr(module, "stream_predictions", None)
    if streamer is None or (by is not None and by not in getattr(module, "SCORED_BY", ())):
        scored = " and ".join(f"eval {e}" for e in getattr(module, "SCORED_BY", ()))
        have = [n for n in names_with("stream_predictions") if by is None or by in REGISTRY[n].SCORED_BY]
        asking = f"eval {by}" if by else "this evaluation"
        hint = f" (scored by {scored})" if scored else ""
        raise FormatError(f"these predictions are {name}{hint}; {asking} takes {', '.join(have)}", str(path))
    return streamer(path, **{k: v for k, v in opts.items() if v is not None})  # type: ignore[no-any-return]
