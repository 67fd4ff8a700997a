"""Class "crashes": values that reach C code (pycocotools' polygon rasteriser and RLE
decoder, the JSON parsers, segtool._kernels) and JSON files mutated at random.

Run in child interpreters (batch.py), so a segmentation fault is seen as what it is: a
negative return code against the command that was running. Promise: no signal death, and
as everywhere, an exit in {0, 1, 2} with a one-line error.

``SEGTOOL_HOSTILE_FULL=1`` mutates 400 files instead of 60.
"""

from __future__ import annotations

import json
import os
import random
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from . import build
from .batch import Spec, check_spec, matrix, run_specs, selected
from .build import RAW, Built
from .commands import INSTANCE, PANOPTIC, SEMANTIC, command
from .edits import category_refs, image_refs, instance_with, panoptic_with, set_field

CLS = "crashes"
BIG = "9" * 4301  # one digit over CPython's int/str conversion limit
COORDS = {
    "1e8": "1e8",
    "1e9": "1e9",
    "neg1e9": "-1e9",
    "2p31": "2147483648",
    "1e300": "1e300",
    "nan": "NaN",
    "inf": "Infinity",
    "neginf": "-Infinity",
}
RLE_COUNTS: dict[str, Any] = {
    "2p33": [2**33, 5],
    "2p62": [2**62],
    "neg": [-5, 53],
    "float": [1.5, 46.5],
    "short-sum": [3],
    "long-sum": [48, 48, 48],
}
RLE_STRINGS = {"garbage": "\x7f\x7f\x7f~~", "empty": "", "zeros": "0000000000", "overflow": "oooooooooooooo0"}
RLE_SIZES: dict[str, Any] = {"2p31": [2**31, 2**31], "neg": [-1, 8], "short": [6], "float": [6.5, 8]}


def _polygon(data: dict[str, Any]) -> None:
    data["annotations"][0]["segmentation"] = [[1, 1, RAW, 1, RAW, RAW, 1, RAW]]


BIG_INSTANCE = {
    "image-id": set_field("images", 0, "id", also=image_refs),
    "height": set_field("images", 0, "height"),
    "width": set_field("images", 0, "width"),
    "category-id": set_field("categories", 0, "id", also=category_refs),
    "annotation-id": set_field("annotations", 0, "id"),
    "area": set_field("annotations", 1, "area"),
    "bbox": set_field("annotations", 1, "bbox", 0),
    "polygon": set_field("annotations", 0, "segmentation", 0, 2),
    "rle-size": set_field("annotations", 1, "segmentation", "size", 0),
    "info": set_field("info", value={"year": RAW}),
}
BIG_PANOPTIC = {
    "image-id": set_field("images", 0, "id", also=image_refs),
    "height": set_field("images", 0, "height"),
    "segment-id": set_field("annotations", 0, "segments_info", 0, "id"),
    "area": set_field("annotations", 0, "segments_info", 0, "area"),
    "bbox": set_field("annotations", 0, "segments_info", 0, "bbox", 3),
    "category-id": set_field("categories", 0, "id", also=category_refs),
}


def _semantic_big(where: str) -> Callable[[Path], Built]:
    def make(root: Path) -> Built:
        cats, images, maps = build.semantic_data()
        if where == "category-id":
            cats[1]["id"] = RAW
        else:
            images["images"][0]["height"] = RAW
        return build.semantic(root, cats, images, maps, raw=BIG)

    return make


def value_specs() -> list[Spec]:
    specs = []
    for key, token in COORDS.items():
        specs += matrix(CLS, f"polygon-{key}", INSTANCE, instance_with(_polygon, token))
    for key, edit in BIG_INSTANCE.items():
        specs += matrix(CLS, f"bigint-ins-{key}", INSTANCE, instance_with(edit, BIG))
    for key, edit in BIG_PANOPTIC.items():
        specs += matrix(CLS, f"bigint-pan-{key}", PANOPTIC, panoptic_with(edit, BIG))
    for key in ("category-id", "height"):
        specs += matrix(CLS, f"bigint-sem-{key}", SEMANTIC, _semantic_big(key))
    for key, counts in RLE_COUNTS.items():
        specs += matrix(CLS, f"rle-counts-{key}", INSTANCE, instance_with(_rle(counts=counts)))
    for key, text in RLE_STRINGS.items():
        specs += matrix(CLS, f"rle-string-{key}", INSTANCE, instance_with(_rle(counts=text)))
    for key, size in RLE_SIZES.items():
        specs += matrix(CLS, f"rle-size-{key}", INSTANCE, instance_with(_rle(size=size)))
    return specs


def _rle(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["annotations"][1]["segmentation"] = {"size": [build.H, build.W], "counts": [48]} | fields

    return edit


# --- mutated JSON ----------------------------------------------------------------------------

HOSTILE_BYTES = b'{}[]":,-+.eE0123456789 \\\x00\xff\n'
NUMBERS = [b"-1", b"0", b"1e999", b"NaN", b"4294967296", b"9" * 30, b"-0", b"true", b"null", b'"x"', b"[]", b"{}"]


def mutate(text: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random corruption of a JSON file: (what was done, the bytes)."""
    op = rng.choice(["flip", "truncate", "number", "delete", "duplicate"])
    b = bytearray(text)
    n = len(b)
    if op == "flip":
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(n)] = rng.choice(HOSTILE_BYTES) if rng.random() < 0.7 else rng.randrange(256)
    elif op == "truncate":
        del b[rng.randrange(n) :]
    elif op == "number":
        digits = [i for i in range(n) if chr(b[i]).isdigit() and not chr(b[i - 1]).isdigit()]
        i = rng.choice(digits)
        j = i
        while j < n and (chr(b[j]).isdigit() or b[j] in b".eE-+"):
            j += 1
        b[i:j] = rng.choice(NUMBERS)
    else:
        i = rng.randrange(n)
        j = min(n, i + rng.randint(1, 40))
        b[i:j] = b"" if op == "delete" else b[i:j] * 2
    return op, bytes(b)


BASES = ("instance", "panoptic", "results", "categories", "images")
COMMANDS = {
    "instance": ("validate", "convert-panoptic", "eval", "info", "preview-pred", "validate-fix", "convert-semantic"),
    "panoptic": ("validate", "convert-instance", "eval", "info", "preview", "validate-fix", "convert-semantic"),
    "results": ("eval", "preview-pred"),
    "categories": ("validate", "convert-panoptic", "eval", "info", "preview"),
    "images": ("validate", "convert-instance", "eval", "info", "preview"),
}


def _mutated(k: int) -> Spec:
    rng = random.Random(1700 + k)
    base = BASES[k % len(BASES)]
    name = rng.choice(COMMANDS[base])
    original = _base_text(base)
    op, text = mutate(original, rng)

    def make(root: Path) -> tuple[Any, tuple[str, ...]]:
        if base in ("instance", "results"):
            b = build.instance(root)
            (b.pred if base == "results" else b.src).write_bytes(text)
        elif base == "panoptic":
            b = build.panoptic(root)
            b.src.write_bytes(text)
        else:
            b = build.semantic(root)
            (b.src / f"{base}.json").write_bytes(text)
        return command(name, b, root / "out" / "o"), ()

    return Spec(CLS, f"mut{k:03d}-{base}-{op}", name, make)


def _base_text(base: str) -> bytes:
    if base == "instance":
        return json.dumps(build.instance_data()).encode()
    if base == "results":
        return json.dumps(build.results(build.instance_data())).encode()
    if base == "panoptic":
        return json.dumps(build.panoptic_data()[0]).encode()
    cats, images, _ = build.semantic_data()
    return json.dumps(cats if base == "categories" else images).encode()


# --- mutated PNGs -----------------------------------------------------------------------------

IHDR_FIELDS = {  # offset in the IHDR body → values a decoder must survive
    0: [0, 1, 7, 9, 2**31 - 1, 2**31, 2**32 - 1],  # width (4 bytes)
    4: [0, 1, 5, 7, 2**31 - 1, 2**31, 2**32 - 1],  # height (4 bytes)
    8: [0, 1, 2, 3, 4, 16, 255],  # bit depth
    9: [0, 1, 3, 4, 5, 6, 7],  # colour type
    12: [1, 2, 255],  # interlace
}


def mutate_png(png: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One corruption of a PNG, CRCs kept valid where that takes the decoder further."""
    parts = build.chunks(png)
    k = next(i for i, (kind, _) in enumerate(parts) if kind == b"IDAT")
    raw = bytearray(zlib.decompress(parts[k][1]))
    op = rng.choice(["ihdr", "filter", "pixels", "short", "long", "zlib", "truncate", "order", "crc"])
    if op == "ihdr":
        at = rng.choice(list(IHDR_FIELDS))
        body = bytearray(parts[0][1])
        value = rng.choice(IHDR_FIELDS[at])
        size = 4 if at < 8 else 1
        body[at : at + size] = value.to_bytes(size, "big")
        parts[0] = (b"IHDR", bytes(body))
    elif op in ("filter", "pixels"):
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(raw))
            raw[i] = rng.randrange(256)
        if op == "filter":  # a row's filter byte, often out of 0..4
            raw[0] = rng.choice([2, 3, 4, 5, 17, 255])
    elif op in ("short", "long"):
        raw = raw[: rng.randrange(len(raw))] if op == "short" else raw + bytes(rng.randint(1, 5000))
    if op in ("filter", "pixels", "short", "long"):
        parts[k] = (b"IDAT", zlib.compress(bytes(raw)))
    elif op == "zlib":
        body = bytearray(parts[k][1])
        body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
        parts[k] = (b"IDAT", bytes(body))
    elif op == "order":
        parts.insert(0, parts.pop(k))
    out = build.assemble(parts)
    if op == "truncate":
        out = out[: rng.randrange(8, len(out))]
    elif op == "crc":
        i = rng.randrange(8, len(out))
        out = out[:i] + bytes([out[i] ^ 0xFF]) + out[i + 1 :]
    return op, out


PNG_TARGETS = {  # where the PNG goes → the commands that read it
    "mask": ("validate", "convert-instance", "eval", "preview", "validate-fix", "info"),
    "label": ("validate", "convert-panoptic", "eval", "preview", "info"),
    "photo": ("validate", "preview"),
}


def _png_mutated(k: int) -> Spec:
    rng = random.Random(2900 + k)
    target = list(PNG_TARGETS)[k % len(PNG_TARGETS)]
    name = rng.choice(PNG_TARGETS[target])

    def make(root: Path) -> tuple[Any, tuple[str, ...]]:
        if target == "mask":
            b = build.panoptic(root)
            path = b.src.with_suffix("") / "img1.png"
        elif target == "label":
            b = build.semantic(root)
            path = b.src / "s1.png"
        else:
            b = build.instance(root)
            b.images = build.write_photos(root / "in" / "photos", ["img1.jpg", "img2.jpg"])
            path = b.images / "img1.jpg"
        path.write_bytes(mutate_png(path.read_bytes(), random.Random(2900 + k))[1])
        return command(name, b, root / "out" / "o"), ()

    op = mutate_png(_sample_png(target), random.Random(2900 + k))[0]
    return Spec(CLS, f"png{k:03d}-{target}-{op}", name, make)


def _sample_png(target: str) -> bytes:
    """The bytes the target's PNG has before mutation (to name the case by its mutation)."""
    import io

    from PIL import Image

    arr = build.rgb_of(build.id_maps()[0]) if target == "mask" else build.label_maps()["s1"]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


MUTATIONS = 400 if os.environ.get("SEGTOOL_HOSTILE_FULL") else 60
PNG_MUTATIONS = 300 if os.environ.get("SEGTOOL_HOSTILE_FULL") else 45
SPECS = {
    s.id: s
    for s in [
        *value_specs(),
        *(_mutated(k) for k in range(MUTATIONS)),
        *(_png_mutated(k) for k in range(PNG_MUTATIONS)),
    ]
}


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    return run_specs([SPECS[i] for i in selected(request)], tmp_path_factory.mktemp(CLS))


@pytest.mark.parametrize("spec_id", list(SPECS))
def test_no_crash(request, outcomes, spec_id):
    check_spec(request, SPECS[spec_id], outcomes[spec_id])
