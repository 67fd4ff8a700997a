"""The fuzz targets by name: each a function of ``bytes`` checking the contract of
:mod:`fuzz.contract`, with the atheris seed inputs it starts from."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from . import target_json, target_kernels, target_png, target_rle


class Target(NamedTuple):
    fn: Callable[[bytes], None]
    corpus: Callable[[], list[bytes]]
    what: str
    describe: Callable[[bytes], str] | None = None


TARGETS: dict[str, Target] = {
    "png": Target(
        target_png.target,
        target_png.corpus,
        "segtool.png header/decode/decode_rgb on mutated PNGs",
        target_png.describe,
    ),
    "kernels": Target(target_kernels.target, target_kernels.corpus, "every segtool._kernels entry point"),
    "rle": Target(target_rle.target, target_rle.corpus, "masks' RLE guard and conversions vs pycocotools"),
    "polygon": Target(target_rle.polygon_target, target_rle.polygon_corpus, "masks.to_compressed on polygons"),
    "json": Target(
        target_json.target,
        target_json.corpus,
        "readers, validate, evaluate on mutated COCO files",
        target_json.describe,
    ),
}
