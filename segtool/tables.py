"""Results as plain text and as pandas DataFrames, for library users (the CLI draws its
own tables). pandas is optional: it is imported only when a DataFrame is asked for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import SegtoolError


def dataframe(rows: list[dict[str, Any]], columns: Sequence[str]) -> Any:
    """``rows`` as a ``pandas.DataFrame`` with ``columns`` (in that order, even when empty)."""
    try:
        import pandas as pd
    except ImportError:
        raise SegtoolError("to_dataframe() needs pandas (pip install pandas)") from None
    return pd.DataFrame(rows, columns=list(columns))


def text(header: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    """A fixed-width table: numbers right-aligned (floats to 3 decimals), text left-aligned."""

    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    cells = [[cell(v) for v in r] for r in rows]
    numeric = [all(isinstance(r[i], int | float) for r in rows) for i in range(len(header))]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]

    def line(r: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(r, widths, numeric, strict=True)
        ).rstrip()

    out = [title] if title else []
    out += [line([str(h) for h in header]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out)
