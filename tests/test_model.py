"""The canonical model (segtool/model.py): segment tables, annotations, datasets and the
capabilities a source may declare."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from segtool.errors import SegtoolError
from segtool.model import (
    Annotation,
    Category,
    Dataset,
    Deferred,
    ImageInfo,
    LabelPixels,
    PanopticPixels,
    Sample,
    Segments,
    decodes_pixels,
    has_label_pixels,
    has_panoptic_pixels,
    is_deferred,
    listed_segments,
)

IMAGE = ImageInfo(7, "a.jpg", 2, 3)
EMPTY = Segments.empty()


def test_segments_build_defaults_and_select():
    segs = Segments.build([5, 900100397133, 2], [1, 2, 1], score=[0.5, 0.9, 0.1])
    assert segs.id.dtype == np.int64 and segs.id[1] == 900100397133  # COCO crowd ids exceed 2**31
    assert segs.iscrowd.tolist() == [False] * 3 and segs.area.tolist() == [0.0] * 3
    assert segs.bbox.shape == (3, 4)
    assert len(segs[segs.category_id == 1]) == 2
    one = segs[1]
    assert one.id.tolist() == [900100397133] and one.score is not None and one.score.tolist() == [0.9]
    assert segs.replace(area=np.array([1.0, 2.0, 3.0])).area.tolist() == [1.0, 2.0, 3.0]
    assert len(Segments.empty()) == 0 and Segments.empty().bbox.shape == (0, 4)


@pytest.mark.parametrize(
    "columns",
    [
        {"id": [1, 2], "category_id": [1]},
        {"id": [1], "category_id": [1], "bbox": [[0, 0, 1]]},
        {"id": [1], "category_id": [1], "score": [0.1, 0.2]},
    ],
    ids=["category_id", "bbox", "score"],
)
def test_segments_of_different_lengths_are_refused(columns):
    with pytest.raises(SegtoolError, match="segment table"):
        Segments.build(**columns)


def test_an_annotation_carries_exactly_one_encoding():
    segs = Segments.build([1], [1])
    index = np.ones((2, 3), np.int32)
    assert Annotation(IMAGE, segs, id_map=index).index_map() is index
    with pytest.raises(SegtoolError, match="exactly one"):
        Annotation(IMAGE, segs)
    with pytest.raises(SegtoolError, match="exactly one"):
        Annotation(IMAGE, segs, id_map=index, rles=({},))
    with pytest.raises(SegtoolError, match="differs from image size"):
        Annotation(IMAGE, segs, id_map=np.ones((3, 2), np.int32))
    with pytest.raises(SegtoolError, match="2 masks for 1 segments"):
        Annotation(IMAGE, segs, rles=({}, {}))
    with pytest.raises(SegtoolError, match="resolve it first"):
        Annotation(IMAGE, segs, rles=({},)).index_map()


def test_image_ids_are_kept_as_written():
    assert ImageInfo("frankfurt_000000_000294", "f.png", 1, 1).id == "frankfurt_000000_000294"
    assert ImageInfo("2299", "a", 1, 1).id != ImageInfo(2299, "a", 1, 1).id
    assert ImageInfo(3, "a.jpg", 4, 5, {"license": 2}).to_dict() == {
        "license": 2, "id": 3, "file_name": "a.jpg", "height": 4, "width": 5,
    }  # fmt: skip


def test_dataset_categories():
    cats = (Category(3, "road", isthing=False), Category(1, "person"), Category(2, "car"))
    ds = Dataset(cats, (), "panoptic")
    assert ds.thing_ids().tolist() == [1, 2]
    assert ds.category_map()[3].name == "road"
    assert Category(1, "person", color=(1, 2, 3)).to_dict()["color"] == [1, 2, 3]


@dataclass(frozen=True)
class _Plain:
    def load(self, image: ImageInfo) -> Annotation:
        return Annotation(image, Segments.empty(), id_map=np.zeros((image.height, image.width), np.int32))


@dataclass(frozen=True)
class _Listed(_Plain):
    segments: Segments = EMPTY
    decodes_pixels = False

    def rgb(self, image: ImageInfo) -> None:
        return None

    def check_ids(self, image, unknown, area) -> None:
        return None

    def resolve(self, categories=None) -> _Plain:
        return _Plain()


def test_capabilities_are_declared_by_methods_not_classes():
    plain, listed = _Plain(), _Listed()
    assert not isinstance(plain, PanopticPixels) and isinstance(listed, PanopticPixels)
    assert not isinstance(listed, LabelPixels)
    assert isinstance(listed, Deferred) and not isinstance(plain, Deferred)
    assert has_panoptic_pixels(listed) and not has_panoptic_pixels(plain) and not has_label_pixels(listed)
    assert is_deferred(listed) and not is_deferred(plain)
    assert decodes_pixels(plain) and not decodes_pixels(listed)
    assert listed_segments(plain) is None and listed_segments(listed) is listed.segments
    assert Sample(IMAGE, plain).load().index_map().shape == (2, 3)


def test_consumers_import_no_format_module():
    """The model is the only door: metrics, render, checks, fix, preview, evaluate and
    validation reach formats through the registry (``from .. import formats``) only, never
    a module inside it (a format, its rules, or formats.common)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "segtool"
    files = [*root.glob("metrics/*.py"), *root.glob("render/*.py"), *root.glob("checks/*.py"), *root.glob("fix/*.py")]
    files += [root / name for name in ("preview.py", "evaluate.py", "validation.py")]
    offenders = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and "formats" in node.module.split("."):
                offenders.append(f"{path.relative_to(root)}: from {'.' * node.level}{node.module} import ...")
    assert offenders == []
