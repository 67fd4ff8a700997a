"""The fast path of mask AP (segtool.metrics.instance_fast: one ``coco_image`` kernel call
an image) against the usual one (evaluate_image on the loaded objects), field for field,
on generated images: crowd ground truth, empty images, ties of score, more detections
than maxDets, zero-area masks, categories on one side only, JSON areas on the area-range
bounds. Both kernels (C and the twin) are run, and the whole evaluation of a file too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from segtool import _purekernels
from segtool import kernels as _kernels
from segtool.formats import coco_tables
from segtool.metrics import instance_fast
from segtool.metrics.instance_result import InstanceResult, Params
from segtool.metrics.instances import EMPTY, evaluate_image, gt_objects
from segtool.model import Annotation, ImageInfo, Sample, Segments

IMPLS = [pytest.param(_purekernels.coco_image, id="python")]
if _kernels.IMPLEMENTATION == "C":
    from segtool import _kernels as _native

    IMPLS.append(pytest.param(_native.coco_image, id="C"))


@dataclass
class _GtSource:
    """What fast_image reads of a COCO instance JSON's CocoMasks: counts lines + table."""

    text: str
    segments: Segments

    def load(self, image: ImageInfo) -> Annotation:
        rles = tuple({"size": [image.height, image.width], "counts": c} for c in self.text.split("\n"))
        return Annotation(image, self.segments, rles=rles if len(self.segments) else ())


@dataclass
class _DtSource:
    """What fast_image reads of a results file's Detections."""

    masks: str
    category_id: Any
    score: Any
    by_box: bool = False
    iou_type: str = "segm"


def _counts(mask: np.ndarray) -> str:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return str(rle["counts"].decode())


@st.composite
def _image(draw: Any) -> tuple[Sample, Any, bool]:
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    n_g, n_d = draw(st.integers(0, 6)), draw(st.integers(0, 9))

    def masks(n: int) -> list[np.ndarray]:
        out = []
        for _ in range(n):
            kind = draw(st.sampled_from(["random", "empty", "full", "random"]))
            if kind == "random":
                bits = draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
                out.append(np.array(bits, bool).reshape(h, w))
            else:
                out.append(np.full((h, w), kind == "full"))
        return out

    cats = st.integers(1, 3)
    g_masks, d_masks = masks(n_g), masks(n_d)
    g_cat = draw(st.lists(cats, min_size=n_g, max_size=n_g))
    crowd = draw(st.lists(st.booleans(), min_size=n_g, max_size=n_g))
    area = draw(st.lists(st.sampled_from([0.0, 1.0, 4.0, 9.0, 10.0, 17.5, 36.0]), min_size=n_g, max_size=n_g))
    d_cat = draw(st.lists(cats, min_size=n_d, max_size=n_d))
    score = draw(st.lists(st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0, 0.0]), min_size=n_d, max_size=n_d))
    ids = draw(st.permutations(list(range(1, n_g + 1)))) if n_g else []
    segs = Segments.build(id=ids, category_id=g_cat, iscrowd=crowd, area=area)
    image = ImageInfo(1, "a.png", h, w)
    gt = Sample(image, _GtSource("\n".join(_counts(m) for m in g_masks), segs))
    empty = n_d == 0 and draw(st.booleans())
    dt = _DtSource("\n".join(_counts(m) for m in d_masks), np.array(d_cat, np.int64), np.array(score, np.float64))
    return gt, Sample(image, dt) if not empty else EMPTY, empty  # type: ignore[arg-type]


PARAMS = [
    Params(),
    Params(max_dets=(1, 2, 3), area_rng=((0.0, 1e10), (0.0, 4.0), (4.0, 10.0), (10.0, 1e10))),
]


def _usual(gt: Sample, dt: Any, empty: bool, params: Params) -> Any:
    """evaluate_image on the objects the usual path loads (detections as loadRes makes them)."""
    g = gt_objects(gt.load(), "segm")
    if empty:
        return evaluate_image(g, EMPTY, params)
    from segtool.metrics.instances import Objects

    h, w = gt.image.height, gt.image.width
    lines = dt.source.masks.split("\n") if len(dt.source.category_id) else []
    rles = [{"size": [h, w], "counts": c} for c in lines]
    area = np.array([mask_utils.area({"size": [h, w], "counts": c.encode()}) for c in lines], np.float64)
    n = len(lines)
    d = Objects(np.arange(1, n + 1), dt.source.category_id, area, np.zeros(n, bool), rles, dt.source.score)
    return evaluate_image(g, d, params)


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=150, deadline=None)
@given(case=_image(), which=st.integers(0, len(PARAMS) - 1))
def test_fast_path_equals_the_usual_one(impl: Any, case: Any, which: int) -> None:
    gt, dt, empty = case
    params = PARAMS[which]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_kernels, "coco_image", impl)
        fast = instance_fast.fast_image(gt, dt, params, empty)
    usual = _usual(gt, dt, empty, params)
    assert fast is not None
    for name in ("category_id", "score", "rank", "matched", "ignored"):
        a, b = getattr(fast, name), getattr(usual, name)
        assert a.shape == b.shape and a.dtype.kind == b.dtype.kind, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert fast.npig.keys() == usual.npig.keys()
    for c in fast.npig:
        np.testing.assert_array_equal(fast.npig[c], usual.npig[c])
    assert (fast.objects, fast.masks) == (usual.objects, usual.masks)


def test_json_marker_is_the_tables_one() -> None:
    assert instance_fast.JSON == coco_tables.JSON


@pytest.mark.parametrize("impl", IMPLS)
def test_undecodable_or_miscounted_masks_fall_back(impl: Any) -> None:
    """(-1, False): the usual path then raises its own worded error."""
    args = [np.zeros(1, np.int64), np.ones(1, np.int64), np.zeros(1, np.uint8), np.ones(1)]
    dets = [np.zeros(0, np.int64), np.zeros(0), np.array([0.0, 1e10]), np.array([0.5])]
    outs = [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(1, np.int64)]
    for gtext in ("4", "3", "!!", "4\n4", ""):  # 2x2: "4" is the empty mask
        got = impl(gtext, "", 2, 2, *args, *dets, 100, *outs)
        assert got == ((0, False) if gtext == "4" else (-1, False))


@pytest.mark.parametrize("impl", IMPLS)
def test_argument_errors(impl: Any) -> None:
    gt = [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(0)]
    dt = [np.zeros(1, np.int64), np.array([np.nan]), np.array([0.0, 1e10]), np.array([0.5])]
    outs = [np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(2, np.uint8), np.zeros(0, np.int64)]
    with pytest.raises(ValueError, match="finite"):
        impl("", "4", 2, 2, *gt, *dt, 100, *outs)
    dt[1] = np.array([0.5])
    with pytest.raises(ValueError, match="str"):
        impl(b"", "4", 2, 2, *gt, *dt, 100, *outs)
    with pytest.raises(ValueError, match="max_det"):
        impl("", "4", 2, 2, *gt, *dt, -1, *outs)
    with pytest.raises(ValueError, match="bad image size"):
        impl("", "4", -2, 2, *gt, *dt, 100, *outs)
    with pytest.raises(ValueError, match="sizes"):
        impl("", "4", 2, 2, *gt, *dt, 100, *outs[:2], np.zeros(3, np.uint8), outs[3])
    with pytest.raises(ValueError, match="rank"):
        impl("", "4", 2, 2, *gt, *dt, 100, outs[0], np.zeros(1, np.int32), *outs[2:])
    assert impl("", "4", 2, 2, *gt, *dt, 100, *outs) == (1, True)


def test_chunked_keeps_order_and_the_first_error() -> None:
    """Chunks of CHUNK images a thread: results in input order; an image's error, and an
    error of the stream itself, raise as the plain map would (the first in input order)."""
    from segtool.metrics.threaded import thread_map

    def square(x: int) -> int:
        if x == 13:
            raise KeyError(x)
        return x * x

    assert list(instance_fast.chunked(thread_map, square, range(12), 2)) == [x * x for x in range(12)]
    assert list(instance_fast.chunked(thread_map, square, range(12), 1)) == [x * x for x in range(12)]
    got: list[int] = []
    with pytest.raises(KeyError):
        got.extend(instance_fast.chunked(thread_map, square, range(20), 2))
    assert got == [x * x for x in range(8)]  # the chunk before 13's

    def stream() -> Any:
        yield from range(3)
        raise ValueError("the stream broke")

    with pytest.raises(ValueError, match="broke"):
        list(instance_fast.chunked(thread_map, square, stream(), 2))


def _files(tmp_path: Any, seed: int) -> tuple[Any, Any]:
    """A COCO instance JSON whose masks are all compressed RLEs (crowd too) and a results
    list of compressed RLEs: the files the fast path takes whole."""
    import json

    rng = np.random.default_rng(seed)
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for iid in range(1, 7):
        h, w = int(rng.integers(20, 50)), int(rng.integers(20, 50))
        images.append({"id": iid, "file_name": f"{iid}.jpg", "height": h, "width": w})
        for _ in range(0 if iid == 3 else int(rng.integers(1, 8))):
            m = np.zeros((h, w), bool)
            y, x, s = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2)), int(rng.choice([2, 6, 15, 40]))
            m[y : y + s, x : x + s] = True
            counts = {"size": [h, w], "counts": _counts(m)}
            crowd = int(rng.random() < 0.15)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": iid,
                    "category_id": int(rng.integers(1, 4)),
                    "segmentation": counts,
                    "area": float(m.sum()),
                    "bbox": [x, y, s, s],
                    "iscrowd": crowd,
                }
            )
            for _ in range(int(rng.integers(0, 3))):
                shifted = np.roll(m, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
                dets.append(
                    {
                        "image_id": iid,
                        "category_id": int(rng.integers(1, 4)),
                        "segmentation": {"size": [h, w], "counts": _counts(shifted)},
                        "score": float(rng.choice([0.3, 0.5, 0.9])),
                    }
                )
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3, 9)]
    gt, dt = tmp_path / "gt.json", tmp_path / "dt.json"
    gt.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    dt.write_text(json.dumps(dets))
    return gt, dt


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("seed", range(4))
def test_whole_files_take_the_fast_path_and_equal_cocoeval(tmp_path: Any, seed: int, jobs: int) -> None:
    """Every image through coco_image (the usual evaluate_image is never called), and
    the 12 numbers are pycocotools' COCOeval's exactly."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from segtool import evaluate_instance
    from segtool.metrics import instances

    gt, dt = _files(tmp_path, seed)
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt))
        e = COCOeval(g, g.loadRes(str(dt)), "segm")
        e.evaluate(), e.accumulate(), e.summarize()

    def refuse(*_: Any) -> Any:
        raise AssertionError("the usual path was taken")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(instances, "evaluate_image", refuse)
        got = evaluate_instance(gt, dt, jobs=jobs)
    assert isinstance(got, InstanceResult)
    assert got.stats.tolist() == e.stats.tolist()
