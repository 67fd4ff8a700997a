"""Builders for test datasets. They encode with plain numpy/PIL/pycocotools, never with
segtool's own writers, so a test of a reader does not lean on the writer it mirrors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools import mask as mask_utils

DATA = Path(__file__).parent / "data"
PANOPTIC_EXAMPLES = DATA / "panopticapi" / "panoptic_examples.json"
DETECTION_EXAMPLES = DATA / "panopticapi" / "panoptic_coco_detection_format.json"

CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60], "supercategory": "person"},
    {"id": 2, "name": "car", "isthing": 1, "color": [0, 0, 142], "supercategory": "vehicle"},
    {"id": 7, "name": "dog", "isthing": 1, "color": [250, 170, 30], "supercategory": "animal"},
    {"id": 100, "name": "road", "isthing": 0, "color": [128, 64, 128], "supercategory": "ground"},
    {"id": 200, "name": "sky", "isthing": 0, "color": [70, 130, 180], "supercategory": "sky"},
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def rgb_of(ids: np.ndarray) -> np.ndarray:
    """Panoptic id map → RGB, by the COCO formula written out."""
    ids = ids.astype(np.uint32)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)


def ids_of(png: Path) -> np.ndarray:
    """RGB panoptic PNG → id map, by the COCO formula written out."""
    rgb = np.asarray(Image.open(png), dtype=np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def write_panoptic(
    json_path: Path,
    id_maps: list[np.ndarray],
    segments: list[list[dict[str, Any]]],
    categories: list[dict[str, Any]] = CATEGORIES,
) -> Path:
    """A COCO panoptic dataset: image ids 1..n, PNGs in the folder named by the JSON's stem."""
    folder = json_path.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i, (ids, segs) in enumerate(zip(id_maps, segments, strict=True), start=1):
        Image.fromarray(rgb_of(ids)).save(folder / f"img{i}.png")
        images.append({"id": i, "file_name": f"img{i}.jpg", "height": ids.shape[0], "width": ids.shape[1]})
        anns.append({"image_id": i, "file_name": f"img{i}.png", "segments_info": segs})
    return write_json(json_path, {"images": images, "annotations": anns, "categories": categories})


def panoptic_segments(ids: np.ndarray, cats: dict[int, int], crowd: set[int] = frozenset()) -> list[dict[str, Any]]:
    """segments_info for the ids present in ``ids`` (area and bbox computed here by hand)."""
    out = []
    for sid in sorted(set(np.unique(ids).tolist()) - {0}):
        ys, xs = np.nonzero(ids == sid)
        out.append(
            {
                "id": int(sid),
                "category_id": cats[sid],
                "iscrowd": int(sid in crowd),
                "area": len(ys),
                "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)],
            }
        )
    return out


def rle(mask: np.ndarray) -> dict[str, Any]:
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": r["size"], "counts": r["counts"].decode("ascii")}


def write_instances(
    path: Path, shape: tuple[int, int], masks: list[tuple[int, np.ndarray]], scores: list[float] | None = None
) -> Path:
    """A one-image COCO instance JSON; ``masks`` are (category_id, bool mask), ids 1..n."""
    anns = []
    for k, (cid, m) in enumerate(masks, start=1):
        a = {
            "id": k,
            "image_id": 1,
            "category_id": cid,
            "segmentation": rle(m),
            "area": int(m.sum()),
            "bbox": [0, 0, 0, 0],
            "iscrowd": 0,
        }
        if scores is not None:
            a["score"] = scores[k - 1]
        anns.append(a)
    image = {"id": 1, "file_name": "img1.jpg", "height": shape[0], "width": shape[1]}
    return write_json(path, {"images": [image], "annotations": anns, "categories": CATEGORIES})


def canonical(ids: np.ndarray) -> np.ndarray:
    """Relabel an id map by first appearance in raster order (0 stays 0): equal partitions
    give equal arrays whatever the ids."""
    flat = ids.ravel()
    values, first = np.unique(flat, return_index=True)
    nonzero = values != 0
    order = np.argsort(first[nonzero])
    rank = np.zeros(len(values), dtype=np.int64)
    rank[np.flatnonzero(nonzero)[order]] = np.arange(1, nonzero.sum() + 1)
    return rank[np.searchsorted(values, flat)].reshape(ids.shape)


def panoptic_partition(json_path: Path) -> dict[int, tuple[np.ndarray, list[tuple[int, int]]]]:
    """image_id → (canonical id map, [(category, iscrowd)] by canonical label)."""
    data = json.loads(json_path.read_text())
    out = {}
    for ann in data["annotations"]:
        ids = ids_of(json_path.with_suffix("") / ann["file_name"])
        canon = canonical(ids)
        info = {s["id"]: (s["category_id"], s["iscrowd"]) for s in ann["segments_info"]}
        labels = []
        for k in range(1, int(canon.max()) + 1):
            sid = int(ids[canon == k][0])
            labels.append(info[sid])
        out[ann["image_id"]] = (canon, labels)
    return out
