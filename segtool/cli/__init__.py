"""The ``segtool`` command: the one place where exceptions become exit codes.

0 ok · 1 findings or a failed quality gate · 2 bad usage, unreadable input, or the
environment refused (a full disk, a read-only folder, too many open files: one line
``Error: <file>: <reason>``) · 3 an internal error (a bug), reported in one line that says to
rerun with ``--debug`` · 130 / 143 interrupted by SIGINT / SIGTERM (one line, partial outputs
removed, worker processes stopped) · 141 stdout closed early (``segtool info x | head``:
silent, as a process ended by SIGPIPE).
"""

from __future__ import annotations

import os
import select
import signal
import sys
from typing import Any

import click

from .. import __version__
from ..errors import EXIT_BAD_INPUT, EXIT_INTERNAL, SegtoolError, one_line
from ..interrupts import Interrupted, raising
from ..parallel import stop_workers, tune_allocator

EXIT_STDOUT_CLOSED = 141  # 128 + SIGPIPE


class _BadInput(click.ClickException):
    """A SegtoolError or an OSError, as one line."""

    exit_code = EXIT_BAD_INPUT


class _InternalError(click.ClickException):
    """Any other exception, as one line asking for a report."""

    exit_code = EXIT_INTERNAL


class _StdoutClosed(click.ClickException):
    """The reader of stdout went away (``| head``): nothing to say, nobody to say it to."""

    exit_code = EXIT_STDOUT_CLOSED

    def __init__(self) -> None:
        super().__init__("stdout closed")

    def show(self, file: Any = None) -> None:
        pass


def os_error_line(exc: OSError) -> str:
    """``<file>: <reason>`` for an error the environment raised (``ENOSPC``, ``EROFS``,
    ``EFBIG`` …): the OS's own words, on the file it concerns (the destination of a rename)."""
    name = exc.filename2 if exc.filename2 is not None else exc.filename
    reason = exc.strerror or str(exc) or type(exc).__name__
    if name is None:
        return one_line(reason)
    return one_line(f"{os.fsdecode(name) if isinstance(name, str | bytes) else name}: {reason}")


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (a broken pipe elsewhere, such as a
    worker's, is a real error)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll, or stdout is not a file
        return False


def _rich_saw_stdout_closed() -> bool:
    """rich ends the process with ``SystemExit(1)`` when stdout's reader has gone, after
    pointing stdout at /dev/null and making its console quiet (``Console.on_broken_pipe``)."""
    from .output import out

    return bool(out.quiet)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def _flush_stdout() -> None:
    """Flush stdout now, where a closed pipe can still be told apart from a bug."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        _silence_stdout()
        raise _StdoutClosed() from None


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
                try:
                    return super().main(args, *rest, **kwargs)
                finally:
                    _flush_stdout()
            except Interrupted as exc:
                _echo_err(str(exc))
                sys.exit(exc.exit_code)
            except _StdoutClosed as exc:
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
            raise _BadInput(str(exc)) from None
        except SystemExit:
            if _rich_saw_stdout_closed():
                raise _StdoutClosed() from None
            raise
        except KeyboardInterrupt:  # raised by hand, or where no handler could be set
            raise Interrupted(signal.SIGINT) from None
        except OSError as exc:
            if isinstance(exc, BrokenPipeError) and _stdout_closed():
                _silence_stdout()
                raise _StdoutClosed() from None
            if ctx.meta.get("segtool.debug"):
                raise
            raise _BadInput(os_error_line(exc)) from None
        except Exception as exc:
            if ctx.meta.get("segtool.debug"):
                raise
            what = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise _InternalError(f"internal error ({what}); please rerun with --debug and report it") from None


def _echo_err(line: str) -> None:
    try:
        click.echo(line, err=True)
    except OSError:  # stderr gone too
        pass


@click.group(cls=SegtoolGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="segtool")
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


from . import convert as _convert  # noqa: E402  (commands register themselves on main)
from . import eval as _eval  # noqa: E402
from . import info as _info  # noqa: E402
from . import preview as _preview  # noqa: E402
from . import validate as _validate  # noqa: E402

__all__ = ["_convert", "_eval", "_info", "_preview", "_validate", "main"]
