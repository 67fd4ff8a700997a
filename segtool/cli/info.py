"""``segtool info``: what a dataset holds, at a glance."""

from __future__ import annotations

from pathlib import Path

import click

from .. import formats
from ..atomic import dataset_inputs
from ..info import describe
from ..parallel import warm_up
from . import main, output
from .options import jobs_option, json_option, overwrite_option, quiet_option, source_options
from .progress import steps


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@source_options
@click.option("--per-class", is_flag=True, help="Also print a table per category.")
@jobs_option
@overwrite_option
@json_option
@quiet_option
def info(
    path: Path,
    from_: str | None,
    masks: Path | None,
    categories: Path | None,
    ignore_value: int,
    per_class: bool,
    jobs: int,
    overwrite: bool,
    json_out: str | None,
) -> None:
    """Detect the format of PATH and summarise images, categories, segments and areas.

    \b
    Example:
      segtool info sample_data/panoptic_examples.json
      segtool info labels/ --categories categories.json --json
    """
    output.check_outputs(
        json_out, inputs=[*dataset_inputs(path, masks), *dataset_inputs(categories)], overwrite=overwrite
    )
    warm_up(jobs)
    name = from_ or formats.detect(path)
    ds = formats.read(path, name, masks=masks, categories=categories, ignore_value=ignore_value)
    with steps("info", len(ds.samples)) as advance:
        result = describe(ds, name, jobs=jobs, progress=advance)
    if json_out:
        output.emit_json(result.to_dict(), json_out, overwrite=overwrite)
        if json_out == "-":
            return
    spi, area = result.segments_per_image, result.area
    rows = [
        ("format", result.format),
        ("path", result.path),
        ("images", result.images),
        ("categories", f"{result.categories} ({result.things} things, {result.stuff} stuff)"),
        ("segments", f"{result.segments} ({result.crowd} crowd)"),
        ("segments per image", f"min {spi['min']:g} · mean {spi['mean']:.1f} · max {spi['max']:g}"),
        ("segment area (px)", f"min {area['min']:g} · median {area['median']:g} · max {area['max']:g}"),
    ]
    output.out.print(output.key_value_table("segtool info", rows))
    if per_class:
        table = output.SafeTable("per category")  # category names are the dataset's: one line, never markup
        for col in ("id", "name", "kind", "segments", "area"):
            right = col in ("id", "segments", "area")
            table.add_column(col, justify="right" if right else "left", overflow="fold")
        for cid, rec in result.per_category.items():
            kind = "thing" if rec["isthing"] else "stuff"
            table.add_row(cid, rec["name"], kind, rec["segments"], f"{rec['area']:g}")
        output.out.print(table)
