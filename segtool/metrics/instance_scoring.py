"""How ``evaluate_instance`` scores the paired images: COCOeval (:mod:`.instances`) or
LVISEval (:mod:`.lvis`), on all images and categories or a subset
(:mod:`.instance_subsets`), decided once from the ground truth and the options."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import SegtoolError
from ..model import Category, Dataset, Sample
from ..pairing import id_order
from . import instance_subsets as subsets
from . import lvis as _lvis
from .instance_result import InstanceResult, Params
from .instances import NoMasks
from .instances import evaluate as _evaluate_instance
from .lvis import LVISResult

if TYPE_CHECKING:
    from .partial import Plan
from .slices import Slices


@dataclass(frozen=True)
class InstanceScorer:
    """How the pairs are scored: COCOeval or LVISEval, on which images and categories."""

    params: Params
    jobs: int
    path: str
    lvis: bool
    frequency: dict[int, str]
    img_ids: frozenset[Any] | None
    cat_ids: frozenset[int] | None
    agnostic: bool
    plan: Plan | None = None  # a shard's (:mod:`.partial`): its images scored, its partial written
    per_image: bool = False  # rows per image and slices (:mod:`.per_image`), COCOeval's or LVIS' rules
    slices: Slices | None = None

    @classmethod
    def of(
        cls,
        gt: Dataset,
        params: Params,
        jobs: int,
        lvis: bool | None,
        img_ids: Sequence[Any] | None,
        cat_ids: Sequence[int] | None,
        agnostic: bool,
    ) -> InstanceScorer:
        """The scorer for ground truth ``gt``: its LVIS lists and the subset checked first."""
        subsets.check_ids(img_ids, cat_ids, gt.samples, gt.categories)
        use_lvis = _lvis.is_lvis(gt) if lvis is None else lvis
        frequency: dict[int, str] = {}
        if use_lvis:
            if agnostic:
                raise SegtoolError("--class-agnostic: lvis-api has no class-agnostic evaluation; add --no-lvis")
            if params.iou_type not in ("segm", "bbox"):
                raise SegtoolError(f"--iou-type {params.iou_type}: LVIS is scored on masks or boxes (lvis-api's)")
            _lvis.check(gt)
            frequency = _lvis.frequencies(gt.categories)
        images = None if img_ids is None else frozenset(img_ids)
        cats = None if cat_ids is None else frozenset(cat_ids)
        return cls(params, jobs, gt.path, use_lvis, frequency, images, cats, agnostic)

    def reporting(self, per_image: bool, slices: Slices | None) -> InstanceScorer:
        """The same, with per-image rows and slices (under LVIS' rules for LVIS)."""
        return replace(self, per_image=per_image, slices=slices)

    def sharded(self, plan: Plan | None, img_ids: Any, cat_ids: Any) -> InstanceScorer:
        """The same on a shard (``plan``), the options that change the numbers recorded
        in its partial (the subsets as lists in pycocotools' order)."""
        if plan is None:
            return self
        plan.params.update(lvis=self.lvis, class_agnostic=self.agnostic)
        plan.params["img_ids"] = None if img_ids is None else sorted(set(img_ids), key=id_order)
        plan.params["cat_ids"] = None if cat_ids is None else sorted(set(cat_ids))
        return replace(self, plan=plan)

    def __call__(
        self,
        pairs: Iterator[tuple[int, Sample, Sample | None]],
        categories: tuple[Category, ...],
        count: int,
        progress: Callable[[int], None] | None,
    ) -> InstanceResult | LVISResult:
        if self.plan is not None:  # this shard's pairs scored by the same scorer without a plan
            unplanned = replace(self, plan=None)
            return self.plan.instance(unplanned, pairs, categories, count, progress, path=self.path or None)  # type: ignore[no-any-return]
        if self.img_ids is not None:
            pairs = subsets.only_images(pairs, self.img_ids, progress)
        try:
            if self.lvis:
                return _lvis.evaluate(
                    pairs,
                    categories,
                    self.params,
                    count=count,
                    frequency=self.frequency,
                    cat_ids=self.cat_ids,
                    jobs=self.jobs,
                    progress=progress,
                    per_image=self.per_image,
                    slices=self.slices,
                )
            subset = None if self.cat_ids is None and not self.agnostic else subsets.Subset(self.cat_ids, self.agnostic)
            return _evaluate_instance(
                pairs,
                categories,
                self.params,
                count=count,
                jobs=self.jobs,
                progress=progress,
                adjust=subset,
                scored=subsets.categories(categories, self.cat_ids, self.agnostic),
                per_image=self.per_image,
                slices=self.slices,
            )
        except NoMasks as e:
            hint = f"{e.message}: mask AP would be 0 for every detection; score boxes with --iou-type bbox"
            raise SegtoolError(hint, self.path or None) from None
