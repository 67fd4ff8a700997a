"""The cityscapes format on datumaro's real Cityscapes fixture (MIT; read where it lies in the
shared data, skipped when absent): trees of ``*_gtFine_instanceIds.png`` alone (no labelIds,
as datumaro writes them), 8-bit plain label ids in ``dataset/``, 16-bit ``id * 1000 + k`` in
``train_dataset/`` beside ``labelTrainIds`` PNGs (19 where Cityscapes has 255)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segtool
from segtool import formats
from segtool.errors import SegtoolError
from segtool.formats.cityscapes_checks import validate_cityscapes
from segtool.formats.cityscapes_labels import BY_NAME, LABELS

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "datumaro" / "cityscapes"
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="the real datumaro fixtures are not beside the repository")
BY_ID = {lab.id: lab for lab in LABELS}


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).astype(np.int64)


def _expected(instances: np.ndarray) -> dict[int, tuple[int, int, bool]]:
    """What the instanceIds file says, by Cityscapes' rules: value → (label id, pixels, crowd)."""
    values, counts = np.unique(instances, return_counts=True)
    out = {}
    for v, n in zip(values.tolist(), counts.tolist(), strict=True):
        label = v // 1000 if v >= 1000 else v
        out[v] = (label, n, v < 1000 and BY_ID[label].has_instances)
    return out


def test_dataset_plain_ids():
    """``dataset/``: four 5x1 images, instanceIds alone (8-bit, plain label ids: 3 out of roi,
    27 truck, 31 train, 12 wall, 24 person, 1 ego vehicle). Read with every label kept, each
    value is one segment of its label, of as many pixels as the file has; a plain id of a
    label with instances is a crowd. Photos found under leftImg8bit/."""
    root = REAL / "dataset" / "gtFine"
    assert formats.detect(root) == "cityscapes"
    ds = segtool.read(root, "cityscapes", all_labels=True)
    stems = sorted(p.name.split("_gtFine_")[0] for p in root.rglob("*_instanceIds.png"))
    assert sorted(str(s.image.id) for s in ds.samples) == stems and len(stems) == 4
    for sample in ds.samples:
        files = list(root.rglob(f"{sample.image.id}_gtFine_instanceIds.png"))
        instances = _png(files[0])
        ann = sample.load()
        assert (ann.image.width, ann.image.height) == (5, 1)
        want = _expected(instances)
        got = {
            int(i): (int(c), int(a), bool(k))
            for i, c, a, k in zip(
                ann.segments.id, ann.segments.category_id, ann.segments.area, ann.segments.iscrowd, strict=True
            )
        }
        assert got == want
        assert (REAL / "dataset" / "leftImg8bit" / sample.image.file_name).is_file()
    report = validate_cityscapes(root, images_dir=REAL / "dataset" / "leftImg8bit")
    assert report.findings == [] and report.stats["crowd_regions"] == 3  # 27, 31 and 24: plain ids


def test_train_dataset_instances_and_train_ids():
    """``train_dataset/``: 16-bit instanceIds ``id * 1000 + k`` (27001, 27002, 31001, 24001)
    and labelTrainIds beside them, which agree: each pixel's trainId is its label's, 19 for
    labels Cityscapes ignores (its 255). The fourth image holds 1024 (label 1, ego vehicle,
    instance 24): ego vehicle has no instances, so the reader refuses that image when it loads it
    (exit 2, the file named) and validate reports it as cityscapes-instance-class; the others read."""
    root = REAL / "train_dataset" / "gtFine"
    for path in sorted(root.rglob("*_instanceIds.png")):
        instances = _png(path)
        train = _png(path.with_name(path.name.replace("instanceIds", "labelTrainIds")))
        label = np.where(instances >= 1000, instances // 1000, instances)
        want = np.array([BY_ID[v].train_id if BY_ID[v].train_id != 255 else 19 for v in label.ravel().tolist()])
        assert np.array_equal(want.reshape(train.shape), train), path.name
    report = validate_cityscapes(root)
    assert [(f.code, f.image_id) for f in report.findings] == [
        ("cityscapes-instance-class", "defaultcity_000001_000019")
    ]
    with pytest.raises(SegtoolError, match="1024"):
        for sample in segtool.read(root, "cityscapes").samples:
            sample.load()
    ds = segtool.read(root / "test", "cityscapes", train_ids=True)
    got = {}
    for sample in ds.samples:
        ann = sample.load()
        got[str(sample.image.id)] = sorted(
            (int(i), int(c), int(a))
            for i, c, a in zip(ann.segments.id, ann.segments.category_id, ann.segments.area, strict=True)
        )
    truck, train_ = BY_NAME["truck"].train_id, BY_NAME["train"].train_id
    assert got == {  # out of roi (3) is void; wall (12) is trainId 3
        "defaultcity_000001_000031": [(27001, truck, 1), (27002, truck, 2)],
        "defaultcity_000001_000032": [(12, 3, 1), (31001, train_, 2)],
    }
