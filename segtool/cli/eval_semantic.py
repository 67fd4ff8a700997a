"""``segtool eval semantic``: pixel accuracy, IoU per class and mIoU of label maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import formats
from ..atomic import dataset_inputs
from ..errors import OverlapError
from ..evaluate import evaluate_semantic
from ..parallel import warm_up
from . import inputs, output
from .eval import SEMANTIC_GATES, _parse_gates, _report, eval_group, report_options, shard_options
from .options import FORMAT, check_reading, reading_options
from .progress import steps


@eval_group.command()
@click.argument("gt", type=click.Path(path_type=Path))
@click.argument("pred", type=click.Path(path_type=Path))
@click.option("--from", "from_", type=FORMAT, help="Ground-truth format (detected when omitted).")
@click.option(
    "--categories", type=click.Path(path_type=Path), help="categories.json for a ground-truth folder that has none."
)
@click.option(
    "--ignore-value",
    type=click.IntRange(0, 65535),
    default=255,
    show_default=True,
    help="Label of void pixels: left out of the ground truth, 'unlabelled' in predictions.",
)
@click.option("--allow-missing", is_flag=True, help="Count ground-truth images without a prediction as all unlabelled.")
@click.option("--boundary", is_flag=True, help="Also the Boundary IoU per class and its mean (boundary_mIoU).")
@click.option(
    "--dilation-ratio",
    type=float,
    default=None,
    metavar="R",
    help="With --boundary: boundary width as a fraction of the image diagonal (default 0.02).",
)
@reading_options
@shard_options
@report_options(SEMANTIC_GATES)
def semantic(
    gt: Path,
    pred: Path,
    from_: str | None,
    categories: Path | None,
    ignore_value: int,
    allow_missing: bool,
    boundary: bool,
    dilation_ratio: float | None,
    per_image: bool,
    slices: Path | None,
    reading: dict[str, Any],
    sharding: dict[str, Any],
    per_class: bool,
    csv_out: Path | None,
    fail_under: tuple[str, ...],
    fmt: str,
    jobs: int,
    overwrite: bool,
    json_out: str | None,
) -> None:
    """Pixel accuracy, mean class accuracy, IoU per class, mIoU and fwIoU of PRED against GT.

    GT is a semantic folder (label PNGs + categories.json) or any dataset segtool reads,
    seen as a label map (a JSON may be -, stdin). PRED is a folder of label PNGs named like the ground-truth images
    (categories.json optional). Classes absent from both ground truth and prediction are
    left out of the means.

    \b
    Example:
      segtool eval semantic labels/val predictions/ --per-class
      segtool eval semantic gt/ pred/ --ignore-value 255 --fail-under mIoU=0.7 --json
      segtool eval semantic gt/ pred/ --boundary --fail-under boundary_mIoU=0.5
    """
    gates = _parse_gates(fail_under, SEMANTIC_GATES)
    inputs.refuse_stdin(pred, "PRED is a folder of label PNGs")
    source = inputs.single(click.get_current_context(), gt)
    if from_ is not None:
        inputs.check_stdin_format(source, from_, None, pixels=False)
    gt = source.path
    sources = [*dataset_inputs(gt), *dataset_inputs(pred), *dataset_inputs(categories)]
    output.check_outputs(
        json_out, csv_out, inputs=[*sources, *dataset_inputs(reading.get("labels"))], overwrite=overwrite
    )
    if reading:
        check_reading(from_ or formats.detect(gt), reading)
    warm_up(jobs)
    with steps("eval semantic") as advance:
        try:
            result = evaluate_semantic(
                gt,
                pred,
                gt_format=from_,
                categories=categories,
                ignore_value=ignore_value,
                allow_missing=allow_missing,
                read_options=reading,
                **sharding,
                jobs=jobs,
                progress=advance,
                boundary=boundary,
                dilation_ratio=dilation_ratio,
                per_image=per_image,
                slices=slices,
            )
        except OverlapError as exc:  # eval has no --overlap: say how to get label maps
            raise OverlapError(
                f"{exc.message}: convert the ground truth first (segtool convert GT LABELS --to semantic --overlap POLICY)",
                exc.path,
            ) from None
    data = result.to_dict()
    outputs = {"json_out": json_out, "csv_out": csv_out, "overwrite": overwrite, "per_class": per_class, "fmt": fmt}
    _report("eval semantic", data, {k: data.get(k) for k in SEMANTIC_GATES}, gates, outputs)
