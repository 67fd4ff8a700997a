"""What a reader does with a problem in its input: its error policy.

One rule, written once, serves every command: the reader that finds a problem (a missing
PNG, a segment id out of range) hands it to the policy it was given, with the check code
``validate`` reports it under, the one-line message, the file and the image and segment it
concerns. :data:`STRICT` stops at the first problem (convert, eval, preview: bad input is
exit 2); ``validate`` passes a policy that collects findings and carries on
(:class:`segtool.checks.registry.Collect`); ``--fix`` passes :data:`QUIET`, which skips what
it cannot repair and leaves it as it is. A policy that returns lets the reader go on: the
reader then leaves the faulty part out (and returns None where it had something to give).
"""

from __future__ import annotations

from typing import Any, NoReturn, Protocol

from .errors import SegtoolError


class Policy(Protocol):
    """Called once per problem found; raises to stop, returns to go on without that part."""

    def __call__(self, code: str, message: str, path: str, image_id: Any = None, segment_id: Any = None) -> None: ...


def strict(code: str, message: str, path: str, image_id: Any = None, segment_id: Any = None) -> NoReturn:
    """Stop at the first problem: one line naming the file (exit 2 at the CLI)."""
    raise SegtoolError(message, path)


def quiet(code: str, message: str, path: str, image_id: Any = None, segment_id: Any = None) -> None:
    """Go on without a word: for repairs, which leave what they cannot read as it is."""


STRICT: Policy = strict
QUIET: Policy = quiet
