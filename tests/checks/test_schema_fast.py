"""``schema.segment_fine``, the fast test of a segment record, never passes a record that
``schema.problem`` rejects, and passes the usual records (so that it is the fast path)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from segtool.checks.schema import PANOPTIC_ANNOTATION, SEGMENT, annotation_fine, problem, segment_fine

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 2**24 - 1, 2**24, -(2**63), 2**63 - 1, 2**63, 10**400, 1e300, 1e308]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.lists(st.one_of(st.integers(), st.floats(), st.booleans(), st.none()), max_size=5),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
_records = st.dictionaries(st.sampled_from(["id", "category_id", "iscrowd", "area", "bbox", "x"]), _values)


def _fine_by_problem(record: Any) -> bool:
    try:
        return problem(record, SEGMENT) is None
    except OverflowError:  # an integer past float's range, where problem() raises
        return False


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_records, _values))
def test_fine_only_when_problem_agrees(record: Any) -> None:
    if segment_fine(record):
        assert _fine_by_problem(record)


def test_usual_records_are_fine() -> None:
    usual = [
        {"id": 1, "category_id": 7, "iscrowd": 0, "area": 3, "bbox": [0, 0, 2, 2]},
        {"id": 2**24 - 1, "category_id": "cat", "iscrowd": 1, "area": 2.5, "bbox": [0.5, 1, 2.0, 3]},
        {"id": 5, "category_id": -3},
        {"id": 5, "category_id": 2**63 - 1, "iscrowd": True, "area": -1e299},
    ]
    assert all(segment_fine(r) for r in usual)


def test_unusual_records_go_to_problem() -> None:
    unusual = [
        {"id": 0, "category_id": 1},  # void id
        {"id": 2**24, "category_id": 1},
        {"id": True, "category_id": 1},
        {"id": 1.0, "category_id": 1},
        {"id": 1, "category_id": 2**63},
        {"id": 1, "category_id": 1.5},
        {"id": 1, "category_id": 1, "iscrowd": 2},
        {"id": 1, "category_id": 1, "area": math.nan},
        {"id": 1, "category_id": 1, "area": math.inf},
        {"id": 1, "category_id": 1, "area": False},
        {"id": 1, "category_id": 1, "bbox": None},
        {"id": 1, "category_id": 1, "bbox": [1, 2, 3]},
        {"id": 1, "category_id": 1, "bbox": [1, 2, 3, True]},
        {"id": 1, "category_id": 1, "bbox": [1, 2, 3, -math.inf]},
        {"category_id": 1},
        [1, 2],
    ]
    for record in unusual:
        assert not segment_fine(record), record
        assert not _fine_by_problem(record), record


_annotations = st.dictionaries(
    st.sampled_from(["image_id", "file_name", "segments_info", "x"]),
    st.one_of(_values, st.sampled_from(["a.png", "a\0b.png", "\udc80.png", "é.png", ""])),
)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(_annotations, _values))
def test_annotation_fine_only_when_problem_agrees(record: Any) -> None:
    if annotation_fine(record):
        assert problem(record, PANOPTIC_ANNOTATION) is None


def test_usual_annotations_are_fine() -> None:
    assert annotation_fine({"image_id": 3, "file_name": "000000000003.png", "segments_info": []})
    assert annotation_fine({"image_id": "a", "file_name": "", "segments_info": [{}]})
    for bad in ({"image_id": 3.0, "file_name": "a.png", "segments_info": []}, {"image_id": 3, "segments_info": []}):
        assert not annotation_fine(bad)
        assert problem(bad, PANOPTIC_ANNOTATION) is not None
