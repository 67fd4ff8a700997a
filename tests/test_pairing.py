"""Pairing ground truth with predictions (segtool/pairing.py): by image id or file stem,
held or streamed, integer or string ids; every mismatch a one-line error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from segtool import pairing
from segtool.errors import SegtoolError
from segtool.model import Annotation, ImageInfo, Sample, Segments


@dataclass(frozen=True)
class _Src:
    name: str

    def load(self, image: ImageInfo) -> Annotation:
        return Annotation(image, Segments.empty(), id_map=np.zeros((image.height, image.width), np.int32))


def _gt(*ids) -> list[Sample]:
    return [Sample(ImageInfo(i, f"img_{i}.jpg", 2, 2), _Src(f"gt{i}")) for i in ids]


def test_by_id_takes_the_ground_truths_image_record():
    gt = _gt(3, 1, 2)
    pairs = pairing.pair(gt, pairing.Predictions({1: _Src("p1"), 3: _Src("p3")}, "id", "p.json"), allow_missing=True)
    assert [(g.image.id, p.source.name if p else None) for g, p in pairs] == [(3, "p3"), (1, "p1"), (2, None)]
    assert pairs[0][1].image is gt[0].image


def test_by_stem():
    preds = pairing.Predictions({"img_1": _Src("a"), "img_2": _Src("b")}, "stem", "pred/")
    pairs = pairing.pair(_gt(1, 2), preds)
    assert [p.source.name for _, p in pairs] == ["a", "b"]
    with pytest.raises(SegtoolError, match="'img_9' matches no ground-truth image"):
        pairing.pair(_gt(1, 2), pairing.Predictions({"img_9": _Src("x")}, "stem", "pred/"), allow_missing=True)


@pytest.mark.parametrize(
    ("preds", "allow", "message"),
    [
        ({5: _Src("x")}, True, "prediction for image id 5, which the ground truth does not have"),
        ({1: _Src("x")}, False, "no prediction for 1 ground-truth image(s), e.g. image id 2"),
        ({"1": _Src("x")}, True, "prediction for image id '1', which"),  # a string is another id
    ],
)
def test_mismatches_are_one_line_errors_naming_the_predictions(preds, allow, message):
    with pytest.raises(SegtoolError) as exc:
        pairing.pair(_gt(1, 2), pairing.Predictions(preds, "id", "p.json"), allow_missing=allow)
    assert message in exc.value.message and exc.value.path == "p.json"


def _stream(ids, what="gt", known=None) -> pairing.Stream:
    def items():
        for i in ids:
            yield i, (Sample(ImageInfo(i, f"{i}.jpg", 2, 2), _Src(f"g{i}")) if what == "gt" else _Src(f"p{i}"))

    arr = pairing.ids_of(ids, f"{what}.json", what)
    return pairing.Stream(arr, items, f"{what}.json", known=None if known is None else pairing.ids_of(known, "", ""))


@pytest.mark.parametrize(
    ("gt_ids", "pred_ids"),
    [([1, 2, 3, 4], [4, 3, 2, 1]), (["b", "a", "c"], ["a", "c", "b"]), ([7, "7", 8], ["7", 8, 7])],
    ids=["reversed", "strings", "mixed"],
)
def test_streams_pair_in_any_order(gt_ids, pred_ids):
    out = pairing.stream(_stream(gt_ids), _stream(pred_ids, "pred"))
    pairs = list(out.pairs)
    assert [(g.image.id, p.source.name) for g, p in pairs] == [(i, f"p{i}") for i in gt_ids]
    assert all(p.image is g.image for g, p in pairs) and out.count == len(gt_ids) and out.missing == 0


def test_stream_errors():
    with pytest.raises(SegtoolError, match="prediction for image id 9, which the ground truth"):
        pairing.stream(_stream([1, 2]), _stream([9], "pred"), allow_missing=True)
    with pytest.raises(SegtoolError, match="image id 2 has several prediction records"):
        pairing.stream(_stream([1, 2]), _stream([2, 1, 2], "pred"))
    with pytest.raises(SegtoolError, match="annotation for image id 3, which 'images' does not list"):
        pairing.stream(_stream([1, 3], known=[1, 2]), _stream([1], "pred"), allow_missing=True)
    missing = pairing.stream(_stream([1, 2, 3], known=[1, 2, 3, 4]), _stream([2], "pred"), allow_missing=True)
    assert missing.missing == 2 and [p is None for _, p in missing.pairs] == [True, False, True]


def test_ids_of():
    assert pairing.ids_of([1, 2**40], "f", "x").dtype == np.int64
    assert pairing.ids_of([1, "a"], "f", "x").tolist() == [1, "a"]
    for bad in ([1.5], [True], [2**64], [None]):
        with pytest.raises(SegtoolError):
            pairing.ids_of(bad, "f", "x")
