"""The ``segtool`` command: the one place where exceptions become exit codes.

0 ok · 1 findings or a failed quality gate · 2 bad usage, unreadable input, or the
environment refused (a full disk, a read-only folder, too many open files: one line
``Error: <file>: <reason>``) · 3 an internal error (a bug), reported in one line that says to
rerun with ``--debug`` · 130 / 143 interrupted by SIGINT / SIGTERM (one line, partial outputs
removed, worker processes stopped).

A stdout closed early (``segtool validate x --format github | head -1``) changes nothing
but where the rest of the output goes: it is dropped, the command runs to its end and exits
with the code it would have had (1 for findings or a failed gate), silently. A pipeline
then fails or passes on the result, not on how much of the output its reader wanted (the
shell's ``pipefail`` sees 0 or 1, never 141 or a bug's 3).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from .. import __version__
from ..errors import EXIT_BAD_INPUT, EXIT_INTERNAL, SegtoolError, one_line
from ..interrupts import Interrupted, raising
from ..parallel import stop_workers, tune_allocator


class _BadInput(click.ClickException):
    """A SegtoolError or an OSError, as one line."""

    exit_code = EXIT_BAD_INPUT


class _InternalError(click.ClickException):
    """Any other exception, as one line asking for a report."""

    exit_code = EXIT_INTERNAL


def os_error_line(exc: OSError) -> str:
    """``<file>: <reason>`` for an error the environment raised (``ENOSPC``, ``EROFS``,
    ``EFBIG`` …): the OS's own words, on the file it concerns (the destination of a rename)."""
    name = exc.filename2 if exc.filename2 is not None else exc.filename
    reason = exc.strerror or str(exc) or type(exc).__name__
    if name is None:
        return one_line(reason)
    return one_line(f"{os.fsdecode(name) if isinstance(name, str | bytes) else name}: {reason}")


class _StdoutGuard:
    """``sys.stdout`` for the time of a command, made harmless once its reader has gone.

    The first write or flush that meets a closed pipe (``BrokenPipeError``: Python ignores
    SIGPIPE) points file descriptor 1 at /dev/null, so that every later write, rich's,
    click's and the interpreter's last flush included, succeeds and goes nowhere. Nothing
    is raised: the command finishes and its exit code is the one its results give.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._gone()
            return len(text)

    def writelines(self, lines: Any) -> None:
        for text in lines:
            self.write(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def _gone(self) -> None:
        """Point stdout at /dev/null, and flush what the stream still holds there."""
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
            self._stream.flush()
        except (AttributeError, OSError, ValueError):  # no descriptor (a test's stream)
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _guarded_stdout() -> Iterator[None]:
    """Run with :class:`_StdoutGuard` as ``sys.stdout``; the stream that was there comes back
    after (flushed through the guard first)."""
    stream = sys.stdout
    guard = _StdoutGuard(stream)
    sys.stdout = guard
    try:
        yield
    finally:
        guard.flush()
        sys.stdout = stream


class SegtoolGroup(click.Group):
    """A click group that maps library exceptions to one line and an exit code."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """Run the command with SIGINT and SIGTERM raising :class:`Interrupted`.

        The first of either stops the worker processes, then unwinds the stack (every
        ``finally`` runs: temporary outputs removed), prints one line and exits 130 / 143.
        Run from a test (``args`` given), the caller's signal handlers come back after.
        """
        with raising(stop_workers, restore=args is not None):
            try:
                with _guarded_stdout():
                    return super().main(args, *rest, **kwargs)
            except Interrupted as exc:
                _echo_err(str(exc))
                sys.exit(exc.exit_code)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; without ``--debug`` no traceback reaches the user."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except SegtoolError as exc:
            if ctx.meta.get("segtool.debug"):
                raise
            raise _BadInput(aliased(ctx, str(exc))) from None
        except KeyboardInterrupt:  # raised by hand, or where no handler could be set
            raise Interrupted(signal.SIGINT) from None
        except OSError as exc:
            if ctx.meta.get("segtool.debug"):
                raise
            raise _BadInput(aliased(ctx, os_error_line(exc))) from None
        except Exception as exc:
            if ctx.meta.get("segtool.debug"):
                raise
            what = aliased(ctx, f"{type(exc).__name__}: {exc}".splitlines()[0])
            raise _InternalError(f"internal error ({what}); please rerun with --debug and report it") from None


def _echo_err(line: str) -> None:
    try:
        click.echo(line, err=True)
    except OSError:  # stderr gone too
        pass


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: segtool's version and which kernels it runs, the compiled C extension
    or its pure-Python twin, and why the twin (no C extension built, or SEGTOOL_PURE_PYTHON)."""
    if not value or ctx.resilient_parsing:
        return
    from .. import kernels

    how = "C kernels" if kernels.IMPLEMENTATION == "C" else f"pure-Python kernels: {kernels.REASON}"
    click.echo(f"segtool {__version__} ({how})")
    ctx.exit()


@click.group(cls=SegtoolGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and which kernels run (C, or pure Python and why), then exit.",
)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Build, convert, validate, score and preview image-segmentation datasets.

    Formats: coco-panoptic (NAME.json + NAME/ PNGs), coco-instance (COCO JSON),
    semantic (folder of label PNGs + categories.json).

    \b
    Example:
      segtool info sample_data/panoptic_examples.json
      segtool convert sample_data/panoptic_examples.json out/instances.json --to coco-instance
    """
    ctx.meta["segtool.debug"] = debug
    tune_allocator()


from . import compare as _compare  # noqa: E402,F401  (segtool compare)
from . import convert as _convert  # noqa: E402  (commands register themselves on main)
from . import eval as _eval  # noqa: E402
from . import eval_instance as _eval_instance  # noqa: E402
from . import eval_merge as _eval_merge  # noqa: E402,F401  (segtool eval merge)
from . import eval_semantic as _eval_semantic  # noqa: E402
from . import info as _info  # noqa: E402
from . import preview as _preview  # noqa: E402
from . import validate as _validate  # noqa: E402
from .configure import install as _install_config  # noqa: E402
from .inputs import aliased  # noqa: E402
from .storage_paths import install as _install_storage  # noqa: E402

_install_config(main)  # --config / --no-config on every command, first among its options
_install_storage(main)  # URLs for every path, and --storage-option (docs/storage.md)

__all__ = ["_convert", "_eval", "_eval_instance", "_eval_semantic", "_info", "_preview", "_validate", "main"]
