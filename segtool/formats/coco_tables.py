"""COCO annotations streamed into compact per-image tables, in whatever order they come.

A parsed annotation is ~1 kB of Python objects (a dict, its lists, boxed numbers), ten
times its JSON; a dataset held that way grew ~2x in peak memory from 1,000 to 4,000
images. As each annotation is parsed, its numbers go into columns of machine numbers
(``array``: 8 bytes a value) and its ``segmentation`` into one line of text (:func:`pack`);
the dict is dropped. Rows are kept in file order and their image noted once per run of
rows of one image (:class:`Runs`): a COCO file lists each image's annotations together, so
each image is one run, its rows a slice of the columns (a view, no copy), its lines one
string. Otherwise the rows are put in image order by a stable sort at the end.

The checks and messages are those of reading the whole file and grouping its dicts: an
annotation naming an unknown image or category fails where it is met; a value that cannot
be a segment's (an id that is not 64-bit, an area, box or score that is not a finite number,
more annotations than the ``segments`` limit) fails for the first image, in ``images``
order, that has one.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import limits
from ..errors import SegtoolError
from ..model import ImageInfo, Segments
from ..policy import STRICT
from . import instance_rules
from .coco_records import references
from .common import limit

JSON = "\x01"  # starts a line that holds JSON; any other line is a compressed RLE's counts


def pack(segm: Any, height: int, width: int) -> str:
    """One ``segmentation`` as one line of text: a compressed RLE of its image's size as its
    ``counts`` string (what :func:`.common.compressed_rle` takes as it is), anything else
    as :data:`JSON` and its JSON (ASCII, no line break: it reads back as it was written)."""
    counts = segm.get("counts") if type(segm) is dict else None
    if type(counts) is str and "\n" not in counts and counts[:1] != JSON and segm.get("size") == [height, width]:
        return counts
    return JSON + json.dumps(segm, separators=(",", ":"))


def unpack(text: str, n: int, height: int, width: int) -> list[Any]:
    """The ``n`` ``segmentation`` objects of an image's packed lines (a compressed RLE as
    the dict ``{"size": [height, width], "counts": …}``)."""
    return [segm for segm, _ in decode(text, n, height, width)]


def decode(text: str, n: int, height: int, width: int) -> list[tuple[Any, bool]]:
    """Each of the ``n`` ``segmentation`` objects of an image's packed lines, and whether it
    is a compressed RLE of the image's size already (what a loader need not convert)."""
    if n == 0:
        return []
    size = [height, width]
    return [
        (json.loads(line[1:]), False) if line[:1] == JSON else ({"size": size, "counts": line}, True)
        for line in text.split("\n")
    ]


class Runs:
    """Which image each row belongs to, noted once per run of rows of one image, and the
    packed lines of each image (a run's lines become one string when it ends). ``lines``
    is the current run's list: a reader appends a row's line to it after :meth:`at`."""

    def __init__(self) -> None:
        self.pos, self.start, self.length = array("i"), array("q"), array("q")
        self.run, self.begin = -1, 0  # the current run's image and first row
        self.lines: list[str] = []
        self.texts: dict[int, str | list[str]] = {}
        self.done: dict[int, int] = {}  # rows of each image in the runs ended so far
        self.scattered = False  # an image's rows came in more than one run

    def at(self, pos: int, row: int) -> None:
        """Row ``row`` is of image ``pos`` (call when the image changes)."""
        self.end(row)
        self.run, self.begin = pos, row

    def end(self, row: int) -> None:
        """End the current run before row ``row``."""
        if row == self.begin or self.run < 0:
            return
        self.pos.append(self.run)
        self.start.append(self.begin)
        self.length.append(row - self.begin)
        self.done[self.run] = self.done.get(self.run, 0) + row - self.begin
        text, before = "\n".join(self.lines), self.texts.get(self.run)
        self.lines.clear()  # in place: a reader holds the list
        if before is None:
            self.texts[self.run] = text
            return
        self.scattered = True
        self.texts[self.run] = [before, text] if isinstance(before, str) else [*before, text]

    def rows_of(self, pos: int, row: int) -> int:
        """How many rows before ``row`` are of image ``pos`` (for messages: a slow path)."""
        return self.done.get(pos, 0) + (row - self.begin if pos == self.run else 0)

    def text(self, pos: int) -> str:
        """All lines of image ``pos``, in file order (taken: asked once per image)."""
        found = self.texts.pop(pos, "")
        return found if isinstance(found, str) else "\n".join(found)

    def grouping(self, n_images: int) -> tuple[npt.NDArray[np.intp] | None, npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """How to cut the columns by image: the row order that groups them (None when each
        image is one run: slices of the columns as they are), each image's first row and
        row count in that order."""
        pos, start, length = column(self.pos, np.int32), column(self.start, np.int64), column(self.length, np.int64)
        if not self.scattered:
            first, count = np.zeros(n_images, np.intp), np.zeros(n_images, np.intp)
            first[pos], count[pos] = start, length
            return None, first, count
        rows = np.repeat(pos, length)
        order = np.argsort(rows, kind="stable")
        count = np.bincount(rows, minlength=n_images).astype(np.intp)
        first = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.intp)
        return order, first, count


def column(values: array[Any], dtype: type) -> npt.NDArray[Any]:
    """An ``array`` as numpy, sharing its memory."""
    return np.frombuffer(values, dtype) if len(values) else np.zeros(0, dtype)


class InstanceRows:
    """The annotations of a COCO instance file, one row each in file order (see the module
    doc); :meth:`tables` groups them by image."""

    def __init__(self, images: list[ImageInfo], known: set[Any], path: Path) -> None:
        self.images, self.known, self.path = images, known, path
        self.positions = {im.id: k for k, im in enumerate(images)}
        shapes: dict[tuple[int, int], list[int]] = {}  # one [height, width] list per distinct size
        self.sizes = [shapes.setdefault((im.height, im.width), [im.height, im.width]) for im in images]
        self.ids, self.category = array("q"), array("q")
        self.area, self.bbox = array("d"), array("d")
        self.crowd = bytearray()
        self.scored, self.score = array("q"), array("d")  # rows with a score (few files have any), and it
        self.runs = Runs()
        self.errors: dict[int, tuple[tuple[int, int], str]] = {}  # per image: its first problem
        self.score_errors: dict[int, tuple[tuple[int, int], str]] = {}  # counted when all have a score

    def add_all(self, anns: Iterable[Any], *, wide: bool = False) -> None:
        """Every annotation, each checked against the images and categories. ``wide``: the
        values come from the json module, whose integers may exceed 64 bits (yajl's do not)."""
        positions, known, sizes, runs = self.positions, self.known, self.sizes, self.runs
        ids, category, area_col = self.ids.append, self.category.append, self.area.append
        bbox_col, crowd, lines = self.bbox.extend, self.crowd.append, runs.lines
        i = run = -1
        for i, a in enumerate(anns):
            # the common case in a few expressions (this runs once per annotation); anything
            # else goes through the checks that name the problem (_checked, add)
            iid = a.get("image_id") if type(a) is dict else None
            cid = a.get("category_id") if type(a) is dict else None
            pos = positions.get(iid) if type(iid) is int or type(iid) is str else None
            if pos is None or type(cid) is not int or cid not in known:
                pos, cid = self._checked(i, a)
            if pos != run:
                runs.at(pos, i)
                run = pos
            aid, area, box = a.get("id", 0), a.get("area", 0), a.get("bbox")
            try:  # numbers, finite: x - x is 0 (NaN for infinities, TypeError for the rest)
                plain = (
                    not wide
                    and type(aid) is int
                    and area - area == 0
                    and type(box) is list
                    and len(box) == 4
                    and (box[0] - box[0]) + (box[1] - box[1]) + (box[2] - box[2]) + (box[3] - box[3]) == 0
                    and "score" not in a
                )
            except TypeError:
                plain = False
            if not plain:
                self.add(a, pos, cid, i)
                continue
            ids(aid)
            category(cid)
            area_col(area)
            bbox_col(box)
            crowd(1 if a.get("iscrowd", 0) else 0)
            segm, size = a.get("segmentation", []), sizes[pos]
            counts = segm.get("counts") if type(segm) is dict else None
            if type(counts) is str and "\n" not in counts and counts[:1] != JSON and segm.get("size") == size:
                lines.append(counts)
            else:
                lines.append(pack(segm, size[0], size[1]))
        runs.end(i + 1)

    def _checked(self, i: int, a: Any) -> tuple[int, int]:
        """The image position and category of an annotation that is not plainly valid, or
        the one-line error."""
        path = self.path
        why = instance_rules.references(a, i)
        if why is not None and not why.usable:
            raise SegtoolError(why.message, str(path))
        iid, cid = instance_rules.image_and_category(a)
        references(iid, cid, a.get("id", i), self.positions, self.known, path, STRICT)
        return self.positions[iid], cid

    def add(self, a: dict[str, Any], pos: int, cid: int, row: int) -> None:
        """One annotation's row, each value checked (:func:`.instance_rules.values`; a
        problem the reader cannot read past is kept for its image)."""
        k = self.runs.rows_of(pos, row)  # its place among its image's annotations
        found = instance_rules.values(a, self.images[pos].id, k)
        for problem in found.problems:
            if not problem.usable:
                self._problem(pos, (problem.order, k), problem.message)
        self.bbox.extend(found.bbox or (0.0, 0.0, 0.0, 0.0))
        if "score" in a:
            self.scored.append(row)
            self.score.append(self._score(a, found.id, pos, k))
        self.ids.append(found.id)
        self.category.append(cid)
        self.area.append(found.area)
        self.crowd.append(1 if found.crowd else 0)
        h_w = self.sizes[pos]
        self.runs.lines.append(pack(a.get("segmentation", []), h_w[0], h_w[1]))

    def _problem(self, pos: int, where: tuple[int, int], message: str, table: dict[Any, Any] | None = None) -> None:
        """Keep ``message`` if it comes first in its image (by check, then annotation)."""
        table = self.errors if table is None else table
        if pos not in table or where < table[pos][0]:
            table[pos] = (where, message)

    def _malformed(self, exc: Exception, pos: int, where: tuple[int, int], table: Any = None) -> float:
        self._problem(pos, where, f"image {self.images[pos].id}: malformed annotation ({exc})", table)
        return 0.0

    def _finite(
        self, a: dict[str, Any], aid: int, name: str, pos: int, where: tuple[int, int], table: Any = None
    ) -> float:
        msg = f"image {self.images[pos].id}: annotation {aid}: {name!r} must be finite numbers, got {a.get(name)!r:.60}"
        self._problem(pos, where, msg, table)
        return 0.0

    def _score(self, a: dict[str, Any], aid: int, pos: int, k: int) -> float:
        """A score as numpy takes it (a numeric string too; null is NaN); its problems
        count only if every annotation of the image has a score."""
        value = a["score"]
        try:
            if type(value) is float or type(value) is int:
                score = float(value)
            else:
                arr = np.asarray([value], dtype=np.float64)
                if arr.shape != (1,):
                    raise ValueError("setting an array element with a sequence")
                score = float(arr[0])
        except (TypeError, ValueError, OverflowError) as exc:
            return self._malformed(exc, pos, (5, k), self.score_errors)
        if not math.isfinite(score):
            return self._finite(a, aid, "score", pos, (8, k), self.score_errors)
        return score

    def tables(self) -> list[tuple[Segments, str]]:
        """Each image's segment table and packed lines, in ``images`` order; the first
        image with a problem raises it."""
        order, first, count = self.runs.grouping(len(self.images))
        ids, category, area = column(self.ids, np.int64), column(self.category, np.int64), column(self.area, np.float64)
        crowd = np.frombuffer(self.crowd, np.bool_) if self.crowd else np.zeros(0, np.bool_)
        bbox = column(self.bbox, np.float64).reshape(-1, 4)
        scored = score = None  # which rows have a score, and it: made only when some do (few files)
        if len(self.scored):
            scored, score = np.zeros(len(ids), np.bool_), np.zeros(len(ids))
            rows = column(self.scored, np.int64)
            scored[rows], score[rows] = True, column(self.score, np.float64)
        if order is not None:
            ids, category, area, crowd, bbox = ids[order], category[order], area[order], crowd[order], bbox[order]
            if scored is not None and score is not None:
                scored, score = scored[order], score[order]
        most = limit("segments")
        out = []
        for pos, im in enumerate(self.images):
            lo, n = int(first[pos]), int(count[pos])
            hi = lo + n
            if n > most:
                limits.check("segments", n, f"image {im.id}: annotations", self.path)
            has_score = scored is not None and n > 0 and bool(scored[lo:hi].all())
            self._raise(pos, has_score)
            segs = Segments(
                ids[lo:hi],
                category[lo:hi],
                crowd[lo:hi],
                area[lo:hi],
                bbox[lo:hi],
                score[lo:hi] if has_score and score is not None else None,
            )
            out.append((segs, self.runs.text(pos)))
        return out

    def _raise(self, pos: int, has_score: bool) -> None:
        found = [self.errors.get(pos), self.score_errors.get(pos) if has_score else None]
        first = min((f for f in found if f is not None), default=None)
        if first is not None:
            raise SegtoolError(first[1], str(self.path))
