"""Option decorators shared by every command, so names and meanings stay the same."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import formats, limits
from ..errors import SegtoolError
from ..formats import format_names
from ..parallel import default_jobs, use_scheduler
from . import output

F = TypeVar("F", bound=Callable[..., Any])

FORMAT = click.Choice(format_names())


def source_options(fn: F) -> F:
    """``--from``, ``--masks``, ``--categories``, ``--ignore-value``: how to read an input."""
    fn = click.option(
        "--ignore-value",
        type=click.IntRange(0, 65535),
        default=255,
        show_default=True,
        help="Label value of void pixels in semantic label maps.",
    )(fn)
    fn = click.option(
        "--categories",
        "categories",
        type=click.Path(path_type=Path),
        help="categories.json for a semantic folder that has none.",
    )(fn)
    fn = click.option(
        "--masks",
        type=click.Path(path_type=Path),
        help="PNG folder of a coco-panoptic input (default: the folder named by the JSON's stem).",
    )(fn)
    fn = click.option("--from", "from_", type=FORMAT, help="Input format (detected when omitted).")(fn)
    return fn


labels_option = click.option(
    "--labels",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Label map (YAML/JSON: id, name, color, isthing, trainId, void): remap categories, or "
    "describe label PNGs of indices or colours. See docs/labels.md.",
)
READING = ("labels", "train_ids", "category")  # collected into one ``reading`` argument


def reading_options(fn: F) -> F:
    """``--labels FILE``, ``--train-ids``, ``--category NAME``: how a format reads its input,
    the same on every command that reads a dataset; the command receives them as one
    ``reading`` dict (only those given), checked by :func:`check_reading` once the format is known."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {k: kwargs.pop(k) for k in READING}
        kwargs["reading"] = {k: v for k, v in given.items() if v not in (None, False)}
        return fn(*args, **kwargs)

    opts = [
        click.option("--category", help="Class-agnostic input (sa1b): the name of its one category."),
        click.option(
            "--train-ids", is_flag=True, default=False, help="Cityscapes input: categories by trainId (19 classes)."
        ),
        labels_option,
    ]
    decorated: Any = wrapper
    for opt in opts:
        decorated = opt(decorated)
    return decorated  # type: ignore[no-any-return]


def check_reading(name: str, reading: dict[str, Any]) -> None:
    """A format option given to a format that does not take it is a usage error, not a
    silent no-op (``--train-ids`` on a COCO file)."""
    for key in reading:
        if key == "labels" or key in formats.read_options(name):
            continue
        takers = [n for n in formats.format_names() if key in formats.read_options(n)]
        flag = "--" + key.replace("_", "-")
        raise click.UsageError(f"{name} input takes no {flag} (it is for {', '.join(takers) or 'no format'})")


def _apply_scheduler(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Connect to the Dask scheduler for this run (docs/scale.md); disconnected when the
    command ends. Unreachable, or Dask not installed: one line, exit 2, before any work."""
    if value and not ctx.resilient_parsing:
        ctx.with_resource(use_scheduler(value))


def jobs_option(fn: F) -> F:
    """``--jobs/-j`` (worker processes), ``--scheduler`` (a Dask cluster's instead) and
    ``--limit`` (input limits): what a run may ask of the machine, or of a cluster. Every
    command that reads a dataset takes them."""
    fn = limit_option(fn)
    fn = click.option(
        "--scheduler",
        metavar="ADDRESS",
        envvar="SEGTOOL_SCHEDULER",
        expose_value=False,
        callback=_apply_scheduler,
        help="Run the per-image work on the Dask cluster of this scheduler (tcp://HOST:PORT; env "
        "SEGTOOL_SCHEDULER) instead of local processes; needs segtool[dask]. See docs/scale.md.",
    )(fn)
    return click.option(
        "-j", "--jobs", type=click.IntRange(1), default=default_jobs, show_default="all cores", help="Worker processes."
    )(fn)


def json_option(fn: F) -> F:
    """``--json [FILE]``: machine-readable output, on stdout (bare or ``-``) or to FILE."""
    return click.option(
        "--json",
        "json_out",
        is_flag=False,
        flag_value="-",
        default=None,
        metavar="[FILE]",
        help="Write the result as JSON to FILE, or to stdout when FILE is omitted or '-' (progress stays on stderr).",
    )(fn)


def overwrite_option(fn: F) -> F:
    """``--overwrite``: replace an existing output."""
    return click.option("--overwrite", is_flag=True, help="Replace the destination if it exists.")(fn)


def images_option(help_text: str) -> Callable[[F], F]:
    """``--images DIR``: the folder of the photos, named by each image's ``file_name``."""
    return click.option("--images", "images_dir", type=click.Path(path_type=Path, file_okay=False), help=help_text)


def _apply_limits(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> None:
    """Set the limits for this run (and its workers, through the environment); restored when
    the command ends, so a library caller in the same process keeps its own."""
    try:
        settings = dict(limits.parse_setting(v) for v in values)
    except SegtoolError as exc:
        raise click.BadParameter(str(exc)) from None
    if settings:
        ctx.with_resource(limits.raised(**settings))


def limit_option(fn: F) -> F:
    """``--limit NAME=N``: raise (or lower) one of the documented input limits."""
    return click.option(
        "--limit",
        multiple=True,
        metavar="NAME=N",
        expose_value=False,
        is_eager=True,
        callback=_apply_limits,
        help=f"Change an input limit for this run (repeatable); NAME: {', '.join(limits.NAMES)}. See docs/security.md.",
    )(fn)


def _apply_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.with_resource(output.quieted())


def quiet_option(fn: F) -> F:
    """``-q/--quiet``: no progress, no tables, no notes. The exit code still says how it
    went, and ``--json`` and ``--format`` outputs are still written; errors are still one
    line on stderr."""
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_apply_quiet,
        help="Print no progress, tables or notes (--json and --format output are still written).",
    )(fn)


def format_option(choices: dict[str, str]) -> Callable[[F], F]:
    """``--format NAME``: what stdout carries, the same option on every command that has
    several (``choices``: name → what it is, for the help)."""
    described = "; ".join(f"{name}: {what}" for name, what in choices.items())
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default="table",
        show_default=True,
        help=f"{described}. With --json on stdout, any format but table goes to stderr.",
    )
