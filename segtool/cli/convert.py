"""``segtool convert``: one dataset format to another, through the canonical model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import formats
from ..atomic import dataset_inputs
from ..convert import OVERLAP_CHOICES, overlap_reading, write
from ..errors import OverlapError
from ..formats.options import WriteOptions
from ..parallel import warm_up
from . import main, output
from .options import (
    FORMAT,
    check_reading,
    jobs_option,
    json_option,
    overwrite_option,
    quiet_option,
    reading_options,
    source_options,
)
from .progress import steps


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--to", "to", type=FORMAT, required=True, help="Output format.")
@source_options
@reading_options
@click.option(
    "--overlap",
    type=click.Choice(OVERLAP_CHOICES),
    default="auto",
    show_default=True,
    help="Overlapping instances going to a format without overlaps: 'order' paints them in the tool's own "
    "order (LabelMe: later on top; CVAT: z_order); 'auto' does that for such tools and refuses otherwise; "
    "first|largest|smallest|score say which one keeps the pixels.",
)
@click.option("--things-only", is_flag=True, help="coco-instance output: drop stuff segments.")
@click.option(
    "--mask-encoding",
    type=click.Choice(["rle", "polygon"]),
    default="rle",
    show_default=True,
    help="coco-instance output: mask encoding (masks polygons cannot carry stay RLE).",
)
@click.option(
    "--split-things", is_flag=True, help="Semantic input: one instance per connected component of a thing class."
)
@click.option(
    "--palette/--no-palette",
    default=False,
    show_default=True,
    help="Semantic output: palette PNGs coloured by category.",
)
@click.option(
    "--precision",
    type=click.IntRange(0, 15),
    default=6,
    show_default=True,
    help="yolo-seg output: decimals of the normalised coordinates.",
)
@click.option(
    "--instances",
    type=click.Path(path_type=Path),
    help="Semantic input + this instance JSON (or results list) → panoptic, by the combine heuristic.",
)
@click.option(
    "--confidence", type=float, default=0.5, show_default=True, help="With --instances: minimum instance score."
)
@click.option(
    "--overlap-threshold",
    type=float,
    default=0.5,
    show_default=True,
    help="With --instances: drop an instance whose area is more than this fraction already taken.",
)
@click.option(
    "--stuff-area-limit",
    type=int,
    default=64 * 64,
    show_default=True,
    help="With --instances: drop stuff regions with fewer free pixels than this.",
)
@jobs_option
@overwrite_option
@json_option
@quiet_option
def convert(
    src: Path,
    dst: Path,
    to: str,
    from_: str | None,
    masks: Path | None,
    categories: Path | None,
    ignore_value: int,
    reading: dict[str, Any],
    overlap: str,
    things_only: bool,
    mask_encoding: str,
    split_things: bool,
    palette: bool,
    precision: int,
    instances: Path | None,
    confidence: float,
    overlap_threshold: float,
    stuff_area_limit: int,
    jobs: int,
    overwrite: bool,
    json_out: str | None,
) -> None:
    """Convert the dataset SRC to DST in the format given by --to.

    DST is a .json path for coco-instance and coco-panoptic (PNGs go to the folder named
    by its stem) and a folder for semantic. The input is never modified; the output is
    written to a temporary sibling and renamed into place when complete.

    \b
    Example:
      segtool convert panoptic_val2017.json instances.json --to coco-instance
      segtool convert instances.json panoptic.json --to coco-panoptic --overlap score
      segtool convert labels/ panoptic.json --to coco-panoptic --split-things
      segtool convert semseg/ panoptic.json --to coco-panoptic --instances detections.json
      segtool convert labelme/ panoptic.json --to coco-panoptic      # LabelMe's painting order
      segtool convert gtFine/ train/ --to semantic --labels cityscapes_train_ids.yaml
    """
    labels = reading.get("labels")
    inputs = [
        *dataset_inputs(src, masks),
        *dataset_inputs(instances),
        *dataset_inputs(categories),
        *dataset_inputs(labels),
    ]
    output.check_outputs(json_out, inputs=inputs, outputs=formats.get(to).targets(dst), overwrite=overwrite)
    warm_up(jobs)
    if instances is not None:
        ds = formats.read_combined(
            src,
            instances,
            categories=categories,
            ignore_value=ignore_value,
            confidence=confidence,
            overlap_threshold=overlap_threshold,
            stuff_area_limit=stuff_area_limit,
        )
        name = "semantic+coco-instance"
        policy = "error" if overlap == "auto" else overlap
    else:
        name = from_ or formats.detect(src)
        check_reading(name, reading)
        flatten, policy = overlap_reading(name, to, overlap)
        ds = formats.read(
            src,
            name,
            masks=masks,
            categories=categories,
            ignore_value=ignore_value,
            flatten=flatten or None,
            **reading,
        )
    opts = WriteOptions(to, policy, things_only, mask_encoding, ignore_value, palette, split_things, precision)
    with steps(f"convert {name} → {to}", len(ds.samples)) as advance:
        try:
            summary = write(
                ds, dst, opts, jobs=jobs, overwrite=overwrite, masks=masks, progress=advance, source_format=name
            )
        except OverlapError as exc:  # the hint names this command's option
            skip = ("auto", "error") if formats.paint_order(name) else ("auto", "error", "order")
            choices = "|".join(c for c in OVERLAP_CHOICES if c not in skip)
            raise OverlapError(f"{exc.message}: pass --overlap {choices}", exc.path) from None
    if json_out:
        output.emit_json(summary.to_dict(), json_out, overwrite=overwrite)
        if json_out == "-":
            return
    rows = [
        ("from", f"{name}  {src}"),
        ("to", f"{to}  {', '.join(summary.outputs)}"),
        ("images", summary.images),
        ("segments written", summary.segments),
    ]
    output.out.print(output.key_value_table("segtool convert", rows))
    if summary.dropped:
        output.out.print(output.reasons_table("dropped", dict(summary.dropped)))
    if summary.changed:
        output.out.print(output.reasons_table("changed", dict(summary.changed)))
