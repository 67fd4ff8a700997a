"""One label-map declaration (``--labels FILE``) for every format and command.

A label map lists categories as people write them down (id, name, colour, thing or stuff,
trainId, void) and does two jobs with one file:

* it **describes** label PNGs whose pixels are not category ids: contiguous indices (with an
  ``offset`` for ``reduce_zero_label``-style maps) or colours; a reader of label maps takes
  it instead of a ``categories.json`` (see :meth:`LabelMap.pixel_categories`);
* it **remaps** any dataset's categories while reading: renames (a new ``name``), void
  (``void: true``), Cityscapes ids -> trainIds (``output: trainId``), several source
  categories merged into one (the same trainId) — :func:`apply`, a lazy wrapper around
  each sample, so nothing is decoded before it is used.

The file (YAML or JSON; docs/labels.md)::

    output: trainId        # optional: the number converted categories carry (id | trainId)
    offset: 1              # optional: pixel value of entry k (from 0) is k + offset
    unlisted: error        # optional: source categories not listed: error | keep | void
    labels:
      - {id: 7, name: road, color: [128, 64, 128], isthing: false, trainId: 0}
      - {id: 0, name: unlabeled, void: true}

PyYAML reads it (already a dependency for yolo-seg's data.yaml); JSON is YAML too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import FormatError
from .model import Category

OUTPUTS = ("id", "trainId")
UNLISTED = ("error", "keep", "void")
VOID_TRAIN_IDS = (255, -1)  # cityscapesScripts marks labels outside training with 255 (and -1)
VOID = -1  # what a void category maps to (0 is a category: trainId 0 is Cityscapes' road)
_KEYS = {"id", "name", "color", "isthing", "trainId", "void", "value"}


@dataclass(frozen=True)
class Label:
    """One line of the label map: a source category (``id``; ``value`` in label PNGs) and
    what it becomes."""

    id: int
    name: str
    value: int
    color: tuple[int, int, int] | None = None
    isthing: bool | None = None
    train_id: int | None = None
    void: bool = False


@dataclass(frozen=True)
class LabelMap:
    """A parsed label-map file (see the module doc)."""

    labels: tuple[Label, ...]
    output: str = "id"
    unlisted: str = "error"
    path: str = ""
    offset: int | None = None

    def _out_id(self, label: Label) -> int:
        """The category id ``label`` becomes; :data:`VOID` for void."""
        if label.void:
            return VOID
        if self.output == "trainId":
            if label.train_id is None or label.train_id in VOID_TRAIN_IDS:
                return VOID
            return label.train_id
        return label.id

    def pixel_categories(self) -> tuple[Category, ...]:
        """Categories keyed by pixel value, for a reader of label PNGs whose values are
        indices: void entries are left out (their pixels are void)."""
        return tuple(Category(lb.value, lb.name, bool(lb.isthing), lb.color) for lb in self.labels if not lb.void)

    def void_values(self) -> tuple[int, ...]:
        """Pixel values that mean void: void entries', and those below ``offset`` (a
        ``reduce_zero_label`` map's 0)."""
        below = range(self.offset) if self.offset is not None and self.offset > 0 else range(0)
        return tuple(sorted({*below, *(lb.value for lb in self.labels if lb.void)}))

    def colors(self) -> dict[tuple[int, int, int], int]:
        """Colour -> pixel value, for colour-coded label PNGs."""
        return {lb.color: lb.value for lb in self.labels if lb.color is not None}

    def id_table(self) -> dict[int, int]:
        """Every listed id -> output id (:data:`VOID`: void): for predictions, whose categories are the
        ground truth's source categories and are not listed on their own."""
        return {lb.id: self._out_id(lb) for lb in self.labels}

    def table(self, categories: Iterable[Category], *, by_value: bool = False) -> dict[int, int]:
        """Source category id (pixel value with ``by_value``) -> output id (:data:`VOID`: void)."""
        listed = {(lb.value if by_value else lb.id): lb for lb in self.labels}
        out: dict[int, int] = {}
        for c in categories:
            label = listed.get(c.id)
            if label is not None:
                out[c.id] = self._out_id(label)
            elif self.unlisted == "error":
                raise FormatError(
                    f"category {c.id} {c.name!r} is not in the label map (set unlisted: keep|void)", self.path
                )
            else:
                out[c.id] = c.id if self.unlisted == "keep" else VOID
        return out

    def output_categories(self, categories: Iterable[Category], *, by_value: bool = False) -> tuple[Category, ...]:
        """The categories after remapping, in output-id order; merged categories take the
        first listed entry's name, colour and kind."""
        source = tuple(categories)
        table = self.table(source, by_value=by_value)
        listed = {(lb.value if by_value else lb.id): lb for lb in self.labels}
        out: dict[int, Category] = {}
        for c in source:
            new = table[c.id]
            if new == VOID or new in out:
                continue
            label = listed.get(c.id)
            if label is None:  # unlisted: keep
                out[new] = c
                continue
            isthing = c.isthing if label.isthing is None else label.isthing
            color = label.color if label.color is not None else c.color
            out[new] = Category(new, label.name, isthing, color, c.supercategory)
        return tuple(out[k] for k in sorted(out))


def load(path: Path | str) -> LabelMap:
    """Parse a label-map file; one line naming the file for anything wrong in it."""
    where = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise FormatError("no such label map", where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"unreadable label map ({exc})", where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise FormatError(f"not YAML or JSON{at}", where) from None
    return parse(data, where)


def parse(data: Any, where: str = "") -> LabelMap:
    """A label map from its decoded YAML/JSON (a list of entries, or a mapping with
    ``labels``)."""
    top: dict[str, Any] = {"labels": data} if isinstance(data, list) else data
    if not isinstance(top, dict) or not isinstance(top.get("labels"), list) or not top["labels"]:
        raise FormatError("a label map is a list of labels, or a mapping with a 'labels' list", where)
    unknown = sorted(set(top) - {"labels", "output", "offset", "unlisted"})
    if unknown:
        raise FormatError(f"unknown key {unknown[0]!r} (known: labels, output, offset, unlisted)", where)
    output = _choice(top.get("output", "id"), OUTPUTS, "output", where)
    unlisted = _choice(top.get("unlisted", "error"), UNLISTED, "unlisted", where)
    offset = top.get("offset")
    if offset is not None and not _is_int(offset):
        raise FormatError(f"offset must be an integer, not {offset!r}", where)
    labels = tuple(_label(e, k, offset, where) for k, e in enumerate(top["labels"]))
    _unique(labels, "id", where)
    _unique(labels, "value", where)
    return LabelMap(labels, output, unlisted, where, offset)


def _label(entry: Any, k: int, offset: int | None, where: str) -> Label:
    """Entry ``k`` of the ``labels`` list."""
    at = f"labels[{k}]"
    if not isinstance(entry, dict):
        raise FormatError(f"{at} must be a mapping with at least 'name'", where)
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise FormatError(f"{at}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})", where)
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise FormatError(f"{at}: 'name' must be a non-empty string", where)
    for key in ("id", "value", "trainId"):
        if key in entry and not _is_int(entry[key]):
            raise FormatError(f"{at} ({name}): {key} must be an integer, not {entry[key]!r}", where)
    value = entry.get("value", None if offset is None else k + offset)
    ident = entry.get("id", value)
    if ident is None:
        raise FormatError(f"{at} ({name}): no 'id' (or give the file an 'offset')", where)
    if value is None:
        value = ident
    if value < 0 or ident < 0:
        raise FormatError(f"{at} ({name}): ids and values are not negative", where)
    for key in ("isthing", "void"):
        if key in entry and not isinstance(entry[key], bool):
            raise FormatError(f"{at} ({name}): {key} must be true or false", where)
    return Label(
        ident,
        name,
        value,
        _color(entry.get("color"), at, name, where),
        entry.get("isthing"),
        entry.get("trainId"),
        bool(entry.get("void", False)),
    )


def _color(value: Any, at: str, name: str, where: str) -> tuple[int, int, int] | None:
    if value is None:
        return None
    if isinstance(value, str) and value.startswith("#") and len(value) == 7:
        try:
            return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)
        except ValueError:
            pass
    elif isinstance(value, list) and len(value) == 3 and all(_is_int(v) and 0 <= v <= 255 for v in value):
        return int(value[0]), int(value[1]), int(value[2])
    raise FormatError(f"{at} ({name}): color must be [r, g, b] (0..255) or '#rrggbb', not {value!r}", where)


def _unique(labels: tuple[Label, ...], key: str, where: str) -> None:
    seen: dict[int, str] = {}
    for lb in labels:
        v = getattr(lb, key)
        if v in seen:
            raise FormatError(f"{key} {v} is given twice ({seen[v]!r} and {lb.name!r})", where)
        seen[v] = lb.name


def _choice(value: Any, choices: tuple[str, ...], key: str, where: str) -> str:
    if value not in choices:
        raise FormatError(f"{key} must be one of {', '.join(choices)}, not {value!r}", where)
    return str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
