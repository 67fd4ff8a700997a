"""``segtool info``: what a dataset holds, at a glance."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import click

from .. import formats
from ..atomic import dataset_inputs
from ..errors import EXIT_BAD_INPUT, SegtoolError
from ..info import DatasetInfo, describe
from ..parallel import warm_up
from . import inputs, main, output
from .options import (
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
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
@source_options
@reading_options
@click.option("--per-class", is_flag=True, help="Also print a table per category.")
@jobs_option
@overwrite_option
@json_option
@quiet_option
def info(
    paths: tuple[Path, ...],
    from_: str | None,
    masks: Path | None,
    categories: Path | None,
    ignore_value: int,
    reading: dict[str, Any],
    per_class: bool,
    jobs: int,
    overwrite: bool,
    json_out: str | None,
) -> None:
    """Detect the format of each PATH and summarise images, categories, segments and areas.

    PATH may be several paths, glob patterns (expanded by segtool too), or - for a JSON on
    stdin. With several, one table per input, and --json writes a list.

    \b
    Example:
      segtool info sample_data/panoptic_examples.json
      segtool info labels/ --categories categories.json --json
      segtool info 'annotations/*.json' --json summary.json
    """
    ctx = click.get_current_context()
    items, several = inputs.expand(ctx, paths)
    if several and masks is not None:
        raise click.UsageError(
            "--masks names the PNG folder of one input: with several, each uses the folder beside it"
        )
    sources = [p for item in items for p in dataset_inputs(item.path, masks)]
    labels = dataset_inputs(reading.get("labels"))
    output.check_outputs(json_out, inputs=[*sources, *dataset_inputs(categories), *labels], overwrite=overwrite)
    warm_up(jobs)
    read = partial(
        _describe,
        from_=from_,
        masks=masks,
        categories=categories,
        ignore_value=ignore_value,
        reading=reading,
        jobs=jobs,
    )
    if not several:
        result = read(items[0])
        if json_out:
            output.emit_json(result.to_dict(), json_out, overwrite=overwrite)
        if json_out != "-":
            _print(result, per_class)
        return
    results: list[DatasetInfo | dict[str, str]] = []
    for item in items:
        try:
            results.append(read(item))
        except (SegtoolError, OSError) as exc:
            results.append({"path": item.shown, "error": inputs.unreadable(ctx, exc)})
    if json_out:
        output.emit_json(
            [r.to_dict() if isinstance(r, DatasetInfo) else r for r in results], json_out, overwrite=overwrite
        )
    if json_out != "-":
        for r in results:
            if isinstance(r, DatasetInfo):
                _print(r, per_class)
    if any(isinstance(r, dict) for r in results):
        raise SystemExit(EXIT_BAD_INPUT)


def _describe(
    item: inputs.Input,
    from_: str | None,
    masks: Path | None,
    categories: Path | None,
    ignore_value: int,
    reading: dict[str, Any],
    jobs: int,
) -> DatasetInfo:
    """The statistics of one input (named as messages name it: ``<stdin>`` for stdin)."""
    name = from_ or formats.detect(item.path)
    inputs.check_stdin_format(item, name, masks, pixels=False)
    check_reading(name, reading)
    ds = formats.read(item.path, name, masks=masks, categories=categories, ignore_value=ignore_value, **reading)
    with steps("info", len(ds.samples)) as advance:
        result = describe(ds, name, jobs=jobs, progress=advance)
    if item.stdin:
        result.path = item.shown
    return result


def _print(result: DatasetInfo, per_class: bool) -> None:
    """The summary table of one input; with ``per_class``, a table per category."""
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
