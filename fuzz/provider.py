"""A byte-driven chooser, so one fuzz target serves atheris and hypothesis alike.

Each target is a function of ``bytes``. It reads its decisions (which seed, which mutation,
which size) from the front of those bytes with :class:`Provider`; an exhausted input reads
as zeros, and zero always means the plainest choice, so hypothesis shrinks a failure to a
short, readable bytes literal and atheris' byte mutations move between nearby decisions.
(atheris has its own ``FuzzedDataProvider``; this one is pure Python so the hypothesis
runs, ``make test`` among them, need no atheris.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

# Integers that break size arithmetic: around 0, the int32/uint32/int64/uint64 edges, and
# beyond what any C size holds.
INTERESTING_INTS: tuple[int, ...] = (
    0, 1, 2, 3, 4, 7, 8, 255, 256, -1, -2, 2**15, 2**16 - 1, 2**16, 2**24, 2**29, 2**30,
    2**31 - 1, 2**31, 2**31 + 1, -(2**31), 2**32 - 1, 2**32, 2**32 + 1, 2**62, 2**63 - 1,
    2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**30, -(10**30),
)  # fmt: skip


class Provider:
    """Decisions read from the front of ``data``; :meth:`rest` hands over what is left."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        """The next byte, 0 once the input is used up."""
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def below(self, n: int) -> int:
        """A number in ``0..n-1`` (two bytes when ``n`` needs them)."""
        if n <= 1:
            return 0
        value = self.byte() if n <= 256 else self.byte() | self.byte() << 8
        return value % n

    def flag(self) -> bool:
        return self.byte() & 1 == 1

    def choice(self, options: Sequence[T]) -> T:
        return options[self.below(len(options))]

    def small(self, hi: int = 16) -> int:
        """A small non-negative number ``0..hi`` (sizes, counts)."""
        return self.below(hi + 1)

    def integer(self) -> int:
        """A small number most of the time, else an interesting edge value."""
        b = self.byte()
        if b < 192:
            return b % 32
        return INTERESTING_INTS[b % len(INTERESTING_INTS)]

    def take(self, n: int) -> bytes:
        """Up to ``n`` next bytes (fewer when the input ends)."""
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out

    def remaining(self) -> int:
        return len(self.data) - self.pos


def mutate_bytes(p: Provider, blob: bytes, rounds: int | None = None) -> bytes:
    """Byte-level mutations of ``blob``: flip, set to an edge value, insert, delete, truncate,
    duplicate a slice. ``rounds`` (default: read from ``p``, 0..7) mutations in a row."""
    out = bytearray(blob)
    n = p.below(8) if rounds is None else rounds
    for _ in range(n):
        if not out:
            out += p.take(4) or b"\x00"
            continue
        i = p.below(len(out))
        kind = p.below(7)
        if kind == 0:
            out[i] ^= 1 << p.below(8)
        elif kind == 1:
            out[i] = p.choice((0, 1, 0x7F, 0x80, 0xFF, ord("-"), ord("9"), ord("{"), ord("["), ord('"')))
        elif kind == 2:
            out[i:i] = p.take(p.small(8)) or b"\xff"
        elif kind == 3:
            del out[i : i + 1 + p.small(8)]
        elif kind == 4:
            del out[i:]
        elif kind == 5:
            j = p.below(len(out))
            out[j:j] = out[i : i + 1 + p.small(32)]
        else:
            out[i] = p.byte()
    return bytes(out)
