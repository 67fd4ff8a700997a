"""The Cityscapes label table, as data: the facts of cityscapesScripts' ``helpers/labels.py``.

Each label has an ``id`` (the value of ``*_labelIds.png``; -1: never drawn), a ``train_id``
(255: not trained on), a ``category`` and its ``category_id``, ``has_instances`` (its
objects get instance ids ``id * 1000 + k``), ``ignore_in_eval`` (void for evaluation) and a
``color`` (``*_color.png``). ``<name>group`` in a polygons JSON names a crowd of a label
with instances.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt


class Label(NamedTuple):
    """One row of the table."""

    name: str
    id: int
    train_id: int
    category: str
    category_id: int
    has_instances: bool
    ignore_in_eval: bool
    color: tuple[int, int, int]


_ROWS = """\
unlabeled             0 255 void         0 0 1   0   0   0
ego vehicle           1 255 void         0 0 1   0   0   0
rectification border  2 255 void         0 0 1   0   0   0
out of roi            3 255 void         0 0 1   0   0   0
static                4 255 void         0 0 1   0   0   0
dynamic               5 255 void         0 0 1 111  74   0
ground                6 255 void         0 0 1  81   0  81
road                  7   0 flat         1 0 0 128  64 128
sidewalk              8   1 flat         1 0 0 244  35 232
parking               9 255 flat         1 0 1 250 170 160
rail track           10 255 flat         1 0 1 230 150 140
building             11   2 construction 2 0 0  70  70  70
wall                 12   3 construction 2 0 0 102 102 156
fence                13   4 construction 2 0 0 190 153 153
guard rail           14 255 construction 2 0 1 180 165 180
bridge               15 255 construction 2 0 1 150 100 100
tunnel               16 255 construction 2 0 1 150 120  90
pole                 17   5 object       3 0 0 153 153 153
polegroup            18 255 object       3 0 1 153 153 153
traffic light        19   6 object       3 0 0 250 170  30
traffic sign         20   7 object       3 0 0 220 220   0
vegetation           21   8 nature       4 0 0 107 142  35
terrain              22   9 nature       4 0 0 152 251 152
sky                  23  10 sky          5 0 0  70 130 180
person               24  11 human        6 1 0 220  20  60
rider                25  12 human        6 1 0 255   0   0
car                  26  13 vehicle      7 1 0   0   0 142
truck                27  14 vehicle      7 1 0   0   0  70
bus                  28  15 vehicle      7 1 0   0  60 100
caravan              29 255 vehicle      7 1 1   0   0  90
trailer              30 255 vehicle      7 1 1   0   0 110
train                31  16 vehicle      7 1 0   0  80 100
motorcycle           32  17 vehicle      7 1 0   0   0 230
bicycle              33  18 vehicle      7 1 0 119  11  32
license plate        -1  -1 vehicle      7 0 1   0   0 142
"""


def _parse(rows: str) -> tuple[Label, ...]:
    out = []
    for line in rows.splitlines():
        name, rest = line[:20].strip(), line[20:].split()
        ident, train, category, cat_id, things, ignore, r, g, b = rest
        out.append(
            Label(
                name,
                int(ident),
                int(train),
                category,
                int(cat_id),
                things == "1",
                ignore == "1",
                (int(r), int(g), int(b)),
            )
        )
    return tuple(out)


LABELS: tuple[Label, ...] = _parse(_ROWS)
BY_NAME: dict[str, Label] = {label.name: label for label in LABELS}
BY_ID: dict[int, Label] = {label.id: label for label in LABELS}
UNLABELED = BY_NAME["unlabeled"]
MAX_ID = max(BY_ID)  # 33: a labelIds value above it is no label
INSTANCE_BASE = 1000  # instanceIds of a labelled object: id * 1000 + k


def label_of(name: str) -> tuple[Label, bool] | None:
    """The label a polygons JSON's ``label`` names and whether it is a group (crowd), as
    json2labelImg reads it: a known name, else ``<name>group`` of a known name; None for
    neither."""
    if name in BY_NAME:
        return BY_NAME[name], False
    if name.endswith("group") and name[: -len("group")] in BY_NAME:
        return BY_NAME[name[: -len("group")]], True
    return None


def table(values: str) -> npt.NDArray[np.int64]:
    """A column of the table indexed by label id 0..MAX_ID (``values``: a field name)."""
    out = np.zeros(MAX_ID + 1, dtype=np.int64)
    for label in LABELS:
        if label.id >= 0:
            out[label.id] = int(getattr(label, values))
    return out
