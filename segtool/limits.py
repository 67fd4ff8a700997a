"""Documented limits on what one dataset may ask of the machine.

Nothing in a dataset is trusted (docs/security.md). A 60-byte PNG header can declare
20000×20000 pixels, a JSON file can nest 10^5 levels deep or spell a 4,301-digit integer,
and one image can list 10^5 segments. Each of these is refused up front, with one line
naming the file and the limit, instead of costing gigabytes or crashing a C library.

The limits are read from the environment on every call (``SEGTOOL_LIMIT_<NAME>``), so
worker processes see what the command line set: ``segtool COMMAND … --limit NAME=N`` sets
them for one run, and :func:`raised` for a block of library code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields

from .errors import SegtoolError

ENV_PREFIX = "SEGTOOL_LIMIT_"


@dataclass(frozen=True)
class Limits:
    """The limits in force. Each is a count; docs/security.md says why each default.

    Attributes:
        pixels: pixels of one image (height × width): 100 MP, ~10000×10000. An id map of
            that size takes 400 MB, so two workers stay within a few GB.
        segments: segments (or instances) listed for one image.
        categories: categories of one dataset; a confusion matrix of 5,000² takes 200 MB.
        json_depth: nesting of a JSON file; COCO files nest 6 deep.
        number_chars: characters of one JSON number; a 64-bit integer has 20.
    """

    pixels: int = 100_000_000
    segments: int = 100_000
    categories: int = 5_000
    json_depth: int = 64
    number_chars: int = 64


NAMES = tuple(f.name for f in fields(Limits))
UNITS = {
    "pixels": "pixels",
    "segments": "segments",
    "categories": "categories",
    "json_depth": "levels of nesting",
    "number_chars": "characters in one number",
}


class LimitError(SegtoolError):
    """An input asks for more than a limit allows."""


def current() -> Limits:
    """The limits in force: the defaults, raised or lowered by ``SEGTOOL_LIMIT_<NAME>``."""
    values = {}
    for name in NAMES:
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw:
            values[name] = parse_value(name, raw)
    return Limits(**values)


_seen: dict[tuple[str, str | None], int] = {}


def get(name: str) -> int:
    """The value of limit ``name`` in force: one environment look-up, cached by its value, for
    checks that run once per image, record or mask (``current()`` parses every variable)."""
    raw = os.environ.get(ENV_PREFIX + name.upper())
    value = _seen.get((name, raw))
    if value is None:
        value = _seen[(name, raw)] = getattr(Limits(), name) if not raw else parse_value(name, raw)
    return value


def parse_value(name: str, raw: str) -> int:
    """A limit's value: a positive whole number, ``1e9`` and ``1_000`` spellings allowed."""
    try:
        value = float(raw.replace("_", "")) if any(c in raw for c in "eE.") else int(raw.replace("_", ""))
    except ValueError:
        value = -1
    if value != value or value < 1 or value > 2**62 or value != int(value):
        raise SegtoolError(f"limit {name}: {raw!r} is not a whole number from 1 to 2^62")
    return int(value)


def parse_setting(text: str) -> tuple[str, int]:
    """``NAME=N`` of ``--limit`` as (name, value)."""
    name, sep, raw = text.partition("=")
    name = name.strip().lower().replace("-", "_")
    if not sep or name not in NAMES:
        raise SegtoolError(f"--limit {text!r}: expected NAME=N with NAME one of {', '.join(NAMES)}")
    return name, parse_value(name, raw.strip())


def apply(settings: dict[str, int]) -> None:
    """Set limits for this process and the workers it starts from now on."""
    for name, value in settings.items():
        os.environ[ENV_PREFIX + name.upper()] = str(value)


@contextmanager
def raised(**settings: int) -> Iterator[Limits]:
    """Limits changed inside a ``with`` block (the library's way to ``--limit``)."""
    for name in settings:
        if name not in NAMES:
            raise SegtoolError(f"unknown limit {name!r}; limits: {', '.join(NAMES)}")
    saved = {n: os.environ.get(ENV_PREFIX + n.upper()) for n in settings}
    apply(settings)
    try:
        yield current()
    finally:
        for name, old in saved.items():
            key = ENV_PREFIX + name.upper()
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def check(name: str, value: int, what: str, path: object = None) -> None:
    """Raise :class:`LimitError` when ``value`` exceeds limit ``name``.

    Example:
        >>> check("pixels", 20000 * 20000, "a 20000x20000 image", "a.png")
        Traceback (most recent call last):
        ...
        segtool.limits.LimitError: a.png: a 20000x20000 image: 400,000,000 pixels, over the limit of 100,000,000 (raise it with --limit pixels=N)
    """
    limit = get(name)
    if value > limit:
        raise LimitError(
            f"{what}: {value:,} {UNITS[name]}, over the limit of {limit:,} (raise it with --limit {name}=N)",
            None if path is None else str(path),
        )
