"""Issue 17, native code: every entry point of segtool._kernels called directly with hostile
sizes (near 2^31, 2^32, 2^63, negative, beyond a C size), rank values and element types
(the right byte length of the wrong type, the right count of the wrong type, byte-swapped,
read-only, strided): ValueError, never a crash or a write out of bounds. The mask IoU,
the RLE decoder and the guards before pycocotools are in test_hostile_native_masks.py;
PNG decoding and image files in test_hostile_native_images.py.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from segtool import kernels as _kernels

HUGE = (2**31 - 1, 2**31, 2**32, 2**32 + 1, 2**62, 2**63 - 1, -1, -(2**31), -(2**63))
TOO_BIG = (2**63, 2**64, -(2**63) - 1)  # beyond a C size: ValueError too, not OverflowError


# --- segtool._kernels: every entry point, hostile arguments -----------------------------------


def _pair_args(**over):
    """A consistent pair_counts call (4 pixels, one ground-truth id), one argument replaced."""
    args = {
        "gt": np.zeros(12, np.uint8),
        "pred": np.zeros(12, np.uint8),
        "gt_ids": np.array([7], np.uint32),
        "gt_rank": np.ones(1, np.int64),
        "pred_ids": np.zeros(0, np.uint32),
        "pred_rank": np.zeros(0, np.int64),
        "table": np.zeros(2, np.int64),
    }
    return list({**args, **over}.values())


def _iou_args(**over):
    args = {  # one 1x1 empty mask on each side
        "dt": [b"1"],
        "gt": [b"1"],
        "h": 1,
        "w": 1,
        "dt_cat": np.zeros(1, np.int64),
        "gt_cat": np.zeros(1, np.int64),
        "crowd": np.zeros(1, np.uint8),
        "out": np.zeros(1),
    }
    return list({**args, **over}.values())


def _match_args(**over):
    nd, ng, na, nt = 2, 3, 1, 2
    args = {
        "ious": np.zeros((nd, ng)),
        "dt_cat": np.ones(nd, np.int64),
        "gt_cat": np.ones(ng, np.int64),
        "gt_ids": np.arange(1, ng + 1, dtype=np.int64),
        "crowd": np.zeros(ng, np.uint8),
        "ignore": np.zeros((na, ng), np.uint8),
        "thrs": np.array([0.5, 0.75]),
        "match": np.zeros((na, nt, nd), np.int64),
        "match_ig": np.zeros((na, nt, nd), np.uint8),
    }
    return list({**args, **over}.values())


def _accumulate_args(**over):
    na, nt, n, nr = 2, 3, 4, 5
    args = {
        "matched": np.zeros((na, nt, n), np.uint8),
        "ignored": np.zeros((na, nt, n), np.uint8),
        "npig": np.ones(na, np.int64),
        "rec": np.linspace(0, 1, nr),
        "precision": -np.ones((na, nt, nr)),
        "recall": -np.ones((na, nt)),
    }
    return list({**args, **over}.values())


def _bootstrap_args(**over):
    n_img, n_s, n_t, n_d = 3, 2, 2, 4
    args = {
        "weights": np.ones((n_img, n_s), np.uint32),
        "image": np.array([0, 1, 2, 1], np.int64),
        "tp": np.ones((n_t, n_d), np.uint8),
        "ignored": np.zeros((n_t, n_d), np.uint8),
        "npig": np.full(n_s, 2, np.int64),
        "rec": np.linspace(0, 1, 5),
        "sums": np.zeros((n_s, n_t)),
    }
    return list({**args, **over}.values())


def _unfilter_args(**over):
    args = {"src": bytes(2 * 4), "dst": np.zeros(2 * 3, np.uint8), "height": 2, "rb": 3, "bpp": 3}
    return list({**args, **over}.values())


def _image_args(**over):
    """A 2x2 image: one full ground-truth mask ("04"), two detections (full, empty), 1 area
    range, 2 thresholds."""
    nd, ng, na, nt = 2, 1, 1, 2
    args = {
        "gt_text": "04",
        "dt_text": "04\n4",
        "h": 2,
        "w": 2,
        "gt_cat": np.ones(ng, np.int64),
        "gt_ids": np.arange(1, ng + 1, dtype=np.int64),
        "crowd": np.zeros(ng, np.uint8),
        "gt_area": np.full(ng, 4.0),
        "dt_cat": np.ones(nd, np.int64),
        "dt_score": np.array([0.9, 0.8]),
        "bounds": np.array([0.0, 1e10]),
        "thrs": np.array([0.5, 0.75]),
        "max_det": 100,
        "rows": np.zeros(nd, np.int64),
        "rank": np.zeros(nd, np.int64),
        "flags": np.zeros(nd * 2 * na * nt, np.uint8),
        "npig": np.zeros(ng * na, np.int64),
    }
    return list({**args, **over}.values())


def _areas_args(**over):
    args = {"strings": [b"1"], "h": 1, "w": 1, "areas": np.zeros(1, np.int64)}
    return list({**args, **over}.values())


def _hist_args(**over):
    args = {"a": np.zeros(5, np.uint8), "b": np.zeros(5, np.uint8), "out": np.zeros(65536, np.int64)}
    return list({**args, **over}.values())


def _pack_args(**over):
    args = {"rgb": np.zeros(6, np.uint8), "out": np.zeros(2, np.uint32)}
    return list({**args, **over}.values())


def _poly_args(**over):
    """One triangle, one group, on a 10x10 image (poly_areas and poly_rles take the same)."""
    args = {
        "xy": np.array([1.0, 1.0, 8.0, 1.0, 1.0, 8.0]),
        "ends": np.array([3], np.int64),
        "groups": np.array([1], np.int64),
        "h": 10,
        "w": 10,
        "areas": np.zeros(1, np.int64),
        "boxes": np.zeros(4),
    }
    return list({**args, **over}.values())


def _points_args(**over):
    text = b"0,0;4,0;0,4"
    args = {
        "text": np.frombuffer(text, np.uint8).copy(),
        "xy": np.zeros(len(text) // 2 + 1),
        "ends": np.zeros(1, np.int64),
        "boxes": np.zeros(4),
    }
    return list({**args, **over}.values())


def _cvat_args(**over):
    """One plain polygon of label "b" among the names "a", "b"."""
    data = b'<image id="0"><polygon label="b" points="0,0;4,0;0,4"/>'
    args = {
        "data": np.frombuffer(data, np.uint8).copy(),
        "names": np.frombuffer(b"ab", np.uint8).copy(),
        "starts": np.array([0, 1, 2], np.int64),
        "labels": np.zeros(2, np.int64),
        "xy": np.zeros(len(data) // 2 + 1),
        "ends": np.zeros(2, np.int64),
        "boxes": np.zeros(8),
    }
    return list({**args, **over}.values())


def _scan_args(**over):
    text = b'[{"image_id": 1, "category_id": 2, "score": 0.5}]'
    args = {"data": np.frombuffer(text, np.uint8).copy(), "pos": 1, "first": True, "final": True, "most": 4}
    return list({**args, **over}.values())


def _annotations_args(**over):
    text = b'[{"image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1]}]'
    args = {"data": np.frombuffer(text, np.uint8).copy(), "pos": 1, "first": True, "final": True, "most": 4}
    return list({**args, **over}.values())


def _panoptic_args(**over: Any) -> list[Any]:
    text = b'[{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 7}]}]'
    args = {"data": np.frombuffer(text, np.uint8).copy(), "pos": 1, "first": True, "final": True, "most": 4}
    return list({**args, **over}.values())


GOOD = {
    "unfilter": _unfilter_args,
    "pair_counts": _pair_args,
    "joint_hist8": _hist_args,
    "pack_rgb": _pack_args,
    "rle_areas": _areas_args,
    "rle_iou": _iou_args,
    "coco_match": _match_args,
    "coco_accumulate": _accumulate_args,
    "coco_bootstrap": _bootstrap_args,
    "scan_results": _scan_args,
    "scan_annotations": _annotations_args,
    "scan_panoptic": _panoptic_args,
    "poly_areas": _poly_args,
    "poly_rles": _poly_args,
    "parse_points": _points_args,
    "cvat_polygons": _cvat_args,
    "coco_image": _image_args,
}

# the same number of bytes as the right type, or the right count of the wrong type
WRONG_TYPES = {
    np.uint8: [np.int8, np.bool_],
    np.uint32: [np.int32, np.float32],
    np.int64: [np.uint64, np.float64],
    np.float64: [np.int64, np.uint64],
}


def _hostile_calls():
    """(kernel, case, args) for every buffer of every kernel with a wrong element type (same
    byte length, or same element count), non-native byte order, a read-only or
    non-contiguous output, and every size argument with HUGE and TOO_BIG values."""
    for name, make in GOOD.items():
        good = make()
        for i, arg in enumerate(good):
            if isinstance(arg, np.ndarray):
                for wrong in WRONG_TYPES[arg.dtype.type]:
                    same_bytes = np.zeros(arg.nbytes // np.dtype(wrong).itemsize, wrong)
                    yield name, f"arg{i}-{np.dtype(wrong).name}-bytes", [*good[:i], same_bytes, *good[i + 1 :]]
                    same_count = np.zeros(arg.shape, wrong)
                    yield name, f"arg{i}-{np.dtype(wrong).name}-count", [*good[:i], same_count, *good[i + 1 :]]
                if arg.dtype.itemsize > 1:
                    swapped = arg.astype(arg.dtype.newbyteorder())
                    yield name, f"arg{i}-byteswapped", [*good[:i], swapped, *good[i + 1 :]]
                ro = arg.copy()
                ro.flags.writeable = False
                yield name, f"arg{i}-readonly", [*good[:i], ro, *good[i + 1 :]]  # fine for inputs
                if arg.size > 1:
                    strided = np.zeros(arg.size * 2, arg.dtype)[::2]
                    yield name, f"arg{i}-strided", [*good[:i], strided, *good[i + 1 :]]
            elif isinstance(arg, int) and not isinstance(arg, bool):
                for v in (*HUGE, *TOO_BIG):
                    yield name, f"arg{i}={v}", [*good[:i], v, *good[i + 1 :]]


def test_every_kernel_has_a_hostile_table():
    """A kernel added later must join the tables above."""
    kernels = {n for n in dir(_kernels) if callable(getattr(_kernels, n)) and not n.startswith("_")}
    assert kernels == set(GOOD)


def test_consistent_calls_run():
    for name, make in GOOD.items():
        getattr(_kernels, name)(*make())


def test_hostile_element_types_and_sizes_raise_value_error():
    """Every case raises ValueError, or (read-only inputs, sizes that are still consistent:
    a 1x1 RLE call stays fine with h=1) runs; never another exception, never a crash."""
    ran, raised = [], 0
    for name, case, args in _hostile_calls():
        try:
            getattr(_kernels, name)(*args)
        except ValueError:
            raised += 1
            continue
        ran.append((name, case))
    # what may run: read-only inputs (a read-only output must not)
    outputs: dict[str, int | tuple[int, ...]] = {
        "unfilter": 1,
        "pair_counts": 6,
        "joint_hist8": 2,
        "pack_rgb": 1,
        "rle_areas": 3,
        "rle_iou": 7,
    }
    outputs |= {"coco_match": (7, 8), "coco_accumulate": (4, 5), "coco_bootstrap": 6, "scan_results": ()}
    outputs |= {"scan_annotations": (), "scan_panoptic": ()}
    outputs |= {"poly_areas": (5, 6), "poly_rles": (5, 6), "parse_points": (1, 2, 3)}
    outputs |= {"cvat_polygons": (3, 4, 5, 6), "coco_image": (13, 14, 15, 16)}
    for name, case in ran:
        i = int(case[3:].split("-")[0].split("=")[0])
        if name == "scan_results" and i == 4 and int(case.split("=")[1]) >= 1:
            # at most `most` records: any positive count reads the one record (the text is 49 bytes)
            assert _kernels.scan_results(*_scan_args(most=int(case.split("=")[1])))[:3] == (1, 49, 1), case
            continue
        if name == "scan_annotations" and i == 4 and int(case.split("=")[1]) >= 1:
            # likewise: the one record (the text is 57 bytes)
            args = _annotations_args(most=int(case.split("=")[1]))
            assert _kernels.scan_annotations(*args)[:3] == (1, 57, 1), case
            continue
        if name == "scan_panoptic" and i == 4 and int(case.split("=")[1]) >= 1:
            # likewise: the one record (69 bytes: "[" at 0, its "}" at 67, "]" at 68), by hand
            args = _panoptic_args(most=int(case.split("=")[1]))
            assert _kernels.scan_panoptic(*args) == (1, 69, 1, struct.pack("=4q", 1, 1, 68, 1), ["a.png"]), case
            continue
        if name == "rle_areas" and i in (1, 2) and "=" in case:
            # a size pycocotools could hold: the call runs, the 1-pixel string is undecodable
            args = _areas_args(**{"h" if i == 1 else "w": int(case.split("=")[1])})
            assert _kernels.rle_areas(*args) == 0 and args[3][0] == -1, case
            continue
        if name == "coco_image" and i in (2, 3) and "=" in case:
            # a size the kernel takes: "04" (2x2) does not add up to it, so undecodable
            assert _kernels.coco_image(*_image_args(**{"h" if i == 2 else "w": int(case.split("=")[1])})) == (
                -1,
                False,
            ), case
            continue
        if name == "coco_image" and i == 12 and "=" in case:
            assert _kernels.coco_image(*_image_args(max_det=int(case.split("=")[1])))[0] == 2, case  # 2 kept
            continue
        assert case.endswith("-readonly"), (name, case)
        out = outputs[name]
        assert i not in (out if isinstance(out, tuple) else (out,)), (name, case)
    assert raised > 200


def test_pair_counts_refuses_ranks_outside_the_table():
    """Ranks index the table: 0, n + 1, near 2^31, 2^32, 2^63 and negative ones wrote
    anywhere in memory before; now a ValueError, and the table is left untouched."""
    for bad in (0, 2, 2**31 - 1, 2**31, 2**32, 2**63 - 1, -1, -(2**31), -(2**63)):
        table = np.zeros(2, np.int64)
        rgb = np.array([7, 0, 0] * 4, np.uint8)  # every pixel has id 7
        with pytest.raises(ValueError, match="rank"):
            _kernels.pair_counts(*_pair_args(gt=rgb, pred=np.zeros(12, np.uint8), gt_rank=np.array([bad]), table=table))
        assert not table.any()
    table = np.zeros(2, np.int64)
    rgb = np.array([7, 0, 0] * 4, np.uint8)
    assert _kernels.pair_counts(*_pair_args(gt=rgb, table=table)) is None
    assert table.tolist() == [0, 4]  # by hand: 4 pixels of id 7 (row 1) against void (column 0)


def test_coco_image_by_hand():
    """The consistent call above: the full detection matches the ground truth in both lanes
    (IoU 1), the empty one matches nothing and is not ignored (area 0 lies in [0, 1e10]);
    the ground truth's category has 1 non-ignored object."""
    args = _image_args()
    assert _kernels.coco_image(*args) == (2, True)
    assert args[13].tolist() == [0, 1] and args[14].tolist() == [0, 1]
    assert args[15].tolist() == [1, 1, 0, 0, 0, 0, 0, 0] and args[16].tolist() == [1]


def test_unfilter_sizes_whose_products_overflow():
    """height * (rowbytes + 1) wrapped around for sizes near 2^63; now refused."""
    src, dst = bytes(8), np.zeros(8, np.uint8)
    for h, rb in ((2**62, 2**62), (2**61, 8), (3, 2**63 - 1), (2**63 - 1, 1), (1, 2**62 - 1)):
        with pytest.raises(ValueError):
            _kernels.unfilter(src, dst, h, rb, 1)
    _kernels.unfilter(b"", np.zeros(0, np.uint8), 0, 2**40, 1)  # no rows: nothing to read, nothing allocated


def test_the_typed_stub_describes_every_kernel():
    """segtool/_kernels.pyi: one function per kernel, with as many parameters as a
    consistent call above passes."""
    import ast

    tree = ast.parse((Path(_kernels.__file__).parent / "_kernels.pyi").read_text())
    stub = {f.name: len(f.args.args) for f in tree.body if isinstance(f, ast.FunctionDef)}
    assert stub == {name: len(make()) for name, make in GOOD.items()}
