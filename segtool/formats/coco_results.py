"""COCO results files (a list of detections), read as pycocotools' ``COCO.loadRes`` reads them.

Each detection: ``image_id``, ``category_id``, ``score`` and a ``segmentation`` (RLE or
polygons) and/or ``bbox``. As in ``loadRes``: detection ids are 1..N in file order;
``iscrowd`` is 0; when the *first* detection has a non-empty ``bbox``, every detection's area
is its box's w·h (even for segm evaluation) and a missing segmentation is its box as a
polygon; otherwise areas are mask areas and missing boxes come from the masks.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from .. import limits, masks
from ..errors import FormatError, SegtoolError
from ..model import Annotation, Category, Dataset, ImageInfo, Segments
from ..pairing import ImageId, Predictions, Stream
from .coco_tables import JSON, Runs, column, decode
from .coco_tables import pack as pack_mask
from .common import Detection, compressed_rle, image_id, int_field, limit, load_json
from .jsonstream import NOT_JSON, items, json_sketch, layout

NAME = "coco-results"
SCORED_BY = ("instance",)  # the evaluations that take its predictions
MEMORY = "<in-memory detections>"


def detect(path: Path) -> Detection:
    """Strong for a JSON list (a results file) or a dataset whose annotations carry scores."""
    data, why = json_sketch(path)
    if data is NOT_JSON:
        return Detection("no", why)
    if isinstance(data, list):
        return Detection("strong", "a list of detections")
    anns = data.get("annotations") if isinstance(data, dict) else None
    if isinstance(anns, list) and anns and isinstance(anns[0], dict) and "score" in anns[0]:
        if "segments_info" not in anns[0]:
            return Detection("strong", "annotations carry a score")
    return Detection("no", "neither a list of detections nor scored annotations")


@dataclass(frozen=True, slots=True)
class Detections:
    """One image's detections as compact columns, turned into RLEs only where they are
    loaded (in a worker process, or where they are scored), so reading a large results file
    stays cheap: ``ids`` (1-based place in the file), ``category_id``, ``score``, ``boxes``
    (``[x, y, w, h]`` rows; None when no detection has one), ``given`` (which have a box;
    None: all, when ``boxes`` is given), ``masks`` (the ``segmentation`` objects packed as
    text by :func:`.coco_tables.pack`, or held as they are for in-memory detections)."""

    decodes_pixels: ClassVar[bool] = False  # RLE strings and polygons only: light per-image work

    ids: npt.NDArray[np.int64]
    category_id: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]
    boxes: npt.NDArray[np.float64] | None
    given: npt.NDArray[np.bool_] | None
    masks: str | tuple[Any, ...]
    by_box: bool
    iou_type: str
    path: str

    def load(self, image: ImageInfo) -> Annotation:
        """The detections as loadRes makes them: ids 1..N in file order, iscrowd 0, areas
        from the boxes or the masks, boxes given or from the masks, scores."""
        return _annotation(self, image)


def read_predictions(path: Path, gt: Dataset, iou_type: str = "segm", **_: Any) -> Predictions:
    """A results file as predictions by image id (see :func:`read_file`)."""
    return Predictions(read_file(path, gt, iou_type), "id", str(path))


def accepts(predictions: Any) -> bool:
    """In-memory detections: a list of COCO detection dicts (pycocotools' ``loadRes`` input)."""
    return isinstance(predictions, list)


def from_memory(
    predictions: list[Any], gt: Dataset | tuple[Category, ...], iou_type: str = "segm", **_: Any
) -> Predictions:
    """In-memory detections, checked and grouped as a results file's."""
    if not isinstance(gt, Dataset):
        raise SegtoolError("in-memory detections are scored against a ground-truth dataset (eval instance)")
    return Predictions(group(predictions, gt, iou_type, MEMORY), "id", MEMORY)


def read_file(path: Path, gt: Dataset, iou_type: str = "segm") -> dict[ImageId, Detections]:
    """Detections by image id; an image or category the ground truth lacks is an error, and
    so is a value loadRes would stumble on: a score that is not a finite number, a box that
    is not four finite numbers (or none, when the first detection's box gives every area).

    The list is streamed (a results file, or a dataset's ``annotations``); a file in another
    encoding than UTF-8 (which the stream does not read) is parsed whole.
    """
    return group(_records(path), gt, iou_type, str(path), pack=True)


def _records(path: Path) -> Iterable[Any]:
    """The detection records of a results file (or of a dataset's ``annotations``): a
    stream, opened when it is first read; parsed whole in another encoding than UTF-8."""
    found = layout(path)
    if found.encoding != "utf-8":
        data = load_json(path)
        if isinstance(data, dict) and "annotations" in data:
            data = data["annotations"]
        if not isinstance(data, list):
            raise SegtoolError("expected a COCO results list (or a dataset with 'annotations')", str(path))
        return data
    found.checked()
    if found.kind == "object" and found.keys.get("annotations") == b"[":
        return items(path, "annotations.item")
    if found.kind != "array":
        raise SegtoolError("expected a COCO results list (or a dataset with 'annotations')", str(path))
    return items(path, "item")


BATCH = 4096  # detections grouped at a time by stream_predictions (~60 bytes each as columns)


def stream_predictions(path: Path, *, gt: Dataset | None = None, iou_type: str = "segm", **_: Any) -> Stream:
    """A results file one image at a time, for eval instance against ``gt`` (its images
    and categories; the Dataset is not kept): one pass over the file, whose detections are
    grouped by image a batch of about :data:`BATCH` at a time (a batch ends where an
    image's detections do), each image's :class:`Detections` as :func:`read_file` makes them
    (the same ids, checks and messages), images in the order the file lists them.

    When the first batch already has an image's detections apart (a file sorted by score,
    or by category), the rest is grouped whole in the same pass and every image comes once,
    held. An image whose detections come again in a later batch comes twice, which
    :func:`segtool.pairing.ranked` refuses: the file is then read again, whole. Its image
    ids are not known ahead (``listed`` False).
    """
    if gt is None:
        raise FormatError(f"these predictions are {NAME} (detections), scored by eval instance", str(path))
    images = {s.image.id: s.image for s in gt.samples}
    known = {c.id for c in gt.categories}
    where = str(path)

    def sources() -> Iterator[tuple[ImageId, Detections]]:
        dets = iter(_records(path))
        first = next(dets, _END)
        if first is _END:
            return
        by_box = isinstance(first, dict) and bool(first.get("bbox"))  # the file's first detection decides
        start = 0
        batches = _batches(chain([first], dets), BATCH)
        for batch in batches:
            found = _group(batch, images, known, iou_type, where, pack=True, wide=True, start=start, by_box=by_box)
            if start == 0 and any(int(d.ids[-1] - d.ids[0]) + 1 != len(d.ids) for d in found.values()):
                rest = chain.from_iterable(batches)  # not grouped by image: the rest read whole, then joined
                start = sum(len(d.ids) for d in found.values())
                more = _group(rest, images, known, iou_type, where, pack=True, wide=True, start=start, by_box=by_box)
                for iid, d in more.items():
                    found[iid] = _joined(iid, found[iid], d) if iid in found else d
                yield from found.items()
                return
            start += sum(len(d.ids) for d in found.values())
            yield from found.items()

    return Stream(np.zeros(0, np.int64), sources, where, gt.categories, listed=False)


def _joined(iid: ImageId, a: Detections, b: Detections) -> Detections:
    """Image ``iid``'s detections from two parts of the file, ``a``'s first (file order)."""
    n = len(a.ids) + len(b.ids)
    if n > limit("segments"):
        limits.check("segments", n, f"image {iid}: detections", Path(a.path))
    boxes = given = None
    if a.boxes is not None or b.boxes is not None:
        boxes = np.concatenate([_boxes_of(a), _boxes_of(b)])
        if not a.by_box:  # which have a box (with by_box, every one has)
            given = np.concatenate([_given_of(a), _given_of(b)])
    return Detections(
        np.concatenate([a.ids, b.ids]),
        np.concatenate([a.category_id, b.category_id]),
        np.concatenate([a.score, b.score]),
        boxes,
        given,
        f"{a.masks}\n{b.masks}" if isinstance(a.masks, str) and isinstance(b.masks, str) else (*a.masks, *b.masks),
        a.by_box,
        a.iou_type,
        a.path,
    )


def _boxes_of(d: Detections) -> npt.NDArray[np.float64]:
    return np.zeros((len(d.ids), 4)) if d.boxes is None else d.boxes


def _given_of(d: Detections) -> npt.NDArray[np.bool_]:
    if d.boxes is None:
        return np.zeros(len(d.ids), np.bool_)
    return np.ones(len(d.ids), np.bool_) if d.given is None else d.given


def _batches(dets: Iterator[Any], size: int) -> Iterator[Iterator[Any]]:
    """``dets`` in batches of at least ``size``, each ending where an image's detections do
    (the next one is of another image, or there is none). A batch is read to its end
    before the next is asked for."""
    first = next(dets, _END)
    head = [] if first is _END else [first]
    while head:
        yield _batch(head, dets, size)


def _batch(head: list[Any], dets: Iterator[Any], size: int) -> Iterator[Any]:
    """One batch of :func:`_batches`, from ``head``'s detection; the first detection past
    it is left in ``head``."""
    yield head.pop()
    yield from islice(dets, size - 2)
    last = next(dets, _END)
    if last is _END:
        return
    yield last
    image = last.get("image_id", _END) if type(last) is dict else _END
    for det in dets:
        if (det.get("image_id", _END) if type(det) is dict else _END) != image:
            head.append(det)
            return
        yield det


def group(
    data: Iterable[Any], gt: Dataset, iou_type: str, where: str, *, pack: bool = False, wide: bool = True
) -> dict[ImageId, Detections]:
    """Detections grouped by image id, each checked (see :func:`read_file`); errors name
    ``where``. With ``pack``, their segmentations are kept as text (parsed JSON, which reads
    back as it was); otherwise as they are (in-memory detections may hold bytes, arrays).
    ``wide``: integers may exceed 64 bits (the json module's, or Python's), so numbers are
    converted one by one."""
    images = {s.image.id: s.image for s in gt.samples}
    return _group(data, images, {c.id for c in gt.categories}, iou_type, where, pack=pack, wide=wide)


def _group(
    data: Iterable[Any],
    images: dict[ImageId, ImageInfo],
    known: set[int],
    iou_type: str,
    where: str,
    *,
    pack: bool,
    wide: bool,
    start: int = 0,
    by_box: bool | None = None,
) -> dict[ImageId, Detections]:
    """:func:`group` of the detections from #``start`` of a file on (their ids and messages
    count from there), the first detection's box deciding ``by_box`` unless it is given."""
    path = Path(where)
    dets = iter(data)
    first = next(dets, _END)
    if by_box is None:
        by_box = isinstance(first, dict) and bool(first.get("bbox"))  # the first detection decides
    rows = _Rows(images, by_box, pack, start)
    order, sizes, runs, lines = rows.order, rows.sizes, rows.runs, rows.runs.lines
    category, score_col, boxes = rows.category.append, rows.score.append, rows.boxes.extend
    i = run = -1
    score: Any
    box: Any
    for i, det in enumerate(chain([first], dets) if first is not _END else ()):
        # the common case in one expression (this runs once per detection); anything else
        # goes through the checks that name the problem
        plain = type(det) is dict
        iid = det.get("image_id") if plain else None
        cid = det.get("category_id") if plain else None
        score = det.get("score") if plain else None
        box = det.get("bbox") if plain else None
        if not (
            (type(iid) is int or type(iid) is str)
            and iid in images
            and type(cid) is int
            and cid in known
            and (type(score) is float or type(score) is int)
            and score - score == 0  # finite
            and (box is None if not by_box else is_box(box))
            and ("segmentation" in det or by_box)
        ):
            iid, cid = _check(start + i, det, images, known, by_box, path)
        pos = order.get(iid)
        if pos is None:
            pos = order[iid] = len(order)
            sizes.append([images[iid].height, images[iid].width])
        if pos != run:
            runs.at(pos, i)
            run = pos
        category(cid)
        if wide:
            rows.numbers(i, score, box, path)
        else:  # yajl's numbers: 64-bit integers and doubles, each a double
            score_col(score)
            if by_box:
                boxes(box)
            elif box:
                rows.given(i, box)
        segm = det.get("segmentation")
        if not pack:
            rows.held.setdefault(pos, []).append(segm)
            continue
        size = sizes[pos]
        counts = segm.get("counts") if type(segm) is dict else None
        if type(counts) is str and "\n" not in counts and counts[:1] != JSON and segm.get("size") == size:
            lines.append(counts)
        else:
            lines.append(pack_mask(segm, size[0], size[1]))
    runs.end(i + 1)
    return rows.grouped(iou_type, where)


_END = object()


class _Rows:
    """Detections in file order as columns of machine numbers and packed segmentations
    (see :mod:`.coco_tables`), grouped by image at the end, in order of first appearance.
    A detection's id is its row + 1; boxes are a column when the first detection has one
    (then all do), else noted for the rows that have one."""

    def __init__(self, images: dict[ImageId, ImageInfo], by_box: bool, pack: bool, start: int = 0) -> None:
        self.images, self.by_box, self.pack = images, by_box, pack
        self.start = start  # the file's detection number of the first row
        self.order: dict[ImageId, int] = {}  # image id -> its place among the images seen
        self.sizes: list[list[int]] = []  # [height, width] of each image seen
        self.category, self.score, self.boxes = array("q"), array("d"), array("d")
        self.boxed = array("q")  # rows with a box, when not every detection has one
        self.runs = Runs()
        self.held: dict[int, list[Any]] = {}

    def given(self, row: int, box: list[Any]) -> None:
        """Row ``row`` has a box (not every detection has one)."""
        self.boxed.append(row)
        self.boxes.extend(box)

    def numbers(self, row: int, score: Any, box: Any, path: Path) -> None:
        """Score and box of detection ``#row`` as doubles, one by one (an integer past any
        double is an error)."""
        try:
            values = [float(score), *((float(v) for v in box) if box else ())]
        except OverflowError:
            raise SegtoolError(
                f"detection #{self.start + row}: a score or box value past the range of a double", str(path)
            ) from None
        self.score.append(values[0])
        if self.by_box:
            self.boxes.extend(values[1:])
        elif box:
            self.given(row, values[1:])

    def grouped(self, iou_type: str, where: str) -> dict[ImageId, Detections]:
        """Each image's Detections (views of the columns when each image's detections come
        together, as they usually do)."""
        n = len(self.category)
        order, first, count = self.runs.grouping(len(self.order))
        ids = np.arange(self.start + 1, self.start + n + 1, dtype=np.int64)
        category, score = column(self.category, np.int64), column(self.score, np.float64)
        boxes, given = self._boxes(n)
        if order is not None:
            ids, category, score = ids[order], category[order], score[order]
            boxes, given = (None if boxes is None else boxes[order]), (None if given is None else given[order])
        most = limit("segments")
        out = {}
        for iid, pos in self.order.items():
            lo, hi = int(first[pos]), int(first[pos] + count[pos])
            if hi - lo > most:
                limits.check("segments", hi - lo, f"image {iid}: detections", Path(where))
            held = self.runs.text(pos) if self.pack else tuple(self.held.pop(pos))
            mine = None if given is None else given[lo:hi]
            some = mine is None or bool(mine.any())
            out[iid] = Detections(
                ids[lo:hi],
                category[lo:hi],
                score[lo:hi],
                boxes[lo:hi] if boxes is not None and some else None,
                mine if some else None,
                held,
                self.by_box,
                iou_type,
                where,
            )
        return out

    def _boxes(self, n: int) -> tuple[npt.NDArray[np.float64] | None, npt.NDArray[np.bool_] | None]:
        """All rows' boxes and which rows have one (None: all of them), or (None, None)."""
        values = column(self.boxes, np.float64).reshape(-1, 4)
        if self.by_box:
            return values, None
        if not len(self.boxed):
            return None, None
        rows = column(self.boxed, np.int64)
        boxes, given = np.zeros((n, 4)), np.zeros(n, np.bool_)
        boxes[rows], given[rows] = values, True
        return boxes, given


def is_box(box: Any) -> bool:
    """``[x, y, w, h]``: four finite numbers."""
    return type(box) is list and len(box) == 4 and all((type(v) is float or type(v) is int) and v - v == 0 for v in box)


def _check(
    i: int, det: Any, images: dict[ImageId, Any], known: set[int], by_box: bool, path: Path
) -> tuple[ImageId, int]:
    """The image id and category of a detection record that is not plainly valid, or its
    one-line error."""
    if not isinstance(det, dict) or not {"image_id", "category_id", "score"} <= det.keys():
        raise SegtoolError(f"detection #{i} lacks image_id, category_id or score", str(path))
    iid = image_id(det, "image_id", f"detection #{i}", path)
    cid = int_field(det, "category_id", f"detection #{i}", path)
    if iid not in images:
        raise SegtoolError(f"detection #{i}: image id {iid}, which the ground truth does not have", str(path))
    if cid not in known:
        raise SegtoolError(f"detection #{i}: unknown category id {cid}", str(path))
    score = det["score"]
    if type(score) not in (int, float) or not math.isfinite(score):
        raise SegtoolError(f"detection #{i}: 'score' must be a finite number, got {score!r:.40}", str(path))
    box = det.get("bbox")
    if by_box and not is_box(box):
        raise SegtoolError(
            f"detection #{i}: 'bbox' must be [x, y, w, h], four finite numbers (the first detection has a box, "
            f"so every area comes from one), got {box!r:.60}",
            str(path),
        )
    if box and not is_box(box):
        raise SegtoolError(
            f"detection #{i}: 'bbox' must be [x, y, w, h], four finite numbers, got {box!r:.60}", str(path)
        )
    if "segmentation" not in det and not box:
        raise SegtoolError(f"detection #{i} has neither segmentation nor bbox", str(path))
    return iid, cid


def _annotation(src: Detections, image: ImageInfo) -> Annotation:
    h, w = image.height, image.width
    try:
        masks.check_size(h, w)
    except ValueError as exc:
        raise SegtoolError(f"image {image.id}: {exc}", src.path) from None
    n = len(src.ids)
    found = decode(src.masks, n, h, w) if isinstance(src.masks, str) else [(m, False) for m in src.masks]
    det_ids = src.ids.tolist()
    given = np.zeros(n, np.bool_) if src.boxes is None else np.ones(n, np.bool_) if src.given is None else src.given
    rles = []
    for k, (segm, ready) in enumerate(found):
        if ready:
            rles.append(segm)
            continue
        if segm is None and given[k]:
            assert src.boxes is not None
            x, y, bw, bh = src.boxes[k].tolist()
            segm = [[x, y, x, y + bh, x + bw, y + bh, x + bw, y]]
        try:
            rles.append(compressed_rle(segm, h, w))
        except ValueError as exc:
            raise SegtoolError(f"detection #{det_ids[k] - 1} (image {image.id}): {exc}", src.path) from None
    bad, pixel_area = masks.guarded_areas(rles)
    if bad is not None:
        raise SegtoolError(f"detection #{det_ids[bad] - 1} (image {image.id}): undecodable compressed RLE", src.path)
    # boxes: the detection's own, else its mask's (loadRes), what bbox evaluation compares;
    # segm evaluation reads none, so there a box a detection did not give stays NaN (toBbox
    # for every detection was 12% of eval instance)
    boxes = np.full((n, 4), np.nan) if src.boxes is None else src.boxes.copy()
    area = boxes[:, 2] * boxes[:, 3] if src.by_box else pixel_area.astype(np.float64)
    if src.iou_type == "bbox" and not given.all():
        rest = np.flatnonzero(~given)
        pyco = [masks.to_pyco(rles[k]) for k in rest.tolist()]
        boxes[rest] = np.asarray(mask_utils.toBbox(pyco), np.float64).reshape(-1, 4)
    segments = Segments.build(id=src.ids, category_id=src.category_id, area=area, bbox=boxes, score=src.score)
    return Annotation(image, segments, rles=tuple(rles), origin=src.path)
