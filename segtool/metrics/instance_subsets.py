"""COCOeval's ``params.imgIds``, ``params.catIds`` and ``params.useCats = 0`` for instance AP.

- Images: only those listed are scored (their ground truth and detections); the others
  are passed over, as COCOeval's ``_prepare`` loads nothing of them.
- Categories: ground truth and detections of other categories are left out, and the
  result has one entry per listed category (``catIds``, sorted).
- Class-agnostic (``useCats = 0``): every detection may match every ground truth of its
  image. COCOeval then lists an image's objects category by category (``catIds`` order:
  ascending ids), each category's in file order, and applies ``maxDets`` per image, not per
  category; the result has one "category", id -1, as COCOeval's ``catIds = [-1]``. The
  order matters: among equal IoUs the later ground truth wins, and equal scores keep it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SegtoolError
from ..model import Category, ImageInfo, Sample
from .instances import Objects

ALL = Category(-1, "all categories")  # the one category of a class-agnostic result


def take(o: Objects, keep: npt.NDArray[Any]) -> Objects:
    """The objects at ``keep`` (indices, or a mask), in that order (ground truth has no scores)."""
    idx = np.flatnonzero(keep) if keep.dtype == bool else keep
    score = o.score[idx] if len(o.score) == len(o.ids) else o.score
    return Objects(
        o.ids[idx], o.category_id[idx], o.area[idx], o.iscrowd[idx], [o.shapes[i] for i in idx.tolist()], score
    )


@dataclass(frozen=True)
class Subset:
    """The per-image part (an :data:`~.instances.Adjust`): categories kept, and with
    ``agnostic`` the objects regrouped by category and made one category."""

    cat_ids: frozenset[int] | None
    agnostic: bool

    def __call__(self, gt: Objects, dt: Objects, image: ImageInfo) -> tuple[Objects, Objects, None]:
        return self.objects(gt), self.objects(dt), None

    def objects(self, o: Objects) -> Objects:
        """``o`` restricted to the categories, then (class-agnostic) in COCOeval's order."""
        if self.cat_ids is not None:
            wanted = np.fromiter(self.cat_ids, np.int64, len(self.cat_ids))
            o = take(o, np.isin(o.category_id, wanted))
        if self.agnostic:
            o = take(o, np.argsort(o.category_id, kind="stable"))
            o.category_id = np.full(len(o.ids), ALL.id, np.int64)
        return o


def categories(known: tuple[Category, ...], cat_ids: frozenset[int] | None, agnostic: bool) -> tuple[Category, ...]:
    """The categories of the result: the listed ones (all when none are), or :data:`ALL`."""
    if agnostic:
        return (ALL,)
    return tuple(c for c in known if cat_ids is None or c.id in cat_ids)


def check_ids(
    img_ids: Iterable[Any] | None, cat_ids: Iterable[int] | None, samples: Iterable[Sample], known: Iterable[Category]
) -> None:
    """Every listed image and category is the ground truth's (COCOeval would score an
    unknown one as empty; a typo is likelier: bad input, one line naming the ids)."""
    if img_ids is not None:
        have = {s.image.id for s in samples}
        missing = [i for i in img_ids if i not in have]
        if missing:
            raise SegtoolError(f"--img-ids: the ground truth has no image {', '.join(map(str, missing[:5]))}")
    if cat_ids is not None:
        have_c = {c.id for c in known}
        missing_c = [c for c in cat_ids if c not in have_c]
        if missing_c:
            raise SegtoolError(f"--cat-ids: the ground truth has no category {', '.join(map(str, missing_c[:5]))}")


def only_images(
    pairs: Iterator[tuple[int, Sample, Sample | None]],
    img_ids: frozenset[Any],
    progress: Callable[[int], None] | None,
) -> Iterator[tuple[int, Sample, Sample | None]]:
    """The pairs of the listed images; the others are passed over (counted as done, so that
    progress still reaches its end)."""
    for rank, gt, dt in pairs:
        if gt.image.id in img_ids:
            yield rank, gt, dt
        elif progress is not None:
            progress(1)
