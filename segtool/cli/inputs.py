"""Where a command's inputs come from: several paths, glob patterns segtool expands itself
(for a shell that does not: a quoted ``'data/*.json'``, Windows), and ``-`` for a JSON on
stdin.

stdin is spooled to a temporary file (the readers stream a file and open it up to twice),
removed when the command ends; messages, findings and ``--json`` name it ``<stdin>``. A
JSON read from stdin has no folder beside it: a format that needs one (a coco-panoptic
JSON's PNGs) takes it from an option (``--masks``), and a format that is a folder
(semantic) cannot come from stdin at all.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import click

from .. import formats
from ..errors import SegtoolError

STDIN = "-"
STDIN_NAME = "<stdin>"
_ALIASES = "segtool.aliases"  # ctx.meta: temporary path → the name messages give it
_STDIN_READ = "segtool.stdin_read"  # ctx.meta: stdin was spooled (it can be read once)
_MAGIC = re.compile(r"[*?[]")


@dataclass(frozen=True)
class Input:
    """One input of a command: the file to read (a temporary copy for stdin) and its name
    in messages."""

    path: Path
    shown: str
    stdin: bool = False


def is_pattern(value: str) -> bool:
    """Whether ``value`` is a glob pattern (and not the name of an existing file)."""
    return bool(_MAGIC.search(value)) and not os.path.lexists(value)


def expand(ctx: click.Context, values: Sequence[Path]) -> tuple[list[Input], bool]:
    """The inputs named by a command's paths, in the order given (each pattern's matches
    sorted), each once; and whether they are *several*: more than one path, or any pattern
    (so that a pattern's output has one shape however many files it matches today).

    A pattern matching nothing is a one-line error naming it (exit 2); ``-`` may come once."""
    out: list[Input] = []
    seen: set[str] = set()
    patterns = False
    for value in values:
        text = str(value)
        if text == STDIN:
            if any(i.stdin for i in out):
                raise click.UsageError("'-' (stdin) can be read once: give it once")
            out.append(Input(spool_stdin(ctx), STDIN_NAME, True))
            continue
        if is_pattern(text):
            patterns = True
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise SegtoolError("no file or folder matches this pattern", text)
            found = [Path(m) for m in matches]
        else:
            found = [Path(value)]
        for path in found:
            key = os.path.normcase(os.path.abspath(path))
            if key not in seen:
                seen.add(key)
                out.append(Input(path, str(path)))
    return out, patterns or len(values) > 1


def single(ctx: click.Context, value: Path) -> Input:
    """One dataset or predictions path as given, or stdin's temporary copy for ``-`` (once a run)."""
    if str(value) != STDIN:
        return Input(value, str(value))
    if ctx.meta.get(_STDIN_READ):
        raise click.UsageError("'-' (stdin) can be read once: give it for one input")
    return Input(spool_stdin(ctx), STDIN_NAME, True)


def refuse_stdin(value: Path, what: str) -> None:
    """A folder input cannot be ``-``: one line saying what it must be (exit 2)."""
    if str(value) == STDIN:
        raise SegtoolError(f"{what}: it cannot be read from stdin", STDIN_NAME)


def spool_stdin(ctx: click.Context) -> Path:
    """stdin copied to a temporary ``stdin.json`` (removed when the command ends), named
    ``<stdin>`` in every message."""
    stream: BinaryIO | None = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise click.UsageError("'-' reads a JSON from stdin, but there is no stdin")
    if stream.isatty():
        raise click.UsageError("'-' reads a JSON from stdin, but stdin is a terminal: pipe or redirect a file into it")
    folder = Path(ctx.with_resource(tempfile.TemporaryDirectory(prefix="segtool-stdin-")))
    path = folder / "stdin.json"
    with open(path, "wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    ctx.meta[_STDIN_READ] = True
    add_aliases(ctx, {str(path): STDIN_NAME, str(folder): STDIN_NAME + "'s folder"})
    return path


def add_aliases(ctx: click.Context, names: dict[str, str]) -> None:
    """Temporary paths of this run and the names messages give them (stdin's copy → ``<stdin>``,
    a staged URL's copy → the URL)."""
    ctx.meta.setdefault(_ALIASES, {}).update(names)


def has_aliases(ctx: click.Context) -> bool:
    """Whether some temporary path of this run has a name for messages (stdin, a URL)."""
    return bool(ctx.meta.get(_ALIASES))


def aliased(ctx: click.Context | None, text: str) -> str:
    """``text`` with every temporary path of this run named as messages name it (``<stdin>``)."""
    if ctx is None:
        return text
    for path, name in sorted(ctx.meta.get(_ALIASES, {}).items(), key=lambda kv: -len(kv[0])):
        text = text.replace(path, name)
    return text


def unreadable(ctx: click.Context, exc: SegtoolError | OSError) -> str:
    """One input of several could not be read: its ``Error:`` line on stderr now (as the
    command's one error would be), the others go on; returns the line's text. With
    ``--debug`` the exception goes on up, traceback and all."""
    if ctx.meta.get("segtool.debug"):
        raise exc
    from . import os_error_line

    error = aliased(ctx, str(exc) if isinstance(exc, SegtoolError) else os_error_line(exc))
    click.echo(f"Error: {error}", err=True)
    return error


def check_stdin_format(
    item: Input, name: str, masks: Path | None, masks_option: str = "--masks", *, pixels: bool = True
) -> None:
    """Refuse, for a dataset from stdin, a format that is a folder (nothing to spool) or, when
    the command reads ``pixels``, one whose JSON needs a folder beside it (a PNG folder) that
    no option names. The registry says which: the paths a write of the format creates."""
    if not item.stdin:
        return
    try:
        made = formats.targets(name, item.path)
    except SegtoolError:
        raise SegtoolError(f"a {name} dataset is a folder: it cannot be read from stdin", STDIN_NAME) from None
    if pixels and len(made) > 1 and masks is None:
        raise SegtoolError(
            f"a {name} JSON from stdin has no folder beside it: name its PNG folder with {masks_option} DIR", STDIN_NAME
        )
