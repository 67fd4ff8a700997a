"""Slices: named subsets of a dataset's images, each scored as if it were evaluated alone.

A slices file is JSON: ``{"night": [139, 285], "rain": [632]}``, a name to a list of image
ids (integers or strings, compared as the ground truth spells them: ``"139"`` is not 139,
as in pycocotools' dictionaries). Every metric is then reported per slice beside the
overall one. The statistics of a slice are summed from the per-image statistics the
evaluation already computes (no image is scored twice), which is why a slice's numbers are
those of an evaluation of its images alone: each metric's per-image statistics do not
depend on the other images.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SegtoolError
from ..pairing import id_order, shown


@dataclass(frozen=True)
class Slices:
    """Slice names in file order, and the slices each image id belongs to."""

    names: tuple[str, ...]
    members: dict[Any, tuple[int, ...]]  # image id -> indices into names
    path: str = ""

    @classmethod
    def load(cls, path: Path | str) -> Slices:
        """A slices file, checked: one line naming the file and the problem when it is not
        a JSON object of names to lists of integer or string ids."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise SegtoolError(f"cannot read the slices file ({exc.__class__.__name__})", str(path)) from None
        except json.JSONDecodeError as exc:
            raise SegtoolError(f"the slices file is not JSON ({exc.msg}, line {exc.lineno})", str(path)) from None
        return cls.of(data, str(path))

    @classmethod
    def of(cls, data: Any, path: str = "") -> Slices:
        """Slices from a mapping of name to image ids (what a slices file holds)."""
        if not isinstance(data, Mapping) or not data:
            raise SegtoolError("slices: expected a JSON object of slice name -> list of image ids", path or None)
        members: dict[Any, list[int]] = {}
        for k, (name, ids) in enumerate(data.items()):
            if not isinstance(name, str) or not isinstance(ids, list | tuple):
                raise SegtoolError(f"slice {name!r}: expected a list of image ids", path or None)
            for iid in ids:
                if type(iid) not in (int, str):
                    raise SegtoolError(
                        f"slice {name!r}: image ids are integers or strings, got {iid!r:.40}", path or None
                    )
                if k not in members.setdefault(iid, []):
                    members[iid].append(k)
        return cls(tuple(data), {i: tuple(v) for i, v in members.items()}, path)

    def check(self, known: Iterable[Any]) -> None:
        """Every image a slice names is one of ``known`` (the ground truth's image ids);
        else one line naming the file, the slice, the first unknown id and how many."""
        table = set(known)
        unknown = [i for i in self.members if i not in table]
        if unknown:
            first = unknown[0]
            name = self.names[self.members[first][0]]
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            msg = f"slice {name!r} names image id {shown(first)}, which the ground truth does not have{more}"
            raise SegtoolError(msg, self.path or None)

    def of_image(self, image_id: Any) -> tuple[int, ...]:
        """The slices (indices into :attr:`names`) an image belongs to."""
        return self.members.get(image_id, ())

    def identity(self) -> dict[str, Any]:
        """The names, and a BLAKE2b digest (16 bytes, hex) of each slice's name and ids
        (sorted as pycocotools sorts ids; ``139`` and ``"139"`` differ): what a shard's
        partial records, so that shards of other slices are not merged."""
        ids: list[list[Any]] = [[] for _ in self.names]
        for iid, where in self.members.items():
            for k in where:
                ids[k].append(iid)
        canon = [[name, sorted(v, key=id_order)] for name, v in zip(self.names, ids, strict=True)]
        text = json.dumps(canon, ensure_ascii=False).encode("utf-8", "surrogatepass")
        return {"names": list(self.names), "digest": hashlib.blake2b(text, digest_size=16).hexdigest()}


class Sliced(dict[str, Any]):
    """Each slice's result by name, in the slices' order, and which slices they are
    (``identity``: :meth:`Slices.identity`), which a shard's partial records."""

    def __init__(self, identity: dict[str, Any], results: Iterable[tuple[str, Any]]) -> None:
        super().__init__(results)
        self.identity = identity

    def map(self, make: Callable[[Any], Any]) -> Sliced:
        """The same slices, each result ``make(result)``."""
        return Sliced(self.identity, ((k, make(v)) for k, v in self.items()))


SlicesLike = Mapping[str, Sequence[Any]] | Path | str | Slices  # a file, a mapping, or slices already read


def slices_of(value: SlicesLike | None) -> Slices | None:
    """Slices from what the API accepts: a file, a mapping, or :class:`Slices` already."""
    if value is None or isinstance(value, Slices):
        return value
    if isinstance(value, str | Path):
        return Slices.load(value)
    return Slices.of(value)


def extras(per_image: list[dict[str, Any]] | None, sliced: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``per_image`` rows and ``slices`` (each slice's own ``to_dict()``) of a result's
    ``to_dict``, when they were asked for."""
    out: dict[str, Any] = {}
    if per_image is not None:
        out["per_image"] = per_image
    if sliced is not None:
        out["slices"] = {name: r.to_dict() for name, r in sliced.items()}
    return out
