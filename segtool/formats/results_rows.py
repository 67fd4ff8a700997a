"""A results list's detections grouped by image and checked as pycocotools' ``loadRes``
takes them (:mod:`.coco_results` reads the file and streams it): compact per-image columns
(:class:`Detections`), turned into the model's segments where an image is loaded.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from .. import limits, masks
from ..cocomask import counts_areas
from ..errors import SegtoolError
from ..model import Annotation, Dataset, ImageInfo, Segments
from ..pairing import ImageId
from .coco_tables import JSON, Runs, column, decode
from .coco_tables import pack as pack_mask
from .common import compressed_rle, image_id, int_field, limit

MEMORY = "<in-memory detections>"


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


def group(
    data: Iterable[Any], gt: Dataset, iou_type: str, where: str, *, pack: bool = False, wide: bool = True
) -> dict[ImageId, Detections]:
    """Detections grouped by image id, each checked (see :func:`read_file`); errors name
    ``where``. With ``pack``, their segmentations are kept as text (parsed JSON, which reads
    back as it was); otherwise as they are (in-memory detections may hold bytes, arrays).
    ``wide``: integers may exceed 64 bits (the json module's, or Python's), so numbers are
    converted one by one."""
    images = {s.image.id: s.image for s in gt.samples}
    return group_rows(data, images, {c.id for c in gt.categories}, iou_type, where, pack=pack, wide=wide)


def group_rows(
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
    first = next(dets, END)
    if by_box is None:
        by_box = isinstance(first, dict) and bool(first.get("bbox"))  # the first detection decides
    rows = _Rows(images, by_box, pack, start)
    order, sizes, runs, lines = rows.order, rows.sizes, rows.runs, rows.runs.lines
    category, score_col, boxes = rows.category.append, rows.score.append, rows.boxes.extend
    i = run = -1
    score: Any
    box: Any
    for i, det in enumerate(chain([first], dets) if first is not END else ()):
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
        if box is None and type(score) is float:  # no box (then not by_box) and a double: as it is
            score_col(score)
        elif wide:
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


END = object()


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
    given = np.zeros(n, np.bool_) if src.boxes is None else np.ones(n, np.bool_) if src.given is None else src.given
    if isinstance(src.masks, str) and n and JSON not in src.masks:  # every line an RLE's counts, of this size
        counts = src.masks.split("\n")
        size = [h, w]
        rles: list[Any] = [{"size": size, "counts": c} for c in counts]
        bad, pixel_area = counts_areas(counts, h, w)
    else:
        rles = _rles(src, image, given)
        bad, pixel_area = masks.guarded_areas(rles)
    if bad is not None:
        raise SegtoolError(
            f"detection #{int(src.ids[bad]) - 1} (image {image.id}): undecodable compressed RLE", src.path
        )
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


def _rles(src: Detections, image: ImageInfo, given: npt.NDArray[np.bool_]) -> list[Any]:
    """Each detection's segmentation as a compressed RLE (a box without one: its polygon)."""
    h, w, n = image.height, image.width, len(src.ids)
    found = decode(src.masks, n, h, w) if isinstance(src.masks, str) else [(m, False) for m in src.masks]
    det_ids = src.ids.tolist()
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
    return rles
