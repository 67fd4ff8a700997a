"""Small valid trees of the twelve formats added for issues 11/12 (cityscapes, voc, ade20k,
labelme, yolo-seg, sa1b, label-studio, mapillary, camvid, kitti, mots, cvat, masks), written
with numpy/Pillow/pycocotools and by hand from each format's docs page (docs/formats/<name>.md).

Each builder writes its tree under ``root/in`` and returns a :class:`Base`: where the dataset
is, the kind ``eval`` scores it as, and the files of each role (``json``, ``xml``, ``txt``,
``png``) the hostile variants of test_formats_hostile.py corrupt one at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

H, W = 6, 8


@dataclass
class Base:
    """A valid tree on disk: ``src`` (what the CLI is given), ``kind`` (eval's task), the
    files the variants corrupt by role, and ``names``: the file references held in the data
    (file, the reference as written) that the name variants rewrite."""

    fmt: str
    src: Path
    kind: str
    files: dict[str, list[Path]] = field(default_factory=dict)
    images: Path | None = None


def _png(path: Path, arr: np.ndarray, mode: str | None = None, palette: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(arr, mode) if mode else Image.fromarray(arr)
    if palette:
        im = Image.fromarray(arr, "P")
        im.putpalette([v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)])
    im.save(path, format="PNG")
    return path


def _photo(path: Path, w: int = W, h: int = H) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h), (90, 60, 30)).save(path, format="PNG" if path.suffix == ".png" else "JPEG")
    return path


def _text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _square(y0: int, x0: int, y1: int, x1: int) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def _rle_text(mask: np.ndarray) -> str:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode("ascii")


def cityscapes(root: Path) -> Base:
    d = root / "in" / "gtFine"
    objs = [
        {"label": "road", "polygon": [[0, 0], [7, 0], [7, 5], [0, 5]]},
        {"label": "car", "polygon": [[1, 1], [5, 1], [5, 4], [1, 4]]},
        {"label": "person", "polygon": [[6, 2], [7, 2], [7, 5]]},
    ]
    j = _text(
        d / "val" / "aachen" / "aachen_000000_000019_gtFine_polygons.json",
        json.dumps({"imgHeight": H, "imgWidth": W, "objects": objs}),
    )
    return Base("cityscapes", d, "panoptic", {"json": [j]})


def voc(root: Path) -> Base:
    d = root / "in" / "VOC"
    cls = np.zeros((H, W), np.uint8)
    obj = np.zeros((H, W), np.uint8)
    cls[1:4, 1:5], obj[1:4, 1:5] = 7, 1
    cls[:, 0], obj[:, 0] = 255, 255
    pngs = [
        _png(d / "SegmentationClass" / "2012_000001.png", cls, palette=True),
        _png(d / "SegmentationObject" / "2012_000001.png", obj, palette=True),
    ]
    ph = _photo(d / "JPEGImages" / "2012_000001.jpg")
    lst = _text(d / "ImageSets" / "Segmentation" / "val.txt", "2012_000001\n")
    return Base("voc", d, "panoptic", {"photo": [ph], "png": pngs, "txt": [lst]})


def ade20k(root: Path) -> Base:
    d = root / "in" / "ADE"
    lab = np.zeros((H, W), np.uint8)
    lab[:3] = 1
    lab[3:, 2:6] = 13
    p = _png(d / "annotations" / "validation" / "ADE_val_00000001.png", lab)
    ph = _photo(d / "images" / "validation" / "ADE_val_00000001.jpg")
    return Base("ade20k", d, "semantic", {"photo": [ph], "png": [p]})


def labelme_doc(image: str = "a.jpg") -> dict:
    shapes = [
        {"label": "cat", "points": [[1, 1], [5, 1], [5, 4]], "group_id": None, "shape_type": "polygon", "flags": {}},
        {"label": "dog", "points": [[2, 2], [6, 5]], "group_id": 1, "shape_type": "rectangle", "flags": {}},
    ]
    return {"version": "5.2.1", "flags": {}, "shapes": shapes, "imagePath": image, "imageData": None} | {
        "imageHeight": H,
        "imageWidth": W,
    }


def labelme(root: Path) -> Base:
    d = root / "in" / "lm"
    j = _text(d / "a.json", json.dumps(labelme_doc()))
    ph = _photo(d / "a.jpg")
    return Base("labelme", d, "instance", {"photo": [ph], "json": [j]})


def yolo_seg(root: Path) -> Base:
    d = root / "in" / "yolo"
    y = _text(d / "data.yaml", "path: .\ntrain: images/train\nnames: [cat, dog]\n")
    ph = _photo(d / "images" / "train" / "a.png")
    t = _text(d / "labels" / "train" / "a.txt", "0 0.1 0.1 0.6 0.1 0.6 0.6\n1 0.5 0.5 0.9 0.5 0.9 0.9 0.5 0.9\n")
    return Base("yolo-seg", d, "instance", {"photo": [ph], "txt": [t, y]})


def sa1b(root: Path) -> Base:
    d = root / "in" / "sa"
    anns = []
    for k, m in enumerate((_square(1, 1, 4, 5), _square(2, 3, 6, 8)), start=1):
        rle = {"size": [H, W], "counts": _rle_text(m)}
        box = [float(v) for v in mask_utils.toBbox({"size": [H, W], "counts": rle["counts"].encode()})]
        anns.append(
            {
                "id": k,
                "segmentation": rle,
                "bbox": box,
                "area": int(m.sum()),
                "predicted_iou": 0.9,
                "stability_score": 0.95,
                "crop_box": [0, 0, W, H],
                "point_coords": [[2.0, 2.0]],
            }
        )
    ph = _photo(d / "sa_1.jpg")
    rec = {"image": {"image_id": 1, "width": W, "height": H, "file_name": "sa_1.jpg"}, "annotations": anns}
    j = _text(d / "sa_1.json", json.dumps(rec))
    return Base("sa1b", d, "instance", {"photo": [ph], "json": [j]})


def label_studio_tasks(image: str = "/data/upload/1/photo%20a.jpg") -> list:
    from segtool.formats.label_studio_rules import mask_brush  # a valid brush to corrupt

    common = {"original_width": W, "original_height": H, "image_rotation": 0}
    poly = {"points": [[10.0, 10.0], [60.0, 10.0], [60.0, 70.0]], "polygonlabels": ["car"]}
    brush = {"format": "rle", "rle": mask_brush(_square(1, 1, 4, 5).astype(bool)), "brushlabels": ["cat"]}
    results = [
        {"id": "r0", "type": "polygonlabels", "value": poly, **common},
        {"id": "r1", "type": "brushlabels", "value": brush, **common},
    ]
    return [{"id": 7, "data": {"image": image}, "annotations": [{"id": 1, "was_cancelled": False, "result": results}]}]


def label_studio(root: Path) -> Base:
    j = _text(root / "in" / "export.json", json.dumps(label_studio_tasks()))
    return Base("label-studio", j, "instance", {"json": [j]})


def mapillary(root: Path) -> Base:
    d = root / "in" / "mapillary"
    config = {
        "labels": [
            {"name": "bird", "readable": "Bird", "color": [1, 2, 3], "instances": True, "evaluate": True},
            {"name": "road", "readable": "Road", "color": [4, 5, 6], "instances": False, "evaluate": True},
            {"name": "unlabeled", "readable": "U", "color": [0, 0, 0], "instances": False, "evaluate": False},
        ]
    }
    c = _text(d / "config_v2.0.json", json.dumps(config))
    inst = np.array([[0, 1, 256, 256], [0, 1, 263, 512], [512, 512, 512, 512]], np.uint16)
    ph = _photo(d / "training" / "images" / "a.jpg", 4, 3)
    p1 = _png(d / "training" / "v2.0" / "labels" / "a.png", (inst >> 8).astype(np.uint8))
    p2 = _png(d / "training" / "v2.0" / "instances" / "a.png", inst)
    return Base("mapillary", d, "panoptic", {"photo": [ph], "json": [c], "png": [p1, p2]})


def camvid(root: Path) -> Base:
    d = root / "in" / "camvid"
    lab = np.zeros((H, W), np.uint8)
    lab[:3] = 1
    lab[3:, 2:6] = 2
    p = _png(d / "trainannot" / "a.png", lab)
    ph = _photo(d / "train" / "a.png")
    t = _text(d / "train.txt", "/train/a.png /trainannot/a.png\n")
    return Base("camvid", d, "semantic", {"photo": [ph], "png": [p], "txt": [t]})


def kitti(root: Path) -> Base:
    d = root / "in" / "kitti"
    car, road, person = 26, 7, 24
    vals = np.array(
        [
            [car * 256 + 1, car * 256 + 1, car * 256 + 2, road * 256, road * 256],
            [car * 256, car * 256, person * 256 + 1, 0, road * 256],
        ],
        np.uint16,
    )
    p1 = _png(d / "training" / "instance" / "a.png", vals)
    p2 = _png(d / "training" / "semantic" / "a.png", (vals // 256).astype(np.uint8))
    ph = _photo(d / "training" / "image_2" / "a.png", 5, 2)
    return Base("kitti", d, "panoptic", {"photo": [ph], "png": [p1, p2]})


def mots(root: Path) -> Base:
    d = root / "in" / "mots"
    frame = np.array([[1001, 1001, 0, 2003], [10000, 0, 2003, 2003], [1001, 0, 0, 0]], np.uint16)
    p = _png(d / "instances" / "0002" / "000000.png", frame)
    ph = _photo(d / "images" / "0002" / "000000.png", 4, 3)
    return Base("mots", d, "panoptic", {"photo": [ph], "png": [p]})


def mots_txt(root: Path) -> Base:
    d = root / "in" / "motstxt"
    car = np.array([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], np.uint8)
    ped = np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1]], np.uint8)
    lines = [f"0 1001 1 3 5 {_rle_text(car)}", f"7 2005 2 3 5 {_rle_text(ped)}"]
    t = _text(d / "instances_txt" / "0004.txt", "".join(f"{line}\n" for line in lines))
    return Base("mots", d, "panoptic", {"txt": [t]})


CVAT_META = (
    "<meta><task><mode>annotation</mode><labels><label><name>cat</name></label>"
    "<label><name>dog</name></label></labels></task></meta>"
)


def cvat_xml(name: str = "a.jpg", width: str = str(W), height: str = str(H), shapes: str | None = None) -> str:
    if shapes is None:
        shapes = (
            '<polygon label="cat" occluded="0" source="manual" points="1.0,1.0;5.0,1.0;5.0,4.0" z_order="0"/>'
            '<box label="dog" occluded="0" source="manual" xtl="2" ytl="2" xbr="6" ybr="5" z_order="1"/>'
            '<mask label="dog" source="manual" occluded="0" rle="3, 4, 5" left="1" top="1" width="4" height="3"'
            ' z_order="2"/>'
        )
    image = f'<image id="0" name="{name}" width="{width}" height="{height}">{shapes}</image>'
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>{CVAT_META}{image}</annotations>\n'
    )


def cvat(root: Path) -> Base:
    x = _text(root / "in" / "cvat" / "annotations.xml", cvat_xml())
    ph = _photo(root / "in" / "cvat" / "images" / "a.jpg")
    return Base("cvat", x, "instance", {"photo": [ph], "xml": [x]})


def masks(root: Path) -> Base:
    d = root / "in" / "mf" / "annotations"
    p1 = _png(d / "1000_cat_0.png", _square(1, 1, 4, 5) * 255)
    p2 = _png(d / "1000_dog_1.png", _square(3, 4, 6, 8) * 255)
    ph = _photo(root / "in" / "mf" / "images" / "1000.jpg")
    return Base("masks", d, "instance", {"photo": [ph], "png": [p1, p2]})


BASES: dict[str, Callable[[Path], Base]] = {
    "cityscapes": cityscapes,
    "voc": voc,
    "ade20k": ade20k,
    "labelme": labelme,
    "yolo-seg": yolo_seg,
    "sa1b": sa1b,
    "label-studio": label_studio,
    "mapillary": mapillary,
    "camvid": camvid,
    "kitti": kitti,
    "mots": mots,
    "mots-txt": mots_txt,
    "cvat": cvat,
    "masks": masks,
}
