"""``segtool preview``: overlay renders of a dataset (and a prediction set), for people."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from .. import formats
from ..atomic import dataset_inputs
from ..parallel import warm_up
from ..preview import Style, preview
from ..preview_select import Choice
from . import main, output
from .options import (
    check_reading,
    images_option,
    jobs_option,
    json_option,
    overwrite_option,
    quiet_option,
    reading_options,
    source_options,
)
from .progress import steps


def _ids(value: str | None) -> list[int | str] | None:
    if not value:
        return None
    out: list[int | str] = []
    for part in value.split(","):
        part = part.strip()
        if part:
            out.append(int(part) if part.lstrip("-").isdigit() else part)
    return out


@main.command(name="preview")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@source_options
@reading_options
@images_option("Folder of the photos (by file_name); without it, renders use a neutral background.")
@click.option(
    "--pred",
    type=click.Path(path_type=Path),
    help="Predictions (coco-panoptic JSON, semantic folder or COCO results): adds a prediction and an error panel.",
)
@click.option("--ids", help="Only these image ids (comma-separated).")
@click.option("--sample", type=click.IntRange(1), help="A random sample of N images (see --seed).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample.")
@click.option(
    "--sort",
    metavar="METRIC",
    help="Order by this per-image metric of the matching eval (panoptic: pq sq rq tp fp fn; instance: ap tp fp fn;"
    " semantic: miou accuracy), or 'file'. Default with --pred: pq / ap / miou, worst first; without: file order.",
)
@click.option(
    "--ascending/--descending",
    "ascending",
    default=None,
    help="Lowest or highest --sort value first (default: worst first: low pq/ap/miou/tp, high fp/fn).",
)
@click.option(
    "--class",
    "classes",
    metavar="NAME[,NAME]",
    help="Only images with a segment of these categories, in the ground truth or the prediction.",
)
@click.option(
    "--min-score",
    type=float,
    metavar="S",
    help="Drop instance predictions scoring below S before rendering, matching and sorting.",
)
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.5, show_default=True, help="Fill opacity.")
@click.option("--outline/--no-outline", default=True, show_default=True, help="Outline every segment.")
@click.option("--names/--no-names", default=True, show_default=True, help="Category names inside segments.")
@click.option("--grid", type=click.IntRange(1), help="Also put N renders on each contact sheet (sheet_001.png, …).")
@click.option("--html", "gallery", is_flag=True, help="Also write OUT/index.html, a gallery that opens from disk.")
@overwrite_option
@jobs_option
@json_option
@quiet_option
def preview_cmd(
    path: Path,
    out: Path,
    from_: str | None,
    masks: Path | None,
    categories: Path | None,
    ignore_value: int,
    reading: dict[str, Any],
    images_dir: Path | None,
    pred: Path | None,
    ids: str | None,
    sample: int | None,
    seed: int,
    sort: str | None,
    ascending: bool | None,
    classes: str | None,
    min_score: float | None,
    alpha: float,
    outline: bool,
    names: bool,
    grid: int | None,
    gallery: bool,
    overwrite: bool,
    jobs: int,
    json_out: str | None,
) -> None:
    """Render PATH's annotations over its photos into the folder OUT: one PNG per image
    (OUT/<file stem>.png), with a legend below. With --pred, each render is ground truth |
    prediction | errors (green matched, red false positive, blue missed). With --pred,
    images come worst first by the matching eval's per-image metric (see --sort).

    \b
    Example:
      segtool preview panoptic_val2017.json previews/ --images val2017/ --sample 50 --html
      segtool preview instances.json previews/ --images val2017/ --ids 139,285 --no-names
      segtool preview panoptic_val2017.json previews/ --pred predictions.json --grid 16
      segtool preview instances.json previews/ --pred results.json --sort fp --class person --min-score 0.3 --html
    """
    if (ids is not None) and sample is not None:
        raise click.UsageError("--ids and --sample choose images in two ways; pass one")
    if min_score is not None and not math.isfinite(min_score):
        raise click.BadParameter("not a number", param_hint="--min-score")
    if images_dir is not None and not images_dir.is_dir():
        raise click.BadParameter("not a folder", param_hint="--images")
    inputs = [
        *dataset_inputs(path, masks),
        *dataset_inputs(pred),
        *dataset_inputs(images_dir),
        *dataset_inputs(reading.get("labels")),
    ]
    output.check_outputs(json_out, inputs=[*inputs, *dataset_inputs(categories)], outputs=[out], overwrite=overwrite)
    warm_up(jobs)
    name = from_ or formats.detect(path)
    check_reading(name, reading)
    with steps("preview") as advance:
        summary = preview(
            path,
            out,
            read_options={"masks": masks, "categories": categories, "ignore_value": ignore_value, **reading},
            images=images_dir,
            pred=pred,
            ids=_ids(ids),
            sample=sample,
            seed=seed,
            style=Style(alpha, outline, names),
            grid=grid,
            gallery=gallery,
            overwrite=overwrite,
            jobs=jobs,
            progress=advance,
            source_format=name,
            choice=Choice(
                sort,
                None if ascending is None else not ascending,
                tuple(c.strip() for c in (classes or "").split(",") if c.strip()),
                min_score,
            ),
        )
    if summary.without_photo:
        first = next(r.photo_note for r in summary.rendered if not r.photo)
        example = first if images_dir is None else f"e.g. {first}"
        output.note(
            f"note: {summary.without_photo} of {len(summary.rendered)} images rendered on a neutral background ({example})"
        )
    if summary.note:
        output.note(f"note: {summary.note}")
    if json_out:
        output.emit_json(summary.to_dict(), json_out, overwrite=overwrite)
        if json_out == "-":
            return
    rows = [("from", f"{name}  {path}"), ("renders", f"{len(summary.rendered)} in {out}/")]
    if summary.sort is not None:
        rows.append(("order", f"by {summary.sort['metric']}, {summary.sort['order']}"))
    if summary.sheets:
        rows.append(("contact sheets", ", ".join(summary.sheets)))
    if summary.gallery:
        rows.append(("gallery", str(out / summary.gallery)))
    scored = [r for r in summary.rendered if r.counts is not None]
    if scored:
        tp, fp, fn = (sum(r.counts[i] for r in scored if r.counts) for i in range(3))
        rows.append(("segments", f"TP {tp} · FP {fp} · FN {fn}"))
    output.out.print(output.key_value_table("segtool preview", rows))
