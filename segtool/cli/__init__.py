"""The ``segtool`` command: the one place where exceptions become exit codes.

0 ok · 1 findings or a failed quality gate · 2 bad usage or unreadable input ·
3 an internal error (a bug), reported in one line that says to rerun with ``--debug``.
"""

from __future__ import annotations

from typing import Any

import click

from .. import __version__
from ..errors import EXIT_BAD_INPUT, EXIT_INTERNAL, SegtoolError
from ..parallel import tune_allocator


class _Failure(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SegtoolGroup(click.Group):
    """A click group that maps library exceptions to one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; without ``--debug`` no traceback reaches the user."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except SegtoolError as exc:
            if ctx.meta.get("segtool.debug"):
                raise
            raise _Failure(str(exc), EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:
            if ctx.meta.get("segtool.debug"):
                raise
            what = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise _Failure(f"internal error ({what}); please rerun with --debug and report it", EXIT_INTERNAL) from None


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
