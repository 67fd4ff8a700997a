"""The canonical in-memory model: every format is read into it and written from it.

Metadata (categories, image records, segment tables) is held whole; pixels are read only by
:meth:`Sample.load`, one image at a time, and never cached, so memory does not grow with the
number of images beyond the metadata.

An :class:`Annotation` carries exactly one pixel encoding:

* ``id_map``: an ``(H, W)`` ``int32`` *index map*. Pixel value ``k > 0`` belongs to
  ``segments[k - 1]``; ``0`` is void. Segments are disjoint (panoptic and semantic sources).
* ``rles``: one pycocotools RLE per segment; masks may overlap (instance sources).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeGuard, runtime_checkable

import numpy as np
import numpy.typing as npt

from .errors import SegtoolError

Kind = Literal["panoptic", "instance", "semantic"]


@dataclass(frozen=True, slots=True)
class Category:
    """A category; ``isthing`` separates countable things from amorphous stuff."""

    id: int
    name: str
    isthing: bool = True
    color: tuple[int, int, int] | None = None
    supercategory: str = ""
    # LVIS' frequency group (r, c or f: its images in LVIS' training set), which LVIS'
    # federated AP averages over (APr, APc, APf); None for other sources
    frequency: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """COCO-style record (``isthing`` as 0/1, as panopticapi writes it)."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "supercategory": self.supercategory,
            "isthing": int(self.isthing),
        }
        if self.color is not None:
            out["color"] = list(self.color)
        if self.frequency is not None:
            out["frequency"] = self.frequency
        return out


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """An image record. ``extra`` keeps the source's other keys (``coco_url``, ``license`` …).
    ``id`` is an integer or a string, kept as the source wrote it (cityscapesScripts' panoptic
    JSONs and other tools name images by strings); ``"2299"`` and ``2299`` are different ids."""

    id: int | str
    file_name: str
    height: int
    width: int
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    # the photo the format's own layout pairs with this image (Cityscapes' _leftImg8bit.png,
    # VOC's JPEGImages/<stem>.jpg), where the reader found its tree; "" when it names none.
    # Not a record field: a path on this machine is never written into an output.
    photo: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """COCO ``images`` record, with the extra keys the source carried."""
        return {
            **self.extra,
            "id": self.id,
            "file_name": self.file_name,
            "height": self.height,
            "width": self.width,
        }


def _as(values: Any, dtype: type, n: int | None = None) -> npt.NDArray[Any]:
    arr: npt.NDArray[Any] = np.asarray(values, dtype=dtype)
    if n is not None and arr.shape[:1] != (n,):
        raise SegtoolError(f"segment table: expected {n} values, got shape {arr.shape}")
    return arr


def _boxes(values: Any, n: int) -> npt.NDArray[np.float64]:
    arr = _as(values, np.float64, n)
    if arr.size != 4 * n:
        raise SegtoolError(f"segment table: bbox must have shape ({n}, 4), got {arr.shape}")
    return arr.reshape(n, 4)


@dataclass(frozen=True, slots=True)
class Segments:
    """The segments of one image as a struct of arrays, all of length ``n``.

    A struct of arrays keeps checks and metrics vectorised (``seg[seg.iscrowd]``). ``id`` is
    ``int64`` because COCO instance ids exceed 2**31 (crowd ids such as 900100397133).
    ``bbox`` is ``(n, 4)`` ``float64`` ``[x, y, w, h]``, COCO convention (w = xmax - xmin + 1).
    """

    id: npt.NDArray[np.int64]
    category_id: npt.NDArray[np.int64]
    iscrowd: npt.NDArray[np.bool_]
    area: npt.NDArray[np.float64]
    bbox: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        n = len(self.id)
        for name in ("category_id", "iscrowd", "area"):
            if len(getattr(self, name)) != n:
                raise SegtoolError(f"segment table: {name} has {len(getattr(self, name))} rows, id has {n}")
        if self.bbox.shape != (n, 4):
            raise SegtoolError(f"segment table: bbox must have shape ({n}, 4), got {self.bbox.shape}")
        if self.score is not None and len(self.score) != n:
            raise SegtoolError(f"segment table: score has {len(self.score)} rows, id has {n}")

    @classmethod
    def build(
        cls,
        id: Sequence[int] | npt.ArrayLike,
        category_id: Sequence[int] | npt.ArrayLike,
        iscrowd: Sequence[bool] | npt.ArrayLike | None = None,
        area: Sequence[float] | npt.ArrayLike | None = None,
        bbox: Sequence[Sequence[float]] | npt.ArrayLike | None = None,
        score: Sequence[float] | npt.ArrayLike | None = None,
    ) -> Segments:
        """Build from plain sequences; missing columns default to 0 / False."""
        ids = _as(id, np.int64)
        n = len(ids)
        return cls(
            id=ids,
            category_id=_as(category_id, np.int64, n),
            iscrowd=_as(np.zeros(n) if iscrowd is None else iscrowd, np.bool_, n),
            area=_as(np.zeros(n) if area is None else area, np.float64, n),
            bbox=_boxes(np.zeros((n, 4)) if bbox is None or n == 0 else bbox, n),
            score=None if score is None else _as(score, np.float64, n),
        )

    @classmethod
    def empty(cls) -> Segments:
        """A table with no segments."""
        return cls.build([], [])

    def __len__(self) -> int:
        return len(self.id)

    def __getitem__(self, idx: Any) -> Segments:
        """Select rows by int, slice, index array or boolean mask."""
        if isinstance(idx, (int, np.integer)):
            idx = [idx]
        return Segments(
            id=self.id[idx],
            category_id=self.category_id[idx],
            iscrowd=self.iscrowd[idx],
            area=self.area[idx],
            bbox=self.bbox[idx].reshape(-1, 4),
            score=None if self.score is None else self.score[idx],
        )

    def replace(self, **columns: Any) -> Segments:
        """A copy with some columns replaced."""
        cols = {name: getattr(self, name) for name in ("id", "category_id", "iscrowd", "area", "bbox", "score")}
        cols.update(columns)
        return Segments(**cols)


@dataclass(frozen=True, slots=True)
class Annotation:
    """One loaded image: its segment table and exactly one pixel encoding (see module doc)."""

    image: ImageInfo
    segments: Segments
    id_map: npt.NDArray[np.int32] | None = None
    rles: tuple[dict[str, Any], ...] | None = None
    raw: Sequence[Any] | None = None  # source segmentation objects (instance sources only), one a segment
    origin: str = ""  # the file the pixels came from, for error messages
    runs: Any = None  # masks.Runs of the index map, when the source computed them
    # what the reader could not carry or had to decide (reason -> count: a LabelMe line shape,
    # pixels a tool's painting order gave to one of two shapes); convert adds it to its summary
    dropped: Mapping[str, int] | None = None
    changed: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        if (self.id_map is None and self.runs is None) == (self.rles is None):
            raise SegtoolError("an annotation carries exactly one of an index map (or its runs) and rles")
        shape = (self.image.height, self.image.width)
        if self.id_map is not None and self.id_map.shape != shape:
            raise SegtoolError(f"id map shape {self.id_map.shape} differs from image size {shape}")
        if self.runs is not None and tuple(self.runs.shape) != shape:
            raise SegtoolError(f"runs of shape {self.runs.shape} differ from image size {shape}")
        if self.rles is not None and len(self.rles) != len(self.segments):
            raise SegtoolError(f"{len(self.rles)} masks for {len(self.segments)} segments")

    def index_map(self) -> npt.NDArray[np.int32]:
        """The index map (``k`` → ``segments[k-1]``, 0 void). Sources that measured runs keep
        only those; the map is expanded from them on demand (metrics never need it)."""
        if self.id_map is not None:
            return self.id_map
        if self.runs is None:
            raise SegtoolError("an instance annotation has masks, not an index map; resolve it first")
        index: npt.NDArray[np.int32] = self.runs.index_map()
        return index


class Source(Protocol):
    """Where one image's pixels come from. Implementations are small and picklable.

    ``load`` is all a consumer may rely on. A source may also declare capabilities, which
    consumers use through this module only (never by importing a format): the protocols
    below, checked with ``isinstance``, each with a generic fallback through ``load``, and
    ``decodes_pixels`` (a class attribute; True when absent): False says that loading costs
    no pixel decoding (RLE strings, polygons), so shipping an image to a worker costs as
    much as the work itself; ``segments`` (a :class:`Segments`): the table is known before
    any pixel is read (see :func:`listed_segments`).
    """

    def load(self, image: ImageInfo) -> Annotation:
        """Read the pixels and return the loaded annotation (raises SegtoolError on bad input)."""
        ...


@runtime_checkable
class PanopticPixels(Protocol):
    """Capability: the pixels are panoptic ids (``R + 256·G + 256²·B``) of ``segments.id``,
    readable as raw RGB, so PQ counts pairs straight from two of them (one C pass)."""

    segments: Segments

    def rgb(self, image: ImageInfo) -> npt.NDArray[np.uint8] | None:
        """``(H, W, 3)`` RGB ids, size checked; None for an image with no pixels (all void)."""
        ...

    def check_ids(self, image: ImageInfo, unknown: npt.NDArray[np.int64], area: npt.NDArray[np.int64]) -> None:
        """Raise when the pixels and the segment table disagree (unlisted ids, empty segments)."""
        ...


@runtime_checkable
class LabelPixels(Protocol):
    """Capability: the pixels are a label map of category ids with an ignore value, so
    mIoU reads the map itself instead of segments painted back into one."""

    ignore_value: int

    def labels(self, image: ImageInfo) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The checked label map and the sorted values present in it."""
        ...

    def pixels8(self, image: ImageInfo) -> npt.NDArray[np.uint8] | None:
        """The raw 8-bit map when the file is one (values unchecked), else None."""
        ...

    def check_values(self, image: ImageInfo, counts: npt.NDArray[np.int64]) -> None:
        """Raise when a value with pixels (``counts[v] > 0``) is neither a category nor ignored."""
        ...


@runtime_checkable
class Deferred(Protocol):
    """Capability: a source that still holds its raw record and parses it where it is
    loaded (in a worker), so the process that streams the JSON stays light."""

    def resolve(self, categories: frozenset[int] | None = None) -> Source:
        """The parsed source; its categories checked against ``categories`` when given."""
        ...


_CAPABLE: dict[tuple[type, str], bool] = {}


def _capable(source: object, capability: Any) -> bool:
    """``isinstance(source, capability)``, decided once per source class: a runtime protocol
    check walks every member each time (10 us; 7% of PQ's work per image, four times a pair)."""
    key = (type(source), capability.__name__)
    known = _CAPABLE.get(key)
    if known is None:
        known = _CAPABLE[key] = isinstance(source, capability)
    return known


def has_panoptic_pixels(source: object) -> TypeGuard[PanopticPixels]:
    """Whether ``source`` declares :class:`PanopticPixels`."""
    return _capable(source, PanopticPixels)


def has_label_pixels(source: object) -> TypeGuard[LabelPixels]:
    """Whether ``source`` declares :class:`LabelPixels`."""
    return _capable(source, LabelPixels)


def is_deferred(source: object) -> TypeGuard[Deferred]:
    """Whether ``source`` declares :class:`Deferred`."""
    return _capable(source, Deferred)


def decodes_pixels(source: Any) -> bool:
    """Whether loading ``source`` decodes pixels (see :class:`Source`)."""
    return bool(getattr(source, "decodes_pixels", True))


def listed_segments(source: Any) -> Segments | None:
    """The segment table a source knows before reading any pixel (its ``segments``
    attribute: a JSON's ``segments_info`` or annotations), or None: statistics then cost no
    decoding."""
    segs = getattr(source, "segments", None)
    return segs if isinstance(segs, Segments) else None


@dataclass(frozen=True, slots=True)
class Sample:
    """A lazy image: what a worker process receives. ``load()`` reads its pixels."""

    image: ImageInfo
    source: Source

    def load(self) -> Annotation:
        """Read this image's pixels through its source."""
        return self.source.load(self.image)


@dataclass(frozen=True)
class Dataset:
    """Categories, lazy samples and the source's top-level metadata (``info``, ``licenses``).

    ``kind`` says what the source's segments mean: ``panoptic`` (disjoint instances and stuff),
    ``instance`` (possibly overlapping masks) or ``semantic`` (one segment per class present).
    """

    categories: tuple[Category, ...]
    samples: tuple[Sample, ...]
    kind: Kind
    info: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    def category_map(self) -> dict[int, Category]:
        """Categories by id."""
        return {c.id: c for c in self.categories}

    def thing_ids(self) -> npt.NDArray[np.int64]:
        """Sorted ids of the thing categories."""
        return np.array(sorted(c.id for c in self.categories if c.isthing), dtype=np.int64)


def category_colors(categories: tuple[Category, ...]) -> dict[int, tuple[int, int, int]]:
    """Each category's color, or a stable made-up one when it has none."""
    out: dict[int, tuple[int, int, int]] = {}
    for c in categories:
        if c.color is not None:
            out[c.id] = c.color
        else:
            rng = np.random.default_rng(c.id % (1 << 63))  # seeds are non-negative; ids need not be
            r, g, b = (int(v) for v in rng.integers(32, 224, size=3))
            out[c.id] = (r, g, b)
    return out
