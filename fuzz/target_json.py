"""Target ``json``: segtool's dataset readers on mutated COCO panoptic, COCO instance,
COCO results and semantic (``categories.json`` / ``images.json``) files.

Checks: format detection, every reader (``formats.read`` detected and forced, each
sample's ``load``), the streaming JSON readers (``jsonstream``), ``common.load_json``,
``validate`` and the ``evaluate_*`` entry points (the mutated file as ground truth and as
prediction, against an intact copy) return or raise SegtoolError only. A ValueError, a
KeyError or a RecursionError escaping a reader is a finding; so is a crash (yajl, pycocotools,
Pillow, segtool._kernels) or a hang.

Inputs: the first byte picks the file kind; then the seed document is mutated
structurally (:mod:`fuzz.jsonmut`; 5 inputs in 8), byte by byte, both, or replaced by the
rest of the input; sometimes one PNG of the dataset is replaced by a fuzzed one (``fuzz.target_png``).
Each input is written to a fresh folder (the readers cache per file identity).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from segtool import evaluate, formats
from segtool.formats import coco_instance_checks, coco_panoptic_checks, common, jsonstream, semantic_checks

from . import jsonmut, seeds, target_png
from .contract import READER, call
from .provider import Provider, mutate_bytes

KINDS = ("panoptic", "instance", "results", "categories", "images")


class Workspace:
    """A private temporary folder; each input gets a new subfolder, and the oldest are
    removed once a few newer ones exist (so no file identity is reused at once)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="segtool-fuzz-json-"))
        atexit.register(shutil.rmtree, self.root, True)
        self.n = 0
        self.valid = self._intact(self.root / "valid")

    def fresh(self) -> Path:
        self.n += 1
        old = self.root / str(self.n - 4)
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)
        here = self.root / str(self.n)
        here.mkdir()
        return here

    @staticmethod
    def _intact(folder: Path) -> dict[str, Path]:
        """The unmutated datasets every evaluation pairs a mutated file with."""
        return {kind: write_kind(folder, kind, _seed_doc_bytes(kind), {}) for kind in KINDS[:4]}


def _seed_doc(kind: str) -> Any:
    if kind == "panoptic":
        return seeds.panoptic_json()
    if kind in ("instance", "images"):
        return seeds.instance_json() if kind == "instance" else seeds.instance_json()["images"]
    if kind == "results":
        return seeds.results_json()
    return seeds.semantic_categories()


def _seed_doc_bytes(kind: str) -> bytes:
    return seeds.json_bytes(_seed_doc(kind))


def write_kind(folder: Path, kind: str, text: bytes, pngs: dict[int, bytes]) -> Path:
    """Write one dataset whose JSON is ``text``; returns the path a reader takes. ``pngs``
    replaces PNGs by index (0, 1)."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "panoptic":
        path = folder / "panoptic.json"
        masks = folder / "panoptic"
        masks.mkdir(exist_ok=True)
        for i, ids in enumerate(seeds.panoptic_ids()):
            (masks / f"img{i + 1}.png").write_bytes(pngs.get(i) or seeds.panoptic_png(ids))
    elif kind in ("instance", "results"):
        path = folder / f"{kind}.json"
    else:  # a semantic folder: the mutated file is categories.json or images.json
        path = folder / "semantic"
        path.mkdir(exist_ok=True)
        for i, label in enumerate(seeds.semantic_labels()):
            (path / f"img{i + 1}.png").write_bytes(pngs.get(i) or label)
        cats, images = seeds.json_bytes(seeds.semantic_categories()), None
        if kind == "categories":
            cats = text
        else:
            images = text
        (path / "categories.json").write_bytes(cats)
        if images is not None:
            (path / "images.json").write_bytes(images)
        return path
    path.write_bytes(text)
    return path


def make_text(p: Provider, kind: str) -> bytes:
    """The JSON text: most often the seed edited structurally (valid JSON that goes past the
    parser), else byte-mutated, both, or the rest of the input as it is."""
    mode = p.below(8)
    if mode == 7:
        return p.rest()
    if mode == 5:
        return mutate_bytes(p, _seed_doc_bytes(kind))
    text = jsonmut.dumps(jsonmut.mutate(p, _seed_doc(kind)), p)
    return mutate_bytes(p, text) if mode == 6 else text


def _drain(it: Any, most: int = 1000) -> None:
    for i, _ in enumerate(it):
        if i >= most:
            break


def _json_file(path: Path, kind: str) -> Path:
    if kind == "categories":
        return path / "categories.json"
    return path / "images.json" if kind == "images" else path


def streaming(path: Path) -> None:
    """The streaming and whole-file JSON readers on one file."""
    call(common.load_json, path, allowed=READER)
    call(jsonstream.sketch, path, allowed=READER)
    call(jsonstream.coco_sections, path, allowed=READER)
    call(jsonstream.section, path, "categories", allowed=READER)
    call(_drain, jsonstream.items(path, "annotations.item"), allowed=READER)
    call(_drain, jsonstream.list_items(path, "images"), allowed=READER)


def reading(path: Path, forced: str) -> None:
    """Detect, read (detected and forced format) and load every sample."""
    call(formats.detect, path, allowed=READER)
    for fmt in (None, forced):
        ds = call(formats.read, path, fmt, allowed=READER)
        if ds is not None:
            for sample in list(ds.samples)[:8]:
                call(sample.load, allowed=READER)


FORMAT = {"panoptic": "coco-panoptic", "instance": "coco-instance", "categories": "semantic", "images": "semantic"}


def consumers(kind: str, path: Path, valid: dict[str, Path]) -> list[Callable[[], Any]]:
    """The library calls that read a file of ``kind``: validate and evaluate, both ways."""
    if kind == "panoptic":
        return [
            lambda: coco_panoptic_checks.validate_panoptic(path),
            lambda: evaluate.evaluate_panoptic(path, valid["panoptic"]),
            lambda: evaluate.evaluate_panoptic(valid["panoptic"], path),
            lambda: evaluate.evaluate_instance(valid["instance"], path),
        ]
    if kind == "instance":
        return [
            lambda: coco_instance_checks.validate_instance(path),
            lambda: evaluate.evaluate_instance(path, valid["results"]),
            lambda: evaluate.evaluate_instance(valid["instance"], path),
        ]
    if kind == "results":
        return [
            lambda: evaluate.evaluate_instance(valid["instance"], path),
            lambda: evaluate.evaluate_instance(valid["instance"], path, iou_type="bbox"),
        ]
    return [
        lambda: semantic_checks.validate_semantic(path),
        lambda: evaluate.evaluate_semantic(path, valid["categories"]),
        lambda: evaluate.evaluate_semantic(valid["categories"], path),
    ]


_WS: Workspace | None = None


def make_input(data: bytes) -> tuple[str, bytes, dict[int, bytes]]:
    """The file kind, the JSON text and the replaced PNGs a fuzz input stands for."""
    p = Provider(data)
    kind = p.choice(KINDS)
    pngs = {}
    if kind not in ("instance", "results") and p.below(4) == 3:
        i = p.below(2)
        own = seeds.panoptic_png(seeds.panoptic_ids()[i]) if kind == "panoptic" else seeds.semantic_labels()[i]
        pngs[i] = target_png.make_input(p.take(p.small(48)), (own,))
    return kind, make_text(p, kind), pngs


def describe(data: bytes) -> str:
    kind, text, pngs = make_input(data)
    return f"kind {kind}; JSON text {text[:600]!r}{' …' if len(text) > 600 else ''}; PNGs replaced: {pngs!r:.300}"


def target(data: bytes) -> None:
    global _WS
    if _WS is None:
        _WS = Workspace()
    kind, text, pngs = make_input(data)
    path = write_kind(_WS.fresh(), kind, text, pngs)
    streaming(_json_file(path, kind))
    if kind != "results":
        reading(path, FORMAT[kind])
    for consume in consumers(kind, path, _WS.valid):
        call(consume, allowed=READER)


def _prefix(k: int, mode: int) -> bytes:
    """The decision bytes of kind ``k`` (no PNG replaced) and JSON mode ``mode``."""
    return bytes([k] + ([0] if KINDS[k] not in ("instance", "results") else []) + [mode])


def corpus() -> list[bytes]:
    """Each kind with one structural edit, with no byte mutation, and its seed text as raw input."""
    out = [_prefix(k, 0) for k in range(len(KINDS))]
    out += [_prefix(k, 5) for k in range(len(KINDS))]
    out += [_prefix(k, 7) + _seed_doc_bytes(name) for k, name in enumerate(KINDS)]
    return out
