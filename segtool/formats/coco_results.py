"""COCO results files (a list of detections), read as pycocotools' ``COCO.loadRes`` reads them.

Each detection: ``image_id``, ``category_id``, ``score`` and a ``segmentation`` (RLE or
polygons) and/or ``bbox``. As in ``loadRes``: detection ids are 1..N in file order;
``iscrowd`` is 0; when the *first* detection has a non-empty ``bbox``, every detection's area
is its box's w·h (even for segm evaluation) and a missing segmentation is its box as a
polygon; otherwise areas are mask areas and missing boxes come from the masks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import limits
from ..errors import FormatError, SegtoolError
from ..model import Category, Dataset
from ..pairing import ImageId, Predictions, Stream
from . import results_scan
from .common import Detection, limit, load_json
from .jsonstream import NOT_JSON, items, json_sketch, layout
from .results_rows import END, MEMORY, Detections, group, group_rows

NAME = "coco-results"
SCORED_BY = ("instance",)  # the evaluations that take its predictions


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
        if results_scan.usable(path):  # a list, read by the C scan; the parser where it stops
            yield from results_scan.sources(path, images, known, iou_type, where, grouped)
        else:
            yield from grouped(iter(_records(path)), 0, None)

    def grouped(dets: Iterator[Any], start: int, by_box: bool | None) -> Iterator[tuple[ImageId, Detections]]:
        """The detections ``dets`` from the file's #``start`` on, grouped a batch at a time."""
        first = next(dets, END)
        if first is END:
            return
        if by_box is None:
            by_box = isinstance(first, dict) and bool(first.get("bbox"))  # the file's first detection decides
        batches = _batches(chain([first], dets), BATCH)
        for batch in batches:
            found = group_rows(batch, images, known, iou_type, where, pack=True, wide=True, start=start, by_box=by_box)
            if start == 0 and any(int(d.ids[-1] - d.ids[0]) + 1 != len(d.ids) for d in found.values()):
                rest = chain.from_iterable(batches)  # not grouped by image: the rest read whole, then joined
                start = sum(len(d.ids) for d in found.values())
                more = group_rows(
                    rest, images, known, iou_type, where, pack=True, wide=True, start=start, by_box=by_box
                )
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
    first = next(dets, END)
    head = [] if first is END else [first]
    while head:
        yield _batch(head, dets, size)


def _batch(head: list[Any], dets: Iterator[Any], size: int) -> Iterator[Any]:
    """One batch of :func:`_batches`, from ``head``'s detection; the first detection past
    it is left in ``head``."""
    yield head.pop()
    yield from islice(dets, size - 2)
    last = next(dets, END)
    if last is END:
        return
    yield last
    image = last.get("image_id", END) if type(last) is dict else END
    for det in dets:
        if (det.get("image_id", END) if type(det) is dict else END) != image:
            head.append(det)
            return
        yield det
