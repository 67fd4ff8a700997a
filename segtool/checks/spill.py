"""A list of findings whose memory does not grow with their number: a small head in memory,
the rest spilled to an anonymous temporary file and streamed back (issue 15).

A validation of 20,000 images may report one or two findings an image; held as objects
they were the largest thing validate kept (~180 bytes each). :class:`FindingLog` keeps the
first :data:`HEAD` in memory and pickles the others by chunks of :data:`CHUNK` compact
tuples into ``tempfile.TemporaryFile()``: a file in the system temp dir that has no name
(or loses it as soon as it is made), so no exit path — an exception, Ctrl-C, a kill —
leaves it behind. Iterating reads the chunks back one at a time, in the order the findings
were added; counts by code and severity, the worst severity and the first finding of each
code are kept as findings arrive, so a report's summary needs no pass over the file.

Findings can be dropped as they are added: a log made inside :func:`keeping` applies that
filter (``validate --select/--ignore``), so ignored codes never reach memory or disk.
"""

from __future__ import annotations

import contextvars
import os
import pickle
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, overload

from .findings import Finding, Severity

HEAD = 128  # findings kept as objects, in memory, before any spill
CHUNK = 256  # findings pickled together (one read brings back one chunk)

Keep = Callable[[str], bool]
_keep: contextvars.ContextVar[Keep | None] = contextvars.ContextVar("segtool_keep", default=None)


@contextmanager
def keeping(keep: Keep | None) -> Iterator[None]:
    """Logs made inside this block keep only the findings whose code ``keep`` accepts."""
    token = _keep.set(keep)
    try:
        yield
    finally:
        _keep.reset(token)


def _row(f: Finding) -> tuple[Any, ...]:
    return (f.code, int(f.severity), f.message, f.path, f.image_id, f.segment_id)


def _finding(row: tuple[Any, ...]) -> Finding:
    code, severity, message, path, image_id, segment_id = row
    return Finding(code, Severity(severity), message, path, image_id, segment_id)


def _rebuilt(findings: list[Finding]) -> FindingLog:
    return FindingLog(findings, keep=lambda code: True)


class FindingLog:
    """Findings in the order added, most of them on disk: ``append``/``extend``, ``len``,
    iteration (as often as wanted, also while adding), indexing, ``==`` with a list.
    ``counts``, ``worst`` and ``firsts`` summarize without reading the file."""

    def __init__(self, findings: Iterable[Finding] = (), *, keep: Keep | None = None) -> None:
        self._keep = keep if keep is not None else _keep.get()
        self._head: list[Finding] = []
        self._buffer: list[Finding] = []
        self._chunks: list[tuple[int, int, int]] = []  # (offset, bytes, findings) of each spilled chunk
        self._file: IO[bytes] | None = None
        self._size = 0
        self._n = 0
        self.by_code: Counter[str] = Counter()
        self.by_severity: Counter[Severity] = Counter()
        self.firsts: dict[str, Finding] = {}
        self.extend(findings)

    def append(self, f: Finding) -> None:
        """Add one finding (dropped when this log's filter refuses its code)."""
        if self._keep is not None and not self._keep(f.code):
            return
        self._n += 1
        self.by_code[f.code] += 1
        self.by_severity[f.severity] += 1
        self.firsts.setdefault(f.code, f)
        if len(self._head) < HEAD:
            self._head.append(f)
            return
        self._buffer.append(f)
        if len(self._buffer) >= CHUNK:
            self._spill()

    def extend(self, findings: Iterable[Finding]) -> None:
        """Add findings one at a time (an iterator is never made a list)."""
        for f in findings:
            self.append(f)

    def __iadd__(self, findings: Iterable[Finding]) -> FindingLog:
        self.extend(findings)
        return self

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="segtool-findings-")
        data = pickle.dumps([_row(f) for f in self._buffer], protocol=pickle.HIGHEST_PROTOCOL)
        fd = self._file.fileno()
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], self._size + written)
        self._chunks.append((self._size, len(data), len(self._buffer)))
        self._size += len(data)
        self._buffer = []

    def _read(self, offset: int, size: int) -> list[Finding]:
        assert self._file is not None
        data = b""
        while len(data) < size:
            data += os.pread(self._file.fileno(), size - len(data), offset + len(data))
        return [_finding(row) for row in pickle.loads(data)]

    def __iter__(self) -> Iterator[Finding]:
        """The findings there are now (those added while iterating are not met)."""
        return self._walk(self._head[: self._n], self._chunks[:], self._buffer[:])

    def _walk(
        self, head: list[Finding], chunks: list[tuple[int, int, int]], buffer: list[Finding]
    ) -> Iterator[Finding]:
        yield from head
        for offset, size, _ in chunks:
            yield from self._read(offset, size)
        yield from buffer

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    @overload
    def __getitem__(self, k: int) -> Finding: ...
    @overload
    def __getitem__(self, k: slice) -> list[Finding]: ...
    def __getitem__(self, k: int | slice) -> Finding | list[Finding]:
        if isinstance(k, slice):
            return list(self)[k]
        if k < 0:
            k += self._n
        if not 0 <= k < self._n:
            raise IndexError("finding index out of range")
        if k < len(self._head):
            return self._head[k]
        k -= len(self._head)
        for offset, size, n in self._chunks:
            if k < n:
                return self._read(offset, size)[k]
            k -= n
        return self._buffer[k]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FindingLog | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"FindingLog({self._n} findings, {len(self._chunks)} chunks on disk)"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled (or copied) as its findings: a file descriptor does not travel."""
        return (_rebuilt, (list(self),))

    def worst(self) -> Severity | None:
        """The most severe finding's severity, or None when there is none."""
        return max(self.by_severity, default=None)

    def close(self) -> None:
        """Let the temporary file go now (it goes anyway when the log is collected)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._chunks = []

    def __del__(self) -> None:
        self.close()
