"""What a reader does with a problem in its input: its error policy.

One rule, written once, serves every command: the reader that finds a problem (a missing
PNG, a segment id out of range) hands it to the policy it was given, with the check code
``validate`` reports it under, the one-line message, the file and the image and segment it
concerns. :data:`STRICT` stops at the first problem (convert, eval, preview: bad input is
exit 2); ``validate`` passes a policy that collects findings and carries on
(:class:`segtool.checks.registry.Collect`); ``--fix`` passes :data:`QUIET`, which skips what
it cannot repair and leaves it as it is.

A problem is ``usable`` when the reader can read past it (an id written ``2.0``, an image
record without ``file_name``): the strict policy then lets it go on with the value read
leniently, as pycocotools and panopticapi do, while validate still reports it. A policy that
returns False has the reader leave the faulty part out (and return None where it had
something to give).
"""

from __future__ import annotations

from typing import Any, Protocol

from .errors import SegtoolError


class Policy(Protocol):
    """Called once per problem found, under validate's check code; raises to stop, returns
    whether the reader should use the part anyway (only ever True for a ``usable`` one)."""

    def __call__(
        self, code: str, message: str, path: str, image_id: Any = None, segment_id: Any = None, *, usable: bool = False
    ) -> bool: ...


def strict(
    code: str, message: str, path: str, image_id: Any = None, segment_id: Any = None, *, usable: bool = False
) -> bool:
    """Stop at the first problem the reader cannot read past: one line naming the file
    (exit 2 at the CLI)."""
    if usable:
        return True
    raise SegtoolError(message, path)


def quiet(
    code: str, message: str, path: str, image_id: Any = None, segment_id: Any = None, *, usable: bool = False
) -> bool:
    """Go on without a word, leaving the part out: for repairs, which leave what they cannot
    read as it is."""
    return False


def place(image_id: Any = None, segment_id: Any = None) -> str:
    """Where a problem is, as a message starts with it: ``image 3``, ``image 3, segment 7``
    (what :meth:`segtool.checks.findings.Finding.where` prints)."""
    parts = (("image", image_id), ("segment", segment_id))
    return ", ".join(f"{name} {value}" for name, value in parts if value is not None)


STRICT: Policy = strict
QUIET: Policy = quiet
