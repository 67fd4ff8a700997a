"""``segtool eval merge``: the result of a sharded evaluation from its shards' partials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..metrics import lvis as lvis_metric
from ..metrics.instance_result import STAT_NAMES
from ..metrics.partial_merge import merge as merge_partials
from . import output
from .eval import PANOPTIC_GATES, SEMANTIC_GATES, _parse_gates, _report, eval_group
from .eval_instance import GATES as INSTANCE_GATES
from .options import format_option, json_option, overwrite_option, quiet_option

ALL_GATES = tuple(dict.fromkeys([*PANOPTIC_GATES, *INSTANCE_GATES, *SEMANTIC_GATES]))


@eval_group.command(name="merge")
@click.argument("partials", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--per-class", is_flag=True, help="Also print a table per category.")
@click.option("--csv", "csv_out", type=click.Path(path_type=Path), help="Write per-category results to this CSV file.")
@click.option(
    "--fail-under",
    multiple=True,
    metavar="METRIC=VALUE",
    help="Exit 1 when METRIC < VALUE (repeatable); the metrics of the evaluation merged (PQ, AP, mIoU ...).",
)
@format_option({"table": "tables for people", "github": "GitHub Actions: an error per failed gate, a summary notice"})
@overwrite_option
@json_option
@quiet_option
def merge(
    partials: tuple[Path, ...],
    per_class: bool,
    csv_out: Path | None,
    fail_under: tuple[str, ...],
    fmt: str,
    overwrite: bool,
    json_out: str | None,
) -> None:
    """Merge the partial statistics of every shard of an evaluation (eval panoptic, instance
    or semantic run with --shard I/N --partial FILE) into the unsharded run's result: the
    same numbers, tables, --json and gates; with --per-image and --slices on the shards,
    the same per-image rows and slices.

    Refused (one line, exit 2): partials of different ground truths, parameters (slices
    included), kinds or segtool versions, of different splits, a shard given twice or
    missing.

    \b
    Example:
      segtool eval instance gt.json dets.json --shard 1/2 --partial part1.npz
      segtool eval instance gt.json dets.json --shard 2/2 --partial part2.npz
      segtool eval merge part1.npz part2.npz --fail-under AP=0.35
    """
    _parse_gates(fail_under, ALL_GATES)  # a malformed gate is refused before any file is read
    output.check_outputs(json_out, csv_out, inputs=list(partials), overwrite=overwrite)
    result = merge_partials(list(partials))
    data = result.to_dict()
    command, values = _values(data)
    gates = _parse_gates(fail_under, values)
    outputs = {"json_out": json_out, "csv_out": csv_out, "overwrite": overwrite, "per_class": per_class, "fmt": fmt}
    _report(command, data, values, gates, outputs)


def _values(data: dict[str, Any]) -> tuple[str, dict[str, float | None]]:
    """The command whose result ``data`` is, and its gate values (as that command has them)."""
    if "All" in data:
        return "eval panoptic", {k: data[g][m] for k, (g, m) in PANOPTIC_GATES.items()}
    if "mIoU" in data:
        return "eval semantic", {k: data.get(k) for k in SEMANTIC_GATES}
    names = lvis_metric.STAT_NAMES if data.get("lvis") else STAT_NAMES
    return "eval instance", {k: data[k] for k in names}
