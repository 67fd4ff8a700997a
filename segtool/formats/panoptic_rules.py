"""The rules of one COCO panoptic annotation, written once for the reader and ``validate``.

``segments_info`` records of the right shape (:data:`~segtool.checks.schema.SEGMENT`: ids
1..2^24-1, the ids an RGB PNG can hold), ids listed once, categories known; and the PNG's
ids agreeing with them. Each problem goes to the caller's error policy
(:mod:`segtool.policy`): the reader stops at the first, validate collects them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import limits
from ..checks.schema import PANOPTIC_ANNOTATION, SEGMENT, annotation_fine, is_id, problem, segment_fine
from ..policy import Policy, place
from .coco_records import INT64, integral, usable_name


def annotation_record(ann: Any, path: str, report: Policy, max_segments: int | None = None) -> tuple[Any, str] | None:
    """An annotation record's image id and PNG file name, of the right shape
    (:data:`~segtool.checks.schema.PANOPTIC_ANNOTATION`; an image id written ``2.0`` and a
    file name written as a number are read past) with at most ``max_segments`` segments
    (``limits.segments``); None when ``report`` has it left out."""
    why = None if annotation_fine(ann) else problem(ann, PANOPTIC_ANNOTATION)
    if why is None:
        iid, name = ann["image_id"], ann["file_name"]
    else:
        raw = ann.get("image_id") if isinstance(ann, dict) else None
        iid = raw if type(raw) is str else integral(raw, *INT64)
        name = usable_name(ann["file_name"]) if isinstance(ann, dict) and "file_name" in ann else None
        usable = iid is not None and name is not None and isinstance(ann.get("segments_info"), list)
        shown = raw if is_id(raw) else None
        where = f"{place(shown)}: annotation" if shown is not None else "annotation"
        if not report("malformed-record", f"{where}: {why}", path, shown, usable=usable):
            return None
    if not segment_count(len(ann["segments_info"]), iid, path, report, max_segments):
        return None
    return iid, name


def segment_count(n: int, image_id: Any, path: str, report: Policy, max_segments: int | None = None) -> bool:
    """At most ``max_segments`` (``limits.segments``) segments in one image, so that
    per-segment work stays bounded; False when ``report`` has the image left out."""
    most = limits.current().segments if max_segments is None else max_segments
    if n <= most:
        return True
    msg = f"annotation of image {image_id!r:.40}: {n:,} segments, over the limit of {most:,} (raise it with --limit segments=N)"
    report("malformed-record", msg, path, image_id)
    return False


def repeated_annotation(image_id: Any, path: str, report: Policy) -> None:
    """A second annotation of one image: read past (the last counts, as in panopticapi's
    dict of annotations by image id), reported by validate."""
    report("duplicate-annotation", f"image id {image_id} has several annotations", path, image_id, usable=True)


def segment_records(
    info: list[Any], image_id: Any, path: str, known: Collection[Any] | None, report: Policy
) -> list[dict[str, Any]]:
    """The records of ``info`` of the right shape (the others are reported and left out);
    repeated ids and categories not in ``known`` (None: not checked here) are reported and
    kept, as their pixels are still there to check."""
    if all(map(segment_fine, info)):  # the usual case: every record of the right shape
        good: list[dict[str, Any]] = list(info)
    else:
        good = _well_formed(info, image_id, path, report)
    if len(good) > 1 and len({s["id"] for s in good}) < len(good):
        for sid, n in Counter(s["id"] for s in good).items():
            if n > 1:
                report(
                    "duplicate-segment-id",
                    f"{place(image_id, sid)}: segment id {sid} is listed {n} times",
                    path,
                    image_id,
                    sid,
                )
    if known is not None:
        for s in good:
            if s["category_id"] not in known:
                msg = f"{place(image_id, s['id'])}: unknown category id {s['category_id']}"
                report("unknown-category", msg, path, image_id, s["id"])
    return good


def _well_formed(info: list[Any], image_id: Any, path: str, report: Policy) -> list[dict[str, Any]]:
    """The records of ``info`` of the right shape; the others reported, in order."""
    good: list[dict[str, Any]] = []
    for i, s in enumerate(info):
        why = problem(s, SEGMENT)
        if why is None:
            good.append(s)
            continue
        sid = s.get("id") if isinstance(s, dict) and is_id(s.get("id")) else None
        report("malformed-record", f"{place(image_id, sid)}: segment #{i}: {why}", path, image_id, sid)
    return good


def pixel_ids(
    listed: npt.NDArray[np.int64],
    unknown: npt.NDArray[np.int64],
    area: npt.NDArray[np.int64],
    image_id: Any,
    path: str,
    report: Policy,
    excused: Collection[int] = (),
) -> None:
    """The PNG's ids against the listed ones: ids with pixels (``unknown``: not listed,
    sorted) that no record lists, listed ids (``listed``) without a pixel (``area`` 0); one
    problem of each kind per image, naming the ids. ``excused``: ids of records already
    reported as malformed, not reported again."""
    if unknown.size:
        shown = [sid for sid in unknown.tolist() if sid not in excused]
        if shown:
            msg = f"{place(image_id)}: segment ids {_listed(shown)} are in the PNG but not in segments_info"
            report("id-not-listed", msg, path, image_id)
    if not area.all():
        msg = f"{place(image_id)}: segments {_listed(listed[area == 0].tolist())} are listed in segments_info but absent from the PNG"
        report("segment-absent", msg, path, image_id)


def _listed(ids: list[int]) -> str:
    """Up to 8 ids, for one line."""
    return ", ".join(map(str, ids[:8])) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
