"""Which images a shard of an evaluation takes, and what identifies its ground truth.

``--shard I/N`` takes the images whose id hashes to ``I - 1`` modulo ``N`` (BLAKE2b, 8
bytes, of the id tagged by its type: ``2299`` and ``"2299"`` are different images). A hash
rather than a position in the ground truth's image order, because a position moves when an
image is added or removed, or when the file lists its images in another order, and every
shard would then take other images; a hash keeps each image in its shard whatever the file
around it does, needs no first pass over the file, and is the same on every machine and
Python (no ``hash()`` randomisation). Shards come out within a few percent of ``1/N`` of
the images once there are a few hundred (binomial: ±3/sqrt(images / N)).

The ground truth's identity (:func:`ground_truth_digest`) is what every shard reads anyway:
its image ids, its category table, and the bytes of its file when it is one (a COCO JSON:
annotations included, hashed at ~1 GB/s against the ~50 MB/s its parsing takes). A folder's
pixels are not hashed: that would make every shard read the whole dataset's PNGs, N times
the work the shards split (docs/metrics/partials.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import SegtoolError
from ..model import Category, Sample
from ..pairing import Predictions, Stream, id_order

T = TypeVar("T")
_SPEC = re.compile(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*")


def image_key(image_id: Any) -> bytes:
    """The bytes an image id is hashed by: its type, then its text."""
    if isinstance(image_id, str):
        return b"s" + image_id.encode("utf-8", "surrogatepass")
    return b"i" + str(int(image_id)).encode("ascii")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, spec: str | Shard) -> Shard:
        """``"I/N"`` with 1 <= I <= N (``3/2``, ``0/4``, ``1/0``, ``a/b`` refused, one line)."""
        if isinstance(spec, Shard):
            return cls.check(spec.index, spec.count)
        m = _SPEC.fullmatch(spec) if isinstance(spec, str) else None
        if m is None:
            raise SegtoolError(f"--shard {spec!r:.40}: expected I/N, e.g. 2/8 (shard I of N, 1 <= I <= N)")
        return cls.check(int(m.group(1)), int(m.group(2)))

    @classmethod
    def check(cls, index: int, count: int) -> Shard:
        """A shard whose numbers make sense, or a one-line error."""
        if count < 1 or not 1 <= index <= count:
            raise SegtoolError(f"--shard {index}/{count}: I must be from 1 to N (and N at least 1)")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def takes(self, image_id: Any) -> bool:
        """Whether this shard scores the image."""
        if self.count == 1:
            return True
        h = int.from_bytes(hashlib.blake2b(image_key(image_id), digest_size=8).digest(), "little")
        return h % self.count == self.index - 1

    def samples(self, samples: Sequence[T], image_of: Callable[[T], Any]) -> list[T]:
        """The items of this shard's images, in their order."""
        return [s for s in samples if self.takes(image_of(s))]

    def pairs(
        self, pairs: Iterable[T], image_of: Callable[[T], Any], progress: Callable[[int], None] | None
    ) -> Iterator[T]:
        """The pairs of this shard's images; the others are passed over (counted as done,
        so that progress still reaches its end)."""
        for p in pairs:
            if self.takes(image_of(p)):
                yield p
            elif progress is not None:
                progress(1)

    def stream(self, side: Stream, known: Any = None) -> Stream:
        """One streamed side restricted to this shard's images (``known``: the ids the
        ground truth lists, kept whole, so that a prediction of another shard's image is
        passed over, not refused as a stranger)."""
        ids = side.ids
        mask = np.fromiter((self.takes(i) for i in ids.tolist()), bool, len(ids))
        items = side.items
        return Stream(
            ids[mask],
            lambda: ((i, s) for i, s in items() if self.takes(i)),
            side.path,
            side.categories,
            side.known if known is None else known,
            side.listed,
        )


def ground_truth_digest(ids: Iterable[Any], categories: Sequence[Category], path: str | Path | None) -> str:
    """BLAKE2b (16 bytes, hex) of the ground truth: its image ids (sorted as pycocotools
    sorts them, so the order of the file does not matter), its categories (id, name,
    isthing, supercategory, frequency, in order) and its file's bytes when it is a file."""
    h = hashlib.blake2b(b"segtool ground truth 1\0", digest_size=16)
    cats = [[c.id, c.name, c.isthing, c.supercategory, c.frequency] for c in categories]
    h.update(json.dumps(cats, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\0")
    for iid in sorted(ids, key=id_order):
        h.update(image_key(iid) + b"\0")
    if path is not None and str(path) != "-" and Path(path).is_file():
        with Path(path).open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def predictions(shard: Shard, samples: Sequence[Sample], preds: Predictions) -> tuple[tuple[Sample, ...], Predictions]:
    """The ground-truth samples of ``shard`` and the predictions less those of the other
    shards' images (a prediction of no ground-truth image is kept, to be refused as ever)."""
    kept = tuple(s for s in samples if shard.takes(s.image.id))
    others = {preds.key(s) for s in samples if not shard.takes(s.image.id)}
    return kept, Predictions({k: v for k, v in preds.sources.items() if k not in others}, preds.by, preds.path)
