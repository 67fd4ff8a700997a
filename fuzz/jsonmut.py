"""Mutations of a parsed JSON document, serialised back to text, for the JSON target.

Structural edits reach deeper than byte flips: a byte flip in a COCO file mostly makes
invalid JSON, which the parser refuses at once; a replaced value keeps the file valid and
tests what the reader does with it. Some edits need raw text no ``json.dumps`` produces
(a 5,000-digit number, 10^4 levels of nesting, a repeated key): they are written as marker
strings and spliced in after serialisation.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .provider import Provider

BIG_NUMBER = "9" * 5000  # past CPython's 4,300-digit int conversion limit and any C parser's
DEEP = 3000  # levels: past the json module's recursion limit

# Values dropped in place of any node: edge numbers, wrong types, odd strings.
VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 0.5, 2**31, -(2**31), 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**30, 1e308, -1e308,
    float("nan"), float("inf"), float("-inf"), 1e-320, "", "x", "0", "1", "\u0000\n\r\x1b[31m", "\ud800", "../../etc/passwd",
    "/abs.png", "a\\b", "é" * 3, [], {}, [[]], [0], {"id": 1}, [1, 2, 3, 4], "0" * 70, 1.5,
)  # fmt: skip

MARK_BIG = "\u0001BIG\u0001"
MARK_DEEP = "\u0001DEEP\u0001"


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node's path (keys and indices), the root first; at most 400."""
    out = [path]
    stack = [(node, path)]
    while stack and len(out) < 400:
        cur, at = stack.pop()
        items = cur.items() if isinstance(cur, dict) else enumerate(cur) if isinstance(cur, list) else ()
        for k, v in items:
            out.append((*at, k))
            stack.append((v, (*at, k)))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def mutate(p: Provider, doc: Any) -> Any:
    """``doc`` after 1-4 structural edits read from ``p`` (``doc`` itself is not changed)."""
    doc = copy.deepcopy(doc)
    for _ in range(1 + p.below(4)):
        paths = _paths(doc)
        path = paths[p.below(len(paths))]
        kind = p.below(9)
        if not path:  # the root: replace it, or leave it
            if kind == 0:
                doc = p.choice(VALUES)
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        if kind <= 2:
            parent[key] = p.choice(VALUES)
        elif kind == 3:  # rarely: these end the read at the limit scan, before any reader
            parent[key] = p.choice((MARK_BIG, "-" + MARK_BIG, MARK_DEEP)) if p.below(4) == 3 else p.choice(VALUES)
        elif kind == 4:
            del parent[key]
        elif kind == 5 and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))  # a repeated record
        elif kind == 5:
            parent[f"{key}_"] = parent.pop(key)  # a renamed key
        elif kind == 6:  # a node copied from elsewhere in the document
            parent[key] = copy.deepcopy(_get(doc, paths[p.below(len(paths))]))
        elif kind == 7:  # a number nudged, or a container of a different kind
            v = parent[key]
            if isinstance(v, bool) or not isinstance(v, int | float | list | dict):
                parent[key] = [v]
            elif isinstance(v, int | float):
                parent[key] = v + p.choice((1, -1, 0.5, -v - 1, v * 2**32))
            else:
                parent[key] = dict(enumerate(v)) if isinstance(v, list) else list(v.values())
        else:
            parent[key] = p.integer() * (-1 if p.flag() else 1)
    return doc


def dumps(doc: Any, p: Provider) -> bytes:
    """``doc`` as JSON text with the markers spliced in; sometimes a top-level key repeated,
    sometimes indented or with ASCII escapes."""
    text = json.dumps(doc, indent=p.choice((None, None, 1)), ensure_ascii=p.flag())
    text = text.replace(json.dumps(MARK_BIG), BIG_NUMBER).replace(json.dumps("-" + MARK_BIG), "-" + BIG_NUMBER)
    text = text.replace(json.dumps(MARK_DEEP), "[" * DEEP + "]" * DEEP)
    if isinstance(doc, dict) and doc and p.below(16) == 15:  # a repeated top-level key
        key = p.choice(list(doc))
        text = "{" + json.dumps(key) + ":[]," + text[1:]
    return text.encode("utf-8", "surrogatepass")
