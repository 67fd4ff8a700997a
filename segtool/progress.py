"""Progress callbacks, and how the library tells one how many steps to expect.

Every long call takes ``progress``: a callable run as ``progress(n)`` after each ``n`` images
done. How many images there are is often known only inside the call (the ground truth's
records, the images a preview chose), after it has started, so a callback that also has a
``set_total(total)`` method is told, once, before the first step. A plain function is
called exactly as before: the protocol is opt-in, and nothing else changes for callers.

Example (docs/api.md, run as a test):
    >>> class Bar:
    ...     def __init__(self): self.done, self.total = 0, None
    ...     def __call__(self, n): self.done += n
    ...     def set_total(self, total): self.total = total
    >>> bar = Bar()
    >>> report = segtool.validate("sample_data/panoptic_examples.json", progress=bar)
    >>> bar.done, bar.total
    (2, 2)
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int], None]


def wants_total(progress: Progress | None) -> bool:
    """Whether ``progress`` asks to be told the total (so a total that costs something to
    find is found only for it)."""
    return callable(getattr(progress, "set_total", None))


def announce(progress: Progress | None, total: int | None) -> None:
    """Tell ``progress`` that ``total`` steps are coming, when it asks (a ``set_total``
    method) and the total is known; nothing otherwise."""
    set_total = getattr(progress, "set_total", None)
    if total is not None and callable(set_total):
        set_total(total)
