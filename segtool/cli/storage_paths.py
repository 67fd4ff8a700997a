"""URLs (``s3://``, ``gs://``, ``az://``, ``https://``) for every path argument and option of
every command, and ``--storage-option KEY=VALUE``.

:func:`install` gives each command that takes paths the option and wraps its path
parameters' types: a URL is not converted to a local path but recorded, and stands for a
*placeholder*, a path in this run's private temporary folder under the URL's own name. Before
the command's body runs, input URLs are downloaded to their placeholders and output URLs
are checked (not read-only, not an input, not existing without ``--overwrite``); the body
then runs on local paths as it always does (every format works unchanged). When it returns,
or exits with a code of its own (1 for findings: its outputs are written), each output's
placeholder folder is published to its URL (:func:`segtool.storage.publish`). The temporary
folder goes when the command ends, on error and interrupt too. Messages name the URLs, not
the placeholders. See docs/storage.md.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ..errors import SegtoolError
from ..storage import Storage, check_output, is_url, parse_option, publish, refuse_url_clashes, stage
from . import inputs
from .configure import leaves

# The parameters that name outputs; every other path parameter names an input.
OUTPUTS = frozenset({"dst", "out", "json_out", "csv_out", "partial_out", "report_out", "fix_out"})
STAGING_ENV = "SEGTOOL_STAGING_DIR"  # where the private temporary folders go (default: the system's)
NOT_STAGED = frozenset({"config"})  # read before any option (--storage-option included) is known
_PLAN = "segtool.storage"  # ctx.meta: this run's URLs and their placeholders


@dataclass
class _Plan:
    """The URLs of one run: each with its placeholder, by role."""

    folder: Path
    inputs: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)
    reports: set[str] = field(default_factory=set)  # outputs that are --json reports

    def placeholder(self, url: str, output: bool) -> Path:
        table = self.outputs if output else self.inputs
        if url not in table:
            name = url.rstrip("/").rsplit("/", 1)[-1] or "root"
            table[url] = self.folder / f"{'out' if output else 'in'}-{len(self.inputs) + len(self.outputs)}" / name
        return table[url]

    def aliases(self) -> dict[str, str]:
        """Each placeholder's folder → the URL prefix it stands for, longest first."""
        pairs = {str(p.parent): u.rstrip("/")[: -len(p.name) - 1] for u, p in {**self.inputs, **self.outputs}.items()}
        return dict(sorted(pairs.items(), key=lambda kv: -len(kv[0])))

    def unstaged(self, text: str, as_json: bool) -> str:
        """``text`` naming URLs where it names placeholders (JSON-escaped in a JSON text)."""
        for here, there in self.aliases().items():
            text = text.replace(here, json.dumps(there)[1:-1] if as_json else there)
        return text

    def unstaged_cells(self, text: str) -> str:
        """A drawn table's ``text`` naming URLs where that keeps its columns: a path in a cell
        (up to the next space) becomes the URL's path padded with spaces to the same width,
        when it is not wider; else it stays the placeholder's."""
        for here, there in self.aliases().items():
            if len(there) <= len(here):
                text = re.sub(re.escape(here) + r"(\S*)", functools.partial(_padded, there), text)
        return text


def _padded(url: str, found: re.Match[str]) -> str:
    return (url + found.group(1)).ljust(len(found.group(0)))


class _Unstaging:
    """stdout or stderr while a command runs on staged URLs: a JSON document (``--json -``)
    or a plain line names the URLs, not their placeholders, so it is what the same run on local
    files prints. In a rich table (box-drawing characters) the columns were measured on the
    placeholders: see :meth:`_Plan.unstaged_cells`."""

    def __init__(self, stream: Any, plan: _Plan) -> None:
        self._stream = stream
        self._plan = plan

    def write(self, text: str) -> int:
        if any("\u2500" <= c <= "\u257f" for c in text):
            text = self._plan.unstaged_cells(text)
        else:
            text = self._plan.unstaged(text, text.lstrip().startswith(("{", "[")))
        return int(self._stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _unstaged_output(plan: _Plan) -> Iterator[None]:
    """stdout and stderr (notes, progress lines) through :class:`_Unstaging`."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Unstaging(out, plan), _Unstaging(err, plan)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def _plan(ctx: click.Context) -> _Plan:
    plan: _Plan | None = ctx.meta.get(_PLAN)
    if plan is None:
        where = os.environ.get(STAGING_ENV) or None  # a shared file system, for a --scheduler cluster's workers
        folder = Path(ctx.with_resource(tempfile.TemporaryDirectory(prefix="segtool-storage-", dir=where)))
        plan = ctx.meta[_PLAN] = _Plan(folder)
    return plan


class _UrlOrPath(click.Path):
    """A ``click.Path`` that lets a URL through as its placeholder (still a ``click.Path``
    for config files, which resolve relative paths against their folder)."""

    output = False

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if ctx is not None and is_url(value):
            return _plan(ctx).placeholder(str(value), self.output)
        return super().convert(value, param, ctx)


class _UrlOrText(click.types.StringParamType):
    """``--json [FILE]``'s type: ``-`` and paths as text, a URL as its placeholder (as text)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if ctx is not None and is_url(value):
            plan = _plan(ctx)
            plan.reports.add(str(value))
            return str(plan.placeholder(str(value), True))
        return super().convert(value, param, ctx)


def _store_options(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> None:
    try:
        ctx.meta[_PLAN + ".options"] = dict(parse_option(v) for v in values)
    except SegtoolError as exc:
        raise click.BadParameter(str(exc)) from None


STORAGE_OPTION = click.Option(
    ["--storage-option", "storage_options"],
    multiple=True,
    metavar="KEY=VALUE",
    expose_value=False,
    is_eager=True,
    callback=_store_options,
    help="An option of the object storage of URL paths (s3://, gs://, az://, https://), passed to fsspec "
    "(repeatable; VALUE as JSON when it parses): endpoint_url=http://host:9000, anon=true. See docs/storage.md.",
)


def _wrap_type(param: click.Parameter) -> bool:
    """Make ``param`` take URLs; whether it takes paths at all."""
    if param.name in NOT_STAGED:
        return False
    if isinstance(param.type, click.Path):
        wrapped = copy.copy(param.type)
        wrapped.__class__ = type("UrlOrPath", (_UrlOrPath,), {"output": param.name in OUTPUTS})
        param.type = wrapped
        return True
    if param.name == "json_out":
        param.type = _UrlOrText()
        return True
    return False


def install(root: click.Command) -> None:
    """Give every command under ``root`` that takes paths URLs and ``--storage-option``."""
    for _, command in leaves(root):
        if any(p.name == "storage_options" for p in command.params):
            continue
        takes_paths = [_wrap_type(p) for p in command.params]
        if any(takes_paths) and command.callback is not None:
            command.params.append(STORAGE_OPTION)
            command.callback = _staged(command.callback)


def _staged(callback: Any) -> Any:
    """``callback`` run on staged inputs, its outputs published when it ends (see module doc)."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        plan: _Plan | None = ctx.meta.get(_PLAN)
        if plan is None:
            return callback(*args, **kwargs)
        storage = Storage(ctx.meta.get(_PLAN + ".options"))
        overwrite = bool(kwargs.get("overwrite", False))
        refuse_url_clashes(list(plan.outputs), list(plan.inputs))
        for url in plan.outputs:
            check_output(storage, url, overwrite=overwrite)
        inputs.add_aliases(ctx, plan.aliases())
        for url, local in plan.inputs.items():
            stage(storage, url, local.parent)
        for local in plan.outputs.values():
            local.parent.mkdir(parents=True, exist_ok=True)
        try:
            with _unstaged_output(plan):
                result = callback(*args, **kwargs)
        except (SystemExit, click.exceptions.Exit):
            _publish(storage, plan, overwrite)  # a command's own exit code: its outputs are written
            raise
        _publish(storage, plan, overwrite)
        return result

    return run


def _publish(storage: Storage, plan: _Plan, overwrite: bool) -> None:
    """Each output the command wrote, to its URL (an output it did not write, as ``--json``
    on a run that had nothing to report, is left alone)."""
    for url, local in plan.outputs.items():
        if url in plan.reports and local.is_file():  # a --json report names the URLs, as stdout does
            local.write_text(plan.unstaged(local.read_text(encoding="utf-8"), True), encoding="utf-8")
        if any(local.parent.iterdir()):
            publish(storage, local.parent, url, overwrite=overwrite)
